"""Bearer-token access control: tokens are configured as SHA-256 digests with a role.

viewer < editor < admin. Reads are open unless `server.auth.reads_open` is false (then viewer);
feedback and suggestion decisions need editor; location management needs admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from preempt.config import ApiToken

Role = Literal["viewer", "editor", "admin"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "admin": 3}

bearer = HTTPBearer(auto_error=False, description="A token from server.auth.tokens.")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's name and role, or 'anonymous' on open reads."""

    name: str
    role: str


ANONYMOUS = Principal(name="anonymous", role="viewer")


def hash_token(token: str) -> str:
    """The digest stored in config for `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def identify(tokens: tuple[ApiToken, ...], token: str) -> ApiToken | None:
    """The configured token matching `token`, compared in constant time."""
    digest = hash_token(token)
    found = None
    for candidate in tokens:
        if hmac.compare_digest(candidate.sha256, digest):
            found = candidate
    return found


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that admits tokens of `role` or higher; 401 without one, 403 if too low."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> Principal:
        tokens: tuple[ApiToken, ...] = request.app.state.ctx.settings.server.auth.tokens
        if credentials is None:
            problem = ("missing bearer token" if "authorization" not in request.headers
                       else "the Authorization header holds no bearer token")
            raise _unauthorized(
                f"{problem}: send 'Authorization: Bearer <token>' (role {role} or higher)"
            )
        if not tokens:
            raise _unauthorized("no API tokens are configured (server.auth.tokens)")
        match = identify(tokens, credentials.credentials)
        if match is None:
            raise _unauthorized("invalid bearer token")
        if RANK[match.role] < RANK[role]:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"token '{match.name}' has role {match.role}; "
                f"this needs {role} or higher",
            )
        return Principal(name=match.name, role=match.role)

    check.__name__ = f"require_{role}"
    return check


require_viewer = require("viewer")
require_editor = require("editor")
require_admin = require("admin")
