"""The server killed (SIGKILL) mid-load, on a SQLite file and on a PostgreSQL database.

A real ``agorakit run`` serves a site written to a temporary directory; several client
tasks register, fund buyers (bank transfer deposits an operator confirms), sell gigs,
order, pay from balance, deliver, accept and withdraw, each money request with an
Idempotency-Key.  At a seeded moment (once a seeded number of requests have been
answered) the server is killed with SIGKILL while other requests are in flight.  Then:
restart, one ``agorakit tick``, and the checks:

- nothing acknowledged is lost: every request that got a 2xx answer is in the database
  (the order's state, its payment, the deposit's credit, the withdrawal), and every
  stored domain event is published by that one sweep (the killed process's pending
  events need no 30 s wait);
- nothing is applied twice: retrying a request with its Idempotency-Key returns the
  first result and moves no money; requests cut off by the kill, retried, apply once;
- ``agorakit check-ledger`` exits 0, and a clean stop leaves no process registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agorakit.testing import (
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_dsn,
    postgres_unreachable_reason,
)

AGORAKIT = Path(sys.executable).parent / "agorakit"
JWT_SECRET = "faults-secret-" + "0123456789abcdef" * 3
IBAN = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}
OPERATOR_EMAIL, OPERATOR_PASSWORD = "ops@example.com", "operator-passphrase-99"
DEPOSIT = "60.00"
WITHDRAWAL = "5.00"
CLIENTS = 4


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


# --------------------------------------------------------------------------------------
# The site and its server process
# --------------------------------------------------------------------------------------


@dataclass
class Site:
    directory: Path
    config: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(AGORAKIT), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )


def write_config(directory: Path, database_url: str) -> Path:
    path = directory / "site.toml"
    path.write_text(
        f"""[site]
name = "faults market"
plugins = ["gigs", "bank_transfer"]

[database]
url = "{database_url}"

[auth]
jwt_secret = "{JWT_SECRET}"
argon2_time_cost = 1
argon2_memory_kib = 64
argon2_parallelism = 1
# every client of the load runs on 127.0.0.1: one address's allowance would stop it
login_attempts_per_minute = 100000
registrations_per_hour = 100000

[money]
payment_methods = ["balance", "bank_transfer"]
payout_methods = ["bank_transfer"]

[attachments]
path = "{directory / "files"}"

[email]
mailer = "log"

[logging]
level = "WARNING"

[plugins.bank_transfer]
payout_minimum = "1.00"
""",
        encoding="utf-8",
    )
    return path


async def prepare(config: Path) -> None:
    """Migrate and create the operator (what ``agorakit migrate`` and ``agorakit users
    create-operator`` do), in this process."""
    from agorakit.accounts import service
    from agorakit.accounts.schemas import RegisterMember
    from agorakit.db.migrate import migrate
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(config))
    await runtime.db.start()
    try:
        await migrate(runtime.db, runtime.apps)
        command = RegisterMember(
            email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, display_name="Operator", country="DE", skills=[]
        )
        await service.register(runtime, command, role="operator")
    finally:
        await runtime.db.close()


@pytest.fixture
async def site(db_kind, tmp_path) -> AsyncIterator[Site]:
    """A migrated site with an operator, on a SQLite file or a PostgreSQL database of its own."""
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'faults.sqlite3'}"
        name = None
    else:
        reason = await postgres_unreachable_reason(postgres_admin_dsn())
        if reason:
            if os.environ.get("CI"):
                pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
            pytest.skip(reason)
        name = f"agorakit_faults_{uuid.uuid4().hex[:10]}"
        url = await create_postgres_database(postgres_admin_dsn(), name)
    config = write_config(tmp_path, url)
    await prepare(config)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORAKIT_")}
    env["AGORAKIT_CONFIG"] = str(config)
    try:
        yield Site(tmp_path, config, env)
    finally:
        if name is not None:
            await drop_postgres_database(postgres_admin_dsn(), name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``agorakit run`` on a free port, as a process of its own."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = site.directory / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        return self.launch().wait_ready()

    def launch(self) -> Server:
        """Start the process (:meth:`wait_ready` waits until it answers)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(AGORAKIT), "run", "--port", str(self.port)],
                env=self.site.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> Server:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        pytest.fail(f"the server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing queued is delivered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """A clean stop (SIGTERM): the app drains its events and deregisters."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise


@contextlib.contextmanager
def serving(site: Site) -> Iterator[Server]:
    server = Server(site).start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


# --------------------------------------------------------------------------------------
# The load: what was asked, and what was acknowledged
# --------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request of the load; ``response`` is None when no answer came (the kill)."""

    step: str
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    status: int | None = None
    response: Any = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


class ServerGone(Exception):
    """The server stopped answering (it was killed)."""


@dataclass
class Load:
    kill_after: int
    kill: Any
    calls: list[Call] = field(default_factory=list)
    answered: int = 0
    killed: bool = False

    async def send(
        self, client: httpx.AsyncClient, step: str, method: str, url: str, headers=None, json=None
    ):
        call = Call(step, method, url, dict(headers or {}), json)
        self.calls.append(call)
        try:
            response = await client.request(method, url, headers=call.headers, json=json)
        except httpx.TransportError:  # in flight at the kill, or sent after it
            raise ServerGone from None
        call.status, call.response = response.status_code, response.json()
        assert call.status < 500, (step, call.status, call.response)
        self.answered += 1
        if self.answered >= self.kill_after and not self.killed:
            self.killed = True
            self.kill()  # the other tasks' requests are in flight right now
        return call


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def make_categories(client: httpx.AsyncClient, operator: dict[str, str]) -> None:
    for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
        response = await client.post(
            "/operator/categories", json={"slug": slug, "name": name, "parent": parent}, headers=operator
        )
        assert response.status_code == 201, response.text


def gig_body(task: int) -> dict[str, Any]:
    return {
        "kind": "gig",
        "title": f"I will design a minimalist logo, studio {task}",
        "description": "Three concepts, vector files and two rounds of changes.",
        "price": usd("25.00"),
        "category": "logo-design",
        "attributes": {
            "delivery_days": 3,
            "extras": [],
            "max_quantity": 1,
            "requirements": "Your brand name and the colours you like.",
        },
    }


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def trader(load: Load, client: httpx.AsyncClient, task: int, operator: dict[str, str]) -> None:
    """One seller and one buyer doing business until the server dies."""
    people = {}
    for role in ("seller", "buyer"):
        body = {
            "email": f"{role}{task}@example.com",
            "password": f"correct-horse-battery-{task}-{role}",
            "display_name": f"{role.title()} {task}",
            "country": "US",
            "skills": [],
        }
        call = await load.send(client, "register", "POST", "/auth/register", json=body)
        assert call.status == 202, call.response
        credentials = {"email": body["email"], "password": body["password"]}
        call = await load.send(client, "login", "POST", "/auth/login", json=credentials)
        assert call.status == 200, call.response
        people[role] = {"Authorization": f"Bearer {call.response['access_token']}"}
    seller, buyer = people["seller"], people["buyer"]
    call = await load.send(client, "gig", "POST", "/listings", seller, gig_body(task))
    assert call.status == 201, call.response
    gig = call.response["id"]
    call = await load.send(client, "submit", "POST", f"/listings/{gig}/submit", seller)
    if call.response["status"] != "published":
        await load.send(client, "approve", "POST", f"/operator/listings/{gig}/approve", operator)
    while True:
        call = await load.send(
            client,
            "deposit",
            "POST",
            "/payments",
            {**buyer, **key()},
            {"method": "bank_transfer", "amount": usd(DEPOSIT)},
        )
        assert call.status == 201, call.response
        call = await load.send(
            client,
            "confirm",
            "POST",
            f"/bank-transfer/payments/{call.response['id']}/confirm",
            operator,
            {"amount": usd(DEPOSIT), "reference": f"STMT-{task}"},
        )
        assert call.status == 200, call.response
        for _ in range(2):
            call = await load.send(client, "order", "POST", f"/gigs/{gig}/orders", buyer, {})
            assert call.status == 201, call.response
            order = call.response["id"]
            call = await load.send(
                client, "pay", "POST", f"/orders/{order}/payments", {**buyer, **key()}, {"method": "balance"}
            )
            assert call.status == 201, call.response
            body = {"message": "Here you are."}
            call = await load.send(client, "deliver", "POST", f"/gigs/orders/{order}/delivery", seller, body)
            assert call.status == 200, call.response
            call = await load.send(client, "accept", "POST", f"/gigs/orders/{order}/accept", buyer)
            assert call.status == 200, call.response
            body = {"method": "bank_transfer", "amount": usd(WITHDRAWAL), "destination": IBAN}
            call = await load.send(client, "withdraw", "POST", "/withdrawals", {**seller, **key()}, body)
            assert call.status == 201, call.response


async def run_load(server: Server, seed: int) -> Load:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        operator = await login(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
        await make_categories(client, operator)
        load = Load(kill_after=rng.randint(55, 100), kill=server.kill)
        results = await asyncio.gather(
            *(trader(load, client, task, operator) for task in range(CLIENTS)), return_exceptions=True
        )
    for result in results:
        if not isinstance(result, ServerGone):
            raise AssertionError(f"a client task ended with {result!r}")
    assert load.killed
    return load


# --------------------------------------------------------------------------------------
# After the restart
# --------------------------------------------------------------------------------------

#: where an order may be once the step was acknowledged (later steps may have run, too)
REACHED = {
    "order": {"awaiting_payment", "in_progress", "delivered", "completed"},
    "pay": {"in_progress", "delivered", "completed"},
    "deliver": {"delivered", "completed"},
    "accept": {"completed"},
}


async def stored(site: Site, query: str) -> list[dict[str, Any]]:
    """Rows of a read-only query, straight from the database."""
    from agorakit.events.tables import StoredEvent
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config))
    await runtime.db.start()
    try:
        return await StoredEvent.raw(query)
    finally:
        await runtime.db.close()


def order_of(call: Call) -> int:
    if call.step == "order":
        return call.response["id"]
    return int(call.url.split("/")[-2])


async def check_acknowledged(client: httpx.AsyncClient, load: Load, operator: dict[str, str]) -> None:
    for call in load.calls:
        if not call.acknowledged:
            continue
        if call.step in REACHED:
            response = await client.get(f"/orders/{order_of(call)}", headers=operator)
            assert response.status_code == 200, (call, response.text)
            assert response.json()["state"] in REACHED[call.step], (call.step, response.json()["state"])
        if call.step in ("deposit", "pay", "confirm"):
            payment = call.response
            response = await client.get(f"/payments/{payment['id']}", headers=operator)
            assert response.status_code == 200, (call, response.text)
            expected = {"deposit": {"awaiting_funds", "completed"}, "pay": {"completed"}}
            assert response.json()["status"] in expected.get(call.step, {"completed"}), call
            assert response.json()["amount"] == payment["amount"]
        if call.step == "withdraw":
            response = await client.get("/operator/withdrawals", headers=operator, params={"limit": 100})
            ids = {w["id"] for w in response.json()["items"]}
            assert call.response["id"] in ids, call
        if call.step == "register":
            body = call.json
            await login(client, body["email"], body["password"])


async def balances(client: httpx.AsyncClient, people: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for headers in people:
        response = await client.get("/me/balance", headers=headers)
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


async def retry(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await client.request(call.method, call.url, headers=call.headers, json=call.json)


async def check_events_published(site: Site) -> None:
    rows = await stored(site, "SELECT status, COUNT(*) AS n FROM core_domain_event GROUP BY status")
    assert {row["status"]: row["n"] for row in rows}.keys() == {"published"}, rows


async def check_each_key_applied_once(site: Site, applied: dict[str, set[str]]) -> None:
    """One payment or withdrawal per Idempotency-Key answered with a 2xx, and every
    order's escrow paid once."""
    deposits = await stored(site, "SELECT id FROM core_payment WHERE purpose = 'deposit'")
    assert len(deposits) == len(applied["deposit"])
    twice = await stored(
        site,
        "SELECT escrow_ref FROM core_payment WHERE purpose = 'escrow' AND status = 'completed' "
        "GROUP BY escrow_ref HAVING COUNT(*) > 1",
    )
    assert twice == []
    paid = await stored(site, "SELECT id FROM core_payment WHERE purpose = 'escrow'")
    assert len(paid) == len(applied["pay"])
    withdrawals = await stored(site, "SELECT id FROM core_withdrawal")
    assert len(withdrawals) == len(applied["withdraw"])


async def fault_case(site: Site, seed: int) -> None:
    with serving(site) as server:
        load = await run_load(server, seed)
    answered = [call for call in load.calls if call.acknowledged]
    cut_off = [call for call in load.calls if call.status is None]
    assert len(answered) >= load.kill_after and cut_off  # and what they sent got no answer
    assert {"order", "pay", "withdraw"} <= {call.step for call in answered}
    traders = list({call.headers["Authorization"] for call in load.calls if call.idempotency_key})
    people = [{"Authorization": token} for token in traders]
    applied: dict[str, set[str]] = {"deposit": set(), "pay": set(), "withdraw": set()}

    with serving(site) as server:
        tick = site.cli("tick")
        assert tick.returncode == 0, tick.stderr
        # One sweep published what the killed process left pending: no 30 s wait.
        await check_events_published(site)
        registered = await stored(site, "SELECT kind, pid FROM core_process")
        assert registered == [{"kind": "app", "pid": server.process.pid}]  # the killed one is gone
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            operator = await login(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
            await check_acknowledged(client, load, operator)
            for call in answered:
                if call.step in REACHED:
                    subject = f"order:{order_of(call)}"
                    events = await stored(
                        site, f"SELECT status FROM core_domain_event WHERE subject = '{subject}'"
                    )
                    assert events and {e["status"] for e in events} == {"published"}, subject

            # Retries of acknowledged money requests replay the first answer, move nothing.
            before = await balances(client, people)
            for call in answered:
                if call.idempotency_key:
                    applied[call.step].add(call.idempotency_key)
                    again = await retry(client, call)
                    assert again.status_code == 200, (call.step, again.text)
                    assert again.headers["idempotent-replayed"] == "true"
                    assert again.json()["id"] == call.response["id"]
                    assert again.json()["amount"] == call.response["amount"]
            assert await balances(client, people) == before

            # Requests cut off by the kill, retried with their key: applied once at most.
            for call in cut_off:
                if not call.idempotency_key:
                    continue
                before = await balances(client, people)
                first = await retry(client, call)
                assert first.status_code < 500, (call.step, first.text)
                if first.status_code >= 300:  # refused now (e.g. its order was never made)
                    assert await balances(client, people) == before
                    continue
                applied[call.step].add(call.idempotency_key)
                settled = await balances(client, people)
                second = await retry(client, call)
                assert (second.status_code, second.json()["id"]) == (200, first.json()["id"])
                assert await balances(client, people) == settled
            await check_each_key_applied_once(site, applied)
        server.stop()  # a clean stop: drains its events and deregisters

    assert await stored(site, "SELECT id FROM core_process") == []
    tick = site.cli("tick")
    assert tick.returncode == 0, tick.stderr
    await check_events_published(site)
    checked = site.cli("check-ledger")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("seed", [7])
async def test_server_killed_mid_load_loses_nothing_acknowledged_and_applies_nothing_twice(site, seed):
    await fault_case(site, seed)
