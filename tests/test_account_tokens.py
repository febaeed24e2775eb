"""Email verification and password reset: single-use, expiring, hashed secrets by email."""

from __future__ import annotations

import re

import pytest

from agorakit import hookimpl
from agorakit.accounts.tables import AccountToken
from agorakit.notifications.tables import EmailOutbox, Notification

ADA = {
    "email": "ada@example.com",
    "password": "analytical-engine-1843",
    "display_name": "Ada",
    "country": "GB",
}
NEW_PASSWORD = "difference-engine-1822"


async def emails_to(address: str, subject_start: str) -> list[dict]:
    rows = await EmailOutbox.select().where(EmailOutbox.to_address == address).order_by(EmailOutbox.id)
    return [row for row in rows if row["subject"].startswith(subject_start)]


async def last_token(address: str, subject_start: str) -> str:
    rows = await emails_to(address, subject_start)
    assert rows, f"no email {subject_start!r} to {address}"
    return re.search(r"token=([A-Za-z0-9_\-]+)", rows[-1]["text_body"]).group(1)


async def verification_token(address: str = ADA["email"]) -> str:
    return await last_token(address, "Verify your email address")


async def reset_token(address: str) -> str:
    return await last_token(address, "Choose a new password")


async def bearer(client, email: str, password: str) -> dict:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --------------------------------------------------------------------------------------
# Email verification
# --------------------------------------------------------------------------------------


async def test_the_emailed_link_verifies_the_address_once(client, problem, site_settings):
    assert (await client.post("/auth/register", json=ADA)).status_code == 202
    [email] = await emails_to(ADA["email"], "Verify your email address")
    token = await verification_token()
    assert f"http://127.0.0.1:8000/verify-email?token={token}" in email["text_body"]
    headers = await bearer(client, ADA["email"], ADA["password"])
    assert (await client.get("/me", headers=headers)).json()["email_verified"] is False

    confirmed = await client.post("/auth/email-verification/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"email": ADA["email"], "detail": "the email address is verified"}
    assert (await client.get("/me", headers=headers)).json()["email_verified"] is True
    again = await client.post("/auth/email-verification/confirm", json={"token": token})
    problem(again, 400, "invalid_token")

    # Only a hash is kept, and the secret never reached the member's inbox.
    [stored] = await AccountToken.select()
    assert stored["token_hash"] != token and token not in str(stored)
    assert not [row for row in await Notification.select() if token in row["body"]]


async def test_a_verification_link_expires(client, clock, problem, site_settings):
    await client.post("/auth/register", json=ADA)
    token = await verification_token()
    clock.advance(hours=site_settings.auth.email_verification_hours)
    problem(
        await client.post("/auth/email-verification/confirm", json={"token": token}), 400, "invalid_token"
    )


async def test_asking_a_new_link_answers_the_same_for_any_address_and_voids_the_old_one(
    client, make_member, problem
):
    await client.post("/auth/register", json=ADA)
    first = await verification_token()
    verified = await make_member(email="vera@example.com")
    answers = []
    for address in (ADA["email"], verified.member.email, "nobody@example.com"):
        response = await client.post("/auth/email-verification", json={"email": address})
        assert response.status_code == 202, response.text
        answers.append(response.json()["detail"].replace(address, "<address>"))
    assert len(set(answers)) == 1
    assert len(await emails_to(ADA["email"], "Verify your email address")) == 2
    assert await emails_to(verified.member.email, "Verify") == []
    assert await emails_to("nobody@example.com", "") == []

    problem(
        await client.post("/auth/email-verification/confirm", json={"token": first}), 400, "invalid_token"
    )
    second = await verification_token()
    assert (await client.post("/auth/email-verification/confirm", json={"token": second})).status_code == 200


class TestVerifiedEmailRequired:
    @pytest.fixture
    def site_config(self):
        return {"auth": {"require_verified_email": True}}

    async def test_an_unverified_member_cannot_log_in_until_verified(self, client, problem):
        await client.post("/auth/register", json=ADA)
        wrong = await client.post("/auth/login", json={"email": ADA["email"], "password": "wrong-password-1"})
        problem(wrong, 401, "invalid_credentials")  # nothing said before the password is right
        refused = await client.post("/auth/login", json={"email": ADA["email"], "password": ADA["password"]})
        problem(refused, 403, "email_not_verified")
        token = await verification_token()
        assert (
            await client.post("/auth/email-verification/confirm", json={"token": token})
        ).status_code == 200
        assert (
            await client.post("/auth/login", json={"email": ADA["email"], "password": ADA["password"]})
        ).status_code == 200


# --------------------------------------------------------------------------------------
# Password reset
# --------------------------------------------------------------------------------------


async def test_a_reset_request_answers_the_same_whether_or_not_the_address_has_an_account(
    client, make_member
):
    ada = await make_member(email=ADA["email"])
    known = await client.post("/auth/password-reset", json={"email": ada.member.email})
    unknown = await client.post("/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json()["detail"].replace(ADA["email"], "x") == unknown.json()["detail"].replace(
        "nobody@example.com", "x"
    )
    [email] = await emails_to(ADA["email"], "Choose a new password")
    assert "http://127.0.0.1:8000/reset-password?token=" in email["text_body"]
    assert await emails_to("nobody@example.com", "") == []


async def test_a_reset_sets_the_password_and_ends_every_session(client, make_member, problem):
    ada = await make_member(email=ADA["email"], email_verified=False)
    other = await make_member()
    assert (await client.get("/me", headers=ada.headers)).status_code == 200  # the token is remembered now
    await client.post("/auth/password-reset", json={"email": ADA["email"]})
    token = await reset_token(ADA["email"])

    done = await client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text
    assert done.json()["email"] == ADA["email"]
    problem(await client.get("/me", headers=ada.headers), 401, "unauthenticated")
    assert (await client.get("/me", headers=other.headers)).status_code == 200  # nobody else's
    old = await client.post("/auth/login", json={"email": ADA["email"], "password": ada.password})
    problem(old, 401, "invalid_credentials")
    headers = await bearer(client, ADA["email"], NEW_PASSWORD)
    me = (await client.get("/me", headers=headers)).json()
    assert me["email_verified"] is True  # the link reached the address
    again = await client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": "another-pass-9911"}
    )
    problem(again, 400, "invalid_token")
    titles = [row["title"] for row in await Notification.select().where(Notification.member_id == ada.id)]
    assert "Your password was changed" in titles


async def test_a_weak_new_password_is_refused_and_the_link_still_works(client, make_member, problem):
    await make_member(email=ADA["email"], display_name="Ada")
    await client.post("/auth/password-reset", json={"email": ADA["email"]})
    token = await reset_token(ADA["email"])
    for weak in ("short", "ada@example.com", "passwordpassword"):
        response = await client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": weak}
        )
        problem(response, 422, "validation_error", fields={"new_password"})
    ok = await client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 200


async def test_a_reset_link_expires_and_a_newer_one_voids_it(
    client, make_member, clock, problem, site_settings
):
    await make_member(email=ADA["email"])
    await client.post("/auth/password-reset", json={"email": ADA["email"]})
    first = await reset_token(ADA["email"])
    await client.post("/auth/password-reset", json={"email": ADA["email"]})
    second = await reset_token(ADA["email"])
    body = {"token": first, "new_password": NEW_PASSWORD}
    problem(await client.post("/auth/password-reset/confirm", json=body), 400, "invalid_token")
    clock.advance(minutes=site_settings.auth.password_reset_minutes)
    body = {"token": second, "new_password": NEW_PASSWORD}
    problem(await client.post("/auth/password-reset/confirm", json=body), 400, "invalid_token")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"token": "made-up", "new_password": NEW_PASSWORD}, 400, "invalid_token"),
        ({"token": "", "new_password": NEW_PASSWORD}, 422, "validation_error"),
        ({"token": "x" * 201, "new_password": NEW_PASSWORD}, 422, "validation_error"),
        ({"new_password": NEW_PASSWORD}, 422, "validation_error"),
        ({"token": "токен ✓ 🙂", "new_password": NEW_PASSWORD}, 400, "invalid_token"),
    ],
)
async def test_bad_reset_confirmations_are_4xx(client, problem, body, status, code):
    problem(await client.post("/auth/password-reset/confirm", json=body), status, code)


async def test_a_lone_surrogate_in_a_token_is_a_bad_request(client, problem):
    raw = b'{"token": "\\udcff", "new_password": "difference-engine-1822"}'
    response = await client.post(
        "/auth/password-reset/confirm", content=raw, headers={"content-type": "application/json"}
    )
    problem(response, 400, "bad_request")


async def test_a_verification_token_does_not_reset_a_password(client, problem):
    await client.post("/auth/register", json=ADA)
    token = await verification_token()
    body = {"token": token, "new_password": NEW_PASSWORD}
    problem(await client.post("/auth/password-reset/confirm", json=body), 400, "invalid_token")


async def test_reset_requests_are_throttled_per_recipient_known_or_not(
    client, problem, make_member, site_settings
):
    await make_member(email=ADA["email"])
    limit = site_settings.auth.account_emails_per_address_per_hour
    for address in (ADA["email"], "nobody@example.com"):
        for _ in range(limit):
            assert (await client.post("/auth/password-reset", json={"email": address})).status_code == 202
        refused = await client.post("/auth/password-reset", json={"email": address})
        problem(refused, 429, "too_many_requests")
        assert refused.headers["retry-after"] == "3600"
    assert len(await emails_to(ADA["email"], "Choose a new password")) == limit


async def test_a_reset_request_with_a_malformed_email_is_422(client, problem):
    problem(
        await client.post("/auth/password-reset", json={"email": "not-an-email"}), 422, "validation_error"
    )


# --------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------


class Postman:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    @hookimpl
    def agorakit_account_email(self, runtime, uow, member, template, context):
        self.sent.append((member["email"], template, context))
        return True


class TestHook:
    @pytest.fixture
    def postman(self):
        return Postman()

    @pytest.fixture
    def extra_plugins(self, postman):
        return [("postman", postman)]

    async def test_hook_agorakit_account_email(self, client, postman, make_member):
        """A plugin that answers the hook sends the account emails instead of the outbox."""
        await make_member(email=ADA["email"])
        await client.post("/auth/password-reset", json={"email": ADA["email"]})
        [(to, template, context)] = postman.sent
        assert (to, template) == (ADA["email"], "account_password_reset")
        assert context["link"] == f"http://127.0.0.1:8000/reset-password?token={context['token']}"
        assert context["minutes"] == 60
        assert await emails_to(ADA["email"], "Choose") == []
        body = {"token": context["token"], "new_password": NEW_PASSWORD}
        assert (await client.post("/auth/password-reset/confirm", json=body)).status_code == 200
