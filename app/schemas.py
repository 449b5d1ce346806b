"""Field types shared by every domain's request bodies."""

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
