"""A generated site project, installed and run as its builder would.

The project (every model, SQLite, the storefront and the example plugins) gets its own
virtualenv with agorakit installed from a wheel of this checkout (``make test
AGORAKIT=<wheel>``; the rest from the package index or pip's cache), then ``make test``
runs its tests and ``make demo`` serves it with demo data; the wheel's own ``agorakit
new`` renders the same project.  The other variants' installs are marked ``slow``
(``pytest -m slow``).  Each install takes a minute or two.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cookiecutter.main import cookiecutter
from test_site_template import TEMPLATE, answers_of, files_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """agorakit's wheel, built from a copy of this checkout's sources (a build in the
    checkout would share its build/ folder with tests/test_packaging.py's)."""
    import shutil

    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("core", "plugins", "cookiecutter-site"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("agorakit-*.whl")
    return built


def project_env() -> dict[str, str]:
    """This environment without what belongs to the pytest running now (its workers, its
    options) or to this checkout's virtualenv."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "AGORAKIT_CONFIG"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    return env


def make(project: Path, *targets: str, **variables: str) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", *targets, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(
        command, cwd=project, env=project_env(), capture_output=True, text=True, timeout=1500
    )


def render(output: Path, answers: dict[str, Any]) -> Path:
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output)))


def install_and_test(project: Path, wheel: Path) -> None:
    started = time.monotonic()
    result = make(project, "test", AGORAKIT=str(wheel), PYTEST_ARGS="-p no:cacheprovider")
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and " failed" not in result.stdout, tail
    print(f"{project.name}: install and make test in {time.monotonic() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_generated_project_installs_passes_its_tests_and_serves_its_demo(tmp_path, wheel):
    answers = {
        **answers_of("all-models"),
        "site_name": "Generated Market",
        "currency": "USD",
    }
    project = render(tmp_path, answers)
    written = files_of(project)
    install_and_test(project, wheel)

    # the wheel carries the template: its `agorakit new` writes the same project
    agorakit = project / ".venv" / "bin" / "agorakit"
    flags = [
        f"--set={key}={'yes' if value is True else 'no' if value is False else value}"
        for key, value in answers.items()
        if key != "project_slug"
    ]
    again = tmp_path / "again"
    made = subprocess.run(
        [str(agorakit), "new", str(again), "--no-input", *flags],
        env=project_env(),
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert files_of(again) == written
    site_toml = (again / "site.toml").read_text(encoding="utf-8")
    assert site_toml.replace("/again.sqlite3", "/generated-market.sqlite3") == (
        project / "site.toml"
    ).read_text(encoding="utf-8")

    # make demo: migrated, demo data loaded, served
    port = free_port()
    demo = subprocess.Popen(
        ["make", "--no-print-directory", "demo", f"PORT={port}"],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
        login = httpx.post(
            f"{base}/auth/login", json={"email": "buyer@example.com", "password": "demo-buyer-pass-2026"}
        )
        assert login.status_code == 200, login.text
        listings = httpx.get(f"{base}/listings", params={"kind": "gig"}).json()["items"]
        assert listings, "the demo has published gigs"
        methods = [m["name"] for m in httpx.get(f"{base}/payout-methods").json()]
        assert methods == ["bank_transfer", "paypal", "store_credit"]
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
    assert (project / ".demo" / "demo.sqlite3").is_file()
    assert (project / ".env").read_text(encoding="utf-8").count("JWT_SECRET=change-me") == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant", ["microjobs-postgresql", "prepaid-alone", "leads-alone", "all-models-postgresql"]
)
def test_other_variants_install_and_pass_their_tests(tmp_path, wheel, variant):
    answers = answers_of(variant)
    install_and_test(render(tmp_path, answers), wheel)
