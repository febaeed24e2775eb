"""agorakit: a plugin-based, headless marketplace framework.

Plugin authors need only what this module exports::

    from agorakit import hookimpl

    @hookimpl
    def agorakit_routes():
        return [MyController]
"""

import pluggy

__version__ = "0.1.0"

#: Marker for hook specifications (used by :mod:`agorakit.hookspecs`).
hookspec = pluggy.HookspecMarker("agorakit")
#: Marker for hook implementations, used by every plugin.
hookimpl = pluggy.HookimplMarker("agorakit")

__all__ = ["__version__", "hookimpl", "hookspec"]
