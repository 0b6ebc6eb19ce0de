"""The OpenVINO bf16 embedding path: chosen only behind the quality guard, converted once."""

from pathlib import Path

import numpy as np
import pytest

import lib.engine.ov_backend as ov_backend
from lib.engine.embed import PACKAGED_MODEL_ID, embed_texts, load_model
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


@pytest.mark.model
def test_openvino_path_passes_the_guard_and_is_converted_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    pytest.importorskip("openvino")
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv(ov_backend.BACKEND_ENV, "openvino")
    fast = load_model(precision="bf16")
    assert isinstance(fast, ov_backend.OpenVINOModel)
    assert fast.model_id == f"{PACKAGED_MODEL_ID}@openvino-bf16"
    assert fast.precision_check.accepted and fast.precision_check.overlap >= 0.95
    assert list(tmp_path.glob(f"openvino/*/{ov_backend.IR_FILE}"))

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
