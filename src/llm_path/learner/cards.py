"""Study questions as flashcards: the data the site's drill reads, and Anki and CSV exports."""

from __future__ import annotations

import csv
import hashlib
import html
import io
from pathlib import Path
from typing import Any

from llm_path.build.prose import prose_html, prose_text
from llm_path.curriculum.model import Curriculum

DECK_NAME = "From Linear Algebra to LLMs"


def cards_data(curriculum: Curriculum) -> list[dict[str, Any]]:
    """Every study question with its topic and phase, in path order: as plain text, and as the page shows it.

    The HTML is the sanitised rendering every page uses (prose.py): maths as MathML, code as code.
    """
    cards = []
    for number, phase in enumerate(curriculum.phases, start=1):
        for topic_id in phase.topics:
            topic = curriculum.topics[topic_id]
            for question in topic.questions:
                cards.append(
                    {
                        "id": question.id,
                        "question": prose_text(question.question),
                        "answer": prose_text(question.answer),
                        "question_html": str(prose_html(question.question)),
                        "answer_html": str(prose_html(question.answer)),
                        "topic": topic.id,
                        "topic_title": topic.title,
                        "phase": phase.id,
                        "phase_number": number,
                        "phase_title": phase.title,
                    }
                )
    return cards


def tags(card: dict[str, Any]) -> list[str]:
    """Anki tags (no spaces allowed): the phase and the topic."""
    return [f"phase::{card['phase_number']:02d}-{card['phase']}", f"topic::{card['topic']}"]


def cards_csv(cards: list[dict[str, Any]]) -> str:
    """CSV with a header: id, question, answer, phase, topic, tags."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "question", "answer", "phase", "topic", "tags"])
    for card in cards:
        writer.writerow(
            [
                card["id"],
                card["question"],
                card["answer"],
                card["phase_title"],
                card["topic_title"],
                " ".join(tags(card)),
            ]
        )
    return buffer.getvalue()


def _stable_id(text: str) -> int:
    """Anki model and deck ids must stay the same across exports, so re-imports update instead of duplicating."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) | (1 << 30)


def write_anki(cards: list[dict[str, Any]], out: Path) -> None:
    """An .apkg deck: one note per question, tagged by phase and topic, with stable ids."""
    import genanki

    model = genanki.Model(
        _stable_id("llm-path model"),
        "llm-path question",
        fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Topic"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Question}}<div class=topic>{{Topic}}</div>",
                "afmt": "{{FrontSide}}<hr id=answer>{{Answer}}",
            }
        ],
        css=".card { font-family: sans-serif; font-size: 20px; } .topic { font-size: 12px; color: #666; }",
    )
    deck = genanki.Deck(_stable_id(DECK_NAME), DECK_NAME)
    for card in cards:
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[card["question_html"], card["answer_html"], html.escape(card["topic_title"])],
                tags=tags(card),
                guid=genanki.guid_for(card["id"]),
            )
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    genanki.Package(deck).write_to_file(str(out))
