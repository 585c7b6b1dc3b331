"""Checks across files: ids, references, order, prerequisites and duplicate URLs."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from llm_path.curriculum.located import Document, Problem
from llm_path.curriculum.model import AdviceList, Glossary, Path, Phase, ReadingList, Topic

PHASE_FILE = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.yml$")


@dataclass
class LoadedFiles:
    """What the per-file pass produced: models and the documents they came from."""

    path: Path | None = None
    path_doc: Document | None = None
    phases: list[tuple[Phase, Document, str]] = field(default_factory=list)
    topics: list[tuple[Topic, Document, str]] = field(default_factory=list)
    glossary: tuple[Glossary, Document] | None = None
    advice: tuple[AdviceList, Document] | None = None
    reading: tuple[ReadingList, Document] | None = None
    broken: set[str] = field(default_factory=set)
    """Ids (file stems) of phases and topics whose files failed to load: not reported again as unknown."""
    broken_phases: bool = False
    """True when a phase file failed to load, so topics may lack a phase for that reason alone."""


def _suggest(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(known) <= 8:
        return "known ids: " + ", ".join(known)
    return f"use one of the {len(known)} known ids"


def cross_check(loaded: LoadedFiles, root: FsPath, notebooks_dir: FsPath | None) -> list[Problem]:
    """Every problem that needs more than one file to see."""
    problems: list[Problem] = []
    topics = _check_topic_ids(loaded, problems)
    phases = _check_phase_ids(loaded, problems)
    order = _check_path(loaded, phases, problems)
    position = _check_phase_topics(loaded, topics, order, problems)
    _check_schedules(loaded, topics, problems)
    _check_prerequisites(loaded, topics, position, problems)
    _check_urls(loaded, problems)
    _check_glossary_and_tracks(loaded, topics, problems)
    if notebooks_dir is not None:
        _check_notebooks(loaded, notebooks_dir, problems)
    return problems


def _check_topic_ids(loaded: LoadedFiles, problems: list[Problem]) -> dict[str, tuple[Topic, Document]]:
    topics: dict[str, tuple[Topic, Document]] = {}
    for topic, doc, rel in loaded.topics:
        stem = FsPath(rel).stem
        if topic.id != stem:
            problems.append(
                doc.problem(
                    ("id",),
                    f"id: {topic.id!r} does not match the file name; write 'id: {stem}' or rename the file to {topic.id}.yml",
                )
            )
            continue
        topics[topic.id] = (topic, doc)
    return topics


def _check_phase_ids(loaded: LoadedFiles, problems: list[Problem]) -> dict[str, tuple[Phase, Document]]:
    phases: dict[str, tuple[Phase, Document]] = {}
    for phase, doc, rel in loaded.phases:
        match = PHASE_FILE.match(FsPath(rel).name)
        if match is None or match.group(2) != phase.id:
            problems.append(
                doc.problem(
                    ("id",),
                    f"id: {phase.id!r} does not match the file name; name the file NN-{phase.id}.yml (NN: two digits, the phase number)",
                )
            )
            continue
        if phase.id in phases:
            first = phases[phase.id][1]
            problems.append(
                doc.problem(
                    ("id",),
                    f"id: duplicate phase id {phase.id!r} (also in {first.file}); give each phase its own id",
                )
            )
            continue
        phases[phase.id] = (phase, doc)
    return phases


def _check_path(
    loaded: LoadedFiles, phases: dict[str, tuple[Phase, Document]], problems: list[Problem]
) -> list[str]:
    """Phase ids in path order, keeping only those that exist."""
    if loaded.path is None or loaded.path_doc is None:
        return []
    doc = loaded.path_doc
    order: list[str] = []
    for i, phase_id in enumerate(loaded.path.phases):
        if phase_id in order:
            problems.append(
                doc.problem(("phases", i), f"phases[{i}]: {phase_id!r} is listed twice; list each phase once")
            )
        elif phase_id in loaded.broken:
            continue
        elif phase_id not in phases:
            problems.append(
                doc.problem(
                    ("phases", i),
                    f"phases[{i}]: no phase {phase_id!r} in phases/; {_suggest(phase_id, phases)}",
                )
            )
        else:
            order.append(phase_id)
    for phase_id, (_, phase_doc) in phases.items():
        if phase_id not in loaded.path.phases:
            problems.append(
                phase_doc.problem(
                    ("id",),
                    f"id: phase {phase_id!r} is not listed in path.yml; add it to the 'phases:' list there",
                )
            )
    return order


def _check_phase_topics(
    loaded: LoadedFiles,
    topics: dict[str, tuple[Topic, Document]],
    order: list[str],
    problems: list[Problem],
) -> dict[str, int]:
    """Check each topic sits in exactly one phase; return each topic's position in the path."""
    position: dict[str, int] = {}
    home: dict[str, str] = {}
    by_id = {phase.id: (phase, doc) for phase, doc, _ in loaded.phases}
    for phase_id in order:
        phase, doc = by_id[phase_id]
        for i, topic_id in enumerate(phase.topics):
            if topic_id in loaded.broken:
                continue
            if topic_id not in topics:
                problems.append(
                    doc.problem(
                        ("topics", i),
                        f"topics[{i}]: no topic {topic_id!r} in topics/; {_suggest(topic_id, topics)}",
                    )
                )
            elif topic_id in home:
                problems.append(
                    doc.problem(
                        ("topics", i),
                        f"topics[{i}]: {topic_id!r} is already in phase {home[topic_id]!r}; a topic sits in exactly one phase",
                    )
                )
            else:
                home[topic_id] = phase_id
                position[topic_id] = len(position)
    for topic_id, (_, doc) in topics.items():
        if topic_id not in home and order and not loaded.broken_phases:
            problems.append(
                doc.problem(
                    ("id",), f"id: topic {topic_id!r} is in no phase; add it to the 'topics:' list of a phase"
                )
            )
    return position


def _check_schedules(
    loaded: LoadedFiles, topics: dict[str, tuple[Topic, Document]], problems: list[Problem]
) -> None:
    for phase, doc, _ in loaded.phases:
        numbers = [week.week for week in phase.schedule]
        expected = list(range(1, len(numbers) + 1))
        if numbers != expected:
            problems.append(
                doc.problem(
                    ("schedule",),
                    f"schedule: weeks are numbered {numbers}; number them 1 to {len(numbers)} in order",
                    at_key=True,
                )
            )
        last = phase.weeks.max or phase.weeks.min
        if len(numbers) < last:
            problems.append(
                doc.problem(
                    ("schedule",),
                    f"schedule: plans {len(numbers)} weeks but the phase lasts {phase.weeks} weeks; add weeks up to week {last}",
                    at_key=True,
                )
            )
        elif len(numbers) > last:
            problems.append(
                doc.problem(
                    ("schedule",),
                    f"schedule: plans {len(numbers)} weeks but the phase lasts at most {last}; remove weeks or raise weeks.max",
                    at_key=True,
                )
            )
        for w, week in enumerate(phase.schedule):
            for i, topic_id in enumerate(week.topics):
                if topic_id not in phase.topics:
                    problems.append(
                        doc.problem(
                            ("schedule", w, "topics", i),
                            f"schedule[{w}].topics[{i}]: {topic_id!r} is not a topic of this phase; use one of: {', '.join(phase.topics)}",
                        )
                    )
            if any(t in loaded.broken for t in week.topics):
                continue  # its resources are unknown; the broken topic file has its own messages
            urls = {r.url: t for t in week.topics if t in topics for r in topics[t][0].resources}
            for i, url in enumerate(week.resources):
                if url not in urls:
                    problems.append(
                        doc.problem(
                            ("schedule", w, "resources", i),
                            f"schedule[{w}].resources[{i}]: {url} is not a resource of this week's topics; add it to one of their 'resources:' or list its topic in this week",
                        )
                    )


def _check_prerequisites(
    loaded: LoadedFiles,
    topics: dict[str, tuple[Topic, Document]],
    position: dict[str, int],
    problems: list[Problem],
) -> None:
    in_cycle = _cycle_edges(topics, problems)
    for topic_id, (topic, doc) in topics.items():
        for i, prereq in enumerate(topic.prerequisites):
            loc = ("prerequisites", i)
            if prereq in loaded.broken:
                continue
            if prereq not in topics:
                problems.append(
                    doc.problem(loc, f"prerequisites[{i}]: no topic {prereq!r}; {_suggest(prereq, topics)}")
                )
            elif prereq == topic_id:
                problems.append(
                    doc.problem(
                        loc, f"prerequisites[{i}]: a topic cannot be its own prerequisite; remove {prereq!r}"
                    )
                )
            elif (topic_id, prereq) in in_cycle:
                continue
            elif topic_id in position and prereq in position and position[prereq] > position[topic_id]:
                problems.append(
                    doc.problem(
                        loc,
                        f"prerequisites[{i}]: {prereq!r} comes later in the path than {topic_id!r}; move it earlier or drop the prerequisite",
                    )
                )


def _cycle_edges(topics: dict[str, tuple[Topic, Document]], problems: list[Problem]) -> set[tuple[str, str]]:
    """Report each prerequisite cycle once, at the edge that closes it; return its edges."""
    state: dict[str, int] = {}
    stack: list[str] = []
    edges: set[tuple[str, str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        topic, doc = topics[node]
        for i, prereq in enumerate(topic.prerequisites):
            if prereq not in topics or prereq == node:
                continue
            if state.get(prereq) == 1:
                cycle = [*stack[stack.index(prereq) :], prereq]
                edges.update(itertools.pairwise(cycle))
                chain = " -> ".join(cycle)
                problems.append(
                    doc.problem(
                        ("prerequisites", i),
                        f"prerequisites[{i}]: prerequisite cycle {chain}; remove one of these prerequisites",
                    )
                )
            elif prereq not in state:
                visit(prereq)
        stack.pop()
        state[node] = 2

    for topic_id in sorted(topics):
        if topic_id not in state:
            visit(topic_id)
    return edges


def _check_urls(loaded: LoadedFiles, problems: list[Problem]) -> None:
    seen: dict[str, str] = {}

    def see(url: str, doc: Document, loc: tuple[str | int, ...], label: str) -> None:
        line, col = doc.where(loc)
        here = f"{doc.file}:{line}:{col}"
        if url in seen:
            problems.append(
                doc.problem(
                    loc,
                    f"{label}: {url} is already listed at {seen[url]}; keep one entry and delete this one",
                )
            )
        else:
            seen[url] = here

    for topic, doc, _ in sorted(loaded.topics, key=lambda item: item[2]):
        for i, resource in enumerate(topic.resources):
            see(resource.url, doc, ("resources", i, "url"), f"resources[{i}].url")
    if loaded.reading is not None:
        reading, doc = loaded.reading
        for s, shelf in enumerate(reading.shelves):
            for i, item in enumerate(shelf.items):
                if item.url is not None:
                    see(item.url, doc, ("shelves", s, "items", i, "url"), f"shelves[{s}].items[{i}].url")


def _check_glossary_and_tracks(
    loaded: LoadedFiles, topics: dict[str, tuple[Topic, Document]], problems: list[Problem]
) -> None:
    if loaded.glossary is not None:
        glossary, doc = loaded.glossary
        names: dict[str, int] = {}
        for i, term in enumerate(glossary.terms):
            if term.topic not in topics and term.topic not in loaded.broken:
                problems.append(
                    doc.problem(
                        ("terms", i, "topic"),
                        f"terms[{i}].topic: no topic {term.topic!r}; {_suggest(term.topic, topics)}",
                    )
                )
            for name in [term.term, *term.aliases]:
                key = name.casefold()
                if key in names:
                    problems.append(
                        doc.problem(
                            ("terms", i, "term"),
                            f"terms[{i}]: {name!r} is already defined by terms[{names[key]}]; merge the two entries",
                        )
                    )
                else:
                    names[key] = i
    if loaded.path is not None and loaded.path_doc is not None:
        doc = loaded.path_doc
        track_ids: set[str] = set()
        for t, track in enumerate(loaded.path.tracks):
            if track.id in track_ids:
                problems.append(
                    doc.problem(
                        ("tracks", t, "id"),
                        f"tracks[{t}].id: duplicate track id {track.id!r}; give each track its own id",
                    )
                )
            track_ids.add(track.id)
            for i, topic_id in enumerate(track.topics):
                if topic_id not in topics and topic_id not in loaded.broken:
                    problems.append(
                        doc.problem(
                            ("tracks", t, "topics", i),
                            f"tracks[{t}].topics[{i}]: no topic {topic_id!r}; {_suggest(topic_id, topics)}",
                        )
                    )
    if loaded.reading is not None:
        reading, doc = loaded.reading
        shelf_ids: set[str] = set()
        for s, shelf in enumerate(reading.shelves):
            if shelf.id in shelf_ids:
                problems.append(
                    doc.problem(
                        ("shelves", s, "id"),
                        f"shelves[{s}].id: duplicate shelf id {shelf.id!r}; give each shelf its own id",
                    )
                )
            shelf_ids.add(shelf.id)


def _check_notebooks(loaded: LoadedFiles, notebooks_dir: FsPath, problems: list[Problem]) -> None:
    for topic, doc, _ in loaded.topics:
        if topic.notebook is not None and not (notebooks_dir / topic.notebook).is_file():
            problems.append(
                doc.problem(
                    ("notebook",),
                    f"notebook: {topic.notebook!r} is not in {notebooks_dir.name}/; create it or correct the name",
                )
            )
