"""The JSON Schema for editors: generated from the models, committed, and named by every curriculum file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import BIN, ROOT
from pydantic_core import PydanticCustomError

from llm_path.curriculum.load import CurriculumError, load_curriculum
from llm_path.curriculum.model import Resource, check_http_url
from llm_path.curriculum.schema import (
    KINDS,
    MODELINE_PREFIX,
    curriculum_files,
    file_schema,
    stale_schemas,
    write_schemas,
)

COMMITTED = ROOT / "curriculum" / "schema"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llm-path"), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def schema_errors(kind: str, data: object) -> list[str]:
    validator = jsonschema.Draft7Validator(file_schema(kind))
    return sorted(error.message for error in validator.iter_errors(data))


def test_committed_schema_is_up_to_date() -> None:
    """curriculum/schema/ holds exactly what `llm-path schema` writes from the current models."""
    assert stale_schemas(COMMITTED) == []


def test_each_schema_is_valid_draft07() -> None:
    """Every generated schema is itself a valid draft-07 schema, the YAML language server's dialect."""
    for kind in KINDS:
        jsonschema.Draft7Validator.check_schema(file_schema(kind))


def test_schema_check_names_each_stale_file(tmp_path: Path) -> None:
    """`llm-path schema --check` exits 1 with one located line per stale or missing file."""
    out = tmp_path / "schema"
    assert run("schema", str(out), cwd=tmp_path).returncode == 0
    (out / "topic.schema.json").write_text("{}\n")
    (out / "advice.schema.json").unlink()
    result = run("schema", str(out), "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{out}/topic.schema.json:1:1: out of date with src/llm_path/curriculum/model.py; run 'llm-path schema {out}' and commit the result",
        f"{out}/advice.schema.json:1:1: missing; run 'llm-path schema {out}' to write it",
    ]


def test_schema_check_passes_on_fresh_schemas(tmp_path: Path) -> None:
    """Right after writing, the check passes and says so on one line."""
    out = tmp_path / "schema"
    run("schema", str(out), cwd=tmp_path)
    result = run("schema", str(out), "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: 6 schemas in {out} are up to date\n"


def test_schema_check_flags_a_file_without_its_modeline(tmp_path: Path, curriculum: Path) -> None:
    """A curriculum file whose first line is not its modeline is one located line, with the line to write."""
    out = curriculum / "schema"
    write_schemas(out)
    for file, kind in curriculum_files(curriculum):
        target = (
            f"../schema/{kind}.schema.json" if file.parent != curriculum else f"schema/{kind}.schema.json"
        )
        file.write_text(f"{MODELINE_PREFIX}{target}\n{file.read_text()}")
    attention = curriculum / "topics" / "attention.yml"
    attention.write_text(attention.read_text().split("\n", 1)[1])
    result = run("schema", "curriculum/schema", "--check", "--curriculum", "curriculum", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "curriculum/topics/attention.yml:1:1: the first line is not the schema modeline; make it "
        "'# yaml-language-server: $schema=../schema/topic.schema.json' (editors use it to complete and check keys)"
    ]


def test_unknown_key_fails_the_schema_as_it_fails_the_loader(curriculum: Path) -> None:
    """A misspelt key in a topic is flagged by the JSON Schema (as an editor shows it) and by the loader."""
    attention = curriculum / "topics" / "attention.yml"
    attention.write_text(attention.read_text().replace("why_it_matters:", "why_it_maters:"))
    assert schema_errors("topic", yaml.safe_load(attention.read_text())) == [
        "'why_it_matters' is a required property",
        "Additional properties are not allowed ('why_it_maters' was unexpected)",
    ]
    with pytest.raises(CurriculumError, match="unknown key 'why_it_maters'; did you mean 'why_it_matters'"):
        load_curriculum(curriculum)


def test_unknown_key_in_a_resource_fails_the_schema(curriculum: Path) -> None:
    """additionalProperties: false holds inside nested models too (a resource with 'link:')."""
    data = yaml.safe_load((curriculum / "topics" / "attention.yml").read_text())
    data["resources"][0]["link"] = data["resources"][0].pop("url")
    assert schema_errors("topic", data) == [
        "'url' is a required property",
        "Additional properties are not allowed ('link' was unexpected)",
    ]


def test_bad_enum_fails_the_schema(curriculum: Path) -> None:
    """A resource type outside the model's enum is a schema error listing the allowed values."""
    data = yaml.safe_load((curriculum / "topics" / "attention.yml").read_text())
    data["resources"][0]["type"] = "papr"
    assert schema_errors("topic", data) == [
        "'papr' is not one of ['video', 'course', 'book', 'paper', 'article', 'interactive', 'tool', 'community']"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://arxiv.org/abs/1706.03762",
        "http://example.org",
        "https://example.org/a?b=c#d",
        "https://example.org:8080/x",
        "arxiv.org/abs/1706.03762",
        "javascript:alert(1)",
        "https://user:pw@example.org/",
        "https://exa mple.org/",
        "ftp://example.org/file",
        "https://",
    ],
)
def test_url_pattern_accepts_what_the_model_accepts(url: str) -> None:
    """The schema's URL pattern and the model's URL check agree, so the editor flags what CI would."""
    try:
        check_http_url(url)
        model_ok = True
    except PydanticCustomError:
        model_ok = False
    url_schema = file_schema("topic")["definitions"]["Resource"]["properties"]["url"]
    assert jsonschema.Draft7Validator(url_schema).is_valid(url) == model_ok


def test_field_docstrings_become_descriptions() -> None:
    """Every field's docstring is its description in the schema, the hover text editors show."""
    resource = file_schema("topic")["definitions"]["Resource"]["properties"]
    for name, info in Resource.model_fields.items():
        assert resource[name]["description"] == info.description


def test_every_object_forbids_unknown_keys() -> None:
    """Every object in every schema has additionalProperties: false, like the models' extra='forbid'."""

    def objects(node: object) -> list[dict[str, object]]:
        if isinstance(node, list):
            return [o for item in node for o in objects(item)]
        if not isinstance(node, dict):
            return []
        own = [node] if node.get("type") == "object" else []
        return own + [o for value in node.values() for o in objects(value)]

    for kind in KINDS:
        found = objects(file_schema(kind))
        assert found and all(o.get("additionalProperties") is False for o in found), kind


def test_every_curriculum_file_matches_its_schema() -> None:
    """The real curriculum passes the JSON Schema too, so editors show no false alarms."""
    for file, kind in curriculum_files(ROOT / "curriculum"):
        assert schema_errors(kind, yaml.safe_load(file.read_text(encoding="utf-8"))) == [], file


def test_every_curriculum_file_starts_with_its_modeline() -> None:
    """Each curriculum YAML file's first line names its schema, and the path resolves to that schema."""
    files = list(curriculum_files(ROOT / "curriculum"))
    assert len(files) >= 4 + 6 + 20
    for file, kind in files:
        first = file.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(MODELINE_PREFIX), file
        target = (file.parent / first.removeprefix(MODELINE_PREFIX)).resolve()
        assert target == (COMMITTED / f"{kind}.schema.json").resolve(), file
        assert json.loads(target.read_text())["title"] == KINDS[kind].__name__


def test_loader_ignores_the_schema_folder(curriculum: Path) -> None:
    """Schemas written inside the curriculum folder do not disturb loading."""
    write_schemas(curriculum / "schema")
    assert len(load_curriculum(curriculum).topics) == 3
