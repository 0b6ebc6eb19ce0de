"""Vectors and default maps of the bundled samples, shipped in data/samples/ (placeholder).

Being written for issue 15: `shipped_vectors` and `shipped_layout` answer None until then.
"""

from __future__ import annotations

import numpy as np


def shipped_vectors(corpus_content_hash: str, model_name: str) -> np.ndarray | None:
    """The shipped fp32 vectors of a bundled sample for `model_name`, or None."""
    return None


def shipped_layout(corpus_content_hash: str, model_name: str, params: object) -> np.ndarray | None:
    """The shipped map coordinates of a bundled sample for `params`, or None."""
    return None
