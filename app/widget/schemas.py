"""Bodies of the widget's demo routes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class DemoToken(BaseModel):
    """A fresh feedback token for the demo page (what the host page's backend returns)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"token": "fbt_eyJleHAiOjE3NjQ2MjA4MDB9.abc", "expires_at": "2026-12-01T20:15:00Z"}
            ]
        }
    )

    token: str = Field(
        description="A feedback token bound to the demo conversation or cache entry.",
        examples=["fbt_eyJleHAiOjE3NjQ2MjA4MDB9.abc"],
    )
    expires_at: dt.datetime = Field(
        description="When the token stops working.", examples=["2026-12-01T20:15:00Z"]
    )
