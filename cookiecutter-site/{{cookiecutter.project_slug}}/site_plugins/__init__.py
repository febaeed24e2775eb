"""{{ cookiecutter.site_name }}'s own agorakit plugins.

Each module is a plugin: registered under the ``agorakit`` entry point group in
pyproject.toml and enabled by name in site.toml's ``[site] plugins``.
"""
