"""Two visitors of one server upload the very same vectors with different labels and metadata:
each sees only their own labels and metadata, on every page and in every lesson.

The server's caches (the engine, models, projects) are shared by the two AppTest sessions, as
they are by two browser tabs; what either session shows must come from caches keyed by
everything it depends on (uploaded vectors all get the texts "item 0…n-1", so the texts' hash
alone would let the second visitor see the first one's metadata).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_tools import new_app

N_PER_GROUP = 20
GROUPS = 3
PAGES = ["pages/map.py", "pages/arithmetic.py", "pages/compare.py", "pages/axes.py"]
LESSONS = ["placement", "maps", "parameters", "sizes", "noise", "seeds", "question"]
VISITORS = {  # each visitor's label values and a secret note in their metadata
    "first": (("zqcat", "zqdog", "zqbird"), "alpha-secret"),
    "second": (("xvred", "xvgreen", "xvblue"), "omega-secret"),
}
FOLLOWS_GROUPS = {"first": True, "second": False}  # the second's labels cut across the groups


def same_vectors() -> bytes:
    """One vector file both visitors upload: three clear groups of 20 in 16 dimensions."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(GROUPS, 16))
    vectors = np.repeat(centres, N_PER_GROUP, axis=0) + 0.1 * rng.normal(size=(60, 16))
    buffer = io.BytesIO()
    np.save(buffer, vectors.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def metadata(name: str) -> bytes:
    labels, note = VISITORS[name]
    group = (lambda i: i // N_PER_GROUP) if FOLLOWS_GROUPS[name] else (lambda i: i % GROUPS)
    rows = [f"{labels[group(i)]},{note}-{i}" for i in range(GROUPS * N_PER_GROUP)]
    return ("kind,note\n" + "\n".join(rows)).encode()


def visitor(name: str) -> AppTest:
    """A new session that uploads the shared vectors with its own metadata and opens them."""
    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Upload vectors"
    at.run()
    files = [("v.npy", same_vectors()), ("meta.csv", metadata(name))]
    at.get("file_uploader")[0].set_value(
        [(file, data, "application/octet-stream") for file, data in files]
    )
    at.run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def everything_shown(at: AppTest) -> str:
    """All text the page shows: markdown, captions, metrics, tables, chart figures, selects."""
    parts = [element.value for element in at.markdown]
    parts += [element.value for element in at.caption]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    parts += [chart.proto.spec for chart in at.get("plotly_chart")]
    parts += [json.dumps(list(box.options)) for box in at.selectbox]
    return "\n".join(map(str, parts))


def assert_only_own(at: AppTest, name: str, where: str) -> None:
    other = next(other for other in VISITORS if other != name)
    shown = everything_shown(at)
    for value in (*VISITORS[other][0], VISITORS[other][1]):
        assert value not in shown, f"{name} sees {other}'s {value!r} on {where}"


@pytest.fixture
def visitors() -> dict[str, AppTest]:
    """Both visitors in fresh sessions, the second uploading after the first (so it meets the
    caches the first one filled)."""
    return {name: visitor(name) for name in VISITORS}


def test_the_two_uploads_share_their_vectors_key(visitors):
    """Same numbers, same key: the engine shares the vectors, so the test means something."""
    keys = {name: at.session_state["source"].name for name, at in visitors.items()}
    assert keys["first"] == keys["second"]


def test_every_page_shows_each_visitor_only_their_own_labels(visitors):
    for page in PAGES:
        for name, at in visitors.items():
            at.switch_page(page).run()
            assert not at.exception, at.exception
            assert_only_own(at, name, page)
    for name, at in visitors.items():
        at.switch_page("pages/map.py").run()
        at.session_state["map_color"] = "kind"
        at.run()
        shown = everything_shown(at)
        assert all(label in shown for label in VISITORS[name][0]), f"{name}'s labels not shown"
        assert_only_own(at, name, "the map coloured by 'kind'")


def test_every_lesson_shows_each_visitor_only_their_own_labels(visitors):
    for lesson in LESSONS:
        for name, at in visitors.items():
            at.switch_page("pages/lessons.py").run()
            at.session_state["lessons_pick"] = lesson
            at.run()
            assert not at.exception, at.exception
            assert_only_own(at, name, f"lesson {lesson}")


def test_label_recovery_is_measured_on_each_visitors_own_labels(visitors):
    """Lesson 'question' on the same vectors: the first visitor's labels follow the three groups
    (every neighbour shares the label), the second's cut across them (about a third do)."""
    full = {}
    for name, at in visitors.items():
        at.switch_page("pages/lessons.py").run()
        at.session_state["lessons_pick"] = "question"
        at.run()
        full[name] = float(next(m.value for m in at.metric if m.label == "Full dimension"))
    assert full["first"] == 1.0
    assert full["second"] < 0.6
