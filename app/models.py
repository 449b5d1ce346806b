"""Every table of every domain, imported once: the registry alembic/env.py and tests use."""

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
    "CacheEntryStatus",
    "CacheFeedback",
    "CacheHitDay",
    "DeliveryStatus",
    "ExpertCredentialType",
    "ExpertFaqCandidate",
    "ExpertFeedback",
    "ExpertProfile",
    "FeedbackType",
    "IdempotencyKey",
    "ItalianFeedbackCategory",
    "QueryCurrentVote",
    "QuerySignal",
    "RoutingConfidence",
    "RoutingFeedback",
    "RoutingMetric",
    "RoutingStrategy",
    "Scope",
    "User",
    "UserErasure",
    "Vote",
    "VoteDirection",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
