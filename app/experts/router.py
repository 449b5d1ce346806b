"""HTTP routes of the experts domain (adapters: body, principal, session in; one service call out)."""

from fastapi import APIRouter

from app.transaction import TransactionalRoute

router = APIRouter(tags=["experts"], route_class=TransactionalRoute)
