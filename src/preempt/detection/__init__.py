"""Pure detection core: arrays in, results out (numpy, scikit-learn, joblib; no I/O, no logging).

Conventions
-----------
A batch is S series (one per (location, metric)) over n samples: ``values`` (S, n) float64 with
NaN for missing; ``times_s`` epoch seconds UTC, either a shared axis (n,) or one per series
(S, n) (pad ragged rows with NaN times). Every score is calibrated to [0, 1], higher = more
anomalous, with 0.5 at each method's decision line (``is_anomaly = score >= 0.5``).

Live path (detect service, every cycle)
---------------------------------------
Give the last 14 days (the seasonal window; the classic z-score uses the last 7 of them) plus the
new samples and the split between them; only samples at or after ``split_s`` are scored, each
against a baseline from samples before it (causal)::

    det = detect(times_s, values, split_s=last_judged_s, method="hybrid",
                 forests=forests, rules=DEFAULT_RULES, metric_types=metrics,
                 groups=location_ids)
    anomalies = combine(det, times_s, values, keys=[SeriesKey("Lisbon", "wind_speed_10m",
                                                             "km/h", "Wind"), ...])

``detect(times_s, values, *, split_s, method="seasonal"|"classic"|"iforest"|"hybrid",
params=DetectorParams(), forests=None, rules=(), metric_types=None, groups=None) -> Detection``
    Detection holds (S, n) arrays: score, is_anomaly, expected, lower, upper, z, scored, the
    per-method scores in ``method_scores`` ("seasonal", "record", "stuck", "dropout",
    "consistency", "spell", "classic", "iforest", "rules"; ``methods_for(method)`` says which ones a
    method combines)
    and ``ready`` (S,): False when the history is too short (nothing flagged for that series).
    ``metric_types`` enables rules and per-metric scale floors (``detection.metrics``);
    ``groups`` (one location key per row) also enables the temperature / dew point / humidity
    consistency check and the heat wave / cold snap check of temperature and dew point together
    (``detection.spell``). A NaN value at a scheduled time is judged as a possible dropout.
    Use ``DEFAULT_RULES`` (SEED.md's table; humidity 100 % only after 24 h in a row).
    ``records=Records(high, low, span_s)`` (per series, from a record of a year or more) adds
    the record check (``detection.records``); without it the check does not run.
``with_scores(detection, {"iforest": scores}) -> Detection``
    Add scores computed elsewhere (the ML worker's reply) and recombine; when the ML worker is
    down, simply do not add them: the statistical + rule result stands.
``combine(detection, times_s, values, *, keys=None) -> list[Anomaly]``
    One Anomaly per (series, timestamp): score, severity ("low" | "medium" | "high"), methods,
    expected, lower, upper, z and a readable explanation.

ML (ml-trainer)
---------------
``fit_detector_forests(times_s, values, *, split_s, params=None) -> Forests``: one Isolation
Forest per series on its history (fit once, reuse for many cycles). ``Forests.select(rows)`` and
``stack_forests([...])`` regroup models; ``ModelSet(forests, keys, fitted_at_s)`` with
``save_models(dir, name, model_set)`` / ``load_models(dir, name)`` persist them (versioned joblib
files inside a trusted models directory; ``ModelFileError`` otherwise). The trainer replies with
``detect(..., method="iforest", forests=...).method_scores["iforest"]``.

Offline and charts
------------------
``detect_causal(times_s (n,), values, *, method, params, block_s=86400, rules, metric_types)``
    every sample of long series scored against the window before its block, with the record of
    everything before the block (used by ``preempt score`` and the evaluation).
    ``bands(times_s, values) -> (expected, lower, upper)``.
``infer_interval_s(times_s)``: typical sampling interval per row.

Rules, suggestions, feedback
----------------------------
``apply_rules(rules, metric_types, values) -> (score, rule_index)``; ``DEFAULT_RULES`` is
SEED.md's table of ``Rule(metric_type, operator, threshold, severity)``.
``suggest(times_s, values, is_anomaly, expected, *, keys, params=SuggestParams()) ->
list[Suggestion]``: threshold, operator, k-of-n persistence, backtest (caught, missed, fires,
false fires), confidence, percentile, fires per week, description; at most one per direction.
``similar_to_false_positives(series_keys, times_s, values, expected, false_positives) -> mask``
and ``suppress(is_anomaly, mask)`` turn rejected anomalies (``FalsePositive``) into silence for
similar samples.
"""

from preempt.detection.classic import ClassicParams
from preempt.detection.combine import Anomaly, SeriesKey, combine, explain, severity_of
from preempt.detection.detector import (
    METHODS,
    Detection,
    DetectorParams,
    Method,
    bands,
    detect,
    detect_causal,
    fit_detector_forests,
    methods_for,
    with_scores,
)
from preempt.detection.features import FEATURE_NAMES
from preempt.detection.feedback import FalsePositive, similar_to_false_positives, suppress
from preempt.detection.forest import ForestParams, Forests, stack_forests
from preempt.detection.grid import infer_interval_s
from preempt.detection.models import (
    FORMAT_VERSION,
    ModelFileError,
    ModelSet,
    load_models,
    save_models,
)
from preempt.detection.records import Records
from preempt.detection.rules import DEFAULT_RULES, Rule, apply_rules
from preempt.detection.seasonal import SeasonalParams
from preempt.detection.suggest import Suggestion, SuggestParams, backtest, suggest

__all__ = [
    "DEFAULT_RULES",
    "FEATURE_NAMES",
    "FORMAT_VERSION",
    "METHODS",
    "Anomaly",
    "ClassicParams",
    "Detection",
    "DetectorParams",
    "FalsePositive",
    "ForestParams",
    "Forests",
    "Method",
    "ModelFileError",
    "ModelSet",
    "Records",
    "Rule",
    "SeasonalParams",
    "SeriesKey",
    "SuggestParams",
    "Suggestion",
    "apply_rules",
    "backtest",
    "bands",
    "combine",
    "detect",
    "detect_causal",
    "explain",
    "fit_detector_forests",
    "infer_interval_s",
    "load_models",
    "methods_for",
    "save_models",
    "severity_of",
    "similar_to_false_positives",
    "stack_forests",
    "suggest",
    "suppress",
    "with_scores",
]
