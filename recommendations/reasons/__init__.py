"""Recommendation reasons: prompt templates (versioned), backends (grounded, transformers, an
OpenAI-compatible endpoint), the generation cache, guardrails, the prompt pool and LLM rerank."""
