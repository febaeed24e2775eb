"""Accounts: members, operators and owners; registration, login, email verification,
password reset, profiles, suspension."""

from agorakit.accounts.roles import OPERATOR_ROLES, is_operator

__all__ = ["OPERATOR_ROLES", "is_operator"]
