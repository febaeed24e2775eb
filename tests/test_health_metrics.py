"""Health for load balancers (``/health/live``, ``/health/ready``) and the Prometheus
metrics (``[metrics]``), on SQLite and PostgreSQL.

Live answers without the database; ready checks the database, the migrations and the
attachments storage, and names each failed check in a 503 problem.  The metrics are off
by default (404), guarded by their token when one is set, count requests by route
template, and read the site's gauges (outboxes, timers, withdrawals waiting, queues) at
scrape time.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from piccolo.apps.migrations.tables import Migration
from prometheus_client.parser import text_string_to_metric_families

from agorakit.events.tables import StoredEvent
from agorakit.notifications.tables import EmailOutbox
from agorakit.orders.tables import OrderTimer

TOKEN = "metrics-token-0123456789"
IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


@pytest.fixture
def files_dir(tmp_path):
    return tmp_path / "files"


@pytest.fixture
def site_config(files_dir):
    return {"attachments": {"path": str(files_dir)}}


# -- health ------------------------------------------------------------------------------


async def test_live_answers_without_the_database(client, runtime, monkeypatch):
    async def unreachable():
        raise OSError("connection refused")

    monkeypatch.setattr(runtime.db, "ping", unreachable)
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_migrations_and_storage_are_fine(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "storage": "ok"},
    }
    assert (await client.get("/health")).status_code == 200  # the old route stays


async def test_ready_is_503_when_the_storage_folder_is_gone(client, files_dir, problem):
    assert (await client.get("/health/ready")).status_code == 200
    shutil.rmtree(files_dir)
    body = problem(await client.get("/health/ready"), 503, "service_unavailable")
    assert body["detail"] == "not ready: storage"
    assert body["extra"]["failed"] == ["storage"]
    assert body["extra"]["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "storage": "the attachments folder 'files' does not exist",
    }


async def test_ready_is_503_while_a_migration_is_not_applied(client, runtime, problem):
    app_name = runtime.apps[0].app_name
    row = await (
        Migration.select()
        .where(Migration.app_name == app_name)
        .order_by(Migration.name, ascending=False)
        .first()
    )
    assert row is not None
    await Migration.delete().where(Migration.id == row["id"])
    try:
        body = problem(await client.get("/health/ready"), 503, "service_unavailable")
        assert body["extra"]["failed"] == ["migrations"]
        assert body["extra"]["checks"]["migrations"] == (
            f"1 not applied (run agorakit migrate): {app_name}:{row['name']}"
        )
        assert body["extra"]["checks"]["storage"] == "ok"
    finally:
        await Migration.insert(Migration(name=row["name"], app_name=app_name, ran_on=row["ran_on"]))
    assert (await client.get("/health/ready")).status_code == 200


async def test_ready_is_503_when_the_database_is_down(client, runtime, monkeypatch, problem):
    async def unreachable():
        raise OSError("connection refused")

    monkeypatch.setattr(runtime.db, "ping", unreachable)
    body = problem(await client.get("/health/ready"), 503, "service_unavailable")
    assert body["extra"]["failed"] == ["database", "migrations"]
    assert body["extra"]["checks"]["database"] == "the database is unreachable"


# -- metrics -----------------------------------------------------------------------------


async def test_metrics_are_off_by_default(client, problem):
    problem(await client.get("/metrics"), 404, "not_found")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class TestMetricsOn:
    @pytest.fixture
    def site_config(self, files_dir):
        return {
            "site": {"plugins": ["gigs", "bank_transfer"]},
            "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
            "attachments": {"path": str(files_dir)},
            "metrics": {"enabled": True, "token": TOKEN},
        }

    async def scrape(self, client) -> dict:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return samples(response.text)

    async def test_the_token_is_required(self, client, problem):
        problem(await client.get("/metrics"), 401, "unauthenticated")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
        problem(wrong, 401, "unauthenticated")
        assert wrong.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200

    async def test_metrics_are_outside_the_openapi_document(self, client):
        document = (await client.get("/docs/openapi.json")).json()
        assert "/metrics" not in document["paths"]
        assert {"/health/live", "/health/ready"} <= set(document["paths"])

    async def test_requests_are_counted_and_timed(self, client):
        labels = (
            ("app_name", "agorakit"),
            ("method", "GET"),
            ("path", "/health/live"),
            ("status_code", "200"),
        )
        before = (await self.scrape(client)).get(("agorakit_http_requests_total", labels), 0)
        for _ in range(3):
            assert (await client.get("/health/live")).status_code == 200
        after = await self.scrape(client)
        assert after[("agorakit_http_requests_total", labels)] == before + 3
        assert after[("agorakit_http_request_duration_seconds_count", labels)] >= 3

    async def test_server_errors_in_progress_and_durations(self, client, runtime, monkeypatch):
        def labelled(path: str, status: int) -> tuple[tuple[str, str], ...]:
            return (("app_name", "agorakit"), ("method", "GET"), ("path", path), ("status_code", str(status)))

        ready_503, ready_200 = labelled("/health/ready", 503), labelled("/health/ready", 200)
        before = await self.scrape(client)

        async def unreachable():
            raise OSError("connection refused")

        monkeypatch.setattr(runtime.db, "ping", unreachable)
        for _ in range(2):
            assert (await client.get("/health/ready")).status_code == 503
        monkeypatch.undo()
        assert (await client.get("/health/ready")).status_code == 200
        after = await self.scrape(client)

        def grew(name: str, labels: tuple) -> float:
            return after.get((name, labels), 0) - before.get((name, labels), 0)

        assert grew("agorakit_http_requests_total", ready_503) == 2
        assert grew("agorakit_http_requests_error_total", ready_503) == 2
        assert grew("agorakit_http_requests_total", ready_200) == 1
        assert ("agorakit_http_requests_error_total", ready_200) not in after
        assert grew("agorakit_http_request_duration_seconds_count", ready_503) == 2
        assert (
            grew(
                "agorakit_http_request_duration_seconds_bucket",
                tuple(sorted((*ready_503, ("le", "+Inf")))),
            )
            == 2
        )
        assert grew("agorakit_http_request_duration_seconds_sum", ready_503) > 0
        # in progress: none of the ready checks; the scrape itself while it is answered
        assert after[("agorakit_http_requests_in_progress", ready_200)] == 0
        assert after[("agorakit_http_requests_in_progress", labelled("/metrics", 200))] == 1

    async def test_a_path_with_an_id_is_counted_under_its_template(self, client, make_member):
        member = await make_member()
        for listing_id in (101, 102, 103):
            assert (await client.get(f"/listings/{listing_id}", headers=member.headers)).status_code == 404
        found = await self.scrape(client)
        paths = {dict(labels)["path"] for name, labels in found if name == "agorakit_http_requests_total"}
        assert "/listings/{listing_id}" in paths
        assert not any(path.startswith("/listings/10") for path in paths)
        key = (
            "agorakit_http_requests_total",
            (("app_name", "agorakit"), ("method", "GET"), ("path", "/listings/{listing_id}"),
             ("status_code", "404")),
        )  # fmt: skip
        assert found[key] >= 3

    async def test_gauges_read_the_outboxes_timers_and_withdrawals(
        self, client, runtime, clock, make_order, make_member, fund_member
    ):
        seller = await make_member()
        await fund_member(seller, 6000)
        withdrawal = await client.post(
            "/withdrawals",
            json={
                "method": "bank_transfer",
                "amount": {"amount": "60.00", "currency": "USD"},
                "destination": IBAN_ACCOUNT,
            },
            headers=seller.headers,
        )
        assert withdrawal.status_code == 201, withdrawal.text
        order = await make_order(kind="gig", state="in_progress")
        now = clock.now()
        # what the flows above left behind is done with; then exactly these wait
        await StoredEvent.update({StoredEvent.status: "published"}).where(StoredEvent.status != "published")
        await EmailOutbox.update({EmailOutbox.status: "sent"}).where(EmailOutbox.status != "sent")
        await OrderTimer.update({OrderTimer.status: "failed", OrderTimer.attempts: 8}).where(
            OrderTimer.order == order["id"]
        )
        await StoredEvent.insert(
            StoredEvent(
                name="thing.happened", subject="thing:1", at=now - timedelta(seconds=90), status="pending"
            )
        )
        await EmailOutbox.insert(
            EmailOutbox(
                to_address="ada@example.com",
                subject="Welcome",
                text_body="Hello",
                message_id="<1@test>",
                status="pending",
                created_at=now - timedelta(seconds=30),
            )
        )
        await OrderTimer.insert(
            OrderTimer(
                order=order["id"],
                state="in_progress",
                transition="expire",
                due_at=now - timedelta(hours=2),
                status="pending",
                created_at=now - timedelta(days=1),
            ),
            OrderTimer(
                order=order["id"],
                state="in_progress",
                transition="expire",
                due_at=now + timedelta(hours=2),
                status="pending",
                created_at=now,
            ),
        )
        failed_timers = await OrderTimer.count().where(OrderTimer.status == "failed")
        assert failed_timers >= 1

        found = await self.scrape(client)
        assert found[("agorakit_outbox_pending_events", ())] == 1
        assert found[("agorakit_outbox_oldest_pending_age_seconds", ())] == 90
        assert found[("agorakit_email_outbox_pending", ())] == 1
        assert found[("agorakit_email_outbox_oldest_age_seconds", ())] == 30
        assert found[("agorakit_timers_due", ())] == 1
        assert found[("agorakit_timers_oldest_due_age_seconds", ())] == 7200
        assert found[("agorakit_timers_failed", ())] == failed_timers
        waiting = {
            dict(labels)["status"]: value
            for (name, labels), value in found.items()
            if name == "agorakit_withdrawals_waiting" and dict(labels)["method"] == "bank_transfer"
        }
        assert waiting == {"requested": 1, "processing": 0}
        queue = (("queue", "withdrawals.requested"),)
        assert found[("agorakit_operator_queue_items", queue)] == 1
        assert found[("agorakit_operator_queue_overdue", queue)] == 0
        assert found[("agorakit_operator_queue_items", (("queue", "timers.failed"),))] == failed_timers
        assert found[("agorakit_operator_queue_items", (("queue", "disputes.open"),))] == 0

    async def test_the_database_pool_is_reported_on_postgres(self, client, runtime, db_kind):
        found = await self.scrape(client)
        if db_kind == "sqlite":
            assert ("agorakit_db_pool_size", ()) not in found
            return
        size = found[("agorakit_db_pool_size", ())]
        assert found[("agorakit_db_pool_max_size", ())] == runtime.settings.database.pool_max_size
        assert 1 <= size <= runtime.settings.database.pool_max_size
        assert 0 <= found[("agorakit_db_pool_in_use", ())] <= size


async def test_request_metrics_record_what_litestars_middleware_records():
    """agorakit's request middleware is a cheaper copy of Litestar's: for the same requests
    (answered, refused under a route template, failed with a 500, a route not found) both
    leave the same samples, durations aside."""
    from litestar import Litestar, get
    from litestar.exceptions import NotFoundException
    from litestar.params import FromPath
    from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
    from litestar.testing import AsyncTestClient
    from prometheus_client import REGISTRY, generate_latest

    from agorakit.metrics import request_metrics

    @get("/things/{thing_id:int}")
    async def thing(thing_id: FromPath[int]) -> dict[str, int]:
        if thing_id == 404:
            raise NotFoundException("no such thing")
        if thing_id == 500:
            raise RuntimeError("broken")
        return {"id": thing_id}

    found = {}
    for prefix, middleware in (("test_litestar", PrometheusMiddleware), ("test_agorakit", request_metrics())):
        config = PrometheusConfig(
            app_name="agorakit", prefix=prefix, group_path=True, middleware_class=middleware
        )
        async with AsyncTestClient(Litestar([thing], middleware=[config.middleware])) as client:
            statuses = [(await client.get(path)).status_code for path in
                        ("/things/1", "/things/2", "/things/404", "/things/500", "/nowhere", "/things/3")]  # fmt: skip
        assert statuses == [200, 200, 404, 500, 404, 200]
        exposed = samples(generate_latest(REGISTRY).decode())
        found[prefix] = {
            (name.removeprefix(prefix), labels): value
            for (name, labels), value in exposed.items()
            if name.startswith(prefix)
            and not name.endswith("_created")
            # durations differ from run to run: their buckets but the last, and their sum
            and not (name.endswith("_bucket") and dict(labels)["le"] != "+Inf")
            and not name.endswith("_sum")
        }
        durations = [v for (n, _), v in exposed.items() if n == f"{prefix}_request_duration_seconds_sum"]
        assert len(durations) == 3 and all(v > 0 for v in durations)
        for name in [n for n in PrometheusMiddleware._metrics if n.startswith(prefix)]:
            REGISTRY.unregister(PrometheusMiddleware._metrics.pop(name))
    assert found["test_agorakit"] == found["test_litestar"]
    template = (("app_name", "agorakit"), ("method", "GET"), ("path", "/things/{thing_id}"))
    assert found["test_agorakit"][("_requests_total", (*template, ("status_code", "200")))] == 3
    assert found["test_agorakit"][("_requests_error_total", (*template, ("status_code", "500")))] == 1
    assert ("_requests_error_total", (*template, ("status_code", "404"))) not in found["test_agorakit"]


class TestMetricsWithoutToken:
    @pytest.fixture
    def site_config(self, files_dir):
        return {
            "attachments": {"path": str(files_dir)},
            "metrics": {"enabled": True, "path": "/-/prometheus"},
        }

    async def test_served_at_its_path_to_whoever_reaches_it(self, client, problem):
        response = await client.get("/-/prometheus")
        assert response.status_code == 200
        assert "agorakit_outbox_pending_events 0.0" in response.text
        problem(await client.get("/metrics"), 404, "not_found")


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"path": "metrics"}, "metrics.path"),
        ({"path": "/a b"}, "metrics.path"),
        ({"token": "short"}, "at least 16 characters"),
    ],
)
def test_bad_metrics_settings_are_refused(metrics, message):
    from agorakit.settings import ConfigError, settings_from_dict

    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"auth": {"jwt_secret": "x" * 40}, "metrics": metrics}, environ={})


def test_metrics_are_off_and_without_token_by_default():
    from agorakit.settings import settings_from_dict

    metrics = settings_from_dict({"auth": {"jwt_secret": "x" * 40}}, environ={}).metrics
    assert (metrics.enabled, metrics.path, metrics.token) == (False, "/metrics", None)
