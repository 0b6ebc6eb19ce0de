"""Bookmark lessons: steps round-trip through SQLite in order; ids and links are checked first."""

import sqlite3

import pytest

from lib.cluster.clusters import ClusterParams
from lib.errors import ParameterError, StoreError
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.share.bookmarks import (
    INDEX_FILE,
    MAX_CAPTION_CHARS,
    LessonLink,
    LessonStore,
    Step,
    check_lesson_id,
    lesson_query,
    lesson_target,
    move_step,
    parse_rows,
)
from lib.share.projects import ID_PATTERN, ProjectView, ShareTarget, new_project_id

SAMPLE = ShareTarget("sample", "topics")


def step(caption: str, *, dimensions: int = 2, selection: tuple[int, ...] = (), **view) -> Step:
    layout = UMAPParams(n_neighbors=30, n_components=dimensions)
    return Step(
        SAMPLE,
        ProjectView.from_params(layout, ClusterParams(space="map"), dimensions=dimensions, **view),
        selection,
        caption,
    )


@pytest.fixture
def store(tmp_path) -> LessonStore:
    return LessonStore(tmp_path)


def test_a_saved_lesson_reloads_exactly_in_its_order_from_a_fresh_store(store, tmp_path):
    project_step = Step(
        ShareTarget("project", new_project_id()),
        ProjectView.from_params(
            PCAParams(n_components=3),
            ClusterParams(method="kmeans", n_clusters=4),
            page="arithmetic",
            dimensions=3,
            color_by="label",
            query='"rain" + #3',
        ),
        (2, 7, 11),
        "Then the arithmetic",
    )
    steps = [step("c: the 3-D view", dimensions=3), project_step, step("a: <b>first</b> *map*")]
    saved = store.save(title="  Maps lie a little  ", steps=steps)
    loaded = LessonStore(tmp_path).load(saved.id)
    assert loaded == saved
    assert loaded.title == "Maps lie a little"
    assert [s.caption for s in loaded.steps] == [
        "c: the 3-D view",
        "Then the arithmetic",
        "a: <b>first</b> *map*",
    ]
    second = loaded.steps[1]
    assert second.source == ShareTarget("project", project_step.source.name)
    assert second.view.layout_params() == PCAParams(n_components=3)
    assert second.view.cluster_params() == ClusterParams(method="kmeans", n_clusters=4)
    assert (second.view.page, second.view.query, second.selection) == (
        "arithmetic",
        '"rain" + #3',
        (2, 7, 11),
    )
    assert loaded.steps[0].view.layout_params() == UMAPParams(n_neighbors=30, n_components=3)


def test_lesson_ids_are_unguessable_and_distinct(store):
    first = store.save(title="one", steps=[step("x")])
    second = store.save(title="one", steps=[step("x")])
    assert first.id != second.id
    assert len(first.id) == 24 and ID_PATTERN.fullmatch(first.id)


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "x" * 5000, "short", "", None, "a b" * 8])
def test_malformed_lesson_ids_are_refused_before_the_database_is_read(store, bad_id):
    with pytest.raises(StoreError, match="lesson link is malformed"):
        store.load(bad_id)
    with pytest.raises(StoreError, match="lesson link is malformed"):
        check_lesson_id(bad_id)


def test_an_unknown_lesson_id_says_so(store):
    with pytest.raises(StoreError, match="No saved lesson with id AAAAAAAAAAAAAAAAAAAAAAAA"):
        store.load("A" * 24)


def test_a_damaged_lesson_is_reported_not_crashed_on(store, tmp_path):
    saved = store.save(title="t", steps=[step("x")])
    with sqlite3.connect(tmp_path / INDEX_FILE) as conn:
        conn.execute("UPDATE lessons SET steps = ? WHERE id = ?", ('[{"view": 1}]', saved.id))
    with pytest.raises(StoreError, match=f"saved lesson {saved.id} is damaged.*'source'"):
        store.load(saved.id)


@pytest.mark.parametrize(
    ("steps", "title", "message"),
    [
        ([], "t", "'steps' parameter of LessonStore.save must be 1 to 50 Step objects"),
        (["not a step"], "t", "'steps' parameter"),
        ([None], "t", "'steps' parameter"),
        (["x"] * 51, "t", "'steps' parameter"),
        ([1], "   ", "'title' parameter"),
    ],
)
def test_save_refuses_empty_or_wrong_input(store, steps, title, message):
    steps = [step("x") if item == 1 else item for item in steps]
    with pytest.raises(ParameterError, match=message):
        store.save(title=title, steps=steps)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"page": "words"}, ParameterError, "'view' parameter of Step must be a ProjectView whose"),
        ({"selection": (5, 2)}, ParameterError, "'selection' parameter of Step must be a sorted"),
        ({"selection": (1, 1)}, ParameterError, "'selection' parameter"),
        ({"selection": (-1,)}, ParameterError, "'selection' parameter"),
        ({"selection": [1]}, ParameterError, "'selection' parameter"),
        ({"caption": "x" * (MAX_CAPTION_CHARS + 1)}, ParameterError, "'caption' parameter"),
        ({"source": ShareTarget("file", "/etc")}, ParameterError, "'source.kind' parameter"),
        ({"source": ShareTarget("project", "../x")}, StoreError, "share link is malformed"),
        ({"source": ShareTarget("sample", "nope")}, StoreError, "sample that does not exist"),
    ],
)
def test_steps_validate_every_field(changes, error, message):
    fields = {"source": SAMPLE, "selection": (), "caption": ""}
    view = ProjectView(page=changes.pop("page", "map"))
    fields.update(changes)
    with pytest.raises(error, match=message):
        Step(view=view, **fields)


def test_lesson_links_round_trip_and_default_to_step_one():
    lesson_id = new_project_id()
    assert lesson_target(lesson_query(lesson_id, 3)) == LessonLink(lesson_id, 3)
    assert lesson_target({"lesson": lesson_id}) == LessonLink(lesson_id, 1)
    assert lesson_target({"project": lesson_id}) is None


@pytest.mark.parametrize("bad_step", ["0", "-1", "two", "", "1.5", "9" * 7])
def test_lesson_links_with_a_bad_step_say_how_steps_are_numbered(bad_step):
    with pytest.raises(StoreError, match="steps are numbered 1, 2, 3"):
        lesson_target({"lesson": new_project_id(), "step": bad_step})


def test_lesson_links_with_a_bad_id_are_malformed():
    with pytest.raises(StoreError, match="lesson link is malformed"):
        lesson_target({"lesson": "../../etc/passwd", "step": "1"})
    with pytest.raises(ParameterError, match="'step' parameter of lesson_query"):
        lesson_query(new_project_id(), 0)


def test_parse_rows_reads_ids_with_or_without_hash_and_sorts_them():
    assert parse_rows(" 12, 40 #7;12\n3 ", 41) == (3, 7, 12, 40)
    assert parse_rows("   ", 10) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12, abc", "'abc' is not a document id"),
        ("#-3", "'#-3' is not a document id"),
        ("800", "There is no document #800: this corpus has ids 0 to 799"),
    ],
)
def test_parse_rows_names_the_bad_id(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_rows(text, 800)


def test_parse_rows_caps_the_selection():
    with pytest.raises(ParameterError, match="1000 documents at most; got 1001"):
        parse_rows(",".join(map(str, range(1001))), 2000)


def test_move_step_reorders_and_clamps_at_the_ends():
    steps = [step(name) for name in "abc"]
    assert [s.caption for s in move_step(steps, 2, -1)] == ["a", "c", "b"]
    assert [s.caption for s in move_step(steps, 0, 1)] == ["b", "a", "c"]
    assert [s.caption for s in move_step(steps, 0, -1)] == ["a", "b", "c"]
    assert [s.caption for s in move_step(steps, 2, 5)] == ["a", "b", "c"]
    assert [s.caption for s in steps] == ["a", "b", "c"]
