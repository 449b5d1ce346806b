"""`/widget/*`: the feedback widget's ES module (plain and content-versioned URLs, ETag,
304) and, when `WIDGET_DEMO_ENABLED` allows it, a demo page that uses it."""

from __future__ import annotations

import html
from string import Template
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from app.config import Settings
from app.errors import PROBLEM_JSON, NotFound, Problem
from app.votes import service as votes_service
from app.votes.schemas import ConversationVotes
from app.widget import assets
from app.widget.demo import (
    DEMO_CACHE_KEY,
    demo_backend,
    is_demo_conversation,
    new_conversation_id,
)
from app.widget.schemas import DemoToken

router = APIRouter(prefix="/widget", tags=["widget"])

# The plain URL may change on deploy: caches must revalidate (cheap, thanks to the ETag).
PLAIN_CACHE = "public, max-age=300, must-revalidate"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
# The demo page proves the widget needs nothing inline.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _script(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"text/javascript": {"schema": {"type": "string"}}},
    }


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    status.HTTP_304_NOT_MODIFIED: {"description": "`If-None-Match` matched the current ETag."}
}
DEMO_OFF = _problem("The demo is disabled (`WIDGET_DEMO_ENABLED`).")
BAD_PARAMETER = _problem("Invalid parameter; `errors` names it.")
UNAVAILABLE = _problem("Database unavailable; see Retry-After.")


class DemoDisabled(NotFound):
    """The demo routes exist only when WIDGET_DEMO_ENABLED allows them."""


class NotADemoConversation(NotFound):
    """The demo only speaks for its own throwaway conversations."""


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _serve(request: Request, asset: assets.Asset, cache_control: str, **headers: str) -> Response:
    common = {
        "ETag": asset.etag,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        # Module scripts load in CORS mode; the file is public, any page may embed it.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        **headers,
    }
    if _etag_matches(request, asset.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=common)
    return Response(content=asset.body, media_type=asset.media_type, headers=common)


def versioned_url() -> str:
    """The widget's immutable URL for this build (what pages should embed in production)."""
    return f"/widget/{assets.widget().version}/feedback.js"


@router.get(
    "/feedback.js",
    response_class=Response,
    responses={200: _script("The widget module (latest)."), **NOT_MODIFIED},
)
async def widget_module(request: Request) -> Response:
    """The `<feedback-thumbs>` / `<feedback-stars>` ES module; revalidated every 5 minutes.
    `Link: rel=canonical` names the immutable, content-versioned URL."""
    return _serve(
        request,
        assets.widget(),
        PLAIN_CACHE,
        Link=f'<{versioned_url()}>; rel="canonical"',
    )


@router.get(
    "/{version}/feedback.js",
    response_class=Response,
    responses={
        200: _script("The widget module of this version; cacheable forever."),
        **NOT_MODIFIED,
        404: _problem("Not the current version (a new deploy replaced it)."),
        422: BAD_PARAMETER,
    },
)
async def widget_module_versioned(
    request: Request,
    version: Annotated[
        str,
        Path(
            max_length=64,
            description="The module's content hash, as named by `Link: rel=canonical`.",
            examples=["7840ff96c4d37cd3"],
        ),
    ],
) -> Response:
    """The widget module under its content hash: `Cache-Control: immutable`, one year."""
    asset = assets.widget()
    if version != asset.version:
        raise NotFound(
            f"Widget version {version[:32]!r} is not served here; use {versioned_url()}."
        )
    return _serve(request, asset, VERSIONED_CACHE)


def demo_enabled(settings: Settings) -> bool:
    """WIDGET_DEMO_ENABLED, or when unset: on only with the embedded (development) database."""
    if settings.widget_demo_enabled is None:
        return settings.embedded
    return settings.widget_demo_enabled


def _require_demo(request: Request) -> None:
    if not demo_enabled(request.app.state.settings):
        raise DemoDisabled("The widget demo is disabled (WIDGET_DEMO_ENABLED).")


DEMO_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>feedback-service widget demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/widget/demo.css">
<script type="module" src="$widget_url"></script>
<script type="module" src="/widget/demo.js"></script>
</head>
<body>
<main>
<h1>Feedback widget demo</h1>
<p>This page's server minted two feedback tokens with an ingest key it keeps to itself,
exactly as your chat backend would (see the README, "Add the widget to your chat UI").
Conversation <code id="conversation">$conversation_id</code>.</p>
<article class="answer">
<p class="question">How long must I keep invoices?</p>
<p>Ten years from the date of the last entry (art. 2220 of the Civil Code).</p>
<feedback-thumbs id="thumbs" conversation-id="$conversation_id" token="$vote_token"
  lang="en"></feedback-thumbs>
</article>
<article class="answer">
<p class="question">Rate this cached answer (cache key <code>$cache_key</code>):</p>
<feedback-stars id="stars" cache-key="$cache_key" token="$cache_token" lang="en"></feedback-stars>
</article>
<section>
<h2>Stored for this conversation</h2>
<p>Current vote: <strong id="current">none yet</strong></p>
<ol id="history"></ol>
<p>Operators see the same votes in <code>GET /api/v1/analytics/votes</code> (admin key).</p>
</section>
<section>
<h2>Events</h2>
<ol id="events"></ol>
</section>
</main>
</body>
</html>
""")


@router.get(
    "/demo",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The demo page.", "content": {"text/html": {}}},
        404: DEMO_OFF,
        503: UNAVAILABLE,
    },
)
async def demo_page(request: Request) -> HTMLResponse:
    """A page with both widgets on a fresh demo conversation, under a strict CSP."""
    _require_demo(request)
    backend = demo_backend(request.app)
    conversation_id = new_conversation_id()
    vote_token = await backend.mint_token(request.app, conversation_id=conversation_id)
    cache_token = await backend.mint_token(request.app, cache_key=DEMO_CACHE_KEY)
    page = DEMO_PAGE.substitute(
        widget_url=html.escape(versioned_url()),
        conversation_id=html.escape(conversation_id),
        cache_key=html.escape(DEMO_CACHE_KEY),
        vote_token=html.escape(vote_token["token"]),
        cache_token=html.escape(cache_token["token"]),
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": DEMO_CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get(
    "/demo.js",
    response_class=Response,
    responses={200: _script("The demo page's script."), **NOT_MODIFIED, 404: DEMO_OFF},
)
async def demo_script(request: Request) -> Response:
    """The demo page's script (a file: the page allows no inline script)."""
    _require_demo(request)
    return _serve(request, assets.asset("demo.js"), "no-cache")


@router.get(
    "/demo.css",
    response_class=Response,
    responses={
        200: {"description": "The demo page's styles.", "content": {"text/css": {}}},
        **NOT_MODIFIED,
        404: DEMO_OFF,
    },
)
async def demo_styles(request: Request) -> Response:
    """The demo page's styles."""
    _require_demo(request)
    return _serve(request, assets.asset("demo.css"), "no-cache")


ConversationQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="A demo conversation id (`widget-demo-<12 hex>`); omit for a cache token.",
        examples=["widget-demo-0123456789ab"],
    ),
]


@router.post(
    "/demo/token",
    status_code=status.HTTP_201_CREATED,
    response_model=DemoToken,
    responses={
        404: _problem("Demo disabled, or not a demo conversation."),
        422: BAD_PARAMETER,
        503: UNAVAILABLE,
    },
)
async def demo_token(request: Request, conversation_id: ConversationQuery = None) -> DemoToken:
    """A fresh token for a demo conversation (or the demo cache entry): what the page asks
    its backend for when the widget fires `token-expired`."""
    _require_demo(request)
    if conversation_id is not None and not is_demo_conversation(conversation_id):
        raise NotADemoConversation("Only demo conversations get tokens here.")
    backend = demo_backend(request.app)
    if conversation_id is None:
        minted = await backend.mint_token(request.app, cache_key=DEMO_CACHE_KEY)
    else:
        minted = await backend.mint_token(request.app, conversation_id=conversation_id)
    return DemoToken.model_validate(minted)


@router.get(
    "/demo/votes",
    response_model=ConversationVotes,
    responses={
        404: _problem("Demo disabled, or not a demo conversation."),
        422: BAD_PARAMETER,
        503: UNAVAILABLE,
    },
)
async def demo_votes(
    request: Request,
    conversation_id: Annotated[
        str,
        Query(
            max_length=200,
            description="A demo conversation id (`widget-demo-<12 hex>`).",
            examples=["widget-demo-0123456789ab"],
        ),
    ],
) -> ConversationVotes:
    """What the service stored for a demo conversation (the admin read, demo ids only)."""
    _require_demo(request)
    if not is_demo_conversation(conversation_id):
        raise NotADemoConversation("Only demo conversations are shown here.")
    async with request.app.state.sessionmaker() as session:
        return await votes_service.conversation_votes(session, conversation_id)
