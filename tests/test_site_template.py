"""The site template (``cookiecutter-site/``) and ``agorakit new``.

Each variant is rendered as ``cookiecutter cookiecutter-site`` renders it, and checked:
the files that belong to the answers are there and the others are not, nothing is left
unrendered, ``site.toml`` loads with agorakit's own loader (the project's plugins
imported from the rendered folder) and a runtime built from it binds the methods it
names, and ruff finds nothing in the Python it wrote.  ``tests/test_site_project.py``
installs a generated project and runs its own tests.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cookiecutter.main import cookiecutter

from agorakit.cli import cli
from agorakit.hooks import get_plugin_manager, installed_plugins
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, load_settings
from agorakit.sitegen import template_dir

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cookiecutter-site"
#: what cookiecutter copies without rendering (cookiecutter.json's _copy_without_render):
#: Jinja templates of the site itself and GitHub's ${{ }} expressions
VERBATIM = ("templates/", "site_plugins/storefront/", "tests/test_storefront", ".github/")
ENV = {"JWT_SECRET": "a-test-secret-for-the-template-0123456789"}

NO_MODELS = {"gigs": False, "microjobs": False, "prepaid": False, "leads": False}
VARIANTS: dict[str, dict[str, Any]] = {
    # the defaults: gigs, bank transfer, SQLite, the storefront and the examples
    "defaults": {},
    "microjobs-postgresql": {
        **NO_MODELS,
        "microjobs": True,
        "database": "postgresql",
        "bank_transfer": False,
        "paypal": True,
        "storefront": False,
        "example_plugins": False,
    },
    "prepaid-alone": {**NO_MODELS, "prepaid": True, "storefront": False, "console": False},
    "leads-alone": {**NO_MODELS, "leads": True, "example_plugins": False},
    "all-models": {
        "site_name": "Every Model Market",
        "microjobs": True,
        "prepaid": True,
        "leads": True,
        "paypal": True,
        "currency": "EUR",
    },
    "all-models-postgresql": {
        "microjobs": True,
        "prepaid": True,
        "leads": True,
        "database": "postgresql",
        "paypal": True,
        "storefront": False,
        "example_plugins": False,
    },
}


def answers_of(variant: str) -> dict[str, Any]:
    defaults = {
        key: (value[0] if isinstance(value, list) else value)
        for key, value in tomllib_json(TEMPLATE / "cookiecutter.json").items()
        if not key.startswith("_")
    }
    return {**defaults, **VARIANTS[variant]}


def tomllib_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def render(tmp_path: Path, answers: dict[str, Any]) -> Path:
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(tmp_path)))


def project_plugins(project: Path) -> list[tuple[str, object]]:
    """The plugins the project registers (its pyproject's entry points), imported from the
    rendered folder as an installed project would import them."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    entries = pyproject["project"].get("entry-points", {}).get("agorakit", {})
    for name in [m for m in sys.modules if m == "site_plugins" or m.startswith("site_plugins.")]:
        del sys.modules[name]
    sys.path.insert(0, str(project))
    try:
        return [(name, importlib.import_module(target)) for name, target in entries.items()]
    finally:
        sys.path.remove(str(project))


def load_site(project: Path, environ: dict[str, str] | None = None) -> tuple[Any, Runtime]:
    """site.toml loaded and a runtime built from it (its start-up checks run; no database
    is opened)."""
    data = tomllib.loads((project / "site.toml").read_text(encoding="utf-8"))
    enabled = data["site"]["plugins"]
    own = [(name, plugin) for name, plugin in project_plugins(project) if name in enabled]
    shipped = [name for name in enabled if name not in dict(own)]
    pm = get_plugin_manager(shipped, extra=own, source=str(project / "site.toml"))
    settings = load_settings(project / "site.toml", environ={**ENV, **(environ or {})}, pm=pm)
    return settings, Runtime(settings, pm=pm)


def expected_plugins(answers: dict[str, Any]) -> list[str]:
    models = [name for name in ("gigs", "microjobs", "prepaid", "leads") if answers[name]]
    plugins = models + (["bank_transfer"] if answers["bank_transfer"] else [])
    plugins += ["paypal", "payments_paypal", "payouts_paypal"] if answers["paypal"] else []
    plugins += ["console"] if answers["console"] else []
    plugins += ["category_fee"] if answers["example_plugins"] and answers["gigs"] else []
    plugins += ["store_credit"] if answers["example_plugins"] else []
    return plugins + (["storefront"] if answers["storefront"] and answers["gigs"] else [])


def files_of(project: Path) -> set[str]:
    return {path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {variant: render(tmp_path_factory.mktemp(variant), answers_of(variant)) for variant in VARIANTS}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_files_follow_the_answers(rendered, variant):
    answers = answers_of(variant)
    project = rendered[variant]
    assert project.name == ("every-model-market" if variant == "all-models" else "acme-market")
    files = files_of(project)
    always = {
        "site.toml",
        "pyproject.toml",
        "Makefile",
        "README.md",
        ".env.example",
        "site_plugins/__init__.py",
        "tests/conftest.py",
        "tests/test_site.py",
        "tests/test_emails.py",
        "templates/notifications/member_welcome.jinja2",
        "Dockerfile",
        "compose.yaml",
        ".github/workflows/test.yml",
        ".gitignore",
        ".dockerignore",
        "wheels/README.md",
    }
    assert always <= files
    # the site's own Jinja templates are copied as they are, not rendered by cookiecutter
    welcome = "templates/notifications/member_welcome.jinja2"
    assert (project / welcome).read_bytes() == (
        TEMPLATE / "{{cookiecutter.project_slug}}" / welcome
    ).read_bytes()
    examples = {
        "site_plugins/category_fee.py",
        "site_plugins/store_credit.py",
        "tests/test_category_fee.py",
        "tests/test_store_credit.py",
    }
    storefront = {
        f for f in files if f.startswith("site_plugins/storefront/") or f.startswith("tests/test_storefront")
    }
    if answers["example_plugins"]:
        assert examples <= files
    else:
        assert examples & files == set()
    if answers["storefront"] and answers["gigs"]:
        assert {"site_plugins/storefront/__init__.py", "tests/test_storefront.py"} <= storefront
    else:  # the storefront sells gigs: without them it is left out
        assert storefront & files == set()
    assert not any("__pycache__" in f for f in files)
    readme, site_toml = ((project / name).read_text(encoding="utf-8") for name in ("README.md", "site.toml"))
    if answers["console"]:  # where it is, and its settings shown commented
        assert "http://127.0.0.1:8000/console" in readme and "# [plugins.console]" in site_toml
    else:
        assert "/console" not in readme and "plugins.console" not in site_toml


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_nothing_is_left_unrendered(rendered, variant):
    project = rendered[variant]
    leftovers = []
    for name in sorted(files_of(project)):
        text = (project / name).read_text(encoding="utf-8")
        if "cookiecutter" in text:
            leftovers.append(f"{name}: mentions cookiecutter")
        if not name.startswith(VERBATIM) and ("{{" in text or "{%" in text or "{#" in text):
            leftovers.append(f"{name}: a Jinja marker")
    assert leftovers == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_site_toml_loads_with_the_chosen_plugins_and_methods(rendered, variant):
    answers = answers_of(variant)
    settings, runtime = load_site(rendered[variant])
    assert settings.site.name == answers["site_name"]
    assert settings.site.currency == answers["currency"]
    assert settings.site.plugins == expected_plugins(answers)
    assert list(runtime.payment_methods) == ["balance"] + [
        m for m, on in (("bank_transfer", answers["bank_transfer"]), ("paypal", answers["paypal"])) if on
    ]
    assert list(runtime.payout_methods) == [
        m
        for m, on in (
            ("bank_transfer", answers["bank_transfer"]),
            ("paypal", answers["paypal"]),
            ("store_credit", answers["example_plugins"]),
        )
        if on
    ]
    scheme = settings.database.url.split(":", 1)[0]
    assert scheme == ("postgresql" if answers["database"] == "postgresql" else "sqlite")
    assert settings.email.mailer == "log"
    assert settings.email.templates_dir == "templates"


def test_secrets_come_from_the_environment(rendered):
    project = rendered["all-models-postgresql"]
    with pytest.raises(ConfigError) as unset:
        load_settings(project / "site.toml", environ={})
    assert (
        str(unset.value)
        == f"{project / 'site.toml'}: auth.jwt_secret: environment variable JWT_SECRET is not set"
    )
    settings, runtime = load_site(
        project,
        {
            "DATABASE_URL": "sqlite:///elsewhere.sqlite3",
            "PAYPAL_CLIENT_ID": "app-id",
            "PAYPAL_CLIENT_SECRET": "s3",
        },
    )
    assert settings.database.url == "sqlite:///elsewhere.sqlite3"
    assert settings.auth.jwt_secret == ENV["JWT_SECRET"]
    paypal = runtime.plugin_settings("paypal")
    assert (paypal.client_id, paypal.client_secret, paypal.mode) == ("app-id", "s3", "sandbox")


def env_references(value: Any) -> set[str]:
    """The variables ``{ "$env" = "NAME" }`` values read, anywhere in parsed TOML."""
    if isinstance(value, dict):
        if "$env" in value:
            return {value["$env"]}
        return set().union(*(env_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(env_references(v) for v in value))
    return set()


def test_the_env_example_names_every_variable_site_toml_reads(rendered):
    import re

    for variant in ("all-models", "all-models-postgresql", "microjobs-postgresql"):
        project = rendered[variant]
        names = env_references(tomllib.loads((project / "site.toml").read_text(encoding="utf-8")))
        example = (project / ".env.example").read_text(encoding="utf-8")
        listed = set(re.findall(r"^#? ?([A-Z_]+)=", example, flags=re.MULTILINE))
        assert names >= {"JWT_SECRET", "DATABASE_URL", "SMTP_PASSWORD"}
        assert names <= listed, names - listed


def test_the_model_settings_are_the_demo_data_s(rendered):
    """``make demo`` loads each model's demo data into the site: the categories the demo
    creates have the service types and job forms site.toml configures."""
    from agorakit.plugins.leads.demo import DEMO_SETTINGS as LEADS
    from agorakit.plugins.prepaid.demo import DEMO_SETTINGS as PREPAID

    data = tomllib.loads((rendered["all-models"] / "site.toml").read_text(encoding="utf-8"))
    assert data["plugins"]["prepaid"] == PREPAID
    assert data["plugins"]["leads"] == LEADS


@pytest.mark.parametrize("variant", ["all-models", "microjobs-postgresql"])
def test_ruff_finds_nothing_in_the_generated_python(rendered, variant):
    project = rendered[variant]
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_agorakit_new_uses_is_this_folder():
    assert template_dir() == TEMPLATE
    assert {name for name in installed_plugins()} & {"category_fee", "store_credit", "storefront"} == set()


def test_agorakit_new_without_input_writes_the_default_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "--no-input"])
    assert result.exit_code == 0, result.output
    project = tmp_path / "acme-market"
    assert f"wrote {project}" in result.output
    assert "cd acme-market" in result.output and "make demo" in result.output
    assert files_of(project) == files_of(render(tmp_path / "plain", answers_of("defaults")))
    written = tomllib.loads((project / "site.toml").read_text(encoding="utf-8"))
    assert written["site"]["plugins"] == expected_plugins(answers_of("defaults"))


def test_agorakit_new_names_the_folder_and_takes_answers(tmp_path):
    target = tmp_path / "bazaar"
    result = CliRunner().invoke(
        cli,
        ["new", str(target), "--no-input", "--set", "gigs=no", "--set", "leads=yes", "--set", "database=postgresql",
         "--set", "site_name=The Bazaar", "--set", "storefront=no", "--set", "console=no"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings, _ = load_site(target)
    assert settings.site.name == "The Bazaar"
    assert settings.site.plugins == ["leads", "bank_transfer", "store_credit"]
    assert settings.database.url == "postgresql://postgres@127.0.0.1:5432/bazaar"
    assert not (target / "site_plugins" / "storefront").exists()


def test_the_slug_is_made_from_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "--no-input", "--set", "site_name=Books & Co's Café"])
    assert result.exit_code == 0, result.output
    written = tomllib.loads((tmp_path / "books-co-s-cafe" / "site.toml").read_text(encoding="utf-8"))
    assert written["site"]["name"] == "Books & Co's Café"
    assert written["database"]["url"]["default"] == "sqlite:///books-co-s-cafe.sqlite3"


def test_agorakit_new_fills_an_empty_folder(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    result = CliRunner().invoke(cli, ["new", str(target), "--no-input"])
    assert result.exit_code == 0, result.output
    assert (target / "site.toml").is_file()


def test_agorakit_new_refuses_a_folder_with_files(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(cli, ["new", str(target), "--no-input"])
    assert result.exit_code == 1
    assert f"Error: {target} already exists and is not empty" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("gigs", "--set 'gigs': write it as NAME=VALUE, e.g. --set gigs=no"),
        (
            "color=blue",
            "--set color: the template has no question 'color'; its questions: agorakit_requirement,",
        ),
        ("gigs=maybe", "--set gigs=maybe: answer yes or no"),
        ("database=mysql", "--set database=mysql: choose one of sqlite, postgresql"),
    ],
)
def test_agorakit_new_refuses_bad_answers(tmp_path, argument, message):
    result = CliRunner().invoke(cli, ["new", str(tmp_path / "site"), "--no-input", "--set", argument])
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project_slug=My_Site", "project_slug 'My_Site': use lower-case letters, digits and single dashes"),
        ("currency=usd", "currency 'usd': give an ISO 4217 code in capitals"),
        ('site_name=The "Best" Market', "site_name 'The \"Best\" Market': give a name without double quotes"),
    ],
)
def test_the_template_refuses_a_bad_slug_or_currency(tmp_path, monkeypatch, capfd, answer, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "--no-input", "--set", answer])
    assert result.exit_code == 1
    assert "Hook script failed" in result.output
    assert message in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with one of the schemas it vendors (nothing is fetched)."""
    command = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", schema, str(path)]
    return subprocess.run(command, capture_output=True, text=True)


def docker_compose_available() -> bool:
    import shutil

    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.parametrize("variant", ["defaults", "all-models-postgresql"])
def test_compose_file_is_valid(rendered, variant, tmp_path):
    project = rendered[variant]
    result = check_jsonschema("vendor.compose-spec", project / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    # the validator refuses a compose file with a misspelt key
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        (project / "compose.yaml").read_text().replace("restart:", "restrat:"), encoding="utf-8"
    )
    assert check_jsonschema("vendor.compose-spec", broken).returncode == 1
    if docker_compose_available():  # compose's own reading, interpolation included
        env = {**__import__("os").environ, "POSTGRES_PASSWORD": "x", "JWT_SECRET": ENV["JWT_SECRET"]}
        (project / ".env").write_text("", encoding="utf-8")
        config = subprocess.run(
            ["docker", "compose", "config", "--quiet"], cwd=project, env=env, capture_output=True, text=True
        )
        (project / ".env").unlink()
        assert config.returncode == 0, config.stderr


def test_compose_runs_the_app_the_worker_postgresql_and_mailpit(rendered):
    import yaml

    compose = yaml.safe_load((rendered["defaults"] / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"app", "worker", "db", "mailpit"}
    assert (
        services["app"]["command"][-1] == "agorakit migrate && exec agorakit run --host 0.0.0.0 --port 8000"
    )
    assert services["worker"]["command"] == ["agorakit", "worker"]
    for name in ("app", "worker"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://site:${POSTGRES_PASSWORD")
        assert environment["DATABASE_URL"].endswith("@db:5432/site")
        assert (environment["AGORAKIT_EMAIL__MAILER"], environment["AGORAKIT_EMAIL__SMTP_HOST"]) == (
            "smtp",
            "mailpit",
        )
    assert compose["name"] == "acme-market"


def test_the_github_workflow_is_valid_and_runs_make_test(rendered):
    import yaml

    workflow = rendered["defaults"] / ".github" / "workflows" / "test.yml"
    result = check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    job = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]["test"]
    assert [step.get("run") for step in job["steps"] if "run" in step] == ["make test", "make lint"]
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert job["env"]["AGORAKIT"] == "${{ vars.AGORAKIT }}"


def test_the_image_runs_the_site_as_a_user_without_privileges(rendered):
    lines = [line.strip() for line in (rendered["defaults"] / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.1")
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users == ["site"]
    assert instructions[-1] == 'CMD ["agorakit", "run", "--host", "0.0.0.0", "--port", "8000"]'
    assert instructions.index("USER site") < len(instructions) - 1
    assert 'RUN pip install --find-links /tmp/wheels ".[postgres]" && rm -rf /tmp/wheels' in instructions


def test_git_keeps_every_file_of_the_template():
    import shutil

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = [
        str(path.relative_to(ROOT))
        for path in TEMPLATE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *files], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ignored == []


def test_the_worked_examples_in_the_docs_are_the_template_s_files():
    import re

    page = (ROOT / "docs" / "site-template.md").read_text(encoding="utf-8")
    project = TEMPLATE / "{{cookiecutter.project_slug}}"
    whole = ["site_plugins/category_fee.py", "site_plugins/store_credit.py", "tests/conftest.py"]
    sources = {
        name: (project / name).read_text(encoding="utf-8") for name in [*whole, "tests/test_category_fee.py"]
    }
    for name in whole:
        assert f"```python\n{sources[name]}```" in page, (
            f"docs/site-template.md does not show {name} as it is"
        )
    for block in re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL):
        assert any(block in source for source in sources.values()), (
            f"a code block is in no template file:\n{block}"
        )


def test_demo_data_loads_into_a_development_site_once(tmp_path):
    import sqlite3

    config = tmp_path / "site.toml"
    config.write_text(
        f'[site]\nplugins = ["gigs", "console"]\nenvironment = "development"\n[auth]\njwt_secret = "{"k" * 40}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n[email]\nmailer = "log"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "migrate"]).exit_code == 0
    loaded = runner.invoke(cli, ["--config", str(config), "demo-data"])
    assert loaded.exit_code == 0, loaded.output
    assert loaded.output.splitlines()[:3] == [
        "demo data loaded",
        "demo logins (POST /auth/login):",
        "  owner     operator@example.com  /  demo-operator-pass-2026",
    ]
    assert (
        "operator console: http://127.0.0.1:8000/console  (sign in as operator@example.com  /  "
        "demo-operator-pass-2026)" in loaded.output.splitlines()
    )
    with sqlite3.connect(tmp_path / "site.sqlite3") as db:
        members = db.execute("SELECT count(*) FROM core_member").fetchone()[0]
        gigs = db.execute("SELECT count(*) FROM core_listing WHERE kind = 'gig'").fetchone()[0]
    assert members >= 3 and gigs > 0
    again = runner.invoke(cli, ["--config", str(config), "demo-data"])
    assert again.output.splitlines()[0] == "demo data was already there"
    with sqlite3.connect(tmp_path / "site.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM core_member").fetchone()[0] == members


def test_demo_data_is_refused_on_a_production_site(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        f'[site]\nplugins = []\n[auth]\njwt_secret = "{"k" * 40}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n',
        encoding="utf-8",
    )
    refused = CliRunner().invoke(cli, ["--config", str(config), "demo-data"])
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: demo data has members with published passwords: load it into a development or staging site "
        'only ([site] environment = "development", or AGORAKIT_SITE__ENVIRONMENT=development)\n'
    )
    assert not (tmp_path / "site.sqlite3").exists()


#: core settings site.toml leaves to the configuration reference: performance tuning
TUNING = {"events", "worker", "plugins", "source"}


def written_keys(text: str) -> set[str]:
    """The keys site.toml sets or shows commented out, and the tables it names."""
    import re

    keys = set(re.findall(r"^(?:# )?([a-z0-9_]+) = ", text, flags=re.MULTILINE))
    for header in re.findall(r"^(?:# )?\[+([a-z0-9_.]+)\]+", text, flags=re.MULTILINE):
        keys |= set(header.split("."))
    return keys


@pytest.mark.parametrize("variant", ["all-models", "all-models-postgresql", "prepaid-alone"])
def test_site_toml_shows_every_setting_of_the_core_and_the_chosen_plugins(rendered, variant):
    import msgspec.inspect as mi

    from agorakit.settings import Settings

    text = (rendered[variant] / "site.toml").read_text(encoding="utf-8")
    keys = written_keys(text)
    settings, runtime = load_site(rendered[variant])
    missing = []
    for section in mi.type_info(Settings).fields:
        if section.name in TUNING or not isinstance(section.type, mi.StructType):
            continue
        for field in mi.type_info(section.type.cls).fields:
            database_of_another_kind = section.name == "database" and field.name.startswith(
                "sqlite_"
                if settings.database.url.startswith("postgresql")
                else ("pool_", "postgres_", "read_")
            )
            if field.name not in keys and not database_of_another_kind:
                missing.append(f"{section.name}.{field.name}")
    assert f"[{'worker'}]" in text and "escrow_check_minutes" in keys
    for name in settings.site.plugins:
        plugin_settings = runtime.plugin_settings(name)
        if plugin_settings is None:
            continue
        missing += [
            f"plugins.{name}.{f.name}"
            for f in mi.type_info(type(plugin_settings)).fields
            if f.name not in keys
        ]
    assert missing == []


def test_the_env_example_s_placeholder_secret_does_not_start_a_site(rendered):
    project = rendered["all-models-postgresql"]
    lines = (project / ".env.example").read_text(encoding="utf-8").splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert example["JWT_SECRET"] == "change-me"
    with pytest.raises(ConfigError) as refused:
        load_settings(project / "site.toml", environ=example)
    assert str(refused.value).startswith(
        f"{project / 'site.toml'}: auth.jwt_secret: Expected `str` of length >= 32"
    )
