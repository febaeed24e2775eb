"""The agorakit command line: demo, plugins, users, run, and its error messages."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from agorakit.cli import build_cli
from agorakit.hooks import installed_plugins, shipped_plugins

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, input: str | None = None):
    cli = build_cli(list(args))
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def write_config(tmp_path, plugins: str = "", extra: str = "") -> Path:
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\nplugins = [{plugins}]\n[auth]\njwt_secret = "{"k" * 40}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n{extra}',
        encoding="utf-8",
    )
    return path


def test_demo_sets_up_config_database_and_logins_once(tmp_path, sample_plugin):
    directory = tmp_path / "demo"
    result = invoke("demo", "--dir", str(directory), "--no-serve")
    assert result.exit_code == 0, result.output
    assert "API docs:         http://127.0.0.1:8000/docs" in result.output
    assert "operator@example.com  /  demo-operator-pass-2026" in result.output
    assert (
        "operator console: http://127.0.0.1:8000/console  (sign in as operator@example.com  /  "
        "demo-operator-pass-2026)" in result.output
    )
    config = (directory / "site.toml").read_text()
    assert "jwt_secret" in config and (directory / "demo.sqlite3").exists()
    # Every plugin shipped with agorakit is enabled, the third-party one installed next to
    # them is not, and every method the enabled ones offer is bound.
    written = tomllib.loads(config)
    assert written["site"]["plugins"] == shipped_plugins() and "sample" in installed_plugins()
    assert "sample" not in written["site"]["plugins"] and "sample" not in written["plugins"]
    assert f"plugins:          {', '.join(shipped_plugins())}" in result.output
    assert 'payment_methods = ["balance", "paypal", "bank_transfer"]' in config
    assert 'payout_methods = ["bank_transfer", "paypal"]' in config
    # A development site on a test clock: its time can be moved on to try what takes days.
    assert 'environment = "development"' in config and "test_clock = true" in config
    shown = invoke("--config", str(directory / "site.toml"), "clock", "show")
    assert shown.exit_code == 0 and shown.output.endswith("(running)\n"), shown.output

    # The gigs plugin's demo data: gigs in several categories, a completed and reviewed
    # order, an order in progress.
    with sqlite3.connect(directory / "demo.sqlite3") as db:
        gigs = db.execute(
            "SELECT COUNT(DISTINCT category_id) FROM core_listing WHERE kind = 'gig'"
        ).fetchone()
        orders = db.execute("SELECT state FROM core_order WHERE process = 'gig_order' ORDER BY id").fetchall()
        reviews = db.execute("SELECT rating FROM core_review").fetchall()
    assert gigs == (3,)
    assert orders == [("completed",), ("in_progress",)]
    assert reviews == [(5,)]

    again = invoke("demo", "--dir", str(directory), "--no-serve")
    assert again.exit_code == 0, again.output
    assert (directory / "site.toml").read_text() == config  # kept, secret included


def test_demo_enables_the_plugins_named_third_party_ones_included(tmp_path, sample_plugin):
    directory = tmp_path / "demo"
    result = invoke("demo", "--dir", str(directory), "--no-serve", "--plugins", "gigs, sample")
    assert result.exit_code == 0, result.output
    assert "plugins:          gigs, sample" in result.output
    assert "operator console" not in result.output  # not enabled
    written = tomllib.loads((directory / "site.toml").read_text())
    assert written["site"]["plugins"] == ["gigs", "sample"]
    assert written["plugins"]["sample"] == {"greeting": 'hello from the "demo"', "repeat": 3}
    assert (written["money"]["payment_methods"], written["money"]["payout_methods"]) == (["balance"], [])
    with sqlite3.connect(directory / "demo.sqlite3") as db:
        notes = db.execute("SELECT body FROM sample_note").fetchall()
        kinds = db.execute("SELECT DISTINCT kind FROM core_listing").fetchall()
    assert notes == [("welcome, Bea Buyer",)]
    assert kinds == [("gig",)]

    # The demo folder keeps its plugins: asking for others says how to start over.
    other = invoke("demo", "--dir", str(directory), "--no-serve", "--plugins", "gigs")
    assert other.exit_code == 1
    assert other.output == (
        f"Error: {directory / 'site.toml'} enables gigs, sample, not gigs; "
        f"delete the folder {directory} to start a demo with these plugins\n"
    )
    same = invoke("demo", "--dir", str(directory), "--no-serve", "--plugins", "sample,gigs")
    assert same.exit_code == 0, same.output


def test_demo_refuses_a_plugin_that_is_not_installed_and_lists_the_installed_ones(tmp_path, sample_plugin):
    directory = tmp_path / "demo"
    result = invoke("demo", "--dir", str(directory), "--no-serve", "--plugins", "gigs,nope,gone")
    assert result.exit_code == 2
    installed = ", ".join(sorted(installed_plugins()))
    assert "Invalid value for --plugins: not installed: nope, gone; " in result.output
    assert f"installed plugins: {installed}" in " ".join(result.output.split())
    assert "sample" in installed and not directory.exists()


def test_plugins_command_lists_plugins_with_masked_settings(tmp_path, sample_plugin):
    config = write_config(
        tmp_path, plugins='"sample"', extra='[plugins.sample]\napi_key = "top-secret-value"\n'
    )
    result = invoke("--config", str(config), "plugins")
    assert result.exit_code == 0, result.output
    assert "sample  (plugin 1.2.3)" in result.output
    assert 'api_key = "********"' in result.output
    assert "top-secret-value" not in result.output
    assert "agorakit.accounts.plugin  (core)" in result.output


def test_bad_config_is_reported_in_one_line_with_exit_1(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[auth]\njwt_secret = "too-short"\n')
    result = invoke("--config", str(config), "migrate")
    assert result.exit_code == 1
    assert f"Error: {config}: auth.jwt_secret: Expected `str` of length >= 32" in result.output


def test_create_operator_rejects_weak_password_with_reason(tmp_path):
    config = write_config(tmp_path)
    assert invoke("--config", str(config), "migrate").exit_code == 0
    result = invoke(
        "--config",
        str(config),
        "users",
        "create-operator",
        "--email",
        "ops@example.com",
        "--country",
        "US",
        "--password-stdin",
        input="password1\n",
    )
    assert result.exit_code == 1
    assert "password: use at least 10 characters" in result.output
    bad_country = invoke(
        "--config",
        str(config),
        "users",
        "create-operator",
        "--email",
        "ops@example.com",
        "--country",
        "QQ",
        "--password-stdin",
        input="operator-passphrase-99\n",
    )
    assert bad_country.exit_code == 1 and "country" in bad_country.output


def test_docs_hooks_check_detects_stale_reference(tmp_path):
    stale = tmp_path / "hooks.md"
    stale.write_text("# old\n")
    assert invoke("docs", "hooks", "--output", str(stale), "--check").exit_code == 1
    assert invoke("docs", "hooks", "--output", str(stale)).exit_code == 0
    assert invoke("docs", "hooks", "--output", str(stale), "--check").exit_code == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_serves_the_api(tmp_path):
    config = write_config(tmp_path)
    agorakit = Path(sys.executable).parent / "agorakit"
    env = {**os.environ, "AGORAKIT_CONFIG": str(config)}
    subprocess.run([agorakit, "migrate"], check=True, env=env, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [agorakit, "run", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(
                        f"server did not start: {server.stdout.read().decode() if server.poll() is not None else ''}"
                    )
                time.sleep(0.2)
        assert response.json()["status"] == "ok"
        assert response.headers["x-request-id"]
        assert "server" not in response.headers  # uvicorn's "server: uvicorn" is turned off
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def test_run_parses_http_with_httptools(tmp_path, monkeypatch):
    import uvicorn

    from agorakit.cli import serve
    from agorakit.settings import load_settings

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options, app=app))
    monkeypatch.setenv("AGORAKIT_CONFIG", "")  # serve() sets it; restored afterwards
    monkeypatch.setattr("agorakit.http.logging.configure_logging", lambda config: None)
    serve(
        load_settings(write_config(tmp_path)),
        config_path=str(tmp_path / "site.toml"),
        host="127.0.0.1",
        port=1,
    )
    assert served["app"] == "agorakit.app:app_from_env" and served["factory"] is True
    assert served["http"] == "httptools"
    assert served["server_header"] is False

    async def asgi_app(scope, receive, send):  # pragma: no cover - never called
        raise AssertionError

    config = uvicorn.Config(asgi_app, http=served["http"])
    config.load()  # the parser is installed (a dependency), so uvicorn can load it
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"


def test_tick_runs_one_sweep_as_of_an_instant(tmp_path):
    config = write_config(tmp_path)
    assert invoke("--config", str(config), "migrate").exit_code == 0
    result = invoke("--config", str(config), "tick", "--at", "2027-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.output == (
        '{"expired_payments": [], "expired_vouchers": [], "timers_fired": [], "timers_retried": [], '
        '"timers_failed": [], '
        '"events_republished": [], "emails_sent": [], "emails_retried": [], "emails_failed": [], '
        '"method_syncs": {}, "escrow_problems": [], "plugins": {}}\n'
    )
    naive = invoke("--config", str(config), "tick", "--at", "2027-01-01T00:00:00")
    assert naive.exit_code == 2 and "give a timezone" in naive.output
    garbage = invoke("--config", str(config), "tick", "--at", "yesterday")
    assert garbage.exit_code == 2 and "is not an ISO 8601 instant" in garbage.output


async def test_a_served_app_freezes_what_it_made_while_starting(tmp_path, monkeypatch):
    """``agorakit run``'s app collects and freezes its start-up objects once it is up, so
    that full garbage collections under load skip them (see docs/performance.md)."""
    import gc

    from litestar.testing import AsyncTestClient

    from agorakit.app import app_from_env

    monkeypatch.setenv("AGORAKIT_CONFIG", str(write_config(tmp_path)))
    gc.unfreeze()
    app = app_from_env()
    assert gc.get_freeze_count() == 0
    try:
        async with AsyncTestClient(app) as client:  # runs the start-up hooks
            assert gc.get_freeze_count() > 10_000
            assert (await client.get("/health")).status_code == 200
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
