"""The loader: every kind of bad input gives its own one-line, located message."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN

from llm_path.curriculum.load import MAX_DEPTH, MAX_FILE_BYTES, CurriculumError, load_curriculum, parse_yaml


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
        "retired-key-says-why",
        "path.yml",
        "    title: Beginner\n",
        "    title: Beginner\n    duration: 0-6 months\n",
        [
            "path.yml:11:5: tracks[0].duration: 'duration' is no longer a key here; a track's length is the sum of its topics' hours, which the site shows; delete this line"
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
            "path.yml:12:40: tracks[0].topics[2]: no topic 'attention'; known ids: calculus, linear-algebra",
            "topics/attention.yml:2:5: id: 'attn' does not match the file name; write 'id: attention' or rename the file to attn.yml",
            "glossary.yml:5:12: terms[0].topic: no topic 'attention'; known ids: calculus, linear-algebra",
            "glossary.yml:11:12: terms[2].topic: no topic 'attention'; known ids: calculus, linear-algebra",
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
        "boolean-where-a-number-belongs",
        "topics/attention.yml",
        "hours: 12",
        "hours: true",
        [
            "topics/attention.yml:5:8: hours: expected a whole number, got a boolean (true/false); write a whole number"
        ],
    ),
    (
        "text-where-a-boolean-belongs",
        "topics/attention.yml",
        "    free: true\n    author: Vaswani",
        "    free: 'yes'\n    author: Vaswani",
        [
            "topics/attention.yml:20:11: resources[0].free: expected true or false, got text ('yes'); write true or false"
        ],
    ),
    (
        "url-without-host",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: https://:80/",
        [
            "topics/attention.yml:17:10: resources[0].url: 'https://:80/' has no host; write the site's name after //, e.g. https://example.org/"
        ],
    ),
    (
        "url-with-a-space",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: https://arxiv.org/abs/1706 03762",
        [
            "topics/attention.yml:17:36: resources[0].url: 'https://arxiv.org/abs/1706 03762' holds a space; write the address without it (a space inside an address is written %20)"
        ],
    ),
    (
        "url-with-a-newline",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        'url: "https://arxiv.org/abs/\\n1706.03762"',
        [
            "topics/attention.yml:17:33: resources[0].url: 'https://arxiv.org/abs/\\n1706.03762' holds a line break; write the address without it (a space inside an address is written %20)"
        ],
    ),
    (
        "url-scheme-twice",
        "topics/attention.yml",
        "url: https://arxiv.org/abs/1706.03762",
        "url: https://https://arxiv.org/abs/1706.03762",
        [
            "topics/attention.yml:17:10: resources[0].url: 'https://https://arxiv.org/abs/1706.03762' starts with its scheme twice; write it once, e.g. 'https://arxiv.org/abs/1706.03762'"
        ],
    ),
    (
        "homoglyph-id",
        "topics/attention.yml",
        "id: attention",
        "id: \u0430ttention",
        [
            "topics/attention.yml:2:5: id: '\u0430ttention' is not a valid id; it holds CYRILLIC SMALL LETTER A (U+0430), which is not one of a-z, 0-9 or '-' (it may only look like one); retype it with those"
        ],
    ),
    (
        "title-with-a-line-break",
        "topics/attention.yml",
        "title: Attention mechanisms",
        'title: "Attention\\nmechanisms"',
        [
            "topics/attention.yml:3:18: title: is a title-like field and holds a line break; write it on one line"
        ],
    ),
    (
        "raw-html-in-prose",
        "topics/attention.yml",
        "summary: How a model decides what to look at.",
        "summary: How a model <b onmouseover=alert(1)>decides</b>.",
        [
            "topics/attention.yml:4:22: summary: holds raw HTML ('<b'), which curriculum text may not contain; write plain text; put code in backticks, e.g. `<div>`"
        ],
    ),
    (
        "attribute-list-in-prose",
        "topics/attention.yml",
        "summary: How a model decides what to look at.",
        "summary: 'How a *model*{: onclick=alert(1) } decides.'",
        [
            "topics/attention.yml:4:24: summary: holds a brace, which starts an attribute list ('{'), which curriculum text may not contain; delete it, or put it in backticks as code or inside maths"
        ],
    ),
    (
        "maths-link-in-prose",
        "topics/attention.yml",
        "summary: How a model decides what to look at.",
        "summary: 'How $\\href{javascript:alert(1)}{x}$ looks.'",
        [
            "topics/attention.yml:4:16: summary: holds a maths command that makes links, styles or markup ('\\\\href'), which curriculum text may not contain; delete it; maths from the curriculum may only typeset"
        ],
    ),
    (
        "merge-key",
        "topics/attention.yml",
        "  - idea: Selective focus\n    explanation: Weights over positions.",
        "  - <<: {idea: Selective focus}\n    explanation: Weights over positions.",
        [
            "topics/attention.yml:7:5: the merge key '<<' is not allowed in the curriculum; write the keys out in full"
        ],
    ),
    (
        "anchor-and-alias",
        "topics/attention.yml",
        "practice: [Build attention from scratch.]",
        "practice: &p [Build attention from scratch.]\nwhy: *p",
        [
            "topics/attention.yml:12:11: the YAML anchor '&p' is not allowed in the curriculum; write the value out in full and delete the anchor"
        ],
    ),
    (
        "nul-byte",
        "topics/attention.yml",
        "why_it_matters: Attention",
        "why_it_matters: Atten\x00tion",
        ["topics/attention.yml:13:22: the control character U+0000 cannot appear in YAML; delete it"],
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


def test_symlink_to_a_file_outside_is_refused_and_never_read(curriculum: Path, tmp_path: Path) -> None:
    """A link into the curriculum is one located line; the linked file's contents appear nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("title: TOP-SECRET-4711\n")
    (curriculum / "topics/evil.yml").symlink_to(secret)
    problems = problems_after(curriculum, {})
    assert problems == [
        "topics/evil.yml:1:1: is a symbolic link; the curriculum reads only regular files inside its folder: put the file itself here"
    ]
    assert "TOP-SECRET" not in "".join(problems)


def test_a_linked_folder_is_refused(curriculum: Path, tmp_path: Path) -> None:
    """A topics/ folder that is a link (it could point anywhere) is refused as a whole."""
    outside = tmp_path / "elsewhere"
    (curriculum / "topics").rename(outside)
    (curriculum / "topics").symlink_to(outside)
    assert problems_after(curriculum, {}) == [
        "topics:1:1: is a symbolic link; the curriculum reads only regular files inside its folder: put the file itself here"
    ]


def test_dangling_link_folder_named_yml_and_yaml_suffix(curriculum: Path) -> None:
    """A dangling link, a folder named like a file and a .yaml file: one located line each, in one run."""
    (curriculum / "topics/gone.yml").symlink_to(curriculum / "nowhere.yml")
    (curriculum / "topics/folder.yml").mkdir()
    (curriculum / "topics/stray.yaml").write_text("id: stray\n")
    assert problems_after(curriculum, {}) == [
        "topics/folder.yml:1:1: is a folder, not a YAML file; rename it so its name does not end in '.yml'",
        "topics/gone.yml:1:1: is a symbolic link; the curriculum reads only regular files inside its folder: put the file itself here",
        "topics/stray.yaml:1:1: is not read; name it stray.yml",
    ]


def test_editor_and_temporary_files_are_skipped(curriculum: Path) -> None:
    """Files an editor or an interrupted write leaves (.tmp-*, .#*, *~) are not curriculum files."""
    for name in (".tmp-attention.yml", ".#attention.yml", "attention.yml~", ".attention.yml.x1y2.tmp"):
        (curriculum / "topics" / name).write_text("not: [valid")
    load_curriculum(curriculum)


def test_unreadable_file_as_an_unprivileged_user(curriculum: Path) -> None:
    """Run by a user who may not read a file, the validator names it in one line and exits 1, with no traceback."""
    target = curriculum / "topics/attention.yml"
    target.chmod(0o000)
    for folder in (curriculum, *curriculum.parents):
        if folder.stat().st_mode & 0o005 != 0o005:
            folder.chmod(
                folder.stat().st_mode | 0o005
            )  # the unprivileged user may reach the folder, not the file
    run_as_nobody = (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
    )
    result = subprocess.run(
        [*run_as_nobody, str(BIN / "llm-path"), "validate", str(curriculum)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=curriculum.parent,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        "curriculum/topics/attention.yml:1:1: cannot be read (permission denied); make it readable, e.g. chmod a+r"
        in result.stderr.splitlines()
    )


def test_billion_laughs_is_refused_within_a_second(curriculum: Path) -> None:
    """Nine levels of aliases would expand to a billion strings; the first anchor is refused at once."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 10)]
    started = time.perf_counter()
    problems = problems_after(curriculum, {"advice.yml": "\n".join(lines) + "\n"})
    assert time.perf_counter() - started < 1.0
    assert problems == [
        "advice.yml:1:5: the YAML anchor '&a0' is not allowed in the curriculum; write the value out in full and delete the anchor"
    ]


def test_deep_nesting_is_refused_at_its_position(curriculum: Path) -> None:
    """5,000 nested lists stop at the documented depth with a located line, not a RecursionError."""
    problems = problems_after(curriculum, {"advice.yml": "advice: " + "[" * 5000 + "]" * 5000 + "\n"})
    assert problems == [
        f"advice.yml:1:{9 + MAX_DEPTH - 1}: nesting deeper than {MAX_DEPTH} levels, which no curriculum file needs; check the indentation, or close the brackets opened above"
    ]


def test_utf16_and_undecodable_bytes_are_located(curriculum: Path) -> None:
    """UTF-16 is named as such; a bad byte in UTF-8 is reported at its real line and column."""
    (curriculum / "advice.yml").write_bytes("advice: []\n".encode("utf-16"))
    text = (curriculum / "glossary.yml").read_bytes()
    (curriculum / "glossary.yml").write_bytes(text.replace(b"Divides logits", b"Div\xffides logits"))
    assert problems_after(curriculum, {}) == [
        "advice.yml:1:1: is UTF-16 text; save it as UTF-8",
        "glossary.yml:4:20: is not UTF-8 text (byte 0xFF here cannot be decoded); save the file as UTF-8",
    ]


def test_messages_quote_at_most_about_80_characters(curriculum: Path) -> None:
    """A huge bad value is quoted short, on one line."""
    edits = edited(curriculum, "topics/attention.yml", "type: paper", "type: " + "x" * 10_000)
    (problem,) = problems_after(curriculum, edits)
    assert len(problem) < 300 and "x" * 100 not in problem and "…" in problem


def test_oversized_file_is_refused_unread(curriculum: Path) -> None:
    """A file over the size limit is one line, not minutes of parsing."""
    (curriculum / "advice.yml").write_text("advice:\n" + "  - quote: x\n    source: y\n" * 60_000)
    assert problems_after(curriculum, {}) == [
        f"advice.yml:1:1: holds more than {MAX_FILE_BYTES // 1024} KiB, more than any curriculum file needs; split it"
    ]
