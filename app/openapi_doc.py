"""The OpenAPI document, completed in one place: what the request pipeline does to every
route (Idempotency-Key on POSTs, 409 on its reuse, 413 on bodies, 404 on path ids, problem
bodies on every error) is declared here once instead of on each route. Declarative only:
the behaviour lives in the pipeline (`app/transaction.py`, `app/middleware.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_JSON

API_DESCRIPTION = """\
Collects and analyses feedback on AI answers: thumbs votes from chat frontends, LLM
routing metrics and feedback on routing decisions, ratings of cached responses, and an
expert review workflow with trust scores and FAQ candidates.

**Auth**: `Authorization: Bearer <key-or-token>` (the Authorize button). Keys come from
`feedback-service keys create`; browsers use short-lived feedback tokens minted by
`POST /api/v1/feedback-tokens`.

**Errors** are `application/problem+json` (RFC 9457); each `type` URI (`/problems/<slug>`)
is a page saying what the error means and what to do.

**Retries**: every POST accepts `Idempotency-Key`; the same key with the same body replays
the first response, with another body it is a 409.
"""

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique string (a UUID) per logical request. The same key with the same body "
        "returns the first response (header `Idempotent-Replayed: true`) and creates nothing; "
        "with a different body → 409. Remembered for 24 hours, per credential."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "5f0c8a4e-2f7b-4a53-9a57-2b0f6f4f3c1e",
}

REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request (1-128 of `A-Z a-z 0-9 . _ : @ / + = -`), echoed "
    "in the response and in every log line; otherwise the service makes one.",
    # Any value is accepted (one outside the rule is replaced, never refused), so the schema
    # states no bound: a maxLength would promise a 4xx the service never sends.
    "schema": {"type": "string"},
    "example": "gw-7f3a9c",
}

# Headers a route reads beyond the shared ones (the route gets them from `request.headers`).
ROUTE_HEADERS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("post", "/api/v1/cache/entries/{cache_key}/feedback"): [
        {
            "name": "User-Agent",
            "in": "header",
            "required": False,
            "description": "Stored with the rating (which browser or app rated it).",
            "schema": {"type": "string"},
            "example": "Mozilla/5.0 (X11; Linux x86_64)",
        }
    ],
}

# What the pipeline can answer on top of each route's own statuses.
_GENERIC = {
    "404": "An id in the path names nothing stored.",
    "409": "The `Idempotency-Key` was used before with a different body, or the request "
    "conflicts with stored data.",
    "413": "The body is larger than `MAX_BODY_BYTES` (1 MiB).",
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_BIGINT_MAX = 2**63 - 1
_WRITE_METHODS = ("post", "put", "patch")


def complete_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Add what every route shares to a generated document (idempotent)."""
    schema.setdefault("info", {})["description"] = API_DESCRIPTION
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if path.startswith("/api/"):
                _complete_operation(path, method, operation)
            _problem_bodies(operation)
    _integer_bounds(schema.get("components", {}))
    return schema


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    params: list[dict[str, Any]] = operation.setdefault("parameters", [])
    wanted = [REQUEST_ID_PARAMETER, *ROUTE_HEADERS.get((method, path), [])]
    if method == "post":
        wanted.append(IDEMPOTENCY_PARAMETER)
        responses.setdefault("409", {"description": _GENERIC["409"]})
    for header in wanted:
        if not any(p.get("name", "").lower() == header["name"].lower() for p in params):
            params.append(dict(header))
    if method in _WRITE_METHODS:
        responses.setdefault("413", {"description": _GENERIC["413"]})
    if "{" in path:
        responses.setdefault("404", {"description": _GENERIC["404"]})


def _problem_bodies(operation: dict[str, Any]) -> None:
    """Every 4xx/5xx answer is a problem document, whatever the route declared."""
    for code, response in operation.get("responses", {}).items():
        if code[:1] in ("4", "5"):
            response["content"] = dict(_PROBLEM_CONTENT)


def _integer_bounds(node: Any) -> None:
    """Integer bounds as integers: 2**63 - 1 does not survive a float (9.223372036854776e18)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                value = node.get(bound)
                if isinstance(value, float):
                    node[bound] = _BIGINT_MAX if value >= _BIGINT_MAX else int(value)
        for child in node.values():
            _integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integer_bounds(child)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at `/openapi.json` (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_openapi(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                    servers=app.servers,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
