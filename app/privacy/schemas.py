"""Request and response models of the privacy routes."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class Dataset(enum.StrEnum):
    """A table that can be exported (and purged by retention)."""

    votes = "votes"
    routing_metrics = "routing_metrics"
    routing_feedback = "routing_feedback"
    cache_feedback = "cache_feedback"
    expert_feedback = "expert_feedback"


class ExportFormat(enum.StrEnum):
    csv = "csv"
    ndjson = "ndjson"


class ErasureResult(BaseModel):
    """Rows removed per table, and rows kept with the user's identifiers cleared."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "deleted": {
                        "votes": 12,
                        "routing_feedback": 3,
                        "cache_feedback": 1,
                        "expert_feedback": 0,
                        "expert_faq_candidates": 0,
                        "api_keys": 0,
                        "expert_profiles": 0,
                        "idempotency_keys": 0,
                        "users": 1,
                    },
                    "anonymised": {
                        "routing_metrics": 40,
                        "expert_faq_candidates": 0,
                        "api_keys": 0,
                    },
                }
            ]
        }
    )

    deleted: dict[str, int] = Field(
        description="Rows deleted, per table.",
        examples=[{"votes": 3, "routing_feedback": 1, "users": 1}],
    )
    anonymised: dict[str, int] = Field(
        description="Rows kept with every column that identified the user set to NULL.",
        examples=[{"routing_metrics": 12}],
    )
