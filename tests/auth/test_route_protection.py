"""No /api/v1 route ships open by accident: every one needs a principal and runs in the
committing, idempotency-aware route class."""

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.auth.dependencies import current_principal
from app.main import create_app
from app.transaction import TransactionalRoute

# api.md marks no /api/v1 operation as public; list exceptions here if that changes.
PUBLIC_API_ROUTES: set[tuple[str, str]] = set()


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every /api/v1 operation (FastAPI 0.16x keeps included routers nested: walk them)."""
    return [
        r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute) and (r.path or "").startswith("/api/v1")
    ]


def open_api_routes(app: FastAPI) -> list[tuple[str, str | None]]:
    return [
        (method, r.path)
        for r in api_routes(app)
        for method in r.methods or ()
        if current_principal not in _calls(r.dependant)
        and (method, r.path) not in PUBLIC_API_ROUTES
    ]


def test_every_api_route_requires_a_principal() -> None:
    app = create_app()
    assert len(api_routes(app)) > 1
    assert open_api_routes(app) == []


def test_the_walker_notices_an_open_route() -> None:
    app = create_app()
    leak = APIRouter(prefix="/api/v1")

    @leak.get("/_leak")
    async def leaky() -> dict[str, str]:
        return {}

    app.include_router(leak)
    assert open_api_routes(app) == [("GET", "/api/v1/_leak")]


def test_every_api_route_commits_before_responding() -> None:
    wrong = [
        r.path
        for r in api_routes(create_app())
        if not isinstance(r.original_route, TransactionalRoute)
    ]
    assert wrong == []


def test_operational_routes_stay_public() -> None:
    paths = {r.path for r in iter_route_contexts(create_app().routes)}
    assert {"/healthz", "/readyz"} <= paths
