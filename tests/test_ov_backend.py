"""The OpenVINO bf16 embedding path: chosen only behind the quality guard, converted once."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lib.embed.ov_backend as ov_backend
from lib.embed.models import PACKAGED_MODEL_ID, embed_texts, load_model
from lib.errors import ParameterError


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
