"""Embed a corpus on Ray Data: the texts missing from our cache go to a pool of model actors.

Only texts whose vectors are not in the `EmbeddingCache` are sent. They travel as a Dataset of
("id", "text") rows, longest first, cut into enough blocks to keep every actor busy; `map_batches`
runs `EmbedActor` (the model loaded once per actor) on an `ActorPoolStrategy` pool. Results come
back in any order, are joined back to their texts by id and committed to the cache batch by
batch, so a killed run resumes where it stopped and the app and the local path reuse them.

Ray is optional (`pip install -r requirements-ray.txt`) and imported only when a run starts.
"""

from __future__ import annotations

import itertools
import logging
import math
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from lib.embed.models import TextModel, load_model
from lib.errors import EmbedscopeError, ModelError, ParameterError, check_int
from lib.store.caches import EmbeddingCache, text_key

logger = logging.getLogger(__name__)

RAY_REQUIREMENT = "pip install -r requirements-ray.txt  (ray[data]==2.60.0)"
ROWS_PER_BLOCK_BATCHES = 16  # a block holds at most this many batches, so blocks stay small
BLOCKS_PER_ACTOR = 4  # at least this many blocks per actor, so no actor waits for work
LIB_DIR = Path(__file__).resolve().parents[1]
CONNECT_TIMEOUT_S = 10.0  # a cluster address must accept a connection within this

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide to run: `address` of a running cluster (None: start a local Ray with
    `local_cpus` CPUs), `actors` model replicas, each holding `cpus_per_actor` CPUs."""

    address: str | None = None
    actors: int = 2
    local_cpus: int = 2
    cpus_per_actor: int = 1

    def __post_init__(self) -> None:
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise ParameterError(
                f"The 'address' parameter of RaySettings must be a Ray address such as "
                f"'ray://head:10001', '10.0.0.5:6379' or 'auto', or None. Got {self.address!r} "
                "instead."
            )
        check_int("RaySettings", "actors", self.actors, 1)
        check_int("RaySettings", "local_cpus", self.local_cpus, 1)
        check_int("RaySettings", "cpus_per_actor", self.cpus_per_actor, 1)


class EmbedActor:
    """Ray Data callable class: loads the model once per actor, then embeds one batch per call.

    `model` is a model name (loaded on the worker with `load_model`) or a TextModel object
    (shipped to the worker as is).
    """

    def __init__(self, model: str | TextModel) -> None:
        self.model = load_model(model) if isinstance(model, str) else model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.model.encode([str(text) for text in batch["text"]])
        return {"id": batch["id"], "vector": np.asarray(vectors, dtype=np.float32)}


def require_ray() -> ModuleType:
    """The `ray` module, or a ParameterError saying how to install it."""
    try:
        import ray
        import ray.data  # Ray Data is the extra we need
    except ImportError as exc:
        raise ParameterError(
            f"The 'ray' engine needs Ray Data, which is not installed here; run: {RAY_REQUIREMENT}"
        ) from exc
    return ray


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[ModuleType]:
    """The running Ray, else one connected to `settings.address` or started here (then stopped)."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        _start(ray, settings)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _start(ray: ModuleType, settings: RaySettings) -> None:
    """ray.init: connect to a cluster or start on this machine, shipping lib/ to the workers
    (so the command works from any folder, as the embedscope-precompute script does)."""
    shipped = {"py_modules": [str(LIB_DIR)]}
    try:
        if settings.address is None:
            ray.init(num_cpus=settings.local_cpus, include_dashboard=False,
                     logging_level="WARNING", runtime_env=shipped)  # fmt: skip
        else:
            _check_reachable(settings.address)
            ray.init(address=settings.address, runtime_env=shipped, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = settings.address or "this machine"
        raise ParameterError(
            f"Could not start or reach Ray at {where!r} ({_last_line(exc)}). Start a cluster with "
            "`ray start --head` and pass its address, or leave --ray-address out for a local Ray."
        ) from exc
    logger.info("Ray resources: %s", ray.cluster_resources())


def _check_reachable(address: str) -> None:
    """ConnectionError unless something listens at a "host:port" (or "ray://host:port") address.

    ray.init retries an address nobody answers at for many minutes; this fails in seconds.
    Addresses without a port ("auto") are left to Ray.
    """
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port}: {exc.strerror or exc}") from exc


def embed_missing(
    texts: Sequence[str],
    model: str | TextModel,
    *,
    model_id: str,
    dimension: int,
    cache: EmbeddingCache,
    settings: RaySettings = RaySettings(),
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
) -> int:
    """Embed on Ray the distinct texts that `cache` lacks for `model_id`; return how many.

    `progress(done, total)` counts distinct texts with a cached vector, after every batch.
    """
    check_int("embed_missing", "batch_size", batch_size, 1)
    check_int("embed_missing", "dimension", dimension, 1)
    unique = list(dict.fromkeys(texts))
    keys = [text_key(text) for text in unique]
    found = cache.get_many(model_id, keys)
    missing = [row for row, key in enumerate(keys) if _needs_vector(found.get(key), dimension)]
    missing.sort(key=lambda row: -len(unique[row]))
    done = len(unique) - len(missing)
    if progress is not None:
        progress(done, len(unique))
    if not missing:
        return 0
    with ray_session(settings) as ray:
        dataset = _dataset(ray, unique, missing, _block_count(len(missing), settings, batch_size))
        embedded = dataset.map_batches(
            EmbedActor,
            fn_constructor_args=(model,),
            compute=ray.data.ActorPoolStrategy(size=settings.actors),
            batch_size=batch_size,
            batch_format="numpy",
            num_cpus=settings.cpus_per_actor,
        )
        for ids, vectors in _results(ray, embedded, dimension):
            cache.put_many(model_id, [keys[row] for row in ids], vectors)
            done += len(ids)
            if progress is not None:
                progress(done, len(unique))
    logger.info("Ray embedded %d texts with %d actors", len(missing), settings.actors)
    return len(missing)


def _needs_vector(vector: np.ndarray | None, dimension: int) -> bool:
    """True when a cached vector is missing or of the wrong size (so it must be computed)."""
    return vector is None or vector.shape != (dimension,)


def _block_count(n_rows: int, settings: RaySettings, batch_size: int) -> int:
    """Blocks to cut n_rows into: BLOCKS_PER_ACTOR per actor at least, small enough to stream."""
    by_size = math.ceil(n_rows / (ROWS_PER_BLOCK_BATCHES * batch_size))
    return max(1, min(n_rows, max(BLOCKS_PER_ACTOR * settings.actors, by_size)))


def _dataset(ray: ModuleType, unique: list[str], rows: list[int], n_blocks: int):
    """A Dataset of ("id", "text") rows in `n_blocks` contiguous blocks (rows keep their order)."""
    import pandas as pd

    frame = pd.DataFrame(
        {"id": np.asarray(rows, dtype=np.int64), "text": [unique[r] for r in rows]}
    )
    bounds = np.linspace(0, len(frame), n_blocks + 1).astype(int)
    blocks = [frame.iloc[start:stop] for start, stop in itertools.pairwise(bounds) if stop > start]
    return ray.data.from_pandas(blocks)


def _results(ray: ModuleType, dataset, dimension: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) batches as the actors finish them; a failed run becomes one clear error."""
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            ids = np.asarray(batch["id"], dtype=np.int64)
            vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(ids), -1)
            if vectors.shape[1] != dimension or not np.isfinite(vectors).all():
                raise ModelError(
                    f"The Ray workers returned vectors of shape {vectors.shape} (or NaN); "
                    f"expected ({len(ids)}, {dimension}) finite values. Do the workers run the "
                    "same model version as this machine?"
                )
            yield ids, vectors
    except EmbedscopeError:
        raise
    except ray.exceptions.RayError as exc:
        raise ModelError(
            f"The Ray run failed: {_last_line(exc).rstrip('.')}. Every worker needs "
            "requirements.txt and requirements-ray.txt installed (same versions as here)."
        ) from exc


def _last_line(error: BaseException) -> str:
    """The last non-blank line of an error's text: the root cause in a remote traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
