"""Field types shared by every domain's request and response bodies."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text; refuse it here rather than fail at INSERT.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# The same rules stated in the OpenAPI schema, so clients (and schemathesis) know that a
# NUL, or a blank value where whitespace is stripped, is refused.
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
NoNulSchema = Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
NotBlankSchema = Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})

Text = Annotated[str, AfterValidator(_no_nul), NoNulSchema]
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul), NoNulSchema
]
CacheKey = Annotated[
    str, StringConstraints(min_length=1, max_length=512), AfterValidator(_no_nul), NoNulSchema
]
Comment = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_nul), NoNulSchema]


def _json_number(value: Any) -> Any:
    # Lax mode would read `true` as 1 and "7" as 7; the schema says number (and JSON Schema
    # counts 2.0 as an integer, which lax mode accepts too).
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


JsonNumber = BeforeValidator(_json_number)

# Constraints come before `JsonNumber`: after it, the schema would lose minimum/maximum
# (the float rendering of 2**63 - 1 is put right in `app/openapi_doc.py`).
USER_ID_MAX = 2**63 - 1
UserId = Annotated[
    int,
    Field(ge=1, le=USER_ID_MAX, description="The platform's integer user id."),
    JsonNumber,
]
Provider = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul), NoNulSchema
]
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul), NoNulSchema
]

_MONEY_STEP = Decimal("0.000001")
MONEY_MAX = Decimal("99999999.999999")  # NUMERIC(14, 6)


def _money(value: Decimal) -> Decimal:
    # Round as the NUMERIC(14, 6) column will, so the value stored is the value compared
    # (idempotent re-sends) and can never overflow the column after rounding.
    return value.quantize(_MONEY_STEP, rounding=ROUND_HALF_EVEN)


# A JSON number, or a decimal string (exact): the string form's pattern says which strings
# are amounts, so the schema admits only what validation accepts.
MONEY_STRING_PATTERN = r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,6})?$"
Money = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, allow_inf_nan=False, description="USD, rounded to 6 places."),
    AfterValidator(_money),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MONEY_MAX)},
                {"type": "string", "pattern": MONEY_STRING_PATTERN},
            ]
        }
    ),
]


def _refuse(value: Any) -> None:
    if value is not None:
        raise ValueError("is set by the server, not by the client")


# Bodies that ignore unknown fields (old frontends send extras) still refuse these: a
# client naming them is trying to set what only the server decides (mass assignment).
ServerOwned = Annotated[None, BeforeValidator(_refuse), SkipJsonSchema()]


class RefusesServerOwned(BaseModel):
    """Base for a lenient body: every server-owned field is a 422 naming it."""

    id: ServerOwned = None
    created_at: ServerOwned = None
    trust_score: ServerOwned = None
    approval_status: ServerOwned = None
    cost_savings: ServerOwned = None
    hit_count: ServerOwned = None


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
