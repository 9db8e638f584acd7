"""Preempt: proactive alarm creation from anomaly detection on real-time weather metrics."""

__version__ = "0.1.0"
