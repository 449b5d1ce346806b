"""Static files of the widget, read once, each with a content hash for its ETag and URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    version: str  # first 16 hex digits of the SHA-256 of the body

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@cache
def asset(name: str) -> Asset:
    """A file of `static/` (read once per process: the files ship with the code)."""
    path = STATIC_DIR / name
    body = path.read_bytes()
    return Asset(
        body=body,
        media_type=MEDIA_TYPES[path.suffix],
        version=hashlib.sha256(body).hexdigest()[:16],
    )


def widget() -> Asset:
    return asset("feedback.js")
