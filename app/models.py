"""Every table of every domain, imported once: the registry alembic/env.py and tests use."""

from app.analytics.models import (
    CacheEntryRollup,
    CacheHitRollup,
    CacheRatingRollup,
    ExpertCandidateStatusCount,
    ExpertFeedbackRollup,
    RoutingLatencyRollup,
    RoutingRollup,
    VoteCurrent,
    VoteReasonRollup,
    VoteRollup,
)
from app.auth.models import ApiKey, Scope
from app.cache.models import CacheEntry, CacheEntryStatus, CacheFeedback, CacheHitDay
from app.experts.models import (
    ApprovalStatus,
    ExpertCredentialType,
    ExpertFaqCandidate,
    ExpertFeedback,
    ExpertProfile,
    FeedbackType,
    ItalianFeedbackCategory,
)
from app.idempotency.models import IdempotencyKey
from app.privacy.models import UserErasure
from app.quality.models import QueryCurrentVote, QuerySignal
from app.routing.models import RoutingConfidence, RoutingFeedback, RoutingMetric, RoutingStrategy
from app.users.models import User
from app.votes.models import Vote, VoteDirection
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "ApiKey",
    "ApprovalStatus",
    "CacheEntry",
    "CacheEntryRollup",
    "CacheEntryStatus",
    "CacheFeedback",
    "CacheHitDay",
    "CacheHitRollup",
    "CacheRatingRollup",
    "DeliveryStatus",
    "ExpertCandidateStatusCount",
    "ExpertCredentialType",
    "ExpertFaqCandidate",
    "ExpertFeedback",
    "ExpertFeedbackRollup",
    "ExpertProfile",
    "FeedbackType",
    "IdempotencyKey",
    "ItalianFeedbackCategory",
    "QueryCurrentVote",
    "QuerySignal",
    "RoutingConfidence",
    "RoutingFeedback",
    "RoutingLatencyRollup",
    "RoutingMetric",
    "RoutingRollup",
    "RoutingStrategy",
    "Scope",
    "User",
    "UserErasure",
    "Vote",
    "VoteCurrent",
    "VoteDirection",
    "VoteReasonRollup",
    "VoteRollup",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
