"""Flashcard exports: every study question as CSV or as an Anki deck, tagged by phase and topic."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import zipfile
from contextlib import closing
from pathlib import Path

from conftest import BIN


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llm-path"), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_csv_export_has_every_question_with_tags(curriculum: Path, tmp_path: Path) -> None:
    """One row per question, with its answer, phase, topic and Anki-style tags."""
    result = run(
        "cards", "--format", "csv", str(tmp_path / "cards.csv"), "--curriculum", str(curriculum), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "cards.csv").read_text().splitlines()))
    assert [r["question"] for r in rows] == [
        "What does a dot product measure?",
        "What is the chain rule?",
        "Why divide attention scores by the square root of d_k?",
    ]
    assert rows[2]["tags"] == "phase::02-transformers topic::attention"
    assert rows[0]["answer"] == "How aligned two vectors are."


def test_anki_export_is_a_deck_with_one_note_per_question(curriculum: Path, tmp_path: Path) -> None:
    """The .apkg is an Anki package whose collection holds three tagged notes."""
    result = run(
        "cards", "--format", "anki", str(tmp_path / "out"), "--curriculum", str(curriculum), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    package = tmp_path / "out" / "llm-path.apkg"
    with zipfile.ZipFile(package) as archive:
        archive.extract("collection.anki2", tmp_path)
    with closing(sqlite3.connect(tmp_path / "collection.anki2")) as db:
        notes = db.execute("select flds, tags from notes order by id").fetchall()
    assert len(notes) == 3
    fields, tags = notes[2]
    assert fields.split("\x1f")[0] == "Why divide attention scores by the square root of d_k?"
    assert set(tags.split()) == {"phase::02-transformers", "topic::attention"}
