"""Request and response bodies of the routing routes."""

from __future__ import annotations

import datetime as dt
import enum
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
    ModelName,
    Money,
    Provider,
    Text,
    UserId,
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

    request_id: ExternalId
    strategy_used: RoutingStrategy
    confidence: RoutingConfidence | None = None
    selected_provider: Provider
    selected_model: ModelName
    baseline_provider: Provider | None = None
    baseline_model: ModelName | None = None
    baseline_cost: Money | None = None
    actual_cost: Money = Decimal("0.000000")
    pattern_detected: Pattern | None = None
    complexity_score: Score | None = None
    experimental: StrictBool = False
    fallback_used: StrictBool = False
    fallback_reason: Annotated[Text, StringConstraints(max_length=4000)] | None = None
    latency_ms: Count | None = None
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    cache_hit: StrictBool = False
    cache_key: CacheKey | None = None
    user_id: UserId | None = None
    session_id: ExternalId | None = None


class RoutingMetricBatch(BaseModel):
    """Up to 1000 metrics stored all or nothing."""

    model_config = ConfigDict(extra="forbid")

    items: list[RoutingMetricIn] = Field(min_length=1, max_length=MAX_BATCH)


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


class StoredMetric(BaseModel):
    id: uuid.UUID
    request_id: str
    created: bool = Field(description="False when an identical metric was already stored.")
    cost_savings: float | None = Field(
        description="baseline_cost - actual_cost; null without baseline."
    )
    savings_percentage: float | None = Field(
        description="cost_savings / baseline_cost * 100; null without a positive baseline."
    )


class RoutingMetricsStored(BaseModel):
    ids: list[uuid.UUID] = Field(description="One id per item, in the order of the items.")
    items: list[StoredMetric]


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

    request_id: ExternalId
    quality_score: Score
    is_correct: StrictBool | None = None
    is_helpful: StrictBool | None = None
    comment: Comment | None = None
    user_id: UserId | None = None
    session_id: ExternalId | None = None


class RoutingFeedbackStored(BaseModel):
    id: uuid.UUID
    request_id: str
    created_at: dt.datetime


class GroupBy(enum.StrEnum):
    provider = "provider"
    model = "model"
    pattern = "pattern"


class RoutingGroup(BaseModel):
    key: str | None = Field(description="Provider, model or pattern (null: no pattern).")
    provider: str | None = Field(
        default=None, description="With group_by=model: the model's provider."
    )
    requests: int
    feedback_count: int
    avg_quality: float | None = Field(description="Mean quality_score of all feedback.")
    correct_rate: float | None = Field(description="Share of is_correct=true among non-null.")
    helpful_rate: float | None = Field(description="Share of is_helpful=true among non-null.")
    avg_cost: float | None
    total_savings: float | None = Field(description="Sum of known cost_savings.")
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class RoutingAnalytics(BaseModel):
    groups: list[RoutingGroup]


class RecommendedCandidate(BaseModel):
    provider: str
    model: str
    samples: int = Field(description="Feedback scores behind the estimate.")
    requests: int = Field(description="Requests routed to this candidate in scope.")
    expected_quality: float = Field(description="Quality shrunk towards the scope's mean.")
    quality_lower_bound: float = Field(description="One-sided 95 % lower bound; ranks first.")
    avg_cost: float | None


class Recommendations(BaseModel):
    pattern: str
    complexity_band: ComplexityBand | None
    global_mean_quality: float = Field(description="The prior mean μ0 of the scope.")
    candidates: list[RecommendedCandidate]


class RegretAlternative(BaseModel):
    provider: str
    model: str
    avg_cost: float
    quality_lower_bound: float
    samples: int


class RegretItem(BaseModel):
    provider: str
    model: str
    requests: int
    avg_cost: float
    quality_lower_bound: float
    samples: int
    cheaper_alternative: RegretAlternative
    extra_cost_per_request: float
    extra_cost: float


class RegretScope(BaseModel):
    pattern: str
    complexity_band: ComplexityBand
    requests: int
    regretted_requests: int
    regret_rate: float = Field(description="regretted_requests / requests.")
    extra_cost: float
    dominated: list[RegretItem]


class RoutingRegret(BaseModel):
    min_samples: int
    requests: int
    regretted_requests: int
    regret_rate: float | None
    extra_cost: float
    scopes: list[RegretScope]
