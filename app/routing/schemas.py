"""Request and response bodies of the routing routes."""

from __future__ import annotations

import enum
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from app.routing.models import RoutingConfidence, RoutingStrategy
from app.routing.scoring import ComplexityBand
from app.schemas import (
    CacheKey,
    Comment,
    ExternalId,
    JsonNumber,
    Milliseconds,
    ModelName,
    Money,
    Provider,
    Text,
    UsdAmount,
    UserId,
    UtcDateTime,
)

MAX_BATCH = 1000
_INT4_MAX = 2**31 - 1


Pattern = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Count = Annotated[int, Field(ge=0, le=_INT4_MAX), JsonNumber]


def _round_score(value: float) -> float:
    # Squared in the analytics SQL (variance): 1e-200 squared underflows float8 and the
    # query fails for every caller. Six decimals are more than any score means.
    return round(value, SCORE_DECIMALS)


SCORE_DECIMALS = 6
Score = Annotated[
    float, Field(ge=0, le=1, allow_inf_nan=False), JsonNumber, AfterValidator(_round_score)
]

METRIC_EXAMPLE: dict[str, Any] = {
    "request_id": "req-2f6c1a",
    "strategy_used": "hybrid",
    "confidence": "high",
    "selected_provider": "openai",
    "selected_model": "gpt-4o-mini",
    "baseline_provider": "openai",
    "baseline_model": "gpt-4o",
    "baseline_cost": 0.0125,
    "actual_cost": 0.0011,
    "pattern_detected": "tax_question",
    "complexity_score": 0.42,
    "experimental": False,
    "fallback_used": False,
    "latency_ms": 812,
    "prompt_tokens": 950,
    "completion_tokens": 210,
    "cache_hit": False,
    "user_id": 4211,
    "session_id": "sess-91b2",
}


class RoutingMetricIn(BaseModel):
    """One routed request as the gateway saw it. `cost_savings` and `savings_percentage`
    are computed by the database and refused here (422, like any unknown field)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [METRIC_EXAMPLE]})

    request_id: ExternalId = Field(
        description="The gateway's id of the routed request, stored as given.",
        examples=["req-7f3a9c2e"],
    )
    strategy_used: RoutingStrategy = Field(description="Routing strategy.", examples=["hybrid"])
    confidence: RoutingConfidence | None = Field(
        default=None, description="The router's confidence in its choice.", examples=["high"]
    )
    selected_provider: Provider = Field(
        description="Provider of the chosen model.", examples=["openai"]
    )
    selected_model: ModelName = Field(
        description="The model the router chose.", examples=["gpt-4o-mini"]
    )
    baseline_provider: Provider | None = Field(
        default=None, description="Provider of the baseline model.", examples=["openai"]
    )
    baseline_model: ModelName | None = Field(
        default=None, description="The model the router compared against.", examples=["gpt-4o"]
    )
    baseline_cost: Money | None = Field(
        default=None,
        description="What the baseline model would have cost, in USD.",
        examples=[0.0123],
    )
    actual_cost: Money = Field(default=Decimal("0.000000"), examples=[0.0009])
    pattern_detected: Pattern | None = Field(
        default=None, description="Prompt pattern the router detected.", examples=["tax_question"]
    )
    complexity_score: Score | None = Field(
        default=None, description="The router's complexity estimate, 0..1.", examples=[0.3]
    )
    experimental: StrictBool = Field(
        default=False,
        description="Routed by an experiment rather than the policy.",
        examples=[False],
    )
    fallback_used: StrictBool = Field(
        default=False,
        description="Whether the request fell back to another model.",
        examples=[False],
    )
    fallback_reason: Annotated[Text, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="Why the fallback was used.", examples=["timeout"]
    )
    latency_ms: Count | None = Field(
        default=None, description="End-to-end latency in milliseconds.", examples=[812]
    )
    prompt_tokens: Count | None = Field(
        default=None, description="Tokens in the prompt.", examples=[420]
    )
    completion_tokens: Count | None = Field(
        default=None, description="Tokens in the completion.", examples=[210]
    )
    cache_hit: StrictBool = Field(
        default=False, description="Whether the answer came from the cache.", examples=[False]
    )
    cache_key: CacheKey | None = Field(
        default=None, description="The cache entry that served it, if any.", examples=[None]
    )
    user_id: UserId | None = Field(
        default=None, description="The platform's integer user id.", examples=[4211]
    )
    session_id: ExternalId | None = Field(
        default=None,
        description="The platform's session id, stored as given.",
        examples=["sess-91b2"],
    )


class RoutingMetricBatch(BaseModel):
    """Up to 1000 metrics stored all or nothing."""

    model_config = ConfigDict(extra="forbid")

    items: list[RoutingMetricIn] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="1..1000 metrics, stored all or nothing.",
        examples=[
            [
                {
                    "request_id": "req-7f3a9c2e",
                    "strategy_used": "hybrid",
                    "selected_provider": "openai",
                    "selected_model": "gpt-4o-mini",
                }
            ]
        ],
    )


class RoutingMetricsBody(RootModel[RoutingMetricIn | RoutingMetricBatch]):
    """One metric object, or `{"items": [...]}` with up to 1000 of them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                METRIC_EXAMPLE,
                {"items": [METRIC_EXAMPLE, {**METRIC_EXAMPLE, "request_id": "req-2f6c1b"}]},
            ]
        }
    )

    @model_validator(mode="wrap")
    @classmethod
    def _one_shape(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> RoutingMetricsBody:
        # Validate against the one shape the body has, so an error's path is the item's
        # own (`items.3.confidence`, or `confidence`), not a union branch's name.
        if isinstance(data, cls):
            return data
        if not isinstance(data, RoutingMetricIn | RoutingMetricBatch):
            batch = isinstance(data, dict) and "items" in data
            data = (RoutingMetricBatch if batch else RoutingMetricIn).model_validate(data)
        result: RoutingMetricsBody = handler(data)
        return result

    @property
    def metrics(self) -> list[RoutingMetricIn]:
        return self.root.items if isinstance(self.root, RoutingMetricBatch) else [self.root]


_BATCH_ADAPTER = TypeAdapter(RoutingMetricBatch)
_LOOKS_LIKE_BATCH = re.compile(rb'\s*\{\s*"items"\s*:')


def parse_batch_fast(body: bytes) -> RoutingMetricsBody | None:
    """A valid `{"items": [...]}` body validated straight from its bytes, else None (the
    caller then validates it the usual way, which names every error)."""
    if not _LOOKS_LIKE_BATCH.match(body):
        return None
    try:
        batch = _BATCH_ADAPTER.validate_json(body)
    except ValidationError:
        return None
    return RoutingMetricsBody(batch)


class StoredMetric(BaseModel):
    id: uuid.UUID = Field(
        description="The metric's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    request_id: str = Field(
        description="The gateway's id of the routed request, stored as given.",
        examples=["req-7f3a9c2e"],
    )
    created: bool = Field(
        description="False when an identical metric was already stored.", examples=[True]
    )
    cost_savings: UsdAmount | None = Field(
        description="baseline_cost - actual_cost; null without baseline.", examples=[0.0114]
    )
    savings_percentage: float | None = Field(
        description="cost_savings / baseline_cost * 100; null without a positive baseline.",
        examples=[92.68],
    )


class RoutingMetricsStored(BaseModel):
    ids: list[uuid.UUID] = Field(
        description="One id per item, in the order of the items.",
        examples=[["3b241101-e2bb-4255-8caf-4136c566a962"]],
    )
    items: list[StoredMetric] = Field(
        description="Per item: its id, whether this request created it, and the computed savings.",
        examples=[
            [
                {
                    "id": "3b241101-e2bb-4255-8caf-4136c566a962",
                    "request_id": "req-7f3a9c2e",
                    "created": True,
                    "cost_savings": 0.0114,
                    "savings_percentage": 92.68,
                }
            ]
        ],
    )


class RoutingFeedbackIn(BaseModel):
    """Feedback on one routing decision; provider, model and pattern come from its metric."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "req-2f6c1a",
                    "quality_score": 0.8,
                    "is_correct": True,
                    "is_helpful": True,
                    "comment": "Right answer, a bit terse.",
                    "user_id": 4211,
                    "session_id": "sess-91b2",
                }
            ]
        },
    )

    request_id: ExternalId = Field(
        description="The routed request this is about (404 if unknown).", examples=["req-7f3a9c2e"]
    )
    quality_score: Score = Field(description="Quality of the routed answer, 0..1.", examples=[0.9])
    is_correct: StrictBool | None = Field(
        default=None, description="Whether the answer was correct.", examples=[True]
    )
    is_helpful: StrictBool | None = Field(
        default=None, description="Whether the answer helped.", examples=[True]
    )
    comment: Comment | None = Field(
        default=None,
        description="What was good or bad about the routed answer.",
        examples=["Right answer, a bit slow."],
    )
    user_id: UserId | None = Field(
        default=None, description="The platform's integer user id.", examples=[4211]
    )
    session_id: ExternalId | None = Field(
        default=None,
        description="The platform's session id, stored as given.",
        examples=["sess-91b2"],
    )


class RoutingFeedbackStored(BaseModel):
    id: uuid.UUID = Field(
        description="The feedback's id.", examples=["3b241101-e2bb-4255-8caf-4136c566a962"]
    )
    request_id: str = Field(
        description="The gateway's id of the routed request, stored as given.",
        examples=["req-7f3a9c2e"],
    )
    created_at: UtcDateTime = Field(
        description="When it was stored (ISO-8601, UTC).", examples=["2026-11-23T20:15:00Z"]
    )


class GroupBy(enum.StrEnum):
    provider = "provider"
    model = "model"
    pattern = "pattern"


class RoutingGroup(BaseModel):
    key: str | None = Field(
        description="Provider, model or pattern (null: no pattern).", examples=["openai"]
    )
    provider: str | None = Field(
        default=None, description="With group_by=model: the model's provider.", examples=["openai"]
    )
    requests: int = Field(description="Metrics in the window.", examples=[310])
    feedback_count: int = Field(
        description="Feedback on the group's requests (whatever its date).", examples=[140]
    )
    avg_quality: float | None = Field(
        description="Mean quality_score of all feedback.", examples=[0.81]
    )
    correct_rate: float | None = Field(
        description="Share of is_correct=true among non-null.", examples=[0.9]
    )
    helpful_rate: float | None = Field(
        description="Share of is_helpful=true among non-null.", examples=[0.85]
    )
    avg_cost: UsdAmount | None = Field(
        description="Mean actual cost per request in USD (6 decimals).", examples=[0.000912]
    )
    total_savings: UsdAmount | None = Field(
        description="Sum of known cost_savings.", examples=[3.215]
    )
    latency_p50_ms: Milliseconds | None = Field(
        description="Median latency in ms (0.1 ms); null without latencies.", examples=[812.0]
    )
    latency_p95_ms: Milliseconds | None = Field(
        description="95th percentile latency in ms (0.1 ms); null without latencies.",
        examples=[2432.2],
    )


class RoutingAnalytics(BaseModel):
    groups: list[RoutingGroup] = Field(
        description="One entry per provider, model or pattern, busiest first.",
        examples=[[{"key": "openai", "requests": 310}]],
    )


class RecommendedCandidate(BaseModel):
    provider: str = Field(description="LLM provider.", examples=["openai"])
    model: str = Field(
        description="Model name as the provider spells it.", examples=["gpt-4o-mini"]
    )
    samples: int = Field(description="Feedback scores behind the estimate.", examples=[42])
    requests: int = Field(description="Requests routed to this candidate in scope.", examples=[310])
    expected_quality: float = Field(
        description="Quality shrunk towards the scope's mean.", examples=[0.82]
    )
    quality_lower_bound: float = Field(
        description="One-sided 95 % lower bound; ranks first.", examples=[0.74]
    )
    avg_cost: UsdAmount | None = Field(
        description="Mean actual cost per request in USD (rounded to 6 decimals).",
        examples=[0.000912],
    )


class Recommendations(BaseModel):
    pattern: str = Field(
        description="Prompt pattern the gateway detected.", examples=["tax_question"]
    )
    complexity_band: ComplexityBand | None = Field(
        description="The band asked for with `complexity`; null: every band.", examples=["low"]
    )
    global_mean_quality: float = Field(
        description="The prior mean μ0 of the scope.", examples=[0.78]
    )
    candidates: list[RecommendedCandidate] = Field(
        description="Candidates, best first.",
        examples=[
            [
                {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "samples": 42,
                    "expected_quality": 0.82,
                    "quality_lower_bound": 0.74,
                    "avg_cost": 0.0009,
                }
            ]
        ],
    )


class RegretAlternative(BaseModel):
    provider: str = Field(description="LLM provider.", examples=["openai"])
    model: str = Field(
        description="Model name as the provider spells it.", examples=["gpt-4o-mini"]
    )
    avg_cost: UsdAmount = Field(description="Its mean cost per request in USD.", examples=[0.0009])
    quality_lower_bound: float = Field(
        description="Its quality lower bound (at least the dominated one's).", examples=[0.74]
    )
    samples: int = Field(description="Its feedback scores in scope.", examples=[40])


class RegretItem(BaseModel):
    provider: str = Field(description="Provider of the dominated candidate.", examples=["openai"])
    model: str = Field(description="Model of the dominated candidate.", examples=["gpt-4o"])
    requests: int = Field(description="Requests routed to it in scope.", examples=[52])
    avg_cost: UsdAmount = Field(
        description="The dominated candidate's mean cost per request in USD.", examples=[0.0101]
    )
    quality_lower_bound: float = Field(
        description="The dominated candidate's quality lower bound.", examples=[0.7]
    )
    samples: int = Field(description="Its feedback scores in scope.", examples=[30])
    cheaper_alternative: RegretAlternative = Field(
        description="The cheaper candidate at least as good.",
        examples=[
            {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "samples": 40,
                "quality_lower_bound": 0.74,
                "avg_cost": 0.0009,
            }
        ],
    )
    extra_cost_per_request: UsdAmount = Field(
        description="avg_cost minus the alternative's, in USD.", examples=[0.0092]
    )
    extra_cost: UsdAmount = Field(
        description="extra_cost_per_request x requests, in USD.", examples=[0.4784]
    )


class RegretScope(BaseModel):
    pattern: str = Field(
        description="Prompt pattern the gateway detected.", examples=["tax_question"]
    )
    complexity_band: ComplexityBand = Field(
        description="Complexity band (`low` < 0.33 ≤ `medium` < 0.66 ≤ `high`).", examples=["low"]
    )
    requests: int = Field(description="Requests in scope.", examples=[430])
    regretted_requests: int = Field(
        description="Requests routed to a dominated candidate.", examples=[37]
    )
    regret_rate: float = Field(description="regretted_requests / requests.", examples=[0.12])
    extra_cost: UsdAmount = Field(
        description="USD the dominated routing cost beyond the alternatives.", examples=[0.4784]
    )
    dominated: list[RegretItem] = Field(
        description="Candidates in scope that a cheaper, as good one dominates.", examples=[[]]
    )


class RoutingRegret(BaseModel):
    min_samples: int = Field(
        description="Feedback a candidate needs to be compared.", examples=[20]
    )
    requests: int = Field(description="Requests in the compared scopes.", examples=[1310])
    regretted_requests: int = Field(
        description="Requests routed to a dominated candidate.", examples=[118]
    )
    regret_rate: float | None = Field(
        description="Share of compared requests routed to a dominated candidate.", examples=[0.09]
    )
    extra_cost: UsdAmount = Field(
        description="USD spent on dominated candidates beyond their alternatives.", examples=[1.92]
    )
    scopes: list[RegretScope] = Field(
        description="Pattern x complexity band scopes with a dominated candidate.", examples=[[]]
    )
