"""While serving, the objects that start-up made are left out of garbage collection (issue #18).

A full collection walked every object of every imported module, some 90 MB of them: on a busy
2-core machine each took hundreds of milliseconds, which was the ingestion p99. Frozen at start
(`gc.freeze`), a collection walks only what was made since; they are unfrozen at shutdown.
"""

from __future__ import annotations

import gc

from alertmail.config import AppConfig
from alertmail.interfaces.api.app import create_app


async def test_start_up_objects_are_frozen_while_serving_and_unfrozen_after(app_config: AppConfig) -> None:
    app = create_app(app_config)
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        # Every module, class and function loaded so far; a collection no longer walks them.
        assert gc.get_freeze_count() > 50_000
    assert gc.get_freeze_count() == 0


async def test_collection_that_serve_turned_off_for_start_up_is_on_while_serving(
    app_config: AppConfig,
) -> None:
    app = create_app(app_config)
    gc.disable()  # as `alertmail serve` starts (cli/entry.py)
    try:
        async with app.router.lifespan_context(app):
            assert gc.isenabled()  # else nothing made while serving would ever be collected
    finally:
        gc.enable()
