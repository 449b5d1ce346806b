"""What startup built is kept out of the cyclic collector while the app serves, and given
back at shutdown (`app.main._freeze_startup_objects`; why: docs/benchmarks.md)."""

from __future__ import annotations

import gc

from app.main import create_app
from tests.conftest import make_settings


async def test_startup_objects_are_frozen_while_serving_and_released_at_shutdown(
    database_url: str,
) -> None:
    gc.unfreeze()  # another app of this test process may have frozen its own
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
