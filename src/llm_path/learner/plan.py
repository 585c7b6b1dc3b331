"""A learner's week-by-week plan: a track, a start date and hours per week in; dated weeks out.

`plan_data` is the one description of what can be scheduled; the site ships it
as data/plan.json and docs/assets/llm-path.js runs `schedule` on it in the
browser, line for line the algorithm below (integer arithmetic only, so both
agree exactly; tests/test_browser.py checks they do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llm_path.curriculum.model import Curriculum


def study_hours(curriculum: Curriculum, topics: Iterable[str]) -> int:
    """How long some topics take: the sum of their hours, the one source of every duration the site shows."""
    return sum(curriculum.topics[t].hours for t in topics)


def study_pace(curriculum: Curriculum) -> int:
    """The hours a week the phases' own week-by-week plans assume: all topics' hours over all planned weeks."""
    weeks = sum(len(phase.schedule) for phase in curriculum.phases)
    return max(1, round(study_hours(curriculum, curriculum.topics) / weeks))


def weeks_at(hours: int, hours_per_week: int) -> int:
    """How many weeks `schedule` takes for `hours` at `hours_per_week`: it fills every week, so hours over pace, rounded up."""
    return -(-hours // hours_per_week)


def plan_data(curriculum: Curriculum) -> dict[str, Any]:
    """The path's topic order, its pace, tracks, and for each topic its title, hours, page, notebook and resources."""
    phase_of = {t: p for p in curriculum.phases for t in p.topics}
    order = [t.id for t in curriculum.ordered_topics()]
    return {
        "version": 1,
        "order": order,
        "pace": study_pace(curriculum),
        "tracks": [
            {
                "id": track.id,
                "title": track.title,
                "hours": study_hours(curriculum, track.topics),
                "topics": sorted(track.topics, key=order.index),
            }
            for track in curriculum.path.tracks
        ],
        "topics": {
            topic.id: {
                "title": topic.title,
                "hours": topic.hours,
                "phase": phase_of[topic.id].title,
                "page": f"topics/{topic.id}/",
                "notebook": f"notebooks/{topic.notebook.removesuffix('.py')}/" if topic.notebook else None,
                "resources": [
                    {"id": r.id, "title": r.title, "url": r.url, "type": r.type.value}
                    for r in topic.resources
                ],
            }
            for topic in curriculum.ordered_topics()
        },
    }


@dataclass
class PlanWeek:
    """One dated week of a personal plan."""

    number: int
    start: dt.date
    end: dt.date
    topics: list[tuple[str, int]] = field(default_factory=list)
    """(topic id, hours spent on it this week)."""
    resources: list[str] = field(default_factory=list)
    """Resource ids to work through this week."""
    notebooks: list[str] = field(default_factory=list)
    """Topic ids whose notebook to finish this week."""


def schedule(data: dict[str, Any], track_id: str, start: dt.date, hours_per_week: int) -> list[PlanWeek]:
    """Fill weeks of `hours_per_week` with the track's topics in order; spread each topic's resources over its weeks.

    A topic's i-th of n resources lands in the week holding hour (2i+1)*h // (2n) of the topic's
    h hours (the middle of its share); its notebook lands in the topic's last week.
    """
    if hours_per_week < 1:
        raise ValueError("hours per week must be at least 1")
    track = next(t for t in data["tracks"] if t["id"] == track_id)
    weeks: list[PlanWeek] = []
    week_index = 0
    used = 0
    for topic_id in track["topics"]:
        topic = data["topics"][topic_id]
        hours = topic["hours"]
        start_week = week_index
        start_used = used
        remaining = hours
        while remaining > 0:
            while len(weeks) <= week_index:
                first = start + dt.timedelta(days=7 * len(weeks))
                weeks.append(PlanWeek(len(weeks) + 1, first, first + dt.timedelta(days=6)))
            take = min(remaining, hours_per_week - used)
            weeks[week_index].topics.append((topic_id, take))
            remaining -= take
            used += take
            if used == hours_per_week:
                week_index += 1
                used = 0
        resources = topic["resources"]
        count = len(resources)
        for i, resource in enumerate(resources):
            offset = (2 * i + 1) * hours // (2 * count)
            weeks[start_week + (start_used + offset) // hours_per_week].resources.append(resource["id"])
        if topic["notebook"]:
            weeks[start_week + (start_used + hours - 1) // hours_per_week].notebooks.append(topic_id)
    return weeks


def plan_as_json(weeks: list[PlanWeek]) -> list[dict[str, Any]]:
    """The plan in the shape the browser computes, for comparison and for tools."""
    return [
        {
            "week": w.number,
            "start": w.start.isoformat(),
            "end": w.end.isoformat(),
            "topics": [[t, h] for t, h in w.topics],
            "resources": w.resources,
            "notebooks": w.notebooks,
        }
        for w in weeks
    ]


def plan_as_text(data: dict[str, Any], weeks: list[PlanWeek]) -> str:
    """A readable plan for the terminal."""
    lines = []
    for week in weeks:
        topics = ", ".join(f"{data['topics'][t]['title']} ({h} h)" for t, h in week.topics)
        lines.append(f"Week {week.number:>2}  {week.start:%a %d %b %Y} - {week.end:%d %b}: {topics}")
        titles = {r["id"]: r["title"] for t in data["topics"].values() for r in t["resources"]}
        for resource_id in week.resources:
            lines.append(f"           read/watch: {titles[resource_id]}")
        for topic_id in week.notebooks:
            lines.append(f"           notebook:   {data['topics'][topic_id]['title']}")
    return "\n".join(lines)


def plan_as_ics(data: dict[str, Any], track_id: str, weeks: list[PlanWeek], stamp: dt.datetime) -> str:
    """An iCalendar file with one all-day event per week (RFC 5545, CRLF line ends, folded lines)."""
    titles = {r["id"]: r["title"] for t in data["topics"].values() for r in t["resources"]}
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//llm-path//plan//EN", "CALSCALE:GREGORIAN"]
    for week in weeks:
        summary = f"LLM path week {week.number}: " + ", ".join(
            data["topics"][t]["title"] for t, _ in week.topics
        )
        details = [f"{data['topics'][t]['title']}: {h} h" for t, h in week.topics]
        details += [f"Resource: {titles[r]}" for r in week.resources]
        details += [f"Notebook: {data['topics'][t]['title']}" for t in week.notebooks]
        lines += [
            "BEGIN:VEVENT",
            f"UID:llm-path-{track_id}-{week.start:%Y%m%d}-week-{week.number}@llm-path",
            f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
            f"DTSTART;VALUE=DATE:{week.start:%Y%m%d}",
            f"DTEND;VALUE=DATE:{week.end + dt.timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_text(summary)}",
            f"DESCRIPTION:{_ics_text(chr(10).join(details))}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold lines longer than 75 octets, as RFC 5545 requires."""
    out: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)
