"""First start on an empty embedded database: make an admin key so /docs works at once.

The key goes to a 0600 file in the data directory, never to the logs: in a container,
stdout is the log stream that every operator (and log shipper) can read. It is also
printed when stdout is a terminal, i.e. someone is watching `feedback-service serve`.
"""

import os
import sys
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.config import get_settings
from app.db import create_engine

KEY_FILE = "bootstrap-admin-key"


def write_key_file(data_dir: Path, token: str) -> Path:
    """Write the key to `data_dir/bootstrap-admin-key`, readable by the owner only (0600
    from creation: it never exists with wider permissions, even for a moment)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    partial = data_dir / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(token + "\n")
    os.replace(partial, path)
    return path


async def print_first_admin_key(
    url: str, *, data_dir: Path | None = None, stream: IO[str] | None = None
) -> Path | None:
    """Create an admin key if no key exists yet: written to a 0600 file, and printed only
    when `stream` (stdout) is a terminal. Returns the file's path, or None if keys exist."""
    settings = get_settings()
    data_dir = data_dir or Path(settings.feedback_data_dir)
    stream = stream or sys.stdout
    engine = create_engine(settings, url)
    try:
        async with AsyncSession(engine) as session:
            if await session.scalar(sa.select(sa.func.count()).select_from(ApiKey)):
                return None
            _, token = await auth_service.create_key(
                session, scope=Scope.admin, name="bootstrap admin"
            )
            # The file first: a key that was committed but never written would be lost.
            path = write_key_file(data_dir, token)
            await session.commit()
    finally:
        await engine.dispose()
    shown = f"    {token}\n" if stream.isatty() else ""
    print(
        f"\n  First start: created an admin API key, saved to {path} (mode 0600).\n"
        f"{shown}"
        "  Use it as `Authorization: Bearer <key>` (the Authorize button in /docs);\n"
        "  delete the file once you have stored the key elsewhere.\n",
        file=stream,
        flush=True,
    )
    return path
