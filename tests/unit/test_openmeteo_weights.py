"""Call weights: the maintainers' examples."""

from __future__ import annotations

import pytest

from preempt.openmeteo.weights import location_weight, request_weight


def test_weights_match_the_published_examples() -> None:
    assert location_weight(15, 14) == pytest.approx(1.5)  # 2 weeks x 15 variables
    assert location_weight(15, 28) == pytest.approx(3.0)  # 4 weeks x 15 variables
    assert location_weight(15, 7) == pytest.approx(1.5)  # 7 days x 15 variables
    assert location_weight(5, 14) == 1.0  # our bootstrap: one call per city
    assert location_weight(1, 7300) == pytest.approx(52.14, abs=0.01)  # 20 years x 1 variable
    assert request_weight(892, 5, 7) == 892.0
    assert location_weight(5, 7, n_models=3) == 1.5
