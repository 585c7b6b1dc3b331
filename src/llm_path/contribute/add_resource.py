"""`llm-path add-resource`: append one validated resource to a topic's YAML, leaving every other byte alone.

The file is read with ruamel.yaml's round-trip loader to find the `resources:` list, how
its items are indented and where the last one ends; the new entry is written in the same
style and spliced in after it, so comments, quoting, blank lines and the order of
everything else stay byte-for-byte as they were. The entry is checked by the same model
and cross-file checks as `llm-path validate` (on a scratch copy of the curriculum) before
the file is replaced, atomically, and the whole curriculum is loaded again afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from llm_path.contribute.fetch_title import TitleError, fetch_title
from llm_path.curriculum.checks import _suggest
from llm_path.curriculum.load import CurriculumError, load_curriculum, parse_yaml
from llm_path.curriculum.located import Problem
from llm_path.curriculum.model import Curriculum, Resource, check_http_url

FOLD_WIDTH = 80
"""Text longer than this on one line is written as a folded block (`>-`), like the curriculum's own."""


class AddError(Exception):
    """The resource cannot be added; `lines` say why, one located problem each."""

    def __init__(self, lines: list[str], usage: bool = False) -> None:
        self.lines = lines
        self.usage = usage
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Layout:
    """How a file writes its `resources:` list, and where a new item goes."""

    dash: int
    """Column (0-based) of each item's '-'."""
    key: int
    """Column (0-based) of each item's keys."""
    after_line: int
    """Index (0-based) of the line after which the new item is inserted."""
    blank_between: bool
    """True when the file separates items with a blank line."""
    eol: str
    """The file's line ending."""


# Where the new entry goes ---------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def find_layout(text: str, file: str) -> Layout:
    """Read `text` with ruamel.yaml's round-trip loader and work out where a new resource goes."""
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise AddError(
            [f"{file}:{line}:{col}: YAML syntax error; run 'llm-path validate' for details"]
        ) from None
    resources = data.get("resources") if isinstance(data, CommentedMap) else None
    if not isinstance(resources, CommentedSeq) or not resources:
        raise AddError([f"{file}:1:1: no 'resources:' list to add to; add the entry by hand"])
    if resources.fa.flow_style():
        line, col = data.lc.value("resources")
        raise AddError(
            [
                f"{file}:{line + 1}:{col + 1}: resources: written as a [flow] list; rewrite it as '- ' lines to use add-resource"
            ]
        )
    lines = text.splitlines(keepends=True)
    last = len(resources) - 1
    item_line, key_col = resources.lc.item(last)
    dash = lines[item_line].rfind("-", 0, key_col)
    if dash < 0 or not isinstance(resources[last], CommentedMap):
        raise AddError(
            [f"{file}:{item_line + 1}:{key_col + 1}: resources[{last}]: not a '- key: value' item"]
        )
    end = item_line
    for index in range(item_line + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped:
            continue
        if _indent(lines[index]) <= dash:
            break
        end = index
    blank_between = False
    if last > 0:
        previous = resources.lc.item(last)[0] - 1
        blank_between = previous >= 0 and not lines[previous].strip()
    eol = "\r\n" if "\r\n" in text else "\n"
    return Layout(dash=dash, key=key_col, after_line=end, blank_between=blank_between, eol=eol)


def _one_line(key: str, value: Any) -> str:
    """`key: value` as PyYAML (the loader of record) writes it, on one line."""
    text = yaml.safe_dump({key: value}, width=10**9, allow_unicode=True, default_flow_style=False)
    text = text.removesuffix("\n")
    if "\n" in text:  # a value with line breaks: one double-quoted line, escaped as JSON is
        text = f"{key}: {json.dumps(value, ensure_ascii=False)}"
    return text


def _can_fold(value: str) -> bool:
    """Text that a folded block scalar reproduces exactly once wrapped at single spaces."""
    return bool(value) and value.isprintable() and "  " not in value and value == value.strip()


def render_entry(entry: Mapping[str, Any], layout: Layout) -> list[str]:
    """The new item's lines (without line endings) in the file's indentation style."""
    pad = " " * layout.key
    out: list[str] = []
    for key, value in entry.items():
        line = _one_line(key, value)
        if (
            key not in ("title", "url")
            and isinstance(value, str)
            and layout.key + len(line) > FOLD_WIDTH
            and _can_fold(value)
        ):
            body = textwrap.wrap(
                value,
                width=FOLD_WIDTH - layout.key - 2,
                break_long_words=False,
                break_on_hyphens=False,
            )
            out.append(f"{pad}{key}: >-")
            out += [f"{pad}  {part}" for part in body]
        else:
            out.append(pad + line)
    first = out[0][layout.key :]
    out[0] = " " * layout.dash + "-" + " " * (layout.key - layout.dash - 1) + first
    return out


def splice(text: str, entry_lines: list[str], layout: Layout) -> str:
    """`text` with the entry inserted after the last item; every other byte unchanged."""
    lines = text.splitlines(keepends=True)
    head = "".join(lines[: layout.after_line + 1])
    tail = "".join(lines[layout.after_line + 1 :])
    eol = layout.eol
    gap = eol if layout.blank_between else ""
    block = eol.join(entry_lines)
    if not tail and not head.endswith(("\n", "\r")):  # the file ends without a line break: keep it so
        return head + eol + gap + block
    return head + gap + block + eol + tail


def entry_first_line(layout: Layout) -> int:
    """The 1-based line on which the spliced entry starts."""
    return layout.after_line + 2 + (1 if layout.blank_between else 0)


def build_entry(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's keys in the model's order, leaving out optional ones not given."""
    return {name: values[name] for name in Resource.model_fields if values.get(name) is not None}


@dataclass(frozen=True)
class Spliced:
    """A file's text with the new entry in it, and where the entry is."""

    text: str
    index: int
    """The new item's index in `resources:`."""
    first_line: int
    entry: list[str]
    """The entry's lines as written."""


def add_to_text(text: str, entry: Mapping[str, Any], file: str) -> Spliced:
    """The file's text with `entry` appended to `resources:`; raises AddError if it would not read back."""
    layout = find_layout(text, file)
    before = yaml.safe_load(text)
    expected = {**before, "resources": [*before["resources"], dict(entry)]}
    for lines in (render_entry(entry, layout), _unfolded(entry, layout)):
        new = splice(text, lines, layout)
        if yaml.safe_load(new) == expected:  # read back by the loader of record, exactly
            return Spliced(new, len(before["resources"]), entry_first_line(layout), lines)
    raise AddError([f"{file}:1:1: could not write the entry so that it reads back unchanged; add it by hand"])


def _unfolded(entry: Mapping[str, Any], layout: Layout) -> list[str]:
    lines = [" " * layout.key + _one_line(key, value) for key, value in entry.items()]
    lines[0] = " " * layout.dash + "-" + " " * (layout.key - layout.dash - 1) + lines[0][layout.key :]
    return lines


# Checking it with the validator's own rules ---------------------------------------------------


def _display(path: FsPath) -> str:
    """A path as the loader names it: relative to the working folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(FsPath.cwd().resolve()))
    except ValueError:
        return str(path)


def _notebooks_dir(curriculum: FsPath) -> FsPath | None:
    folder = curriculum.resolve().parent / "notebooks"
    return folder if folder.is_dir() else None


def _listed_urls(curriculum: FsPath) -> dict[str, str]:
    """URL -> 'file:line:col' of its first entry, in the order the validator's duplicate check uses."""
    seen: dict[str, str] = {}

    def see(file: FsPath, keys: list[tuple[tuple[str | int, ...], Any]]) -> None:
        doc, _ = parse_yaml(file.read_text(encoding="utf-8"), _display(file))
        if doc is None:
            return
        for loc, url in keys:
            if isinstance(url, str) and url not in seen:
                line, col = doc.where(loc)
                seen[url] = f"{doc.file}:{line}:{col}"

    for file in sorted((curriculum / "topics").glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        see(
            file,
            [
                (("resources", i, "url"), item.get("url"))
                for i, item in enumerate(data.get("resources") or [])
                if isinstance(item, dict)
            ],
        )
    reading = curriculum / "reading-list.yml"
    if reading.is_file():
        data = yaml.safe_load(reading.read_text(encoding="utf-8")) or {}
        see(
            reading,
            [
                (("shelves", s, "items", i, "url"), item.get("url"))
                for s, shelf in enumerate(data.get("shelves") or [])
                for i, item in enumerate(shelf.get("items") or [])
                if isinstance(item, dict)
            ],
        )
    return seen


def _check_candidate(curriculum: FsPath, relative: str, new_text: str) -> list[Problem]:
    """What `llm-path validate` would say with the new text in place, named as the real files."""
    with tempfile.TemporaryDirectory(prefix="llm-path-add-") as scratch:
        copy = FsPath(scratch) / curriculum.name
        shutil.copytree(curriculum, copy, ignore=shutil.ignore_patterns("schema", ".*"))
        (copy / relative).write_text(new_text, encoding="utf-8", newline="")
        try:
            load_curriculum(copy, _notebooks_dir(curriculum))
        except CurriculumError as error:
            fake, real = _display(copy), _display(curriculum)
            return [
                Problem(
                    real + p.file[len(fake) :] if p.file.startswith(fake) else p.file,
                    p.line,
                    p.col,
                    p.message,
                )
                for p in error.problems
            ]
    return []


def _load(curriculum: FsPath) -> Curriculum:
    try:
        return load_curriculum(curriculum, _notebooks_dir(curriculum))
    except CurriculumError as error:
        raise AddError(
            [str(p) for p in error.problems]
            + ["the curriculum already has problems; fix them first ('llm-path validate' lists them)"]
        ) from None


def _read(path: FsPath) -> str:
    """A file's text with its line endings as they are."""
    with path.open(encoding="utf-8", newline="") as stream:
        return stream.read()


def _write_atomic(target: FsPath, text: str, expected_old: str) -> None:
    """Replace `target` with `text` unless someone changed it since we read it."""
    if _read(target) != expected_old:
        raise AddError([f"{_display(target)}:1:1: the file changed while adding; run the command again"])
    mode = target.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".yml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        FsPath(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Added:
    """What `add_resource` did: the file, the new item's index and its first and last lines."""

    file: str
    index: int
    first_line: int
    last_line: int
    text: str
    """The entry as written."""
    summary: str
    """The validator's one-line summary of the curriculum after the change."""


def add_resource(
    curriculum: FsPath, topic_id: str, values: Mapping[str, Any], *, dry_run: bool = False
) -> Added:
    """Append a resource to a topic's file after checking it as `llm-path validate` would; raise AddError if not."""
    loaded = _load(curriculum)
    if topic_id not in loaded.topics:
        sought = _display(curriculum / "topics" / f"{topic_id}.yml")
        raise AddError(
            [f"{sought}:1:1: --topic: no topic {topic_id!r} in topics/; {_suggest(topic_id, loaded.topics)}"]
        )
    relative = loaded.sources[topic_id]
    target = curriculum / relative
    file = _display(target)
    old = _read(target)
    entry = build_entry(values)
    spliced = add_to_text(old, entry, file)
    new, index = spliced.text, spliced.index
    doc, _ = parse_yaml(new, file)
    assert doc is not None
    url = entry.get("url")
    listed = _listed_urls(curriculum)
    if isinstance(url, str) and url in listed:
        line, col = doc.where(("resources", index, "url"))
        raise AddError(
            [
                f"{file}:{line}:{col}: resources[{index}].url: {url} is already listed at {listed[url]}; keep one entry and delete this one"
            ]
        )
    problems = _check_candidate(curriculum, relative, new)
    own = [p for p in problems if p.file == file]
    if problems:  # a topic that fails to load also upsets checks elsewhere; its own problems are the cause
        raise AddError([str(p) for p in own or problems])
    first, last = spliced.first_line, spliced.first_line + len(spliced.entry) - 1
    text = "\n".join(spliced.entry)
    if dry_run:
        return Added(file, index, first, last, text, "nothing written (--dry-run)")
    _write_atomic(target, new, old)
    try:
        after = load_curriculum(curriculum, _notebooks_dir(curriculum))
    except CurriculumError as error:  # cannot happen after the scratch check; put the file back if it does
        _write_atomic(target, old, new)
        raise AddError([str(p) for p in error.problems] + [f"{file} restored unchanged"]) from None
    resources = sum(len(t.resources) for t in after.topics.values())
    summary = f"ok: {len(after.phases)} phases, {len(after.topics)} topics, {resources} resources"
    return Added(file, index, first, last, text, summary)


# The command --------------------------------------------------------------------------------------


def _usage(message: str) -> AddError:
    return AddError([f"llm-path add-resource: error: {message}"], usage=True)


def _field_hint(name: str) -> str:
    doc = Resource.model_fields[name].description or ""
    return doc.split(";")[0].rstrip(".")


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def cmd_add_resource(args: argparse.Namespace) -> int:
    """Append a resource to a topic's YAML file, checked as `llm-path validate` checks it."""
    try:
        added = _run(args)
    except AddError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        if not error.usage:
            print("nothing written", file=sys.stderr)
        return 2 if error.usage else 1
    if args.dry_run:
        print(added.text)
        print(
            f"would add resources[{added.index}] to {added.file} at line {added.first_line}; {added.summary}"
        )
    else:
        print(f"added resources[{added.index}] to {added.file} (lines {added.first_line}-{added.last_line})")
        print(added.summary)
    return 0


def _run(args: argparse.Namespace) -> Added:
    values: dict[str, Any] = {
        "title": args.title,
        "url": args.url,
        "type": args.type,
        "level": args.level,
        "free": args.free,
        "author": args.author,
        "description": args.description,
        "duration": args.duration,
    }
    for name, info in Resource.model_fields.items():
        if info.is_required() and values[name] is None and not (name == "title" and args.fetch_title):
            flag = {"free": "--free or --paid", "title": "--title or --fetch-title"}.get(name, f"--{name}")
            raise _usage(f"missing {flag} ({_lower(_field_hint(name))})")
    if args.fetch_title:
        values["title"] = _fetched_title(args)
    return add_resource(args.curriculum, args.topic, values, dry_run=args.dry_run)


def _fetched_title(args: argparse.Namespace) -> str:
    try:
        check_http_url(args.url)
    except PydanticCustomError:
        return "untitled"  # not fetched; the validator reports the URL itself
    try:
        return fetch_title(args.url, allow_private=args.allow_private)
    except TitleError as error:
        raise AddError(
            [f"--fetch-title: cannot read the title of {args.url}: {error}; give --title instead"]
        ) from None


def add_parser(sub: Any) -> None:
    """Register `llm-path add-resource` on the command's subparsers."""
    parser = sub.add_parser(
        "add-resource",
        help="append a resource to a topic, checked like validate",
        description=cmd_add_resource.__doc__,
    )
    parser.add_argument("--topic", required=True, help="id of the topic (its file name without .yml)")
    parser.add_argument("--url", required=True, help=_field_hint("url"))
    titles = parser.add_mutually_exclusive_group()
    titles.add_argument("--title", help=_field_hint("title"))
    titles.add_argument(
        "--fetch-title", action="store_true", help="read the title from the page's <title> (one safe GET)"
    )
    parser.add_argument("--type", help=_field_hint("type"))
    parser.add_argument("--level", help=_field_hint("level"))
    cost = parser.add_mutually_exclusive_group()
    cost.add_argument("--free", dest="free", action="store_true", default=None, help="free to read or watch")
    cost.add_argument("--paid", dest="free", action="store_false", default=None, help="needs payment")
    parser.add_argument("--author", help=_field_hint("author"))
    parser.add_argument("--description", help=_field_hint("description"))
    parser.add_argument("--duration", help=_field_hint("duration"))
    parser.add_argument(
        "--curriculum",
        type=FsPath,
        default=FsPath("curriculum"),
        help="curriculum folder (default: curriculum)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the entry and check it; write nothing")
    parser.add_argument(
        "--allow-private",
        action="store_true",
        help="let --fetch-title reach private and loopback addresses (for local testing)",
    )
    parser.set_defaults(run=cmd_add_resource)
