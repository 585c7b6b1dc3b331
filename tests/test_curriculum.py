"""The real curriculum: complete, consistent with the seeds, and buildable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, mkdocs_build

from llm_path.curriculum.load import load_curriculum
from llm_path.curriculum.model import Curriculum
from llm_path.notebooks import NotebookRunner

SEEDS = ROOT.parent / "shared" / "seeds"
SEED_URL = re.compile(r"https?://[^\]\s)>\"`]+")


@pytest.fixture(scope="module")
def real() -> Curriculum:
    return load_curriculum(ROOT / "curriculum")


def normalise(url: str) -> str:
    """The seeds give some addresses both with http and https, or with and without a final slash."""
    return re.sub(r"^http://", "https://", url).rstrip("/")


def test_seed_url_list_matches_the_seeds() -> None:
    """The checked-in list of seed URLs is exactly what the seed documents hold (when they are beside the repo)."""
    listed = (FIXTURES / "seed-urls.txt").read_text().split()
    assert len(listed) == 126
    if SEEDS.is_dir():
        found = sorted({url for path in SEEDS.glob("*.txt") for url in SEED_URL.findall(path.read_text())})
        assert found == sorted(listed)


def test_every_seed_url_is_in_the_curriculum() -> None:
    """Nothing from the seeds was silently dropped: each of the 126 URLs appears in curriculum/."""
    text = "\n".join(p.read_text() for p in (ROOT / "curriculum").rglob("*.yml"))
    present = {normalise(url) for url in re.findall(r"https?://[^\s'\"]+", text)}
    missing = [
        url for url in (FIXTURES / "seed-urls.txt").read_text().split() if normalise(url) not in present
    ]
    assert missing == []


def test_six_phases_with_the_seed_durations(real: Curriculum) -> None:
    """The six phases of the spine, with 4-6, 8, 6, 4, 8 and 8+ weeks."""
    assert [str(p.weeks) for p in real.phases] == ["4-6", "8", "6", "4", "8", "8+"]


def test_every_topic_is_complete(real: Curriculum) -> None:
    """Each topic has a summary, a why-it-matters, at least three resources, five questions and a notebook."""
    for topic in real.topics.values():
        assert len(topic.resources) >= 3, topic.id
        assert len(topic.questions) >= 5, topic.id
        assert topic.summary and topic.why_it_matters, topic.id
        assert topic.notebook == f"{topic.id}.py", topic.id


def test_every_phase_plans_each_of_its_weeks(real: Curriculum) -> None:
    """Week 1 to the phase's length, each week with a topic; every topic of the phase is scheduled."""
    for phase in real.phases:
        assert [w.week for w in phase.schedule] == list(range(1, (phase.weeks.max or phase.weeks.min) + 1)), (
            phase.id
        )
        scheduled = {t for week in phase.schedule for t in week.topics}
        assert scheduled == set(phase.topics), phase.id


def test_linear_algebra_weeks_cover_all_of_mit_1806(real: Curriculum) -> None:
    """The 34 lectures of MIT 18.06 are spread over the linear-algebra weeks."""
    text = " ".join(
        a
        for phase in real.phases
        for w in phase.schedule
        if "linear-algebra" in w.topics
        for a in w.activities
    )
    covered: set[int] = set()
    for first, last in re.findall(r"18\.06 lectures? (\d+)(?:-(\d+))?", text):
        covered |= set(range(int(first), int(last or first) + 1))
    assert covered == set(range(1, 35))


def test_tracks_from_the_seeds(real: Curriculum) -> None:
    """Beginner, intermediate, advanced and research tracks, each an ordered list of topics."""
    assert [t.id for t in real.path.tracks] == ["beginner", "intermediate", "advanced", "research"]


def test_glossary_covers_the_seed_terms(real: Curriculum) -> None:
    """The glossary defines the seed's terms and the key terms of the topics."""
    names = {name.casefold() for term in real.glossary.terms for name in [term.term, *term.aliases]}
    for needed in [
        "temperature",
        "top-p",
        "top-k",
        "query",
        "key",
        "value",
        "embedding",
        "tokenizer",
        "perplexity",
        "cross-entropy",
        "kl divergence",
        "softmax",
        "layer normalization",
        "residual connection",
        "lora",
        "rlhf",
        "ppo",
        "dpo",
        "quantization",
        "kv cache",
        "bpe",
    ]:
        assert any(needed in name for name in names), needed


@pytest.mark.notebooks
def test_every_notebook_executes_and_checks_itself() -> None:
    """Every notebook in notebooks/ runs clean through the site's pipeline: all its asserts pass."""
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
    assert len(names) == 23
    results = NotebookRunner(ROOT / "notebooks", ROOT / ".llm-path-cache" / "notebooks").run(names)
    assert [str(r.failure) for r in results if r.failure] == []


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built strictly with every notebook (executed, or reused from .llm-path-cache/notebooks)."""
    site = tmp_path_factory.mktemp("real") / "site"
    result = mkdocs_build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr[-5000:]
    return site


@pytest.mark.notebooks
def test_real_site_builds_with_every_page(real: Curriculum, real_site: Path) -> None:
    """Home, six phases, every topic, its notebook and the index pages are built."""
    expected = ["", "plan", "resources", "glossary", "advice", "reading-list"]
    expected += [f"phases/{p.id}" for p in real.phases] + [f"topics/{t}" for t in real.topics]
    expected += [f"notebooks/{t}" for t in real.topics]
    assert [p for p in expected if not (real_site / p / "index.html").is_file()] == []


@pytest.mark.notebooks
def test_every_topic_page_embeds_an_executed_notebook_with_plots(real: Curriculum, real_site: Path) -> None:
    """Each topic links its notebook page, which shows outputs and at least one figure and no error."""
    for topic_id in real.topics:
        topic_html = (real_site / "topics" / topic_id / "index.html").read_text()
        assert f'href="../../notebooks/{topic_id}/"' in topic_html, topic_id
        notebook = real_site / "notebooks" / topic_id
        html = (notebook / "index.html").read_text()
        assert 'class="lp-output' in html, topic_id
        assert list(notebook.glob("figure-*.png")), f"{topic_id}: no figure"
        assert "Traceback" not in html and 'class="lp-output lp-stderr"' not in html, topic_id
        assert (notebook / f"{topic_id}.ipynb").is_file(), topic_id
