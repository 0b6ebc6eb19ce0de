"""In Chromium: a precomputed project above HUGE_MAP_ABOVE points is drawn from typed arrays, and a
lasso around one cluster lists that cluster's documents, looked up on the server."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lib.batch.precompute import NO_LIMIT
from lib.cluster.clusters import ClusterParams
from lib.figures.huge import HUGE_MAP_ABOVE
from lib.ingest.corpus import corpus_from_frame
from lib.reduce.layouts import UMAPParams
from lib.share.projects import ProjectStore, ProjectView
from tests.browser.conftest import drag_lasso

pytestmark = pytest.mark.browser

N_POINTS = HUGE_MAP_ABOVE + 400
CORNERS = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])

DRAWN = """n => {
    const el = document.querySelector('.js-plotly-plot');
    if (!el || !el._fullData || !el._fullLayout || !el._fullLayout._glcanvas) return false;
    return el._fullData.reduce((total, trace) => total + (trace._length || 0), 0) === n;
}"""
TRACE_BOX = """name => {
    const el = document.querySelector('.js-plotly-plot');
    const box = el.getBoundingClientRect();
    const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
    const t = el._fullData.find(trace => trace.name === name);
    const xs = Array.from(t.x, x => box.left + xa._offset + xa.l2p(x));
    const ys = Array.from(t.y, y => box.top + ya._offset + ya.l2p(y));
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys), t.x.length];
}"""


@pytest.fixture(scope="module")
def huge_project_id() -> str:
    """A project of N_POINTS in four far-apart groups, saved where the test server looks."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, size=N_POINTS)
    coords = CORNERS[groups] + rng.normal(scale=5.0, size=(N_POINTS, 2))
    texts = [f"group {group} document {row}" for row, group in enumerate(groups)]
    corpus = corpus_from_frame(
        pd.DataFrame({"text": texts}), "text", source="huge", max_documents=NO_LIMIT
    )
    view = ProjectView.from_params(UMAPParams(), ClusterParams(method="kmeans", n_clusters=4))
    return ProjectStore().save(
        title="Huge", model_name=None, corpus=corpus,
        vectors=rng.normal(size=(N_POINTS, 8)).astype(np.float32), coords=coords,
        cluster_labels=groups, cluster_names={g: f"group {g}" for g in range(4)}, view=view,
    ).id  # fmt: skip


def test_a_lasso_on_a_huge_map_reads_the_cluster_it_circles(page, server_url, huge_project_id):
    page.goto(f"{server_url}/?project={huge_project_id}")
    page.wait_for_function(DRAWN, arg=N_POINTS, polling=200)
    payload = page.evaluate(
        """() => document.querySelector('.js-plotly-plot').data.map(t => [t.type,
            Object.keys(t).filter(k => ['text', 'hovertext', 'customdata'].includes(k))])"""
    )
    assert payload == [["scattergl", []]] * 4, "typed x/y only: no text or ids per point"

    page.evaluate("() => document.querySelector('.js-plotly-plot').scrollIntoView()")
    left, top, right, bottom, count = page.evaluate(TRACE_BOX, "group 1")  # bottom right
    left, top, right, bottom = left - 4, top - 4, right + 4, bottom + 4
    drag_lasso(page, left, top, right, bottom)
    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected$"))
    assert int(heading.inner_text().split()[0].replace(",", "")) == count
    page.get_by_text("The table shows the first 1,000 of them.").wait_for()
    focus = page.get_by_role("combobox", name="Look closer at").input_value()
    assert re.fullmatch(r"#(\d+) · group 1 document \1", focus), "server-side text of a row"
    assert page.locator('[data-testid="stException"]').count() == 0
