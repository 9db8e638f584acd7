"""Isolation Forest: separate fit and score, agreement with scikit-learn, versioned persistence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from preempt.detection import (
    ModelFileError,
    ModelSet,
    detect,
    fit_detector_forests,
    load_models,
    save_models,
    stack_forests,
    with_scores,
)
from preempt.detection.forest import ForestParams, calibrated_ratio, fit_forests, raw_scores
from preempt.detection.models import model_path

HOUR = 3600.0
T0 = 1_767_225_600.0


def blobs(n_models: int, n_rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n_models, n_rows, 3))


def test_scores_rank_like_scikit_learn() -> None:
    x = blobs(1, 300)
    x[0, :5] += 6.0  # five clear outliers
    ours = raw_scores(fit_forests(x, np.ones((1, 300), bool), ForestParams(n_trees=100)), x)[0]
    ref = -IsolationForest(n_estimators=200, random_state=0).fit(x[0]).score_samples(x[0])
    ranks = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    rho = np.corrcoef(ranks(ours), ranks(ref))[0, 1]
    assert rho > 0.8
    assert set(np.argsort(ours)[-5:].tolist()) == {0, 1, 2, 3, 4}


def test_fit_once_score_later_and_same_seed_same_forest() -> None:
    x = blobs(4, 168)
    usable = np.ones((4, 168), bool)
    a = fit_forests(x, usable, ForestParams(seed=7))
    b = fit_forests(x, usable, ForestParams(seed=7))
    new = blobs(4, 10, seed=1)
    new[:, 0] += 8.0
    np.testing.assert_array_equal(raw_scores(a, new), raw_scores(b, new))
    ratio = calibrated_ratio(a, new)
    assert (ratio[:, 0] > 1.0).all()  # far outside the training data: past the decision line
    assert (ratio[:, 1:] < 1.0).mean() > 0.8


def test_calibration_puts_contamination_share_of_training_above_the_line() -> None:
    x = blobs(3, 500)
    forests = fit_forests(x, np.ones((3, 500), bool), ForestParams(contamination=0.02))
    share = (calibrated_ratio(forests, x) >= 1.0).mean(axis=1)
    assert np.all(share <= 0.03)


def test_too_few_rows_leave_the_series_untrained() -> None:
    x = blobs(2, 40)
    usable = np.ones((2, 40), bool)
    usable[1, 5:] = False
    forests = fit_forests(x, usable, ForestParams())
    assert forests.trained.tolist() == [True, False]
    assert (calibrated_ratio(forests, x)[1] == 0).all()


def test_select_and_stack_regroup_models() -> None:
    x = blobs(3, 100)
    forests = fit_forests(x, np.ones((3, 100), bool), ForestParams())
    regrouped = stack_forests([forests.select([2]), forests.select([0, 1])])
    np.testing.assert_array_equal(
        raw_scores(regrouped, x[[2, 0, 1]]), raw_scores(forests, x)[[2, 0, 1]]
    )


def test_trained_forests_give_the_same_scores_as_training_in_the_cycle() -> None:
    times = T0 + HOUR * np.arange(24 * 8)
    rng = np.random.default_rng(3)
    values = 10 + np.sin(2 * np.pi * times / 86400)[None, :] + rng.normal(0, 0.2, (2, times.size))
    split = times[168]
    forests = fit_detector_forests(times, values, split_s=split)
    reused = detect(times, values, split_s=split, method="iforest", forests=forests)
    inline = detect(times, values, split_s=split, method="iforest")
    np.testing.assert_allclose(reused.score, inline.score)


def test_ml_scores_added_later_are_combined() -> None:
    times = T0 + HOUR * np.arange(24 * 8)
    values = np.full((1, times.size), 5.0)
    det = detect(times, values, split_s=times[168], method="hybrid")
    assert not det.is_anomaly.any()
    fake_ml = np.zeros(values.shape)
    fake_ml[0, 170] = 0.95
    # the forest alone is a second opinion in hybrid: without seasonal support it stays below
    assert not with_scores(det, {"iforest": fake_ml}).is_anomaly.any()
    iforest_only = replace(det, method="iforest")
    assert with_scores(iforest_only, {"iforest": fake_ml}).is_anomaly[0, 170]


def test_models_round_trip_in_the_models_directory(tmp_path: Path) -> None:
    x = blobs(2, 100)
    forests = fit_forests(x, np.ones((2, 100), bool), ForestParams())
    saved = save_models(tmp_path, "shard-0", ModelSet(forests, ("1/temperature_2m", "1/wind"), 5.0))
    assert saved.parent == tmp_path.resolve()
    loaded = load_models(tmp_path, "shard-0")
    assert loaded.keys == ("1/temperature_2m", "1/wind")
    assert loaded.age_s(65.0) == 60.0
    assert loaded.rows_for(["1/wind", "9/x"]).tolist() == [1, -1]
    np.testing.assert_array_equal(raw_scores(loaded.forests, x), raw_scores(forests, x))


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "x" * 200])
def test_model_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelFileError):
        model_path(tmp_path, name)


def test_missing_or_foreign_model_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no model file"):
        load_models(tmp_path, "absent")
    import joblib

    joblib.dump({"format": 999, "models": None}, model_path(tmp_path, "old"))
    with pytest.raises(ModelFileError, match="format"):
        load_models(tmp_path, "old")


def test_model_set_needs_one_key_per_forest() -> None:
    forests = fit_forests(blobs(2, 50), np.ones((2, 50), bool), ForestParams())
    with pytest.raises(ValueError, match="keys"):
        ModelSet(forests, ("only-one",), 0.0)
