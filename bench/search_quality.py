"""Search quality: hit@10 and NDCG@10 of semantic, lexical and hybrid search on a labelled query
set built from the catalog in the database (run on a loaded, embedded catalog):

    .venv/bin/python bench/search_quality.py --catalog online-retail [--per-kind 60] [--seed 7] [--sweep]

Query kinds, each with its relevant (in-stock) products: `sku` (an external id; the product),
`brand` (a brand; its products), `brand_typo` (the brand with two adjacent letters swapped),
`title` (2-3 consecutive title words; the products whose title holds them), `title_typo` (the
same with two adjacent letters of its longest word swapped) and `category` (a category's name;
the products in its subtree). Kinds the catalog cannot make (no brands, no categories) are left
out.

Methods: `semantic` (the query's embedding), `lexical` (full-text as typed), `lexical+spelling`
(after typo correction, as search runs it), `hybrid-nospell` (hybrid on the query as typed) and
`hybrid` (what the search placement serves: corrected, then fused). With `--sweep`, hybrid also
runs at other minimum similarities, and the top semantic score of gibberish queries is printed,
to choose MIN_SEMANTIC_SIMILARITY by measurement.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402

K = 10


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


GIBBERISH = ["xyzzy qwerty", "asdkjh qpwoeiru", "zxcvb mnbvc", "lorem ipsum dolor", "qqq www eee"]
THRESHOLDS = (0.0, 0.25, 0.3, 0.35, 0.4, 0.5)
WORD = re.compile(r"[A-Za-z]{3,}")


def build_queries(*, per_kind: int, seed: int) -> list[tuple[str, str, set[int]]]:
    from catalog.public import Product

    rng = random.Random(seed)
    products = list(Product.objects.filter(in_stock=True).values_list("pk", "external_id", "title", "brand"))
    rng.shuffle(products)
    titles = [(pk, title.lower()) for pk, _, title, _ in products]
    queries: list[tuple[str, str, set[int]]] = []
    for pk, sku, _, _ in products[:per_kind]:
        queries.append(("sku", sku, {pk}))
    by_brand: dict[str, set[int]] = defaultdict(set)
    for pk, _, _, brand in products:
        if brand:
            by_brand[brand].add(pk)
    for brand in rng.sample(sorted(by_brand), min(per_kind, len(by_brand))):
        queries.append(("brand", brand, by_brand[brand]))
        if len(brand) >= 5:
            queries.append(("brand_typo", swap_letters(brand, rng), by_brand[brand]))
    made = 0
    for _, _, title, _ in products:
        words = WORD.findall(title.lower())
        if len(words) < 2 or made >= per_kind:
            continue
        start = rng.randrange(0, max(1, len(words) - 2))
        fragment = words[start : start + rng.choice((2, 3))]
        relevant = {pk for pk, text in titles if all(w in text for w in fragment)}
        phrase = " ".join(fragment)
        queries.append(("title", phrase, relevant))
        longest = max(fragment, key=len)
        queries.append(("title_typo", phrase.replace(longest, swap_letters(longest, rng), 1), relevant))
        made += 1
    queries += category_queries(per_kind=per_kind, rng=rng)
    return queries


def swap_letters(text: str, rng: random.Random) -> str:
    """`text` with two adjacent letters of its longest word swapped (a different word)."""
    word = max(text.split(), key=len)
    i = rng.randrange(0, len(word) - 1)
    if word[i] == word[i + 1]:
        i = next((j for j in range(len(word) - 1) if word[j] != word[j + 1]), i)
    return text.replace(word, word[:i] + word[i + 1] + word[i] + word[i + 2 :], 1)


def category_queries(*, per_kind: int, rng: random.Random) -> list[tuple[str, str, set[int]]]:
    from catalog.models import Category
    from catalog.public import Product, category_subtree_q

    queries = []
    categories = list(Category.objects.values_list("name", "path"))
    for name, path in rng.sample(categories, min(per_kind, len(categories))):
        relevant = set(Product.objects.filter(category_subtree_q(path), in_stock=True).values_list("pk", flat=True))
        if relevant:
            queries.append(("category", name, relevant))
    return queries


def ndcg(ranked: list[int], relevant: set[int]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pk in enumerate(ranked[:K]) if pk in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    return dcg / ideal if ideal else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--catalog", default="catalog", help="the loaded catalog's name, for the table and the file")
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sweep", action="store_true", help="also hybrid at other minimum similarities")
    args = parser.parse_args()
    setup()
    from placements.public import strategy_parse
    from recommendations import pipeline
    from recommendations.embeddings.model import encode_texts
    from recommendations.recall import semantic, spelling
    from recommendations.recall.lexical import lexical_candidates

    queries = build_queries(per_kind=args.per_kind, seed=args.seed)
    no_rules = {"routes": {"semantic": 1}, "rules": False}
    semantic_strategy = strategy_parse({**no_rules, "search": "semantic"})
    hybrid_strategy = strategy_parse({**no_rules, "search": "hybrid"})
    default_threshold = pipeline.MIN_SEMANTIC_SIMILARITY
    corrector = pipeline.query_correct

    def run(method: str, query: str) -> list[int]:
        if method.startswith("lexical"):
            correction = corrector(query) if method == "lexical+spelling" else spelling.Correction(query=query)
            found = lexical_candidates(
                query=query, n=K, knn_filter=semantic.KnnFilter(), corrections=correction.changes
            )
            return [c.product_pk for c in found]
        if method == "semantic":
            return [item.product_pk for item in pipeline.search(query=query, k=K, strategy=semantic_strategy).items]
        # The bench's own switch: hybrid on the query as typed, to measure what the correction adds.
        pipeline.query_correct = (
            (lambda text: spelling.Correction(query=text)) if method == "hybrid-nospell" else corrector
        )
        return [item.product_pk for item in pipeline.search(query=query, k=K, strategy=hybrid_strategy).items]

    methods = ["semantic", "lexical", "lexical+spelling", "hybrid-nospell", "hybrid"]
    if args.sweep:
        methods += [f"hybrid@{t}" for t in THRESHOLDS]
    scores: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for method in methods:
        pipeline.MIN_SEMANTIC_SIMILARITY = float(method.split("@")[1]) if "@" in method else default_threshold
        for kind, query, relevant in queries:
            ranked = run(method.split("@")[0], query)
            hit = float(any(pk in relevant for pk in ranked[:K]))
            for key in (kind, "all"):
                scores[(method, key)].append((hit, ndcg(ranked, relevant)))
    pipeline.MIN_SEMANTIC_SIMILARITY = default_threshold
    pipeline.query_correct = corrector

    kinds = sorted({kind for kind, _, _ in queries}) + ["all"]
    rows = []
    for method in methods:
        for kind in kinds:
            values = scores[(method, kind)]
            rows.append(
                {
                    "catalog": args.catalog,
                    "method": method,
                    "kind": kind,
                    "queries": len(values),
                    "hit@10": round(sum(h for h, _ in values) / len(values), 3),
                    "ndcg@10": round(sum(n for _, n in values) / len(values), 3),
                }
            )
    print_table(rows)
    meta: dict = {
        "catalog": args.catalog,
        "per_kind": args.per_kind,
        "seed": args.seed,
        "min_semantic_similarity": default_threshold,
    }
    if args.sweep:
        # The top semantic similarity a gibberish query reaches, against relevant title queries'.
        def top_similarity(text: str) -> float:
            found = semantic.semantic_candidates(vector=encode_texts([text])[0], n=1, knn_filter=semantic.KnnFilter())
            return round(found[0].score, 3) if found else 0.0

        gibberish = [{"query": q, "top_cosine": top_similarity(q)} for q in GIBBERISH]
        title_tops = sorted(top_similarity(q) for kind, q, _ in queries if kind == "title")
        print_table(gibberish)
        median = title_tops[len(title_tops) // 2] if title_tops else None
        print(f"title queries' top cosine: min {title_tops[0] if title_tops else None}, median {median}")
        meta |= {
            "gibberish_top_cosine": gibberish,
            "title_top_cosine_min_median": [title_tops[0] if title_tops else None, median],
        }
    path = write_results(f"search_quality_{args.catalog}", rows, meta)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
