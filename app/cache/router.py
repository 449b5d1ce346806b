"""HTTP routes of the cache domain (adapters: body, principal, session in; one service call out)."""

from fastapi import APIRouter

from app.transaction import TransactionalRoute

router = APIRouter(tags=["cache"], route_class=TransactionalRoute)
