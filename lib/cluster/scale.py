"""Clusters of big corpora: the clusterer runs on the fitted points of a sampled map and every
other point takes the label of its nearest fitted point in the clustering space."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from lib.cluster.clusters import (
    NOISE,
    Clustering,
    ClusterParams,
    cluster_corpus,
    clustering_space,
    find_clusters,
    name_clusters,
)
from lib.errors import ParameterError
from lib.reduce.scale import ScaledProjection, nearest_rows

logger = logging.getLogger(__name__)


def cluster_at_scale(
    vectors: np.ndarray,
    texts: Sequence[str],
    params: ClusterParams,
    mapped: ScaledProjection,
) -> Clustering:
    """Cluster the fitted points; every transformed point takes its nearest fitted point's label.

    Names come from c-TF-IDF over all texts (a sparse term matrix, never densified). With no
    transformed points this is `cluster_corpus`.
    """
    if len(texts) != len(vectors) or len(vectors) != len(mapped.fitted_mask):
        raise ParameterError(
            f"Got {len(texts)} texts, {len(vectors)} vectors and a map of "
            f"{len(mapped.fitted_mask)} points; they must match."
        )
    if mapped.fitted_mask.all():
        return cluster_corpus(vectors, texts, params, map_coords=mapped.coords)
    space = clustering_space(vectors, params, mapped.coords)
    fitted = np.flatnonzero(mapped.fitted_mask)
    rest = np.flatnonzero(~mapped.fitted_mask)
    labels = np.empty(len(vectors), dtype=np.int64)
    labels[fitted] = find_clusters(space[fitted], params)
    labels[rest] = labels[fitted][nearest_rows(space[fitted], space[rest])]
    ids, counts = np.unique(labels, return_counts=True)
    sizes = {int(c): int(k) for c, k in zip(ids, counts, strict=True)}
    logger.info("%d clusters from %d fitted points", len(sizes) - (NOISE in sizes), len(fitted))
    return Clustering(labels, name_clusters(texts, labels), sizes)
