"""Stateless noise: reproducible, well spread, smooth."""

from __future__ import annotations

import numpy as np

from preempt.simulation.noise import (
    hashed_index,
    key,
    signed,
    unit,
    value_noise_1d,
    value_noise_2d,
)


def test_hash_floats_are_uniform_and_reproducible() -> None:
    values = unit(hashed_index(key(1, 2), np.arange(100_000)))
    again = unit(hashed_index(key(1, 2), np.arange(100_000)))
    np.testing.assert_array_equal(values, again)
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.01
    assert key(1, 2) != key(2, 1)


def test_value_noise_is_smooth_and_bounded() -> None:
    x = np.linspace(0, 50, 5001)
    one = value_noise_1d(key(3), x)
    assert one.min() >= -1 and one.max() <= 1
    assert np.abs(np.diff(one)).max() < 0.05
    two = value_noise_2d(key(4), np.full_like(x, 2.5), x)
    assert np.abs(np.diff(two)).max() < 0.05
    np.testing.assert_array_equal(two, value_noise_2d(key(4), np.full_like(x, 2.5), x))
    assert signed(key(5)).shape == ()
