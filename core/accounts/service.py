"""Account services: each function is one domain operation in one transaction."""

from __future__ import annotations

import re
import secrets
from typing import Any

import msgspec
import pycountry
from email_validator import EmailNotValidError, validate_email

from agorakit.accounts.events import (
    MemberPasswordChanged,
    MemberProfileUpdated,
    MemberReactivated,
    MemberRegistered,
    MemberRoleChanged,
    MemberSuspended,
)
from agorakit.accounts.passwords import Passwords
from agorakit.accounts.roles import OPERATOR_ROLES
from agorakit.accounts.schemas import MemberOut, RegisterMember, UpdateProfile
from agorakit.accounts.tables import Member
from agorakit.accounts.throttle import AccountThrottles, account_throttles, throttle_store
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import (
    AccountSuspended,
    Conflict,
    EmailTaken,
    FieldError,
    Forbidden,
    NotFound,
    ProfileChangeRefused,
    ValidationFailed,
)
from agorakit.runtime import Runtime
from agorakit.text import check_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SKILL = re.compile(r"^[a-z0-9][a-z0-9 +#.\-]*$")


class Accounts:
    """Per-runtime state of the accounts area: the hasher and the throttles.

    ``throttles`` count in the site's shared store (the database, or Redis with
    ``[cache] url``); a test may replace them (before the first request), e.g. with
    :func:`agorakit.accounts.throttle.memory_throttles`.
    """

    def __init__(self, runtime: Runtime) -> None:
        auth = runtime.settings.auth
        self.passwords = Passwords(auth)
        self.throttles: AccountThrottles = account_throttles(
            throttle_store(runtime), runtime.wall_clock, auth
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
    row = dict(row)
    row["email_verified"] = row.pop("email_verified_at", None) is not None
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
    Member.email_verified_at,
    Member.terms_version,
    Member.terms_accepted_at,
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


_MEMBERS = Prepared(lambda ids: Member.select(*_PUBLIC).where(any_of(Member.id, ids)).output(load_json=True))


async def get_members(member_ids: list[int]) -> dict[int, MemberOut]:
    """Members by id, as ``MemberOut`` (unknown ids are left out; no access check); one
    statement whatever the number of ids."""
    if not member_ids:
        return {}
    return {row["id"]: to_member(row) for row in await _MEMBERS.run(sorted(set(member_ids)))}


_DISPLAY_NAME = Prepared(lambda id: Member.select(Member.display_name).where(Member.id == id).first())


async def display_name_of(member_id: int) -> str | None:
    """The name member ``member_id`` shows to others (None: there is no such member)."""
    row = await _DISPLAY_NAME.run(member_id)
    return row["display_name"] if row else None


async def member_for_token(member_id: int, stamp: str) -> MemberOut | None:
    """The member a token names, if the token is still theirs (None otherwise).

    A suspended member's token (current or not: suspending changes the stamp) gets
    403 ``account_suspended`` with the reason, so the member learns why; the token is
    genuine, it was signed by the site for this member.
    """
    row = await _MEMBER_WITH_STAMP.run(member_id)
    if row is None:
        return None
    current = row.pop("security_stamp")
    member = to_member(row)
    if member.status == "suspended":
        raise AccountSuspended(suspended_detail(member.suspended_reason))
    if not secrets.compare_digest(current, stamp):
        return None
    return member


async def security_stamp(member_id: int) -> str:
    row = await Member.select(Member.security_stamp).where(Member.id == member_id).first()
    if row is None:
        raise NotFound(f"there is no member {member_id}")
    return row["security_stamp"]


# --------------------------------------------------------------------------------------
# Changing
# --------------------------------------------------------------------------------------


async def register(
    runtime: Runtime, cmd: RegisterMember, *, role: str = "member", email_verified: bool = False
) -> MemberOut:
    """Create an account (the CLI, the demo, tests and :func:`.credentials.sign_up`).

    Emails are unique case-insensitively: a taken one raises ``email_taken`` (409).  The
    public ``POST /auth/register`` never shows that error (see ``credentials.sign_up``).
    """
    member_id = await create_member(runtime, cmd, role=role, email_verified=email_verified)
    return await get_member(runtime, member_id)


def check_registration(
    runtime: Runtime, cmd: RegisterMember, *, terms: bool = False
) -> tuple[str, str, str, list[str]]:
    """The normalised email, display name, country and skills, or every field error;
    with ``terms`` (the public sign-up), also that the site's terms are accepted."""
    personal = [cmd.email, cmd.email.split("@")[0], cmd.display_name]
    email, display_name, country, skills, _, _ = _collect(
        lambda: normalise_email(cmd.email),
        lambda: normalise_display_name(cmd.display_name),
        lambda: normalise_country(cmd.country),
        lambda: normalise_skills(cmd.skills),
        lambda: _check_password(runtime, cmd.password, field="password", personal=personal),
        lambda: _check_terms(runtime, cmd) if terms else None,
    )
    return email, display_name, country, skills


def _check_terms(runtime: Runtime, cmd: RegisterMember) -> None:
    site = runtime.settings.site
    if site.terms_version and not cmd.accept_terms:
        message = f"accept the site's terms (version {site.terms_version}, {site.terms_url}) to register"
        raise ValidationFailed([FieldError("accept_terms", message)])


class TermsChanged(Conflict):
    code = "terms_changed"
    title = "The site's terms are at another version"


async def accept_terms(runtime: Runtime, member_id: int, version: str) -> MemberOut:
    """The member accepts the site's current terms (``POST /me/terms``): the version and
    the time are recorded.  A version other than the current one is a 409 naming it."""
    current = runtime.settings.site.terms_version
    if not current:
        raise Conflict("this site has no terms to accept")
    if version != current:
        message = f"the site's terms are at version {current}; read them ({runtime.settings.site.terms_url}) and accept that one"
        raise TermsChanged(message, extra={"version": current})
    async with runtime.unit_of_work() as uow:
        await Member.update(
            {Member.terms_version: current, Member.terms_accepted_at: uow.now, Member.updated_at: uow.now}
        ).where(Member.id == member_id)
    return await get_member(runtime, member_id)


async def create_member(
    runtime: Runtime,
    cmd: RegisterMember,
    *,
    role: str = "member",
    email_verified: bool = False,
    password_hash: str | None = None,
    checked: tuple[str, str, str, list[str]] | None = None,
    then: Any = None,
) -> int:
    """Insert the member; ``then(uow, member_id, email)`` runs in the same unit of work.

    ``checked`` is :func:`check_registration`'s result when the caller ran it already.
    """
    email, display_name, country, skills = checked or check_registration(runtime, cmd)
    version = runtime.settings.site.terms_version
    terms = version if version and cmd.accept_terms else ""
    if password_hash is None:
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
                    email_verified_at=now if email_verified else None,
                    terms_version=terms or None,
                    terms_accepted_at=now if terms else None,
                    created_at=now,
                    updated_at=now,
                )
            ).returning(Member.id)
            member_id = rows[0]["id"]
            uow.record(
                MemberRegistered(member_id=member_id, role=role),
                subject=f"member:{member_id}",
                actor_id=member_id,
            )
            if then is not None:
                await then(uow, member_id, email)
    except Exception as exc:
        if is_unique_violation(exc):  # lost a race with a concurrent registration
            raise EmailTaken(_email_taken_detail(email)) from None
        raise
    return member_id


def _email_taken_detail(email: str) -> str:
    return f"{email} is already registered; log in, or use another address"


def suspended_detail(reason: str | None) -> str:
    because = f": {reason}" if reason else ""
    return f"this account is suspended{because}. Contact the site's operators."


def _profile_changes(cmd: UpdateProfile) -> dict[str, Any]:
    """The fields ``cmd`` gives, normalised (every field error at once)."""
    checks: list[tuple[str, Any]] = []
    display_name, country, skills = cmd.display_name, cmd.country, cmd.skills
    if display_name is not msgspec.UNSET:
        checks.append(("display_name", lambda: normalise_display_name(display_name)))
    if country is not msgspec.UNSET:
        checks.append(("country", lambda: normalise_country(country)))
    if skills is not msgspec.UNSET:
        checks.append(("skills", lambda: normalise_skills(skills)))
    values = _collect(*(check for _, check in checks))
    return {name: value for (name, _), value in zip(checks, values, strict=True)}


_PROFILE_COLUMNS = {"display_name": Member.display_name, "country": Member.country, "skills": Member.skills}


async def update_profile(runtime: Runtime, member_id: int, cmd: UpdateProfile) -> MemberOut:
    """A member changes their own profile; plugins may veto (``agorakit_profile_changing``:
    a 409 ``profile_change_refused``, nothing written)."""
    return await _change_profile(runtime, member_id, _profile_changes(cmd), actor_id=member_id)


async def operator_update_profile(
    runtime: Runtime, *, operator_id: int, member_id: int, cmd: UpdateProfile
) -> MemberOut:
    """An operator changes a member's profile, over the plugins' vetoes (the event's actor
    is the operator).  Only an owner changes an operator's or owner's profile."""
    wanted = _profile_changes(cmd)
    async with runtime.unit_of_work():
        await _target_for_staff_change(
            runtime, actor_id=operator_id, member_id=member_id, action="change the profile of"
        )
        return await _change_profile(runtime, member_id, wanted, actor_id=operator_id, vetoable=False)


async def _change_profile(
    runtime: Runtime, member_id: int, wanted: dict[str, Any], *, actor_id: int, vetoable: bool = True
) -> MemberOut:
    """Write the fields of ``wanted`` whose value changes, with one event naming them."""
    if not wanted:
        return await get_member(runtime, member_id)
    async with runtime.unit_of_work() as uow:
        member = await get_member(runtime, member_id)
        changes = {name: value for name, value in wanted.items() if getattr(member, name) != value}
        if not changes:
            return member
        if vetoable:
            vetoes = await runtime.hooks.collect(
                "agorakit_profile_changing", member=member, changes=dict(changes), runtime=runtime
            )
            reasons = [str(veto) for veto in vetoes if veto]
            if reasons:
                raise ProfileChangeRefused("; ".join(reasons), extra={"reasons": reasons})
        columns: dict[Any, Any] = {_PROFILE_COLUMNS[name]: value for name, value in changes.items()}
        columns[Member.updated_at] = uow.now
        await Member.update(columns).where(Member.id == member_id)
        uow.record(
            MemberProfileUpdated(member_id=member_id, fields=sorted(changes)),
            subject=f"member:{member_id}",
            actor_id=actor_id,
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
        uow.record(
            MemberPasswordChanged(member_id=member_id), subject=f"member:{member_id}", actor_id=member_id
        )
    return await get_member(runtime, member_id)


async def _target_for_staff_change(runtime: Runtime, *, actor_id: int, member_id: int, action: str) -> dict:
    """Read (and on PostgreSQL lock) the member an operator acts on, checking who may.

    Operators manage members; only an owner manages operators and owners.
    """
    query = Member.select(Member.id, Member.role, Member.status).where(Member.id.is_in([actor_id, member_id]))
    if runtime.db.is_postgres:
        query = query.lock_rows()
    rows = {row["id"]: row for row in await query}
    target = rows.get(member_id)
    if target is None:
        raise NotFound(f"there is no member {member_id}")
    actor_role = rows[actor_id]["role"] if actor_id in rows else None
    if target["role"] in OPERATOR_ROLES and actor_role != "owner":
        message = f"only the site's owner can {action} an operator or owner (member {member_id} is {target['role']})"
        raise Forbidden(message)
    return target


async def _check_owner_remains(runtime: Runtime, *, losing: int) -> None:
    """409 when member ``losing`` is the last active owner (the site would have none)."""
    query = Member.select(Member.id).where((Member.role == "owner") & (Member.status == "active"))
    if runtime.db.is_postgres:
        query = query.lock_rows()
    owners = {row["id"] for row in await query}
    if owners <= {losing}:
        message = f"member {losing} is the site's last owner; make another member owner first"
        raise Conflict(message)


async def suspend(runtime: Runtime, *, operator_id: int, member_id: int, reason: str) -> MemberOut:
    """Suspend an account: it cannot log in, and its tokens get 403 ``account_suspended``.

    Its stamp changes too, so tokens issued before stay dead after a reactivation.
    """
    if operator_id == member_id:
        raise Forbidden("operators cannot suspend their own account")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why the account is suspended")])
    async with runtime.unit_of_work() as uow:
        row = await _target_for_staff_change(
            runtime, actor_id=operator_id, member_id=member_id, action="suspend"
        )
        if row["status"] == "suspended":
            raise Conflict(f"member {member_id} is already suspended")
        if row["role"] == "owner":
            await _check_owner_remains(runtime, losing=member_id)
        await Member.update(
            {
                Member.status: "suspended",
                Member.suspended_reason: reason,
                Member.security_stamp: secrets.token_hex(16),
                Member.updated_at: uow.now,
            }
        ).where(Member.id == member_id)
        uow.record(
            MemberSuspended(member_id=member_id, reason=reason),
            subject=f"member:{member_id}",
            actor_id=operator_id,
        )
    return await get_member(runtime, member_id)


async def reactivate(runtime: Runtime, *, operator_id: int, member_id: int) -> MemberOut:
    async with runtime.unit_of_work() as uow:
        row = await _target_for_staff_change(
            runtime, actor_id=operator_id, member_id=member_id, action="reactivate"
        )
        if row["status"] != "suspended":
            raise Conflict(f"member {member_id} is not suspended")
        await Member.update(
            {Member.status: "active", Member.suspended_reason: None, Member.updated_at: uow.now}
        ).where(Member.id == member_id)
        uow.record(
            MemberReactivated(member_id=member_id), subject=f"member:{member_id}", actor_id=operator_id
        )
    return await get_member(runtime, member_id)


async def set_role(runtime: Runtime, *, owner_id: int, member_id: int, role: str) -> MemberOut:
    """Make a member a member, operator or owner (owners only; the last owner stays)."""
    if role not in ("member", *OPERATOR_ROLES):
        raise ValidationFailed([FieldError("role", "must be member, operator or owner")])
    async with runtime.unit_of_work() as uow:
        row = await _target_for_staff_change(runtime, actor_id=owner_id, member_id=member_id, action="change")
        actor = await Member.select(Member.role).where(Member.id == owner_id).first()
        if actor is None or actor["role"] != "owner":
            raise Forbidden("only the site's owner can change roles")
        if row["role"] == role:
            return await get_member(runtime, member_id)
        if row["role"] == "owner":
            await _check_owner_remains(runtime, losing=member_id)
        await Member.update({Member.role: role, Member.updated_at: uow.now}).where(Member.id == member_id)
        uow.record(
            MemberRoleChanged(member_id=member_id, role=role, previous=row["role"]),
            subject=f"member:{member_id}",
            actor_id=owner_id,
        )
    return await get_member(runtime, member_id)


async def create_operator(
    runtime: Runtime, *, email: str, password: str, display_name: str, country: str, owner: bool = False
) -> MemberOut:
    """Create an operator account, or with ``owner`` the site's owner (``agorakit users``).

    Its email counts as verified: the person running the command chose it.
    """
    cmd = RegisterMember(email=email, password=password, display_name=display_name, country=country)
    return await register(runtime, cmd, role="owner" if owner else "operator", email_verified=True)
