"""`preempt migrate up|down|status` and `preempt seed`: schema and location import."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from preempt.cli import ConfigOption, app, settings_from
from preempt.commands.runtime import open_migrated_database
from preempt.errors import InvalidInput
from preempt.locations_csv import parse_locations_csv
from preempt.storage import migrate as migrations
from preempt.storage.engine import check_database, create_engine_for, describe, ensure_database
from preempt.storage.locations import insert_locations

logger = logging.getLogger(__name__)

migrate_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")

DEFAULT_CSV = Path("data/locations.csv")


@migrate_app.command("up")
def migrate_up(config: ConfigOption = None) -> None:
    """Apply all pending migrations (creates the database if it does not exist)."""
    settings = settings_from(config)
    ensure_database(settings.database_url)
    engine = create_engine_for(settings.database_url)
    check_database(engine)
    before = migrations.status(engine)
    migrations.upgrade(engine)
    after = migrations.status(engine)
    applied = len(before.pending)
    typer.echo(
        f"Migrated {describe(settings.database_url)} to {after.current} "
        f"({applied} migration{'s' if applied != 1 else ''} applied)"
    )


@migrate_app.command("down")
def migrate_down(
    config: ConfigOption = None,
    steps: Annotated[int, typer.Option(min=1, help="How many migrations to roll back.")] = 1,
) -> None:
    """Roll back the last migration (or --steps N)."""
    settings = settings_from(config)
    engine = create_engine_for(settings.database_url)
    check_database(engine)
    if migrations.status(engine).current is None:
        typer.echo("Nothing to roll back: no migration applied")
        return
    migrations.downgrade(engine, f"-{steps}")
    typer.echo(f"Rolled back to {migrations.status(engine).current or 'base (empty schema)'}")


@migrate_app.command("status")
def migrate_status(config: ConfigOption = None) -> None:
    """Show the applied revision and what is pending."""
    settings = settings_from(config)
    engine = create_engine_for(settings.database_url)
    check_database(engine)
    state = migrations.status(engine)
    pending = ", ".join(state.pending) if state.pending else "none"
    typer.echo(
        f"database: {describe(settings.database_url)}\n"
        f"current: {state.current or 'none'}\nhead: {state.head}\npending: {pending}"
    )


@app.command("seed")
def seed(
    config: ConfigOption = None,
    csv_path: Annotated[
        Path,
        typer.Option("--csv", help="CSV: name,latitude,longitude[,country_code,timezone]."),
    ] = DEFAULT_CSV,
    strict: Annotated[
        bool, typer.Option("--strict", help="Import nothing if any row is invalid.")
    ] = False,
) -> None:
    """Bulk, idempotent import of locations from CSV (SEED.md: make seed-locations)."""
    settings = settings_from(config)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {csv_path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{csv_path} is not UTF-8 text: {exc.reason}") from exc
    parsed = parse_locations_csv(text)
    for problem in parsed.problems:
        typer.echo(f"{csv_path}: {problem}", err=True)
    if parsed.problems and strict:
        raise InvalidInput(
            f"{len(parsed.problems)} invalid row(s) in {csv_path}; nothing imported (--strict)"
        )
    engine = open_migrated_database(settings)
    started = time.perf_counter()
    with engine.begin() as conn:
        inserted = insert_locations(conn, parsed.locations)
    elapsed = time.perf_counter() - started
    present = len(parsed.locations) - inserted
    typer.echo(
        f"Read {len(parsed.locations) + len(parsed.problems)} rows: {len(parsed.locations)} valid, "
        f"{len(parsed.problems)} rejected, {present} already present ({elapsed:.2f}s)"
    )
    typer.echo(f"Import complete! Successfully inserted {inserted} locations")
