"""`python -m bench.webhooks`: what the outbox costs a request, and how fast one dispatcher
empties it into a local receiver.

1. Down votes (every one emits `vote.down`) with no subscriber, then with one subscribed
   endpoint: the difference is the cost of the outbox write in the request's transaction.
2. One dispatcher delivers the events written in step 2 to a threaded receiver on
   127.0.0.1 (allowed by WEBHOOK_ALLOW_HOSTS); deliveries per second until none is pending.

Fresh database built by Alembic; figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app import embedded_postgres
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.schemas import WebhookCreate
from app.webhooks.service import register_endpoint
from bench.common import DATA_DIR, fresh_database, run_load


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def main(total: int, concurrency: int) -> None:
    server_url = os.environ.get("DATABASE_URL") or embedded_postgres.start(DATA_DIR)
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = await fresh_database(server_url)
        settings = Settings.model_validate(
            {
                "database_url": url,
                "feedback_token_secret": "bench",
                "rate_limit_per_minute": 0,
                "webhook_allow_hosts": "127.0.0.1",
                "webhook_dispatcher": False,  # started below, after the writes
            }
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with AsyncSession(app.state.engine) as session:
                _, key = await auth_service.create_key(session, scope=Scope.ingest)
                await session.commit()
            headers = {"Authorization": f"Bearer {key}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

                def vote(i: int) -> Any:
                    body = {"conversation_id": f"c{i}", "vote": "down", "reasons": ["wrong"]}
                    return http.post("/api/v1/feedback", headers=headers, json=body)

                print(f"{total} down votes, {concurrency} concurrent, in-process ASGI\n")
                plain = await run_load("no subscriber", vote, total, concurrency)
                async with AsyncSession(app.state.engine) as session:
                    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
                    payload = WebhookCreate.model_validate({"url": hook, "events": ["vote.down"]})
                    await register_endpoint(session, payload, settings=settings)
                    await session.commit()
                emitting = await run_load("one subscriber (outbox)", vote, total, concurrency)
            print(f"\nthe outbox write costs {1 - emitting / plain:.0%} of vote throughput")

            dispatcher = Dispatcher(settings, url)
            started = time.perf_counter()
            dispatcher.start()
            pending_sql = sa.text(
                "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'"
            )
            while True:
                async with app.state.engine.connect() as conn:
                    if not await conn.scalar(pending_sql):
                        break
                if time.perf_counter() - started > 300:
                    print("gave up after 300 s")
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            await dispatcher.stop()
            print(
                f"one dispatcher delivered {total} events in {elapsed:.1f} s: "
                f"{total / elapsed:.0f} deliveries/s (batch {settings.webhook_batch_size})"
            )
    finally:
        receiver.shutdown()
        if not os.environ.get("DATABASE_URL"):
            embedded_postgres.stop(DATA_DIR)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
