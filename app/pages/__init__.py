"""Pages a newcomer meets first: `/` (links), `/docs` served offline from vendored
swagger-ui-dist assets, and one short page per problem `type` URI (`/problems/<slug>`)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from app.errors import problem

SWAGGER_DIR = Path(__file__).resolve().parent / "swagger-ui"
ASSETS_PATH = "/docs/assets"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ProblemType:
    """What a problem `type` means and what the caller should do about it."""

    status: int
    title: str
    meaning: str
    action: str


# One entry per slug the service emits (a test walks app/errors.py and app/health.py).
PROBLEM_TYPES: dict[str, ProblemType] = {
    "unauthorized": ProblemType(
        401,
        "Unauthorized",
        "The request carried no credential, or one that is unknown, revoked, tampered "
        "with or expired.",
        "Send `Authorization: Bearer <key-or-token>`. Create a key with `feedback-service "
        "keys create`; mint a fresh feedback token if yours expired.",
    ),
    "forbidden": ProblemType(
        403,
        "Forbidden",
        "The credential is valid but its scope does not allow this operation, or a feedback "
        "token was used for another target or user.",
        "Use a key with the right scope (`ingest`, `expert` or `admin`), or a token minted "
        "for this conversation or cache entry.",
    ),
    "not-found": ProblemType(
        404,
        "Not Found",
        "The resource named in the path or body (an expert, a cache key, a request id, a "
        "candidate, a user) does not exist.",
        "Check the id; create the resource first (for example the routing metric before "
        "its feedback).",
    ),
    "conflict": ProblemType(
        409,
        "Conflict",
        "The request contradicts stored data: an `Idempotency-Key` reused with another "
        "body, a `request_id` stored with different values, a second expert profile for a "
        "user, or a decision on a candidate that is no longer pending.",
        "Use a new `Idempotency-Key` for a new request; read the stored resource and decide "
        "again from its current state.",
    ),
    "payload-too-large": ProblemType(
        413,
        "Content Too Large",
        "The request body is larger than `MAX_BODY_BYTES` (1 MiB by default).",
        "Send smaller bodies: split routing metrics into batches of at most 1000 items.",
    ),
    "validation-error": ProblemType(
        422,
        "Unprocessable Content",
        "The body, query or path broke a rule of the schema; `errors` names each field "
        "(`loc`, `field`) with a message.",
        "Fix the fields listed in `errors`; the schemas in /docs show every rule.",
    ),
    "rate-limited": ProblemType(
        429,
        "Too Many Requests",
        "This credential (or token target) made more than `RATE_LIMIT_PER_MINUTE` requests, "
        "or too many exports run at once.",
        "Wait the number of seconds in `Retry-After`, then retry.",
    ),
    "durability-off": ProblemType(
        503,
        "Service Unavailable",
        "`/readyz`: PostgreSQL runs with `synchronous_commit` or `fsync` off, so an "
        "acknowledged write could be lost in a crash.",
        "Turn both on in PostgreSQL's configuration, or set `REQUIRE_DURABLE_COMMITS=false` "
        "if you accept that risk (then `/readyz` reports it in its body).",
    ),
    "overloaded": ProblemType(
        503,
        "Service Unavailable",
        "The process already handles `MAX_IN_FLIGHT_REQUESTS` requests; this one was refused "
        "at once instead of queueing for a database connection.",
        "Retry after the seconds in `Retry-After`; add workers or replicas if it persists.",
    ),
    "unsupported-media-type": ProblemType(
        415,
        "Unsupported Media Type",
        "The request body was sent with a `Content-Type` this route does not read.",
        "Send `Content-Type: application/json` with a JSON body.",
    ),
    "widget-demo-unavailable": ProblemType(
        503,
        "Service Unavailable",
        "The widget demo (`/widget/demo`) is off: it runs only when `WIDGET_DEMO_ENABLED` "
        "allows it (by default with the embedded database).",
        "Set `WIDGET_DEMO_ENABLED=true` to try the widget against this service.",
    ),
    "database-unavailable": ProblemType(
        503,
        "Service Unavailable",
        "The database did not answer; nothing was written.",
        "Retry after `Retry-After` seconds with the same `Idempotency-Key`.",
    ),
    "schema-behind": ProblemType(
        503,
        "Service Unavailable",
        "The database schema is not at the migrations' head, so this instance is not ready.",
        "Run `alembic upgrade head` (or `feedback-service migrate`).",
    ),
    "internal": ProblemType(
        500,
        "Internal Server Error",
        "An unexpected error; it is logged with the request id, never echoed.",
        "Retry later and report the `X-Request-ID` response header to the operators.",
    ),
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
line-height: 1.5">
{body}
</body></html>
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body))


def _code(text: str) -> str:
    """Escape, then show `backticked` words as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    """A few links: where to go first."""
    paths = {getattr(r, "path", "") for r in request.app.routes}
    links = [
        ("/docs", "API documentation (Swagger UI, works offline)"),
        ("/openapi.json", "OpenAPI document"),
        ("/healthz", "liveness"),
        ("/readyz", "readiness (database and schema)"),
    ]
    links += [(p, label) for p, label in OPTIONAL_LINKS if p in paths]
    items = "\n".join(f'<li><a href="{p}">{html.escape(p)}</a>: {label}</li>' for p, label in links)
    body = (
        "<h1>feedback-service</h1><p>Collects and analyses feedback on AI answers.</p>"
        f"<ul>\n{items}\n</ul>"
    )
    return _page("feedback-service", body)


# Shown on `/` only when another part of the app serves them.
OPTIONAL_LINKS = [
    ("/dashboard", "operator dashboard"),
    ("/widget/demo", "widget demo"),
]


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI from the vendored assets: no CDN, so it works on an offline machine."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} - docs",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        # No badge from the public validator service: nothing on this page leaves the host.
        swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
    )


@router.get("/problems/{slug}", response_class=HTMLResponse)
async def problem_page(slug: str) -> Response:
    """What a problem `type` means and what to do."""
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        return problem(404, "Not Found", f"No problem type named {slug!r}.", slug="not-found")
    body = (
        f"<h1>{kind.status} {html.escape(kind.title)}</h1>"
        f"<p><code>/problems/{html.escape(slug)}</code></p>"
        f"<h2>What it means</h2><p>{_code(kind.meaning)}</p>"
        f"<h2>What to do</h2><p>{_code(kind.action)}</p>"
        '<p><a href="/docs">API documentation</a></p>'
    )
    return _page(f"{kind.status} {kind.title}", body)


def install_pages(app: FastAPI) -> None:
    """Mount the vendored assets and the pages (call with `docs_url=None` on the app)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_DIR), name="swagger-ui")
    app.include_router(router)
