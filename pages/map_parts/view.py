"""What the Map page shows, gathered once so its parts draw from one description."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from lib.cluster.clusters import Clustering, ClusterParams
from lib.figures.huge import HugeMap, category_labels, fitted_labels, huge_map_figure
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import Projection
from lib.service.engine import Embedding, LayoutParams
from lib.share.curation import Curation
from pages.state import Source

CLUSTER_COLOR = "found clusters"
HONESTY_COLOR = "map honesty (true neighbours kept)"
FITTED_COLOR = "fitted or placed by UMAP"


@dataclass(frozen=True)
class MapView:
    """The corpus, its vectors, the map and clusters drawn, and how the page may change them.

    fixed: the layout and clustering are as saved or as the server offers them (not editable);
    huge: a precomputed map above the huge-map threshold; fitted_mask: which points UMAP was
    fitted on (huge maps placed in part), None when all were. clusters: as shown (the
    curation's renames and merges applied); raw_clusters: as found (what a project saves,
    beside its `curation`), None when the same.
    """

    source: Source
    corpus: Corpus = field(repr=False)
    found: Embedding = field(repr=False)
    params: LayoutParams
    cluster_params: ClusterParams
    mapped: Projection = field(repr=False)
    clusters: Clustering = field(repr=False)
    color_choice: str
    fixed: bool
    huge: bool
    is_hosted: bool
    fitted_mask: np.ndarray | None = field(default=None, repr=False)
    figure: go.Figure | None = field(default=None, repr=False)
    curation: Curation = field(default_factory=Curation)
    raw_clusters: Clustering | None = field(default=None, repr=False)

    @property
    def found_clusters(self) -> Clustering:
        """The clustering as found, before the curation's renames and merges."""
        return self.clusters if self.raw_clusters is None else self.raw_clusters

    def huge_figure(self) -> HugeMap:
        """The huge map coloured by clusters, a label column, or fitted vs placed points."""
        if self.color_choice == CLUSTER_COLOR:
            return huge_map_figure(self.mapped.coords, self.clusters.labels, self.clusters.names)
        if self.color_choice == FITTED_COLOR:
            return huge_map_figure(self.mapped.coords, *fitted_labels(self.fitted_mask))
        column = self.corpus.metadata[self.color_choice]
        return huge_map_figure(self.mapped.coords, *category_labels(column))
