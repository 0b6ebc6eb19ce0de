"""Embedding speed: measured on this server while it embeds, kept per model and CPU, and what the
Corpus page says with it (issue 23 item 2: the caption promised "about 300 sentences/s" on a CPU
that did 24–46)."""

from __future__ import annotations

import json

import pytest

from lib.embed import speed
from lib.embed.models import (
    DEFAULT_MODEL,
    PACKAGED_MODEL_ID,
    embed_texts,
    estimate_embedding,
    format_seconds,
    model_info,
)
from lib.embed.speed import RATE_MIN_TEXTS, MeasuredRate, measured_rate, record_rate
from lib.errors import ParameterError
from tests.apptest_tools import new_app
from tests.conftest import make_topic_texts


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A data home of its own: no rate measured yet."""
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    return tmp_path


def test_an_embedding_run_keeps_its_measured_rate(home, fake_model):
    texts, _ = make_topic_texts(per_topic=12)  # 96 distinct texts
    assert measured_rate(fake_model.model_id) is None
    embed_texts(texts, fake_model)
    rate = measured_rate(fake_model.model_id)
    assert rate is not None
    assert rate.texts == len(set(texts)) and rate.chars == sum(len(t) for t in set(texts))
    assert rate.docs_per_second > 0 and rate.cpu == speed.machine()


def test_a_few_texts_time_only_the_overhead_and_are_not_kept(home, fake_model):
    embed_texts([f"query {i}" for i in range(RATE_MIN_TEXTS - 1)], fake_model)
    assert measured_rate(fake_model.model_id) is None


def test_cached_texts_are_not_timed_again(home, fake_model, tmp_path):
    from lib.store.caches import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    texts, _ = make_topic_texts(per_topic=12)
    embed_texts(texts, fake_model, cache=cache)
    first = measured_rate(fake_model.model_id)
    embed_texts(texts, fake_model, cache=cache)  # every text a cache hit: nothing to time
    assert measured_rate(fake_model.model_id) == first


def test_a_rate_from_another_cpu_or_a_broken_record_is_not_used(home, monkeypatch):
    record_rate("m", ["x" * 50] * 100, 2.0)
    monkeypatch.setattr(speed, "machine", lambda: "x86_64 Linux: some other CPU")
    assert measured_rate("m") is None
    (home / speed.SPEED_FOLDER / "broken.json").write_text("{not json")
    (home / speed.SPEED_FOLDER / "wrong.json").write_text(json.dumps({"texts": 3}))
    assert measured_rate("m") is None


def test_a_precision_variant_counts_for_its_model(home):
    record_rate(f"{PACKAGED_MODEL_ID}@bf16", ["y" * 80] * 200, 4.0)
    rate = measured_rate(PACKAGED_MODEL_ID)
    assert rate is not None and rate.docs_per_second == pytest.approx(50.0)


def test_estimates_scale_with_documents_and_their_length():
    rate = MeasuredRate("m", texts=100, chars=10_000, seconds=2.0, cpu="c", measured_at="t")
    short = [f"{i:03d}" + "a" * 97 for i in range(1_000)]  # 1,000 texts of 100 characters
    assert rate.seconds_for(short) == pytest.approx(20.0)
    assert rate.seconds_for(short[:500]) == pytest.approx(10.0)
    longer = [t * 2 for t in short]
    assert rate.seconds_for(longer) == pytest.approx(40.0)
    assert rate.seconds_for(longer, max_chars=100) == pytest.approx(20.0)  # the model's window
    assert rate.seconds_for(short + short) == pytest.approx(20.0)  # repeats embed once
    with pytest.raises(ParameterError, match="'seconds' parameter of MeasuredRate must"):
        MeasuredRate("m", texts=1, chars=1, seconds=0.0, cpu="c", measured_at="t")


def test_an_unmeasured_model_is_estimated_from_the_slow_end_of_its_range(home):
    texts = [f"document {i}" for i in range(500)]
    estimate = estimate_embedding(DEFAULT_MODEL, texts)
    assert estimate.rate is None
    assert estimate.seconds == pytest.approx(500 / model_info(DEFAULT_MODEL).slow_rate)
    assert "not measured on this server yet" in estimate.summary()
    record_rate(PACKAGED_MODEL_ID, texts, 5.0)  # 100 documents/s measured here
    measured = estimate_embedding(DEFAULT_MODEL, texts)
    assert measured.rate is not None and measured.seconds == pytest.approx(5.0)
    assert "100 documents/s this server measured" in measured.summary()


def test_durations_read_as_people_say_them():
    assert [format_seconds(s) for s in (4.4, 59.6, 200, 3_900)] == [
        "4 s", "1 min", "3 min 20 s", "1 h 5 min",
    ]  # fmt: skip


@pytest.mark.model
def test_the_corpus_page_states_this_servers_speed_not_a_promise(home):
    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "300 sentences/s" not in captions
    assert "not measured on this server yet" in captions and "2-core AVX2 CPU" in captions
    record_rate(PACKAGED_MODEL_ID, [f"text {i}" for i in range(120)], 3.0)
    at.run()
    captions = " ".join(c.value for c in at.caption)
    assert "40 documents/s measured on this server" in captions


def test_a_run_stopped_between_batches_still_keeps_its_rate(home, fake_model):
    texts, _ = make_topic_texts(per_topic=30)  # 240 texts: four batches of 64

    def leave(done: int, total: int) -> None:
        if done >= 128:
            raise KeyboardInterrupt  # as Streamlit stops a run whose visitor left

    with pytest.raises(KeyboardInterrupt):
        embed_texts(texts, fake_model, progress=leave)
    rate = measured_rate(fake_model.model_id)
    assert rate is not None and rate.texts == 128
