"""The exception tree every module raises from; only the CLI and api/ turn these into output.

PreemptError
 ├── ConfigError        bad configuration: the program stops at start with one line
 ├── UpstreamError      a dependency failed transiently (database, Redis, Open-Meteo): retry
 ├── InvalidMessage     a stream message that can never be processed: dead-letter, ack, no retry
 ├── InvalidInput       bad user input (CSV row, CLI argument, HTTP field): report, do not crash
 └── NotFound           a named thing (location, suggestion, alarm) does not exist
"""

from __future__ import annotations


class PreemptError(Exception):
    """Base of all errors Preempt raises on purpose."""


class ConfigError(PreemptError):
    """Configuration is invalid or a configured dependency cannot be reached at start."""


class UpstreamError(PreemptError):
    """A dependency failed in a way that may heal: back off and retry."""


class InvalidMessage(PreemptError):
    """A stream message that can never be processed; it goes to the dead-letter stream."""


class InvalidInput(PreemptError):
    """User input that cannot be accepted; the message names the field or line."""


class NotFound(PreemptError):
    """A named resource does not exist."""
