"""Password hashing (argon2id) and the strength rule for new passwords."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from agorakit.settings import AuthSection

#: zxcvbn is slow on very long inputs; the tail adds no guessing resistance it can see.
_ZXCVBN_MAX = 72
MAX_PASSWORD_LENGTH = 1024


class Passwords:
    def __init__(self, auth: AuthSection) -> None:
        self.auth = auth
        self.hasher = PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost=auth.argon2_memory_kib,
            parallelism=auth.argon2_parallelism,
        )
        # Verified against when the email is unknown, so a login takes as long either way.
        self._dummy_hash = self.hasher.hash("agorakit-no-such-member")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await anyio.to_thread.run_sync(check)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def weakness(self, password: str, *, personal: list[str]) -> str | None:
        """Why ``password`` is too weak for a new account or a change, or None if it is fine."""
        if len(password) < self.auth.password_min_length:
            return f"use at least {self.auth.password_min_length} characters"
        if len(password) > MAX_PASSWORD_LENGTH:
            return f"use at most {MAX_PASSWORD_LENGTH} characters"
        result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[p for p in personal if p])
        if result["score"] < self.auth.password_min_score:
            feedback = result.get("feedback") or {}
            hint = feedback.get("warning") or "it is too easy to guess"
            suggestions = " ".join(feedback.get("suggestions") or [])
            return f"too weak: {hint.rstrip('.')}. {suggestions}".strip()
        return None
