"""Lessons on a large corpus work on a seeded sample and say so; a lesson's long step says its
cost and waits for a click (issue 23: lesson 4 took 61 s on a 4,935-document corpus, unasked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pages._common as common
from lib.embed.models import DEFAULT_MODEL
from lib.errors import ParameterError
from lib.ingest.corpus import corpus_from_frame
from lib.reduce.layouts import estimate_umap_seconds
from lib.service.engine import Engine
from lib.teach.sampling import LESSON_SAMPLE, lesson_sample
from pages import state
from tests.apptest_tools import new_app
from tests.conftest import FakeModel, make_topic_texts


def test_a_small_corpus_is_used_whole():
    sample = lesson_sample(800)
    assert not sample.sampled and sample.note() == "" and sample.key_suffix == ""
    assert sample.rows.tolist() == list(range(800))


def test_a_large_corpus_gives_the_same_seeded_sample_every_time():
    first, again = lesson_sample(4_935), lesson_sample(4_935)
    assert first.sampled and len(first.rows) == LESSON_SAMPLE
    assert np.array_equal(first.rows, again.rows) and np.all(np.diff(first.rows) > 0)
    assert not np.array_equal(first.rows, lesson_sample(4_935, seed=1).rows)
    assert "4,935 documents" in first.note() and "1,500" in first.note()
    with pytest.raises(ParameterError, match="'n_total' parameter of lesson_sample must"):
        lesson_sample(0)


def test_the_sampled_corpus_keeps_each_rows_text_and_labels():
    texts, labels = make_topic_texts(per_topic=200)
    corpus = corpus_from_frame(pd.DataFrame({"text": texts, "topic": labels}), "text", source="t")
    sample = lesson_sample(len(corpus), size=100)
    cut = sample.corpus(corpus)
    assert len(cut) == 100 and cut.content_hash != corpus.content_hash
    assert list(cut.texts) == [texts[i] for i in sample.rows]
    assert cut.metadata["topic"].tolist() == [labels[i] for i in sample.rows]


def test_umap_estimates_grow_with_points_and_maps():
    one = estimate_umap_seconds(1_500)
    assert 0 < estimate_umap_seconds(300) < one < estimate_umap_seconds(5_000)
    assert estimate_umap_seconds(1_500, 9) == pytest.approx(9 * one)
    assert estimate_umap_seconds(20_000) == pytest.approx(4 * estimate_umap_seconds(5_000))


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.delenv("EMBEDSCOPE_HOSTED", raising=False)
    found = Engine(tmp_path, model_loader=lambda name: FakeModel())
    monkeypatch.setattr(common, "engine", lambda: found)
    return found


def test_lesson_4_on_a_large_corpus_says_its_sample_and_cost_before_fitting(fake_engine):
    texts, labels = make_topic_texts(per_topic=250)  # 2,000 documents
    corpus = corpus_from_frame(pd.DataFrame({"text": texts, "topic": labels}), "text", source="t")
    at = new_app().run()  # a first visit sets the session's defaults
    at.session_state[state.SOURCE] = state.Source(state.UPLOAD, corpus.content_hash, DEFAULT_MODEL)
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at.session_state["lessons_pick"] = "parameters"
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    captions = " ".join(caption.value for caption in at.caption)
    assert "This corpus has 2,000 documents, so this lesson works on a random sample" in captions
    assert "9 UMAP maps of 1,500 documents still to compute: about" in captions
    assert [button.key for button in at.button if button.key == "lessons_grid_go"]
    charts = [chart.proto.id for chart in at.get("plotly_chart")]
    assert not any("lessons_grid_chart" in chart for chart in charts), "no grid before the click"


@pytest.mark.parametrize(
    ("lesson", "button", "chart"),
    [
        ("seeds", "lessons_seed_go", "lessons_seed_"),
        ("noise", "lessons_noise_go", "lessons_noise_"),
    ],
)
def test_lessons_6_and_7_say_the_cost_of_their_new_maps_before_fitting(
    fake_engine, lesson, button, chart
):
    """The noise lesson (random vectors' map) and the seeds lesson (a second seed's map) fit
    maps the Map page never asked for: on 2,000 documents they say the cost and wait."""
    texts, labels = make_topic_texts(per_topic=250)  # 2,000 documents
    corpus = corpus_from_frame(pd.DataFrame({"text": texts, "topic": labels}), "text", source="t")
    at = new_app().run()
    at.session_state[state.SOURCE] = state.Source(state.UPLOAD, corpus.content_hash, DEFAULT_MODEL)
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at.session_state["lessons_pick"] = lesson
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    captions = " ".join(caption.value for caption in at.caption)
    assert "UMAP map" in captions and "of 2,000 documents still to compute: about" in captions
    assert [found.key for found in at.button if found.key == button]
    charts = [found.proto.id for found in at.get("plotly_chart")]
    assert not any(chart in found for found in charts), "no map before the click"
