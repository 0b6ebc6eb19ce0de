"""The crash loop, short: SIGKILL a writer 3 times per phase and check that nothing is lost.

The long run (20 kills a phase) is `bench/crashloop.py`; its figures go in the README.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def crashloop():
    spec = importlib.util.spec_from_file_location("crashloop", ROOT / "bench" / "crashloop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["crashloop"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("crashloop", None)


@pytest.mark.parametrize("phase", ["embed", "save", "results"])
def test_killed_writers_lose_nothing(crashloop, tmp_path: Path, phase: str):
    """Kill delays scale with one unit's time measured here first (a busy machine writes slower):
    after 1.5 to 4 units' time, at least 0.2 to 0.6 s."""
    unit = crashloop.unit_seconds(phase, tmp_path / "calibration")
    figures = crashloop.run_phase(
        phase, tmp_path / phase, kills=3, max_delay=max(0.6, 4 * unit), seed=1,
        min_delay=max(0.2, 1.5 * unit),
    )  # fmt: skip
    assert figures.failures == []
    assert figures.kills == 3
    assert figures.units_checked > 0, "no unit was committed before the kills"
    if phase != "results":
        assert figures.integrity_ok == 3  # PRAGMA integrity_check after every kill
    if phase == "save":
        assert figures.half_saved_listed == 0
        assert not list((tmp_path / phase / "projects").glob(".saving-*"))
    if phase == "results":
        assert not list((tmp_path / phase / "results").glob("*.tmp"))
        assert figures.truncations_rewritten >= 1  # cut in half: a miss, removed, rewritten
