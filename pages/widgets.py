"""Display pieces several pages show the same way (not a page itself).

Each draws into the current Streamlit container (use `with column:` to place it).
"""

from __future__ import annotations

import streamlit as st

from lib.measure.honesty import HonestyReport
from pages._common import md

KEPT_LABEL = "True neighbours kept (mean)"
TRUST_LABEL = "Trustworthiness"
VARIANCE_LABEL = "Variance kept by PCA"
# Narrow columns (three maps side by side at 1500 px) cut longer labels ("True neigh…")
SHORT_LABELS = {KEPT_LABEL: "Neighbours kept", VARIANCE_LABEL: "Variance kept"}
HELP = {
    KEPT_LABEL: "True neighbours kept (mean): the share of each document's {k} nearest "
    "neighbours in full dimension that are also among its {k} nearest on the map.",
    TRUST_LABEL: "1 = the map shows no false neighbours.",
    VARIANCE_LABEL: "Variance kept by PCA: the share of the vectors' variance the two (or "
    "three) PCA axes keep.",
}


def honesty_metrics(
    report: HonestyReport, explained_variance: float | None = None, *, narrow: bool = False
) -> None:
    """A map's honesty: true neighbours kept, trustworthiness, PCA's variance kept.

    The variance shows only for a PCA map (`explained_variance` not None); the report's note
    (measured on a sample) follows as a caption. `narrow` (a map in a third of the page): short
    labels, the long ones in their help, two metrics per row, so no label is cut.
    """
    shown = [(KEPT_LABEL, f"{report.mean:.0%}"), (TRUST_LABEL, f"{report.trustworthiness:.3f}")]
    if explained_variance is not None:
        shown.append((VARIANCE_LABEL, f"{explained_variance:.0%}"))
    per_row = 2 if narrow else 3
    for start in range(0, len(shown), per_row):
        columns = st.columns(per_row)
        for column, (label, value) in zip(columns, shown[start : start + per_row], strict=False):
            name = SHORT_LABELS.get(label, label) if narrow else label
            column.metric(name, value, help=HELP[label].format(k=report.k))
    if report.note:
        st.caption(md(report.note))
