"""`python -m pathgpt prepare`: make the tokenizer and the pretrained checkpoint before notebooks need them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .pretrained import RECIPE, Recipe, artifact_dir, cache_root, prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pathgpt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="make the checkpoint unless it is cached")
    prepare_parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache folder (default: $LLM_PATH_CACHE or ~/.cache/llm-path)",
    )
    prepare_parser.add_argument(
        "--recipe",
        type=Path,
        default=None,
        help="a JSON file of Recipe fields (default: the notebooks' recipe)",
    )
    commands.add_parser("where", help="print the checkpoint's folder, made or not")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(artifact_dir())
        return 0
    started = time.perf_counter()
    root = args.cache or cache_root()
    recipe = Recipe.from_dict(json.loads(args.recipe.read_text())) if args.recipe else RECIPE
    cached = (artifact_dir(recipe, root) / "manifest.json").is_file()
    folder = prepare(recipe, root, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"{folder} ({'cached' if cached else f'made in {time.perf_counter() - started:.0f} s'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
