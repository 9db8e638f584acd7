"""The live detector's windows come from config: classic over lookback_days, seasonal over
seasonal_days, and a job loads the longest of them."""

from __future__ import annotations

from pathlib import Path

from preempt.config import load_settings
from preempt.services.detect.judge import detector_params, history_days

DAY_S = 86400.0


def test_windows_follow_the_config() -> None:
    default = load_settings(Path("config.yaml"), env={})
    assert detector_params(default).classic.window_s == 7 * DAY_S
    assert detector_params(default).seasonal.window_s == 14 * DAY_S
    assert history_days(default) == 14
    wider = load_settings(Path("config.yaml"), env={},
                          overrides={"detect.seasonal_days": 21, "detect.lookback_days": 10})
    assert detector_params(wider).seasonal.window_s == 21 * DAY_S
    assert detector_params(wider).classic.window_s == 10 * DAY_S
    assert history_days(wider) == 21
