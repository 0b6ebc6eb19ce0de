"""AppTest of the Compare page with fake text models (conftest's FakeModel and a noisier twin):
its controls, linked selection, tables and errors. Every test opens a new session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pages._common as common
from lib.batch.precompute import precompute
from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL, MULTILINGUAL_MODEL, MULTILINGUAL_MODEL_ID
from lib.embed.speed import record_rate
from lib.errors import ModelError
from lib.ingest.corpus import corpus_from_frame
from lib.reduce.layouts import PCAParams
from lib.service.engine import Engine
from pages import state
from tests.apptest_tools import chart_specs, new_app
from tests.conftest import FakeModel, make_topic_texts

N_DOCS = 80


class NoisyFakeModel(FakeModel):
    """Another 'model': the same topic directions under three times the noise."""

    model_id = "fake/noisy-32"

    def _vector(self, text: str) -> np.ndarray:
        return super()._vector(text) + 2.0 * super()._vector(text[::-1])


def fake_loader(name: str):
    return NoisyFakeModel() if name == MULTILINGUAL_MODEL else FakeModel()


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv("EMBEDSCOPE_WARM_UP", "0")
    monkeypatch.delenv("EMBEDSCOPE_HOSTED", raising=False)
    found = Engine(tmp_path, model_loader=fake_loader)
    monkeypatch.setattr(common, "engine", lambda: found)
    return found


def topic_corpus(n_per_topic: int = N_DOCS // 8):
    texts, labels = make_topic_texts(per_topic=n_per_topic, seed=3)
    frame = pd.DataFrame({"text": texts, "topic": labels})
    return corpus_from_frame(frame, "text", source="topics.csv")


def open_compare(corpus, **preset):
    """A new session showing `corpus` (uploaded, default model) on the Compare page."""
    at = new_app()
    at.session_state[state.SOURCE] = state.Source(state.UPLOAD, corpus.content_hash, DEFAULT_MODEL)
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at.session_state["compare_first_layout"] = "PCA"
    at.session_state["compare_second_layout"] = "PCA"
    for key, value in preset.items():
        at.session_state[key] = value
    at.switch_page("pages/compare.py")
    return at.run()


def test_two_models_side_by_side_with_agreement_and_label_recovery(fake_engine):
    at = open_compare(topic_corpus())
    assert not at.exception and not at.error
    assert at.title[0].value == "Compare embeddings"
    assert at.selectbox(key="compare_first").value == DEFAULT_MODEL
    assert at.selectbox(key="compare_second").value == MULTILINGUAL_MODEL
    specs = chart_specs(at)
    maps = [spec for spec in specs if spec["data"][0].get("customdata")]
    assert len(maps) == 2
    assert [sum(len(t["customdata"]) for t in spec["data"]) for spec in maps] == [N_DOCS] * 2
    mean = at.metric[0].value
    assert mean.endswith("%") and 0 < int(mean.rstrip("%")) < 100
    table = at.dataframe[0].value
    assert table["agreement"].is_monotonic_increasing and len(table) == N_DOCS
    side_by_side = at.dataframe[1].value
    assert list(side_by_side["rank"]) == list(range(1, 11))
    recovery = at.dataframe[2].value
    assert recovery["embedding"].tolist() == [DEFAULT_MODEL, MULTILINGUAL_MODEL]
    assert (recovery["full dimension"] > recovery["majority baseline"]).all()
    assert recovery["majority baseline"].tolist() == [0.125, 0.125]


def test_a_selection_on_one_map_is_ringed_on_both_and_listed(fake_engine):
    at = open_compare(topic_corpus())
    at.session_state["compare_chart_first"] = {
        "selection": {"points": [{"customdata": 4}, {"customdata": 7}, {"customdata": 10**6}]}
    }
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "2 selected documents"
    assert at.dataframe[0].value["id"].tolist() == [4, 7]
    for spec in chart_specs(at)[:2]:
        ringed = [t for t in spec["data"] if t["name"].startswith("selected")]
        assert len(ringed) == 1 and len(ringed[0]["x"]) == 2
    at.session_state["compare_chart_second"] = {"selection": {"points": [{"customdata": 9}]}}
    at.run()
    assert at.subheader[0].value == "1 selected documents"
    assert at.dataframe[0].value["id"].tolist() == [9]
    at.button(key="compare_clear").click().run()
    assert not any(s.value.endswith("selected documents") for s in at.subheader)


def test_picking_a_document_shows_its_neighbours_under_each(fake_engine):
    at = open_compare(topic_corpus(), compare_row=12)
    neighbours = at.dataframe[1].value
    assert 12 not in neighbours[f"{DEFAULT_MODEL} id"].tolist()
    both = neighbours["in both (1)"]
    assert both.sum() == neighbours["in both (2)"].sum()


def test_the_same_embedding_twice_is_refused(fake_engine):
    at = open_compare(topic_corpus(), compare_second=DEFAULT_MODEL)
    assert not at.exception
    assert "Pick two different embeddings" in at.info[0].value
    assert chart_specs(at) == []


def test_a_corpus_too_small_to_compare_says_so(fake_engine):
    at = open_compare(topic_corpus(n_per_topic=1))
    assert not at.exception
    assert "needs more than 10 documents; this corpus has 8" in at.info[0].value


def test_colour_by_a_label_column(fake_engine):
    at = open_compare(topic_corpus(), compare_color="topic")
    assert not at.exception
    legend = {t["name"].split(" (")[0] for t in chart_specs(at)[0]["data"]}
    assert {"finance", "football"} <= legend


def test_a_hosted_server_compares_only_precomputed_embeddings(fake_engine, monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    at = new_app().run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert at.title[0].value == "Compare embeddings"
    assert "compares only embeddings computed in advance" in at.info[0].value
    assert chart_specs(at) == []


@pytest.mark.model
def test_a_second_precompute_run_gives_a_hosted_project_its_second_model(tmp_path, monkeypatch):
    """No new command: precompute with another --model on the same file, in the same data home,
    fills the embedding cache the hosted server then reads."""
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.delenv("EMBEDSCOPE_HOSTED", raising=False)
    path = tmp_path / "corpus.csv"
    topic_corpus().metadata.assign(text=topic_corpus().texts).to_csv(path, index=False)
    common_options = dict(text_column="text", layout=PCAParams(), home=tmp_path,
                          clustering=ClusterParams(method="kmeans", n_clusters=8))  # fmt: skip
    project = precompute(path, title="Two models", model=MULTILINGUAL_MODEL, **common_options)
    precompute(path, title="Second model", model=DEFAULT_MODEL, **common_options)
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    monkeypatch.setenv("EMBEDSCOPE_PROJECTS", project.id)
    at = new_app()
    at.query_params["project"] = project.id
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    labels = at.selectbox(key="compare_first").options
    assert labels == ["saved project's vectors", DEFAULT_MODEL, MULTILINGUAL_MODEL]
    assert len([s for s in chart_specs(at) if s["data"][0].get("customdata")]) == 2
    assert not at.status, "nothing embedded on the hosted server"


def test_a_model_that_fails_to_load_is_an_error_message(tmp_path, monkeypatch):
    def failing_loader(name: str):
        if name == MULTILINGUAL_MODEL:
            raise ModelError(f"Could not load model '{name}': simulated.")
        return FakeModel()

    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.delenv("EMBEDSCOPE_HOSTED", raising=False)
    broken = Engine(tmp_path, model_loader=failing_loader)
    monkeypatch.setattr(common, "engine", lambda: broken)
    at = open_compare(topic_corpus())
    assert not at.exception
    message = at.error[0].value.replace("\\", "")  # markdown escapes
    assert message.startswith("Embedding or mapping the corpus: Could not load model")
    assert chart_specs(at) == []


def test_a_long_embedding_says_its_cost_and_waits_for_a_click(fake_engine):
    """Issue 23: opening Compare embedded the whole corpus with the second model, unasked."""
    corpus = topic_corpus()
    record_rate(MULTILINGUAL_MODEL_ID, list(corpus.texts), float(N_DOCS))  # 1 document/s here
    at = open_compare(corpus)
    assert not at.exception and chart_specs(at) == []
    asked = [c.value for c in at.caption if "this server measured" in c.value]
    assert len(asked) == 1 and "about 1 min 20 s for 80 documents" in asked[0]
    assert "Nothing is embedded until you ask" in at.info[0].value
    assert fake_engine.peek_vectors(corpus, MULTILINGUAL_MODEL) is None
    at.button(key="compare_embed_second").click().run()
    assert not at.exception
    maps = [spec for spec in chart_specs(at) if spec["data"][0].get("customdata")]
    assert len(maps) == 2
    at.run()  # embedded now: nothing to ask
    assert all("this server measured" not in c.value for c in at.caption)
    assert "compare_embed_second" not in [button.key for button in at.button]
