"""The week planner: one algorithm (mirrored by the site's JavaScript) and its calendar file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar
import pytest

from llm_path.curriculum.load import load_curriculum
from llm_path.learner.plan import plan_as_ics, plan_data, schedule


@pytest.fixture
def data(curriculum: Path) -> dict:
    return plan_data(load_curriculum(curriculum))


def test_weeks_are_filled_in_track_order(data: dict) -> None:
    """20 + 15 + 12 hours at 10 a week: topics spill into the next week, in order, with dated weeks."""
    weeks = schedule(data, "beginner", dt.date(2027, 1, 4), 10)
    assert [w.topics for w in weeks] == [
        [("linear-algebra", 10)],
        [("linear-algebra", 10)],
        [("calculus", 10)],
        [("calculus", 5), ("attention", 5)],
        [("attention", 7)],
    ]
    assert [(w.start, w.end) for w in weeks][-1] == (dt.date(2027, 2, 1), dt.date(2027, 2, 7))


def test_resources_spread_over_the_topic_and_notebook_at_its_end(data: dict) -> None:
    """Each of a topic's n resources lands at the middle of its share of the topic's hours."""
    weeks = schedule(data, "beginner", dt.date(2027, 1, 4), 10)
    linear_algebra = [r["id"] for r in data["topics"]["linear-algebra"]["resources"]]
    # 20 hours, 2 resources: hours 5 and 15, so weeks 1 and 2.
    assert weeks[0].resources[:1] == linear_algebra[:1] and weeks[1].resources[:1] == linear_algebra[1:]
    assert weeks[1].notebooks == ["linear-algebra"]


def test_hours_must_be_positive(data: dict) -> None:
    """Zero hours a week would never end."""
    with pytest.raises(ValueError, match="at least 1"):
        schedule(data, "beginner", dt.date(2027, 1, 4), 0)


def test_calendar_has_one_all_day_event_per_week(data: dict) -> None:
    """The .ics parses, holds one event per week spanning Monday to Sunday, and folds long lines."""
    weeks = schedule(data, "beginner", dt.date(2027, 1, 4), 10)
    text = plan_as_ics(data, "beginner", weeks, dt.datetime(2026, 11, 22, 12, 0, 0))
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    events = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert len(events) == len(weeks)
    assert events[3].decoded("DTSTART") == dt.date(2027, 1, 25)
    assert events[3].decoded("DTEND") == dt.date(2027, 2, 1)
    assert str(events[3]["SUMMARY"]) == "LLM path week 4: Calculus and optimization, Attention mechanisms"
