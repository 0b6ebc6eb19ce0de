"""Every page, opened by a new visitor on a hosted server, on a saved UMAP project and on a
project above the huge-map threshold: each renders without an exception, fits no UMAP and offers
no saving.

The projects are saved once per module (data on disk, not a session); every test opens a new
session through the project's share link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from lib.batch.precompute import NO_LIMIT
from lib.cluster.clusters import ClusterParams
from lib.ingest.corpus import corpus_from_frame
from lib.reduce.layouts import UMAPParams
from lib.share.projects import ProjectStore, ProjectView
from tests.apptest_tools import new_app
from tests.conftest import FakeModel, make_topic_texts

PAGES = ["map", "corpus", "arithmetic", "words", "axes", "tour", "lessons"]
HUGE_PER_TOPIC = 6_300  # 8 topics: 50,400 points, above the huge-map threshold (50,000)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("every-page-home")


def save(home: Path, texts: list[str], labels: list[str], vectors: np.ndarray, coords, title):
    """A UMAP project with no text model, saved as the app saves one."""
    frame = pd.DataFrame({"text": texts, "topic": labels})
    corpus = corpus_from_frame(frame, "text", source=title, max_documents=NO_LIMIT)
    codes = np.unique(labels, return_inverse=True)[1]
    view = ProjectView.from_params(
        UMAPParams(n_epochs=50), ClusterParams(method="kmeans", n_clusters=8), dimensions=2,
        color_by="found clusters",
    )  # fmt: skip
    return ProjectStore(home / "projects").save(
        title=title, model_name=None, corpus=corpus, vectors=vectors, coords=coords,
        cluster_labels=codes, cluster_names={int(c): f"topic {c}" for c in np.unique(codes)},
        view=view,
    )  # fmt: skip


def umap_project(home: Path):
    """80 fake-model documents on a saved UMAP view (its coordinates stand in for a fit: the
    pages must never fit one, and these tests fail if any does)."""
    texts, labels = make_topic_texts(per_topic=10, seed=9)
    vectors = FakeModel().encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    coords = PCA(n_components=2, random_state=0).fit_transform(vectors).astype(np.float32)
    return save(home, texts, labels, vectors, coords, "UMAP demo")


def huge_project(home: Path):
    """50,400 documents in 8 groups, placed around their group's spot (a precomputed map)."""
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(8), HUGE_PER_TOPIC)
    vectors = rng.normal(size=(8, 32))[codes] + rng.normal(scale=0.5, size=(len(codes), 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    coords = rng.normal(scale=10, size=(8, 2))[codes] + rng.normal(size=(len(codes), 2))
    texts = [f"document {i} of group {code}" for i, code in enumerate(codes)]
    return save(home, texts, [f"g{c}" for c in codes], vectors, coords, "Huge demo")


@pytest.fixture(scope="module")
def projects(home) -> dict[str, str]:
    return {"umap": umap_project(home).id, "huge": huge_project(home).id}


@pytest.fixture
def hosted(home, monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(home))
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    import umap

    def no_fit(*args, **kwargs):
        raise AssertionError("a hosted server must not fit UMAP for a visitor")

    monkeypatch.setattr(umap.UMAP, "fit", no_fit)
    monkeypatch.setattr(umap.UMAP, "fit_transform", no_fit)


@pytest.mark.parametrize("kind", ["umap", "huge"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_serves_a_saved_project_on_a_hosted_server(hosted, projects, page, kind):
    at = new_app(timeout=120)
    at.query_params["project"] = projects[kind]
    at.run()
    assert not at.exception, at.exception
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    assert "map_save" not in [button.key for button in at.button]
    assert not at.get("file_uploader")
