"""Proving who one is: registration, login, email verification and password reset.

The public flows tell nobody which email addresses have an account: registering a taken
address, asking a reset link for an unknown one or a verification link for a verified
one all get the same answer as the successful case, and the news goes by email to the
address itself.  Every flow is throttled per client address (and logins per account and
address, see :mod:`agorakit.accounts.throttle`).

Emailed secrets are single-use and expire; only their SHA-256 is stored
(:class:`~agorakit.accounts.tables.AccountToken`).  The emails are queued in the unit of
work that makes the secret, through the ``agorakit_account_email`` hook (the core's
notifications area renders and sends them).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from agorakit.accounts.events import MemberEmailVerified, MemberPasswordReset
from agorakit.accounts.schemas import Accepted, MemberOut, RegisterMember
from agorakit.accounts.service import (
    _check_password,
    accounts,
    check_registration,
    create_member,
    get_member,
    normalise_email,
    suspended_detail,
)
from agorakit.accounts.tables import AccountToken, Member
from agorakit.accounts.throttle import Throttle
from agorakit.errors import (
    AccountSuspended,
    EmailNotVerified,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    TooManyRequests,
)
from agorakit.runtime import Runtime, UnitOfWork

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"


async def _check(throttle: Throttle, key: str, message: str) -> None:
    retry = await throttle.retry_after(key)
    if retry:
        raise TooManyRequests(f"{message}; try again in {retry} s", retry_after=retry)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------------------
# Emails
# --------------------------------------------------------------------------------------


def _link(runtime: Runtime, pattern: str, token: str) -> str:
    return pattern.format(base_url=runtime.settings.site.base_url.rstrip("/"), token=quote(token, safe=""))


async def _send(
    runtime: Runtime, uow: UnitOfWork, member: dict[str, Any], template: str, **context: Any
) -> None:
    """Queue a security email to ``member`` in ``uow`` (sent after the commit)."""
    await runtime.hooks.first(
        "agorakit_account_email",
        runtime=runtime,
        uow=uow,
        member={"id": member["id"], "email": member["email"], "display_name": member["display_name"]},
        template=template,
        context=context,
    )


async def _issue(
    runtime: Runtime, uow: UnitOfWork, member: dict[str, Any], purpose: str, ttl: timedelta
) -> str:
    """A new secret for ``member``; earlier ones of the same purpose stop working.

    Their rows go (used or not), so a member has at most one row per purpose.
    """
    token = secrets.token_urlsafe(32)
    await AccountToken.delete().where(
        (AccountToken.member_id == member["id"]) & (AccountToken.purpose == purpose)
    )
    await AccountToken.insert(
        AccountToken(
            member_id=member["id"],
            purpose=purpose,
            token_hash=hash_token(token),
            email=member["email"],
            created_at=uow.now,
            expires_at=uow.now + ttl,
            used_at=None,
        )
    )
    return token


async def _redeem(uow: UnitOfWork, token: str, purpose: str) -> dict[str, Any]:
    """Use a secret once: the row it names, or 400 ``invalid_token`` (unknown, used, expired)."""
    used = (
        await AccountToken.update({AccountToken.used_at: uow.now})
        .where(
            (AccountToken.token_hash == hash_token(token))
            & (AccountToken.purpose == purpose)
            & AccountToken.used_at.is_null()
            & (AccountToken.expires_at > uow.now)
        )
        .returning(AccountToken.member_id, AccountToken.email)
    )
    if not used:
        raise InvalidToken("the link is invalid, expired or already used; ask for a new one")
    return used[0]


_RECIPIENT = (Member.id, Member.email, Member.display_name, Member.status, Member.email_verified_at)


async def _verification_email(runtime: Runtime, uow: UnitOfWork, member: dict[str, Any]) -> None:
    auth = runtime.settings.auth
    token = await _issue(runtime, uow, member, VERIFY_EMAIL, timedelta(hours=auth.email_verification_hours))
    await _send(
        runtime,
        uow,
        member,
        "account_verify_email",
        link=_link(runtime, auth.verify_email_url, token),
        token=token,
        hours=auth.email_verification_hours,
    )


def _accepted(email: str, detail: str) -> Accepted:
    return Accepted(email=email, detail=detail)


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


async def sign_up(runtime: Runtime, cmd: RegisterMember, *, client: str) -> Accepted:
    """``POST /auth/register``: the same answer whether or not the email is taken.

    A new address gets an account and a verification email; a taken one gets no account,
    and its owner an email saying someone tried to register with it and how to reset the
    password.  Both paths hash the password, so they take as long.
    """
    state = accounts(runtime)
    await _check(state.throttles.register_per_address, client, "too many registrations from your address")
    checked = check_registration(runtime, cmd, terms=True)  # 422 before anything counts
    email, display_name, _, _ = checked
    # Per recipient too, on every registration: a taken address's owner is emailed each
    # time, and a limit met only by taken addresses would tell them apart.
    await _check(
        state.throttles.emails_per_recipient, email.lower(), "too many emails asked for this address"
    )
    await state.throttles.register_per_address.hit(client)
    await state.throttles.emails_per_recipient.hit(email.lower())
    password_hash = await state.passwords.hash(cmd.password)

    async def verify(uow: UnitOfWork, member_id: int, address: str) -> None:
        member = {"id": member_id, "email": address, "display_name": display_name}
        await _verification_email(runtime, uow, member)

    try:
        await create_member(runtime, cmd, password_hash=password_hash, checked=checked, then=verify)
    except EmailTaken:
        async with runtime.unit_of_work() as uow:
            row = await Member.select(*_RECIPIENT).where(Member.email_key == email.lower()).first()
            if row is not None:
                await _send(runtime, uow, row, "account_registration_attempt")
    detail = (
        f"we sent an email to {email}: follow its link to verify the address. "
        "If it does not arrive, check the address and your spam folder"
    )
    return _accepted(email, detail)


# --------------------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------------------


async def authenticate(runtime: Runtime, *, email: str, password: str, client: str) -> MemberOut:
    """Check a login (401 ``invalid_credentials`` for a wrong email or password).

    Throttled per client address (attempts per minute) and per account and address
    (consecutive failures, then a wait that doubles): a stranger's guesses make only the
    stranger wait, and the owner still logs in from their own address.
    """
    throttles = accounts(runtime).throttles
    await _check(throttles.login_per_address, client, "too many login attempts from your address")
    await throttles.login_per_address.hit(client)
    email_key = email.strip().lower()
    pair = f"{email_key}|{client}"
    await _check(throttles.login_per_account_address, pair, "too many failed logins for this account")

    state = accounts(runtime)
    row = (
        await Member.select(
            Member.id, Member.password_hash, Member.status, Member.suspended_reason, Member.email_verified_at
        )
        .where(Member.email_key == email_key)
        .first()
    )
    ok = await state.passwords.verify(row["password_hash"] if row else None, password)
    if not ok or row is None:
        await throttles.login_per_account_address.hit(pair)
        raise InvalidCredentials("the email or password is wrong")
    await throttles.login_per_account_address.reset(pair)
    if row["status"] == "suspended":
        raise AccountSuspended(suspended_detail(row["suspended_reason"]))
    if runtime.settings.auth.require_verified_email and row["email_verified_at"] is None:
        message = (
            "verify your email address first: follow the link we emailed you, "
            "or ask for a new one with POST /auth/email-verification"
        )
        raise EmailNotVerified(message)
    if state.passwords.needs_rehash(row["password_hash"]):
        new_hash = await state.passwords.hash(password)
        async with runtime.unit_of_work():
            await Member.update({Member.password_hash: new_hash}).where(Member.id == row["id"])
    return await get_member(runtime, row["id"])


# --------------------------------------------------------------------------------------
# Email verification and password reset
# --------------------------------------------------------------------------------------


async def _check_email_throttles(runtime: Runtime, email_key: str, client: str) -> None:
    """Account emails asked per client address and sent per recipient (mail bombing)."""
    throttles = accounts(runtime).throttles
    await _check(throttles.emails_per_address, client, "too many email requests from your address")
    await _check(throttles.emails_per_recipient, email_key, "too many emails asked for this address")
    await throttles.emails_per_address.hit(client)
    await throttles.emails_per_recipient.hit(email_key)


async def request_verification(runtime: Runtime, *, email: str, client: str) -> Accepted:
    """Send a new verification link, if ``email`` is an active, unverified account."""
    address = normalise_email(email)
    await _check_email_throttles(runtime, address.lower(), client)
    async with runtime.unit_of_work() as uow:
        row = await Member.select(*_RECIPIENT).where(Member.email_key == address.lower()).first()
        if row is not None and row["status"] == "active" and row["email_verified_at"] is None:
            await _verification_email(runtime, uow, row)
    detail = f"if {address} has an account that is not verified yet, a new link is on its way"
    return _accepted(address, detail)


async def confirm_verification(runtime: Runtime, *, token: str) -> Accepted:
    """Mark the address verified (the link's token, once, before it expires)."""
    async with runtime.unit_of_work() as uow:
        used = await _redeem(uow, token, VERIFY_EMAIL)
        member_id = used["member_id"]
        row = await Member.select(Member.email_key).where(Member.id == member_id).first()
        if row is None or row["email_key"] != used["email"].lower():
            raise InvalidToken("the link is for an address the account no longer has; ask for a new one")
        await Member.update({Member.email_verified_at: uow.now}).where(
            (Member.id == member_id) & Member.email_verified_at.is_null()
        )
        uow.record(
            MemberEmailVerified(member_id=member_id), subject=f"member:{member_id}", actor_id=member_id
        )
    return _accepted(used["email"], "the email address is verified")


async def request_password_reset(runtime: Runtime, *, email: str, client: str) -> Accepted:
    """Email a reset link, if ``email`` has an account: the same answer either way."""
    address = normalise_email(email)
    await _check_email_throttles(runtime, address.lower(), client)
    auth = runtime.settings.auth
    async with runtime.unit_of_work() as uow:
        row = await Member.select(*_RECIPIENT).where(Member.email_key == address.lower()).first()
        if row is not None:
            token = await _issue(
                runtime, uow, row, RESET_PASSWORD, timedelta(minutes=auth.password_reset_minutes)
            )
            await _send(
                runtime,
                uow,
                row,
                "account_password_reset",
                link=_link(runtime, auth.password_reset_url, token),
                token=token,
                minutes=auth.password_reset_minutes,
            )
    detail = f"if {address} has an account, a link to choose a new password is on its way"
    return _accepted(address, detail)


async def confirm_password_reset(runtime: Runtime, *, token: str, new_password: str) -> Accepted:
    """Set a new password with a reset link's token; every session of the member ends."""
    state = accounts(runtime)
    row = (
        await AccountToken.select(AccountToken.member_id)
        .where(
            (AccountToken.token_hash == hash_token(token))
            & (AccountToken.purpose == RESET_PASSWORD)
            & AccountToken.used_at.is_null()
            & (AccountToken.expires_at > runtime.clock.now())
        )
        .first()
    )
    if row is None:
        raise InvalidToken("the link is invalid, expired or already used; ask for a new one")
    member = (
        await Member.select(Member.email, Member.display_name).where(Member.id == row["member_id"]).first()
    )
    if member is None:
        raise InvalidToken("the link is invalid, expired or already used; ask for a new one")
    email = member["email"]
    personal = [email, email.split("@")[0], member["display_name"]]
    _check_password(runtime, new_password, field="new_password", personal=personal)
    new_hash = await state.passwords.hash(new_password)
    async with runtime.unit_of_work() as uow:
        used = await _redeem(uow, token, RESET_PASSWORD)  # once, even against a concurrent use
        member_id = used["member_id"]
        await Member.update(
            {
                Member.password_hash: new_hash,
                Member.security_stamp: secrets.token_hex(16),
                Member.updated_at: uow.now,
            }
        ).where(Member.id == member_id)
        # The link reached the address it was sent to: that proves the address too.
        await Member.update({Member.email_verified_at: uow.now}).where(
            (Member.id == member_id)
            & Member.email_verified_at.is_null()
            & (Member.email_key == used["email"].lower())
        )
        uow.record(
            MemberPasswordReset(member_id=member_id), subject=f"member:{member_id}", actor_id=member_id
        )
    return _accepted(used["email"], "the password is changed and every session ended; log in with it")
