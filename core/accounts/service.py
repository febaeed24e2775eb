"""Account services: each function is one domain operation in one transaction."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import msgspec
import pycountry
from email_validator import EmailNotValidError, validate_email

from agorakit.accounts.passwords import Passwords
from agorakit.accounts.schemas import MemberOut, RegisterMember, UpdateProfile
from agorakit.accounts.tables import Member
from agorakit.accounts.throttle import Window
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared
from agorakit.errors import (
    AccountSuspended,
    Conflict,
    EmailTaken,
    FieldError,
    Forbidden,
    InvalidCredentials,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from agorakit.pagination import decode_cursor, encode_cursor
from agorakit.runtime import Runtime
from agorakit.text import check_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SKILL = re.compile(r"^[a-z0-9][a-z0-9 +#.\-]*$")


class Accounts:
    """Per-runtime state of the accounts area: the hasher and the login throttles."""

    def __init__(self, runtime: Runtime) -> None:
        auth = runtime.settings.auth
        self.passwords = Passwords(auth)
        self.per_address = Window(runtime.clock, auth.login_attempts_per_minute, timedelta(minutes=1))
        self.per_account = Window(
            runtime.clock, auth.login_max_failures, timedelta(minutes=auth.login_lockout_minutes)
        )


def accounts(runtime: Runtime) -> Accounts:
    state = getattr(runtime, "_accounts", None)
    if state is None:
        state = runtime._accounts = Accounts(runtime)  # type: ignore[attr-defined]
    return state


# --------------------------------------------------------------------------------------
# Input rules
# --------------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed([FieldError("email", str(exc))]) from None


def normalise_country(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code.strip().upper()) if code.strip() else None
    if country is None:
        message = f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, GB, DE)"
        raise ValidationFailed([FieldError("country", message)])
    return country.alpha_2


def normalise_display_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or _CONTROL.search(name):
        raise ValidationFailed([FieldError("display_name", "must be 1-80 visible characters")])
    return check_name(name, field="display_name")


def normalise_skills(skills: list[str]) -> list[str]:
    out: list[str] = []
    for index, skill in enumerate(skills):
        tag = " ".join(skill.lower().split())
        if not _SKILL.match(tag):
            message = "use letters, digits, spaces and + # . - (e.g. 'data entry', 'c++')"
            raise ValidationFailed([FieldError(f"skills[{index}]", message)])
        if tag not in out:
            out.append(tag)
    return out


def _check_password(runtime: Runtime, password: str, *, field: str, personal: list[str]) -> None:
    problem = accounts(runtime).passwords.weakness(password, personal=personal)
    if problem:
        raise ValidationFailed([FieldError(field, problem)])


def _collect(*checks: Any) -> list[Any]:
    """Run every check, gathering all field errors before raising them together."""
    results, errors = [], []
    for check in checks:
        try:
            results.append(check())
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    return results


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def to_member(row: dict[str, Any]) -> MemberOut:
    return msgspec.convert(row, MemberOut, from_attributes=False, strict=False)


_PUBLIC = (
    Member.id,
    Member.email,
    Member.display_name,
    Member.country,
    Member.skills,
    Member.role,
    Member.status,
    Member.created_at,
    Member.suspended_reason,
)


_MEMBER = Prepared(lambda id: Member.select(*_PUBLIC).where(Member.id == id).first().output(load_json=True))
_MEMBER_WITH_STAMP = Prepared(
    lambda id: (
        Member.select(*_PUBLIC, Member.security_stamp).where(Member.id == id).first().output(load_json=True)
    )
)


async def get_member(runtime: Runtime, member_id: int) -> MemberOut:
    row = await _MEMBER.run(member_id)
    if row is None:
        raise NotFound(f"there is no member {member_id}")
    return to_member(row)


async def member_for_token(member_id: int, stamp: str) -> MemberOut | None:
    """The member a token names, if the token is still theirs (None otherwise)."""
    row = await _MEMBER_WITH_STAMP.run(member_id)
    if row is None or not secrets.compare_digest(row.pop("security_stamp"), stamp):
        return None
    member = to_member(row)
    if member.status == "suspended":
        raise AccountSuspended(_suspended_detail(member.suspended_reason))
    return member


async def security_stamp(member_id: int) -> str:
    row = await Member.select(Member.security_stamp).where(Member.id == member_id).first()
    if row is None:
        raise NotFound(f"there is no member {member_id}")
    return row["security_stamp"]


async def list_members(
    runtime: Runtime,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    role: str | None = None,
    email: str | None = None,
) -> tuple[list[MemberOut], str | None]:
    query = Member.select(*_PUBLIC).order_by(Member.id).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Member.id > int(position["id"]))
    if status:
        query = query.where(Member.status == status)
    if role:
        query = query.where(Member.role == role)
    if email:
        query = query.where(Member.email_key == email.strip().lower())
    rows = await query.output(load_json=True)
    items = [to_member(r) for r in rows[:limit]]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return items, next_cursor


# --------------------------------------------------------------------------------------
# Changing
# --------------------------------------------------------------------------------------


async def register(runtime: Runtime, cmd: RegisterMember, *, role: str = "member") -> MemberOut:
    """Create an account.  Emails are unique case-insensitively (409 ``email_taken``)."""
    personal = [cmd.email, cmd.email.split("@")[0], cmd.display_name]
    email, display_name, country, skills, _ = _collect(
        lambda: normalise_email(cmd.email),
        lambda: normalise_display_name(cmd.display_name),
        lambda: normalise_country(cmd.country),
        lambda: normalise_skills(cmd.skills),
        lambda: _check_password(runtime, cmd.password, field="password", personal=personal),
    )
    password_hash = await accounts(runtime).passwords.hash(cmd.password)
    try:
        async with runtime.unit_of_work() as uow:
            taken = await Member.exists().where(Member.email_key == email.lower())
            if taken:
                raise EmailTaken(_email_taken_detail(email))
            now = uow.now
            rows = await Member.insert(
                Member(
                    email=email,
                    email_key=email.lower(),
                    password_hash=password_hash,
                    display_name=display_name,
                    country=country,
                    skills=skills,
                    role=role,
                    status="active",
                    security_stamp=secrets.token_hex(16),
                    created_at=now,
                    updated_at=now,
                )
            ).returning(Member.id)
            member_id = rows[0]["id"]
            uow.record("member.registered", subject=f"member:{member_id}", actor_id=member_id, role=role)
    except Exception as exc:
        if is_unique_violation(exc):  # lost a race with a concurrent registration
            raise EmailTaken(_email_taken_detail(email)) from None
        raise
    return await get_member(runtime, member_id)


def _email_taken_detail(email: str) -> str:
    return f"{email} is already registered; log in, or use another address"


async def authenticate(runtime: Runtime, *, email: str, password: str, client: str) -> MemberOut:
    """Check a login.  Throttled per client address and per account (429 + Retry-After)."""
    state = accounts(runtime)
    address_key = f"ip:{client}"
    retry = state.per_address.retry_after(address_key)
    if retry:
        message = f"too many login attempts from your address; try again in {retry} s"
        raise TooManyRequests(message, retry_after=retry)
    state.per_address.hit(address_key)
    email_key = email.strip().lower()
    account_key = f"account:{email_key}"
    retry = state.per_account.retry_after(account_key)
    if retry:
        message = f"too many failed logins for this account; try again in {retry} s"
        raise TooManyRequests(message, retry_after=retry)

    row = (
        await Member.select(Member.id, Member.password_hash, Member.status, Member.suspended_reason)
        .where(Member.email_key == email_key)
        .first()
    )
    ok = await state.passwords.verify(row["password_hash"] if row else None, password)
    if not ok or row is None:
        state.per_account.hit(account_key)
        raise InvalidCredentials("the email or password is wrong")
    state.per_account.reset(account_key)
    if row["status"] == "suspended":
        raise AccountSuspended(_suspended_detail(row["suspended_reason"]))
    if state.passwords.needs_rehash(row["password_hash"]):
        new_hash = await state.passwords.hash(password)
        async with runtime.unit_of_work():
            await Member.update({Member.password_hash: new_hash}).where(Member.id == row["id"])
    return await get_member(runtime, row["id"])


def _suspended_detail(reason: str | None) -> str:
    because = f": {reason}" if reason else ""
    return f"this account is suspended{because}. Contact the site's operators."


async def update_profile(runtime: Runtime, member_id: int, cmd: UpdateProfile) -> MemberOut:
    changes: dict[Any, Any] = {}
    checks = []
    if cmd.display_name is not msgspec.UNSET:
        checks.append((Member.display_name, lambda: normalise_display_name(cmd.display_name)))
    if cmd.country is not msgspec.UNSET:
        checks.append((Member.country, lambda: normalise_country(cmd.country)))
    if cmd.skills is not msgspec.UNSET:
        checks.append((Member.skills, lambda: normalise_skills(cmd.skills)))
    values = _collect(*(check for _, check in checks))
    for (column, _), value in zip(checks, values, strict=True):
        changes[column] = value
    if changes:
        async with runtime.unit_of_work() as uow:
            changes[Member.updated_at] = uow.now
            await Member.update(changes).where(Member.id == member_id)
            fields = sorted(column._meta.name for column in changes if column is not Member.updated_at)
            uow.record(
                "member.profile_updated", subject=f"member:{member_id}", actor_id=member_id, fields=fields
            )
    return await get_member(runtime, member_id)


async def change_password(
    runtime: Runtime, member_id: int, *, current_password: str, new_password: str
) -> MemberOut:
    """Change the password; every token issued before stops working."""
    row = (
        await Member.select(Member.password_hash, Member.email, Member.display_name)
        .where(Member.id == member_id)
        .first()
    )
    if row is None:
        raise NotFound(f"there is no member {member_id}")
    state = accounts(runtime)
    if not await state.passwords.verify(row["password_hash"], current_password):
        raise ValidationFailed([FieldError("current_password", "is not your current password")])
    if new_password == current_password:
        raise ValidationFailed([FieldError("new_password", "must differ from the current password")])
    email = row["email"]
    _check_password(
        runtime,
        new_password,
        field="new_password",
        personal=[email, email.split("@")[0], row["display_name"]],
    )
    new_hash = await state.passwords.hash(new_password)
    async with runtime.unit_of_work() as uow:
        await Member.update(
            {
                Member.password_hash: new_hash,
                Member.security_stamp: secrets.token_hex(16),
                Member.updated_at: uow.now,
            }
        ).where(Member.id == member_id)
        uow.record("member.password_changed", subject=f"member:{member_id}", actor_id=member_id)
    return await get_member(runtime, member_id)


async def suspend(runtime: Runtime, *, operator_id: int, member_id: int, reason: str) -> MemberOut:
    """Suspend an account: its tokens stop working at once and it cannot log in."""
    if operator_id == member_id:
        raise Forbidden("operators cannot suspend their own account")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why the account is suspended")])
    async with runtime.unit_of_work() as uow:
        row = await Member.select(Member.status).where(Member.id == member_id).first()
        if row is None:
            raise NotFound(f"there is no member {member_id}")
        if row["status"] == "suspended":
            raise Conflict(f"member {member_id} is already suspended")
        await Member.update(
            {
                Member.status: "suspended",
                Member.suspended_reason: reason,
                Member.security_stamp: secrets.token_hex(16),
                Member.updated_at: uow.now,
            }
        ).where(Member.id == member_id)
        uow.record("member.suspended", subject=f"member:{member_id}", actor_id=operator_id, reason=reason)
    return await get_member(runtime, member_id)


async def reactivate(runtime: Runtime, *, operator_id: int, member_id: int) -> MemberOut:
    async with runtime.unit_of_work() as uow:
        row = await Member.select(Member.status).where(Member.id == member_id).first()
        if row is None:
            raise NotFound(f"there is no member {member_id}")
        if row["status"] != "suspended":
            raise Conflict(f"member {member_id} is not suspended")
        await Member.update(
            {Member.status: "active", Member.suspended_reason: None, Member.updated_at: uow.now}
        ).where(Member.id == member_id)
        uow.record("member.reactivated", subject=f"member:{member_id}", actor_id=operator_id)
    return await get_member(runtime, member_id)


async def create_operator(
    runtime: Runtime, *, email: str, password: str, display_name: str, country: str
) -> MemberOut:
    """Create an operator account (``agorakit users create-operator``)."""
    cmd = RegisterMember(email=email, password=password, display_name=display_name, country=country)
    return await register(runtime, cmd, role="operator")
