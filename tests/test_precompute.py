"""Precompute pipeline and CLI: projects the app opens, resuming from the cache, bad inputs."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.batch import precompute as precompute_module
from lib.batch.precompute import TerminalProgress, main, precompute, share_path
from lib.cluster.clusters import ClusterParams
from lib.embed.models import embed_texts
from lib.errors import ParameterError
from lib.reduce.layouts import UMAPParams
from lib.reduce.scale import ScaleParams
from lib.share.projects import ProjectStore
from lib.store.caches import CACHE_FILE_NAME, EmbeddingCache
from tests.conftest import FakeModel, make_topic_texts

ROOT = Path(__file__).resolve().parent.parent
FAST_LAYOUT = UMAPParams(n_epochs=30)
KMEANS = ClusterParams(method="kmeans", n_clusters=8)


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    """A CSV of 240 topic documents (8 topics x 30) with a label column."""
    texts, labels = make_topic_texts(per_topic=30)
    path = tmp_path / "topics.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return path


def _run(corpus_file: Path, home: Path, model, **options):
    options.setdefault("title", "Topics")
    return precompute(
        corpus_file,
        text_column="text",
        model=model,
        layout=FAST_LAYOUT,
        clustering=KMEANS,
        home=home,
        **options,
    )


def test_precompute_saves_a_project_the_store_reopens(corpus_file, tmp_path):
    project = _run(corpus_file, tmp_path / "home", FakeModel())

    reopened = ProjectStore(tmp_path / "home" / "projects").load(project.id)
    texts, labels = make_topic_texts(per_topic=30)
    expected = embed_texts(texts, FakeModel()).vectors
    assert reopened.corpus.texts == tuple(texts)
    assert reopened.corpus.metadata["topic"].tolist() == labels
    np.testing.assert_allclose(reopened.vectors, expected, atol=1e-6)
    assert reopened.coords.shape == (240, 2) and np.isfinite(reopened.coords).all()
    assert reopened.extra["fitted_mask"].dtype == bool and reopened.extra["fitted_mask"].all()
    assert reopened.model_name == FakeModel.model_id
    assert reopened.view.layout_params() == FAST_LAYOUT
    assert reopened.view.cluster_params() == KMEANS
    # Eight keyword topics, eight KMeans clusters: each cluster is (almost) one topic.
    frame = pd.DataFrame({"cluster": reopened.cluster_labels, "topic": labels})
    purity = frame.groupby("cluster")["topic"].agg(lambda s: s.value_counts().iloc[0]).sum()
    assert purity / len(frame) >= 0.95
    assert set(reopened.cluster_names) == set(reopened.cluster_labels.tolist())
    assert [summary.id for summary in ProjectStore(tmp_path / "home" / "projects").list()] == [
        project.id
    ]


def test_precompute_above_the_sample_size_fits_a_sample_and_places_the_rest(corpus_file, tmp_path):
    seen: list[tuple[str, int, int]] = []
    project = _run(
        corpus_file,
        tmp_path,
        FakeModel(),
        scale=ScaleParams(sample_size=100, chunk_size=70),
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )

    mask = project.extra["fitted_mask"]
    assert mask.sum() == 100 and len(mask) == 240
    assert np.isfinite(project.coords).all()
    assert [item for item in seen if item[0] == "place"] == [
        ("place", 0, 140),
        ("place", 70, 140),
        ("place", 140, 140),
    ]
    assert seen[-1][0] == "place" and ("embed", 240, 240) in seen


def test_a_killed_run_restarted_embeds_only_the_remainder(corpus_file, tmp_path, caplog):
    def stop_after_two_batches(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done >= 64:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(corpus_file, tmp_path, FakeModel(), batch_size=32, progress=stop_after_two_batches)
    assert EmbeddingCache(tmp_path / CACHE_FILE_NAME).count(FakeModel.model_id) == 64

    model = FakeModel()
    with caplog.at_level(logging.INFO, logger="lib.batch.precompute"):
        project = _run(corpus_file, tmp_path, model, batch_size=32)
    assert model.texts_encoded == 240 - 64
    assert "reused 64 of 240 from the cache" in caplog.text
    np.testing.assert_allclose(
        project.vectors, embed_texts(project.corpus.texts, FakeModel()).vectors, atol=1e-6
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"engine": "spark"}, r"'engine' parameter of precompute must be one of 'local', 'ray'"),
        ({"batch_size": 0}, r"'batch_size' parameter of precompute must be an int"),
        ({"title": "  "}, r"'title' parameter of ProjectStore.save must be a non-blank str"),
    ],
)
def test_precompute_refuses_bad_parameters_before_any_work(corpus_file, tmp_path, options, match):
    model = FakeModel()
    with pytest.raises(ParameterError, match=match):
        _run(corpus_file, tmp_path, model, **options)
    assert model.texts_encoded == 0


def _cli(corpus_file: Path, home: Path, *extra: str) -> list[str]:
    return [
        str(corpus_file),
        "--text-column",
        "text",
        "--title",
        "From the CLI",
        "--cluster",
        "kmeans",
        "--n-clusters",
        "8",
        "--home",
        str(home),
        *extra,
    ]


def test_cli_writes_a_project_and_prints_its_share_path(corpus_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(precompute_module, "load_model", lambda name: FakeModel())

    assert main(_cli(corpus_file, tmp_path, "--n-neighbors", "10", "--dims", "3")) == 0
    first = capsys.readouterr()
    project_id, path = first.out.splitlines()
    assert path == f"/?project={project_id}" == share_path(project_id)
    project = ProjectStore(tmp_path / "projects").load(project_id)
    assert project.title == "From the CLI" and project.coords.shape == (240, 3)
    assert project.view.dimensions == 3 and project.view.layout_params().n_neighbors == 10
    assert project.model_name == "all-MiniLM-L6-v2"
    assert "reused 0 of 240 from the cache" in first.err
    assert "embedding [" in first.err and "240/240" in first.err

    assert main(_cli(corpus_file, tmp_path)) == 0
    assert "reused 240 of 240 from the cache" in capsys.readouterr().err
    assert len(ProjectStore(tmp_path / "projects").list()) == 2


@pytest.mark.parametrize(
    ("argv_of", "message"),
    [
        (
            lambda good, tmp: [str(good), "--text-column", "body", "--home", str(tmp)],
            "error: column 'body' not found in topics.csv; available: 'text', 'topic'",
        ),
        (
            lambda good, tmp: [str(tmp / "missing.csv"), "--home", str(tmp)],
            f"error: cannot read {{tmp}}{os.sep}missing.csv: No such file or directory",
        ),
        (
            lambda good, tmp: [str(good), "--min-dist", "3", "--home", str(tmp)],
            "error: The 'min_dist' parameter of UMAPParams must be a float in the range "
            "[0.0, 1.0]. Got 3.0 instead.",
        ),
    ],
    ids=["missing column", "unreadable file", "bad parameter"],
)
def test_cli_bad_input_exits_1_with_one_line(corpus_file, tmp_path, capsys, argv_of, message):
    assert main(argv_of(corpus_file, tmp_path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [message.format(tmp=tmp_path)]


def test_cli_interrupted_says_how_to_resume(corpus_file, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(precompute_module, "precompute", interrupted)
    assert main(_cli(corpus_file, tmp_path)) == 130
    assert capsys.readouterr().err.splitlines() == [
        "interrupted: the vectors embedded so far are cached; run the same command again to resume."
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--text-column", "body"], "error: column 'body' not found in topics.csv"),
        (["--model", "no-such-org/no-such-model"], "error: Could not load model"),
    ],
    ids=["missing column", "unknown model"],
)
def test_cli_subprocess_bad_input_prints_one_line_and_no_traceback(
    corpus_file, tmp_path, extra, expected
):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "lib.precompute", str(corpus_file), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_terminal_progress_shows_rate_and_eta_and_ends_each_stage_with_a_newline():
    stream, clock = io.StringIO(), _Clock()
    bar = TerminalProgress(stream, min_interval=1.0, width=10, clock=clock)

    bar("embed", 500, 2000)  # cache hits reported at once: not counted in the rate
    clock.now = 5.0
    bar("embed", 1000, 2000)
    assert stream.getvalue().split("\r")[-1] == (
        "embedding [#####-----] 1,000/2,000  50% · 100/s · ETA 10s"
    )
    clock.now = 5.5
    bar("embed", 1100, 2000)  # within min_interval: not redrawn
    assert "1,100" not in stream.getvalue()
    clock.now = 20.0
    bar("embed", 2000, 2000)
    bar("place", 0, 10)
    frames = stream.getvalue().split("\r")
    assert len(frames) == 5  # the 1,100 update was skipped
    assert frames[3].endswith("\n")  # a finished stage ends its line; padding hides leftovers
    assert frames[3].rstrip() == "embedding [##########] 2,000/2,000 100% · 75/s · ETA 0s"
    assert frames[4] == "placing points [----------] 0/10   0% · 0/s · ETA --"
    bar.close()
    assert stream.getvalue().endswith("--\n")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (59, "59s"), (61, "1m01s"), (3600 * 2 + 7 * 60, "2h07m")]
)
def test_duration_text(seconds, text):
    assert precompute_module._duration(seconds) == text
