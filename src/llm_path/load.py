"""Read the curriculum's YAML files into validated models; the only module that imports yaml.

Every problem is reported with the file, line and column of the offending node,
what is wrong and what would be right, and all problems of a run are collected
before anything is raised.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from llm_path.checks import PHASE_FILE, LoadedFiles, cross_check
from llm_path.located import CurriculumError, Document, Loc, Problem, format_loc
from llm_path.model import (
    AdviceList,
    Curriculum,
    Glossary,
    Path,
    Phase,
    ReadingList,
    Topic,
)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _index(doc: Document, node: yaml.Node, loc: Loc, problems: list[Problem]) -> None:
    """Record the position of every key and value under `node`, flagging duplicate keys."""
    doc.values[loc] = _mark(node)
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


_YAML_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "mapping values are not allowed here": "put text that contains ': ' in quotes",
    "could not find expected ':'": "write each entry as 'key: value' and check indentation",
    "found undefined alias": "define the &anchor before using *alias, or remove the '*'",
    "expected <block end>, but found": "check the indentation of this line against the one above",
    "found unhashable key": "keys must be plain text",
}


def _yaml_problem(file: str, error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = getattr(error, "problem", None) or str(error)
    if "\t" in what or "'\\t'" in what:
        what = "tab character in indentation"
    hint = next(
        (h for key, h in _YAML_HINTS.items() if key in str(getattr(error, "problem", ""))),
        "check indentation and quoting on this line and the one before",
    )
    return Problem(file, line, col, f"YAML syntax error: {what}; {hint}")


def parse_yaml(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document safely, keeping positions; return problems instead of raising."""
    problems: list[Problem] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, [Problem(file, 1, 1, "the file is empty; write the YAML mapping it should hold")]
            doc = Document(file, loader.construct_document(node))
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        return None, [_yaml_problem(file, error)]
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
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (an empty value)"
    return f"a {type(value).__name__} ({value!s})"


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


def _message(error: dict[str, Any], model: type[BaseModel], root: Any) -> tuple[Loc, str, bool]:
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
        return loc[:-1], f"{parent + ': ' if parent else ''}missing required key {name!r}; {hint}", False
    if kind == "extra_forbidden":
        name = str(loc[-1])
        parent_model = _model_at(model, loc[:-1])
        allowed = _allowed_keys(parent_model) if parent_model else []
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "allowed keys: " + ", ".join(allowed)
        return loc, f"{prefix}unknown key {name!r}; {hint}", True
    if kind == "enum":
        expected = [e.strip(" '") for e in error["ctx"]["expected"].replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), expected, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else "use one of: " + ", ".join(expected)
        return loc, f"{prefix}{value!r} is not allowed; {hint} (one of: {', '.join(expected)})", False
    if kind in _EXPECTED:
        hint = f"write {_EXPECTED[kind]}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            hint = "put the value in quotes to keep it as text"
        return loc, f"{prefix}expected {_EXPECTED[kind]}, got {_kind(value)}; {hint}", False
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "notebook":
            return loc, f"{prefix}{value!r} is not a notebook file name; write '<topic-id>.py'", False
        slug = "-".join("".join(c if c.isalnum() else " " for c in str(value).lower()).split())
        return (
            loc,
            f"{prefix}{value!r} is not a valid id; use lower-case words joined by hyphens, e.g. {slug!r}",
            False,
        )
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
            f"{prefix}{value!r} is out of range; it {error['msg'].removeprefix('Input should be ')}",
            False,
        )
    msg = error["msg"].removeprefix("Value error, ")
    if "; " not in msg:
        msg += "; see the field's description in the curriculum schema"
    return loc, f"{prefix}{msg}", False


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
            loc, message, at_key = _message(dict(item), model, doc.data)
            problems.append(doc.problem(loc, message, at_key=at_key))
        return None, problems


def read_document(path: FsPath, root: FsPath) -> tuple[Document | None, list[Problem]]:
    """Read and parse one file, naming it relative to the curriculum's parent folder."""
    name = _display_name(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem(name, 1, 1, f"not UTF-8 text ({error.reason}); save the file as UTF-8")]
    return parse_yaml(text, name)


def _display_name(path: FsPath, root: FsPath) -> str:
    try:
        return str(path.resolve().relative_to(FsPath.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_file(
    path: FsPath, root: FsPath, model: type[BaseModel], problems: list[Problem]
) -> tuple[Any, Document]:
    """The validated instance (None when invalid) and its document (None only when unparseable)."""
    doc, found = read_document(path, root)
    problems.extend(found)
    if doc is None:
        return None, None  # type: ignore[return-value]  # instance is None too, so doc is never used
    instance, found = validate_document(doc, model)
    problems.extend(found)
    return instance, doc


def _required_file(root: FsPath, name: str, problems: list[Problem], what: str) -> FsPath | None:
    path = root / name
    if not path.is_file():
        problems.append(Problem(_display_name(path, root), 1, 1, f"missing file; create it with {what}"))
        return None
    return path


def load_curriculum(root: FsPath, notebooks_dir: FsPath | None = None) -> Curriculum:
    """Load and cross-check every file under `root`; raise CurriculumError listing all problems."""
    problems: list[Problem] = []
    if not root.is_dir():
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
            instance, doc = _load_file(file, root, model, problems)
            if instance is not None:
                setattr(loaded, attr, (instance, doc) if attr != "path" else instance)
                if attr == "path":
                    loaded.path_doc = doc
    for file in sorted((root / "phases").glob("*.yml")):
        instance, doc = _load_file(file, root, Phase, problems)
        if instance is None:
            match = PHASE_FILE.match(file.name)
            loaded.broken.add(match.group(2) if match else file.stem)
            loaded.broken_phases = True
        else:
            loaded.phases.append((instance, doc, file.relative_to(root).as_posix()))
    for file in sorted((root / "topics").glob("*.yml")):
        instance, doc = _load_file(file, root, Topic, problems)
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
    """Every curriculum YAML file, for tools that watch or scan them."""
    yield from sorted(root.rglob("*.yml"))
