"""The OpenVINO embedding path (bf16, or fp32 without bf16): chosen only behind the quality guard,
converted once."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lib.embed.models as embed_module
import lib.embed.ov_backend as ov_backend
from lib.embed.models import (
    PACKAGED_MODEL_ID,
    PRECISION_ENV,
    SentenceTransformerModel,
    embed_texts,
    load_model,
)
from lib.errors import ParameterError
from lib.ingest.corpus import load_sample
from lib.measure.honesty import neighbor_overlap
from lib.reduce.neighbors import exact_knn


def test_backend_follows_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ov_backend.BACKEND_ENV, "torch")
    assert ov_backend.resolve_backend() == "torch"
    monkeypatch.setenv(ov_backend.BACKEND_ENV, "OpenVINO")
    assert ov_backend.resolve_backend() == "openvino"
    monkeypatch.setenv(ov_backend.BACKEND_ENV, "onnx")
    with pytest.raises(ParameterError, match=r"EMBEDSCOPE_BACKEND.*one of 'auto', 'torch'"):
        ov_backend.resolve_backend()


def test_only_mean_pooled_transformers_are_converted():
    class Transformer: ...

    class Pooling:
        def __init__(self, mode: str) -> None:
            self.pooling_mode = mode

    assert ov_backend._mean_pooled([Transformer(), Pooling("mean")])
    assert not ov_backend._mean_pooled([Transformer(), Pooling("cls")])
    assert not ov_backend._mean_pooled([Transformer(), Pooling("mean"), Transformer()])


@pytest.fixture
def openvino_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty data home with the OpenVINO backend asked for (skipped where it is missing)."""
    pytest.importorskip("openvino")
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv(ov_backend.BACKEND_ENV, "openvino")
    return tmp_path


@pytest.mark.model
def test_openvino_path_passes_the_guard_and_is_converted_once(
    monkeypatch: pytest.MonkeyPatch, openvino_home: Path
):
    fast = load_model(precision="bf16")
    assert isinstance(fast, ov_backend.OpenVINOModel)
    assert fast.model_id == f"{PACKAGED_MODEL_ID}@openvino-bf16"
    assert fast.precision_check.accepted and fast.precision_check.overlap >= 0.95
    assert list(openvino_home.glob(f"openvino/*/{ov_backend.IR_FILE}"))

    def no_conversion(*args, **kwargs):
        raise AssertionError("the converted model should have been read from disk")

    monkeypatch.setattr(ov_backend, "_convert", no_conversion)
    again = load_model(precision="bf16")
    assert isinstance(again, ov_backend.OpenVINOModel)
    texts = ["a cat sat on the mat", "the central bank raised interest rates", "rain tomorrow"]
    reference = embed_texts(texts, load_model(precision="fp32")).vectors
    cosine = (reference * embed_texts(texts, again).vectors).sum(axis=1)
    assert cosine.min() > 0.999
    assert np.isclose(np.linalg.norm(embed_texts(texts, again).vectors, axis=1), 1.0).all()
    # a batch padded together gives each text the vector it gets alone, rows in input order
    batch = [f"sentence number {i} about {topic}" for i, topic in enumerate("abcdefg")] + texts
    together = again.encode(batch)
    one_by_one = np.vstack([again.encode([text]) for text in batch])
    unit = together / np.linalg.norm(together, axis=1, keepdims=True)
    alone = one_by_one / np.linalg.norm(one_by_one, axis=1, keepdims=True)
    assert together.shape == (len(batch), 384)
    assert (unit * alone).sum(axis=1).min() > 0.999


@pytest.mark.model
def test_a_later_start_builds_the_converted_model_without_torch(openvino_home: Path):
    fp32 = load_model(precision="fp32")
    first = load_model(precision="bf16")  # converts, measures the guard, keeps both
    assert isinstance(first, ov_backend.OpenVINOModel)
    script = (
        "import sys; from lib.embed.models import load_model; m = load_model(precision='bf16'); "
        "print(type(m).__name__, m.model_id, m.precision_check.overlap, "
        "sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))"
    )
    env = {**os.environ, "EMBEDSCOPE_HOME": str(openvino_home)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    name, model_id, overlap, imported = done.stdout.split(maxsplit=3)
    assert (name, model_id) == ("OpenVINOModel", first.model_id)
    assert float(overlap) == first.precision_check.overlap and imported.strip() == "[]"
    # the same tokens as sentence-transformers' own tokenizer, long and non-ASCII texts included
    later = ov_backend.converted_model(
        Path(fp32.model.tokenizer.name_or_path), PACKAGED_MODEL_ID, fp32.max_tokens
    )
    texts = ["Ça coûte 5 € — naïve café", "short", " ".join(["word"] * 400), "数据 и данные"]
    expected = fp32.model.tokenizer(
        texts, padding=True, truncation=True, max_length=fp32.max_tokens, return_tensors="np"
    )
    for tokens in (first.tokens(texts), later.tokens(texts)):
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert np.array_equal(tokens[name], expected[name]), name
    assert np.allclose(later.encode(texts), first.encode(texts), atol=1e-6)
    assert later.count_truncated(texts) == fp32.count_truncated(texts) == 1
    assert later.dimension == fp32.dimension == 384


@pytest.fixture
def auto_without_bf16(monkeypatch: pytest.MonkeyPatch, openvino_home: Path) -> Path:
    """precision "auto" on a CPU without bf16, whatever this CPU is (conftest pins fp32)."""
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    monkeypatch.setattr(embed_module, "_native_bf16", lambda: False)
    return openvino_home


def guard_sentences() -> list[str]:
    texts = load_sample("topics").texts
    return [texts[i] for i in range(1, len(texts), 4)]  # 200 real sentences, not the guard's rows


@pytest.mark.model
def test_auto_without_bf16_runs_openvino_fp32_with_torch_fp32s_vectors(
    monkeypatch: pytest.MonkeyPatch, auto_without_bf16: Path
):
    fast = load_model()
    assert isinstance(fast, ov_backend.OpenVINOModel) and fast.precision == "fp32"
    assert fast.model_id == f"{PACKAGED_MODEL_ID}@openvino-fp32"  # never the plain fp32 id
    assert fast.precision_check.accepted and fast.precision_check.overlap >= 0.99
    compiled = {k: str(fast.compiled.get_property(k)) for k in ("NUM_STREAMS", "PERFORMANCE_HINT")}
    assert compiled == {"NUM_STREAMS": "1", "PERFORMANCE_HINT": "LATENCY"}
    assert fast.compiled.get_property("INFERENCE_NUM_THREADS") == ov_backend.usable_cores()
    assert str(fast.compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"
    monkeypatch.setenv(PRECISION_ENV, "fp32")  # pinned: exact torch fp32, the plain id
    pinned = load_model()
    assert isinstance(pinned, SentenceTransformerModel) and pinned.model_id == PACKAGED_MODEL_ID
    assert type(load_model(precision="fp32")) is SentenceTransformerModel
    texts = guard_sentences()
    reference, got = embed_texts(texts, pinned).vectors, embed_texts(texts, fast).vectors
    overlap = neighbor_overlap(exact_knn(reference, 10).indices, exact_knn(got, 10).indices)
    assert overlap.mean() >= 0.99
    assert (1.0 - (reference * got).sum(axis=1)).max() < 1e-4


@pytest.mark.model
def test_a_later_start_builds_the_fp32_openvino_model_without_torch(auto_without_bf16: Path):
    first = load_model()  # converts, measures the guard, keeps both
    assert isinstance(first, ov_backend.OpenVINOModel) and first.precision == "fp32"
    script = (
        "import sys; import lib.embed.models as m; m._native_bf16 = lambda: False; "
        "model = m.load_model(); print(type(model).__name__, model.model_id, "
        "model.precision_check.overlap, "
        "sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != PRECISION_ENV}
    done = subprocess.run(
        [sys.executable, "-c", script], env={**env, "EMBEDSCOPE_HOME": str(auto_without_bf16)},
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    name, model_id, overlap, imported = done.stdout.split(maxsplit=3)
    assert (name, model_id) == ("OpenVINOModel", f"{PACKAGED_MODEL_ID}@openvino-fp32")
    assert float(overlap) == first.precision_check.overlap and imported.strip() == "[]"
    # one converted IR for both precisions; each model's id names its own
    folder = embed_module._packaged_model_path()
    later = ov_backend.converted_model(folder, PACKAGED_MODEL_ID, first.max_tokens, "fp32")
    texts = guard_sentences()[:20]
    assert later.model_id == first.model_id
    assert np.allclose(later.encode(texts), first.encode(texts), atol=1e-5)
    other = ov_backend.converted_model(folder, PACKAGED_MODEL_ID, first.max_tokens, "bf16")
    assert other.model_id == f"{PACKAGED_MODEL_ID}@openvino-bf16"
    assert len(list(auto_without_bf16.glob(f"openvino/*/{ov_backend.IR_FILE}"))) == 1
