"""AppTest of lesson 11: a teacher saves a bookmark lesson; a new session follows its link."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.engine.cluster import ClusterParams
from lib.engine.corpus import load_sample
from lib.engine.reduce import UMAPParams
from lib.share.bookmarks import LessonStore, Step
from lib.share.projects import ProjectView, ShareTarget

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model

FIRST = "First the flat map: <b>ten</b> topics, ten islands"
FIRST_SHOWN = "First the flat map\\: \\<b\\>ten\\</b\\> topics, ten islands"  # markdown made inert
SECOND = "Now in 3D, coloured by label"
TEACHER_WIDGETS = ("bookmarks_add", "bookmarks_save", "bookmarks_caption", "bookmarks_rows")


def lessons_app(**query: str) -> AppTest:
    """A new session (a new browser) opening the Lessons page, with these query parameters."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
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


def shown(at: AppTest) -> list[str]:
    return [block.value for block in at.markdown if block.value.startswith("**Step ")]


def has_widget(at: AppTest, key: str) -> bool:
    return any(getattr(node, "key", None) == key for node in at.main)


def chart_types(at: AppTest) -> set[str]:
    return {trace["type"] for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}


def point_count(at: AppTest) -> int:
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    return sum(len(trace.get("customdata") or []) for trace in traces)


@pytest.fixture(scope="module")
def teacher() -> AppTest:
    """A teacher's session that saved a 2-step lesson on the bundled sample: 2-D, then 3-D."""
    at = teacher_app()
    add_step(at, FIRST, rows="3, #1")
    at.session_state["bookmarks_view"] = "3D"
    at.session_state["bookmarks_color"] = "label"
    add_step(at, SECOND)
    at.text_input(key="bookmarks_title").input("Two views of topics")
    at.button(key="bookmarks_save").click().run()
    assert not at.exception and not at.error
    return at


@pytest.fixture(scope="module")
def lesson_id(teacher) -> str:
    return teacher.session_state["bookmarks_saved"]


def test_the_teacher_saves_both_views_in_order_and_gets_a_link(teacher, lesson_id):
    assert shown(teacher) == [f"**Step 1 of 2.** {FIRST_SHOWN}", f"**Step 2 of 2.** {SECOND}"]
    assert [code.value for code in teacher.code] == [
        f"http://localhost:8501/lessons?lesson={lesson_id}"
    ]
    lesson = LessonStore().load(lesson_id)
    assert lesson.title == "Two views of topics"
    first, second = lesson.steps
    assert (first.caption, second.caption) == (FIRST, SECOND)
    assert first.source == second.source == ShareTarget("sample", "topics")
    assert (first.view.dimensions, second.view.dimensions) == (2, 3)
    assert (first.view.color_by, second.view.color_by) == ("found clusters", "label")
    assert first.view.layout_params() == UMAPParams()
    assert second.view.layout_params() == UMAPParams(n_components=3)
    assert first.view.cluster_params() == ClusterParams(space="map")
    assert (first.selection, second.selection) == ((1, 3), ())


def test_a_new_session_steps_through_the_lesson_read_only(lesson_id):
    at = lessons_app(lesson=lesson_id)
    assert shown(at) == [f"**Step 1 of 2.** {FIRST_SHOWN}"]
    assert at.title[0].value == "Two views of topics"
    texts = load_sample("topics").texts
    assert at.dataframe[0].value["text"].tolist() == [texts[1], texts[3]]
    assert not any(has_widget(at, key) for key in TEACHER_WIDGETS)
    assert at.button(key="bookmarks_previous").disabled

    at.button(key="bookmarks_next").click().run()
    assert shown(at) == [f"**Step 2 of 2.** {SECOND}"]
    assert at.query_params["step"] == "2"
    assert at.button(key="bookmarks_next").disabled
    assert not at.dataframe

    at.button(key="bookmarks_previous").click().run()
    assert shown(at) == [f"**Step 1 of 2.** {FIRST_SHOWN}"]


def test_show_this_step_opens_each_saved_view_on_the_map(lesson_id):
    at = lessons_app(lesson=lesson_id, step="2")
    at.button(key="bookmarks_show").click().run()
    assert not at.exception and not at.error
    assert at.session_state["corpus"].source == "topics"
    assert at.session_state["map_view"] == "3D"
    assert at.session_state["map_color"] == "label"
    assert at.session_state["map_params"] == UMAPParams(n_components=3)
    assert chart_types(at) == {"scatter3d"}
    assert point_count(at) == 800
    assert at.query_params["lesson"] == lesson_id

    at.switch_page("pages/lessons.py").run()  # back: the session remembers the lesson and step
    assert shown(at) == [f"**Step 2 of 2.** {SECOND}"]
    at.button(key="bookmarks_previous").click().run()
    at.button(key="bookmarks_show").click().run()
    assert not at.exception and not at.error
    assert at.session_state["map_view"] == "2D"
    assert at.session_state["map_color"] == "found clusters"
    assert "scatter3d" not in chart_types(at)
    assert point_count(at) == 800


def test_leaving_the_lesson_brings_back_the_lessons(lesson_id):
    at = lessons_app(lesson=lesson_id)
    at.button(key="bookmarks_leave").click().run()
    assert not shown(at)
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
    assert not shown(at)
    assert at.session_state["lessons_pick"] == "similarity"


def test_teachers_reorder_and_remove_steps_before_saving():
    at = teacher_app()
    for caption in ("one", "two", "three"):
        add_step(at, caption)
    at.button(key="bookmarks_up_2").click().run()
    assert shown(at) == ["**Step 1 of 3.** one", "**Step 2 of 3.** three", "**Step 3 of 3.** two"]
    at.button(key="bookmarks_down_0").click().run()
    at.button(key="bookmarks_remove_2").click().run()
    assert shown(at) == ["**Step 1 of 2.** three", "**Step 2 of 2.** one"]
    at.text_input(key="bookmarks_rows").input("12, 800")
    at.button(key="bookmarks_add").click().run()
    assert len(shown(at)) == 2
    assert "There is no document \\#800" in at.error[0].value


def test_a_corpus_without_a_stable_link_must_be_saved_first():
    at = teacher_app()
    at.session_state["model_name"] = "some-other-model"
    at.run()
    assert not at.exception
    assert any("save this corpus as a project first" in info.value for info in at.info)
    assert not has_widget(at, "bookmarks_add")
    assert at.button(key="bookmarks_save").disabled


def test_a_step_on_a_saved_project_reopens_the_project_on_its_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.text_input(key="map_title").input("saved topics").run()
    at.button(key="map_save").click().run()
    project = at.session_state["project"]
    at.switch_page("pages/lessons.py").run()
    at.session_state["lessons_pick"] = "bookmarks"
    at.session_state["bookmarks_page"] = "arithmetic"
    at.run()
    at.text_input(key="bookmarks_query").input('"a rainy day" + "beach"')
    add_step(at, "Arithmetic on the saved project")
    at.button(key="bookmarks_save").click().run()
    lesson_id = at.session_state["bookmarks_saved"]
    assert LessonStore().load(lesson_id).steps[0].source == ShareTarget("project", project.id)

    student = lessons_app(lesson=lesson_id)
    assert any("saved project “saved topics”" in caption.value for caption in student.caption)
    student.button(key="bookmarks_show").click().run()
    assert not student.exception and not student.error
    assert student.session_state["project"].id == project.id
    assert student.session_state["own_key"] == f"project:{project.id}"
    assert student.text_input(key="arith_expression").value == '"a rainy day" + "beach"'
    assert student.title[0].value == "Arithmetic"


def test_a_step_whose_project_is_gone_says_so_and_stays_on_the_lesson():
    gone = ShareTarget("project", "B" * 24)
    step = Step(gone, ProjectView(color_by="found clusters"), (1,), "A deleted project")
    lesson = LessonStore().save(title="Dangling", steps=[step])
    at = lessons_app(lesson=lesson.id)
    assert shown(at) == ["**Step 1 of 1.** A deleted project"]
    assert "No saved project with id" in at.error[0].value
    at.button(key="bookmarks_show").click().run()
    assert not at.exception
    assert "No saved project with id" in at.error[0].value
    assert shown(at) == ["**Step 1 of 1.** A deleted project"]
    assert at.session_state["corpus"].source == "topics"
