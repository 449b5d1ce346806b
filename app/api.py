"""`/api/v1`: one `include_router` per domain."""

from fastapi import APIRouter

from app.auth.router import router as auth_router
from app.cache.router import router as cache_router
from app.errors import COMMON_RESPONSES
from app.experts.router import router as experts_router
from app.privacy.router import router as privacy_router
from app.quality.router import router as quality_router
from app.routing.router import router as routing_router
from app.votes.router import router as votes_router
from app.webhooks.router import router as webhooks_router

api_router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)
api_router.include_router(auth_router)
api_router.include_router(votes_router)
api_router.include_router(routing_router)
api_router.include_router(cache_router)
api_router.include_router(experts_router)
api_router.include_router(privacy_router)
api_router.include_router(quality_router)
api_router.include_router(webhooks_router)
