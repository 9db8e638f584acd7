"""Stateless, vectorised pseudo-random numbers: a value is a pure function of its integer keys.

Nothing here keeps a state between calls, so a value computed for one time window is the value
computed for any other window that contains the same (location, time, seed).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / float(1 << 53)
_MASK = (1 << 64) - 1


def mix(z: U64) -> U64:
    """splitmix64 finaliser: a well-spread 64-bit hash of each element (wraps, never warns)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return np.asarray(z ^ (z >> _S31), dtype=np.uint64)


def as_u64(values: npt.ArrayLike) -> U64:
    """Signed or unsigned integers (any shape) as uint64 bit patterns."""
    arr = np.asarray(values)
    if arr.dtype == np.uint64:
        return arr
    return np.asarray(arr, dtype=np.int64).astype(np.uint64)


def key(*parts: int) -> U64:
    """A 0-d uint64 hash of several Python integers, order-sensitive."""
    h = 0x2545F4914F6CDD1D
    for part in parts:
        h = _mix_int((h + 0x9E3779B97F4A7C15) ^ (part & _MASK))
    return np.asarray(h, dtype=np.uint64)


def _mix_int(z: int) -> int:
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(h: U64) -> F64:
    """Uniform floats in [0, 1) from 64-bit hashes."""
    return (h >> _S11).astype(np.float64) * _INV53


def hashed_index(seed_key: U64, index: npt.ArrayLike) -> U64:
    """Hash of integer indices (slots, quarters, events) under a seed key."""
    with np.errstate(over="ignore"):
        return mix(seed_key ^ (as_u64(index) * _GOLDEN))


def signed(h: U64) -> F64:
    """Uniform floats in [-1, 1) from 64-bit hashes."""
    return unit(h) * 2.0 - 1.0


def _smooth(f: F64) -> F64:
    return f * f * (3.0 - 2.0 * f)


def value_noise_1d(seed_key: U64, x: F64) -> F64:
    """Smooth noise in [-1, 1] along x (one lattice cell per unit), keyed per element."""
    i = np.floor(x)
    f = _smooth(x - i)
    ii = i.astype(np.int64)
    with np.errstate(over="ignore"):
        a = signed(mix(seed_key ^ as_u64(ii) * _GOLDEN))
        b = signed(mix(seed_key ^ as_u64(ii + 1) * _GOLDEN))
    return a + (b - a) * f


def value_noise_2d(seed_key: U64, x: F64, y: F64) -> F64:
    """Smooth 2-D noise in [-1, 1]: x is usually a place axis, y a (shifted) time axis."""
    ix = np.floor(x)
    iy = np.floor(y)
    fx = _smooth(x - ix)
    fy = _smooth(y - iy)
    kx0 = mix(seed_key ^ as_u64(ix.astype(np.int64)))
    kx1 = mix(seed_key ^ as_u64(ix.astype(np.int64) + 1))
    with np.errstate(over="ignore"):
        jy0 = as_u64(iy.astype(np.int64)) * _GOLDEN
        jy1 = as_u64(iy.astype(np.int64) + 1) * _GOLDEN
        v00 = signed(mix(kx0 + jy0))
        v10 = signed(mix(kx1 + jy0))
        v01 = signed(mix(kx0 + jy1))
        v11 = signed(mix(kx1 + jy1))
    top = v00 + (v10 - v00) * fx
    bottom = v01 + (v11 - v01) * fx
    return top + (bottom - top) * fy
