"""Service heartbeats: each service instance upserts its row every cycle; /health reads them."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from preempt.storage.tables import service_heartbeats
from preempt.storage.upsert import upsert_rows

Status = Literal["ok", "degraded", "error", "stopped"]


def instance_name() -> str:
    """host:pid, unique per running process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Heartbeat:
    service: str
    instance: str
    beat_at: datetime
    status: str
    info: dict[str, Any]


def record_heartbeat(
    conn: Connection,
    service: str,
    *,
    status: Status = "ok",
    info: Mapping[str, Any] | None = None,
    instance: str | None = None,
    now: datetime | None = None,
) -> None:
    """Upsert this instance's beat; `info` is a small JSON-able dict (last run, errors, ...)."""
    row = {
        "service": service,
        "instance": instance or instance_name(),
        "beat_at": (now or datetime.now(UTC)).replace(tzinfo=None),
        "status": status,
        "info": json.dumps(dict(info or {}), default=str),
    }
    upsert_rows(conn, service_heartbeats, [row], key=("service", "instance"),
                update=("beat_at", "status", "info"))


def list_heartbeats(conn: Connection) -> list[Heartbeat]:
    rows = conn.execute(sa.select(service_heartbeats).order_by(
        service_heartbeats.c.service, service_heartbeats.c.instance
    ))
    return [
        Heartbeat(
            service=r.service, instance=r.instance, beat_at=r.beat_at.replace(tzinfo=UTC),
            status=r.status, info=json.loads(r.info or "{}"),
        )
        for r in rows
    ]
