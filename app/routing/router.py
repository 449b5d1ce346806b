"""HTTP routes of the routing domain (adapters: body, principal, session in; one service call out)."""

from fastapi import APIRouter

from app.transaction import TransactionalRoute

router = APIRouter(tags=["routing"], route_class=TransactionalRoute)
