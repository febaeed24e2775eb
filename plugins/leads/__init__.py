"""leads: the Thumbtack-style model: customers post jobs, businesses pay per lead.

Enable it with ``plugins = ["leads"]``; settings in ``[plugins.leads]``.  See
``docs/plugins/leads.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.plugins.leads.piccolo_app import APP_CONFIG
from agorakit.plugins.leads.settings import LeadsSettings
from agorakit.settings import SettingsSpec

NAME = "leads"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=LeadsSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]
