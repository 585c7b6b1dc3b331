"""The `llm-path` command: validate, render, run notebooks, check links, plan."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from llm_path.curriculum.load import CurriculumError, load_curriculum
from llm_path.curriculum.model import Curriculum

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
    """Write the site's complete source to a folder: pages, notebook pages, data, assets, navigation, tips,
    and a zensical.toml that builds it."""
    from llm_path.build.site import NotebookError, build_site_source
    from llm_path.engines.config import site_config

    config = site_config(
        args.config, curriculum=args.curriculum, execute_notebooks=False if args.no_notebooks else None
    )
    try:
        source = build_site_source(config, log=lambda message: print(message, file=sys.stderr))
    except CurriculumError as error:
        return _report(error)
    except NotebookError as error:
        print(error, file=sys.stderr)
        return 1
    for warning in source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    count = source.write(args.out)
    print(f"wrote {len(source.pages)} pages and {count - len(source.pages)} other files to {args.out}")
    if args.config.is_file():
        from llm_path.engines.zensical import write_config

        toml = write_config(args.config, args.out.resolve(), source.nav, source.site_description)
        print(f"wrote {toml}: build it with zensical build -f {toml}")
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Execute the notebooks that changed (in parallel), reuse the rest from the cache."""
    from llm_path.notebooks import NotebookRunner, notebook_names, print_progress

    source: Path = args.source
    names = args.names or notebook_names(source)
    missing = [n for n in names if not (source / f"{n}.py").is_file()]
    if missing:
        for name in missing:
            print(
                f"{source / (name + '.py')}:1:1: no such notebook; give a name from {source}/ without '.py'",
                file=sys.stderr,
            )
        return 2
    runner = NotebookRunner(
        source,
        args.cache,
        timeout=args.timeout,
        notebook_timeout=args.notebook_timeout,
        output_limit=args.output_limit,
        jobs=args.jobs,
    )
    results = runner.run(
        names,
        progress=print_progress,
        force=args.force,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    failures = [r.failure for r in results if r.failure]
    for failure in dict.fromkeys(str(f) for f in failures):  # importers of a failed prepare share its line
        print(failure, file=sys.stderr)
    executed = sum(r.status == "executed" for r in results)
    print(
        f"{len(results)} notebooks: {executed} executed, {len(results) - executed - len(failures)} cached, {len(failures)} failed",
        file=sys.stderr,
    )
    return 1 if failures else 0


def _load(curriculum: Path) -> Curriculum | None:
    try:
        return load_curriculum(curriculum)
    except CurriculumError as error:
        _report(error)
        return None


def cmd_plan(args: argparse.Namespace) -> int:
    """Print a dated week-by-week plan for a track (the same plan the site's plan page computes)."""
    import datetime as dt
    import json

    from llm_path.learner.plan import plan_as_ics, plan_as_json, plan_as_text, plan_data, schedule

    curriculum = _load(args.curriculum)
    if curriculum is None:
        return 1
    data = plan_data(curriculum)
    tracks = [t["id"] for t in data["tracks"]]
    if args.track not in tracks:
        print(
            f"llm-path plan: unknown track {args.track!r}; use one of: {', '.join(tracks)}", file=sys.stderr
        )
        return 2
    if args.hours_per_week < 1:
        print("llm-path plan: --hours-per-week must be at least 1", file=sys.stderr)
        return 2
    weeks = schedule(data, args.track, args.start, args.hours_per_week)
    if args.json:
        print(json.dumps(plan_as_json(weeks), indent=1))
    else:
        print(plan_as_text(data, weeks))
    if args.ics:
        stamp = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
        args.ics.write_text(plan_as_ics(data, args.track, weeks, stamp), encoding="utf-8", newline="")
        print(f"wrote {len(weeks)} weekly events to {args.ics}", file=sys.stderr)
    return 0


def cmd_cards(args: argparse.Namespace) -> int:
    """Export every study question as an Anki deck or a CSV file, tagged by phase and topic."""
    from llm_path.learner.cards import cards_csv, cards_data, write_anki

    curriculum = _load(args.curriculum)
    if curriculum is None:
        return 1
    cards = cards_data(curriculum)
    out: Path = args.out
    if out.suffix == "" or out.is_dir():
        out = out / ("llm-path.apkg" if args.format == "anki" else "llm-path.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "anki":
        write_anki(cards, out)
    else:
        out.write_text(cards_csv(cards), encoding="utf-8")
    print(f"wrote {len(cards)} cards to {out}")
    return 0


def _links(arguments: list[str]) -> int:
    """The link checker (scripts/check_links.py) under the project's command."""
    from llm_path.links import main as links_main

    return links_main(arguments)


def _date(text: str) -> object:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2027-01-04"
        ) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


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
        "render", help="write the site's complete source, for any engine", description=cmd_render.__doc__
    )
    render.add_argument("out", type=Path, help="output folder")
    render.add_argument(
        "--config", type=Path, default=Path("mkdocs.yml"), help="the site's settings (default: mkdocs.yml)"
    )
    render.add_argument(
        "--curriculum", type=Path, default=None, help="curriculum folder (default: mkdocs.yml's)"
    )
    render.add_argument("--no-notebooks", action="store_true", help="leave the notebooks out (no execution)")
    render.set_defaults(run=cmd_render)

    notebooks = sub.add_parser(
        "notebooks", help="execute the notebooks (cached)", description=cmd_notebooks.__doc__
    )
    notebooks.add_argument("names", nargs="*", help="notebook names (file names without .py); default: all")
    notebooks.add_argument(
        "--source", type=Path, default=Path("notebooks"), help="folder of notebook sources"
    )
    notebooks.add_argument(
        "--cache", type=Path, default=Path(".llm-path-cache/notebooks"), help="cache folder"
    )
    notebooks.add_argument(
        "--jobs", type=int, default=None, help="notebooks run at once (default: number of cores)"
    )
    notebooks.add_argument(
        "--timeout", type=_positive, default=300, help="seconds a single cell may run (default: 300)"
    )
    notebooks.add_argument(
        "--notebook-timeout",
        type=_positive,
        default=900,
        help="seconds a whole notebook may run, kernel start included; also bounds a package's prepare (default: 900)",
    )
    notebooks.add_argument(
        "--output-limit",
        type=_positive,
        default=1_000_000,
        help="bytes one output may keep; the rest is cut with a note (default: 1000000)",
    )
    notebooks.add_argument("--force", action="store_true", help="execute even when the cache is fresh")
    notebooks.set_defaults(run=cmd_notebooks)

    links = sub.add_parser("links", help="check resource links (see llm-path links --help)", add_help=False)
    links.add_argument("arguments", nargs=argparse.REMAINDER)
    links.set_defaults(run=lambda args: _links(args.arguments))

    plan = sub.add_parser("plan", help="print a week-by-week plan", description=cmd_plan.__doc__)
    plan.add_argument("--track", required=True, help="track id, e.g. beginner")
    plan.add_argument("--start", required=True, type=_date, help="first day, YYYY-MM-DD")
    plan.add_argument("--hours-per-week", required=True, type=int, help="hours you can study each week")
    plan.add_argument("--ics", type=Path, help="also write the plan as an iCalendar file")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--curriculum", type=Path, default=Path("curriculum"), help="curriculum folder")
    plan.set_defaults(run=cmd_plan)

    cards = sub.add_parser(
        "cards", help="export the study questions as flashcards", description=cmd_cards.__doc__
    )
    cards.add_argument("out", type=Path, help="output file or folder")
    cards.add_argument("--format", choices=["anki", "csv"], default="anki", help="anki (.apkg) or csv")
    cards.add_argument("--curriculum", type=Path, default=Path("curriculum"), help="curriculum folder")
    cards.set_defaults(run=cmd_cards)

    from llm_path.contribute import add_resource
    from llm_path.curriculum import schema  # each module registers its own subcommand

    schema.add_parser(sub)
    add_resource.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["links"]:  # the link checker parses its own options, --help included
        return _links(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
