"""Reports: a member reports a conversation, or another member in it, to the operators.

The conversation is captured as evidence when the report is filed; an operator warns or
suspends the reported member, or dismisses the report, and the reporter is told whether
action was taken.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.reports.events import ReportDecided as ReportDecided
    from agorakit.reports.events import ReportFiled as ReportFiled

EXPORTS: dict[str, str] = {
    "ReportDecided": "agorakit.reports.events",
    "ReportFiled": "agorakit.reports.events",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
