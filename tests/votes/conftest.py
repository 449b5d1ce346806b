"""Helpers shared by the votes tests."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import TokenMinter, bearer

TokenMaker = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def token_headers(mint_token: TokenMinter) -> TokenMaker:
    """Mint a feedback token (as a browser would receive it) and return its headers."""

    async def mint(**body: Any) -> dict[str, str]:
        return bearer(await mint_token(**body))

    return mint
