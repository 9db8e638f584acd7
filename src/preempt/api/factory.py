"""App factory for multi-worker uvicorn: each worker loads settings as the CLI did."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from preempt.api.app import create_app
from preempt.config import load_settings


def app_from_environment() -> FastAPI:
    """create_app(load_settings()) with --config passed on as PREEMPT_CONFIG."""
    config = os.environ.get("PREEMPT_CONFIG")
    return create_app(load_settings(Path(config) if config else None))
