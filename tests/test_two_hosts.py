"""Two hosts of one site, side by side: two ``agorakit run`` processes and two
``agorakit worker`` processes, each host in its own folder with its own site.toml, its own
attachments folder and its own search index, sharing only PostgreSQL and an S3-compatible
object store (SeaweedFS, started by the tests).

Several traders do business at once, each request going to one host or the other: gigs
published, searched for, ordered, paid, files uploaded and downloaded, messages written,
deliveries, acceptances and withdrawals; then the site's test clock moves past the
auto-completion of the orders left delivered while both workers sweep.  Then:

- every file is readable from both hosts, byte for byte;
- a listing published through one host is found by a search through the other (each
  host's search_tantivy index follows the event outbox);
- a login back-off counted on one host holds on the other;
- every order timer fired exactly once (one ``auto_complete`` in each order's history);
- a seller asking for all it earned on both hosts at once gets one withdrawal, and the
  other request is refused: nothing is overdrawn;
- every event is published, no timer failed, and ``agorakit check-ledger`` is clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import string
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from tests.test_faults import (
    AGORAKIT,
    IBAN,
    JWT_SECRET,
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    free_port,
    prepare,
    usd,
)

pytestmark = pytest.mark.slow

#: traders (a seller and a buyer each) doing business at once
TRADERS = 4
#: orders each trader's buyer places
ORDERS = 2
#: how long a listing published on one host may take to be found on the other
SEARCH_DEADLINE = 20.0
AUTO_COMPLETE_DAYS = 3


def site_toml(database_url: str, storage: str) -> str:
    return f"""[site]
name = "two hosts market"
environment = "development"
plugins = ["gigs", "bank_transfer", "search_tantivy", "storage_s3"]

[dev]
test_clock = true

[database]
url = "{database_url}"
pool_max_size = 4

[auth]
jwt_secret = "{JWT_SECRET}"
argon2_time_cost = 1
argon2_memory_kib = 64
argon2_parallelism = 1
# every trader runs on 127.0.0.1: the per-address allowance would stop the load; the
# per-account back-off is what the test checks across hosts
login_attempts_per_minute = 100000
registrations_per_hour = 100000
login_max_failures = 3
login_delay_seconds = 30

[money]
payment_methods = ["balance", "bank_transfer"]
payout_methods = ["bank_transfer"]

{storage}
[email]
mailer = "log"

[logging]
level = "WARNING"

[plugins.bank_transfer]
payout_minimum = "1.00"

[plugins.gigs]
auto_complete_days = {AUTO_COMPLETE_DAYS}

[plugins.search_tantivy]
refresh_seconds = 0.5
"""


@dataclass
class Host:
    name: str
    directory: Path
    env: dict[str, str]
    port: int = 0
    app: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(AGORAKIT), *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _spawn(self, log: str, *args: str) -> subprocess.Popen:
        with (self.directory / log).open("ab") as out:
            return subprocess.Popen(
                [str(AGORAKIT), *args],
                env=self.env,
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        self.port = free_port()
        self.app = self._spawn("app.log", "run", "--port", str(self.port))
        self.worker = self._spawn("worker.log", "worker", "--interval", "0.3")

    def logs(self) -> str:
        return "\n".join(
            f"--- {self.name} {name}:\n{(self.directory / name).read_text(errors='replace')[-4000:]}"
            for name in ("app.log", "worker.log")
            if (self.directory / name).exists()
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for process in (self.app, self.worker):
                if process is not None and process.poll() is not None:
                    pytest.fail(f"a process of host {self.name} exited:\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"host {self.name} did not get ready:\n{self.logs()}")

    def stop(self) -> None:
        for process in (self.app, self.worker):
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
async def hosts(tmp_path, s3_server) -> AsyncIterator[list[Host]]:
    """Hosts A and B of one site on a PostgreSQL database of its own, each in its own
    folder; migrated, with an operator."""
    reason = await postgres_unreachable_reason(postgres_admin_dsn())
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    name = f"agorakit_hosts_{uuid.uuid4().hex[:10]}"
    url = await create_postgres_database(postgres_admin_dsn(), name)
    prefix = f"hosts-{uuid.uuid4().hex[:10]}/"  # this site's files, apart from other tests'
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORAKIT_")}
    made: list[Host] = []
    for host in ("a", "b"):
        directory = tmp_path / f"host-{host}"
        directory.mkdir()
        config = directory / "site.toml"
        storage = s3_server.site_toml(directory / "files", prefix=prefix)
        config.write_text(site_toml(url, storage), encoding="utf-8")
        made.append(Host(host.upper(), directory, {**env, "AGORAKIT_CONFIG": str(config)}))
    await prepare(made[0].directory / "site.toml")
    try:
        for host in made:
            host.start()
        for host in made:
            host.wait_ready()
        yield made
    finally:
        for host in made:
            host.stop()
        await drop_postgres_database(postgres_admin_dsn(), name)


# --------------------------------------------------------------------------------------
# The traders
# --------------------------------------------------------------------------------------


class Sites:
    """One HTTP client per host; ``on(i)`` picks a host by turn."""

    def __init__(self, hosts: list[Host]) -> None:
        self.clients = [httpx.AsyncClient(base_url=host.base_url, timeout=60) for host in hosts]

    def on(self, turn: int) -> httpx.AsyncClient:
        return self.clients[turn % len(self.clients)]

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    body = await ok(await client.post("/auth/login", json={"email": email, "password": password}))
    return {"Authorization": f"Bearer {body['access_token']}"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@dataclass
class Trade:
    task: int
    gig: int = 0
    title: str = ""
    orders: list[int] | None = None
    accepted: list[int] | None = None
    files: list[tuple[int, str]] | None = None  # (attachment id, sha256)
    seller: dict[str, str] | None = None
    buyer: dict[str, str] | None = None
    withdrawal: int = 0


async def register(client: httpx.AsyncClient, email: str, password: str, name: str) -> dict[str, str]:
    body = {"email": email, "password": password, "display_name": name, "country": "US", "skills": []}
    await ok(await client.post("/auth/register", json=body), 202)
    return await login(client, email, password)


async def upload(client: httpx.AsyncClient, who: dict[str, str], scope: str, name: str, data: bytes) -> int:
    response = await client.post(
        "/attachments", headers=who, data={"scope": scope}, files={"file": (name, data, "application/pdf")}
    )
    return (await ok(response, 201))["id"]


def pdf(text: str) -> bytes:
    """A small, well-formed PDF (the upload's type is read from its content)."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        + f"% {text}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


async def trade(sites: Sites, task: int, operator: list[dict[str, str]]) -> Trade:
    """A seller and a buyer doing business, every step on the host of its turn."""
    out = Trade(task, orders=[], accepted=[], files=[])
    turn = task  # traders start on different hosts
    seller = await register(
        sites.on(turn), f"seller{task}@example.com", f"horse-battery-{task}-s", f"Seller {task}"
    )
    turn += 1
    buyer = await register(
        sites.on(turn), f"buyer{task}@example.com", f"horse-battery-{task}-b", f"Buyer {task}"
    )
    out.seller, out.buyer = seller, buyer

    # The gig: made on one host, searched for on the other.
    # a tag of letters (digits could read as a phone number to the screening)
    tag = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    out.title = f"Vector logo studio {task} {tag}"
    body = {
        "kind": "gig",
        "title": out.title,
        "description": f"Three concepts from studio {task}, vector files and two rounds of changes.",
        "price": usd("25.00"),
        "category": "logo-design",
        "attributes": {"delivery_days": 3, "extras": [], "max_quantity": 1, "requirements": "Your brand."},
    }
    turn += 1
    gig = await ok(await sites.on(turn).post("/listings", json=body, headers=seller), 201)
    out.gig = gig["id"]
    submitted = await ok(await sites.on(turn).post(f"/listings/{out.gig}/submit", headers=seller))
    if submitted["status"] != "published":
        await ok(
            await sites.on(turn + 1).post(f"/operator/listings/{out.gig}/approve", headers=operator[turn % 2])
        )

    # Money in: a bank transfer deposit, confirmed by the operator on the other host.
    turn += 1
    deposit = await ok(
        await sites.on(turn).post(
            "/payments", json={"method": "bank_transfer", "amount": usd("60.00")}, headers={**buyer, **key()}
        ),
        201,
    )
    turn += 1
    await ok(
        await sites.on(turn).post(
            f"/bank-transfer/payments/{deposit['id']}/confirm",
            json={"amount": usd("60.00"), "reference": f"STMT-{task}"},
            headers=operator[turn % 2],
        )
    )

    for number in range(ORDERS):
        turn += 1
        order = (await ok(await sites.on(turn).post(f"/gigs/{out.gig}/orders", json={}, headers=buyer), 201))[
            "id"
        ]
        out.orders.append(order)
        turn += 1
        await ok(
            await sites.on(turn).post(
                f"/orders/{order}/payments", json={"method": "balance"}, headers={**buyer, **key()}
            ),
            201,
        )
        # The brief, uploaded on one host; the delivery file on the other.
        turn += 1
        brief = pdf(f"brief of order {order}")
        brief_id = await upload(sites.on(turn), buyer, f"order:{order}", f"brief-{order}.pdf", brief)
        out.files.append((brief_id, hashlib.sha256(brief).hexdigest()))
        conversation = await ok(await sites.on(turn + 1).get(f"/orders/{order}/conversation", headers=seller))
        turn += 1
        await ok(
            await sites.on(turn).post(
                f"/conversations/{conversation['id']}/messages",
                json={"body": f"Please use the brief, order {order}.", "attachments": [brief_id]},
                headers=buyer,
            ),
            201,
        )
        turn += 1
        messages = await ok(
            await sites.on(turn).get(f"/conversations/{conversation['id']}/messages", headers=seller)
        )
        assert any(f"order {order}" in (m.get("body") or "") for m in messages["items"]), messages
        work = pdf(f"logo of order {order}")
        work_id = await upload(sites.on(turn), seller, f"order:{order}", f"logo-{order}.pdf", work)
        out.files.append((work_id, hashlib.sha256(work).hexdigest()))
        turn += 1
        await ok(
            await sites.on(turn).post(
                f"/gigs/orders/{order}/delivery",
                json={"message": "Here you are.", "attachments": [work_id]},
                headers=seller,
            )
        )
        if number % 2 == 0:  # the others complete by themselves, by timer
            turn += 1
            await ok(await sites.on(turn).post(f"/gigs/orders/{order}/accept", headers=buyer))
            out.accepted.append(order)

    turn += 1
    withdrawal = await ok(
        await sites.on(turn).post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd("5.00"), "destination": IBAN},
            headers={**seller, **key()},
        ),
        201,
    )
    out.withdrawal = withdrawal["id"]
    return out


# --------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------


async def found(client: httpx.AsyncClient, title: str, listing: int) -> bool:
    words = " ".join(title.split()[-2:])  # the studio number and its unique tag
    response = await client.get("/listings", params={"q": words})
    assert response.status_code == 200, response.text
    return listing in {item["id"] for item in response.json()["items"]}


async def history(client: httpx.AsyncClient, order: int, who: dict[str, str]) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"/orders/{order}/history", headers=who))
    return body["items"] if isinstance(body, dict) else body


async def test_two_hosts_share_one_site(hosts, problem):
    a, b = hosts
    sites = Sites(hosts)
    try:
        operator = [await login(client, OPERATOR_EMAIL, OPERATOR_PASSWORD) for client in sites.clients]
        for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
            await ok(
                await sites.on(0).post(
                    "/operator/categories",
                    json={"slug": slug, "name": name, "parent": parent},
                    headers=operator[0],
                ),
                201,
            )

        trades = await asyncio.gather(*(trade(sites, task, operator) for task in range(TRADERS)))

        # Every listing is found on both hosts: the one that did not publish it found it
        # through its own index.
        deadline = time.monotonic() + SEARCH_DEADLINE
        missing = {(t.gig, i) for t in trades for i in range(2)}
        while missing and time.monotonic() < deadline:
            for gig, host in sorted(missing):
                title = next(t.title for t in trades if t.gig == gig)
                if await found(sites.on(host), title, gig):
                    missing.discard((gig, host))
            if missing:
                await asyncio.sleep(0.2)
        assert not missing, f"listings not found (gig, host): {sorted(missing)}"
        for host in hosts:  # found through each host's own index, not the database's search
            counted = host.cli("search-index", "count")
            assert counted.returncode == 0, counted.stderr
            assert int(counted.stdout.strip()) == TRADERS, (host.name, counted.stdout)

        # Every file, from both hosts, byte for byte, by either party.
        for t in trades:
            for attachment, digest in t.files:
                for client in sites.clients:
                    for who in (t.seller, t.buyer):
                        response = await client.get(f"/attachments/{attachment}/content", headers=who)
                        if response.status_code in (302, 307):  # presigned downloads
                            async with httpx.AsyncClient(timeout=30) as plain:
                                response = await plain.get(response.headers["location"])
                        assert response.status_code == 200, response.text
                        assert hashlib.sha256(response.content).hexdigest() == digest

        # The login back-off of one account, counted across both hosts.
        target = "seller0@example.com"
        for attempt in range(3):
            problem(
                await sites.on(attempt).post(
                    "/auth/login", json={"email": target, "password": "wrong-guess"}
                ),
                401,
                "invalid_credentials",
            )
        for client in sites.clients:
            refused = problem(
                await client.post("/auth/login", json={"email": target, "password": "horse-battery-0-s"}),
                429,
                "too_many_requests",
            )
            assert "too many failed logins for this account" in refused["detail"]

        # Time passes: the orders left delivered complete by timer, while both workers sweep.
        await ok(
            await sites.on(0).post(
                "/operator/clock/advance", json={"by": f"{AUTO_COMPLETE_DAYS}d1h"}, headers=operator[0]
            )
        )
        left = [order for t in trades for order in t.orders if order not in t.accepted]
        assert left
        deadline = time.monotonic() + 60
        while True:
            states = {}
            for order in left:
                body = await ok(await sites.on(order).get(f"/orders/{order}", headers=operator[order % 2]))
                states[order] = body["state"]
            if set(states.values()) == {"completed"} or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert set(states.values()) == {"completed"}, states
        await asyncio.sleep(2)  # both workers sweep a few more times: nothing fires again
        for t in trades:
            for order in t.orders:
                transitions = [h["transition"] for h in await history(sites.on(order), order, operator[0])]
                fired = transitions.count("auto_complete") + transitions.count("accept")
                assert fired == 1, (order, transitions)
                if order in t.accepted:
                    assert "auto_complete" not in transitions, (order, transitions)

        # Each seller asks for everything it has earned twice at once, on both hosts: one
        # withdrawal is made, the other is refused, and nothing is overdrawn.
        for t in trades:
            balance = await ok(await sites.on(0).get("/me/balance", headers=t.seller))
            available = next(b["available"] for b in balance["balances"] if b["currency"] == "USD")
            assert available != "0.00", balance
            body = {"method": "bank_transfer", "amount": usd(available), "destination": IBAN}
            answers = await asyncio.gather(
                *(
                    client.post("/withdrawals", json=body, headers={**t.seller, **key()})
                    for client in sites.clients
                )
            )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses[0] == 201 and 400 <= statuses[1] < 500, [a.text for a in answers]
            for client in sites.clients:
                balance = await ok(await client.get("/me/balance", headers=t.seller))
                assert [b["available"] for b in balance["balances"] if b["currency"] == "USD"] == ["0.00"]

        # Every withdrawal waits once for the payout run.
        waiting = await ok(
            await sites.on(1).get("/operator/withdrawals", params={"limit": 100}, headers=operator[1])
        )
        assert {t.withdrawal for t in trades} <= {w["id"] for w in waiting["items"]}
        assert len(waiting["items"]) == 2 * TRADERS

        timers = await ok(
            await sites.on(0).get("/operator/timers", params={"status": "failed"}, headers=operator[0])
        )
        assert timers["items"] == []
    finally:
        await sites.close()

    ledger = a.cli("check-ledger")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    for host in hosts:  # each host's index has applied every listing event
        status = host.cli("search-index", "status")
        assert status.returncode == 0, status.stderr
        assert "backlog: 0 listing events after it" in status.stdout, (host.name, status.stdout)
    # every event was delivered; nothing is left for a worker to retry
    events = await stored(a, "SELECT status, COUNT(*) AS n FROM core_domain_event GROUP BY status")
    assert {row["status"] for row in events} == {"published"}, events
    del b


async def stored(host: Host, query: str) -> list[dict[str, Any]]:
    """Rows of a read-only query, straight from the site's database."""
    from agorakit.events.tables import StoredEvent
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(host.directory / "site.toml"))
    await runtime.db.start()
    try:
        return await StoredEvent.raw(query)
    finally:
        await runtime.db.close()
