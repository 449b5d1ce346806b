"""Response bodies of the quality-loop routes (every field documented, with an example)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class ReasonTally(BaseModel):
    reason: str = Field(description="A down-vote reason as users gave it.", examples=["outdated"])
    count: int = Field(
        description="Current down votes of this query that cite the reason.", examples=[3]
    )


class ReviewQueueItem(BaseModel):
    """One down-voted answer no expert has reviewed yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query_id": "3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11",
                    "down_votes": 4,
                    "up_votes": 1,
                    "reasons": [
                        {"reason": "outdated", "count": 3},
                        {"reason": "wrong rate", "count": 1},
                    ],
                    "priority": 4.2,
                }
            ]
        }
    )

    query_id: uuid.UUID = Field(
        description="The answered query, as sent with the votes and reviewed by experts.",
        examples=["3f1c1a52-7d0e-4a59-9d5b-6f2d1f0c9a11"],
    )
    down_votes: int = Field(
        description="Conversations whose current vote on this query is down.", examples=[4]
    )
    up_votes: int = Field(
        description="Conversations whose current vote on this query is up.", examples=[1]
    )
    reasons: list[ReasonTally] = Field(
        description="Reasons of the current down votes, most cited first (ties alphabetical).",
        examples=[[{"reason": "outdated", "count": 3}]],
    )
    priority: float = Field(
        description="Review priority (see the route description); the queue's sort key.",
        examples=[4.2],
    )


class VerdictCounts(BaseModel):
    correct: int = Field(description="Judged `correct` by the latest verdict.", examples=[5])
    incomplete: int = Field(description="Judged `incomplete` by the latest verdict.", examples=[2])
    incorrect: int = Field(description="Judged `incorrect` by the latest verdict.", examples=[1])


class VoteVerdictMatrix(BaseModel):
    up: VerdictCounts = Field(
        description="Current up votes, by the expert verdict on their query.",
        examples=[{"correct": 5, "incomplete": 2, "incorrect": 1}],
    )
    down: VerdictCounts = Field(
        description="Current down votes, by the expert verdict on their query.",
        examples=[{"correct": 1, "incomplete": 3, "incorrect": 6}],
    )


class ReasonCalibration(BaseModel):
    reason: str = Field(description="A down-vote reason as users gave it.", examples=["outdated"])
    sample_size: int = Field(
        description="Answers (queries) with a verdict whose current down votes cite the reason.",
        examples=[7],
    )
    incorrect_share: float = Field(
        description="Share of those answers whose latest verdict is `incorrect`.",
        examples=[0.5714285714285714],
    )
    incomplete_share: float = Field(
        description="Share of those answers whose latest verdict is `incomplete`.",
        examples=[0.2857142857142857],
    )


class Calibration(BaseModel):
    """User votes against expert verdicts, for the answers that have both."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "answers": 12,
                    "votes": {
                        "up": {"correct": 5, "incomplete": 2, "incorrect": 1},
                        "down": {"correct": 1, "incomplete": 3, "incorrect": 6},
                    },
                    "reasons": [
                        {
                            "reason": "outdated",
                            "sample_size": 7,
                            "incorrect_share": 0.5714285714285714,
                            "incomplete_share": 0.2857142857142857,
                        }
                    ],
                }
            ]
        },
    )

    from_: dt.datetime = Field(
        alias="from",
        description="Window start (inclusive), UTC.",
        examples=["2026-11-01T00:00:00Z"],
    )
    to: dt.datetime = Field(
        description="Window end (exclusive), UTC.", examples=["2026-12-01T00:00:00Z"]
    )
    answers: int = Field(
        description="Answers (queries) counted: latest verdict in the window and a current vote.",
        examples=[12],
    )
    votes: VoteVerdictMatrix = Field(
        description="Current votes (one per conversation and query) by latest expert verdict.",
        examples=[
            {
                "up": {"correct": 5, "incomplete": 2, "incorrect": 1},
                "down": {"correct": 1, "incomplete": 3, "incorrect": 6},
            }
        ],
    )
    reasons: list[ReasonCalibration] = Field(
        description="Per down-vote reason, the share of answers judged incorrect / incomplete, "
        "largest sample first (ties alphabetical).",
        examples=[
            [
                {
                    "reason": "outdated",
                    "sample_size": 7,
                    "incorrect_share": 0.5714285714285714,
                    "incomplete_share": 0.2857142857142857,
                }
            ]
        ],
    )
