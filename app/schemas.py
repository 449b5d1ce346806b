"""Field types shared by every domain's request bodies."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints


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
