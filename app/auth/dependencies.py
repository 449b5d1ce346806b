"""Route guards: the named `Annotated` aliases routes declare (`Admin`, `IngestOrAdmin`,
`ExpertOrAdmin`, `VoteWriter`, `CacheRater`, `AnyCaller`).

The caller was already resolved (and rate limited) by `app.auth.authentication`; these
only decide whether it may use the route: a valid credential without the right → 403.
Feedback tokens are accepted only where a route says so.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.authentication import PRINCIPAL_STATE
from app.auth.models import Scope
from app.auth.principal import Principal
from app.errors import Forbidden, Unauthorized

TokenTarget = Literal["conversation", "cache"]

# Declared so the OpenAPI document (and /docs' Authorize button) shows the bearer scheme;
# the header itself is read by the authentication middleware.
bearer = HTTPBearer(auto_error=False, description="An API key (fbk_...) or a feedback token.")


# Guards are `async def` although they never await: a sync dependency costs each request a
# hop to the threadpool and back (two per request here, ~3 % of a vote's CPU in py-spy).
async def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The principal the authentication middleware resolved for this request."""
    principal: Principal | None = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if principal is None:  # only on routes mounted outside the authenticated prefix
        raise Unauthorized("Send `Authorization: Bearer <key-or-token>`.")
    return principal


def require(
    *scopes: Scope, token: TokenTarget | None = None
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A guard admitting keys of `scopes` (admin always) and, if named, feedback tokens
    for that kind of target."""
    allowed = {Scope.admin, *scopes}
    needed = " or ".join(sorted(s.value for s in allowed))

    async def guard(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.token is not None:
            bound = {
                "conversation": principal.token.conversation_id,
                "cache": principal.token.cache_key,
                None: None,
            }[token]
            if bound is None:
                raise Forbidden("Feedback tokens cannot be used here.")
        elif principal.scope not in allowed:
            raise Forbidden(f"This route needs a key with scope {needed}.")
        return principal

    return guard


AnyCaller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require(Scope.admin))]
IngestOrAdmin = Annotated[Principal, Depends(require(Scope.ingest))]
ExpertOrAdmin = Annotated[Principal, Depends(require(Scope.expert))]
VoteWriter = Annotated[Principal, Depends(require(Scope.ingest, token="conversation"))]
CacheRater = Annotated[Principal, Depends(require(Scope.ingest, token="cache"))]
