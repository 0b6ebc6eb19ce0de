"""Bookmark lessons: a teacher's ordered list of saved views, behind one unguessable link.

A step names what to open (a saved project or a bundled sample), how to show it (a ProjectView:
page, 2-D/3-D, colouring, layout, clustering, query), the documents it points at and a caption.
A lesson is a title plus its steps, stored as one row of `default_home() / "lessons.sqlite3"`
(steps as JSON, never pickle). One INSERT is one transaction, so a saved lesson is complete or
absent. Ids are checked against the project id pattern before the database is asked, so a link
can never smuggle anything but an id into a query.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from lib.errors import EmbedscopeError, ParameterError, StoreError, invalid_parameter
from lib.share.projects import (
    ID_BYTES,
    ID_PATTERN,
    PROJECT_PARAM,
    SAMPLE_PARAM,
    ProjectView,
    ShareTarget,
    share_query,
)
from lib.store.caches import default_home, store_error

logger = logging.getLogger(__name__)

LESSON_PARAM = "lesson"
STEP_PARAM = "step"
STEP_PAGES = ("map", "arithmetic")  # pages a step can open, by URL path
INDEX_FILE = "lessons.sqlite3"
FORMAT_VERSION = 1
MAX_STEPS = 50
MAX_TITLE_CHARS = 200
MAX_CAPTION_CHARS = 2000
MAX_SELECTION = 1000
_ROW_SEPARATORS = re.compile(r"[\s,;]+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS lessons (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created TEXT NOT NULL,
    format INTEGER NOT NULL,
    steps TEXT NOT NULL
)
"""


def new_lesson_id() -> str:
    """A fresh unguessable id: secrets.token_urlsafe(18), 24 characters, 144 random bits."""
    return secrets.token_urlsafe(ID_BYTES)


def check_lesson_id(text: object) -> str:
    """Return `text` if it is a well-formed lesson id, else the StoreError a page shows."""
    if not isinstance(text, str) or ID_PATTERN.fullmatch(text) is None:
        raise StoreError(
            "That lesson link is malformed: a lesson id is 16 to 64 letters, digits, '-' or '_'. "
            "Check that the whole link was copied."
        )
    return text


@dataclass(frozen=True)
class Step:
    """One view of a lesson: what to open, how to show it, which documents, and what to say.

    `source` is a ShareTarget (kind "project" with a project id, or "sample" with a bundled
    sample's name); `selection` holds row ids of the source's corpus (sorted, unique).
    """

    source: ShareTarget
    view: ProjectView
    selection: tuple[int, ...] = ()
    caption: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, ShareTarget):
            raise invalid_parameter("Step", "source", "a ShareTarget", self.source)
        if self.source.kind == PROJECT_PARAM:  # share_query checks names like a share link
            share_query(project_id=self.source.name)
        elif self.source.kind == SAMPLE_PARAM:
            share_query(sample=self.source.name)
        else:
            raise invalid_parameter(
                "Step", "source.kind", "'project' or 'sample'", self.source.kind
            )
        if not isinstance(self.view, ProjectView) or self.view.page not in STEP_PAGES:
            accepted = "a ProjectView whose page is one of " + ", ".join(map(repr, STEP_PAGES))
            raise invalid_parameter("Step", "view", accepted, self.view)
        rows = self.selection
        if (
            not isinstance(rows, tuple)
            or len(rows) > MAX_SELECTION
            or any(isinstance(row, bool) or not isinstance(row, int) or row < 0 for row in rows)
            or list(rows) != sorted(set(rows))
        ):
            accepted = f"a sorted tuple of at most {MAX_SELECTION} distinct row ids (ints >= 0)"
            raise invalid_parameter("Step", "selection", accepted, rows)
        if not isinstance(self.caption, str) or len(self.caption) > MAX_CAPTION_CHARS:
            accepted = f"a str of at most {MAX_CAPTION_CHARS} characters"
            raise invalid_parameter("Step", "caption", accepted, self.caption)


@dataclass(frozen=True)
class Lesson:
    """A saved lesson: its id, title, creation time (UTC, ISO) and at least one step, in order."""

    id: str
    title: str
    created: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class LessonLink:
    """What a lesson link asks for: the lesson id and a step number (1 = first)."""

    lesson_id: str
    step: int


def lesson_query(lesson_id: str, step: int = 1) -> dict[str, str]:
    """Query parameters of a lesson link: {"lesson": id, "step": "n"}."""
    return {LESSON_PARAM: check_lesson_id(lesson_id), STEP_PARAM: str(_check_step(step))}


def lesson_target(query_params: Mapping[str, str]) -> LessonLink | None:
    """The lesson and step the query parameters name; None when they name no lesson.

    A missing step means step 1. A malformed id or step raises StoreError before anything is read.
    """
    lesson_id = query_params.get(LESSON_PARAM)
    if lesson_id is None:
        return None
    step = query_params.get(STEP_PARAM, "1")
    if not isinstance(step, str) or not step.isdecimal() or len(step) > 6 or int(step) < 1:
        raise StoreError(f"That lesson link names step {step!r}; steps are numbered 1, 2, 3, …")
    return LessonLink(check_lesson_id(lesson_id), int(step))


def _check_step(step: object) -> int:
    """A step number: an int of at least 1."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise invalid_parameter("lesson_query", "step", "an int in the range [1, inf)", step)
    return step


def parse_rows(text: str, n_docs: int) -> tuple[int, ...]:
    """Document ids typed as "12, 40 #7" → (7, 12, 40); each must be a row of the corpus."""
    rows: set[int] = set()
    for token in _ROW_SEPARATORS.split(text.strip()):
        if not token:
            continue
        number = token.removeprefix("#")
        if not (number.isascii() and number.isdigit()):
            raise ParameterError(
                f"{token!r} is not a document id: type ids separated by commas, like 12, 40, #7."
            )
        if len(number) > len(str(n_docs)) or int(number) >= n_docs:
            raise ParameterError(
                f"There is no document #{number[:20]}: this corpus has ids 0 to {n_docs - 1}."
            )
        rows.add(int(number))
    if len(rows) > MAX_SELECTION:
        raise ParameterError(
            f"A step can point at {MAX_SELECTION} documents at most; got {len(rows)}."
        )
    return tuple(sorted(rows))


def move_step(steps: Sequence[Step], index: int, offset: int) -> list[Step]:
    """The steps with the one at `index` moved by `offset` places (clamped to the ends)."""
    moved = list(steps)
    step = moved.pop(index)
    moved.insert(min(max(index + offset, 0), len(moved)), step)
    return moved


def step_to_dict(step: Step) -> dict:
    """A step as JSON-able data."""
    return {
        "source": asdict(step.source),
        "view": asdict(step.view),
        "selection": list(step.selection),
        "caption": step.caption,
    }


def step_from_dict(data: Mapping) -> Step:
    """Rebuild a step from `step_to_dict` output (validated by Step and ProjectView)."""
    return Step(
        source=ShareTarget(**data["source"]),
        view=ProjectView(**data["view"]),
        selection=tuple(data["selection"]),
        caption=data["caption"],
    )


class LessonStore:
    """Saved lessons in one SQLite file, shared safely by Streamlit sessions and processes."""

    def __init__(self, root: str | Path | None = None) -> None:
        folder = Path(root).expanduser() if root is not None else default_home()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(folder, exc) from exc
        self.path = folder / INDEX_FILE
        with self._database() as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute(_SCHEMA)
        if mode != "wal":
            logger.warning("SQLite refused WAL mode for %s (got %r)", self.path, mode)

    def save(self, *, title: str, steps: Sequence[Step]) -> Lesson:
        """Store a lesson under a new id and return it as `load` will."""
        if not 1 <= len(steps) <= MAX_STEPS or not all(isinstance(s, Step) for s in steps):
            raise invalid_parameter(
                "LessonStore.save", "steps", f"1 to {MAX_STEPS} Step objects", steps
            )
        lesson = Lesson(
            id=new_lesson_id(),
            title=_check_title(title),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            steps=tuple(steps),
        )
        payload = json.dumps([step_to_dict(step) for step in lesson.steps])
        with self._database() as conn:
            conn.execute(
                "INSERT INTO lessons (id, title, created, format, steps) VALUES (?, ?, ?, ?, ?)",
                (lesson.id, lesson.title, lesson.created, FORMAT_VERSION, payload),
            )
        logger.info("Saved lesson %s (%d steps)", lesson.id, len(lesson.steps))
        return lesson

    def load(self, lesson_id: str) -> Lesson:
        """The saved lesson `lesson_id`, exactly as saved."""
        lesson_id = check_lesson_id(lesson_id)
        with self._database() as conn:
            row = conn.execute(
                "SELECT title, created, format, steps FROM lessons WHERE id = ?", (lesson_id,)
            ).fetchone()
        if row is None:
            raise StoreError(
                f"No saved lesson with id {lesson_id} (it may have been saved on another server). "
                "Ask for the link again."
            )
        title, created, version, payload = row
        try:
            if version != FORMAT_VERSION:
                raise ValueError(f"format {version}, expected {FORMAT_VERSION}")
            steps = tuple(step_from_dict(item) for item in json.loads(payload))
        except (ValueError, KeyError, TypeError, EmbedscopeError) as error:
            raise StoreError(
                f"The saved lesson {lesson_id} is damaged and cannot be opened ({error}). "
                "Ask its author to save it again."
            ) from error
        return Lesson(lesson_id, title, created, steps)

    @contextmanager
    def _database(self) -> Iterator[sqlite3.Connection]:
        """A committed transaction on a fresh connection; errors become StoreError."""
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
                yield conn
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc


def _check_title(title: object) -> str:
    """A stripped, non-blank title of at most MAX_TITLE_CHARS characters."""
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE_CHARS:
        accepted = f"a non-blank str of at most {MAX_TITLE_CHARS} chars"
        raise invalid_parameter("LessonStore.save", "title", accepted, title)
    return title.strip()
