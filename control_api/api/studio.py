"""The studio (the web app in ``control_api/studio``, built into its ``dist/``) served at ``/``.

Hashed files under ``/assets/`` are cached for a year (their names change with their content); every
other path that is not a file gets ``index.html`` (the app routes in the browser), never cached, with a
Content-Security-Policy that allows scripts from this origin only (no inline scripts, no eval). Paths
under ``/api/`` are never the app's: an unknown API path stays a 404 problem. Without a build, ``/``
says how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response

from control_api.api.problems import not_found

DEFAULT_DIST = Path(__file__).resolve().parents[1] / "studio" / "dist"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self' blob:; font-src 'self' data:; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
ASSET_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
NOT_BUILT = ("The dramaflow studio is not built on this server.\n\n"
             "Build it with `make studio` (Node.js >= 20 and npm; the Makefile installs Node from the package "
             "registry when the machine has none), then reload this page. The REST API is at /api/v1 "
             "(documentation at /docs).\n")


def install_studio(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built studio from ``dist`` (default: ``control_api/studio/dist``) at ``/``; call it after
    every other route is added, so that they match first."""
    root = (dist or DEFAULT_DIST).resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def studio(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            raise not_found("API route")
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503, headers={"Retry-After": "60"})
        target = (root / path).resolve()
        if path and target.is_relative_to(root) and target.is_file():
            headers = ASSET_HEADERS if target.parent == root / "assets" else {"Cache-Control": "no-cache"}
            return FileResponse(target, headers=headers)
        return FileResponse(index, headers=PAGE_HEADERS, media_type="text/html")
