"""The core's own plugin for the HTTP system routes."""

from agorakit import hookimpl


@hookimpl
def agorakit_routes():
    from agorakit.http.security_txt import SecurityTxtController
    from agorakit.http.system import SystemController

    return [SystemController, SecurityTxtController]
