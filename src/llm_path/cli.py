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


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Execute the notebooks that changed (in parallel), reuse the rest from the cache."""
    from llm_path.notebooks import NotebookRunner, print_progress

    source: Path = args.source
    names = args.names or sorted(p.stem for p in source.glob("*.py") if not p.name.startswith("_"))
    missing = [n for n in names if not (source / f"{n}.py").is_file()]
    if missing:
        for name in missing:
            print(
                f"{source / (name + '.py')}:1:1: no such notebook; give a name from {source}/ without '.py'",
                file=sys.stderr,
            )
        return 2
    runner = NotebookRunner(source, args.cache, timeout=args.timeout, jobs=args.jobs)
    results = runner.run(names, progress=print_progress, force=args.force)
    failures = [r.failure for r in results if r.failure]
    for failure in failures:
        print(failure, file=sys.stderr)
    executed = sum(r.status == "executed" for r in results)
    print(
        f"{len(results)} notebooks: {executed} executed, {len(results) - executed - len(failures)} cached, {len(failures)} failed",
        file=sys.stderr,
    )
    return 1 if failures else 0


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

    notebooks = sub.add_parser(
        "notebooks", help="execute the notebooks (cached)", description=cmd_notebooks.__doc__
    )
    notebooks.add_argument("names", nargs="*", help="notebook names (file names without .py); default: all")
    notebooks.add_argument(
        "--source", type=Path, default=Path("notebooks"), help="folder of notebook sources"
    )
    notebooks.add_argument("--cache", type=Path, default=Path(".cache/notebooks"), help="cache folder")
    notebooks.add_argument(
        "--jobs", type=int, default=None, help="notebooks run at once (default: number of cores)"
    )
    notebooks.add_argument(
        "--timeout", type=int, default=300, help="seconds a single cell may run (default: 300)"
    )
    notebooks.add_argument("--force", action="store_true", help="execute even when the cache is fresh")
    notebooks.set_defaults(run=cmd_notebooks)
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
