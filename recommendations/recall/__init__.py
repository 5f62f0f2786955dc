"""Recall routes: each proposes candidates for a customer (item-CF, semantic, popularity) and
`fused` merges them with a strategy's weights."""
