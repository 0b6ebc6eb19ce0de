"""The one colour rule of every figure: a category keeps its colour across pages and maps.

A category's colour comes from its rank in the corpus-wide category order (most documents
first, then by name), never from the order of traces in one figure: the Map page, the lessons and
both maps of Compare colour "sport" alike as long as they pass the corpus's whole column (or its
`CategoryColors`, for a figure that draws a subset). Past the palette's size the smallest
categories fold into "other" instead of reusing a hue.

The palette is Plotly's D3 (category10) without its grey, extended greedily (each colour the
sRGB candidate farthest in CIELAB from all chosen so far, the greys, black and white; lightness
30–82, chroma at least 30): any two of its 20 colours are at least 27 CIELAB units apart. The
catch-all groups get two greys no palette colour is near: "other" (folded small categories)
darker, "unclustered" (HDBSCAN noise) light. Rings around selected points are black with a white
halo, outside the palette, so a ring never looks like a point of some category.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.cluster.clusters import NOISE_NAME

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#0000ff", "#ff1eff", "#4b5a0f", "#690fb4", "#f0b478", "#00e100", "#ff0078",
    "#96d296", "#0078ff", "#960f4b", "#00785a",
)  # fmt: skip
OTHER = "other"
OTHER_COLOR = "#7a7a7a"
NOISE_COLOR = "#d0d0d0"
CATCH_ALL = (OTHER, NOISE_NAME)
CATCH_ALL_COLORS = {OTHER: OTHER_COLOR, NOISE_NAME: NOISE_COLOR}
RING_COLOR = "#000000"  # selection rings: black ...
RING_HALO = "#ffffff"  # ... on a white halo, visible on any point colour
MISSING = "missing"


@dataclass(frozen=True)
class CategoryColors:
    """The categories a figure draws, in legend order, and the colour of each.

    order: categories with their own colour (most documents first, then by name), then "other"
    and "unclustered" when present. colors: category -> hex colour for every entry of `order`.
    """

    order: tuple[str, ...]
    colors: Mapping[str, str]

    def fold(self, values: object) -> np.ndarray:
        """Each value as drawn: its category, or "other" when it has no colour of its own."""
        text = category_text(values)
        return np.array([v if v in self.colors else OTHER for v in text], dtype=object)


def category_text(values: object) -> np.ndarray:
    """Category values as strings (missing values are "missing")."""
    series = pd.Series(np.asarray(values, dtype=object))
    return series.where(series.notna(), MISSING).astype(str).to_numpy(dtype=object)


def category_colors(values: object, limit: int = len(PALETTE)) -> CategoryColors:
    """The colour of each category of `values` (one per document of the whole corpus).

    The `limit` (at most the palette's size) biggest categories get the palette's colours in
    rank order; the rest fold into "other". Pass the corpus-wide column, not a figure's subset,
    so every figure gives a category the same colour.
    """
    return colors_by_size(Counter(category_text(values).tolist()), limit)


def colors_by_size(counts: Mapping[str, int], limit: int = len(PALETTE)) -> CategoryColors:
    """`category_colors` from the number of documents of each category."""
    limit = min(limit, len(PALETTE))
    named = sorted((c for c in counts if c not in CATCH_ALL), key=lambda c: (-counts[c], c))
    colors = {category: PALETTE[rank] for rank, category in enumerate(named[:limit])}
    catch_all = [c for c in CATCH_ALL if c in counts or (c == OTHER and len(named) > limit)]
    colors.update({c: CATCH_ALL_COLORS[c] for c in catch_all})
    return CategoryColors(tuple([*named[:limit], *catch_all]), colors)
