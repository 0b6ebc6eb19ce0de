"""The Ray Data engine on a local Ray (num_cpus=2): same vectors and project as the local path.

Ray is never started in the pytest process: starting it replaces builtins.print, after which
numba compiles in the same process fail. One `python -m tests.ray_worker` process runs the
scenarios the selected tests need on one local Ray (starting one costs ~10 s) and writes what it
found; the command line is run as `python -m lib.precompute`, as a user would.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lib.batch.precompute import share_path
from lib.batch.ray_engine import RAY_REQUIREMENT, RaySettings, _block_count
from lib.embed.models import embed_texts
from lib.errors import ParameterError
from lib.share.projects import ProjectStore
from lib.store.caches import CACHE_FILE_NAME, EmbeddingCache, text_key
from tests import ray_worker
from tests.conftest import FakeModel, make_topic_texts

ROOT = Path(__file__).resolve().parent.parent
N_PER_TOPIC = 250  # 8 topics: 2,000 documents
N_DOCUMENTS = 8 * N_PER_TOPIC
WORKER_TIMEOUT_S = 600
CLI_TIMEOUT_S = 300
RAY_INSTALLED = importlib.util.find_spec("ray") is not None
PRINT = builtins.print

needs_ray = pytest.mark.skipif(
    not RAY_INSTALLED, reason="Ray is not installed; run: pip install -r requirements-dev.txt"
)


def uses(*scenarios: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test as reading these tests.ray_worker scenarios (only those selected are run)."""
    unknown = set(scenarios) - set(ray_worker.SCENARIOS)
    assert not unknown, f"no such scenario in tests/ray_worker.py: {sorted(unknown)}"

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        test.ray_scenarios = scenarios  # type: ignore[attr-defined]
        return needs_ray(pytest.mark.ray(test))

    return mark


def _env(home: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_HOME": str(home), "PYTHONPATH": path}


def _run(args: list[str], home: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    """Run a Python module in a fresh process (its own session, so a timeout kills all of it)."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"{' '.join(args[:3])} ran over {timeout} s; stderr ends:\n{err[-3000:]}")
    return subprocess.CompletedProcess(args, process.returncode, out, err)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    texts, labels = make_topic_texts(per_topic=N_PER_TOPIC, seed=3)
    path = tmp_path_factory.mktemp("ray-corpus") / "topics.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ray_run(request, tmp_path_factory, corpus_file) -> tuple[Path, dict[str, Any]]:
    """One worker process for every scenario the selected tests of this module use."""
    wanted = sorted(
        {
            name
            for item in request.session.items
            if item.module is request.module
            for name in getattr(item.function, "ray_scenarios", ())
        }
    )
    out = tmp_path_factory.mktemp("ray-run")
    result = _run(
        ["-m", "tests.ray_worker", str(out), str(corpus_file), *wanted],
        out / "home",
        WORKER_TIMEOUT_S,
    )
    if result.returncode != 0 or not (out / ray_worker.RESULTS_FILE).exists():
        pytest.fail(f"the Ray worker exited {result.returncode}:\n{result.stderr[-5000:]}")
    return out, json.loads((out / ray_worker.RESULTS_FILE).read_text(encoding="utf-8"))


def scenario(ray_run: tuple[Path, dict[str, Any]], name: str) -> dict[str, Any]:
    found = ray_run[1].get(name)
    assert found is not None, f"the Ray worker did not run {name!r}"
    if "error" in found:
        pytest.fail(f"scenario {name!r} failed in the Ray worker:\n{found['error']}")
    return found


@uses("parity")
def test_ray_and_local_paths_give_the_same_vectors_and_project(ray_run, corpus_file):
    out, _ = ray_run
    ids = scenario(ray_run, "parity")
    local = ProjectStore(out / "parity-local" / "projects").load(ids["local"])
    on_ray = ProjectStore(out / "parity-ray" / "projects").load(ids["ray"])

    texts = pd.read_csv(corpus_file)["text"].tolist()
    assert len(on_ray.corpus) == N_DOCUMENTS and on_ray.corpus.texts == tuple(texts)
    np.testing.assert_allclose(on_ray.vectors, local.vectors, rtol=0, atol=1e-6)
    expected = embed_texts(texts, FakeModel()).vectors
    np.testing.assert_allclose(local.vectors, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(on_ray.coords, local.coords)
    np.testing.assert_array_equal(on_ray.cluster_labels, local.cluster_labels)
    assert on_ray.cluster_names == local.cluster_names
    assert len(set(on_ray.cluster_labels.tolist())) == 8
    cache = EmbeddingCache(out / "parity-ray" / CACHE_FILE_NAME)
    assert cache.count(FakeModel.model_id) == N_DOCUMENTS


@uses("resume", "parity")
def test_a_killed_ray_run_restarted_embeds_only_the_remainder(ray_run, corpus_file):
    out, _ = ray_run
    found = scenario(ray_run, "resume")
    texts = pd.read_csv(corpus_file)["text"].tolist()
    cached = set(found["cached_keys"])
    remainder = [text for text in texts if text_key(text) not in cached]

    assert found["interrupted"]
    assert ray_worker.INTERRUPT_AT <= len(cached) < N_DOCUMENTS
    assert cached <= {text_key(text) for text in found["first_encoded"]}
    # the restarted run sent the workers exactly the texts the stopped one had not cached
    assert sorted(found["second_encoded"]) == sorted(remainder)
    assert (
        f"reused {len(cached):,} of {N_DOCUMENTS:,} from the cache; embedded {len(remainder):,} in"
    ) in "\n".join(found["log"])
    project = ProjectStore(out / "resume" / "projects").load(found["project"])
    local = ProjectStore(out / "parity-local" / "projects").load(
        scenario(ray_run, "parity")["local"]
    )
    np.testing.assert_allclose(project.vectors, local.vectors, rtol=0, atol=1e-6)
    assert project.corpus.texts == local.corpus.texts


@uses("only_missing")
def test_ray_sends_only_texts_missing_from_the_cache(ray_run):
    found = scenario(ray_run, "only_missing")
    texts = found["texts"]
    seen = [tuple(pair) for pair in found["progress"]]

    assert len(texts) == 210 and found["computed"] == 80
    assert sorted(found["encoded"]) == sorted(texts[120:200])
    assert seen[0] == (120, 200) and seen[-1] == (200, 200)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    cache = EmbeddingCache(Path(found["cache"]))
    stored = cache.get_many(FakeModel.model_id, [text_key(text) for text in texts])
    assert len(stored) == 200
    np.testing.assert_allclose(
        np.stack([stored[text_key(text)] for text in texts[120:200]]),
        FakeModel().encode(texts[120:200]),
        atol=1e-6,
    )
    assert found["computed_again"] == 0


@uses("failing_model")
def test_a_model_that_fails_on_the_workers_is_one_model_error(ray_run):
    found = scenario(ray_run, "failing_model")

    assert found["type"] == "ModelError", found
    assert re.fullmatch(
        r"The Ray run failed: .*Could not load model 'no-such-org/no-such-model'[^\n]*\. "
        r"Every worker needs requirements.txt and requirements-ray.txt installed "
        r"\(same versions as here\)\.",
        found["message"],
    ), found["message"]
    assert EmbeddingCache(Path(found["cache"])).count() == 0


@pytest.mark.model
@pytest.mark.ray
@needs_ray
def test_cli_on_ray_loads_the_model_by_name_on_the_workers(tmp_path, real_model):
    texts = [f"sentence number {i} about {word}" for i, word in enumerate(["cats", "tax"] * 20)]
    corpus = tmp_path / "sentences.csv"
    pd.DataFrame({"text": texts}).to_csv(corpus, index=False)
    home = tmp_path / "home"
    cache = EmbeddingCache(home / CACHE_FILE_NAME)
    embed_texts(texts[:25], real_model, cache=cache)  # what a stopped run would have left
    cache.close()

    result = _run(
        [
            "-m",
            "lib.precompute",
            str(corpus),
            "--engine",
            "ray",
            "--ray-actors",
            "1",
            "--batch-size",
            "4",
            "--cluster",
            "kmeans",
            "--n-clusters",
            "2",
            "--home",
            str(home),
        ],
        home,
        CLI_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stderr
    project_id, path = result.stdout.splitlines()
    assert path == share_path(project_id)
    assert "reused 25 of 40 from the cache; embedded 15 in" in result.stderr
    project = ProjectStore(home / "projects").load(project_id)
    assert project.model_name == "all-MiniLM-L6-v2" and project.corpus.texts == tuple(texts)
    np.testing.assert_allclose(
        project.vectors, embed_texts(texts, real_model).vectors, rtol=0, atol=1e-5
    )


RAY_MISSING = (
    "import runpy, sys; sys.modules['ray'] = None; sys.argv[0] = 'lib.precompute'; "
    "runpy.run_module('lib.precompute', run_name='__main__')"
)


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        pytest.param(
            ["-m", "lib.precompute"],
            ["--ray-actors", "0"],
            "error: The 'actors' parameter of RaySettings must be an int in the range [1, inf). "
            "Got 0 instead.",
            marks=needs_ray,
            id="no actors",
        ),
        pytest.param(
            ["-m", "lib.precompute"],
            ["--ray-address", "127.0.0.1:1"],
            "error: Could not start or reach Ray at '127.0.0.1:1' (nothing answers at "
            "127.0.0.1:1: Connection refused). Start a cluster with `ray start --head` and pass "
            "its address, or leave --ray-address out for a local Ray.",
            marks=[needs_ray, pytest.mark.model],
            id="unreachable cluster",
        ),
        pytest.param(
            ["-c", RAY_MISSING],
            [],
            "error: The 'ray' engine needs Ray Data, which is not installed here; run: "
            + " ".join(RAY_REQUIREMENT.split()),
            id="ray not installed",
        ),
    ],
)
def test_cli_on_ray_bad_input_exits_1_with_one_error_line(tmp_path, command, extra, message):
    corpus = tmp_path / "three.csv"
    pd.DataFrame({"text": ["one document", "another document", "a third"]}).to_csv(
        corpus, index=False
    )
    home = tmp_path / "home"
    argv = [*command, str(corpus), "--text-column", "text", "--engine", "ray", *extra]

    result = _run(argv, home, CLI_TIMEOUT_S)

    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [message], result.stderr
    assert result.stderr.rstrip("\n").endswith(message)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("rows", "actors", "batch", "blocks"),
    [(10, 2, 64, 8), (3, 4, 64, 3), (2000, 2, 64, 8), (100_000, 2, 64, 98), (100_000, 50, 64, 200)],
)
def test_block_count_keeps_every_actor_busy(rows, actors, batch, blocks):
    assert _block_count(rows, RaySettings(actors=actors), batch) == blocks


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (
            {"actors": 0},
            r"'actors' parameter of RaySettings must be an int in the range \[1, inf\)",
        ),
        ({"address": ""}, r"'address' parameter of RaySettings must be a Ray address"),
    ],
)
def test_ray_settings_refuse_bad_values(settings, match):
    with pytest.raises(ParameterError, match=match):
        RaySettings(**settings)


def test_the_batch_modules_import_ray_only_to_run():
    """What the pytest process does with the batch modules (import them, validate settings, size
    blocks, name a share) leaves Ray unimported and print untouched. Checked in a fresh
    interpreter, so no other test's import can hide it and the order of tests does not matter."""
    code = (
        "import builtins, sys\n"
        "printer = builtins.print\n"
        "import lib.batch.precompute\n"
        "from lib.batch.ray_engine import RaySettings, _block_count\n"
        "assert _block_count(2000, RaySettings(actors=2), 64) == 8\n"
        "imported = sorted(name for name in sys.modules if name.split('.')[0] == 'ray')\n"
        "assert not imported, imported\n"
        "assert builtins.print is printer\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert builtins.print is PRINT
