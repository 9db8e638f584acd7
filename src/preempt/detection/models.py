"""Versioned Isolation Forest model files in a trusted models directory (joblib).

A file holds the forests of a batch of series plus the keys naming them (e.g. "12/temperature_2m")
and when they were fitted. joblib unpickles, so only files this program wrote are loaded: the
name is checked against a strict pattern, the path must stay inside the models directory, and
the stored format version must match.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import joblib
import numpy as np
import numpy.typing as npt

from preempt.detection.features import FEATURE_NAMES
from preempt.detection.forest import Forests

FORMAT_VERSION: Final[int] = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
_SUFFIX: Final[str] = f".v{FORMAT_VERSION}.joblib"


class ModelFileError(ValueError):
    """A model file is missing, from another format version, or not ours."""


@dataclass(frozen=True, slots=True)
class ModelSet:
    """Forests of a batch with what names them: keys[i] is the series of forests row i."""

    forests: Forests
    keys: tuple[str, ...]
    fitted_at_s: float
    features: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.forests):
            raise ValueError(f"{len(self.keys)} keys for {len(self.forests)} forests")

    def age_s(self, now_s: float) -> float:
        return now_s - self.fitted_at_s

    def rows_for(self, keys: list[str] | tuple[str, ...]) -> npt.NDArray[np.int64]:
        """Row index of each key (-1 when this set has no model for it)."""
        index = {k: i for i, k in enumerate(self.keys)}
        return np.asarray([index.get(k, -1) for k in keys], dtype=np.int64)


def model_path(models_dir: Path, name: str) -> Path:
    """Where model set `name` lives; refuses names that could leave the directory."""
    if not _NAME.match(name) or ".." in name:
        raise ModelFileError(f"invalid model name {name!r} (letters, digits, _ . - only)")
    root = models_dir.resolve()
    path = (root / f"{name}{_SUFFIX}").resolve()
    if path.parent != root:
        raise ModelFileError(f"model {name!r} would be outside {root}")
    return path


def save_models(models_dir: Path, name: str, models: ModelSet) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    path = model_path(models_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT_VERSION, "models": models}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(payload, tmp, compress=3)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_models(models_dir: Path, name: str) -> ModelSet:
    """Read a model set written by save_models; ModelFileError when absent or incompatible."""
    path = model_path(models_dir, name)
    if not path.is_file():
        raise ModelFileError(f"no model file {path.name} in {path.parent}")
    payload = joblib.load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ModelFileError(f"{path.name}: not a model file of format {FORMAT_VERSION}")
    models = payload.get("models")
    if not isinstance(models, ModelSet) or models.features != FEATURE_NAMES:
        raise ModelFileError(f"{path.name}: built for other features; retrain")
    return models
