"""The module Piccolo's own machinery reads as ``PICCOLO_CONF``.

Piccolo's migration runner finds its engine through a ``piccolo_conf`` module.
:meth:`agorakit.db.Database.bind` points ``PICCOLO_CONF`` here and sets ``DB`` to the
site's engine, so migrations, the migration table and our tables all use one engine.
"""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

DB: Engine | None = None
APP_REGISTRY = AppRegistry(apps=[])
