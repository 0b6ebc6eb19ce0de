"""How fast a model embeds on this server: measured while it works, kept beside the data.

`embed_texts` times every run that encodes at least RATE_MIN_TEXTS texts and keeps the last
measurement per model id and CPU in `<data home>/speed/` (a few small JSON files), so a page can
say what this server did, and estimate a corpus before embedding it, instead of quoting a speed
measured elsewhere. A measurement made on another CPU is never used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lib.errors import check_int, invalid_parameter
from lib.store.caches import default_home, machine, result_key, write_synced

RATE_MIN_TEXTS = 64  # fewer texts time mostly the per-call overhead, not the model
LENGTH_RATIO_BOUNDS = (0.5, 4.0)  # how far a corpus's text length may scale a measured rate
SPEED_FOLDER = "speed"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeasuredRate:
    """One timed embedding run: `texts` distinct texts of `chars` characters in `seconds`.

    model_id: the id of the model as it ran (with its precision suffix, e.g. "…@bf16");
    cpu: `lib.store.caches.machine()` where it ran; measured_at: ISO 8601 UTC.
    """

    model_id: str
    texts: int
    chars: int
    seconds: float
    cpu: str
    measured_at: str

    def __post_init__(self) -> None:
        check_int("MeasuredRate", "texts", self.texts, 1)
        check_int("MeasuredRate", "chars", self.chars, 0)
        if not (isinstance(self.seconds, float) and np.isfinite(self.seconds) and self.seconds > 0):
            raise invalid_parameter("MeasuredRate", "seconds", "a positive finite float",
                                    self.seconds)  # fmt: skip

    @property
    def docs_per_second(self) -> float:
        return self.texts / self.seconds

    @property
    def mean_chars(self) -> float:
        return self.chars / self.texts

    def seconds_for(self, texts: Sequence[str], max_chars: int | None = None) -> float:
        """Expected seconds to embed `texts` (distinct ones) at this rate: documents ÷ the
        measured documents per second, scaled by their mean length against the measured
        texts' (bounded by LENGTH_RATIO_BOUNDS; each text counted up to `max_chars`, the model's
        window)."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return 0.0
        lengths = np.fromiter((len(t) for t in unique), dtype=np.float64, count=len(unique))
        if max_chars is not None:
            lengths = np.minimum(lengths, max_chars)
        ratio = float(np.clip(lengths.mean() / max(self.mean_chars, 1.0), *LENGTH_RATIO_BOUNDS))
        return len(unique) / self.docs_per_second * ratio

    def summary(self) -> str:
        """One line for a page: the rate and what it was measured on."""
        return (
            f"{self.docs_per_second:,.0f} documents/s measured on this server "
            f"({self.texts:,} documents of {self.mean_chars:,.0f} characters on average, "
            f"{self.measured_at[:16].replace('T', ' ')} UTC)"
        )


def record_rate(model_id: str, texts: Sequence[str], seconds: float) -> MeasuredRate | None:
    """Keep the rate of a run that encoded `texts` in `seconds`; None when the run was too small
    to time the model (fewer than RATE_MIN_TEXTS texts) or the record cannot be written."""
    if len(texts) < RATE_MIN_TEXTS or not seconds > 0:
        return None
    rate = MeasuredRate(
        model_id=model_id, texts=len(texts), chars=sum(len(t) for t in texts),
        seconds=float(seconds), cpu=machine(),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    path = _record_path(model_id)
    data = json.dumps(asdict(rate)).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_synced(path, lambda handle: handle.write(data))
    except OSError as exc:  # a read-only data folder: the pages fall back to the stated range
        logger.warning("could not keep the measured embedding rate in %s: %s", path, exc)
        return None
    return rate


def measured_rate(model_id: str) -> MeasuredRate | None:
    """The latest rate measured on this CPU for `model_id` at any precision ("id" or "id@…"),
    or None when it never ran here."""
    found = [rate for rate in _records() if rate.cpu == machine() and _same_model(rate, model_id)]
    return max(found, key=lambda rate: rate.measured_at, default=None)


def _same_model(rate: MeasuredRate, model_id: str) -> bool:
    base = model_id.partition("@")[0]
    return rate.model_id == model_id or rate.model_id.partition("@")[0] == base


def _records() -> list[MeasuredRate]:
    folder = default_home() / SPEED_FOLDER
    rates = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        rate = _read(path)
        if rate is not None:
            rates.append(rate)
    return rates


def _read(path: Path) -> MeasuredRate | None:
    try:
        return MeasuredRate(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):  # unreadable or malformed: as if never measured
        return None


def _record_path(model_id: str) -> Path:
    key = result_key("embed-rate", model=model_id, cpu=machine())
    return default_home() / SPEED_FOLDER / f"{key}.json"
