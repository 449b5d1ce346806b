"""schemathesis hooks for `test_schemathesis.py` (loaded through SCHEMATHESIS_HOOKS).

They replace values no schema can describe with ones the server issued, so the checks
test the rules behind them rather than stopping at the first 422 or 403:
- `cursor` is opaque: only a `next_cursor` the server returned is valid (malformed
  cursors are covered by the pagination tests);
- `from`/`to` must be real instants, in order and within the bucket limit — the hook
  asks the app's own window code and drops the pair when it refuses them;
- a webhook URL must resolve to an address the service may reach: positive cases get a
  loopback URL the stack's WEBHOOK_ALLOW_HOSTS allows (its dispatcher is off: nothing is
  sent);
- an admin's expert review names `expert_id`; a feedback token is bound to one
  conversation or cache key (env vars name the ones the fixture minted) and, unbound to a
  user, sends no `user_id`.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from schemathesis.generation import GenerationMode

from app.errors import UnprocessableEntity
from app.query_params import Bucket, check_bucket_count, parse_instant, resolve_window

CURSOR_MAX = 1000  # longer ones stay: they test the documented maxLength
WEBHOOK_URL = "http://127.0.0.1:9/hook"
WEBHOOK_ALLOW_HOSTS = "127.0.0.1/32"  # the live stack's setting (tests/hostile/conftest.py)


def _window_ok(query: dict[str, Any]) -> bool:
    try:
        start = parse_instant(query["from"], "from") if "from" in query else None
        end = parse_instant(query["to"], "to") if "to" in query else None
        window = resolve_window(start, end)
        if isinstance(query.get("bucket"), str) and query["bucket"] in Bucket.__members__:
            check_bucket_count(window.start, window.end, Bucket(query["bucket"]))
    except (UnprocessableEntity, TypeError, ValueError):
        return False
    return True


def _fix_query(query: dict[str, Any]) -> None:
    cursor = query.get("cursor")
    if isinstance(cursor, str) and len(cursor) <= CURSOR_MAX:
        del query["cursor"]
    bounds = [query.get(name) for name in ("from", "to")]
    short = all(b is None or (isinstance(b, str) and len(b) <= 64) for b in bounds)
    if short and not _window_ok(query):
        query.pop("from", None)
        query.pop("to", None)


@schemathesis.hook
def map_case(ctx: Any, case: Any) -> Any:
    if isinstance(case.query, dict):
        _fix_query(case.query)
    path = ctx.operation.path if ctx.operation is not None else ""
    body = case.body if isinstance(case.body, dict) else None
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode == GenerationMode.POSITIVE
    if path == "/api/v1/webhooks" and body is not None and positive and "url" in body:
        body["url"] = WEBHOOK_URL
    expert_id = os.environ.get("HOSTILE_EXPERT_ID")
    if expert_id and path == "/api/v1/expert-feedback" and body is not None:
        body.setdefault("expert_id", expert_id)
    conversation = os.environ.get("HOSTILE_CONVERSATION_ID")
    feedback = path == "/api/v1/feedback" and body is not None
    if conversation and feedback and isinstance(body.get("conversation_id"), str):  # type: ignore[union-attr]
        body["conversation_id"] = conversation  # type: ignore[index]
    cache_key = os.environ.get("HOSTILE_CACHE_KEY")
    if (conversation or cache_key) and body is not None and positive:
        # (Positive cases only: a negative one may be negative by its user_id.)
        # A token without a bound user may not name one (403, tests/auth); and near 2**63
        # schemathesis computes bounds in floats (steps of 2048) and crosses the maximum.
        body.pop("user_id", None)
    params = case.path_parameters
    if cache_key and isinstance(params, dict) and isinstance(params.get("cache_key"), str):
        params["cache_key"] = cache_key
    return case
