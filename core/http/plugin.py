"""The core's own plugin for the HTTP area's routes (``/.well-known/security.txt``)."""

from agorakit import hookimpl
from agorakit.http.security_txt import SecurityTxtController


@hookimpl
def agorakit_routes():
    return [SecurityTxtController]
