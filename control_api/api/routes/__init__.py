"""The routes, one module per resource: those of the API under /api/v1 (``api_router``, every one
authenticated but sign-up and sign-in) and the operational ones at the root (``health.router``)."""

from __future__ import annotations

from fastapi import APIRouter

from control_api.api.routes import (
    adaptations,
    admin,
    auth,
    conversations,
    credits,
    files,
    health,
    scripts,
    tasks,
    templates,
    users,
    voices,
)

# each module's router has the /api/v1 prefix itself: a route's path is then the whole path (the
# request metrics are labelled with it), which a prefix given here would not be
api_router = APIRouter()
for module in (auth, users, credits, tasks, files, scripts, conversations, adaptations, voices, templates, admin):
    api_router.include_router(module.router)

__all__ = ["api_router", "health"]
