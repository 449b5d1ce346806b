"""Errors that carry their HTTP meaning, and the handlers that render every error as
`application/problem+json` (RFC 9457). Nothing here ever echoes an exception's text for
unexpected errors: database exceptions can hold SQL and parameters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_503_SERVICE_UNAVAILABLE

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Base of every error a client may see; subclasses set `status` and `title`."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if headers is not None:
            self.headers = headers

    def extra(self) -> dict[str, Any]:
        """Extension members added to the problem document."""
        return {}


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnprocessableEntity(AppError):
    """A body that parsed but breaks a rule the schema cannot express."""

    status, title, slug = 422, "Unprocessable Content", "validation-error"

    def __init__(
        self,
        detail: str,
        *,
        field: Sequence[str | int] | None = None,
        location: str = "body",
    ):
        super().__init__(detail)
        self.field = list(field) if field else None
        self.location = location

    def extra(self) -> dict[str, Any]:
        if self.field is None:
            return {}
        loc = [self.location, *self.field]
        return {"errors": [_error_entry(loc, self.detail, "value_error")]}


class TooManyRequests(AppError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


class Problem(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    type: str = Field(
        default="about:blank",
        description="A URI (`/problems/<slug>`): its page says what the error means and "
        "what to do.",
        examples=["/problems/validation-error"],
    )
    title: str = Field(
        description="Short summary of the kind of problem.", examples=["Unprocessable Content"]
    )
    status: int = Field(description="The HTTP status code.", examples=[422])
    detail: str = Field(
        description="What went wrong with this request.", examples=["Invalid request: vote"]
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="On 422: one entry per invalid field, with its path.",
        examples=[
            [
                {
                    "loc": ["body", "vote"],
                    "field": "vote",
                    "message": "Input should be 'up' or 'down'",
                    "type": "enum",
                }
            ]
        ],
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI `responses=` entry for a problem+json response."""
    # `model` registers the Problem schema; the content entry declares the media type
    # the service really sends.
    problem_schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: problem_schema},
    }


# Documented on every /api/v1 operation (set once on the API router).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing, unknown, revoked, tampered or expired credential."),
    403: problem_doc("A valid credential without the right to this operation."),
    422: problem_doc("Invalid input; `errors` names each field."),
    429: problem_doc("Rate limit exceeded for this credential; see Retry-After."),
    503: problem_doc("Database unavailable, or the process at capacity; see Retry-After."),
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """One problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(loc: Sequence[str | int]) -> str:
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    return ".".join(str(p) for p in parts) if parts else str(loc[0] if loc else "")


def _error_entry(loc: Sequence[str | int], message: str, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "field": _field_path(loc), "message": message, "type": kind}


# SQLSTATEs that mean "retry later", not "bad input": classes 08 connection exception,
# 40 transaction rollback (deadlock, serialization failure), 53 insufficient resources,
# 57 operator intervention (including 57014, statement_timeout), 58 system error (I/O);
# and 25P03 (idle_in_transaction_session_timeout) and 55P03 (lock_timeout).
_UNAVAILABLE_SQLSTATE = re.compile(r"^(08|40|53|57|58|25P03|55P03)")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps (`.orig` of SQLAlchemy errors, then causes)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not f for f in found):
        found.append(current)
        nxt = getattr(current, "orig", None)
        current = (
            nxt if isinstance(nxt, BaseException) else (current.__cause__ or current.__context__)
        )
    return found


def _sqlstate(exc: BaseException) -> str | None:
    for link in _chain(exc):
        code = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _references_missing_row(exc: BaseException) -> bool:
    """A foreign key violation on INSERT/UPDATE: the referenced row does not exist (on
    DELETE the message says the row "is still referenced" instead)."""
    return any(
        "is not present in table" in str(getattr(e, "detail", "") or "") for e in _chain(exc)
    )


def client_data_status(exc: BaseException) -> int | None:
    """422 for data the database refused (SQLSTATE 22: out of range, bad text...), 404 for
    a reference to a row that does not exist (23503 on insert), 409 for another constraint
    it enforces (23), None otherwise. asyncpg's errors reach us wrapped in a generic
    DBAPIError, so the SQLSTATE is what tells them apart."""
    code = _sqlstate(exc)
    if code is None:
        return None
    if code.startswith("22"):
        return 422
    if code == "23503" and _references_missing_row(exc):
        return 404
    if code.startswith("23"):
        return 409
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) means the database cannot be reached."""
    for current in _chain(exc):
        if isinstance(
            current,
            OSError
            | TimeoutError
            | sa_exc.TimeoutError
            | sa_exc.DisconnectionError
            | sa_exc.OperationalError
            | sa_exc.InterfaceError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError,
        ):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and _UNAVAILABLE_SQLSTATE.match(sqlstate):
            return True
    return False


def unavailable(retry_after_seconds: int) -> JSONResponse:
    """503 + Retry-After: the database cannot be reached (or is overloaded)."""
    return problem(
        HTTP_503_SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "The database is unavailable; retry later.",
        slug="database-unavailable",
        headers={"Retry-After": str(retry_after_seconds)},
    )


def app_error_response(exc: AppError) -> JSONResponse:
    return problem(
        exc.status, exc.title, exc.detail, slug=exc.slug, headers=exc.headers, **exc.extra()
    )


def render_error(exc: BaseException, *, retry_after_seconds: int) -> JSONResponse | None:
    """The response for an error raised outside the app's handlers (pure ASGI middleware):
    an `AppError` or an unreachable database; None for anything else."""
    if isinstance(exc, AppError):
        return app_error_response(exc)
    if is_database_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return unavailable(retry_after_seconds)
    return None


ExceptionHandler = Callable[[Request, Exception], Any]


def handler_for(app: Starlette, exc: Exception) -> ExceptionHandler | None:
    """The handler the app's exception middleware would pick for `exc` (the closest class
    in its MRO), for code that answers a route outside FastAPI's router; None where the
    error would reach the server-error middleware (the catch-all `Exception` handler)."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = handlers.get(cls)
        if handler is not None:
            return handler  # type: ignore[no-any-return]
    return None


async def _body_problem(
    request: Request, errors: Sequence[Any]
) -> tuple[str, dict[str, Any]] | None:
    """A readable message when the body as a whole is wrong: not JSON (FastAPI reports the
    character offset as the field), or missing (it reports `body`)."""
    if len(errors) != 1:
        return None
    error = errors[0]
    loc, kind = tuple(error.get("loc", ())), error.get("type")
    if kind == "json_invalid":
        body = (await request.body()).decode("utf-8", "replace")
        offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        line = body.count("\n", 0, offset) + 1
        column = offset - (body.rfind("\n", 0, offset) + 1) + 1
        detail = f"the body is not valid JSON (line {line}, column {column})"
        return detail, _error_entry(["body"], detail, "json_invalid")
    if kind == "missing" and loc == ("body",):
        required = _required_body_fields(request)
        if required:
            names = ", ".join(required)
            verb = "is" if len(required) == 1 else "are"
            detail = f"{names} {verb} required: send a JSON body with {names}"
        else:
            detail = "a JSON body is required"
        return detail, _error_entry(["body"], detail, "missing")
    return None


def _required_body_fields(request: Request) -> list[str]:
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None)
    if not isinstance(fields, dict):
        return []
    return [(info.alias or name) for name, info in fields.items() if info.is_required()]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this request's path."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    by_template: dict[str, set[str]] = {}
    scope = {**request.scope, "method": "GET"}
    for route in iter_route_contexts(request.app.routes):
        matcher = getattr(route, "matches", None)
        if matcher is not None and matcher(scope)[0] is not Match.NONE:
            by_template.setdefault(str(route.path), set()).update(route.methods or ())
    if not by_template:
        return []
    # `/entries/{key:path}` also matches `/entries/k/hits`: the resource is the template
    # with the most literal text, as a client reading the contract would see it.
    literal = {t: len(re.sub(r"{[^}]*}", "", t)) for t in by_template}
    best = max(literal.values())
    return sorted(set().union(*(m for t, m in by_template.items() if literal[t] == best)))


def install_error_handlers(app: FastAPI, *, retry_after_seconds: int) -> None:
    """Route every exception type to one problem+json rendering."""

    async def app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return app_error_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        raw = list(exc.errors())
        body_problem = await _body_problem(request, raw)
        if body_problem is not None:
            detail, entry = body_problem
            return problem(
                422, "Unprocessable Content", detail, slug="validation-error", errors=[entry]
            )
        errors = [
            _error_entry(e.get("loc", ()), str(e.get("msg", "invalid")), str(e.get("type", "")))
            for e in raw
        ]
        fields = ", ".join(sorted({e["field"] for e in errors})) or "request"
        return problem(
            422,
            "Unprocessable Content",
            f"Invalid request: {fields}",
            slug="validation-error",
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 400 and request.method in ("POST", "PATCH", "PUT"):
            # The framework's "error parsing the body" (bytes that are not UTF-8 JSON):
            # bad input, so a 422 naming the body like any other validation error.
            message = "the body is not valid JSON (not UTF-8 text)"
            return problem(
                422,
                "Unprocessable Content",
                message,
                slug="validation-error",
                errors=[_error_entry(["body"], message, "json_invalid")],
            )
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; RFC 9110 wants every
            # method of the resource (several routes may share one path).
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem(exc.status_code, title, detail, headers=headers)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return unavailable(retry_after_seconds)
        status = client_data_status(exc)
        if status == 404:
            return problem(
                404,
                "Not Found",
                "The request refers to a record that does not exist.",
                slug="not-found",
            )
        if status == 409 or isinstance(exc, sa_exc.IntegrityError):
            return problem(
                409, "Conflict", "The request conflicts with stored data.", slug="conflict"
            )
        if status == 422 or isinstance(exc, sa_exc.DataError):
            return problem(
                422,
                "Unprocessable Content",
                "A value was rejected by the database.",
                slug="validation-error",
            )
        log.error("unexpected database error", exc_info=exc)
        return problem(
            500, "Internal Server Error", "An unexpected error occurred.", slug="internal"
        )

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return unavailable(retry_after_seconds)
        log.error("unhandled error", exc_info=exc)
        return problem(
            500, "Internal Server Error", "An unexpected error occurred.", slug="internal"
        )

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, database_error)
    app.add_exception_handler(OSError, unexpected_error)
    app.add_exception_handler(asyncpg.PostgresError, unexpected_error)
    app.add_exception_handler(asyncpg.InterfaceError, unexpected_error)
    app.add_exception_handler(Exception, unexpected_error)
