"""Schema migrations (Alembic) run programmatically: `preempt migrate up|down|status`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str | None
    pending: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return not self.pending


def status(engine: Engine) -> MigrationStatus:
    script = ScriptDirectory.from_config(_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = script.get_current_head()
    pending = tuple(
        rev.revision
        for rev in reversed(list(script.walk_revisions(base="base", head="heads")))
        if current is None or rev.revision > current
    )
    return MigrationStatus(current=current, head=head, pending=pending)
