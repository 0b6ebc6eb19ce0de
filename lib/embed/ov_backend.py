"""OpenVINO: the faster CPU path for sentence-transformers models, behind the quality guard.

The model's transformer is converted once from the loaded torch module (`openvino.convert_model`,
no optimum, no export extra) and kept as OpenVINO IR in <EMBEDSCOPE_HOME>/openvino/; the same IR
runs with bf16 inference on CPUs that have it, and at fp32 on the others (one stream, a thread
per usable core; bench/embedding.py compares it with torch fp32). The tokenizer is the model's
own fast tokenizer (what sentence-transformers runs underneath); mean pooling is done here. A
later start builds it from the kept IR and the model folder's tokenizer.json without importing
torch, transformers or sentence-transformers (`converted_model`). `lib.embed.models._guarded`
tries this path first and keeps it only when its vectors keep torch fp32's neighbours on the
reference sentences, like the torch bf16 path.

EMBEDSCOPE_BACKEND=torch turns it off; "openvino" and "auto" (the default) use it where the
`openvino` package is installed. bench/embedding.py on the 2-core machine (2,000 generated
sentences): bf16 1.11× to 1.40× torch bf16 in four runs, 10-NN overlap with fp32 0.995
(bench/README.md, "Figures of the final code").

Each batch is one synchronous request in OpenVINO's latency mode. Throughput mode, each
batch split across 2 streams by an AsyncInferQueue, was 14% faster here, but CI on another
machine hung in this module's test while it ran that way (the queue calls back into Python from
OpenVINO's threads, a known deadlock surface: openvinotoolkit/openvino#37073; ultralytics went
back to synchronous requests for a hang of the same kind, ultralytics/ultralytics#25921). A
synchronous request never calls back into Python; it is what ran through CI before.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from lib.errors import check_choice
from lib.store.caches import default_home

logger = logging.getLogger(__name__)

BACKEND_ENV = "EMBEDSCOPE_BACKEND"
BACKENDS = ("auto", "torch", "openvino")
PRECISIONS = ("bf16", "fp32")  # what the converted model runs at; its cache id names it
IR_FILE = "model.xml"


def id_suffix(precision: str) -> str:
    """What an OpenVINO model's cache id ends in: "<model id>@openvino-<precision>"."""
    return f"openvino-{check_choice('OpenVINOModel', 'precision', precision, PRECISIONS)}"


def compile_config(precision: str) -> dict[str, Any]:
    """How the IR is compiled at `precision`. bf16: OpenVINO's default latency hint (one request
    uses every core). fp32: f32 inference (a "bf16" hint silently runs f32 without bf16), the
    latency hint, one stream and one thread per core this process may use."""
    if check_choice("OpenVINOModel", "precision", precision, PRECISIONS) == "bf16":
        return {"INFERENCE_PRECISION_HINT": "bf16"}
    return {
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_NUM_THREADS": usable_cores(),
    }


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_backend() -> str:
    """ "openvino" or "torch": $EMBEDSCOPE_BACKEND, else openvino where the package is installed."""
    chosen = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    check_choice(BACKEND_ENV, "value", chosen, BACKENDS)
    if chosen == "auto":
        return "openvino" if importlib.util.find_spec("openvino") is not None else "torch"
    return chosen


class OpenVINOModel:
    """A sentence-transformers model whose transformer runs in OpenVINO (TextModel).

    compiled: the compiled transformer (token states out); tokenizer: the model's own fast
    tokenizer (a `tokenizers.Tokenizer`, the one sentence-transformers runs underneath), padded
    to the longest text and cut at `max_tokens`; plain_id: the model's id without a precision;
    precision: what `compiled` runs at ("bf16" or "fp32"), named by the cache id
    ("<plain id>@openvino-<precision>"). Mean pooling is done here; `embed_texts` normalises.
    """

    backend = "openvino"

    def __init__(
        self,
        compiled: Any,
        tokenizer: Any,
        plain_id: str,
        max_tokens: int | None,
        precision: str = "bf16",
        precision_check: Any = None,
    ) -> None:
        self.compiled = compiled
        self.precision = precision
        self.precision_check = precision_check
        self.plain_id = plain_id
        self.model_id = f"{plain_id}@{id_suffix(precision)}"
        self.max_tokens = max_tokens
        self.dimension = int(compiled.outputs[0].get_partial_shape()[-1].get_length())
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self._whole = _copy(tokenizer)  # no cut, no padding: for count_truncated
        self._whole.no_truncation()
        self._whole.no_padding()
        self._batch = _copy(tokenizer)  # cut at max_tokens, padded to the longest text
        self._batch.no_truncation()
        if max_tokens is not None:
            self._batch.enable_truncation(max_tokens)
        self._batch.enable_padding(**_padding(tokenizer))

    def checked(self, precision_check: Any) -> OpenVINOModel:
        """The same model carrying the quality guard's measurement."""
        return OpenVINOModel(
            self.compiled, self._batch, self.plain_id, self.max_tokens, self.precision,
            precision_check,
        )  # fmt: skip

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled token states (len(texts), dimension) float32; `embed_texts` normalises.

        One synchronous request per call (a request per call keeps concurrent sessions apart).
        """
        tokens = self.tokens(list(texts))
        request = self.compiled.create_infer_request()
        states = request.infer({name: tokens[name] for name in self._inputs})[0]
        return _mean_pooled_states(states, tokens["attention_mask"])

    def tokens(self, texts: list[str]) -> dict[str, np.ndarray]:
        """input_ids, attention_mask and token_type_ids (n, longest) int64: the model's inputs."""
        encoded = self._batch.encode_batch(texts)
        return {
            "input_ids": np.array([row.ids for row in encoded], np.int64),
            "attention_mask": np.array([row.attention_mask for row in encoded], np.int64),
            "token_type_ids": np.array([row.type_ids for row in encoded], np.int64),
        }

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts exceed `max_tokens` (special tokens included) and lose their tail."""
        if self.max_tokens is None or not texts:
            return 0
        return sum(len(row.ids) > self.max_tokens for row in self._whole.encode_batch(list(texts)))


def _copy(tokenizer: Any) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer.to_str())


def _padding(tokenizer: Any) -> dict[str, Any]:
    """The tokenizer's own padding token (as transformers pads), else BERT's [PAD]."""
    configured = tokenizer.padding or {}
    token = configured.get("pad_token") or "[PAD]"
    token_id = tokenizer.token_to_id(token)
    return {"pad_id": 0 if token_id is None else token_id, "pad_token": token}


def _mean_pooled_states(states: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Mean of each text's token states over its real (unpadded) tokens, float32 (n, d)."""
    mask = attention_mask[..., None].astype(np.float32)
    pooled = (np.asarray(states, np.float32) * mask).sum(axis=1)
    return (pooled / np.clip(mask.sum(axis=1), 1e-9, None)).astype(np.float32)


def openvino_model(base: Any, precision: str = "bf16") -> OpenVINOModel | None:
    """`base` (a fp32 SentenceTransformerModel) compiled by OpenVINO for `precision`, or None
    where that does not apply: the package is missing, the backend is off, the model is not a
    plain transformer + mean pooling (+ normalise) pipeline or has no fast tokenizer."""
    tokenizer = getattr(base.model.tokenizer, "backend_tokenizer", None)
    if resolve_backend() != "openvino" or not _mean_pooled(base.model) or tokenizer is None:
        return None
    try:
        folder = _ir_folder(base.model_id)
        if not (folder / IR_FILE).exists():
            _convert(base.model, folder)
        compiled = _compiled(folder, precision)
        return OpenVINOModel(compiled, tokenizer, base.model_id, base.max_tokens, precision)
    except Exception as exc:  # a broken install or an unsupported graph: torch paths remain
        logger.warning("OpenVINO backend unavailable for %s: %s", base.model_id, exc)
        return None


def converted_model(
    model_folder: Path, model_id: str, max_tokens: int | None, precision: str = "bf16"
) -> OpenVINOModel | None:
    """The model converted by an earlier start, run at `precision`, built without loading torch
    or sentence-transformers: the IR from the data home, the tokenizer from the model folder's
    tokenizer.json. None when the backend is off or either file is missing (or unreadable)."""
    folder = _ir_folder(model_id)
    tokenizer_file = Path(model_folder) / "tokenizer.json"
    found = (folder / IR_FILE).exists() and tokenizer_file.exists()
    if resolve_backend() != "openvino" or not found:
        return None
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        return OpenVINOModel(
            _compiled(folder, precision), tokenizer, model_id, max_tokens, precision
        )
    except Exception as exc:  # the full load (which converts again if needed) remains
        logger.warning("converted OpenVINO model of %s unusable: %s", model_id, exc)
        return None


def _compiled(folder: Path, precision: str) -> Any:
    """The IR in `folder` compiled for `precision` (compiled blobs cached beside it, one per
    configuration)."""
    import openvino

    core = openvino.Core()
    core.set_property({"CACHE_DIR": str(folder.parent / "compiled")})
    model = core.read_model(folder / IR_FILE)
    return core.compile_model(model, "CPU", compile_config(precision))


def _mean_pooled(model: Any) -> bool:
    """True for Transformer -> Pooling(mean) [-> Normalize], what OpenVINOModel reproduces."""
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers 6: one mode string
    if mode is None:  # older releases: one flag per mode
        return bool(getattr(pooling, "pooling_mode_mean_tokens", False)) and not getattr(
            pooling, "pooling_mode_max_tokens", False
        )
    return mode == "mean" and getattr(pooling, "include_prompt", True)


def _ir_folder(model_id: str) -> Path:
    """Where the converted model lives: one folder per model id and library versions."""
    key = "|".join([model_id, version("openvino"), version("transformers"), version("torch")])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return default_home() / "openvino" / digest


def _convert(model: Any, folder: Path) -> None:
    """Trace the torch transformer into OpenVINO IR (fp32 weights) under `folder`, atomically."""
    import openvino
    import torch

    example = dict(model.tokenizer(["a b", "a"], padding=True, return_tensors="pt"))
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python branches (shape checks)
        converted = openvino.convert_model(model[0].auto_model.eval(), example_input=example)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".staging-"))
    try:
        openvino.save_model(converted, staging / IR_FILE, compress_to_fp16=False)
        os.replace(staging, folder)
    except OSError:
        if not (folder / IR_FILE).exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("converted %s to OpenVINO IR in %s", type(model[0].auto_model).__name__, folder)
