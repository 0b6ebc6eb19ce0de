"""The Map page's search box and metadata filters, and the documents table they filter.

What they keep is drawn on the map (hits at full strength, the rest faded), listed in the
table (a row picked there is ringed on the map) and counted per cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.emphasis import emphasis
from lib.ingest.corpus import Corpus
from lib.query.filters import (
    CATEGORICAL,
    DATE,
    Filter,
    FilterColumn,
    column_histogram,
    filter_mask,
    infer_filters,
)
from lib.query.search import (
    KEYWORD,
    MAX_QUERY_CHARS,
    MEANING,
    REGEX,
    SearchParams,
    SearchResult,
    search_meaning,
    search_texts,
)
from lib.service.engine import Embedding
from pages import state
from pages._common import md, show_error, text_embedder

SEARCH_MODES = {"Keyword": KEYWORD, "Regex": REGEX, "Meaning": MEANING}
PLACEHOLDERS = {
    KEYWORD: "computer",
    REGEX: r"comput(er|ing)\b",
    MEANING: "a question about money",
}
MAX_FILTER_COLUMNS = 8
TABLE_ROWS = 1_000


@dataclass(frozen=True)
class Finding:
    """What the search and the filters keep of n rows (None: that part is not in use)."""

    n: int
    hits: SearchResult | None = None
    kept: np.ndarray | None = None
    filters: tuple[Filter, ...] = ()
    ranked: bool = False  # the hits are best first (a search by meaning)

    @property
    def active(self) -> bool:
        return self.hits is not None or self.kept is not None

    def shown(self) -> np.ndarray:
        """(n,) bool: the rows both the search and the filters keep."""
        shown = np.ones(self.n, dtype=bool) if self.kept is None else self.kept.copy()
        if self.hits is not None:
            shown &= self.hits.mask(self.n)
        return shown

    def rows(self) -> np.ndarray:
        """The rows shown, in table order: best first for a search by meaning, else in order."""
        if self.hits is not None and self.ranked:
            keep = self.shown()
            return self.hits.rows[keep[self.hits.rows]]
        return np.flatnonzero(self.shown())

    def opacity(self) -> np.ndarray | None:
        """Per-row opacity for the map (None when nothing is chosen)."""
        shown = self.hits.mask(self.n) if self.hits is not None else None
        return emphasis(self.n, shown, self.kept)

    def token(self) -> str:
        """Names what is found (the table's key, so a new search starts a fresh selection)."""
        hits = b"" if self.hits is None else self.hits.rows.tobytes()
        kept = b"" if self.kept is None else np.packbits(self.kept).tobytes()
        return hashlib.sha256(hits + b"|" + kept).hexdigest()[:12]


def find_controls(corpus: Corpus, found: Embedding) -> Finding:
    """The search box and the filters; what they keep."""
    st.session_state.setdefault(state.MAP_SEARCH_MODE, "Keyword")
    query_col, mode_col = st.columns([3, 2], vertical_alignment="bottom")
    mode_label = mode_col.segmented_control(
        "Search by", list(SEARCH_MODES), key=state.MAP_SEARCH_MODE, persist_state="session",
        help="Keyword: every word appears (any case). Regex: a regular expression (RE2 syntax "
        "where installed). Meaning: the documents nearest the query's embedding.",
    )  # fmt: skip
    mode = SEARCH_MODES.get(mode_label or "Keyword", KEYWORD)
    query = query_col.text_input(
        "Search the texts", key=state.MAP_SEARCH, persist_state="session",
        max_chars=MAX_QUERY_CHARS, placeholder=PLACEHOLDERS[mode],
    )  # fmt: skip
    hits = _search(corpus, found, query, mode)
    filters = filter_controls(corpus)
    kept = _kept(corpus, filters)
    return Finding(len(corpus), hits, kept, filters, ranked=mode == MEANING)


def _search(corpus: Corpus, found: Embedding, query: str, mode: str) -> SearchResult | None:
    if not query.strip():
        return None
    try:
        if mode != MEANING:
            hits = search_texts(corpus.texts, SearchParams(query, mode=mode))
        else:
            embed = text_embedder()
            if embed is None:
                st.info("Search by meaning needs a text model; these vectors were uploaded.")
                return None
            limit = st.session_state.setdefault(state.MAP_SEARCH_LIMIT, 50)
            params = SearchParams(query, mode=mode, limit=int(limit))
            hits = search_meaning(found.vectors, embed([query])[0], params)
    except EmbedscopeError as error:
        show_error(error)
        return None
    if hits.note:
        st.caption(md(hits.note))
    return hits


def filter_controls(corpus: Corpus) -> tuple[Filter, ...]:
    """A filter widget per filterable metadata column; the filters in use."""
    columns = infer_filters(corpus.metadata)[:MAX_FILTER_COLUMNS]
    if not columns:
        state.set_map_filters(())
        return ()
    _preset(columns, state.take_linked_filters())
    in_use = bool(state.map_filters())
    with st.expander("Filter by metadata", icon=":material/filter_alt:", expanded=in_use):
        chosen = [_filter_widget(corpus, column) for column in columns]
    filters = tuple(item for item in chosen if item is not None)
    state.set_map_filters(filters)
    return filters


def _kept(corpus: Corpus, filters: tuple[Filter, ...]) -> np.ndarray | None:
    if not filters:
        return None
    return filter_mask(corpus.metadata, filters)


def _bounds(column: FilterColumn) -> tuple:
    if column.kind == DATE:
        return date.fromisoformat(column.low), date.fromisoformat(column.high)
    return column.low, column.high


def _preset(columns: tuple[FilterColumn, ...], linked: tuple[Filter, ...] | None) -> None:
    """Widgets start at their full range; a share link's filters preset them (clipped)."""
    by_name = {item.column: item for item in linked or ()}
    for column in columns:
        key = state.filter_widget_key(column.name)
        chosen = by_name.get(column.name)
        if column.kind == CATEGORICAL:
            if chosen is not None and chosen.kind == CATEGORICAL:
                state.set_widget(key, [v for v in chosen.values if v in column.values])
            continue
        low, high = _bounds(column)
        if chosen is not None and chosen.kind == column.kind:
            ends = _bounds(_linked_range(column, chosen))
            start, end = max(low, ends[0]), min(high, ends[1])
            state.set_widget(key, (start, end) if start <= end else (low, high))
        else:
            st.session_state.setdefault(key, (low, high))


def _linked_range(column: FilterColumn, chosen: Filter) -> FilterColumn:
    """The column with a linked filter's ends (an open end: the column's own)."""
    low = column.low if chosen.low is None else chosen.low
    high = column.high if chosen.high is None else chosen.high
    return FilterColumn(column.name, column.kind, low=low, high=high)


def _filter_widget(corpus: Corpus, column: FilterColumn) -> Filter | None:
    key = state.filter_widget_key(column.name)
    if column.kind == CATEGORICAL:
        values = st.multiselect(
            column.name, column.values, key=key, placeholder="All values", persist_state="session"
        )
        return Filter(column.name, CATEGORICAL, values=tuple(values)) if values else None
    low, high = _bounds(column)
    if low == high:
        return None
    histogram = column_histogram(corpus.metadata, column, bins=40)
    st.bar_chart(histogram, x="start", y="count", height=90, x_label="", y_label="")
    if column.kind == DATE:
        start, end = st.slider(column.name, low, high, key=key, persist_state="session")
        if (start, end) == (low, high):
            return None
        return Filter(column.name, DATE, low=start.isoformat(), high=end.isoformat())
    start, end = st.slider(column.name, float(low), float(high), key=key, persist_state="session")
    if (start, end) == (low, high):
        return None
    return Filter(column.name, column.kind, low=float(start), high=float(end))


def found_caption(finding: Finding) -> None:
    """How many documents the search and filters keep."""
    if not finding.active:
        return
    parts = []
    if finding.hits is not None:
        parts.append(f"{finding.hits.count:,} match the search")
    if finding.kept is not None:
        parts.append(f"{int(finding.kept.sum()):,} pass the filters")
    shown = int(finding.shown().sum())
    st.markdown(f"**{shown:,} of {finding.n:,} documents shown** ({'; '.join(parts)}).")


def table_key(finding: Finding) -> str:
    return f"{state.MAP_TABLE}:{finding.token()}"


def picked_row(finding: Finding) -> int | None:
    """The corpus row picked in the documents table (from its last run), if any."""
    rows = finding.rows()[:TABLE_ROWS]
    positions = state.table_selection(table_key(finding))
    if positions and 0 <= positions[0] < len(rows):
        return int(rows[positions[0]])
    return None


def documents_table(
    finding: Finding,
    document_table: Callable[..., pd.DataFrame],
    show_focus: Callable[[int], None],
) -> None:
    """The documents shown (all when nothing is chosen); picking a row rings it on the map and
    lists its nearest neighbours."""
    rows = finding.rows()
    heading = f"{len(rows):,} documents found" if finding.active else "Documents"
    st.subheader(heading)
    if len(rows) > TABLE_ROWS:
        st.caption(f"The table lists the first {TABLE_ROWS:,}.")
    rows = rows[:TABLE_ROWS]
    columns = {}
    if finding.hits is not None and finding.hits.scores.size:
        score = dict(zip(finding.hits.rows.tolist(), finding.hits.scores.tolist(), strict=True))
        columns["score"] = [round(score.get(int(row), 0.0), 3) for row in rows]
    st.caption("Pick a row to ring it on the map and read its neighbours.")
    state.set_table_shown(table_key(finding))
    st.dataframe(
        document_table(rows.tolist(), **columns), key=table_key(finding), on_select="rerun",
        selection_mode="single-row", hide_index=True, height=min(400, 38 + 35 * max(len(rows), 1)),
    )  # fmt: skip
    picked = picked_row(finding)
    if picked is not None:
        st.markdown(f"**Picked:** #{picked}")
        show_focus(picked)
