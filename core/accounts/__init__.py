"""Accounts: members, operators and owners; registration, login, email verification,
password reset, profiles, suspension.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.accounts.auth import INTEGRATION_SCOPE as INTEGRATION_SCOPE
    from agorakit.accounts.auth import IntegrationCaller as IntegrationCaller
    from agorakit.accounts.auth import issue_token as issue_token
    from agorakit.accounts.auth import make_jwt_auth as make_jwt_auth
    from agorakit.accounts.auth import operator_only as operator_only
    from agorakit.accounts.auth import owner_only as owner_only
    from agorakit.accounts.moderation import flag_member as flag_member
    from agorakit.accounts.moderation import suspend_member as suspend_member
    from agorakit.accounts.moderation import unflag_member as unflag_member
    from agorakit.accounts.moderation import warn_member as warn_member
    from agorakit.accounts.roles import OPERATOR_ROLES as OPERATOR_ROLES
    from agorakit.accounts.roles import is_operator as is_operator
    from agorakit.accounts.schemas import MemberOut as MemberOut
    from agorakit.accounts.schemas import RegisterMember as RegisterMember
    from agorakit.accounts.service import display_name_of as display_name_of
    from agorakit.accounts.service import get_member as get_member
    from agorakit.accounts.service import get_members as get_members
    from agorakit.accounts.service import register as register

EXPORTS: dict[str, str] = {
    "display_name_of": "agorakit.accounts.service",
    "flag_member": "agorakit.accounts.moderation",
    "get_member": "agorakit.accounts.service",
    "get_members": "agorakit.accounts.service",
    "INTEGRATION_SCOPE": "agorakit.accounts.auth",
    "IntegrationCaller": "agorakit.accounts.auth",
    "is_operator": "agorakit.accounts.roles",
    "issue_token": "agorakit.accounts.auth",
    "make_jwt_auth": "agorakit.accounts.auth",
    "MemberOut": "agorakit.accounts.schemas",
    "operator_only": "agorakit.accounts.auth",
    "OPERATOR_ROLES": "agorakit.accounts.roles",
    "owner_only": "agorakit.accounts.auth",
    "register": "agorakit.accounts.service",
    "RegisterMember": "agorakit.accounts.schemas",
    "suspend_member": "agorakit.accounts.moderation",
    "unflag_member": "agorakit.accounts.moderation",
    "warn_member": "agorakit.accounts.moderation",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
