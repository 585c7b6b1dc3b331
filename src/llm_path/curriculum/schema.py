"""JSON Schema for editors, generated from the models: one file per kind of curriculum file.

The schemas are committed under ``curriculum/schema/`` and every curriculum file names
its schema in a first-line ``yaml-language-server`` modeline, so editors complete keys,
show each field's docstring and flag mistakes as you type. They are written in JSON
Schema draft-07, the dialect the YAML language server implements.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from llm_path.curriculum.model import AdviceList, Glossary, Path, Phase, ReadingList, Topic, check_http_url

DEFAULT_OUT = FsPath("curriculum/schema")
DIALECT = "http://json-schema.org/draft-07/schema#"
MODELINE_PREFIX = "# yaml-language-server: $schema="

KINDS: dict[str, type[BaseModel]] = {
    "path": Path,
    "phase": Phase,
    "topic": Topic,
    "glossary": Glossary,
    "advice": AdviceList,
    "reading-list": ReadingList,
}
"""Schema name -> the model of that kind of file."""

URL_PATTERN = r"^https?://[^/?#\s@]+([/?#]\S*)?$"
"""What `model.check_http_url` accepts, as a pattern editors can check as you type."""


class _Generator(GenerateJsonSchema):
    """pydantic's generator, plus URL patterns and without the titles it derives from field names."""

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        inner = super().function_after_schema(schema)
        if schema["function"].get("function") is check_http_url:
            inner = {**inner, "pattern": URL_PATTERN}
        return inner

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _draft07(value: Any) -> Any:
    """pydantic writes 2020-12 (`$defs`, `$ref` beside other keys); rewrite it as draft-07."""
    if isinstance(value, list):
        return [_draft07(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {("definitions" if key == "$defs" else key): _draft07(item) for key, item in value.items()}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/$defs/", "#/definitions/")
        if len(out) > 1:  # draft-07 ignores keys beside $ref, so keep the description through allOf
            ref = out.pop("$ref")
            out = {"allOf": [{"$ref": ref}], **out}
    return out


def file_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind of curriculum file ('topic', 'phase', ...)."""
    model = KINDS[kind]
    generated = _draft07(model.model_json_schema(schema_generator=_Generator))
    return {
        "$schema": DIALECT,
        "$comment": f"Generated from llm_path.curriculum.model.{model.__name__} by `llm-path schema`; do not edit by hand.",
        **generated,
    }


def schema_texts() -> dict[str, str]:
    """File name -> the text `write_schemas` writes, for every kind of curriculum file."""
    return {
        f"{kind}.schema.json": json.dumps(file_schema(kind), indent=2, ensure_ascii=False) + "\n"
        for kind in KINDS
    }


def write_schemas(out_dir: FsPath) -> list[FsPath]:
    """Write every schema into `out_dir`, each atomically; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_texts().items():
        target = out_dir / name
        handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
            os.replace(temporary, target)
        except BaseException:
            FsPath(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def stale_schemas(out_dir: FsPath) -> list[str]:
    """One located line per schema file in `out_dir` that is missing or differs from the models."""
    problems = []
    for name, text in schema_texts().items():
        target = out_dir / name
        if not target.is_file():
            problems.append(f"{target}:1:1: missing; run 'llm-path schema {out_dir}' to write it")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(
                f"{target}:1:1: out of date with src/llm_path/curriculum/model.py; run 'llm-path schema {out_dir}' and commit the result"
            )
    return problems


def kind_of(relative: str) -> str | None:
    """The schema kind of a curriculum file, from its path relative to the curriculum folder."""
    parts = FsPath(relative).parts
    if len(parts) == 2 and parts[0] in ("phases", "topics") and parts[1].endswith(".yml"):
        return parts[0].removesuffix("s")
    if len(parts) == 1 and parts[0].removesuffix(".yml") in ("path", "glossary", "advice", "reading-list"):
        return parts[0].removesuffix(".yml")
    return None


def curriculum_files(curriculum: FsPath) -> Iterator[tuple[FsPath, str]]:
    """Every curriculum YAML file the loader reads, with its schema kind."""
    for file in sorted(curriculum.rglob("*.yml")):
        kind = kind_of(file.relative_to(curriculum).as_posix())
        if kind is not None:
            yield file, kind


def modeline(file: FsPath, kind: str, out_dir: FsPath) -> str:
    """The first line `file` should carry: its schema's path relative to the file's folder."""
    target = os.path.relpath(out_dir / f"{kind}.schema.json", file.parent).replace(os.sep, "/")
    return MODELINE_PREFIX + target


def missing_modelines(curriculum: FsPath, out_dir: FsPath) -> list[str]:
    """One located line per curriculum file whose first line is not its schema modeline."""
    problems = []
    for file, kind in curriculum_files(curriculum):
        expected = modeline(file, kind, out_dir)
        with file.open(encoding="utf-8", errors="replace") as stream:
            first = stream.readline().rstrip("\r\n")
        if first != expected:
            problems.append(
                f"{file}:1:1: the first line is not the schema modeline; make it '{expected}' (editors use it to complete and check keys)"
            )
    return problems


def cmd_schema(args: argparse.Namespace) -> int:
    """Write the JSON Schema of each kind of curriculum file, or check the committed ones."""
    out: FsPath = args.out
    if args.check:
        problems = stale_schemas(out)
        if args.curriculum.is_dir():
            problems += missing_modelines(args.curriculum, out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"ok: {len(KINDS)} schemas in {out} are up to date")
        return 0
    written = write_schemas(out)
    print(f"wrote {len(written)} schemas to {out}")
    return 0


def add_parser(sub: Any) -> None:
    """Register `llm-path schema` on the command's subparsers."""
    parser = sub.add_parser(
        "schema", help="write or check the curriculum's JSON Schema", description=cmd_schema.__doc__
    )
    parser.add_argument(
        "out", nargs="?", type=FsPath, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a schema is stale or a curriculum file lacks its modeline",
    )
    parser.add_argument(
        "--curriculum",
        type=FsPath,
        default=FsPath("curriculum"),
        help="curriculum folder whose modelines --check verifies (default: curriculum)",
    )
    parser.set_defaults(run=cmd_schema)
