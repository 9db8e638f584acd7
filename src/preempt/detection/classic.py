"""Classic z-score exactly as SEED.md describes it: mean and standard deviation of the last 7 days,
flag |z| > 2. Kept as the baseline every figure is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preempt.detection.grid import DAY_S
from preempt.detection.robust import BoolArray, FloatArray, nan_count, nan_mean, nan_std


@dataclass(frozen=True, slots=True)
class ClassicParams:
    """window_s: history for mean/std (7 days); z_threshold: SEED.md's 2; min_samples: fewer
    history samples than this and the series is not ready (nothing flagged)."""

    window_s: float = 7 * DAY_S
    z_threshold: float = 2.0
    min_samples: int = 24


@dataclass(frozen=True, slots=True)
class ClassicFit:
    mean: FloatArray
    std: FloatArray
    z: FloatArray
    ready: BoolArray


def fit_classic(
    times: FloatArray, values: FloatArray, *, split_s: FloatArray, params: ClassicParams
) -> ClassicFit:
    """Mean/std of samples in [split - window, split); z of every sample against them."""
    split = split_s[:, None]
    hist = np.where((times < split) & (times >= split - params.window_s), values, np.nan)
    mean = nan_mean(hist)
    std = nan_std(hist)
    ready = (nan_count(hist) >= params.min_samples) & np.isfinite(mean)
    diff = values - mean[:, None]
    safe_std = np.where(std > 0, std, np.inf)[:, None]
    # zero spread: an equal value has z 0, any other value an infinite z (it never happened)
    z = np.where(std[:, None] > 0, diff / safe_std, np.where(diff == 0, 0.0, np.sign(diff) * 1e6))
    return ClassicFit(mean=mean, std=std, z=z, ready=ready)


def classic_ratio(fit: ClassicFit, params: ClassicParams) -> FloatArray:
    ratio = np.abs(fit.z) / params.z_threshold
    return np.where(fit.ready[:, None], np.nan_to_num(ratio, nan=0.0), 0.0)
