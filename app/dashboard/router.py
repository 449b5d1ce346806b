"""The operator dashboard (`/dashboard`): sign-in, analytics pages, the approval queue.

Every page calls the same service functions as the JSON API (no second copy of a query)
with the window resolved by the API's rule. Every response carries a strict
Content-Security-Policy: scripts and styles only from our own static files, chart data in
`<script type="application/json">`, no inline handlers.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import urllib.parse
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import keys
from app.auth import service as auth_service
from app.auth.authentication import KeyCache
from app.auth.models import Scope
from app.auth.tokens import load_secret
from app.cache import service as cache_service
from app.cache.models import CacheEntryStatus
from app.dashboard import charts
from app.dashboard.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    DashboardSession,
    SessionSigner,
    tokens_match,
)
from app.dashboard.window import Window, WindowInputError, resolve
from app.db import SessionDep, request_session
from app.errors import AppError, Forbidden, is_database_unavailable
from app.experts import analytics as experts_analytics
from app.experts import service as experts_service
from app.experts.models import ApprovalStatus
from app.experts.schemas import FaqCandidateReject
from app.quality import service as quality_service
from app.quality.priority import REASON_WEIGHT
from app.query_params import Pagination, TimeWindow, decode_cursor
from app.routing import service as routing_service
from app.routing.schemas import GroupBy
from app.schemas import USD_DECIMALS, ExternalId
from app.transaction import TransactionalRoute
from app.votes import service as votes_service
from app.webhooks import service as webhooks_service
from app.webhooks.models import DeliveryStatus

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

NAV = [
    ("overview", "Overview", "/dashboard"),
    ("votes", "Votes", "/dashboard/votes"),
    ("routing", "Routing", "/dashboard/routing"),
    ("cache", "Cache", "/dashboard/cache"),
    ("experts", "Experts", "/dashboard/experts"),
    ("approval", "Approval queue", "/dashboard/approval-queue"),
    ("review", "Review queue", "/dashboard/review-queue"),
    ("webhooks", "Webhooks", "/dashboard/webhooks"),
]
NOTICES = {
    "signed_out": "You are signed out.",
    "expired": "Your session ended. Sign in again.",
    "redelivery_queued": "The delivery is queued again: it is attempted now.",
    "webhook_enabled": "The webhook is enabled; its pending deliveries are attempted now.",
}
QUEUE_PAGE_SIZE = 25
FLAGGED_PAGE_SIZE = 50
LEADERBOARD_SIZE = 20
RECOMMENDATION_PATTERNS_MAX = 8
RECOMMENDATION_DAYS = 90
REGRET_MIN_SAMPLES = 10
FORM_MAX_FIELDS = 20
REVIEW_PAGE_SIZE = 25
CALIBRATION_REASONS = 20
WEBHOOKS_MAX = 50
DELIVERIES_PER_WEBHOOK = 20

# Every file under static/, found once: the static route serves only these (no path
# from the request ever reaches the filesystem).
STATIC_FILES = {
    path.relative_to(STATIC_DIR).as_posix(): path
    for path in STATIC_DIR.rglob("*")
    if path.is_file() and path.name != "VERSIONS"
}


def _format_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _format_num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _format_usd(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"${value:,.{digits}f}"


def _format_time(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _format_stamp(value: str | None) -> str:
    """A timestamp as the JSON API sends it (ISO text), shown like `_format_time`."""
    return "—" if not value else _format_time(dt.datetime.fromisoformat(value))


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(value: float | None) -> float | None:
    """A money value as the JSON API sends it (rounded to USD_DECIMALS)."""
    return None if value is None else round(value, USD_DECIMALS)


templates.filters.update(
    pct=_format_pct,
    num=_format_num,
    usd=_format_usd,
    time=_format_time,
    stamp=_format_stamp,
    money=_money,
)


class SignInRequired(Exception):
    """No valid session (missing, tampered, expired, or its key revoked / not admin)."""


class CsrfRefused(Forbidden):
    """A form POST without this session's CSRF token (or from another origin)."""


@dataclass(frozen=True)
class Operator:
    """The signed-in admin: the session and the key's user id (recorded on decisions)."""

    session: DashboardSession
    user_id: int | None


def _signer(request: Request) -> SessionSigner:
    """One signer per app, keyed with the service's token secret (distinct salts)."""
    signer: SessionSigner | None = getattr(request.app.state, "dashboard_signer", None)
    if signer is None:
        settings = request.app.state.settings
        signer = SessionSigner(
            load_secret(settings), max_age_seconds=settings.dashboard_session_seconds
        )
        request.app.state.dashboard_signer = signer
    return signer


async def _find_key(request: Request, public_id: str) -> auth_service.KeyRecord | None:
    """The key record through the API's per-process cache: revocation reaches the
    dashboard exactly when it reaches the API."""
    cache: KeyCache = request.app.state.auth.key_cache
    cached, record = cache.get(public_id)
    if not cached:
        record = await auth_service.find_key(request_session(request), public_id)
        cache.put(public_id, record)
    return record


async def signed_in_operator(request: Request) -> Operator:
    """The operator of this request, re-checked against the key on every request."""
    state = _signer(request).read_session(request.cookies.get(SESSION_COOKIE))
    if state is None:
        raise SignInRequired
    record = await _find_key(request, state.public_id)
    if (
        record is None
        or record.id != state.key_id
        or record.revoked
        or record.scope is not Scope.admin
    ):
        raise SignInRequired
    request.state.dashboard_session = state
    return Operator(session=state, user_id=record.user_id)


OperatorDep = Annotated[Operator, Depends(signed_in_operator)]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    state: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    html = templates.get_template(template).render(
        nav=NAV,
        page=context.pop("page", None),
        csrf_token=state.csrf if state is not None else None,
        csrf_field=CSRF_FIELD,
        signed_in=state is not None,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _error_response(request: Request, status_code: int, message: str) -> HTMLResponse:
    """An error as a page, or (for htmx) as a message swapped into the page's status area."""
    if _is_htmx(request):
        return render(
            request,
            "_flash.html",
            status_code=status_code,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "outerHTML"},
            message=message,
            error=True,
        )
    return render(
        request, "error.html", status_code=status_code, message=message, status=status_code
    )


def _sign_in_redirect(request: Request) -> Response:
    target = "/dashboard/login"
    if request.method == "GET" and request.url.path != "/dashboard/login":
        target += "?" + urllib.parse.urlencode({"next": request.url.path})
    if _is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class DashboardRoute(TransactionalRoute):
    """The API's route class (commit before responding), with errors rendered as pages
    and the security headers on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def dashboard_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = _sign_in_redirect(request)
            except AppError as exc:
                response = _error_response(request, exc.status, exc.detail)
            except RequestValidationError:
                response = _error_response(request, 422, "The request was not understood.")
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                settings = request.app.state.settings
                response = _error_response(
                    request, 503, "The database is unavailable; try again in a few seconds."
                )
                response.headers["Retry-After"] = str(settings.retry_after_seconds)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            if request.url.path.startswith("/dashboard/static/"):
                response.headers.setdefault("Cache-Control", "public, max-age=3600")
            else:
                # Pages hold operator data: never keep them in a shared or back cache.
                response.headers.setdefault("Cache-Control", "no-store")
            return response

        return dashboard_handler


router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)


# ------------------------------------------------------------------------- forms


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (first value of each field); anything else → 415."""
    body = await request.body()
    if not body:
        return {}  # nothing to read (then no CSRF token either: refused as such)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm("Send the form as application/x-www-form-urlencoded.")
    try:
        fields = urllib.parse.parse_qs(
            body.decode(),
            keep_blank_values=True,
            max_num_fields=FORM_MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise UnsupportedForm("The form could not be read.") from None
    return {name: values[0] for name, values in fields.items() if "\x00" not in values[0]}


class UnsupportedForm(AppError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # browsers send it on cross-site POSTs; tests and curl may not
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def check_csrf(request: Request, form: dict[str, str], expected: str | None) -> None:
    """The form must carry this session's token and, if the browser says, our origin."""
    if not _same_origin(request) or not tokens_match(expected, form.get(CSRF_FIELD)):
        raise CsrfRefused(
            "This form's security token is missing or stale (or it came from another "
            "site). Reload the page and submit it again."
        )


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    """Only a dashboard path of ours: never an open redirect."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard"


# ------------------------------------------------------------------------- sign-in


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form; sets the short-lived cookie its CSRF token is checked against."""
    return _login_form(request, next_path=_safe_next(next))


def _login_form(
    request: Request, *, next_path: str, status_code: int = 200, error: str | None = None
) -> Response:
    cookie, nonce = _signer(request).new_login_nonce()
    response = render(
        request,
        "login.html",
        status_code=status_code,
        page="login",
        login_csrf=nonce,
        next_path=next_path,
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=3600,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key: unknown or revoked → 401, not admin → 403, admin → a session."""
    form = await read_form(request)
    signer = _signer(request)
    check_csrf(request, form, signer.read_login_nonce(request.cookies.get(LOGIN_COOKIE)))
    next_path = _safe_next(form.get("next"))
    presented = form.get("api_key", "").strip()
    parsed = keys.parse(presented)
    record = await _find_key(request, parsed[0]) if parsed else None
    if parsed is None or record is None or not keys.matches(parsed[1], record.secret_hash):
        return _login_form(request, next_path=next_path, status_code=401, error="Unknown API key.")
    if record.revoked:
        return _login_form(
            request, next_path=next_path, status_code=401, error="This API key was revoked."
        )
    if record.scope is not Scope.admin:
        return _login_form(
            request,
            next_path=next_path,
            status_code=403,
            error=f"This is an {record.scope.value} key. The dashboard needs an admin key "
            "(feedback-service keys create --scope admin).",
        )
    cookie, _ = signer.new_session(key_id=record.id, public_id=record.public_id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=signer.max_age_seconds,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard")
    return response


@router.post("/logout")
async def logout(request: Request, operator: OperatorDep) -> Response:
    """Sign out: the session cookie is removed."""
    check_csrf(request, await read_form(request), operator.session.csrf)
    response = RedirectResponse("/dashboard/login?notice=signed_out", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    return response


# ------------------------------------------------------------------------- window


def _window(request: Request) -> tuple[Window, str | None]:
    """The picker's window, or the default one with the reason the input was refused."""
    q = request.query_params
    try:
        return resolve(q.get("from"), q.get("to"), q.get("bucket")), None
    except WindowInputError as exc:
        return resolve(None, None), str(exc)


def _time_window(window: Window) -> TimeWindow:
    return TimeWindow(start=window.start, end=window.end)


def _page(
    request: Request,
    template: str,
    window: Window,
    window_error: str | None,
    **context: Any,
) -> HTMLResponse:
    return render(
        request,
        template,
        status_code=422 if window_error else 200,
        window=window,
        window_error=window_error,
        **context,
    )


# ------------------------------------------------------------------------- pages


async def _routing_groups(
    session: AsyncSession, window: TimeWindow, group_by: GroupBy
) -> list[dict[str, Any]]:
    """The groups exactly as `GET /api/v1/analytics/routing` shows them (rounded alike)."""
    groups = await routing_service.routing_analytics(session, window=window, group_by=group_by)
    return [g.model_dump(mode="json") for g in groups]


@router.get("")
async def overview(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Satisfaction over time, quality vs cost per model, cache savings, queue sizes."""
    window, window_error = _window(request)
    votes = await votes_service.vote_analytics(
        session, start=window.start, end=window.end, bucket=window.bucket, top=10
    )
    models = await _routing_groups(session, _time_window(window), GroupBy.model)
    cache = await cache_service.cache_analytics(session, _time_window(window))
    experts = await experts_analytics.expert_analytics(session, _time_window(window), top=1)
    review_queue_size = await quality_service.review_queue_size(session)
    return _page(
        request,
        "overview.html",
        window,
        window_error,
        page="overview",
        votes=votes,
        models=models,
        cache=cache,
        pending_candidates=experts.candidates_by_status[ApprovalStatus.pending.value],
        review_queue_size=review_queue_size,
        satisfaction_chart=charts.satisfaction_series(votes.series, window.bucket.value),
        quality_cost_chart=charts.quality_vs_cost(models),
    )


@router.get("/votes")
async def votes_page(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Up/down/satisfaction series, top reasons, and one conversation's history."""
    window, window_error = _window(request)
    analytics = await votes_service.vote_analytics(
        session, start=window.start, end=window.end, bucket=window.bucket, top=10
    )
    conversation_id = (request.query_params.get("conversation_id") or "").strip()
    history = None
    conversation_error = None
    if conversation_id:
        try:
            conversation_id = _external_id(conversation_id)
            history = await votes_service.conversation_votes(session, conversation_id)
        except ValueError:
            conversation_error = "A conversation id has 1 to 200 characters."
    reasons = analytics.top_reasons
    return _page(
        request,
        "votes.html",
        window,
        window_error,
        page="votes",
        analytics=analytics,
        conversation_id=conversation_id,
        history=history,
        conversation_error=conversation_error,
        votes_chart=charts.votes_series(analytics.series, window.bucket.value),
        satisfaction_chart=charts.satisfaction_series(analytics.series, window.bucket.value),
        reasons_chart=charts.bars(
            [r.reason for r in reasons],
            [r.count for r in reasons],
            x_label="Reason",
            y_label="Votes citing it (count)",
            series_label="Votes",
        ),
    )


_EXTERNAL_ID: TypeAdapter[str] = TypeAdapter(ExternalId)


def _external_id(value: str) -> str:
    return _EXTERNAL_ID.validate_python(value)


@router.get("/routing")
async def routing_page(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Groups table, quality vs cost per model, recommendations per pattern, regret."""
    window, window_error = _window(request)
    try:
        group_by = GroupBy(request.query_params.get("group_by") or GroupBy.provider.value)
    except ValueError:
        group_by, window_error = GroupBy.provider, "`group_by` must be provider, model or pattern."
    tw = _time_window(window)
    groups = await _routing_groups(session, tw, group_by)
    models = (
        groups if group_by is GroupBy.model else await _routing_groups(session, tw, GroupBy.model)
    )
    patterns = await _routing_groups(session, tw, GroupBy.pattern)
    recommendations = []
    for group in patterns[:RECOMMENDATION_PATTERNS_MAX]:
        if group["key"] is None:
            continue
        prior, ranked = await routing_service.recommend(
            session, pattern=group["key"], band=None, days=RECOMMENDATION_DAYS
        )
        recommendations.append((group["key"], prior, ranked[:3]))
    regret = await routing_service.routing_regret(
        session, window=tw, min_samples=REGRET_MIN_SAMPLES
    )
    return _page(
        request,
        "routing.html",
        window,
        window_error,
        page="routing",
        group_by=group_by.value,
        group_options=[g.value for g in GroupBy],
        groups=groups,
        models=models,
        quality_cost_chart=charts.quality_vs_cost(models),
        recommendations=recommendations,
        recommendation_days=RECOMMENDATION_DAYS,
        regret=regret,
    )


@router.get("/cache")
async def cache_page(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Hits, savings, the rating distribution, and flagged entries with a clear button."""
    window, window_error = _window(request)
    analytics = await cache_service.cache_analytics(session, _time_window(window))
    flagged = await cache_service.list_entries(
        session, Pagination(limit=FLAGGED_PAGE_SIZE, cursor=None), status=CacheEntryStatus.flagged
    )
    labels = [str(value) for value in range(1, 6)]
    return _page(
        request,
        "cache.html",
        window,
        window_error,
        page="cache",
        analytics=analytics,
        flagged=flagged,
        rating_labels=labels,
        ratings_chart=charts.bars(
            [f"{v} ★" for v in labels],
            [analytics.ratings[v] for v in labels],
            x_label="Rating (1 to 5 stars)",
            y_label="Ratings (count)",
            series_label="Ratings",
        ),
    )


@router.post("/cache/unflag")
async def unflag(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Clear a cache entry's flag (the API's `unflag`, same service function)."""
    form = await read_form(request)
    check_csrf(request, form, operator.session.csrf)
    cache_key = form.get("cache_key", "")
    await cache_service.clear_flag(session, cache_key)
    message = f"Flag cleared on {cache_key}."
    if _is_htmx(request):
        return render(request, "_flash.html", message=message, error=False, oob=True)
    return RedirectResponse("/dashboard/cache", status_code=303)


@router.get("/experts")
async def experts_page(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Leaderboard by trust, reviews by type and by category, candidates by status."""
    window, window_error = _window(request)
    analytics = await experts_analytics.expert_analytics(
        session, _time_window(window), top=LEADERBOARD_SIZE
    )
    by_type = analytics.feedback_by_type
    by_category = analytics.feedback_by_category
    calibration = await quality_service.calibration(
        session, start=window.start, end=window.end, top=CALIBRATION_REASONS
    )
    return _page(
        request,
        "experts.html",
        window,
        window_error,
        page="experts",
        analytics=analytics,
        trust_chart=charts.bars(
            [str(e.user_id) for e in analytics.experts],
            [round(e.trust_score, 4) for e in analytics.experts],
            x_label="Expert (platform user id)",
            y_label="Trust score (0 to 1)",
            series_label="Trust",
        ),
        type_chart=charts.bars(
            list(by_type),
            list(by_type.values()),
            x_label="Feedback type",
            y_label="Reviews (count)",
            series_label="Reviews",
        ),
        category_chart=charts.bars(
            [k.replace("_", " ") for k in by_category],
            list(by_category.values()),
            x_label="Category",
            y_label="Reviews (count)",
            series_label="Reviews",
            color=charts.PALETTE[4],
        ),
        calibration=calibration.model_dump(mode="json", by_alias=True),
        calibration_matrix=charts.confusion_matrix(calibration.votes.model_dump()),
        calibration_chart=charts.bars(
            [r.reason for r in calibration.reasons],
            [round(r.incorrect_share * 100, 2) for r in calibration.reasons],
            x_label="Down-vote reason",
            y_label="Answers judged incorrect (%)",
            series_label="Judged incorrect",
            color=charts.PALETTE[1],
            y_range=(0, 100),
        ),
    )


@router.get("/approval-queue")
async def approval_queue(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Pending FAQ candidates, highest priority first, with approve and reject."""
    cursor_text = request.query_params.get("cursor")
    cursor = decode_cursor(cursor_text) if cursor_text else None
    page = await experts_service.list_candidates(
        session, Pagination(limit=QUEUE_PAGE_SIZE, cursor=cursor), status=ApprovalStatus.pending
    )
    return render(request, "approval_queue.html", page="approval", queue=page)


def _candidate_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise experts_service.UnknownCandidate(f"No FAQ candidate {raw}.") from None


async def _decided(request: Request, message: str) -> Response:
    if _is_htmx(request):
        # The candidate's row is replaced by nothing; the message goes to the status area.
        return render(request, "_flash.html", message=message, error=False, oob=True)
    return RedirectResponse("/dashboard/approval-queue", status_code=303)


@router.post("/approval-queue/{candidate_id}/approve")
async def approve(
    candidate_id: str, request: Request, operator: OperatorDep, session: SessionDep
) -> Response:
    """Approve a pending candidate (same service call as the API: 409 if decided)."""
    check_csrf(request, await read_form(request), operator.session.csrf)
    candidate = await experts_service.approve_candidate(
        session, candidate_id=_candidate_id(candidate_id), admin_user_id=operator.user_id
    )
    return await _decided(request, f"Approved: “{_short(candidate.question)}”.")


@router.post("/approval-queue/{candidate_id}/reject")
async def reject(
    candidate_id: str, request: Request, operator: OperatorDep, session: SessionDep
) -> Response:
    """Reject a pending candidate with a reason (required, as in the API)."""
    form = await read_form(request)
    check_csrf(request, form, operator.session.csrf)
    try:
        payload = FaqCandidateReject(reason=form.get("reason", ""))
    except ValidationError:
        return _error_response(request, 422, "A rejection needs a reason (1 to 4000 characters).")
    candidate = await experts_service.reject_candidate(
        session,
        candidate_id=_candidate_id(candidate_id),
        admin_user_id=operator.user_id,
        reason=payload.reason,
    )
    return await _decided(request, f"Rejected: “{_short(candidate.question)}”.")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@router.get("/review-queue")
async def review_queue(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Down-voted queries awaiting an expert, highest priority first (the API's queue)."""
    cursor_text = request.query_params.get("cursor")
    cursor = decode_cursor(cursor_text) if cursor_text else None
    queue = await quality_service.review_queue(
        session, Pagination(limit=REVIEW_PAGE_SIZE, cursor=cursor)
    )
    return render(
        request,
        "review_queue.html",
        page="review",
        items=[item.model_dump(mode="json") for item in queue.items],
        next_cursor=queue.next_cursor,
        first_page=cursor is None,
        reason_weight=REASON_WEIGHT,
    )


@router.get("/webhooks")
async def webhooks(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    """Endpoints (a disabled one says why) and each one's recent deliveries."""
    endpoints = await webhooks_service.list_endpoints(
        session, Pagination(limit=WEBHOOKS_MAX, cursor=None)
    )
    listed = []
    for endpoint in endpoints.items:
        recent = await webhooks_service.list_deliveries(
            session, endpoint.id, Pagination(limit=DELIVERIES_PER_WEBHOOK, cursor=None)
        )
        deliveries = [d.model_dump(mode="json") for d in recent.items]
        failures = sum(1 for d in recent.items if d.status is DeliveryStatus.failed)
        listed.append((endpoint.model_dump(mode="json"), deliveries, failures))
    return render(
        request,
        "webhooks.html",
        page="webhooks",
        endpoints=listed,
        more_endpoints=endpoints.next_cursor is not None,
        deliveries_shown=DELIVERIES_PER_WEBHOOK,
    )


def _webhook_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise webhooks_service.UnknownWebhook(f"No webhook {raw}.") from None


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    webhook_id: str,
    delivery_id: str,
    request: Request,
    operator: OperatorDep,
    session: SessionDep,
) -> Response:
    """Queue a delivery again (the API's retry, same service call: 409 if disabled)."""
    check_csrf(request, await read_form(request), operator.session.csrf)
    endpoint_id = _webhook_id(webhook_id)
    try:
        delivery = uuid.UUID(delivery_id)
    except ValueError:
        raise webhooks_service.UnknownDelivery(
            f"No delivery {delivery_id} for webhook {endpoint_id}."
        ) from None
    await webhooks_service.retry_delivery(session, endpoint_id, delivery)
    return RedirectResponse(
        f"/dashboard/webhooks?notice=redelivery_queued#delivery-{delivery}", status_code=303
    )


@router.post("/webhooks/{webhook_id}/enable")
async def enable_webhook(
    webhook_id: str, request: Request, operator: OperatorDep, session: SessionDep
) -> Response:
    """Enable a disabled endpoint again (the API's enable, same service call)."""
    check_csrf(request, await read_form(request), operator.session.csrf)
    endpoint_id = _webhook_id(webhook_id)
    await webhooks_service.enable_endpoint(session, endpoint_id)
    return RedirectResponse(
        f"/dashboard/webhooks?notice=webhook_enabled#webhook-{endpoint_id}", status_code=303
    )


# ------------------------------------------------------------------------- static


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    """Our CSS/JS and the vendored libraries; only files that exist in the package."""
    file = STATIC_FILES.get(path)
    if file is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.name == "LICENSE":
        media_type = "text/plain"
    return FileResponse(file, media_type=media_type)


@router.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    """Any other dashboard path: a page that says so (with the same headers)."""
    if rest == "":
        return RedirectResponse("/dashboard", status_code=308)
    return render(
        request, "error.html", status_code=404, status=404, message="There is no such page."
    )
