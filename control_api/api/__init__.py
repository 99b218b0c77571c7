"""The REST API (FastAPI), under /api/v1. Errors are application/problem+json (RFC 9457).

Every task, script and file belongs to the user whose API key (``Authorization: Bearer <key>``)
created it; anyone else gets 404. Files are served only from paths the worker recorded, and only
inside the data folder.

``app`` builds the application; ``routes/`` holds one module per resource, on ``deps`` (settings, the
database session, the authenticated user), ``models`` (requests and responses), ``problems`` (errors)
and ``control_api.crud`` (the changes a request makes). None of it loads the worker.
"""

from control_api.api.app import create_app

__all__ = ["create_app"]
