"""Roles: member < operator < owner.

An operator runs the site (moderation, money, disputes, members); the site's owner can
do all of that and also manage the operators: suspend or reinstate an operator or owner
and change roles.  Code that asks "may an operator do this?" asks :func:`is_operator`,
never ``role == "operator"``, so owners pass too.
"""

from __future__ import annotations

from typing import Any

#: roles that act as the site's operators
OPERATOR_ROLES = frozenset({"operator", "owner"})


def is_operator(member: Any) -> bool:
    """Whether ``member`` (anything with a ``role``) is an operator or the site's owner."""
    return getattr(member, "role", None) in OPERATOR_ROLES
