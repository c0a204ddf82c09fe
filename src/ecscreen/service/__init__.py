"""``ecscreen serve``: the screening core behind HTTP (FastAPI + uvicorn).

The app is built by :func:`create_app` from an explicit :class:`ServiceConfig` (what the CLI read from
its options and the environment); the packs and lists are loaded once at start-up into a
:class:`~ecscreen.service.state.ScreeningState`, which a watcher replaces atomically when the active
restricted-party lists change (``ecscreen lists update`` / ``import``), without dropping requests.
"""

from __future__ import annotations

from ecscreen.service.app import create_app
from ecscreen.service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
