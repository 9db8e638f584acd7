"""The one `preempt` command lists the subcommands that exist."""

from __future__ import annotations

from tests.cli_helpers import run_preempt

BUILT = ("migrate", "seed", "collect", "store", "detect", "ml-trainer", "server", "up",
         "openmeteo-sim", "score", "alarms")


def test_help_lists_built_subcommands() -> None:
    result = run_preempt("--help")
    assert result.returncode == 0
    for command in BUILT:
        assert command in result.stdout


def test_migrate_help_lists_up_down_status() -> None:
    result = run_preempt("migrate", "--help")
    assert result.returncode == 0
    for sub in ("up", "down", "status"):
        assert sub in result.stdout
