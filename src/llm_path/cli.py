"""The `llm-path` command: validate, render, run notebooks, check links, plan."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from llm_path.load import CurriculumError, load_curriculum

Command = Callable[[argparse.Namespace], int]


def _report(error: CurriculumError) -> int:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    files = len({p.file for p in error.problems})
    count = len(error.problems)
    print(
        f"{count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}",
        file=sys.stderr,
    )
    return 1


def _notebooks_dir(curriculum: Path) -> Path | None:
    folder = curriculum.resolve().parent / "notebooks"
    return folder if folder.is_dir() else None


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every curriculum file; print each problem as file:line:col."""
    try:
        curriculum = load_curriculum(args.dir, _notebooks_dir(args.dir))
    except CurriculumError as error:
        return _report(error)
    resources = sum(len(t.resources) for t in curriculum.topics.values())
    print(f"ok: {len(curriculum.phases)} phases, {len(curriculum.topics)} topics, {resources} resources")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """Write the generated Markdown pages to a folder, for any static-site engine."""
    from llm_path.pages import render_site, write_pages

    try:
        curriculum = load_curriculum(args.curriculum, _notebooks_dir(args.curriculum))
    except CurriculumError as error:
        return _report(error)
    pages = render_site(curriculum)
    write_pages(pages, args.out)
    print(f"wrote {len(pages)} pages to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-path", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check the curriculum files", description=cmd_validate.__doc__)
    validate.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=Path("curriculum"),
        help="curriculum folder (default: curriculum)",
    )
    validate.set_defaults(run=cmd_validate)

    render = sub.add_parser(
        "render", help="write the generated Markdown pages", description=cmd_render.__doc__
    )
    render.add_argument("out", type=Path, help="output folder")
    render.add_argument("--curriculum", type=Path, default=Path("curriculum"), help="curriculum folder")
    render.set_defaults(run=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
