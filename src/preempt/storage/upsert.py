"""Multi-row idempotent inserts in each dialect's own syntax.

MySQL/MariaDB: INSERT ... ON DUPLICATE KEY UPDATE; SQLite and PostgreSQL:
INSERT ... ON CONFLICT (key) DO UPDATE / DO NOTHING. Rows go in chunks as one statement each
(the drivers rewrite executemany of INSERT ... VALUES into multi-row statements).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection

CHUNK_ROWS = 5000


def upsert_statement(
    conn: Connection,
    table: sa.Table,
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> Any:
    """INSERT for `table` that updates `update` columns (or ignores) on a duplicate `key`."""
    backend = conn.dialect.name
    if backend in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        if update:
            return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})
        # A no-op update instead of INSERT IGNORE: IGNORE would also hide real errors.
        return stmt.on_duplicate_key_update({key[0]: table.c[key[0]]})
    if backend == "postgresql":
        pg = postgresql.insert(table)
        if update:
            return pg.on_conflict_do_update(
                index_elements=list(key), set_={c: pg.excluded[c] for c in update}
            )
        return pg.on_conflict_do_nothing(index_elements=list(key))
    lite = sqlite.insert(table)
    if update:
        return lite.on_conflict_do_update(
            index_elements=list(key), set_={c: lite.excluded[c] for c in update}
        )
    return lite.on_conflict_do_nothing(index_elements=list(key))


def upsert_rows(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
    chunk_rows: int = CHUNK_ROWS,
) -> None:
    """Write rows idempotently in chunks; the caller owns the transaction."""
    if not rows:
        return
    stmt = upsert_statement(conn, table, key=key, update=update)
    for start in range(0, len(rows), chunk_rows):
        conn.execute(stmt, list(rows[start : start + chunk_rows]))
