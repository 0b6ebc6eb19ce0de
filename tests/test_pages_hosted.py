"""AppTest of hosted mode and the Saved projects source: uploads off, a fixed list of
precomputed projects that open on the map, and the server warm-up loading the model once.

Every session starts on a precomputed project's link (AppTest needs one run before it can switch
pages, and a link run embeds nothing), then goes to the Corpus page. In AppTest only such a first
run goes through app.py (shared sidebar, share links); after switch_page the page file runs alone.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.batch.precompute import precompute
from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL, MULTILINGUAL_MODEL
from lib.reduce.layouts import PCAParams
from lib.service.engine import Engine
from lib.share.projects import Project, ProjectStore
from pages.state import MAP_METHOD, PROJECT, SOURCE, UPLOADED_CORPUS, VECTORS, Source
from tests.apptest_tools import shown
from tests.conftest import FakeModel, make_topic_texts

ROOT = Path(__file__).resolve().parent.parent
PER_TOPIC = 10  # 8 topics: 80 documents per project
ALL_SOURCES = ["Sample", "Saved projects", "Upload a file", "Paste text", "Upload vectors"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home of this test's own, so the project list holds only what the test saves."""
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.delenv("EMBEDSCOPE_HOSTED", raising=False)
    monkeypatch.delenv("EMBEDSCOPE_PROJECTS", raising=False)
    return tmp_path


def precomputed(home: Path, title: str, seed: int) -> Project:
    """A project written as `python -m lib.precompute` writes one (fake model, PCA: fast)."""
    texts, labels = make_topic_texts(per_topic=PER_TOPIC, seed=seed)
    path = home / f"corpus-{seed}.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return precompute(
        path, title=title, text_column="text", model=FakeModel(), layout=PCAParams(),
        clustering=ClusterParams(method="kmeans", n_clusters=8), home=home,
    )  # fmt: skip


def linked_session(project_id: str) -> AppTest:
    """A new session opened by the share link ?project=`project_id`."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["project"] = project_id
    at.run()
    assert not at.exception, at.exception
    return at


def corpus_page(at: AppTest, source: str | None = None) -> AppTest:
    """Go to the Corpus page, optionally picking a source there."""
    at.switch_page("pages/corpus.py").run()
    if source is not None:
        at.session_state["corpus_source"] = source
        at.run()
    assert not at.exception, at.exception
    return at


def open_chosen(at: AppTest, project: Project) -> AppTest:
    """Pick `project` in the Saved projects list and press Open."""
    at.selectbox(key="corpus_project").set_value(project.id)
    at.button(key="corpus_open").click().run()
    assert not at.exception, at.exception
    return at


def point_count(at: AppTest) -> int:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return sum(len(trace.get("customdata") or []) for trace in spec["data"])


def escaped(text: str) -> str:
    """`text` as a page shows it in a message (the markdown specials used here escaped)."""
    return re.sub(r"([-_:.])", r"\\\1", text)


def project_listing(at: AppTest):
    """The Corpus page's table of saved projects (the one with a title column)."""
    return next(frame.value for frame in at.dataframe if "title" in frame.value.columns)


def test_hosted_corpus_page_has_no_uploads_and_lists_only_the_configured_projects(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    first = precomputed(home, "First <b>demo</b> *class*", seed=1)
    hidden = precomputed(home, "Not offered", seed=2)
    last = precomputed(home, "Last demo", seed=3)
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    monkeypatch.setenv("EMBEDSCOPE_PROJECTS", f"{last.id},{first.id}")

    at = linked_session(first.id)
    assert any("Hosted demo: uploads are off" in c.value for c in at.sidebar.caption)
    at = corpus_page(at)
    assert at.title[0].value == "Corpus"
    assert at.get("segmented_control")[0].options == ["Saved projects", "Sample"]
    assert at.get("file_uploader") == [] and not at.text_area
    assert any("Uploads are off on this server" in c.value for c in at.caption)
    listed = project_listing(at)
    assert listed["title"].tolist() == ["Last demo", "First <b>demo</b> *class*"]
    assert listed["documents"].tolist() == [80, 80]
    assert listed["model"].tolist() == ["fake/topics-32"] * 2
    assert at.selectbox(key="corpus_project").options == [
        f"Last demo · 80 documents · saved {last.created[:10]}",
        f"First <b>demo</b> *class* · 80 documents · saved {first.created[:10]}",
    ]
    assert hidden.title not in str(at.selectbox(key="corpus_project").options)

    at = corpus_page(at, "Sample")
    assert at.get("file_uploader") == [] and not at.text_area
    assert at.selectbox(key="corpus_model").options == [DEFAULT_MODEL]


def test_hosted_project_opens_on_the_map(home: Path, monkeypatch: pytest.MonkeyPatch):
    first = precomputed(home, "First demo", seed=4)
    project = precomputed(home, "Class <i>demo</i>", seed=5)
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "true")

    at = open_chosen(corpus_page(linked_session(first.id)), project)
    assert not at.error
    assert at.title[0].value == "Map"
    assert shown(at) == Source(PROJECT, project.id, project.model_name, read_only=True)
    assert point_count(at) == 80
    assert not at.status, "a precomputed project is not embedded again"
    assert "map_save" not in [button.key for button in at.button]


def test_hosted_server_refuses_links_to_projects_it_does_not_list(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    offered = precomputed(home, "Offered", seed=6)
    private = precomputed(home, "Private", seed=7)
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    monkeypatch.setenv("EMBEDSCOPE_PROJECTS", offered.id)

    assert not linked_session(offered.id).error
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    offered_project = ProjectStore(home / "projects").load(offered.id)
    key = Engine(home).uploaded(offered_project.vectors).key  # vectors, no model needed
    at.session_state[SOURCE] = Source(VECTORS, key, None)
    at.session_state[UPLOADED_CORPUS] = offered_project.corpus
    at.session_state[MAP_METHOD] = "PCA"  # no UMAP compile in this test
    at.query_params["project"] = private.id
    at.run()
    message = f"This server does not offer a project with id {private.id}."
    assert [e.value for e in at.error] == [escaped(message)]
    assert shown(at).kind == VECTORS
    assert point_count(at) == 80


def test_a_missing_configured_project_is_a_warning_not_an_outage(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    project = precomputed(home, "Still here", seed=8)
    gone = "G" * 24
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "yes")
    monkeypatch.setenv("EMBEDSCOPE_PROJECTS", f"{gone},{project.id}")

    at = corpus_page(linked_session(project.id))
    assert [w.value for w in at.warning] == [escaped(f"Not in this server's store: {gone}.")]
    assert project_listing(at)["title"].tolist() == ["Still here"]


def test_a_malformed_hosted_setting_stops_the_app_with_its_message(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "maybe")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and "EMBEDSCOPE\\_HOSTED" in errors[0] and "maybe" in errors[0]
    assert not at.title, "no page runs while it is unclear whether uploads are on"
    assert at.get("file_uploader") == []


def test_without_hosted_mode_uploads_stay_and_saved_projects_open(home: Path):
    first = precomputed(home, "Team notes", seed=9)
    project = precomputed(home, "Reading group", seed=10)
    at = linked_session(first.id)
    assert not any("Hosted demo" in c.value for c in at.sidebar.caption)
    at = corpus_page(at)
    assert at.get("segmented_control")[0].options == ALL_SOURCES
    assert len(corpus_page(at, "Upload a file").get("file_uploader")) == 1
    assert len(corpus_page(at, "Upload vectors").get("file_uploader")) == 1
    assert corpus_page(at, "Sample").selectbox(key="corpus_model").options == [
        DEFAULT_MODEL,
        MULTILINGUAL_MODEL,
        "Another sentence-transformers model…",
    ]

    at = corpus_page(at, "Saved projects")
    assert project_listing(at)["title"].tolist() == ["Reading group", "Team notes"]
    at = open_chosen(at, project)
    assert not at.error
    assert shown(at).name == project.id
    assert point_count(at) == 80
    assert "map_edit_copy" in [button.key for button in at.button]


def test_an_empty_store_says_how_to_make_a_project(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    at = linked_session(precomputed(home, "Elsewhere", seed=11).id)
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path_factory.mktemp("empty-home")))
    at = corpus_page(at, "Saved projects")
    assert [i.value for i in at.info] == [
        'No saved projects yet. Save one on the Map page ("Save, share and export"), or '
        "precompute a big corpus on the server: `python -m lib.precompute corpus.csv "
        '--text-column text --title "My corpus"` (also installed as `embedscope-precompute`).'
    ]
    assert not at.selectbox and not at.dataframe


def test_warm_up_loads_the_default_model_once_while_a_page_waits_for_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
):
    linked_session(precomputed(home, "Warm", seed=12).id)  # pages._common imported by a run
    import lib.reduce.layouts as reduce
    import lib.service.warmup as warmup
    import pages._common as common

    loads: list[str] = []
    loading = threading.Event()

    def slow_load(name: str) -> FakeModel:
        loads.append(name)
        loading.set()
        time.sleep(0.5)
        return FakeModel()

    engine = common.engine()
    monkeypatch.setenv("EMBEDSCOPE_WARM_UP", "1")
    monkeypatch.setattr(engine, "_model_loader", slow_load)
    monkeypatch.setattr(reduce, "warm_up", lambda: None)
    monkeypatch.setattr(reduce, "umap_module", lambda: None)
    monkeypatch.setattr(warmup, "start_compiler", lambda: None)  # as if compiled (any order)
    monkeypatch.setattr(warmup, "_thread", None)  # this process has not warmed up yet
    engine._models.clear()
    try:
        thread = common.start_warm_up()
        assert thread is not None and loading.wait(5)
        assert common.start_warm_up() is thread, "one warm-up per process"
        model = engine.model(DEFAULT_MODEL)  # a page asking mid-load waits, no second load
        thread.join(5)
        assert not thread.is_alive()
        assert loads == [DEFAULT_MODEL]
        assert engine.model(DEFAULT_MODEL) is model
    finally:
        engine._models.clear()  # the next test loads the real model again
