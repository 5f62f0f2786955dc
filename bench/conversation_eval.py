"""Conversational refinement, offline: scripted multi-turn sessions built from the catalog, success@10
after each turn (issue #19, point 1).

Each session has a target product (sampled, seeded, among in-stock products with a price and a
title of three words or more) and four turns, each derived from the target's fields:

1. its head noun, the title's last word ("a holder");
2. another word of its title ("with heart");
3. a price bound it meets: "under" its price × 1.2, rounded up;
4. an exclusion: "no W", W the most frequent title word of the list then shown that is not in the
   target's title (what a shopper would strike out; its stem starts no word of the target's title).

Every turn goes through the conversation service (recommendations.conversation.service: the
parser, the state, `placement_serve`), as the API would; success@10 is the share of sessions
whose target is in the list after that turn. The parser is the configured one: the rule parser
under REASON_BACKEND=grounded (the default); a model is measured only when one is configured, and
the table then says which share of each turn the model read (the rest fell back to the rule
parser, for the reasons printed). Usage:

    .venv/bin/python bench/conversation_eval.py [--sessions 200] [--seed 19]
    # the shipped local model, on a worker of the model queue
    REASON_BACKEND=transformers CONVERSATION_MODEL_QUEUE=conv .venv/bin/celery -A recsite worker -Q conv -P solo &
    REASON_BACKEND=transformers CONVERSATION_MODEL_QUEUE=conv .venv/bin/python bench/conversation_eval.py --sessions 40
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import setup_django  # noqa: E402
from bench.common import percentile, print_table, write_results  # noqa: E402

WORD = re.compile(r"[a-z]{3,}")
TURNS = ("noun", "title word", "price", "exclusion")


def title_words(title: str) -> list[str]:
    return WORD.findall(title.lower())


def sessions_build(*, n: int, seed: int) -> list[dict]:
    """Targets and their first three turns (the fourth depends on the list shown)."""
    from catalog.public import Product  # noqa: PLC0415 - after django.setup()
    from recommendations.conversation.rules import STOPWORDS  # noqa: PLC0415 - after django.setup()

    rows = list(
        Product.objects.filter(in_stock=True, price__gt=0).order_by("pk").values_list("external_id", "title", "price")
    )
    rng = random.Random(seed)
    rng.shuffle(rows)
    sessions = []
    for external_id, title, price in rows:
        words = [w for w in title_words(title) if w not in STOPWORDS]
        if len(words) < 3:
            continue
        noun, other = words[-1], rng.choice(words[:-1])
        sessions.append(
            {
                "target": external_id,
                "title": title,
                "turns": [f"a {noun}", f"with {other}", f"under {math.ceil(float(price) * 1.2)}"],
            }
        )
        if len(sessions) == n:
            break
    return sessions


def strike_word(
    *, items: list, target_title: str, stopwords: frozenset[str], singular: Callable[[str], str]
) -> str | None:
    """The most frequent title word of the shown list that the target's title lacks (nor a word
    of it starting with the word's stem: "no lights" strikes T-LIGHT too)."""
    mine = set(title_words(target_title))
    counts = Counter(
        w
        for item in items
        for w in set(title_words(item.title))
        if w not in stopwords and not any(t.startswith(singular(w)) for t in mine)
    )
    return counts.most_common(1)[0][0] if counts else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    from recsite.database import database_url  # noqa: PLC0415 - the settings read the environment first

    setup_django(database_url())
    from django.conf import settings  # noqa: PLC0415 - after django.setup()

    from recommendations.conversation.rules import STOPWORDS, singular  # noqa: PLC0415 - after django.setup()
    from recommendations.conversation.service import (  # noqa: PLC0415
        PARSER_MODEL,
        conversation_start,
        conversation_turn,
    )

    sessions = sessions_build(n=args.sessions, seed=args.seed)
    hits = [0] * len(TURNS)
    ignored = [0] * len(TURNS)
    by_model = [0] * len(TURNS)
    parsers = Counter()
    notes = Counter()  # why the rule parser answered instead of the model
    seconds: list[float] = []
    examples = []
    for session in sessions:
        conversation_id = None
        turns = list(session["turns"])
        items: list = []
        for index in range(len(TURNS)):
            if index == 3:
                word = strike_word(items=items, target_title=session["title"], stopwords=STOPWORDS, singular=singular)
                turns.append(f"no {word}" if word else "no thanks")
            began = time.perf_counter()
            if conversation_id is None:
                result = conversation_start(customer_id=None, k=args.k, message=turns[index])
                conversation_id = result.conversation.id
            else:
                result = conversation_turn(conversation_id=conversation_id, message=turns[index])
            seconds.append(time.perf_counter() - began)
            items = list(result.served.recommendation.items)
            shown = [item.product_id for item in items]
            hits[index] += session["target"] in shown
            ignored[index] += bool(result.ignored)
            parsers[result.parser] += 1
            by_model[index] += result.parser == PARSER_MODEL
            notes[result.parser_note] += bool(result.parser_note)
        if len(examples) < 5:
            examples.append({"target": session["title"], "turns": turns, "state": result.conversation.state.as_json()})
    n = len(sessions)
    rows = [
        {
            "turn": index + 1,
            "constraint": name,
            "success_at_10": round(hits[index] / n, 3),
            "turns_with_something_ignored": round(ignored[index] / n, 3),
            "read_by_the_model": round(by_model[index] / n, 3),
        }
        for index, name in enumerate(TURNS)
    ]
    print_table(rows)
    seconds.sort()
    load = os.getloadavg()
    print(
        f"\n{n} sessions, parser {dict(parsers)} (REASON_BACKEND={settings.REASON_BACKEND}); turn time p50 "
        f"{percentile(seconds, 50) * 1000:.0f} ms, p95 {percentile(seconds, 95) * 1000:.0f} ms; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    for note, count in notes.most_common(5):
        print(f"  rule parser instead of the model, {count}x: {note}")
    for example in examples[:3]:
        print(f"  {example['target']}: {' / '.join(example['turns'])} -> {example['state']}")
    path = write_results(
        f"conversation_eval_{settings.REASON_BACKEND}",
        rows,
        {
            "sessions": n,
            "seed": args.seed,
            "k": args.k,
            "parsers": dict(parsers),
            "fallback_reasons": dict(notes.most_common(20)),
            "reason_backend": settings.REASON_BACKEND,
            "turn_ms_p50": percentile(seconds, 50) * 1000,
            "turn_ms_p95": percentile(seconds, 95) * 1000,
            "examples": examples,
            "load_average": load,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
