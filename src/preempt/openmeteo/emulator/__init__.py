"""Local emulator of the Open-Meteo forecast API (`preempt openmeteo-sim`): synthetic weather
from preempt.simulation served with the real API's parameters, JSON shape, errors, call
weights and rate limits, plus switchable faults and anomaly ground truth at /_sim/labels.
"""

from preempt.openmeteo.emulator.app import EmulatorConfig, create_app
from preempt.openmeteo.emulator.limits import FaultSettings, RateLimits
from preempt.openmeteo.emulator.render import SimSettings
from preempt.openmeteo.emulator.server import EmulatorThread

__all__ = [
    "EmulatorConfig",
    "EmulatorThread",
    "FaultSettings",
    "RateLimits",
    "SimSettings",
    "create_app",
]
