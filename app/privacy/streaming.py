"""A streaming response that cannot be held open forever by a slow or stalled client.

An export holds a database connection and its snapshot (an open transaction, which also
holds back VACUUM) for as long as the download runs. A client that stops reading blocks
the server's `send`; without a bound the snapshot lives until the TCP connection dies.
Each chunk must be taken within `send_timeout`, the whole body within `max_seconds`;
otherwise the body iterator is closed (connection and snapshot released) and the response
is cut short, which the client sees as a truncated download, never as a complete file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Send

log = logging.getLogger(__name__)


class BoundedStreamingResponse(StreamingResponse):
    """`StreamingResponse` with a per-chunk send timeout and a total-duration bound."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        send_timeout: float,
        max_seconds: float,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content,
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )
        self._chunks = content
        self.send_timeout = send_timeout
        self.max_seconds = max_seconds
        self.aborted = False

    async def stream_response(self, send: Send) -> None:
        try:
            async with asyncio.timeout(self.max_seconds):
                await self._send(
                    send,
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    },
                )
                async for chunk in self._chunks:
                    await self._send(
                        send, {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                await self._send(
                    send, {"type": "http.response.body", "body": b"", "more_body": False}
                )
        except TimeoutError:
            self.aborted = True
            log.warning(
                "export aborted: a chunk waited over %.0fs or the download passed %.0fs",
                self.send_timeout,
                self.max_seconds,
            )
        finally:
            # Releases the database connection (and its snapshot) and the export slot now,
            # not whenever the client goes away.
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _send(self, send: Send, message: dict[str, object]) -> None:
        async with asyncio.timeout(self.send_timeout):
            await send(message)
