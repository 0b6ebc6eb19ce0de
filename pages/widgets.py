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


def honesty_metrics(report: HonestyReport, explained_variance: float | None = None) -> None:
    """A map's honesty in one row: true neighbours kept, trustworthiness, PCA's variance kept.

    The variance shows only for a PCA map (`explained_variance` not None); the report's note
    (measured on a sample) follows as a caption.
    """
    kept, trust, variance = st.columns(3)
    kept.metric(KEPT_LABEL, f"{report.mean:.0%}", help=f"k = {report.k}")
    trust.metric(TRUST_LABEL, f"{report.trustworthiness:.3f}")
    if explained_variance is not None:
        variance.metric(VARIANCE_LABEL, f"{explained_variance:.0%}")
    if report.note:
        st.caption(md(report.note))
