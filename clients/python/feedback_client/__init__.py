"""A typed client for feedback-service (async, on httpx).

The operations it calls are listed in `OPERATIONS`; the service's test suite checks each
one (path, method, the body fields sent, the response fields read) against the service's
`/openapi.json`, so the client cannot drift from the API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal, NotRequired, TypedDict, cast
from urllib.parse import quote

import httpx

__all__ = [
    "OPERATIONS",
    "ApiError",
    "CacheEntry",
    "CacheRating",
    "FeedbackClient",
    "FeedbackToken",
    "Operation",
    "Recommendations",
    "RoutingMetricsStored",
    "VoteRecorded",
]

Vote = Literal["up", "down"]


class FeedbackToken(TypedDict):
    token: str
    expires_at: str


class VoteRecorded(TypedDict):
    status: str
    id: str
    created_at: str


class RoutingMetricsStored(TypedDict):
    ids: list[str]
    items: list[dict[str, Any]]


class RoutingFeedbackStored(TypedDict):
    id: str
    request_id: str
    created_at: str


class RecommendedCandidate(TypedDict):
    provider: str
    model: str
    samples: int
    expected_quality: float
    quality_lower_bound: float
    avg_cost: float | None


class Recommendations(TypedDict):
    pattern: str
    candidates: list[RecommendedCandidate]


class CacheEntry(TypedDict):
    cache_key: str
    provider: str
    model: str
    hit_count: int
    rating_count: int
    avg_rating: float | None
    status: str


class CacheRating(TypedDict):
    id: str
    entry_status: str


class Expert(TypedDict):
    id: str
    user_id: int
    trust_score: float
    is_verified: bool
    is_active: bool


class ExpertKey(TypedDict):
    key: str
    id: str
    expert_id: str


class FaqCandidateRef(TypedDict):
    id: str
    approval_status: str


class ExpertReviewStored(TypedDict):
    id: str
    faq_candidate: FaqCandidateRef | None


class FaqCandidate(TypedDict):
    id: str
    query_id: str
    question: str
    answer: str
    approval_status: str
    priority_score: float
    decided_at: NotRequired[str | None]


class Operation(TypedDict):
    """One API operation this client uses: what it sends and what it reads back."""

    method: str
    path: str
    body: list[str]  # request body fields the client may send
    response: type[Any] | None  # TypedDict of the success body (keys are read)
    status: int
    paginated: bool


OPERATIONS: dict[str, Operation] = {
    "mint_token": {
        "method": "post",
        "path": "/api/v1/feedback-tokens",
        "body": ["conversation_id", "cache_key", "user_id", "ttl_seconds"],
        "response": FeedbackToken,
        "status": 201,
        "paginated": False,
    },
    "submit_vote": {
        "method": "post",
        "path": "/api/v1/feedback",
        "body": [
            "conversation_id",
            "vote",
            "query_id",
            "user_id",
            "email",
            "expert_ids",
            "reasons",
            "comment",
        ],
        "response": VoteRecorded,
        "status": 201,
        "paginated": False,
    },
    "record_routing_metrics": {
        "method": "post",
        "path": "/api/v1/routing/metrics",
        "body": ["items"],
        "response": RoutingMetricsStored,
        "status": 201,
        "paginated": False,
    },
    "record_routing_feedback": {
        "method": "post",
        "path": "/api/v1/routing/feedback",
        "body": [
            "request_id",
            "quality_score",
            "is_correct",
            "is_helpful",
            "comment",
            "user_id",
            "session_id",
        ],
        "response": RoutingFeedbackStored,
        "status": 201,
        "paginated": False,
    },
    "recommendations": {
        "method": "get",
        "path": "/api/v1/routing/recommendations",
        "body": [],
        "response": Recommendations,
        "status": 200,
        "paginated": False,
    },
    "upsert_cache_entry": {
        "method": "post",
        "path": "/api/v1/cache/entries",
        "body": ["cache_key", "provider", "model", "prompt_hash", "cost_usd", "ttl_seconds"],
        "response": CacheEntry,
        "status": 201,
        "paginated": False,
    },
    "record_cache_hit": {
        "method": "post",
        "path": "/api/v1/cache/entries/{cache_key}/hits",
        "body": [],
        "response": None,
        "status": 204,
        "paginated": False,
    },
    "rate_cache_entry": {
        "method": "post",
        "path": "/api/v1/cache/entries/{cache_key}/feedback",
        "body": ["rating", "comment", "user_id"],
        "response": CacheRating,
        "status": 201,
        "paginated": False,
    },
    "get_cache_entry": {
        "method": "get",
        "path": "/api/v1/cache/entries/{cache_key}",
        "body": [],
        "response": CacheEntry,
        "status": 200,
        "paginated": False,
    },
    "iter_cache_entries": {
        "method": "get",
        "path": "/api/v1/cache/entries",
        "body": [],
        "response": CacheEntry,
        "status": 200,
        "paginated": True,
    },
    "create_expert": {
        "method": "post",
        "path": "/api/v1/experts",
        "body": ["user_id", "credential_types", "specializations", "experience_years"],
        "response": Expert,
        "status": 201,
        "paginated": False,
    },
    "create_expert_key": {
        "method": "post",
        "path": "/api/v1/experts/{expert_id}/keys",
        "body": ["name"],
        "response": ExpertKey,
        "status": 201,
        "paginated": False,
    },
    "iter_experts": {
        "method": "get",
        "path": "/api/v1/experts",
        "body": [],
        "response": Expert,
        "status": 200,
        "paginated": True,
    },
    "submit_expert_review": {
        "method": "post",
        "path": "/api/v1/expert-feedback",
        "body": [
            "query_id",
            "expert_id",
            "feedback_type",
            "category",
            "query_text",
            "original_answer",
            "expert_answer",
            "improvement_suggestions",
            "regulatory_references",
            "confidence_score",
            "time_spent_seconds",
            "complexity_rating",
        ],
        "response": ExpertReviewStored,
        "status": 201,
        "paginated": False,
    },
    "iter_expert_feedback": {
        "method": "get",
        "path": "/api/v1/experts/{expert_id}/feedback",
        "body": [],
        "response": None,
        "status": 200,
        "paginated": True,
    },
    "iter_faq_candidates": {
        "method": "get",
        "path": "/api/v1/faq-candidates",
        "body": [],
        "response": FaqCandidate,
        "status": 200,
        "paginated": True,
    },
    "approve_candidate": {
        "method": "post",
        "path": "/api/v1/faq-candidates/{candidate_id}/approve",
        "body": [],
        "response": FaqCandidate,
        "status": 200,
        "paginated": False,
    },
    "reject_candidate": {
        "method": "post",
        "path": "/api/v1/faq-candidates/{candidate_id}/reject",
        "body": ["reason"],
        "response": FaqCandidate,
        "status": 200,
        "paginated": False,
    },
}

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class ApiError(Exception):
    """A problem+json answer: `status`, and the document (`title`, `detail`, `errors`)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out what the caller did not give (the service applies its defaults)."""
    return {k: v for k, v in values.items() if v is not None}


class FeedbackClient:
    """`async with FeedbackClient(base_url, api_key=...) as fb: ...`

    POSTs carry an `Idempotency-Key` made once per call and resent on every retry, so
    retrying a timeout, a 429 or a 503 never creates twice. `retries` bounds the retries;
    waits follow `Retry-After` (at most `max_wait` seconds each).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout: float = 10.0,
        retries: int = 3,
        max_wait: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self.max_wait = max_wait
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> FeedbackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One call with retries; returns the decoded JSON body (None for 204)."""
        headers = {}
        if method.upper() == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json, params=_compact(params or {}), headers=headers
                )
            except httpx.TransportError:
                if attempt >= self.retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                await asyncio.sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            if response.status_code >= 400:
                try:
                    problem = response.json()
                except ValueError:
                    problem = {"title": response.reason_phrase, "detail": response.text}
                raise ApiError(response.status_code, problem)
            if response.status_code == 204 or not response.content:
                return None
            return response.json()

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None and retry_after.isdigit():
            return min(float(retry_after), self.max_wait)
        return float(min(0.5 * 2**attempt, self.max_wait))

    async def _call(self, name: str, *, json: Any = None, **params: Any) -> Any:
        op = OPERATIONS[name]
        path_values = {k: params.pop(k) for k in list(params) if "{" + k + "}" in op["path"]}
        path = op["path"].format(**{k: quote(str(v), safe="") for k, v in path_values.items()})
        return await self.request(op["method"], path, json=json, params=params)

    async def _pages(self, name: str, **params: Any) -> AsyncIterator[Any]:
        """Follow `next_cursor` until the last page."""
        cursor: str | None = None
        while True:
            page = await self._call(name, cursor=cursor, **params)
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # --- access ------------------------------------------------------------------------

    async def mint_token(
        self,
        *,
        conversation_id: str | None = None,
        cache_key: str | None = None,
        user_id: int | None = None,
        ttl_seconds: int | None = None,
    ) -> FeedbackToken:
        """A short-lived token for one conversation (or cache entry) to hand to a browser."""
        body = _compact(
            {
                "conversation_id": conversation_id,
                "cache_key": cache_key,
                "user_id": user_id,
                "ttl_seconds": ttl_seconds,
            }
        )
        return cast(FeedbackToken, await self._call("mint_token", json=body))

    # --- votes -------------------------------------------------------------------------

    async def submit_vote(
        self,
        conversation_id: str,
        vote: Vote,
        *,
        reasons: list[str] | None = None,
        comment: str | None = None,
        user_id: int | None = None,
        query_id: str | None = None,
        email: str | None = None,
        expert_ids: list[str] | None = None,
    ) -> VoteRecorded:
        body = _compact(
            {
                "conversation_id": conversation_id,
                "vote": vote,
                "reasons": reasons,
                "comment": comment,
                "user_id": user_id,
                "query_id": query_id,
                "email": email,
                "expert_ids": expert_ids,
            }
        )
        return cast(VoteRecorded, await self._call("submit_vote", json=body))

    # --- routing -----------------------------------------------------------------------

    async def record_routing_metrics(self, items: list[dict[str, Any]]) -> RoutingMetricsStored:
        """Up to 1000 metrics, stored all or nothing."""
        return cast(
            RoutingMetricsStored, await self._call("record_routing_metrics", json={"items": items})
        )

    async def record_routing_feedback(
        self, request_id: str, quality_score: float, **fields: Any
    ) -> RoutingFeedbackStored:
        body = {"request_id": request_id, "quality_score": quality_score, **_compact(fields)}
        return cast(RoutingFeedbackStored, await self._call("record_routing_feedback", json=body))

    async def recommendations(
        self, pattern: str, *, complexity: float | None = None
    ) -> Recommendations:
        result = await self._call("recommendations", pattern=pattern, complexity=complexity)
        return cast(Recommendations, result)

    # --- cache -------------------------------------------------------------------------

    async def upsert_cache_entry(
        self,
        cache_key: str,
        *,
        provider: str,
        model: str,
        cost_usd: float,
        prompt_hash: str | None = None,
        ttl_seconds: int | None = None,
    ) -> CacheEntry:
        body = _compact(
            {
                "cache_key": cache_key,
                "provider": provider,
                "model": model,
                "cost_usd": cost_usd,
                "prompt_hash": prompt_hash,
                "ttl_seconds": ttl_seconds,
            }
        )
        return cast(CacheEntry, await self._call("upsert_cache_entry", json=body))

    async def record_cache_hit(self, cache_key: str) -> None:
        await self._call("record_cache_hit", cache_key=cache_key)

    async def rate_cache_entry(
        self, cache_key: str, rating: int, *, comment: str | None = None
    ) -> CacheRating:
        body = _compact({"rating": rating, "comment": comment})
        return cast(
            CacheRating, await self._call("rate_cache_entry", json=body, cache_key=cache_key)
        )

    async def get_cache_entry(self, cache_key: str) -> CacheEntry:
        return cast(CacheEntry, await self._call("get_cache_entry", cache_key=cache_key))

    def iter_cache_entries(
        self, *, status: str | None = None, limit: int = 100
    ) -> AsyncIterator[CacheEntry]:
        return self._pages("iter_cache_entries", status=status, limit=limit)

    # --- experts and the FAQ queue -----------------------------------------------------

    async def create_expert(
        self, user_id: int, credential_types: list[str], **fields: Any
    ) -> Expert:
        body = {"user_id": user_id, "credential_types": credential_types, **_compact(fields)}
        return cast(Expert, await self._call("create_expert", json=body))

    async def create_expert_key(self, expert_id: str, *, name: str | None = None) -> ExpertKey:
        body = _compact({"name": name})
        return cast(
            ExpertKey, await self._call("create_expert_key", json=body, expert_id=expert_id)
        )

    def iter_experts(
        self, *, min_trust: float | None = None, active: bool | None = None, limit: int = 100
    ) -> AsyncIterator[Expert]:
        return self._pages("iter_experts", min_trust=min_trust, active=active, limit=limit)

    async def submit_expert_review(self, **fields: Any) -> ExpertReviewStored:
        return cast(
            ExpertReviewStored, await self._call("submit_expert_review", json=_compact(fields))
        )

    def iter_expert_feedback(
        self, expert_id: str, *, days: int | None = None, limit: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        return self._pages("iter_expert_feedback", expert_id=expert_id, days=days, limit=limit)

    def iter_faq_candidates(
        self, *, status: str | None = None, limit: int = 100
    ) -> AsyncIterator[FaqCandidate]:
        return self._pages("iter_faq_candidates", status=status, limit=limit)

    async def approve_candidate(self, candidate_id: str) -> FaqCandidate:
        result = await self._call("approve_candidate", candidate_id=candidate_id)
        return cast(FaqCandidate, result)

    async def reject_candidate(self, candidate_id: str, reason: str) -> FaqCandidate:
        result = await self._call(
            "reject_candidate", json={"reason": reason}, candidate_id=candidate_id
        )
        return cast(FaqCandidate, result)
