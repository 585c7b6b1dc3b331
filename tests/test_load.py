"""The loader: every kind of bad input gives its own one-line, located message."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_path.load import CurriculumError, load_curriculum, parse_yaml


def problems_after(curriculum: Path, edits: dict[str, str | None]) -> list[str]:
    """Apply {relative file: new text (None deletes)} and return the messages, paths relative to the copy."""
    for relative, text in edits.items():
        target = curriculum / relative
        if text is None:
            target.unlink()
        else:
            target.write_text(text)
    with pytest.raises(CurriculumError) as caught:
        load_curriculum(curriculum)
    prefix = str(curriculum) + "/"
    return [str(p).replace(prefix, "") for p in caught.value.problems]


def edited(curriculum: Path, relative: str, old: str, new: str) -> dict[str, str | None]:
    text = (curriculum / relative).read_text()
    assert old in text, f"fixture changed: {old!r} not in {relative}"
    return {relative: text.replace(old, new, 1)}


BAD_EDITS = [
    (
        "javascript-url",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: javascript:alert(1)",
        [
            "topics/attention.yml:17:10: resources[0].url: 'javascript:alert(1)' is not an http(s) URL; only http:// and https:// links are accepted"
        ],
    ),
    (
        "data-url",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: data:text/html,hello",
        [
            "topics/attention.yml:17:10: resources[0].url: 'data:text/html,hello' is not an http(s) URL; only http:// and https:// links are accepted"
        ],
    ),
    (
        "url-without-scheme",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: arxiv.org/abs/1706.03762",
        [
            "topics/attention.yml:17:10: resources[0].url: 'arxiv.org/abs/1706.03762' is not an http(s) URL; write the full address, e.g. https://arxiv.org/abs/1706.03762"
        ],
    ),
    (
        "yaml-syntax",
        "topics/attention.yml",
        "title: Attention mechanisms",
        "title: Attention: mechanisms",
        [
            "topics/attention.yml:3:17: YAML syntax error: mapping values are not allowed here; put text that contains ': ' in quotes"
        ],
    ),
    (
        "tab-indentation",
        "topics/attention.yml",
        "  - idea: Selective focus",
        "\t- idea: Selective focus",
        [
            "topics/attention.yml:7:1: YAML syntax error: tab character in indentation; indent with spaces, not tabs"
        ],
    ),
    (
        "wrong-type",
        "topics/attention.yml",
        "hours: 12",
        "hours: a dozen",
        [
            "topics/attention.yml:5:8: hours: expected a whole number, got text ('a dozen'); write a whole number"
        ],
    ),
    (
        "boolean-where-text-belongs",
        "topics/attention.yml",
        "    author: Vaswani et al.",
        "    author: no",
        [
            "topics/attention.yml:21:13: resources[0].author: expected text, got a boolean (true/false); put the value in quotes to keep it as text"
        ],
    ),
    (
        "missing-required-field",
        "topics/attention.yml",
        "summary: How a model decides what to look at.\n",
        "",
        [
            "topics/attention.yml:2:1: missing required key 'summary'; add 'summary:' (two or three sentences: what the topic is and what you will be able to do)"
        ],
    ),
    (
        "unknown-key-close-to-a-known-one",
        "topics/attention.yml",
        "why_it_matters:",
        "why_it_maters:",
        [
            "topics/attention.yml:2:1: missing required key 'why_it_matters'; add 'why_it_matters:' (why an LLM engineer needs this topic)",
            "topics/attention.yml:13:1: why_it_maters: unknown key 'why_it_maters'; did you mean 'why_it_matters'?",
        ],
    ),
    (
        "bad-enum",
        "topics/attention.yml",
        "type: paper",
        "type: papr",
        [
            "topics/attention.yml:18:11: resources[0].type: 'papr' is not allowed; did you mean 'paper'? (one of: video, course, book, paper, article, interactive, tool, community)"
        ],
    ),
    (
        "duplicate-yaml-key",
        "topics/attention.yml",
        "hours: 12",
        "hours: 12\nhours: 13",
        ["topics/attention.yml:6:1: hours: duplicate key 'hours' (first on line 5); keep only one"],
    ),
    (
        "topic-id-not-file-name",
        "topics/attention.yml",
        "id: attention",
        "id: attn",
        [
            "phases/02-transformers.yml:7:10: topics[0]: no topic 'attention' in topics/; known ids: calculus, linear-algebra",
            "path.yml:13:40: tracks[0].topics[2]: no topic 'attention'; known ids: calculus, linear-algebra",
            "topics/attention.yml:2:5: id: 'attn' does not match the file name; write 'id: attention' or rename the file to attn.yml",
            "glossary.yml:5:12: terms[0].topic: no topic 'attention'; known ids: calculus, linear-algebra",
        ],
    ),
    (
        "unknown-topic-in-phase",
        "phases/02-transformers.yml",
        "topics: [attention]\nschedule",
        "topics: [atention]\nschedule",
        [
            "phases/02-transformers.yml:7:10: topics[0]: no topic 'atention' in topics/; did you mean 'attention'?",
            "phases/02-transformers.yml:11:14: schedule[0].topics[0]: 'attention' is not a topic of this phase; use one of: atention",
            "topics/attention.yml:2:5: id: topic 'attention' is in no phase; add it to the 'topics:' list of a phase",
        ],
    ),
    (
        "prerequisite-cycle",
        "topics/linear-algebra.yml",
        "notebook: linear-algebra.py",
        "notebook: linear-algebra.py\nprerequisites: [attention]",
        [
            "topics/linear-algebra.yml:16:17: prerequisites[0]: prerequisite cycle attention -> linear-algebra -> attention; remove one of these prerequisites"
        ],
    ),
    (
        "unknown-prerequisite",
        "topics/calculus.yml",
        "prerequisites: [linear-algebra]",
        "prerequisites: [linear-algebr]",
        [
            "topics/calculus.yml:14:17: prerequisites[0]: no topic 'linear-algebr'; did you mean 'linear-algebra'?"
        ],
    ),
    (
        "duplicate-url",
        "topics/calculus.yml",
        "url: https://www.khanacademy.org/math/multivariable-calculus",
        "url: https://arxiv.org/abs/1706.03762",
        [
            "topics/calculus.yml:17:10: resources[0].url: https://arxiv.org/abs/1706.03762 is already listed at topics/attention.yml:17:10; keep one entry and delete this one"
        ],
    ),
    (
        "week-resource-not-in-week-topics",
        "phases/01-foundations.yml",
        "    topics: [calculus]",
        "    topics: [calculus]\n    resources: [https://arxiv.org/abs/1706.03762]",
        [
            "phases/01-foundations.yml:18:17: schedule[1].resources[0]: https://arxiv.org/abs/1706.03762 is not a resource of this week's topics; add it to one of their 'resources:' or list its topic in this week"
        ],
    ),
    (
        "schedule-shorter-than-phase",
        "phases/01-foundations.yml",
        "weeks: {min: 1, max: 2}",
        "weeks: {min: 1, max: 3}",
        [
            "phases/01-foundations.yml:9:1: schedule: plans 2 weeks but the phase lasts 1-3 weeks; add weeks up to week 3"
        ],
    ),
    (
        "weeks-max-below-min",
        "phases/01-foundations.yml",
        "weeks: {min: 1, max: 2}",
        "weeks: {min: 3, max: 2}",
        ["phases/01-foundations.yml:4:8: weeks: max (2) is below min (3); write max >= min, or omit max"],
    ),
    (
        "invalid-id",
        "phases/02-transformers.yml",
        "id: transformers",
        "id: Transformer Architecture",
        [
            "phases/02-transformers.yml:2:5: id: 'Transformer Architecture' is not a valid id; use lower-case words joined by hyphens, e.g. 'transformer-architecture'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [case[1:] for case in BAD_EDITS],
    ids=[case[0] for case in BAD_EDITS],
)
def test_bad_input_gives_located_message(
    curriculum: Path, relative: str, old: str, new: str, expected: list[str]
) -> None:
    """Each mistake is reported with file, line, column, what is wrong and what would be right."""
    assert sorted(problems_after(curriculum, edited(curriculum, relative, old, new))) == sorted(expected)


def test_empty_file(curriculum: Path) -> None:
    """An empty file says so at line 1."""
    assert problems_after(curriculum, {"advice.yml": ""}) == [
        "advice.yml:1:1: the file is empty; write the YAML mapping it should hold"
    ]


def test_list_where_mapping_belongs(curriculum: Path) -> None:
    """A top-level list where a mapping belongs names the keys expected."""
    assert problems_after(curriculum, {"advice.yml": "- quote: x\n  source: y\n"}) == [
        "advice.yml:1:1: expected a mapping of keys (advice, ...), got a list; write 'key: value' lines"
    ]


def test_missing_file(curriculum: Path) -> None:
    """A missing required file is named with what to put in it."""
    assert problems_after(curriculum, {"glossary.yml": None}) == [
        "glossary.yml:1:1: missing file; create it with a 'terms:' list"
    ]


def test_prerequisite_later_in_path(curriculum: Path) -> None:
    """A prerequisite that the path teaches later is refused where it is named."""
    edits = edited(
        curriculum,
        "topics/attention.yml",
        "prerequisites: [linear-algebra, calculus]",
        "prerequisites: [linear-algebra]",
    )
    edits |= edited(
        curriculum,
        "topics/calculus.yml",
        "prerequisites: [linear-algebra]",
        "prerequisites: [linear-algebra, attention]",
    )
    assert problems_after(curriculum, edits) == [
        "topics/calculus.yml:14:33: prerequisites[1]: 'attention' comes later in the path than 'calculus'; move it earlier or drop the prerequisite"
    ]


def test_duplicate_phase_id(curriculum: Path) -> None:
    """Two phase files with one id: the second is reported."""
    text = (curriculum / "phases/02-transformers.yml").read_text()
    assert problems_after(curriculum, {"phases/03-transformers.yml": text}) == [
        "phases/03-transformers.yml:2:5: id: duplicate phase id 'transformers' (also in phases/02-transformers.yml); give each phase its own id"
    ]


def test_every_problem_reported_in_one_run(curriculum: Path) -> None:
    """A tree broken in several files reports every problem together."""
    edits: dict[str, str | None] = {}
    edits |= edited(curriculum, "topics/attention.yml", "type: paper", "type: papr")
    edits |= edited(curriculum, "topics/calculus.yml", "hours: 15", "hours: lots")
    edits |= {"advice.yml": ""}
    edits |= edited(curriculum, "phases/01-foundations.yml", "summary:", "sumary:")
    problems = problems_after(curriculum, edits)
    assert [p.split(":")[0] for p in problems] == [
        "advice.yml",
        "phases/01-foundations.yml",
        "phases/01-foundations.yml",
        "topics/attention.yml",
        "topics/calculus.yml",
    ]


def test_clean_fixture_loads(curriculum: Path) -> None:
    """The fixture loads: phases in path order, topics keyed by id, sources recorded."""
    loaded = load_curriculum(curriculum)
    assert [p.id for p in loaded.phases] == ["foundations", "transformers"]
    assert [t.id for t in loaded.ordered_topics()] == ["linear-algebra", "calculus", "attention"]
    assert loaded.sources["attention"] == "topics/attention.yml"


def test_yaml_is_loaded_safely() -> None:
    """Python-specific YAML tags are refused, not executed."""
    doc, problems = parse_yaml("title: !!python/object/apply:os.system ['true']\n", "x.yml")
    assert doc is None
    assert len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error: ")
