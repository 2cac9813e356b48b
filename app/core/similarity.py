"""The least-squares similarity (rotation, uniform scale, translation) between two 2-D point sets.

The closed form of Umeyama's estimate in the plane: with the points centred and read as complex numbers,
the rotation and scale are the one complex factor z = sum(conj(src) * dst) / sum(|src|^2). It is the
estimate scikit-image's SimilarityTransform gives (reflections excluded, as Umeyama excludes them), about
ten times faster than its SVD route, which matters once per face per frame.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def similarity_fit(src: npt.ArrayLike, dst: npt.ArrayLike) -> F64:
    """The 2x3 matrix M minimising sum |dst - M [src; 1]|^2 over similarities. ValueError when `src` has no
    extent (all points equal) or a value is not finite."""
    s = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if s.shape != d.shape or len(s) < 2:
        raise ValueError("a similarity needs two matching sets of at least two points")
    s_mean, d_mean = s.mean(axis=0), d.mean(axis=0)
    sc, dc = s - s_mean, d - d_mean
    norm = float((sc**2).sum())
    if not np.isfinite(norm) or norm <= 0.0 or not np.isfinite(dc).all():
        raise ValueError("degenerate points: no similarity fits them")
    a = float((sc[:, 0] * dc[:, 0] + sc[:, 1] * dc[:, 1]).sum()) / norm  # scale * cos(angle)
    b = float((sc[:, 0] * dc[:, 1] - sc[:, 1] * dc[:, 0]).sum()) / norm  # scale * sin(angle)
    rotation = np.array([[a, -b], [b, a]])
    return np.hstack([rotation, (d_mean - rotation @ s_mean)[:, None]])
