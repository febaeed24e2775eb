"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Email = Annotated[str, Meta(max_length=254, examples=["ada@example.com"])]
Password = Annotated[str, Meta(max_length=1024)]
DisplayName = Annotated[str, Meta(max_length=80, examples=["Ada L."])]
CountryCode = Annotated[str, Meta(max_length=2, examples=["GB"], description="ISO 3166-1 alpha-2")]
Skills = Annotated[list[Annotated[str, Meta(max_length=40)]], Meta(max_length=50)]
#: member < operator < owner: an owner may do all an operator may, and manage operators
Role = Literal["member", "operator", "owner"]
Status = Literal["active", "suspended"]


class RegisterMember(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: DisplayName
    country: CountryCode
    skills: Skills = []
    #: the member accepts the site's terms (``GET /terms``); required when the site has a
    #: terms version
    accept_terms: bool = False


class AcceptTerms(msgspec.Struct, forbid_unknown_fields=True):
    #: the version the member read (``GET /terms``)
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class TermsOut(msgspec.Struct):
    """The site's terms: where to read them and their current version (None: no terms)."""

    url: str | None
    version: str | None


class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class UpdateProfile(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; a field left out keeps its value."""

    display_name: DisplayName | UnsetType = UNSET
    country: CountryCode | UnsetType = UNSET
    skills: Skills | UnsetType = UNSET


class ChangePassword(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class RequestEmail(msgspec.Struct, forbid_unknown_fields=True):
    """Where to send a password reset link."""

    email: Email


class ConfirmToken(msgspec.Struct, forbid_unknown_fields=True):
    """The secret from an emailed link."""

    token: Annotated[str, Meta(min_length=1, max_length=200)]


class ResetPassword(msgspec.Struct, forbid_unknown_fields=True):
    """The secret from a password reset email and the new password."""

    token: Annotated[str, Meta(min_length=1, max_length=200)]
    new_password: Password


class ChangeRole(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class SuspendMember(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=500)]


class MemberOut(msgspec.Struct):
    """A member as they see themselves (and as operators see them)."""

    id: int
    email: str
    display_name: str
    country: str
    skills: list[str]
    role: Role
    status: Status
    created_at: datetime
    suspended_reason: str | None = None
    #: whether the member proved they read ``email`` (followed the verification link)
    email_verified: bool = False
    #: the version of the site's terms the member accepted, and when (None: none)
    terms_version: str | None = None
    terms_accepted_at: datetime | None = None


class Accepted(msgspec.Struct):
    """The answer to a request whose outcome arrives by email.

    It is the same whether or not the address belongs to an account, so it tells
    nobody which addresses are registered.
    """

    #: the address the request named (normalised)
    email: str
    #: what happens next, for people
    detail: str


class AuthToken(msgspec.Struct):
    access_token: str
    #: always "bearer": send ``Authorization: Bearer <access_token>``
    token_type: str
    #: seconds until the token expires
    expires_in: int
    member: MemberOut


class MemberPage(msgspec.Struct):
    items: list[MemberOut]
    #: pass as ``cursor`` to get the next page; null on the last page
    next_cursor: str | None


class MemberReason(msgspec.Struct, forbid_unknown_fields=True):
    """Why an operator warns or flags a member (a warning's reason is sent to them)."""

    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class MemberWarningOut(msgspec.Struct):
    id: int
    reason: str
    operator_id: int
    #: what it came from: ``dispute:<id>``, ``report:<id>``; null for an operator's own warning
    source: str | None
    created_at: datetime


class MemberFlagOut(msgspec.Struct):
    """A mark for operators' attention (the member does not see it)."""

    reason: str
    flagged_by: int
    source: str | None
    flagged_at: datetime


class OperatorMemberOut(MemberOut):
    """A member as operators see them: the account, its flag and its latest warnings."""

    #: set while the member is flagged for operators' attention
    flag: MemberFlagOut | None = None
    #: warnings given to the member, newest first (at most 100)
    warnings: list[MemberWarningOut] = []
