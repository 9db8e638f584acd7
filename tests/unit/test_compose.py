"""docker-compose.yml is valid Compose, runs only commands the CLI has, and sets only
environment variables the code reads (no Docker engine here, so this is what we can check)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli_helpers import REPO, run_preempt

SCHEMA = REPO.parent / "shared" / "compose-spec.json"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
APP_SERVICES = {
    name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "preempt:latest"
}
SEED_SERVICES = {"mysql", "redis", "migrate", "seed", "api", "collector", "store", "ml-trainer",
                 "detector"}


@pytest.mark.skipif(not SCHEMA.is_file(), reason="compose-spec.json not beside the repository")
def test_compose_file_validates_against_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(COMPOSE)


def test_compose_has_seed_services_with_health_checks_and_restart_policies() -> None:
    services = COMPOSE["services"]
    assert set(services) >= SEED_SERVICES
    assert services["mysql"]["image"] == "mysql:8.0"
    for name in ("mysql", "redis", "api"):
        assert "healthcheck" in services[name], name
    for name in ("api", "collector", "store", "ml-trainer", "detector"):
        assert services[name]["restart"] == "unless-stopped", name
    assert "ml_models:/app/var/ml_models" in services["ml-trainer"]["volumes"]
    assert "8080:8080" in services["api"]["ports"]


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_every_compose_command_exists_in_the_cli(service: str) -> None:
    command: list[str] = APP_SERVICES[service]["command"]
    words = [w for w in command if not w.startswith("-")]
    # `preempt <subcommand...> --help` fails on an unknown subcommand or option name.
    subcommand = words[: 2 if words[0] == "migrate" else 1]
    result = run_preempt(*subcommand, "--help")
    assert result.returncode == 0, result.stderr
    for option in (w for w in command if w.startswith("--")):
        assert option in result.stdout, f"{service}: {' '.join(subcommand)} has no {option}"


def _environment(service: dict[str, Any]) -> set[str]:
    env = service.get("environment", {})
    return set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}


def test_every_environment_variable_is_read_by_the_code() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "src" / "preempt").rglob("*.py"))
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source))
    for name, service in APP_SERVICES.items():
        unknown = _environment(service) - read
        assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"


def test_env_example_documents_every_substituted_variable() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = {
        line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert substituted <= documented, sorted(substituted - documented)


def test_dockerfile_builds_dashboard_and_runs_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "FROM node:" in text and "npm run build" in text
    assert "FROM python:3.11-slim" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "COPY .env" not in text and "PASSWORD" not in text
