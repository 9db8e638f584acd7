"""The REST API and the dashboard's web server: `create_app(settings)`, run by `preempt server`."""

from preempt.api.app import create_app

__all__ = ["create_app"]
