"""embed_texts with a counting fake model (cache reuse, batching, progress, failures) and the real
packaged model (shape, semantic order, quiet loading, actionable load errors)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

import lib.embed.models as embed_module
from lib.embed.models import (
    PACKAGED_MODEL_ID,
    PRECISION_ENV,
    EmbeddingRun,
    SentenceTransformerModel,
    check_precision,
    embed_texts,
    load_model,
    model_id_for,
    pinned_precision,
    resolve_precision,
)
from lib.errors import ModelError, ParameterError
from lib.ingest.corpus import load_sample
from lib.store.caches import EmbeddingCache, text_key


def _raw_vector(text: str, dimension: int) -> np.ndarray:
    """The fake model's vector for `text`: seeded by its hash, deliberately not unit length."""
    rng = np.random.default_rng(int(text_key(text)[:16], 16))
    return (3.0 * rng.standard_normal(dimension)).astype(np.float32)


class CountingModel:
    """Deterministic TextModel that records every batch; raises once `fail_after` batches ran."""

    def __init__(self, dimension: int = 8, fail_after: int | None = None) -> None:
        self.model_id = "fake/counting"
        self.dimension = dimension
        self.max_tokens = None
        self.fail_after = fail_after
        self.batches: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise RuntimeError("simulated out of memory")
        self.batches.append(list(texts))
        return np.stack([_raw_vector(text, 8) for text in texts])

    @property
    def encoded(self) -> list[str]:
        return [text for batch in self.batches for text in batch]


def _unit(text: str) -> np.ndarray:
    vector = _raw_vector(text, 8)
    return vector / np.linalg.norm(vector)


TEXTS = [f"document number {i} " + "x" * (i % 5) for i in range(10)]


@pytest.fixture
def cache(tmp_path: Path):
    opened = EmbeddingCache(tmp_path / "cache.sqlite3")
    yield opened
    opened.close()


def test_rows_are_unit_norm_float32_in_input_order_encoded_longest_first():
    model = CountingModel()
    texts = ["alpha", "b", "gamma ray", "delta"]
    run = embed_texts(texts, model)
    assert run.vectors.dtype == np.float32
    assert run.vectors.shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(run.vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(run.vectors, np.stack([_unit(t) for t in texts]), rtol=1e-6)
    assert model.batches == [["gamma ray", "alpha", "delta", "b"]]
    assert (run.n_reused, run.n_computed) == (0, 4)


def test_second_call_on_a_reopened_cache_encodes_nothing(tmp_path: Path):
    path = tmp_path / "cache.sqlite3"
    first_cache = EmbeddingCache(path)
    first = embed_texts(TEXTS, CountingModel(), cache=first_cache)
    first_cache.close()

    model = CountingModel()
    second_cache = EmbeddingCache(path)
    second = embed_texts(TEXTS, model, cache=second_cache)
    second_cache.close()
    assert (first.n_reused, first.n_computed) == (0, 10)
    assert (second.n_reused, second.n_computed) == (10, 0)
    assert model.batches == []
    np.testing.assert_array_equal(second.vectors, first.vectors)


def test_duplicates_are_embedded_once(cache: EmbeddingCache):
    model = CountingModel()
    calls: list[tuple[int, int]] = []
    texts = ["x", "y", "x", "x", "z", "y"]
    run = embed_texts(texts, model, cache=cache, progress=lambda *call: calls.append(call))
    assert sorted(model.encoded) == ["x", "y", "z"]
    assert cache.count(model.model_id) == 3
    np.testing.assert_array_equal(run.vectors[0], run.vectors[2])
    np.testing.assert_array_equal(run.vectors[0], run.vectors[3])
    np.testing.assert_array_equal(run.vectors[1], run.vectors[5])
    assert not np.allclose(run.vectors[0], run.vectors[1])
    assert (run.n_reused, run.n_computed) == (3, 3)
    assert calls == [(0, 6), (6, 6)]


def test_progress_starts_with_reused_and_counts_every_batch(cache: EmbeddingCache):
    embed_texts(TEXTS[:4], CountingModel(), cache=cache)
    model = CountingModel()
    calls: list[tuple[int, int]] = []
    run = embed_texts(
        TEXTS, model, cache=cache, batch_size=3, progress=lambda *call: calls.append(call)
    )
    assert calls == [(4, 10), (7, 10), (10, 10)]
    assert [len(batch) for batch in model.batches] == [3, 3]
    assert set(model.encoded) == set(TEXTS[4:])
    assert (run.n_reused, run.n_computed) == (4, 6)


def test_batch_size_is_respected_without_a_cache():
    model = CountingModel()
    embed_texts(TEXTS[:7], model, batch_size=3)
    assert [len(batch) for batch in model.batches] == [3, 3, 1]


def test_failure_keeps_finished_batches_and_a_rerun_computes_only_the_rest(
    cache: EmbeddingCache,
):
    failing = CountingModel(fail_after=2)
    with pytest.raises(ModelError, match=r"'fake/counting' failed .* batch of 2 texts: simulated"):
        embed_texts(TEXTS[:7], failing, cache=cache, batch_size=2)
    assert cache.count(failing.model_id) == 4
    assert set(cache.get_many(failing.model_id, [text_key(t) for t in failing.encoded])) == {
        text_key(t) for t in failing.encoded
    }

    healthy = CountingModel()
    run = embed_texts(TEXTS[:7], healthy, cache=cache, batch_size=2)
    assert (run.n_reused, run.n_computed) == (4, 3)
    assert set(healthy.encoded) == set(TEXTS[:7]) - set(failing.encoded)
    np.testing.assert_allclose(run.vectors, np.stack([_unit(t) for t in TEXTS[:7]]), rtol=1e-6)


def test_empty_input_gives_an_empty_2d_array():
    model = CountingModel()
    calls: list[tuple[int, int]] = []
    run = embed_texts([], model, progress=lambda *call: calls.append(call))
    assert run == EmbeddingRun(run.vectors, n_reused=0, n_computed=0)
    assert run.vectors.shape == (0, 8)
    assert run.vectors.dtype == np.float32
    assert calls == [(0, 0)]
    assert model.batches == []


def test_cached_vectors_of_another_dimension_are_recomputed(cache: EmbeddingCache):
    keys = [text_key(t) for t in TEXTS[:3]]
    cache.put_many("fake/counting", keys, np.ones((3, 4), np.float32))
    run = embed_texts(TEXTS[:3], CountingModel(), cache=cache)
    assert (run.n_reused, run.n_computed) == (0, 3)
    assert cache.get_many("fake/counting", keys)[keys[0]].shape == (8,)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_int(batch_size):
    expected = (
        r"The 'batch_size' parameter of embed_texts must be an int in the range \[1, inf\)\. "
        rf"Got {batch_size!r} instead\."
    )
    with pytest.raises(ParameterError, match=expected):
        embed_texts(["a"], CountingModel(), batch_size=batch_size)


def test_texts_must_be_a_sequence_of_str():
    with pytest.raises(ParameterError, match="sequence of str, not one str"):
        embed_texts("one string", CountingModel())
    with pytest.raises(ParameterError, match=r"sequence of str\. Got None instead"):
        embed_texts(["fine", None], CountingModel())


def test_wrong_shape_from_the_model_is_a_model_error():
    model = CountingModel(dimension=5)
    with pytest.raises(ModelError, match=r"shape \(2, 8\) for 2 texts; expected \(2, 5\)"):
        embed_texts(["a", "b"], model)


@pytest.fixture(scope="module")
def real_model() -> tuple[SentenceTransformerModel, str]:
    """The packaged all-MiniLM-L6-v2, loaded once, with whatever loading wrote to stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        model = load_model()
    return model, stderr.getvalue()


@pytest.mark.model
def test_real_model_loads_quietly_with_a_stable_id(real_model):
    model, stderr = real_model
    assert model.model_id == PACKAGED_MODEL_ID
    assert (model.dimension, model.max_tokens) == (384, 256)
    assert "Loading weights" not in stderr


@pytest.mark.model
def test_real_model_embeds_by_meaning(real_model, cache: EmbeddingCache):
    model, _ = real_model
    texts = ["a cat sat on the mat", "a kitten was sitting on a rug", "quarterly revenue rose 5%"]
    run = embed_texts(texts, model, cache=cache)
    assert run.vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(run.vectors, axis=1), 1.0, rtol=1e-5)
    cosine = run.vectors @ run.vectors.T
    assert cosine[0, 1] > cosine[0, 2] + 0.3
    assert cache.count(PACKAGED_MODEL_ID) == 3


@pytest.mark.model
def test_real_model_counts_truncated_texts(real_model):
    model, _ = real_model
    assert model.count_truncated(["short text", "word " * 400, "another " * 300]) == 2
    assert model.count_truncated([]) == 0


@pytest.mark.model
def test_unknown_hub_model_offline_is_an_actionable_model_error(monkeypatch: pytest.MonkeyPatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    expected = (
        r"Could not load model 'no/such-model-xyz': not a local folder and the model hub is not "
        r"reachable \(offline\)\. Use 'all-MiniLM-L6-v2' \(bundled\)"
    )
    with pytest.raises(ModelError, match=expected):
        load_model("no/such-model-xyz")


@pytest.mark.model
def test_folder_that_is_not_a_model_is_a_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match="the folder is not a usable sentence-transformers model"):
        load_model(str(tmp_path))


def test_blank_model_name_is_a_model_error():
    with pytest.raises(ModelError, match=r"The model name is empty\. Use 'all-MiniLM-L6-v2'"):
        load_model("  ")


def test_embedding_in_steps_previews_a_growing_random_sample(cache: EmbeddingCache):
    from lib.embed.models import embed_in_steps

    texts = [f"text {i}" for i in range(25)]
    steps, reports = [], []
    run = embed_in_steps(
        texts, CountingModel(), cache=cache, first=5, step=8,
        progress=lambda done, total: reports.append((done, total)),
        on_step=lambda rows, vectors: steps.append((rows.copy(), vectors.copy())),
    )  # fmt: skip
    np.testing.assert_allclose(run.vectors, np.stack([_unit(t) for t in texts]), rtol=1e-6)
    assert run.n_computed == 25 and run.n_reused == 0
    assert [len(rows) for rows, _ in steps] == [5, 13, 21]
    assert set(steps[0][0]) < set(steps[1][0]) < set(steps[2][0])
    assert sorted(steps[0][0]) != list(range(5)), "the first step should be a random sample"
    rows, vectors = steps[-1]
    np.testing.assert_allclose(vectors, run.vectors[rows])
    assert reports[-1] == (25, 25)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_cached_vectors_serve_a_warm_start_without_the_model(cache: EmbeddingCache):
    from lib.embed.models import cached_vectors

    run = embed_texts(TEXTS, CountingModel(), cache=cache)
    np.testing.assert_allclose(cached_vectors(TEXTS, "fake/counting", cache), run.vectors)
    assert cached_vectors([*TEXTS, "never embedded"], "fake/counting", cache) is None
    assert cached_vectors(TEXTS, "another/model", cache) is None


# --- precision: bf16 where it is fast, kept only behind the quality guard ----------------------


def test_precision_auto_follows_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PRECISION_ENV, "bf16")
    assert resolve_precision() == "bf16"
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("bf16") == "bf16"  # an explicit choice wins over the environment


def test_only_auto_without_the_environment_leaves_the_precision_unpinned(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "fp32")  # pinned: exact torch fp32
    assert pinned_precision() == "fp32" and pinned_precision("bf16") == "bf16"
    monkeypatch.delenv(PRECISION_ENV)
    assert pinned_precision("fp32") == "fp32" and pinned_precision() is None
    monkeypatch.setattr(embed_module, "_native_bf16", lambda: False)
    assert resolve_precision() == "fp32"  # unpinned: may run on OpenVINO fp32 behind the guard


def test_model_id_names_an_explicit_precision_only():
    assert model_id_for("all-MiniLM-L6-v2", "bf16") == f"{PACKAGED_MODEL_ID}@bf16"
    assert model_id_for("all-MiniLM-L6-v2", "fp32") == PACKAGED_MODEL_ID
    refusal = r"'precision' parameter of model_id_for must be one of 'fp32', 'bf16'"
    with pytest.raises(ParameterError, match=refusal):
        model_id_for("all-MiniLM-L6-v2", "auto")


def test_bad_precision_names_the_accepted_values(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ParameterError, match=r"precision.*one of 'auto', 'fp32', 'bf16'"):
        resolve_precision("int8")
    monkeypatch.setenv(PRECISION_ENV, "half")
    with pytest.raises(ParameterError, match=r"EMBEDSCOPE_PRECISION.*one of 'fp32', 'bf16'"):
        resolve_precision()


def test_precision_check_measures_neighbour_overlap():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(60, 16)).astype(np.float32)
    same = check_precision(reference, reference * 2.0, "bf16")
    assert (same.overlap, same.accepted) == (1.0, True)
    assert same.mean_cosine == pytest.approx(1.0, abs=1e-6)
    scrambled = check_precision(reference, rng.normal(size=(60, 16)), "bf16")
    assert scrambled.overlap < 0.5 and not scrambled.accepted
    assert "rejected, fp32 kept" in scrambled.summary()
    with pytest.raises(ParameterError, match="the reference's shape"):
        check_precision(reference, reference[:30], "bf16")


@pytest.mark.model
def test_bf16_model_passes_the_guard_and_keeps_its_own_cache_id(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EMBEDSCOPE_BACKEND", "torch")  # the OpenVINO path: tests/test_ov_backend.py
    fp32 = load_model(precision="fp32")
    bf16 = load_model(precision="bf16")
    check = bf16.precision_check
    assert bf16.precision == "bf16" and check is not None and check.accepted
    assert check.overlap >= 0.95 and check.n_texts == 200
    assert bf16.model_id == f"{PACKAGED_MODEL_ID}@bf16" and fp32.model_id == PACKAGED_MODEL_ID
    texts = ["a cat sat on the mat", "the central bank raised interest rates", "rain tomorrow"]
    cosine = (embed_texts(texts, fp32).vectors * embed_texts(texts, bf16).vectors).sum(axis=1)
    assert cosine.min() > 0.999


@pytest.mark.model
def test_a_failed_guard_keeps_the_model_at_fp32(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embed_module, "GUARD_MIN_OVERLAP", 1.01)  # no path can pass this
    model = load_model(precision="bf16")
    assert model.precision == "fp32" and model.model_id == PACKAGED_MODEL_ID
    assert model.precision_check is not None and not model.precision_check.accepted


@pytest.mark.model
def test_the_guard_measures_once_per_cpu_and_library_versions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv("EMBEDSCOPE_BACKEND", "torch")
    encoded: list[tuple[str, int]] = []
    encode = embed_module.SentenceTransformerModel.encode

    def counted(self, texts):
        encoded.append((self.precision, len(texts)))
        return encode(self, texts)

    monkeypatch.setattr(embed_module.SentenceTransformerModel, "encode", counted)
    first = load_model(precision="bf16").precision_check
    # only the candidate is encoded: fp32's side is the bundled sample's shipped vectors
    assert encoded == [("bf16", 200)] and first.accepted
    [record] = (tmp_path / "precision").glob("*.json")
    encoded.clear()
    assert load_model(precision="bf16").precision_check == first and encoded == []
    record.write_text("{damaged", encoding="utf-8")  # measured again, and kept again
    assert load_model(precision="bf16").precision_check == first
    assert encoded == [("bf16", 200)] and json.loads(record.read_text())["overlap"] == first.overlap
    encoded.clear()
    monkeypatch.setattr(embed_module, "machine", lambda: "another CPU")
    assert load_model(precision="bf16").precision_check == first
    assert encoded == [("bf16", 200)] and len(list(record.parent.glob("*.json"))) == 2
    # the shipped reference gives the verdict an fp32 encoding gives
    texts = load_sample("topics").texts
    texts = [texts[i] for i in np.linspace(0, len(texts) - 1, 200, dtype=int)]
    fp32 = load_model(precision="fp32")
    direct = check_precision(fp32.encode(texts), load_model(precision="bf16").encode(texts), "bf16")
    assert abs(direct.overlap - first.overlap) < 0.01
