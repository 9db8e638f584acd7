"""Serves the built dashboard (frontend/dist) at /, with the SPA's index.html for unknown paths.

API paths never fall back to the SPA: an unknown /api/... is a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>Preempt</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Preempt API is running</h1>
<p>The dashboard is not built yet. Build it with <code>make build</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>), then reload.
It is served from <code>{static_dir}</code>.</p>
<p>Meanwhile: <a href="/docs">API docs</a> · <a href="/health">/health</a> ·
<a href="/locations">/locations</a></p></body></html>"""

API_PREFIXES = ("api/", "docs", "openapi.json", "redoc", "prometheus")


def mount_dashboard(app: FastAPI, static_dir: Path) -> None:
    """Add the catch-all GET route; call after every API route is registered."""
    root = static_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    def dashboard(path: str, request: Request) -> Response:
        if path.startswith(API_PREFIXES):
            raise HTTPException(404, detail=f"no such endpoint: /{path}")
        index = root / "index.html"
        if not index.is_file():
            if path in ("", "index.html"):
                return HTMLResponse(NOT_BUILT.format(static_dir=static_dir))
            raise HTTPException(404, detail=f"no such endpoint: /{path}")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            cache = "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" \
                else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        if "." in path.rsplit("/", 1)[-1]:
            raise HTTPException(404, detail=f"no such file: /{path}")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
