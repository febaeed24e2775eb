"""The plugins shipped with agorakit (``agorakit.plugins.<name>``).

Each one is registered under the ``agorakit`` entry point group, like any third-party
plugin, and is enabled per site in ``site.toml`` (``[site] plugins = [...]``).
"""
