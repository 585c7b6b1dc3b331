"""The curriculum's data model: plain pydantic classes, no I/O.

Every field carries a docstring; it is the documentation contributors read and
the description in the generated JSON Schema.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from llm_path.curriculum.text import check_http_url, check_prose, check_title

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
_Stripped = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
TitleText = Annotated[_Stripped, AfterValidator(check_title)]
"""Plain text on one line (see curriculum/text.py)."""
ProseText = Annotated[_Stripped, AfterValidator(check_prose)]
"""Text in the curriculum's Markdown subset (see curriculum/text.py)."""
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
Hours = Annotated[int, Strict(), Field(gt=0, le=200)]
WeekNumber = Annotated[int, Strict(), Field(ge=1, le=52)]
Flag = Annotated[bool, Strict()]


class Model(BaseModel):
    """Base for every curriculum model: frozen, unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, str_strip_whitespace=True
    )


class ResourceType(StrEnum):
    """What kind of thing a resource is."""

    video = "video"
    course = "course"
    book = "book"
    paper = "paper"
    article = "article"
    interactive = "interactive"
    tool = "tool"
    community = "community"


class Level(StrEnum):
    """How much a resource assumes of its reader."""

    intro = "intro"
    intermediate = "intermediate"
    advanced = "advanced"


class Resource(Model):
    """A link to something worth studying, with what a learner needs to choose it."""

    title: TitleText
    """The resource's own title, as its author gives it."""
    url: HttpUrl
    """Its full http(s) address; each URL appears once in the whole curriculum."""
    type: ResourceType
    """One of: video, course, book, paper, article, interactive, tool, community."""
    level: Level
    """One of: intro, intermediate, advanced."""
    free: Flag
    """true when it can be read or watched without paying."""
    author: TitleText
    """Who made it: a person, a team or an organisation."""
    description: ProseText
    """One or two sentences on what it covers and why it is here."""
    duration: TitleText | None = None
    """Optional effort, e.g. '34 lectures', '2 h', '12 weeks'."""

    @property
    def id(self) -> str:
        """A stable id for progress tracking, derived from the URL."""
        return "r-" + hashlib.sha1(self.url.encode()).hexdigest()[:10]


class Idea(Model):
    """A core idea of a topic: a short name and what it says."""

    idea: TitleText
    """The idea in a few words, e.g. 'Vectors as information'."""
    explanation: ProseText
    """One or two sentences explaining it."""


class KeyConcept(Model):
    """A term a learner must know after the topic, with a one-line explanation."""

    term: TitleText
    """The concept's name, e.g. 'Dot product'."""
    explanation: ProseText
    """One line saying what it is and why it matters here."""


class StudyQuestion(Model):
    """A question for retrieval practice and its short, correct answer."""

    question: ProseText
    """A precise question with one clear answer."""
    answer: ProseText
    """The answer, short enough to check yourself against."""

    @property
    def id(self) -> str:
        """A stable id for flashcard scheduling, derived from the question text."""
        return "q-" + hashlib.sha1(self.question.encode()).hexdigest()[:10]


class Topic(Model):
    """One topic of the path: what to understand, what to build, what to read."""

    id: Slug
    """Lower-case slug; must equal the file name without '.yml'."""
    title: TitleText
    """The topic's title, e.g. 'Attention mechanisms'."""
    summary: ProseText
    """Two or three sentences: what the topic is and what you will be able to do."""
    hours: Hours
    """Estimated study hours for a learner on the main path (used by the week planner)."""
    core_ideas: Annotated[list[Idea], Field(min_length=1)]
    """The few ideas the topic rests on."""
    key_concepts: Annotated[list[KeyConcept], Field(min_length=1)]
    """Terms to know, each with a one-line explanation."""
    practice: Annotated[list[ProseText], Field(min_length=1)]
    """What to build or do with your own hands."""
    why_it_matters: ProseText
    """Why an LLM engineer needs this topic."""
    prerequisites: list[Slug] = []
    """Ids of topics to study first; each must come no later in the path."""
    notebook: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+\.py$")] | None = None
    """File name of the topic's notebook in notebooks/, e.g. 'attention.py'."""
    resources: Annotated[list[Resource], Field(min_length=1)]
    """Resources, in the order a learner should meet them."""
    questions: list[StudyQuestion] = []
    """Study questions for retrieval practice (flashcards)."""


class Weeks(Model):
    """A phase's duration in weeks: min-max, or open-ended when max is omitted."""

    min: WeekNumber
    """The shortest sensible duration, in weeks."""
    max: WeekNumber | None = None
    """The longest, in weeks; omit for open-ended phases ('8+ weeks')."""

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Weeks:
        if self.max is not None and self.max < self.min:
            raise PydanticCustomError(
                "weeks_order",
                "max ({max}) is below min ({min}); write max >= min, or omit max",
                {"max": self.max, "min": self.min},
            )
        return self

    def __str__(self) -> str:
        if self.max is None:
            return f"{self.min}+"
        return str(self.min) if self.max == self.min else f"{self.min}-{self.max}"


class Week(Model):
    """One week of a phase's plan: which topics, which resources, what to do."""

    week: WeekNumber
    """The week number within the phase, starting at 1."""
    focus: TitleText
    """What the week is about, in a few words."""
    topics: Annotated[list[Slug], Field(min_length=1)]
    """Ids of the phase's topics studied this week."""
    resources: list[HttpUrl] = []
    """URLs of resources (from those topics) to work through this week."""
    activities: list[ProseText] = []
    """Concrete tasks: lectures to watch, chapters to read, code to write."""


class Milestone(Model):
    """What a learner can show at the end of a phase."""

    title: TitleText
    """A short name for the milestone."""
    description: ProseText
    """What to build or demonstrate, and how to know it is done."""


class Phase(Model):
    """A phase of the path: a few weeks with goals, topics in order and a milestone."""

    id: Slug
    """Lower-case slug; the file is phases/NN-<id>.yml."""
    title: TitleText
    """The phase's title, e.g. 'Mathematical foundations'."""
    weeks: Weeks
    """Duration in weeks, e.g. {min: 4, max: 6}."""
    summary: ProseText
    """Two or three sentences on what the phase covers."""
    goals: Annotated[list[ProseText], Field(min_length=1)]
    """What you can do at the end of the phase."""
    topics: Annotated[list[Slug], Field(min_length=1)]
    """Ids of the phase's topics, in study order."""
    schedule: Annotated[list[Week], Field(min_length=1)]
    """The week-by-week plan, one entry per week."""
    milestone: Milestone
    """What to build or show to finish the phase."""


class Track(Model):
    """A route through the path for one kind of learner."""

    id: Slug
    """e.g. 'beginner'."""
    title: TitleText
    """e.g. 'Beginner'."""
    description: ProseText
    """Who it is for and what it focuses on. Its length is not written here: the site sums its topics' hours."""
    topics: Annotated[list[Slug], Field(min_length=1)]
    """Ids of the topics it covers, in order."""


RETIRED_KEYS: dict[type[BaseModel], dict[str, str]] = {
    Track: {
        "duration": "a track's length is the sum of its topics' hours, which the site shows; delete this line"
    },
}
"""Keys the models once had, with what to do instead: an old file gets a reason, not just 'unknown key'."""


class Path(Model):
    """The whole path: its title and the order of its phases."""

    title: TitleText
    """The site's title."""
    tagline: TitleText
    """One sentence under the title."""
    description: ProseText
    """A paragraph for the home page and search engines."""
    phases: Annotated[list[Slug], Field(min_length=1)]
    """Phase ids in order."""
    tracks: list[Track] = []
    """Routes through the path by level."""


class GlossaryTerm(Model):
    """A term, its definition, and the topic that teaches it."""

    term: TitleText
    """The term as it appears in text, e.g. 'Temperature'."""
    definition: ProseText
    """One or two sentences."""
    topic: Slug
    """Id of the topic that teaches it."""
    aliases: list[TitleText] = []
    """Other spellings to recognise in text, e.g. 'top-p' for 'nucleus sampling'."""
    link_in_text: Flag = True
    """false for words too common to link wherever they appear (e.g. 'Key', 'Recall')."""


class Glossary(Model):
    """The glossary file."""

    terms: Annotated[list[GlossaryTerm], Field(min_length=1)]
    """Terms in any order; the site sorts them."""


class Advice(Model):
    """A piece of advice from someone who has walked the path, with its source."""

    quote: ProseText
    """The advice, quoted or closely paraphrased (say which in 'source')."""
    source: TitleText
    """Who said it and where."""
    url: HttpUrl | None = None
    """Where it was said, when it is online."""


class AdviceList(Model):
    """The advice file."""

    advice: Annotated[list[Advice], Field(min_length=1)]
    """Advice in the order to show it."""


class ReadingItem(Model):
    """A book, paper or article on a reading shelf."""

    title: TitleText
    """Its title."""
    author: TitleText
    """Its author(s)."""
    type: ResourceType
    """What kind of thing it is."""
    url: HttpUrl | None = None
    """Where to find it, when it is online."""
    note: ProseText | None = None
    """Why to read it, in one sentence."""


class Shelf(Model):
    """A named list of reading items, e.g. 'Next up'."""

    id: Slug
    """e.g. 'next-up'."""
    title: TitleText
    """e.g. 'Next up'."""
    description: ProseText
    """What the shelf holds."""
    items: Annotated[list[ReadingItem], Field(min_length=1)]
    """The items, in order."""


class ReadingList(Model):
    """The reading-list file: shelves of books, papers and communities."""

    shelves: Annotated[list[Shelf], Field(min_length=1)]
    """Shelves in display order."""


class Curriculum(Model):
    """Everything loaded and cross-checked: what the page generator consumes."""

    path: Path
    phases: list[Phase]
    topics: dict[str, Topic]
    glossary: Glossary
    advice: AdviceList
    reading_list: ReadingList
    sources: dict[str, str] = {}
    """Topic and phase ids mapped to the YAML file (relative to the curriculum root) they came from."""

    def phase_of(self, topic_id: str) -> Phase:
        """The phase a topic sits in."""
        return next(phase for phase in self.phases if topic_id in phase.topics)

    def ordered_topics(self) -> list[Topic]:
        """Every topic in path order: phase by phase, topic by topic."""
        return [self.topics[topic_id] for phase in self.phases for topic_id in phase.topics]

    def all_prerequisites(self, topic_id: str) -> list[str]:
        """The topics to know before this one: its prerequisites, theirs, and so on, in path order."""
        wanted: set[str] = set()
        stack = list(self.topics[topic_id].prerequisites)
        while stack:
            current = stack.pop()
            if current not in wanted:
                wanted.add(current)
                stack.extend(self.topics[current].prerequisites)
        return [t.id for t in self.ordered_topics() if t.id in wanted]
