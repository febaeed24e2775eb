"""The hook of the operator console, for plugins that add pages to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime
    from agorakit.web import ConsolePages


# -- The operator console -------------------------------------------------------------
@hookspec
def agorakit_console_pages(runtime: Runtime) -> ConsolePages | list[ConsolePages] | None:
    """Add pages, navigation links, queue pages and member panels to the operator console.

    Called once per app at start-up by the ``console`` plugin, when it is enabled (a
    plugin may implement it whether or not the console is on).  Must not be async.  The
    handlers are mounted under ``/console/<name>`` behind the console's operator sign-in,
    session and CSRF check; they receive the dependency ``page`` (an
    :class:`agorakit.web.PageContext` whose ``api`` calls the site's API as the signed-in
    operator) and render their templates with ``page.render(...)``, extending the
    console's ``base.html``.  Call the API for every read and every action, so each
    rule stays the API's.

    :param runtime: the site's runtime (its settings, e.g. the plugin's own).
    :return: a :class:`agorakit.web.ConsolePages` (or a list), or None.
    """
