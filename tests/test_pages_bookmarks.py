"""AppTest of lesson 11: a teacher saves a bookmark lesson; a new session follows its link.

Every test starts new sessions (new browser tabs). Tests that need a saved lesson save it with
lib (`LessonStore`) exactly as the teacher's test shows the page saves one, so no test depends
on another's order. Hosted mode: no lesson saving, and only the allow-listed projects open.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL
from lib.ingest.corpus import corpus_from_frame, load_sample
from lib.query.expressions import MAX_LENGTH
from lib.reduce.layouts import PCAParams, UMAPParams, project_pca
from lib.share.bookmarks import (
    MAX_CAPTION_CHARS,
    MAX_STEPS,
    MAX_TITLE_CHARS,
    LessonStore,
    Step,
    step_from_dict,
    step_to_dict,
)
from lib.share.projects import ProjectStore, ProjectView, ShareTarget
from pages import state
from pages.lesson_parts.bookmarks import MAX_ROWS_CHARS
from tests.apptest_tools import new_app
from tests.apptest_tools import shown as source_of
from tests.conftest import FakeModel, make_topic_texts

pytestmark = pytest.mark.model

FIRST = "First the flat map: <b>ten</b> topics, ten islands"
FIRST_SHOWN = "First the flat map\\: \\<b\\>ten\\</b\\> topics, ten islands"  # markdown made inert
SECOND = "Now in 3D, coloured by label"
TEACHER_WIDGETS = ("bookmarks_add", "bookmarks_save", "bookmarks_caption", "bookmarks_rows")
TOPICS = ShareTarget("sample", "topics")


def lessons_app(**query: str) -> AppTest:
    """A new session (a new browser) opening the Lessons page, with these query parameters."""
    at = new_app()
    for name, value in query.items():
        at.query_params[name] = value
    at.run()  # app.py first (routing, session defaults), as a browser opening the link does
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    return at


def teacher_app() -> AppTest:
    at = lessons_app()
    at.session_state["lessons_pick"] = "bookmarks"
    return at.run()


def add_step(at: AppTest, caption: str, rows: str = "") -> None:
    at.text_area(key="bookmarks_caption").input(caption)
    at.text_input(key="bookmarks_rows").input(rows)
    at.button(key="bookmarks_add").click().run()
    assert not at.exception and not at.error, [error.value for error in at.error]


def steps_shown(at: AppTest) -> list[str]:
    return [block.value for block in at.markdown if block.value.startswith("**Step ")]


def has_widget(at: AppTest, key: str) -> bool:
    return any(getattr(node, "key", None) == key for node in at.main)


def chart_types(at: AppTest) -> set[str]:
    return {trace["type"] for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}


def point_count(at: AppTest) -> int:
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    return sum(len(trace.get("customdata") or []) for trace in traces)


def two_views() -> list[Step]:
    """The two steps the teacher's test adds on the sample: 2-D by clusters, 3-D by label."""
    clusters = ClusterParams(method="hdbscan", space="map")
    flat = ProjectView.from_params(UMAPParams(), clusters, dimensions=2, color_by="found clusters")
    deep = ProjectView.from_params(
        UMAPParams(n_components=3), clusters, dimensions=3, color_by="label"
    )
    return [Step(TOPICS, flat, (1, 3), FIRST), Step(TOPICS, deep, (), SECOND)]


@pytest.fixture
def lesson_id() -> str:
    return LessonStore().save(title="Two views of topics", steps=two_views()).id


def test_the_teacher_saves_both_views_in_order_and_gets_a_link():
    at = teacher_app()
    add_step(at, FIRST, rows="3, #1")
    at.session_state["bookmarks_view"] = "3D"
    at.session_state["bookmarks_color"] = "label"
    add_step(at, SECOND)
    at.text_input(key="bookmarks_title").input("Two views of topics")
    at.button(key="bookmarks_save").click().run()
    assert not at.exception and not at.error
    assert steps_shown(at) == [f"**Step 1 of 2.** {FIRST_SHOWN}", f"**Step 2 of 2.** {SECOND}"]
    lesson_id = at.session_state[state.BOOKMARKS_SAVED]
    assert [code.value for code in at.code] == [f"http://localhost:8501/lessons?lesson={lesson_id}"]
    lesson = LessonStore().load(lesson_id)
    assert lesson.title == "Two views of topics"
    assert list(lesson.steps) == two_views()


def test_a_new_session_steps_through_the_lesson_read_only(lesson_id):
    at = lessons_app(lesson=lesson_id)
    assert steps_shown(at) == [f"**Step 1 of 2.** {FIRST_SHOWN}"]
    assert at.title[0].value == "Two views of topics"
    sample = load_sample("topics")
    table = at.dataframe[0].value
    assert table["id"].tolist() == [1, 3]
    assert table["text"].tolist() == [sample.texts[1], sample.texts[3]]
    assert table["label"].tolist() == sample.metadata["label"].iloc[[1, 3]].tolist()
    assert not any(has_widget(at, key) for key in TEACHER_WIDGETS)
    assert at.button(key="bookmarks_previous").disabled

    at.button(key="bookmarks_next").click().run()
    assert steps_shown(at) == [f"**Step 2 of 2.** {SECOND}"]
    assert at.query_params["step"] == "2"
    assert at.button(key="bookmarks_next").disabled
    assert not at.dataframe

    at.button(key="bookmarks_previous").click().run()
    assert steps_shown(at) == [f"**Step 1 of 2.** {FIRST_SHOWN}"]


def test_show_this_step_opens_each_saved_view_on_the_map(lesson_id):
    at = lessons_app(lesson=lesson_id, step="2")
    at.button(key="bookmarks_show").click().run()
    assert not at.exception and not at.error
    assert source_of(at) == state.Source(state.SAMPLE, "topics", DEFAULT_MODEL)
    assert at.session_state[state.MAP_VIEW] == "3D"
    assert at.session_state[state.MAP_COLOR] == "label"
    assert at.session_state[state.MAP_METHOD] == "UMAP"
    assert chart_types(at) == {"scatter3d"}
    assert point_count(at) == 800
    assert at.query_params["lesson"] == lesson_id

    at.switch_page("pages/lessons.py").run()  # back: the session remembers the lesson and step
    assert steps_shown(at) == [f"**Step 2 of 2.** {SECOND}"]
    at.button(key="bookmarks_previous").click().run()
    at.button(key="bookmarks_show").click().run()
    assert not at.exception and not at.error
    assert at.session_state[state.MAP_VIEW] == "2D"
    assert at.session_state[state.MAP_COLOR] == "found clusters"
    assert "scatter3d" not in chart_types(at)
    assert point_count(at) == 800


def test_leaving_the_lesson_brings_back_the_lessons(lesson_id):
    at = lessons_app(lesson=lesson_id)
    at.button(key="bookmarks_leave").click().run()
    assert not steps_shown(at)
    assert "lesson" not in at.query_params
    assert at.session_state["lessons_pick"] == "similarity"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"lesson": "../../etc/passwd"}, "lesson link is malformed"),
        ({"lesson": "A" * 24}, "No saved lesson with id"),
        ({"lesson": "A" * 24, "step": "zero"}, "steps are numbered 1, 2, 3"),
    ],
)
def test_bad_lesson_links_say_so_and_show_the_lessons(query, message):
    at = lessons_app(**query)
    assert any(message in error.value for error in at.error)
    assert not steps_shown(at)
    assert at.session_state["lessons_pick"] == "similarity"


def test_teachers_reorder_and_remove_steps_before_saving():
    at = teacher_app()
    for caption in ("one", "two", "three"):
        add_step(at, caption)
    at.button(key="bookmarks_up_2").click().run()
    assert steps_shown(at) == [
        "**Step 1 of 3.** one",
        "**Step 2 of 3.** three",
        "**Step 3 of 3.** two",
    ]
    at.button(key="bookmarks_down_0").click().run()
    at.button(key="bookmarks_remove_2").click().run()
    assert steps_shown(at) == ["**Step 1 of 2.** three", "**Step 2 of 2.** one"]
    at.text_input(key="bookmarks_rows").input("12, 800")
    at.button(key="bookmarks_add").click().run()
    assert len(steps_shown(at)) == 2
    assert "There is no document \\#800" in at.error[0].value


def test_authoring_inputs_are_bounded_with_labels_naming_the_limits():
    at = teacher_app()
    limits = {
        "bookmarks_caption": MAX_CAPTION_CHARS,
        "bookmarks_title": MAX_TITLE_CHARS,
        "bookmarks_query": MAX_LENGTH,
        "bookmarks_rows": MAX_ROWS_CHARS,
    }
    boxes = {key: at.main.get_by_key(key) for key in limits}
    for key, limit in limits.items():
        assert boxes[key].proto.max_chars == limit, key
    for key in ("bookmarks_caption", "bookmarks_title", "bookmarks_query"):
        assert f"up to {limits[key]:,} characters" in boxes[key].label
    # a forged value over the limit never reaches the page: Streamlit drops it
    at.text_area(key="bookmarks_caption").input("x" * (MAX_CAPTION_CHARS + 1))
    at.button(key="bookmarks_add").click().run()
    assert not at.exception and not at.error
    assert state_draft(at)[0].caption == ""


def test_a_lesson_holds_at_most_max_steps():
    at = teacher_app()
    at.session_state[state.BOOKMARKS_DRAFT] = tuple(map(step_to_dict, two_views()[:1] * MAX_STEPS))
    at.run()
    assert len(steps_shown(at)) == MAX_STEPS
    assert at.button(key="bookmarks_add").disabled
    assert any("at most: save this one" in caption.value and f"{MAX_STEPS} steps" in caption.value
               for caption in at.caption)  # fmt: skip
    at.button(key="bookmarks_save").click().run()
    assert not at.exception and not at.error
    assert len(LessonStore().load(at.session_state[state.BOOKMARKS_SAVED]).steps) == MAX_STEPS


def state_draft(at: AppTest) -> tuple[Step, ...]:
    return tuple(map(step_from_dict, at.session_state[state.BOOKMARKS_DRAFT]))


def test_a_corpus_without_a_stable_link_must_be_saved_first():
    at = teacher_app()
    at.session_state[state.SOURCE] = state.Source(state.SAMPLE, "topics", "some-other-model")
    at.run()
    assert not at.exception
    assert any("save this corpus as a project first" in info.value for info in at.info)
    assert not has_widget(at, "bookmarks_add")
    assert at.button(key="bookmarks_save").disabled


def test_a_step_on_a_saved_project_reopens_the_project_on_its_page():
    at = new_app()
    at.run()
    at.text_input(key="map_title").input("saved topics").run()
    at.button(key="map_save").click().run()
    project_id = at.session_state[state.MAP_SAVED]
    at.switch_page("pages/lessons.py").run()
    at.session_state["lessons_pick"] = "bookmarks"
    at.session_state["bookmarks_page"] = "arithmetic"
    at.run()
    at.text_input(key="bookmarks_query").input('"a rainy day" + "beach"')
    add_step(at, "Arithmetic on the saved project")
    at.button(key="bookmarks_save").click().run()
    lesson_id = at.session_state[state.BOOKMARKS_SAVED]
    assert LessonStore().load(lesson_id).steps[0].source == ShareTarget("project", project_id)

    student = lessons_app(lesson=lesson_id)
    assert any("saved project “saved topics”" in caption.value for caption in student.caption)
    student.button(key="bookmarks_show").click().run()
    assert not student.exception and not student.error
    assert source_of(student) == state.Source(
        state.PROJECT, project_id, DEFAULT_MODEL, read_only=True
    )
    assert student.text_input(key="arith_expression").value == '"a rainy day" + "beach"'
    assert student.title[0].value == "Arithmetic"


def test_a_step_whose_project_is_gone_says_so_and_stays_on_the_lesson():
    gone = ShareTarget("project", "B" * 24)
    step = Step(gone, ProjectView(color_by="found clusters"), (1,), "A deleted project")
    lesson = LessonStore().save(title="Dangling", steps=[step])
    at = lessons_app(lesson=lesson.id)
    assert steps_shown(at) == ["**Step 1 of 1.** A deleted project"]
    assert "No saved project with id" in at.error[0].value
    at.button(key="bookmarks_show").click().run()
    assert not at.exception
    assert "No saved project with id" in at.error[0].value
    assert steps_shown(at) == ["**Step 1 of 1.** A deleted project"]
    assert source_of(at).kind == state.SAMPLE


# --- hosted mode ---------------------------------------------------------------------------


def saved_project(title: str, secret: str):
    """A small PCA project of fake-model vectors whose first text is `secret`."""
    texts, labels = make_topic_texts(per_topic=5, seed=3)
    texts[0] = secret
    frame = pd.DataFrame({"text": texts, "topic": labels})
    corpus = corpus_from_frame(frame, "text", source=title)
    vectors = FakeModel().encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    view = ProjectView.from_params(
        PCAParams(), ClusterParams(method="kmeans", n_clusters=4), color_by="found clusters"
    )
    codes = np.unique(labels, return_inverse=True)[1] % 4
    return ProjectStore().save(
        title=title, model_name=None, corpus=corpus, vectors=vectors,
        coords=project_pca(vectors).coords, cluster_labels=codes,
        cluster_names={c: f"group {c}" for c in range(4)}, view=view,
    )  # fmt: skip


def test_a_hosted_server_offers_no_lesson_saving(monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    at = teacher_app()
    assert not at.exception and not at.error
    assert any("Saving lessons is off on this hosted server" in info.value for info in at.info)
    assert not any(has_widget(at, key) for key in TEACHER_WIDGETS)


def test_a_hosted_lesson_opens_only_allow_listed_projects(monkeypatch):
    listed = saved_project("Listed demo", "a listed text about rain")
    hidden = saved_project("Hidden drafts", "a private text nobody was shown")
    view = ProjectView.from_params(
        PCAParams(), ClusterParams(method="kmeans", n_clusters=4), color_by="found clusters"
    )
    steps = [
        Step(ShareTarget("project", project.id), view, (0,), f"On {project.title}")
        for project in (listed, hidden)
    ]
    lesson = LessonStore().save(title="Mixed", steps=steps)
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    monkeypatch.setenv("EMBEDSCOPE_PROJECTS", listed.id)

    at = lessons_app(lesson=lesson.id)
    assert any("saved project “Listed demo”" in caption.value for caption in at.caption)
    assert at.dataframe[0].value["text"].tolist() == ["a listed text about rain"]

    at.button(key="bookmarks_next").click().run()
    assert not at.exception
    assert steps_shown(at) == ["**Step 2 of 2.** On Hidden drafts"]
    assert len(at.error) == 1
    assert "This server does not offer a project with id" in at.error[0].value
    page_text = " ".join(element.value for element in [*at.caption, *at.markdown])
    assert "Hidden drafts" not in page_text.replace("On Hidden drafts", "")
    assert not at.dataframe, "no text of the unlisted project is shown"
    at.button(key="bookmarks_show").click().run()
    assert not at.exception
    assert "does not offer a project" in at.error[0].value
    assert steps_shown(at) == ["**Step 2 of 2.** On Hidden drafts"]
    assert source_of(at).kind == state.SAMPLE
