"""microjobs: the Microworkers-style model: funded campaigns, tasks with proofs, paid to click.

Enable it with ``plugins = ["microjobs"]``; settings in ``[plugins.microjobs]``.  See
``docs/plugins/microjobs.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.plugins.microjobs.piccolo_app import APP_CONFIG
from agorakit.plugins.microjobs.settings import MicrojobsSettings
from agorakit.settings import SettingsSpec

NAME = "microjobs"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=MicrojobsSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]
