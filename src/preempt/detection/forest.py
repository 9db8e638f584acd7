"""Isolation Forest (Liu, Ting & Zhou 2008), one forest per series, built and scored for a whole
batch of series at once with numpy.

scikit-learn's IsolationForest costs ~10 ms per model to score and ~100 ms to fit, which is
minutes for 50,000 (location, metric) models; here every tree of every model is a fixed-depth
array (heap layout), so fitting is `depth` vectorised passes and scoring `depth` gathers.
The algorithm is the paper's: random feature, uniform split between the node's min and max,
subsample of `max_samples`, depth limit ceil(log2(max_samples)), path length + c(size) at a leaf,
score 2**(-E[h] / c(max_samples)). Raw scores are calibrated per model against its training
data so that score 0.5 sits at the (1 - contamination) quantile of the training scores.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt

from preempt.detection.robust import BoolArray, FloatArray, nan_median, nan_quantile

MIN_TRAIN_SAMPLES = 16
MIN_SPREAD = 0.05  # smallest raw-score distance between the training median and the cutoff


@dataclass(frozen=True, slots=True)
class ForestParams:
    """n_trees, max_samples (subsample per tree), contamination (share of training samples
    scored at or above 0.5), seed (same data + seed = same forest), chunk (models per pass)."""

    n_trees: int = 64
    max_samples: int = 64
    contamination: float = 0.002
    seed: int = 42
    chunk: int = 256


@dataclass(frozen=True, slots=True)
class Forests:
    """M fitted forests, one per row of the batch they were fitted on (arrays stacked on axis 0).

    feature/threshold: (M, trees, 2**depth - 1) split nodes in heap order; leaf_depth:
    (M, trees, 2**depth) path length at each leaf (+ c(size) for unsplit nodes); norm: c(psi);
    centre/cutoff: raw-score calibration; fill: per-feature training medians for NaN inputs;
    trained: False where the series had fewer than MIN_TRAIN_SAMPLES usable rows.
    """

    feature: npt.NDArray[np.int8]
    threshold: npt.NDArray[np.float32]
    leaf_depth: npt.NDArray[np.float32]
    norm: FloatArray
    centre: FloatArray
    cutoff: FloatArray
    fill: FloatArray
    trained: BoolArray
    depth: int

    def __len__(self) -> int:
        return int(self.norm.shape[0])

    def select(self, rows: npt.NDArray[np.int64] | list[int]) -> Forests:
        """The forests of the given rows, in that order."""
        idx = np.asarray(rows, dtype=np.int64)
        parts = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "depth"}
        return Forests(**{k: v[idx] for k, v in parts.items()}, depth=self.depth)


def stack_forests(parts: list[Forests]) -> Forests:
    """Concatenate forests fitted separately (same depth and tree count) into one batch."""
    if not parts:
        raise ValueError("no forests to stack")
    depth = parts[0].depth
    if any(p.depth != depth or p.feature.shape[1:] != parts[0].feature.shape[1:] for p in parts):
        raise ValueError("forests differ in depth or tree count")
    names = [f.name for f in fields(Forests) if f.name != "depth"]
    merged = {n: np.concatenate([getattr(p, n) for p in parts], axis=0) for n in names}
    return Forests(**merged, depth=depth)


def average_path_length(n: FloatArray) -> FloatArray:
    """c(n): average path length of an unsuccessful search in a binary search tree of n nodes."""
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 2.0)
    harmonic = np.log(safe - 1.0) + np.euler_gamma
    c = 2.0 * harmonic - 2.0 * (safe - 1.0) / safe
    return np.where(n > 2, c, np.where(n == 2, 1.0, 0.0))


def fit_forests(features: FloatArray, usable: BoolArray, params: ForestParams) -> Forests:
    """Fit one forest per row of `features` (M, n, F) on the rows where `usable` (M, n)."""
    usable = usable & np.all(np.isfinite(features), axis=2)
    depth = max(1, int(np.ceil(np.log2(max(params.max_samples, 2)))))
    fill = nan_median(np.where(usable[:, :, None], features, np.nan).transpose(0, 2, 1))
    fill = np.nan_to_num(fill, nan=0.0)
    rng = np.random.default_rng(params.seed)
    parts = []
    for lo in range(0, features.shape[0], params.chunk):
        hi = min(lo + params.chunk, features.shape[0])
        parts.append(_fit_chunk(features[lo:hi], usable[lo:hi], fill[lo:hi], depth, params, rng))
    return stack_forests(parts) if parts else _empty(features.shape[2], depth, params)


def raw_scores(forests: Forests, features: FloatArray) -> FloatArray:
    """The paper's anomaly score s(x) in (0, 1] for samples (M, m, F); 0.5 is "no distinction"."""
    out = np.empty(features.shape[:2], dtype=np.float64)
    step = max(1, 2_000_000 // max(1, forests.feature.shape[1] * max(1, features.shape[1])))
    for lo in range(0, features.shape[0], step):
        hi = min(lo + step, features.shape[0])
        out[lo:hi] = _score_chunk(forests.select(list(range(lo, hi))), features[lo:hi])
    return out


def calibrated_ratio(forests: Forests, features: FloatArray) -> FloatArray:
    """(raw - training median) / (cutoff - training median), >= 0; 1.0 is the decision line."""
    raw = raw_scores(forests, features)
    spread = np.maximum(forests.cutoff - forests.centre, 1e-6)[:, None]
    ratio = np.clip((raw - forests.centre[:, None]) / spread, 0.0, None)
    return np.where(forests.trained[:, None], ratio, 0.0)


def _fit_chunk(
    x: FloatArray,
    usable: BoolArray,
    fill: FloatArray,
    depth: int,
    params: ForestParams,
    rng: np.random.Generator,
) -> Forests:
    n_models, n_rows, n_feat = x.shape
    trees, psi_max = params.n_trees, min(params.max_samples, n_rows)
    n_trees = n_models * trees
    keys = rng.random((n_models, trees, n_rows), dtype=np.float32)
    keys[np.broadcast_to(~usable[:, None, :], keys.shape)] = np.inf
    if psi_max < n_rows:
        pick = np.argpartition(keys, psi_max - 1, axis=2)[:, :, :psi_max]
    else:
        pick = np.broadcast_to(np.arange(n_rows), (n_models, trees, n_rows))
    active = np.isfinite(np.take_along_axis(keys, pick, axis=2)).reshape(n_trees, psi_max)
    rows = (np.arange(n_models)[:, None, None] * n_rows + pick).reshape(n_trees, psi_max)
    xs = x.astype(np.float32).reshape(n_models * n_rows, n_feat)  # row-major: row * F + f
    x_flat = xs.ravel()
    n_internal, n_leaves = 2**depth - 1, 2**depth
    feature = np.zeros((n_trees, n_internal), dtype=np.int8)
    threshold = np.full((n_trees, n_internal), np.inf, dtype=np.float32)
    leaf = np.zeros((n_trees, n_leaves), dtype=np.float32)
    node = np.zeros((n_trees, psi_max), dtype=np.int64)
    tree_id = np.arange(n_trees, dtype=np.int64)[:, None]
    table = _path_table(psi_max)
    for level in range(depth):
        width = 2**level
        gid = tree_id * width + node
        feat = rng.integers(0, n_feat, size=n_trees * width, dtype=np.int64)
        v = x_flat[rows * n_feat + feat[gid]]
        group = gid[active]
        size = n_trees * width
        lo = np.full(size, np.inf, dtype=np.float32)
        hi = np.full(size, -np.inf, dtype=np.float32)
        np.minimum.at(lo, group, v[active])
        np.maximum.at(hi, group, v[active])
        count = np.bincount(group, minlength=size)
        split = (count >= 2) & (hi > lo)
        ends = (count >= 1) & ~split
        with np.errstate(invalid="ignore"):
            cut = lo + rng.random(size, dtype=np.float32) * (hi - lo)
        cut = np.where(split & (cut > lo), cut, np.where(split, hi, np.inf)).astype(np.float32)
        heap = (2**level - 1) + np.arange(width)
        threshold[:, heap] = cut.reshape(n_trees, width)
        feature[:, heap] = np.where(split, feat, 0).astype(np.int8).reshape(n_trees, width)
        leaf_pos = np.arange(width) << (depth - level)
        leaf_val = (level + table[count]).astype(np.float32).reshape(n_trees, width)
        leaf[:, leaf_pos] = np.where(ends.reshape(n_trees, width), leaf_val, leaf[:, leaf_pos])
        active = active & split[gid]
        node = 2 * node + (v >= cut[gid])
    gid = (tree_id * n_leaves + node)[active]
    count = np.bincount(gid, minlength=n_trees * n_leaves).reshape(n_trees, n_leaves)
    leaf = np.where(count > 0, depth + table[count], leaf).astype(np.float32)
    n_usable = usable.sum(axis=1)
    psi = np.minimum(n_usable, psi_max).astype(np.float64)
    fitted = Forests(
        feature=feature.reshape(n_models, trees, n_internal),
        threshold=threshold.reshape(n_models, trees, n_internal),
        leaf_depth=leaf.reshape(n_models, trees, n_leaves),
        norm=np.maximum(average_path_length(psi), 1e-9),
        centre=np.zeros(n_models),
        cutoff=np.ones(n_models),
        fill=fill,
        trained=n_usable >= MIN_TRAIN_SAMPLES,
        depth=depth,
    )
    train_raw = np.where(usable, _score_chunk(fitted, x), np.nan)
    centre = np.nan_to_num(nan_median(train_raw), nan=0.5)
    cutoff = np.nan_to_num(nan_quantile(train_raw, 1.0 - params.contamination), nan=1.0)
    # a forest on near-identical rows has no spread: keep the decision line a real distance away
    return replace(fitted, centre=centre, cutoff=np.maximum(cutoff, centre + MIN_SPREAD))


def _path_table(max_count: int) -> FloatArray:
    """c(k) for k = 0..max_count, looked up instead of computing logs per node."""
    return average_path_length(np.arange(max_count + 1, dtype=np.float64))


def _score_chunk(forests: Forests, x: FloatArray) -> FloatArray:
    n_models, n_rows, n_feat = x.shape
    xs = np.where(np.isfinite(x), x, forests.fill[:, None, :]).astype(np.float32).ravel()
    trees, n_internal = forests.feature.shape[1], forests.feature.shape[2]
    feature = forests.feature.ravel()
    threshold = forests.threshold.ravel()
    tree_base = (np.arange(n_models * trees, dtype=np.int64) * n_internal).reshape(
        n_models, trees, 1
    )
    rows = np.arange(n_models, dtype=np.int64)[:, None] * n_rows + np.arange(n_rows)
    row_base = (rows * n_feat)[:, None, :]
    node = np.zeros((n_models, trees, n_rows), dtype=np.int64)
    for level in range(forests.depth):
        at = tree_base + (2**level - 1) + node
        v = xs[row_base + feature[at]]
        node = 2 * node + (v >= threshold[at])
    n_leaves = forests.leaf_depth.shape[2]
    leaf_at = (tree_base // n_internal) * n_leaves + node
    depth = forests.leaf_depth.ravel()[leaf_at].mean(axis=1, dtype=np.float64)
    return np.asarray(np.exp2(-depth / forests.norm[:, None]), dtype=np.float64)


def _empty(n_feat: int, depth: int, params: ForestParams) -> Forests:
    trees = params.n_trees
    return Forests(
        feature=np.zeros((0, trees, 2**depth - 1), dtype=np.int8),
        threshold=np.zeros((0, trees, 2**depth - 1), dtype=np.float32),
        leaf_depth=np.zeros((0, trees, 2**depth), dtype=np.float32),
        norm=np.zeros(0),
        centre=np.zeros(0),
        cutoff=np.zeros(0),
        fill=np.zeros((0, n_feat)),
        trained=np.zeros(0, dtype=bool),
        depth=depth,
    )
