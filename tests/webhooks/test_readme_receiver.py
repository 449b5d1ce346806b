"""The receiver example in the README's "Webhooks" section, run as written against a real
delivery: it accepts a genuine one and refuses a forged one."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import httpx

from app.webhooks.schemas import EventType
from app.webhooks.service import emit
from tests.webhooks.conftest import WebhookEnv, wait_until

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _example() -> str:
    section = README.split("## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no receiver example in the Webhooks section"
    return match.group(1)


def _start() -> tuple[Any, dict[str, Any], list[int]]:
    code = _example()
    *body, last = code.strip().splitlines()
    assert last.startswith("HTTPServer(")  # the example ends by serving; we bind port 0
    namespace: dict[str, Any] = {}
    exec("\n".join(body), namespace)  # the README's own code, as written
    answers: list[int] = []
    receiver_cls = namespace["Receiver"]

    class Recording(receiver_cls):  # type: ignore[misc, valid-type]
        def send_response(self, code: int, message: str | None = None) -> None:
            answers.append(code)
            super().send_response(code, message)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = namespace["HTTPServer"](("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, namespace, answers


async def test_readme_receiver_accepts_a_delivery_and_refuses_a_forgery(
    webhook_env: WebhookEnv,
) -> None:
    server, namespace, answers = _start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        created = await webhook_env.register(url)
        namespace["SECRET"] = created.secret  # what the reader pastes in
        async with webhook_env.app.state.sessionmaker() as session:
            await emit(session, EventType.vote_down, {"conversation_id": "c"})
            await session.commit()
        webhook_env.dispatcher().start()

        async def delivered() -> bool:
            status = await webhook_env.scalar("SELECT status FROM webhook_deliveries")
            return bool(status == "delivered")

        await wait_until(delivered, what="delivery to the README receiver")
        assert answers == [204]

        async with httpx.AsyncClient() as http:
            forged = await http.post(
                url,
                content=b'{"id":"x"}',
                headers={
                    "X-Feedback-Signature": "sha256=" + "0" * 64,
                    "webhook-id": "x",
                    "webhook-timestamp": "1",
                    "webhook-signature": "v1,AAAA",
                },
            )
        assert forged.status_code == 401
    finally:
        server.shutdown()
        server.server_close()
