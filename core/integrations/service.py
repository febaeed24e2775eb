"""Integration tokens: read-only API tokens with scopes that operators make for outside
systems, and the callers they name.

A token's secret (``agk_`` and 43 random URL-safe characters) is shown once, when it is
made; the table keeps its SHA-256 and its first characters (to tell tokens apart).  Each
request that sends a token looks it up by that hash (one indexed read, no cache): a
revoked or expired token stops working on the next request, in every process.  When it
was last used is written at most once a minute per token, never on every request.
Expiry is by the site's clock.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import msgspec

from agorakit.accounts import IntegrationCaller
from agorakit.db.prepared import Prepared
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.integrations.events import IntegrationTokenCreated, IntegrationTokenRevoked
from agorakit.integrations.schemas import CreateIntegrationToken, IntegrationTokenOut, NewIntegrationToken
from agorakit.integrations.tables import IntegrationToken
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime

#: what every integration token's secret starts with
SECRET_PREFIX = "agk_"
#: characters of the secret kept to tell tokens apart (the prefix and 8 more)
SHOWN_CHARACTERS = len(SECRET_PREFIX) + 8
#: how often a token's ``last_used_at`` is written at most
LAST_USED_EVERY = timedelta(minutes=1)
#: the longest token looked up (a longer one is no token of ours)
MAX_SECRET_LENGTH = 200

#: the scopes of the core's own routes (``agorakit_integration_scopes``)
CORE_SCOPES = {
    "events:read": "Read the events feed (GET /events) and the event types (GET /events/types).",
    "webhooks:read": "Read the webhook subscriptions and their deliveries (the GETs of /operator/webhooks).",
}

_COLUMNS = (
    IntegrationToken.id,
    IntegrationToken.name,
    IntegrationToken.scopes,
    IntegrationToken.prefix,
    IntegrationToken.created_by,
    IntegrationToken.created_at,
    IntegrationToken.expires_at,
    IntegrationToken.last_used_at,
    IntegrationToken.revoked_at,
)
_BY_HASH = Prepared(
    lambda digest: (
        IntegrationToken.select(*_COLUMNS)
        .where(IntegrationToken.secret_sha256 == digest)
        .first()
        .output(load_json=True)
    )
)


def secret_digest(secret: str) -> str:
    """The SHA-256 of a token's secret, hex: what the table keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def integration_scopes(runtime: Runtime) -> dict[str, str]:
    """Every scope a token may hold, with what it lets a token read (sorted by scope)."""
    scopes: dict[str, str] = {}
    for declared in runtime.hooks.collect_sync("agorakit_integration_scopes"):
        for scope, description in dict(declared).items():
            scopes.setdefault(str(scope), str(description))
    return dict(sorted(scopes.items()))


def _to_out(row: dict[str, Any]) -> IntegrationTokenOut:
    return IntegrationTokenOut(
        id=row["id"],
        name=row["name"],
        scopes=list(row["scopes"]),
        prefix=row["prefix"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        revoked=row["revoked_at"] is not None,
    )


def _check(runtime: Runtime, data: CreateIntegrationToken) -> tuple[str, list[str]]:
    """The token's name and scopes (in order, each once), or every field error."""
    errors = []
    name = " ".join(data.name.split())
    if not name:
        errors.append(FieldError("name", "give the token a name (what uses it)"))
    known = integration_scopes(runtime)
    scopes = list(dict.fromkeys(data.scopes))
    if not scopes:
        errors.append(FieldError("scopes", f"give at least one scope: {', '.join(known)}"))
    for index, scope in enumerate(data.scopes):
        if scope not in known:
            message = f"{scope!r} is not a scope; the scopes are: {', '.join(known)}"
            errors.append(FieldError(f"scopes[{index}]", message))
    if data.expires_at is not None and data.expires_at <= runtime.clock.now():
        errors.append(
            FieldError("expires_at", "must be in the future (or left out: the token never expires)")
        )
    if errors:
        raise ValidationFailed(errors)
    return name, scopes


async def create_token(
    runtime: Runtime, data: CreateIntegrationToken, *, operator: Any
) -> NewIntegrationToken:
    """Make an integration token (operators); the answer carries its secret, shown only here."""
    name, scopes = _check(runtime, data)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    async with runtime.unit_of_work() as uow:
        [row] = await IntegrationToken.insert(
            IntegrationToken(
                name=name,
                scopes=scopes,
                prefix=secret[:SHOWN_CHARACTERS],
                secret_sha256=secret_digest(secret),
                created_by=operator.id,
                created_at=uow.now,
                expires_at=data.expires_at,
            )
        ).returning(IntegrationToken.id)
        token_id = row["id"]
        created = IntegrationTokenCreated(token_id=token_id, token_name=name, scopes=scopes)
        uow.record(created, subject=f"integration_token:{token_id}", actor_id=operator.id)
    return NewIntegrationToken(integration_token=await get_token(token_id), token=secret)


async def get_token(token_id: int) -> IntegrationTokenOut:
    """One integration token (never its secret); a 404 for an unknown id."""
    row = (
        await IntegrationToken.select(*_COLUMNS)
        .where(IntegrationToken.id == token_id)
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound(f"there is no integration token {token_id}")
    return _to_out(row)


async def list_tokens(
    *, cursor: str | None = None, limit: int = 20
) -> tuple[list[IntegrationTokenOut], str | None]:
    """Every integration token, the revoked ones too, newest first."""
    query = IntegrationToken.select(*_COLUMNS)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(IntegrationToken.id < position["id"])
    rows, next_cursor = page(
        await query.order_by(IntegrationToken.id, ascending=False).limit(limit + 1).output(load_json=True),
        limit,
        lambda row: {"id": row["id"]},
    )
    return [_to_out(row) for row in rows], next_cursor


async def revoke_token(runtime: Runtime, token_id: int, *, operator: Any) -> None:
    """Revoke an integration token (operators): the next request with it is a 401.
    Revoking a revoked token changes nothing."""
    async with runtime.unit_of_work() as uow:
        revoked = (
            await IntegrationToken.update(
                {IntegrationToken.revoked_at: uow.now, IntegrationToken.revoked_by: operator.id}
            )
            .where((IntegrationToken.id == token_id) & IntegrationToken.revoked_at.is_null())
            .returning(IntegrationToken.name)
        )
        if not revoked:
            await get_token(token_id)  # a 404 for an unknown one
            return
        event = IntegrationTokenRevoked(token_id=token_id, token_name=revoked[0]["name"])
        uow.record(event, subject=f"integration_token:{token_id}", actor_id=operator.id)


async def caller_for_token(runtime: Runtime, token: str) -> IntegrationCaller | None:
    """Who sends ``token`` (``agorakit_api_token_caller``): None when it is no integration
    token, or a revoked or expired one."""
    if not token.startswith(SECRET_PREFIX) or len(token) > MAX_SECRET_LENGTH:
        return None
    row = await _BY_HASH.run(secret_digest(token))
    if row is None or row["revoked_at"] is not None:
        return None
    now = runtime.clock.now()
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return None
    last_used = row["last_used_at"]
    if last_used is None or now - last_used >= LAST_USED_EVERY:
        await _note_use(runtime, row["id"], now)
    scopes = msgspec.convert(row["scopes"], list[str])
    return IntegrationCaller(integration_id=row["id"], name=row["name"], scopes=frozenset(scopes))


async def _note_use(runtime: Runtime, token_id: int, now: Any) -> None:
    """Write when the token was used, unless another request (or process) did within the
    last minute."""
    recent = now - LAST_USED_EVERY
    async with runtime.unit_of_work():
        await IntegrationToken.update({IntegrationToken.last_used_at: now}).where(
            (IntegrationToken.id == token_id)
            & (IntegrationToken.last_used_at.is_null() | (IntegrationToken.last_used_at <= recent))
        )
