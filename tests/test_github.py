"""The GitHub side: workflows, issue forms and pre-commit hooks that parse and call what exists, and edit links that land on real files."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, FIXTURES, ROOT, build_site

from llm_path.curriculum.load import load_curriculum
from llm_path.curriculum.model import Level, Resource, ResourceType

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
FORMS = sorted((GITHUB / "ISSUE_TEMPLATE").glob("*.yml"))
REPO_URL = "https://github.com/llm-path/llm-path"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_lines(workflow: Any) -> list[str]:
    """Every line of every `run:` step in a workflow."""
    return [
        line.strip()
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        for line in str(step.get("run", "")).splitlines()
    ]


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", (ROOT / "Makefile").read_text(), re.M))


def form_field(form: Any, field_id: str) -> dict[str, Any]:
    return next(item for item in form["body"] if item.get("id") == field_id)


def test_the_expected_workflows_and_forms_exist() -> None:
    """CI, publishing and link checks, and both issue forms, are in place."""
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "links.yml", "pages.yml"]
    assert [p.name for p in FORMS] == ["report-broken-link.yml", "suggest-resource.yml"]
    assert (GITHUB / "PULL_REQUEST_TEMPLATE.md").is_file()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_with_triggers_and_jobs(path: Path) -> None:
    """Each workflow is YAML with triggers ('on', read by YAML 1.1 as true) and jobs made of steps."""
    workflow = load(path)
    assert workflow.get("on", workflow.get(True)), "no triggers"
    for name, job in workflow["jobs"].items():
        assert job["steps"], name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_target_a_workflow_calls_exists(path: Path) -> None:
    """`make X` in a workflow names a target of the Makefile."""
    called = {m for line in run_lines(load(path)) for m in re.findall(r"\bmake\s+([a-z][\w-]*)", line)}
    assert called <= makefile_targets()


def test_workflows_use_python_311_and_run_what_they_promise() -> None:
    """Every setup-python asks for 3.11; CI runs `make test`, pages `make site`, links the checker script."""
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/setup-python"):
                    assert step["with"]["python-version"] == "3.11", path.name
    lines = {path.stem: run_lines(load(path)) for path in WORKFLOWS}
    assert "make test" in lines["ci"]
    assert "make site" in lines["pages"]
    checker = [line for line in lines["links"] if "scripts/check_links.py" in line]
    assert checker and (ROOT / "scripts" / "check_links.py").is_file()
    assert any("--only-changed" in line for line in checker)


def test_pages_publishes_site_to_the_branch_colab_reads() -> None:
    """The site goes to gh-pages (where 'Open in Colab' finds notebooks), keeping the notebook cache."""
    pages = load(GITHUB / "workflows" / "pages.yml")
    steps = pages["jobs"]["publish"]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".llm-path-cache/notebooks"
    assert "notebooks/**" in cache["with"]["key"] and "pyproject.toml" in cache["with"]["key"]
    publish = " ".join(run_lines(pages))
    assert "ghp-import" in publish and publish.rstrip().endswith(" site")
    assert pages["permissions"]["contents"] == "write"


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_issue_form_parses(path: Path) -> None:
    """Each issue form has a name, a description and a body of fields with unique ids."""
    form = load(path)
    assert form["name"] and form["description"]
    ids = [item["id"] for item in form["body"] if "id" in item]
    assert len(ids) == len(set(ids))


def test_suggest_form_asks_for_every_resource_field() -> None:
    """The form's fields are the Resource model's, required exactly where the model requires them."""
    form = load(GITHUB / "ISSUE_TEMPLATE" / "suggest-resource.yml")
    for name, info in Resource.model_fields.items():
        field = form_field(form, name)
        assert field["validations"]["required"] is info.is_required(), name


def test_suggest_form_dropdowns_are_the_model_enums() -> None:
    """type and level offer exactly the model's values, in order; free is free or paid."""
    form = load(GITHUB / "ISSUE_TEMPLATE" / "suggest-resource.yml")
    assert form_field(form, "type")["attributes"]["options"] == [t.value for t in ResourceType]
    assert form_field(form, "level")["attributes"]["options"] == [level.value for level in Level]
    assert form_field(form, "free")["attributes"]["options"] == ["free", "paid"]


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_topic_dropdown_lists_the_curriculum_topics(path: Path) -> None:
    """Each form's topic dropdown lists every topic id in path order (add new topics there too)."""
    curriculum = load_curriculum(ROOT / "curriculum")
    options = form_field(load(path), "topic")["attributes"]["options"]
    assert options == [topic.id for topic in curriculum.ordered_topics()]


def test_pre_commit_hooks_call_commands_that_exist() -> None:
    """The hooks run ruff and `llm-path validate` / `schema --check`, subcommands the CLI has."""
    config = load(ROOT / ".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "llm-path-validate", "llm-path-schema"}
    assert all(hook["language"] == "system" for hook in hooks.values())
    for hook in hooks.values():
        words = shlex.split(hook["entry"])
        if words[0] == "llm-path":
            help_run = subprocess.run(
                [str(BIN / "llm-path"), words[1], "--help"], capture_output=True, timeout=60, check=False
            )
            assert help_run.returncode == 0, hook["id"]
    assert shlex.split(hooks["llm-path-schema"]["entry"])[1:] == ["schema", "--check"]


def edit_links(site: Path) -> set[str]:
    links = set()
    for page in site.rglob("*.html"):
        links |= set(
            re.findall(
                rf'href="({re.escape(REPO_URL)}/(?:edit|tree)/[^"]+)"', page.read_text(encoding="utf-8")
            )
        )
    return links


def test_every_suggest_an_edit_link_points_to_a_real_file(tmp_path: Path, curriculum: Path) -> None:
    """In a built site, each 'Suggest an edit' link opens the YAML file behind the page, which exists."""
    site = build_site(tmp_path, curriculum)
    links = edit_links(site)
    prefix = f"{REPO_URL}/edit/main/curriculum/"
    folder = f"{REPO_URL}/tree/main/curriculum/"
    for link in links:
        if link.startswith(folder):
            assert (curriculum / link.removeprefix(folder)).is_dir(), link
        elif link.startswith(f"{REPO_URL}/edit/main/docs/"):
            assert (ROOT / "docs" / link.removeprefix(f"{REPO_URL}/edit/main/docs/")).is_file(), link
        elif link.startswith(f"{REPO_URL}/edit/main/notebooks/"):
            assert (
                FIXTURES / "notebooks" / link.removeprefix(f"{REPO_URL}/edit/main/notebooks/")
            ).is_file(), link
        else:
            assert link.startswith(prefix), link
            assert (curriculum / link.removeprefix(prefix)).is_file(), link
    pages = [p for p in site.rglob("index.html") if p.parent not in (site / "search", site / "notebooks")]
    without = [str(p.relative_to(site)) for p in pages if "Suggest an edit" not in p.read_text()]
    assert without == [], "every generated page links the YAML behind it"
    behind_pages = {p.relative_to(curriculum).as_posix() for p in curriculum.glob("*/*.yml")}
    assert behind_pages <= {link.removeprefix(prefix) for link in links}, (
        "every phase and topic page links its file"
    )


def test_real_curriculum_edit_links_point_to_repository_files() -> None:
    """For the real curriculum, every page's edit link maps to a file committed under curriculum/."""
    from llm_path.build.pages import SiteOptions, render_site

    curriculum = load_curriculum(ROOT / "curriculum")
    pages = render_site(curriculum, SiteOptions(repo_url=REPO_URL))
    prefix = f"{REPO_URL}/edit/main/"
    links = {
        link for text in pages.values() for link in re.findall(rf"\(({re.escape(prefix)}[^)\s]+)\)", text)
    }
    for link in links:
        assert (ROOT / link.removeprefix(prefix)).is_file(), link
    linked = {link.removeprefix(prefix + "curriculum/") for link in links}
    assert set(curriculum.sources.values()) <= linked, "every phase and topic page links its file"
