"""HTTP routes of the votes domain (adapters: body, principal, session in; one service call out)."""

from fastapi import APIRouter

from app.transaction import TransactionalRoute

router = APIRouter(tags=["votes"], route_class=TransactionalRoute)
