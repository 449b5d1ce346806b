"""Field types shared by every domain's request and response bodies."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text; refuse it here rather than fail at INSERT.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)
]
CacheKey = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_no_nul)]
Comment = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_nul)]
UserId = Annotated[int, Field(ge=1, le=2**63 - 1, description="The platform's integer user id.")]
Provider = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]

_MONEY_STEP = Decimal("0.000001")
MONEY_MAX = Decimal("99999999.999999")  # NUMERIC(14, 6)


def _money(value: Decimal) -> Decimal:
    # Round as the NUMERIC(14, 6) column will, so the value stored is the value compared
    # (idempotent re-sends) and can never overflow the column after rounding.
    return value.quantize(_MONEY_STEP, rounding=ROUND_HALF_EVEN)


Money = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, allow_inf_nan=False, description="USD, rounded to 6 places."),
    AfterValidator(_money),
]


# --- response values: how numbers and instants are shown (exact values stay in the database
# and in exports) -----------------------------------------------------------------------------


def iso_z(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z` (never `+00:00`): JSON responses, CLI output and CSV."""
    if value is None:
        return None
    if value.tzinfo is None:  # naive values in this service are UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _iso_z(value: dt.datetime) -> str:
    return iso_z(value) or ""


UtcDateTime = Annotated[dt.datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]
"""A timestamp rendered as ISO-8601 UTC ending in `Z`, the one serializer every schema uses."""

USD_DECIMALS = 6
MS_DECIMALS = 1

UsdAmount = Annotated[
    float,
    PlainSerializer(lambda v: round(v, USD_DECIMALS), return_type=float, when_used="json"),
]
"""Money in a response: USD rounded to 6 decimals (the column's scale)."""

Milliseconds = Annotated[
    float,
    PlainSerializer(lambda v: round(v, MS_DECIMALS), return_type=float, when_used="json"),
]
"""A duration in a response: milliseconds rounded to 0.1."""
