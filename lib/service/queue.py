"""A fair queue for heavy work: embedding, kNN graphs, map fits, clustering.

On a server shared by many visitors, heavy jobs that all start at once share the cores and all
finish late (30 uploads of 500 documents: every map after minutes). `FairQueue` runs at most
`slots` of them at a time, in arrival order; a waiting job is told its place while it waits, so
the page can show it. Light work (reading caches, drawing figures) never queues.

A thread that already holds a turn passes straight through (a fit that needs a kNN graph must not
wait behind itself), and a job that fails gives its turn back.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lib.errors import check_int, invalid_parameter

SLOTS_ENV = "EMBEDSCOPE_HEAVY_SLOTS"  # heavy jobs at once; each already uses every core
DEFAULT_SLOTS = 1
POLL_S = 0.5  # how often a waiting job re-reads its place (and tells the page)

Waiting = Callable[[int], None]  # called with the number of jobs ahead (1 = next)


@dataclass(frozen=True)
class QueueState:
    """What the queue holds now: jobs running and jobs waiting (counts only)."""

    running: int
    waiting: int


class FairQueue:
    """First come, first served turns at heavy work, at most `slots` at once."""

    def __init__(self, slots: int = DEFAULT_SLOTS) -> None:
        self.slots = check_int("FairQueue", "slots", slots, 1, 64)
        self._condition = threading.Condition()
        self._waiting: collections.deque[object] = collections.deque()
        self._running = 0
        self._local = threading.local()

    @contextlib.contextmanager
    def turn(self, on_wait: Waiting | None = None) -> Iterator[None]:
        """Wait for this job's turn (telling `on_wait`, or the thread's reporter, how many jobs
        are ahead, now and then while waiting), run the body, give the turn back."""
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        self._wait(on_wait or getattr(self._local, "reporter", None))
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._condition:
                self._running -= 1
                self._condition.notify_all()

    def _wait(self, on_wait: Waiting | None) -> None:
        ticket = object()
        with self._condition:
            self._waiting.append(ticket)
        told = None
        try:
            while True:
                with self._condition:
                    ahead = self._waiting.index(ticket) + max(0, self._running - self.slots + 1)
                    if self._running < self.slots and self._waiting[0] is ticket:
                        self._waiting.popleft()
                        self._running += 1
                        self._condition.notify_all()
                        return
                if on_wait is not None and ahead != told:
                    on_wait(ahead)  # outside the lock: a page may take its time drawing it
                    told = ahead
                with self._condition:
                    self._condition.wait(POLL_S)
        except BaseException:
            with self._condition:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._condition.notify_all()
            raise

    @contextlib.contextmanager
    def reporting(self, on_wait: Waiting) -> Iterator[None]:
        """Tell `on_wait` this thread's place whenever a job it starts inside has to wait (the
        engine's methods queue deep inside; the page that called them shows the place)."""
        previous = getattr(self._local, "reporter", None)
        self._local.reporter = on_wait
        try:
            yield
        finally:
            self._local.reporter = previous

    def state(self) -> QueueState:
        with self._condition:
            return QueueState(self._running, len(self._waiting))


def slots_from_environment() -> int:
    """$EMBEDSCOPE_HEAVY_SLOTS as a count of heavy jobs at once (default 1)."""
    text = os.environ.get(SLOTS_ENV, "").strip()
    if not text:
        return DEFAULT_SLOTS
    if not text.isdigit():
        raise invalid_parameter(SLOTS_ENV, "value", "an int in the range [1, 64]", text)
    return check_int(SLOTS_ENV, "value", int(text), 1, 64)
