"""Heat waves and cold snaps: temperature and dew point of one place far from normal the same
way at once. A change of air mass moves both; a faulty sensor moves one. Either reading alone
needs a long residual of `long_z_threshold` (7) robust units to be news, because a warm or cold
spell is weather; two independent readings that agree at `threshold` each (5) are as rare and
confirm each other, so the spell is flagged on both before either crosses its own line.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import FloatArray


def spell_ratio(
    z_long: FloatArray, triples: npt.NDArray[np.int64], *, threshold: float
) -> FloatArray:
    """(S, n): min(|z_T|, |z_Td|) / threshold on the temperature and dew point rows of each
    triple (from consistency.magnus_triples) where both long z have the same sign; else 0.
    z_long: each row's long-residual z (NaN where unknown)."""
    out = np.zeros(z_long.shape, dtype=np.float64)
    if triples.size == 0:
        return out
    z_t, z_td = z_long[triples[:, 0]], z_long[triples[:, 1]]
    same_way = np.sign(z_t) == np.sign(z_td)
    both = np.where(same_way, np.minimum(np.abs(z_t), np.abs(z_td)), 0.0)
    ratio = np.nan_to_num(both, nan=0.0) / threshold
    out[triples[:, 0]] = ratio
    out[triples[:, 1]] = ratio
    return out
