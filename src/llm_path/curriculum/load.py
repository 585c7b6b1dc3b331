"""Read the curriculum's YAML files into validated models; the only module that imports yaml.

Every problem is reported with the file, line and column of the offending node,
what is wrong and what would be right, and all problems of a run are collected
before anything is raised.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import stat
import types
import typing
import unicodedata
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from llm_path.curriculum.checks import PHASE_FILE, LoadedFiles, cross_check
from llm_path.curriculum.located import CurriculumError, Document, Loc, Problem, format_loc
from llm_path.curriculum.model import (
    RETIRED_KEYS,
    AdviceList,
    Curriculum,
    Glossary,
    Path,
    Phase,
    ReadingList,
    Topic,
)
from llm_path.curriculum.text import QUOTE_LIMIT, quote


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _index(doc: Document, node: yaml.Node, loc: Loc, problems: list[Problem]) -> None:
    """Record the position of every key and value under `node`, flagging duplicate keys."""
    doc.values[loc] = _mark(node)
    one_line = node.start_mark.line == node.end_mark.line
    if isinstance(node, yaml.ScalarNode) and node.style in (None, "'", '"') and one_line:
        doc.one_line[loc] = 0 if node.style is None else 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line, col = _mark(key_node)
                problems.append(
                    Problem(
                        doc.file,
                        line,
                        col,
                        f"{format_loc((*loc, key))}: duplicate key {key!r} (first on line "
                        f"{seen[key]}); keep only one",
                    )
                )
                continue
            seen[key] = _mark(key_node)[0]
            doc.keys[(*loc, key)] = _mark(key_node)
            _index(doc, value_node, (*loc, key), problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(doc, item, (*loc, i), problems)


MAX_DEPTH = 16
"""Deepest nesting a curriculum file may use; the deepest real one is 5 levels (phase > schedule > week > list > item)."""

MAX_FILE_BYTES = 1 << 20
"""Largest curriculum file read (1 MiB); the largest real one is under 100 KB."""

_YAML_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "mapping values are not allowed here": "put text that contains ': ' in quotes",
    "could not find expected ':'": "write each entry as 'key: value' and check indentation",
    "expected <block end>, but found": "check the indentation of this line against the one above",
    "found unhashable key": "keys must be plain text",
    "could not determine a constructor": "remove the '!' tag; write the value as plain text",
}


class _RefusedYaml(yaml.MarkedYAMLError):
    """YAML that parses but that the curriculum refuses: anchors, aliases, merge keys, deep nesting."""


class _CurriculumLoader(yaml.SafeLoader):
    """The safe loader, refusing at their position what the curriculum never needs and an attacker would use.

    Aliases are how a small file expands into gigabytes ("billion laughs"); refusing anchors,
    aliases and merge keys while composing, before anything is built, keeps time and memory bounded.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._refuse(event, f"alias '*{event.anchor}'", "write the value out in full")
        if getattr(event, "anchor", None):
            self._refuse(
                event, f"anchor '&{event.anchor}'", "write the value out in full and delete the anchor"
            )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _RefusedYaml(
                problem=f"nesting deeper than {MAX_DEPTH} levels, which no curriculum file needs",
                problem_mark=event.start_mark,
                note="check the indentation, or close the brackets opened above",
            )
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self.depth -= 1

    def compose_mapping_node(self, anchor: object) -> yaml.MappingNode:
        node: yaml.MappingNode = super().compose_mapping_node(anchor)  # type: ignore[no-untyped-call]
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                raise _RefusedYaml(
                    problem="the merge key '<<' is not allowed in the curriculum",
                    problem_mark=key.start_mark,
                    note="write the keys out in full",
                )
        return node

    @staticmethod
    def _refuse(event: yaml.Event, what: str, instead: str) -> None:
        raise _RefusedYaml(
            problem=f"the YAML {what} is not allowed in the curriculum",
            problem_mark=event.start_mark,
            note=instead,
        )


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` in `text`."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _yaml_problem(file: str, text: str, error: yaml.YAMLError) -> Problem:
    if isinstance(error, _RefusedYaml):
        mark = error.problem_mark
        return Problem(file, mark.line + 1, mark.column + 1, f"{error.problem}; {error.note}")
    if isinstance(error, yaml.reader.ReaderError):
        line, col = _line_col(text, error.position)
        char = chr(error.character) if isinstance(error.character, int) else str(error.character)[:1]
        name = unicodedata.name(char, "")
        what = (
            f"the character {name} (U+{ord(char):04X})"
            if name
            else f"the control character U+{ord(char):04X}"
        )
        return Problem(file, line, col, f"{what} cannot appear in YAML; delete it")
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = getattr(error, "problem", None) or "the file could not be parsed"
    if "\t" in what or "'\\t'" in what:
        what = "tab character in indentation"
    hint = next(
        (h for key, h in _YAML_HINTS.items() if key in str(getattr(error, "problem", ""))),
        "check indentation and quoting on this line and the one before",
    )
    return Problem(file, line, col, f"YAML syntax error: {_one_line(what)}; {hint}")


def _one_line(text: str) -> str:
    """A parser's own words, on one line, at most about 80 characters, with no control characters."""
    text = " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", text).split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document safely, keeping positions; return problems instead of raising."""
    problems: list[Problem] = []
    try:
        loader = _CurriculumLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, [Problem(file, 1, 1, "the file is empty; write the YAML mapping it should hold")]
            doc = Document(file, loader.construct_document(node))
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        return None, [_yaml_problem(file, text, error)]
    _index(doc, node, (), problems)
    return doc, problems


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that describes the mapping at `loc` (None if not a model)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str):
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None
            info = current.model_fields.get(part)
            if info is None:
                return None
            current = info.annotation
        else:
            args = typing.get_args(current)
            current = args[0] if args else None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated, Optional and list down to the item type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            return annotation
        else:
            return annotation


def _field_doc(model: type[BaseModel] | None, name: str) -> str:
    if model is None or name not in model.model_fields:
        return ""
    doc = model.model_fields[name].description or ""
    return doc.split(";")[0].rstrip(".")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, int | float):
        return f"a number ({quote(value)})"
    if isinstance(value, str):
        return f"text ({quote(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (an empty value)"
    return f"a {type(value).__name__} ({quote(value)})"


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (lines starting with '- ')",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
}


def _message(error: dict[str, Any], model: type[BaseModel]) -> tuple[Loc, str, bool]:
    """Turn one pydantic error into (location, 'what is wrong; what would be right', at_key)."""
    loc: Loc = tuple(p for p in error["loc"] if isinstance(p, int) or not _is_branch_tag(p))
    kind = error["type"]
    value = error.get("input")
    where = format_loc(loc)
    prefix = f"{where}: " if where else ""
    if kind == "missing":
        name = str(loc[-1])
        doc = _field_doc(_model_at(model, loc[:-1]), name)
        hint = f"add '{name}:'" + (f" ({doc[0].lower()}{doc[1:]})" if doc else "")
        parent = format_loc(loc[:-1])
        return loc[:-1], f"{parent + ': ' if parent else ''}missing required key {quote(name)}; {hint}", False
    if kind == "extra_forbidden":
        name = str(loc[-1])
        parent_model = _model_at(model, loc[:-1])
        allowed = _allowed_keys(parent_model) if parent_model else []
        retired = RETIRED_KEYS.get(parent_model, {}) if parent_model else {}
        if name in retired:
            return loc, f"{prefix}{quote(name)} is no longer a key here; {retired[name]}", True
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "allowed keys: " + ", ".join(allowed)
        return loc, f"{prefix}unknown key {quote(name)}; {hint}", True
    if kind == "enum":
        expected = [e.strip(" '") for e in error["ctx"]["expected"].replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), expected, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else "use one of: " + ", ".join(expected)
        return loc, f"{prefix}{quote(value)} is not allowed; {hint} (one of: {', '.join(expected)})", False
    if kind in _EXPECTED:
        hint = f"write {_EXPECTED[kind]}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            hint = "put the value in quotes to keep it as text"
        return loc, f"{prefix}expected {_EXPECTED[kind]}, got {_kind(value)}; {hint}", False
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "notebook":
            return loc, f"{prefix}{quote(value)} is not a notebook file name; write '<topic-id>.py'", False
        return loc, f"{prefix}{quote(value)} is not a valid id; {_id_hint(str(value))}", False
    if kind == "string_too_short":
        return loc, f"{prefix}is empty; write some text", False
    if kind == "too_short":
        need = error["ctx"]["min_length"]
        return (
            loc,
            f"{prefix}needs at least {need} item{'s' if need > 1 else ''}; add {'them' if need > 1 else 'one'}",
            False,
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return (
            loc,
            f"{prefix}{quote(value)} is out of range; it {error['msg'].removeprefix('Input should be ')}",
            False,
        )
    msg = error["msg"].removeprefix("Value error, ")
    if "; " not in msg:
        msg += "; see the field's description in the curriculum schema"
    return loc, f"{prefix}{msg}", False


def _id_hint(value: str) -> str:
    """What to write instead of an invalid id: a valid one, never the same value back."""
    foreign = next(
        (c for c in value if not c.isascii() and unicodedata.normalize("NFKC", c).isascii() is False), None
    )
    if foreign is not None:
        name = unicodedata.name(foreign, f"U+{ord(foreign):04X}")
        return f"it holds {name} (U+{ord(foreign):04X}), which is not one of a-z, 0-9 or '-' (it may only look like one); retype it with those"
    folded = unicodedata.normalize("NFKC", value).lower()
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", folded).split())
    if not slug or slug == value:
        return "use lower-case words joined by hyphens, e.g. 'my-topic'"
    return f"use lower-case words joined by hyphens, e.g. {slug!r}"


def _is_branch_tag(part: str) -> bool:
    """pydantic adds union branch names like 'function-after[...]' or 'str' to locations."""
    return "[" in part or part in ("str", "int", "bool", "none", "list", "dict")


def validate_document(doc: Document, model: type[BaseModel]) -> tuple[Any, list[Problem]]:
    """Validate a parsed document against `model`; return the instance or the problems."""
    if not isinstance(doc.data, dict):
        keys = ", ".join(_allowed_keys(model)[:6])
        return None, [
            doc.problem(
                (),
                f"expected a mapping of keys ({keys}, ...), got {_kind(doc.data)}; write 'key: value' lines",
            )
        ]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            loc, message, at_key = _message(dict(item), model)
            offset = (item.get("ctx") or {}).get("offset")
            problems.append(doc.problem(loc, message, at_key=at_key, offset=offset))
        return None, problems


SKIPPED_NAME = re.compile(r"^\.|~$")
"""Hidden, editor and temporary files (`.tmp-*`, `.#*`, `*~`): never curriculum files."""


def curriculum_files(folder: FsPath, root: FsPath, problems: list[Problem]) -> list[FsPath] | None:
    """The `*.yml` entries of a curriculum subfolder, in order; None when the folder itself is refused.

    A folder that is a link (it could point anywhere), lies outside the curriculum or cannot be listed is refused.
    """
    name = _display_name(folder)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return []
    except OSError as error:
        problems.append(Problem(name, 1, 1, f"cannot be listed ({error.strerror}); make the folder readable"))
        return None
    if stat.S_ISLNK(info.st_mode) or not _inside(folder, root):
        problems.append(Problem(name, 1, 1, f"is a symbolic link; {_REGULAR_ONLY}"))
        return None
    if not stat.S_ISDIR(info.st_mode):
        problems.append(Problem(name, 1, 1, "is not a folder; make it the folder of YAML files it should be"))
        return None
    try:
        entries = sorted(os.listdir(folder))
    except OSError as error:
        problems.append(Problem(name, 1, 1, f"cannot be listed ({error.strerror}); make the folder readable"))
        return None
    files = []
    for entry in entries:
        if SKIPPED_NAME.search(entry):
            continue
        if entry.endswith(".yaml"):
            problems.append(
                Problem(_display_name(folder / entry), 1, 1, f"is not read; name it {entry[:-5]}.yml")
            )
        elif entry.endswith(".yml"):
            files.append(folder / entry)
    return files


_REGULAR_ONLY = "the curriculum reads only regular files inside its folder: put the file itself here"


def _inside(path: FsPath, root: FsPath) -> bool:
    try:
        path.parent.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def read_text(path: FsPath) -> tuple[str | None, list[Problem]]:
    """A curriculum file's text: only a regular file (never through a link), at most MAX_FILE_BYTES, UTF-8."""
    name = _display_name(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, [Problem(name, 1, 1, "no such file; create it or correct the name")]
    except OSError as error:
        return None, [Problem(name, 1, 1, f"cannot be read ({error.strerror}); make it a readable file")]
    if stat.S_ISLNK(info.st_mode):
        return None, [Problem(name, 1, 1, f"is a symbolic link; {_REGULAR_ONLY}")]
    if stat.S_ISDIR(info.st_mode):
        return None, [
            Problem(name, 1, 1, "is a folder, not a YAML file; rename it so its name does not end in '.yml'")
        ]
    if not stat.S_ISREG(info.st_mode):
        return None, [Problem(name, 1, 1, f"is not a regular file; {_REGULAR_ONLY}")]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        return None, [
            Problem(name, 1, 1, "cannot be read (permission denied); make it readable, e.g. chmod a+r")
        ]
    except OSError as error:
        return None, [Problem(name, 1, 1, f"cannot be read ({error.strerror}); make it a readable file")]
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None, [Problem(name, 1, 1, f"is not a regular file; {_REGULAR_ONLY}")]
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return None, [
            Problem(
                name,
                1,
                1,
                f"holds more than {MAX_FILE_BYTES // 1024} KiB, more than any curriculum file needs; split it",
            )
        ]
    return _decode(data, name)


def _decode(data: bytes, name: str) -> tuple[str | None, list[Problem]]:
    for bom, encoding in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                          (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):  # fmt: skip
        if data.startswith(bom):
            return None, [Problem(name, 1, 1, f"is {encoding} text; save it as UTF-8")]
    if data and data.count(0) * 4 >= len(data):
        return None, [
            Problem(name, 1, 1, "is UTF-16 or UTF-32 text (every other byte is zero); save it as UTF-8")
        ]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        byte = data[error.start]
        return None, [
            Problem(
                name,
                line,
                col,
                f"is not UTF-8 text (byte 0x{byte:02X} here cannot be decoded); save the file as UTF-8",
            )
        ]


def read_document(path: FsPath) -> tuple[Document | None, list[Problem]]:
    """Read and parse one curriculum file, naming it relative to the working folder."""
    text, problems = read_text(path)
    if text is None:
        return None, problems
    return parse_yaml(text, _display_name(path))


def _display_name(path: FsPath) -> str:
    """The path as messages show it: relative to the working folder, the file itself never resolved through a link."""
    try:
        return str((path.parent.resolve() / path.name).relative_to(FsPath.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_file(path: FsPath, model: type[BaseModel], problems: list[Problem]) -> tuple[Any, Document]:
    """The validated instance (None when invalid) and its document (None only when unreadable or unparseable)."""
    doc, found = read_document(path)
    problems.extend(found)
    if doc is None:
        return None, None  # type: ignore[return-value]  # instance is None too, so doc is never used
    instance, found = validate_document(doc, model)
    problems.extend(found)
    return instance, doc


def _required_file(root: FsPath, name: str, problems: list[Problem], what: str) -> FsPath | None:
    path = root / name
    if not os.path.lexists(path):
        problems.append(Problem(_display_name(path), 1, 1, f"missing file; create it with {what}"))
        return None
    return path


def load_curriculum(root: FsPath, notebooks_dir: FsPath | None = None) -> Curriculum:
    """Load and cross-check every file under `root`; raise CurriculumError listing all problems."""
    problems: list[Problem] = []
    if not root.is_dir() or not any(
        os.path.lexists(root / name) for name in ("path.yml", "phases", "topics")
    ):
        raise CurriculumError(
            [Problem(str(root), 1, 1, "no such folder; give the curriculum folder, e.g. 'curriculum'")]
        )
    loaded = LoadedFiles()
    singles: list[tuple[str, type[BaseModel], str, str]] = [
        ("path.yml", Path, "path", "the path's title, tagline, description, phases and tracks"),
        ("glossary.yml", Glossary, "glossary", "a 'terms:' list"),
        ("advice.yml", AdviceList, "advice", "an 'advice:' list"),
        ("reading-list.yml", ReadingList, "reading", "a 'shelves:' list"),
    ]
    for name, model, attr, what in singles:
        file = _required_file(root, name, problems, what)
        if file is not None:
            instance, doc = _load_file(file, model, problems)
            if instance is not None:
                setattr(loaded, attr, (instance, doc) if attr != "path" else instance)
                if attr == "path":
                    loaded.path_doc = doc
    phase_files = curriculum_files(root / "phases", root, problems)
    topic_files = curriculum_files(root / "topics", root, problems)
    if phase_files is None or topic_files is None:
        raise CurriculumError(
            problems
        )  # without every phase and topic, checks across files would only mislead
    for file in phase_files:
        instance, doc = _load_file(file, Phase, problems)
        if instance is None:
            match = PHASE_FILE.match(file.name)
            loaded.broken.add(match.group(2) if match else file.stem)
            loaded.broken_phases = True
        else:
            loaded.phases.append((instance, doc, file.relative_to(root).as_posix()))
    for file in topic_files:
        instance, doc = _load_file(file, Topic, problems)
        if instance is None:
            loaded.broken.add(file.stem)
        else:
            loaded.topics.append((instance, doc, file.relative_to(root).as_posix()))
    problems.extend(cross_check(loaded, root, notebooks_dir))
    if problems:
        raise CurriculumError(problems)
    assert loaded.path and loaded.glossary and loaded.advice and loaded.reading
    order = {phase_id: i for i, phase_id in enumerate(loaded.path.phases)}
    phases = sorted((p for p, _, _ in loaded.phases), key=lambda p: order[p.id])
    return Curriculum(
        path=loaded.path,
        phases=phases,
        topics={t.id: t for t, _, _ in loaded.topics},
        glossary=loaded.glossary[0],
        advice=loaded.advice[0],
        reading_list=loaded.reading[0],
        sources={
            **{p.id: rel for p, _, rel in loaded.phases},
            **{t.id: rel for t, _, rel in loaded.topics},
        },
    )


def iter_yaml_files(root: FsPath) -> Iterator[FsPath]:
    """Every curriculum YAML file, for tools that watch or scan them (skipping what the loader skips)."""
    for path in sorted(root.rglob("*.yml")):
        if not any(SKIPPED_NAME.search(part) for part in path.relative_to(root).parts):
            yield path
