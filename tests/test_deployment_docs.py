"""The deployment example of docs/deployment.md (``docs/deployment/``): compose.yaml, the
site.toml it mounts, the Dockerfile, the Caddyfile and .env.example.

No Docker engine runs the tests, so the files are checked as they are read:

- compose.yaml against the Compose specification's JSON schema, the copy check-jsonschema
  ships (nothing is fetched), with ``jsonschema``; and with ``docker compose config`` when
  a Docker client is there;
- for what they mean to agorakit: every command a container runs parses with agorakit's
  own click commands; the site.toml loads with agorakit's settings loader from exactly the
  environment compose gives each container (``${...}`` interpolated from .env.example's
  variables) and a runtime binds what it names; every ``$env`` it reads is given; the
  containers wait for the health of what the site uses; the load balancer and the app's
  healthcheck use ``/health/ready``; only the proxy's address is trusted with
  ``X-Forwarded-For``; published ports do not clash; each app container keeps its own
  search index; the connections fit PostgreSQL's ``max_connections``; the image installs
  the extras the site needs;
- docs/deployment.md shows each file as it is.
"""

from __future__ import annotations

import http.server
import importlib.resources
import ipaddress
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import msgspec
import pytest
import yaml

from agorakit.cli import build_cli
from agorakit.hooks import get_plugin_manager, installed_plugins
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, Settings, load_settings, settings_from_dict

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deployment"
GUIDE = ROOT / "docs" / "deployment.md"
#: the image's Dockerfile, as compose.yaml's build names it
DOCKERFILE = "docs/deployment/Dockerfile"
#: PostgreSQL's connections kept for superusers (superuser_reserved_connections' default)
RESERVED_CONNECTIONS = 3
#: the S3 client the storage_s3 plugin needs installed
S3_CLIENT = "obstore"

#: what the test puts in .env: a value for each of .env.example's variables
DOTENV = {
    "SITE_DOMAIN": "market.example.com",
    "JWT_SECRET": "a-jwt-secret-for-the-deployment-test-0123456789",
    "POSTGRES_PASSWORD": "pg-password",
    "REDIS_PASSWORD": "redis-password",
    "METRICS_TOKEN": "a-metrics-token-0123456789",
    "S3_ACCESS_KEY_ID": "access-key",
    "S3_SECRET_ACCESS_KEY": "secret-key",
    "SMTP_HOST": "smtp.example.com",
    "SMTP_USERNAME": "market",
    "SMTP_PASSWORD": "smtp-password",
}


# -- reading the files -----------------------------------------------------------------


def compose() -> dict[str, Any]:
    """compose.yaml as compose reads it (anchors and ``<<`` merges resolved)."""
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def site_toml() -> dict[str, Any]:
    return tomllib.loads((DEPLOY / "site.toml").read_text(encoding="utf-8"))


def dotenv_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return {name.strip(): value for name, value in pairs}


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [line.strip() for line in joined.splitlines() if line.strip()]


_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[?-])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_]\w*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """A value of compose.yaml as compose interpolates it from ``env`` (.env): ``$$``,
    ``$NAME``, ``${NAME}``, ``${NAME:?error}``, ``${NAME?error}``, ``${NAME:-default}``,
    ``${NAME-default}``; a variable missing from ``env`` is a KeyError."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg")
        found = env.get(name)
        unset = found is None or (op is not None and op.startswith(":") and found == "")
        if unset and op in (":-", "-"):
            return arg
        if unset:
            raise KeyError(f"{name} is not set ({arg or 'no default'})")
        return found

    return _VARIABLE.sub(substitute, value)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment after interpolation (a mapping or a list of NAME=value)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {name: str(value) for name, value in interpolate(raw, DOTENV).items()}


def agorakit_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the agorakit image (built from the Dockerfile)."""
    return {
        name: service
        for name, service in doc["services"].items()
        if service.get("build", {}).get("dockerfile") == DOCKERFILE
    }


def commands_of(doc: dict[str, Any], subcommand: str) -> dict[str, list[str]]:
    return {
        name: service["command"]
        for name, service in agorakit_services(doc).items()
        if service["command"][:2] == ["agorakit", subcommand]
    }


def mount_of(service: dict[str, Any], source: str) -> str:
    """Where a service mounts ``source`` (a file or a named volume)."""
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        if parts[0] == source:
            return parts[1]
    raise AssertionError(f"{source} is not mounted")


def parse_command(args: list[str]) -> dict[str, Any]:
    """The parameters of an ``agorakit ...`` command line as agorakit's click commands
    parse it (a usage error raises click's exception)."""
    assert args[0] == "agorakit", args
    group: click.Command = build_cli([])
    parent = click.Context(group, info_name="agorakit")
    rest = args[1:]
    while isinstance(group, click.Group):
        assert rest and not rest[0].startswith("-"), f"{args}: give the command's name first"
        command = group.get_command(parent, rest[0])
        assert command is not None, f"{args}: agorakit has no command {rest[0]!r}"
        if not isinstance(command, click.Group):
            return command.make_context(rest[0], rest[1:], parent=parent).params
        parent = click.Context(command, info_name=rest[0], parent=parent)
        group, rest = command, rest[1:]
    raise AssertionError(args)


def env_refs(value: Any) -> dict[str, bool]:
    """Every ``{ "$env" = NAME }`` of a parsed site.toml: NAME -> whether it has a default."""
    found: dict[str, bool] = {}
    if isinstance(value, dict):
        if "$env" in value:
            return {value["$env"]: "default" in value}
        for item in value.values():
            found.update(env_refs(item))
    elif isinstance(value, list):
        for item in value:
            found.update(env_refs(item))
    return found


def core_settings(environ: dict[str, str]) -> Settings:
    """site.toml validated with its environment, the storage_s3 plugin and its section
    left out (the core's sections and the other plugins' checked in full)."""
    data = site_toml()
    data["site"]["plugins"] = [name for name in data["site"]["plugins"] if name != "storage_s3"]
    data["plugins"] = {name: section for name, section in data["plugins"].items() if name != "storage_s3"}
    return settings_from_dict(data, source=str(DEPLOY / "site.toml"), environ=environ)


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def needs_storage_s3() -> None:
    """Skip while this checkout ships no storage_s3 plugin (the example's storage)."""
    if "storage_s3" not in installed_plugins():
        pytest.skip("the storage_s3 plugin is not installed in this checkout")


def compose_schema() -> dict[str, Any]:
    """The Compose specification's schema, as check-jsonschema vendors it."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# -- the Compose specification ---------------------------------------------------------


def test_compose_file_follows_the_compose_specification():
    assert compose_schema()["title"] == "Compose Specification"
    assert schema_errors(compose()) == []
    # the schema refuses what compose would: a misspelt key, a condition that is not one
    broken = json.loads(json.dumps(compose()))  # the anchors' mappings, unshared
    broken["services"]["app1"]["restrat"] = broken["services"]["app1"].pop("restart")
    broken["services"]["worker"]["depends_on"]["postgres"]["condition"] = "service_ready"
    errors = schema_errors(broken)
    assert "services/app1: Unevaluated properties are not allowed ('restrat' was unexpected)" in errors
    assert any(e.startswith("services/worker/depends_on: ") and "service_ready" in e for e in errors), errors
    assert not any(e.startswith("services/app2") for e in errors), errors


def test_docker_compose_reads_the_file_when_a_docker_client_is_there():
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("no docker compose on this machine; the schema test stands for it")
    env = {**os.environ, **DOTENV}
    result = subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, "config", "--quiet"],
        cwd=DEPLOY,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_example_runs_two_apps_two_workers_postgresql_redis_seaweedfs_and_caddy():
    doc = compose()
    services = doc["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "seaweedfs",
        "bucket",
        "migrate",
        "app1",
        "app2",
        "worker",
        "caddy",
    }
    assert set(commands_of(doc, "run")) == {"app1", "app2"}
    assert set(commands_of(doc, "worker")) == {"worker"}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert set(commands_of(doc, "migrate")) == {"migrate"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    assert services["caddy"]["image"].startswith("caddy:2")
    for service in services.values():  # every image pinned to a version
        if "build" not in service:
            assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", service["image"]), service["image"]


# -- commands --------------------------------------------------------------------------


def test_every_command_is_an_agorakit_command_with_valid_options():
    doc = compose()
    for name, service in agorakit_services(doc).items():
        command = service["command"]
        assert isinstance(command, list), f"{name}: give the command as a list (no shell)"
        parse_command(command)
    for name, command in commands_of(doc, "run").items():
        params = parse_command(command)
        assert params["host"] == "0.0.0.0", name  # reachable from the proxy's container
        assert params["workers"] >= 1
    assert parse_command(commands_of(doc, "worker")["worker"]) == {"interval": 5.0}
    cmd = next(i for i in dockerfile_instructions() if i.startswith("CMD "))
    assert parse_command(json.loads(cmd.removeprefix("CMD "))) == {
        "host": "0.0.0.0",
        "port": 8000,
        "workers": 1,
    }
    # the parser refuses what agorakit would refuse
    with pytest.raises(click.NoSuchOption):
        parse_command(["agorakit", "run", "--wrokers", "2"])
    with pytest.raises(click.BadParameter):
        parse_command(["agorakit", "run", "--port", "eighty"])
    with pytest.raises(AssertionError, match="no command 'serve'"):
        parse_command(["agorakit", "serve"])


def test_only_the_one_shot_service_migrates_and_everything_else_waits_for_it():
    doc = compose()
    migrating = [name for name, s in doc["services"].items() if "migrate" in json.dumps(s.get("command", ""))]
    assert migrating == ["migrate"]  # it takes no lock: never two at once
    assert doc["services"]["migrate"]["restart"] == "no"
    for name, service in agorakit_services(doc).items():
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


# -- the site.toml and its environment -------------------------------------------------


def test_every_variable_compose_reads_is_in_env_example_and_required():
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", text))
    example = dotenv_example()
    assert used == set(example) == set(DOTENV)
    for name in used:  # compose stops on an unset or empty one, naming it
        assert re.search(rf"\$\{{{name}:\?set {name} in \.env\}}", text), name
    with pytest.raises(KeyError, match="JWT_SECRET is not set"):
        interpolate("${JWT_SECRET:?set JWT_SECRET in .env}", {**DOTENV, "JWT_SECRET": ""})
    assert interpolate("a$$b ${X:-d} $Y", {"Y": "y"}) == "a$b d y"


def test_every_secret_the_site_toml_reads_is_given_to_every_agorakit_container():
    refs = env_refs(site_toml())
    assert {"DATABASE_URL", "JWT_SECRET", "REDIS_URL", "S3_SECRET_ACCESS_KEY", "METRICS_TOKEN"} <= set(refs)
    required = {name for name, has_default in refs.items() if not has_default}
    for name, service in agorakit_services(compose()).items():
        environment = environment_of(service)
        assert required - set(environment) == set(), name
        assert all(environment[ref] for ref in required), name
    # one left out is what the loader stops on
    environment = environment_of(compose()["services"]["worker"])
    del environment["SMTP_HOST"]
    with pytest.raises(ConfigError, match=r"email\.smtp_host: environment variable SMTP_HOST is not set"):
        core_settings(environment)


def test_the_site_toml_is_mounted_where_agorakit_config_points():
    instructions = dockerfile_instructions()
    assert any("AGORAKIT_CONFIG=/etc/agorakit/site.toml" in i for i in instructions if i.startswith("ENV "))
    for name, service in agorakit_services(compose()).items():
        config = environment_of(service)["AGORAKIT_CONFIG"]
        assert mount_of(service, "./site.toml") == config == "/etc/agorakit/site.toml", name
        assert "./site.toml:/etc/agorakit/site.toml:ro" in service["volumes"], name  # read-only


def test_the_core_sections_load_from_each_containers_environment():
    for name, service in agorakit_services(compose()).items():
        settings = core_settings(environment_of(service))
        assert settings.site.environment == "production"
        assert settings.site.base_url == "https://market.example.com"
        assert urlsplit(settings.database.url).hostname == "postgres"
        assert urlsplit(settings.cache.url).hostname == "redis"
        assert settings.auth.jwt_secret == DOTENV["JWT_SECRET"], name
        assert settings.metrics.enabled and settings.metrics.token == DOTENV["METRICS_TOKEN"]
        assert settings.attachments.storage == "s3"
        assert settings.logging.format == "json"


def test_the_site_toml_loads_with_the_storage_s3_plugin_and_binds_what_it_names(tmp_path):
    needs_storage_s3()
    for name, service in agorakit_services(compose()).items():
        environ = environment_of(service)
        settings = load_settings(DEPLOY / "site.toml", environ=environ)
        s3 = settings.plugin("storage_s3")
        assert s3.endpoint_url == "http://seaweedfs:8333"
        assert s3.access_key_id == DOTENV["S3_ACCESS_KEY_ID"], name
        assert s3.secret_access_key == DOTENV["S3_SECRET_ACCESS_KEY"], name
    # start-up binds the methods, the mailer and the s3 storage (no database opened: a
    # file of its own stands in for PostgreSQL)
    local = msgspec.structs.replace(settings.database, url=f"sqlite:///{tmp_path / 'bind.sqlite3'}")
    pm = get_plugin_manager(settings.site.plugins, source=settings.source)
    runtime = Runtime(msgspec.structs.replace(settings, database=local), pm=pm)
    assert set(runtime.payment_methods) == {"balance", "bank_transfer"}
    assert set(runtime.payout_methods) == {"bank_transfer"}


def test_the_bucket_made_at_start_is_the_one_the_site_uses():
    command = compose()["services"]["bucket"]["command"][0]
    bucket = site_toml()["plugins"]["storage_s3"]["bucket"]
    assert command == (
        f"aws s3api head-bucket --bucket {bucket} || aws s3api create-bucket --bucket {bucket}"
    )
    environment = environment_of(compose()["services"]["bucket"])
    endpoint = site_toml()["plugins"]["storage_s3"]["endpoint_url"]
    assert environment["AWS_ENDPOINT_URL"] == endpoint
    seaweedfs = environment_of(compose()["services"]["seaweedfs"])
    assert (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"]) == (
        seaweedfs["AWS_ACCESS_KEY_ID"],
        seaweedfs["AWS_SECRET_ACCESS_KEY"],
    )


# -- dependencies and health -----------------------------------------------------------


def test_the_agorakit_containers_wait_for_the_health_of_what_the_site_uses():
    doc = compose()
    services = doc["services"]
    endpoint = urlsplit(site_toml()["plugins"]["storage_s3"]["endpoint_url"]).hostname
    for name, service in agorakit_services(doc).items():
        settings = core_settings(environment_of(service))
        used = {urlsplit(settings.database.url).hostname}
        if name != "migrate":  # the migrations need the database only
            used |= {urlsplit(settings.cache.url).hostname, endpoint}
        assert used == ({"postgres", "redis", "seaweedfs"} if name != "migrate" else {"postgres"})
        for host in used:
            assert service["depends_on"][host] == {"condition": "service_healthy"}, (name, host)
            assert services[host]["healthcheck"]["test"], host
        if name != "migrate":
            assert service["depends_on"]["bucket"] == {"condition": "service_completed_successfully"}
    assert services["bucket"]["depends_on"] == {"seaweedfs": {"condition": "service_healthy"}}
    assert "/healthz" in " ".join(services["seaweedfs"]["healthcheck"]["test"])
    assert services["postgres"]["healthcheck"]["test"][-1].startswith("pg_isready")


class _Readiness(http.server.BaseHTTPRequestHandler):
    """Answers /health/ready with the status the test sets."""

    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health/ready" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_apps_healthcheck_asks_health_ready_and_fails_on_503():
    doc = compose()
    apps = commands_of(doc, "run")
    for name, command in apps.items():
        port = parse_command(command)["port"]
        check = doc["services"][name]["healthcheck"]["test"]
        assert check[:3] == ["CMD", "python", "-c"], name
        assert f"'http://127.0.0.1:{port}/health/ready'" in check[3], name
    # run the check itself against a stand-in that answers 200, then 503
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Readiness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = doc["services"]["app1"]["healthcheck"]["test"][3].replace(
            "127.0.0.1:8000", f"127.0.0.1:{server.server_port}"
        )
        outcomes = {}
        for status in (200, 503):
            _Readiness.status = status
            outcomes[status] = subprocess.run([sys.executable, "-c", script], capture_output=True).returncode
    finally:
        server.shutdown()
        server.server_close()
    assert outcomes[200] == 0 and outcomes[503] != 0


def test_caddy_balances_on_health_ready_and_is_the_only_trusted_proxy():
    doc = compose()
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    upstreams = re.search(r"^\s*reverse_proxy ([^{]+)\{", caddyfile, flags=re.MULTILINE)
    assert upstreams is not None
    apps = commands_of(doc, "run")
    assert set(upstreams.group(1).split()) == {
        f"{name}:{parse_command(c)['port']}" for name, c in apps.items()
    }
    assert re.search(r"^\s*health_uri /health/ready$", caddyfile, flags=re.MULTILINE)
    assert re.search(r"^\s*respond @metrics 404$", caddyfile, flags=re.MULTILINE)  # not on the internet
    caddy = doc["services"]["caddy"]
    assert mount_of(caddy, "./Caddyfile") == "/etc/caddy/Caddyfile"
    for variable in re.findall(r"\{\$(\w+)\}", caddyfile):
        assert environment_of(caddy)[variable], variable
    address = caddy["networks"]["default"]["ipv4_address"]
    subnet = doc["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    settings = core_settings(environment_of(doc["services"]["app1"]))
    assert settings.http.trusted_proxies == [address]
    assert settings.site.base_url.startswith("https://")  # the pages' cookies are Secure
    # the proxy is the way in: no app container publishes a port
    assert all("ports" not in doc["services"][name] for name in apps)


def test_published_ports_do_not_clash():
    published = []
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            spec, _, protocol = str(port).partition("/")
            parts = spec.split(":")
            host_ip, host_port = (parts[0], parts[1]) if len(parts) == 3 else ("0.0.0.0", parts[0])
            published.append((host_ip, host_port, protocol or "tcp", name))
    keys = [entry[:3] for entry in published]
    assert len(keys) == len(set(keys)), published
    assert {(port, protocol) for _, port, protocol, _ in published} == {
        ("80", "tcp"),
        ("443", "tcp"),
        ("443", "udp"),
    }


# -- per host, shared, sizes -----------------------------------------------------------


def test_each_app_container_keeps_its_own_search_index():
    doc = compose()
    index_dir = site_toml()["plugins"]["search_tantivy"]["index_dir"]
    assert index_dir.startswith("/")  # not relative to the mounted config's folder
    volumes = []
    for name in commands_of(doc, "run"):
        volume = next(
            v.split(":")[0] for v in doc["services"][name]["volumes"] if v.split(":")[1] == index_dir
        )
        assert volume in doc["volumes"], volume  # a named volume: kept across deploys
        volumes.append(volume)
    assert len(set(volumes)) == len(volumes) == 2
    created = next(i for i in dockerfile_instructions() if "mkdir -p /var/lib/agorakit/search-index" in i)
    assert "chown -R site:site /var/lib/agorakit" in created  # a new volume starts owned by the site


def test_the_apps_server_processes_share_their_request_metrics():
    doc = compose()
    for name, command in commands_of(doc, "run").items():
        service = doc["services"][name]
        if parse_command(command)["workers"] > 1:
            path = environment_of(service)["PROMETHEUS_MULTIPROC_DIR"]
            assert path in service["tmpfs"], name  # emptied at every start, as prometheus_client needs


def test_the_connections_fit_postgresql():
    doc = compose()
    services = doc["services"]
    settings = core_settings(environment_of(services["app1"]))
    pool = settings.database.pool_max_size
    command = services["postgres"]["command"]
    max_connections = int(next(a.split("=")[1] for a in command if a.startswith("max_connections=")))
    servers = sum(parse_command(c)["workers"] for c in commands_of(doc, "run").values())
    workers = sum(services[name].get("deploy", {}).get("replicas", 1) for name in commands_of(doc, "worker"))
    migrations = len(commands_of(doc, "migrate"))
    assert (servers, workers, migrations, pool, max_connections) == (4, 2, 1, 10, 100)
    assert (servers + workers + migrations) * pool <= max_connections - RESERVED_CONNECTIONS


# -- the image -------------------------------------------------------------------------


def installed_extras() -> set[str]:
    install = next(i for i in dockerfile_instructions() if "pip install" in i)
    match = re.search(r'pip install "\.\[([\w,]+)\]"', install)
    assert match, install
    return set(match.group(1).split(","))


def test_the_image_installs_agorakit_with_extras_that_exist_and_runs_as_a_user():
    instructions = dockerfile_instructions()
    assert [i.split()[1] for i in instructions if i.startswith("FROM ")] == ["python:3.12-slim"] * 2
    assert [i.split()[1] for i in instructions if i.startswith("USER ")] == ["site"]
    extras = pyproject()["project"]["optional-dependencies"]
    core_needs = {"postgres", "redis"}  # [database] url and [cache] url
    assert core_needs <= installed_extras()
    assert not core_settings(environment_of(compose()["services"]["app1"])).tracing.enabled
    assert core_needs <= set(extras)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".git", ".venv", "tests"} <= set(ignore)


def test_the_image_installs_the_s3_client_storage_s3_needs():
    needs_storage_s3()
    project = pyproject()
    extras = project["project"]["optional-dependencies"]
    assert installed_extras() <= set(extras), "pip ignores an extra it does not know"
    in_core = any(re.match(rf"{S3_CLIENT}\b", r) for r in project["project"]["dependencies"])
    providing = {name for name, reqs in extras.items() if any(re.match(rf"{S3_CLIENT}\b", r) for r in reqs)}
    assert in_core or providing & installed_extras(), f"no extra of the image installs {S3_CLIENT}"


# -- the guide -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fence"),
    [
        ("compose.yaml", "yaml"),
        ("site.toml", "toml"),
        ("Dockerfile", "dockerfile"),
        ("Caddyfile", "caddyfile"),
        (".env.example", "sh"),
    ],
)
def test_the_guide_shows_each_file_as_it_is(name, fence):
    text = (DEPLOY / name).read_text(encoding="utf-8")
    assert f"```{fence}\n{text}```" in GUIDE.read_text(encoding="utf-8"), (
        f"docs/deployment.md does not show docs/deployment/{name} as it is"
    )


def guide_command_lines() -> list[list[str]]:
    """The command lines of the guide's shell and systemd blocks, split as a shell would
    (comments and redirections left out)."""
    blocks = re.findall(r"```(?:sh|ini)\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(list(itertools.takewhile(lambda w: w not in {"<", ">", "|", "&&"}, words)))
    return lines


def test_the_commands_in_the_guide_are_real():
    services = compose()["services"]
    agorakit_lines, compose_lines = [], []
    for words in guide_command_lines():
        start = next((i for i, w in enumerate(words) if w == "agorakit" or w.endswith("/agorakit")), None)
        if start is not None:
            agorakit_lines.append(["agorakit", *words[start + 1 :]])
        if words[:2] == ["docker", "compose"]:
            compose_lines.append(words)
    for words in agorakit_lines:
        parse_command(words)
    assert ["agorakit", "users", "create-owner"] == agorakit_lines[-1][:3]
    assert len(agorakit_lines) >= 6 and len(compose_lines) >= 6
    named = set()
    for words in compose_lines:  # the service a line names (its options take no value)
        service = next((w for w in words[3:] if not w.startswith("-")), None)
        if service is not None:
            assert service in services, words
            named.add(service)
    assert named == {"app1", "app2", "worker", "migrate"}
    assert ["docker", "compose", "run", "--rm", "--no-deps", "migrate"] in compose_lines


def test_the_readme_and_the_operations_page_link_the_guide():
    assert "(docs/deployment.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(deployment.md)" in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
