"""Clients generated from the OpenAPI document, as API users generate them.

The document of a site with every shipped plugin enabled (``app.openapi_schema``, what
``/docs/openapi.json`` serves) is written to a temporary folder, then:

- ``openapi-python-client generate`` (pinned in the dev extras) must print no warning,
  and drop no operation and no schema: every operation has its module, every component
  schema its model;
- ``openapi-typescript`` (pinned in ``tests/clients/ts``, installed by ``make clients``)
  must print no warning or error;
- a full gig order goes through the generated Python client only, against a SQLite site
  served by uvicorn: a buyer and a seller register and log in, the operator creates the
  categories, the seller submits a 50.00 gig with a 10.00 extra which the operator
  approves, the buyer adds 60.00 by bank transfer which the operator confirms, orders
  the gig with the extra and pays from the balance, the seller delivers, the buyer
  accepts and reviews, and the seller withdraws the 48.00 earned to a bank account
  (1.00 bank fee); each result is the generated model, with its exact amounts and
  states;
- ``tests/clients/ts/order.ts`` makes the same calls with ``openapi-fetch`` on the
  generated ``paths`` types, and ``tsc --noEmit`` must accept it (a wrong field name or
  type in a request body, or a response field that does not exist, fails to compile).

The TypeScript part needs Node.js and ``make clients`` (``npm ci`` in
``tests/clients/ts``): without them it is skipped with the reason, except in CI (``CI``
set), where it fails.  The whole module takes about 15 seconds.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from api_world import all_plugins_config
from browser_helpers import OPERATOR, Site, served_site, unavailable

from agorakit.hooks import shipped_plugins

REPO = Path(__file__).resolve().parent.parent
TS_PROJECT = REPO / "tests" / "clients" / "ts"
TS_BIN = TS_PROJECT / "node_modules" / ".bin"
#: the generated Python package's name (a folder of the test's temporary directory)
PACKAGE = "agorakit_client"
IBAN_ACCOUNT = {"account_holder": "Sam Seller", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


def run(command: list[str], cwd: Path) -> str:
    """Run ``command`` (the virtualenv's tools first on PATH); its stdout and stderr."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clients")


@pytest.fixture(scope="module")
def document(folder: Path) -> Path:
    """The OpenAPI document of a site with every shipped plugin enabled, as a file."""
    from agorakit.app import create_app
    from agorakit.hooks import get_plugin_manager
    from agorakit.settings import settings_from_dict
    from agorakit.testing import TEST_DEFAULTS, deep_merge

    data = deep_merge(TEST_DEFAULTS, all_plugins_config(folder))
    pm = get_plugin_manager(shipped_plugins(), source="generated clients test")
    app = create_app(settings_from_dict(data, source="generated clients test", environ={}, pm=pm), pm=pm)
    path = folder / "openapi.json"
    path.write_text(json.dumps(app.openapi_schema.to_schema()))
    return path


@pytest.fixture(scope="module")
def python_client(folder: Path, document: Path) -> tuple[Path, str]:
    """The package openapi-python-client generates from the document, and what it printed."""
    out = folder / PACKAGE
    output = run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(out),
            "--meta",
            "none",
        ],
        cwd=folder,
    )
    return out, output


def test_openapi_python_client_generates_every_operation_and_schema_without_warnings(
    python_client: tuple[Path, str], document: Path
) -> None:
    from openapi_python_client.strings import pascal_case, snake_case

    out, output = python_client
    said = [line for line in output.splitlines() if line.strip() and not line.startswith("Generating ")]
    assert not said, "openapi-python-client warned:\n" + output
    spec = json.loads(document.read_text())
    operations = {
        snake_case(op["operationId"])
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    }
    generated = {path.stem for path in (out / "api").rglob("*.py") if path.stem != "__init__"}
    assert operations - generated == set(), "operations without a generated function"
    schemas = spec["components"]["schemas"]
    # a model class per component schema (its title, or its name): none dropped, none merged
    names = {pascal_case(schema.get("title") or name) for name, schema in schemas.items()}
    assert len(names) == len(schemas), "component schemas share a model name"
    models = (out / "models" / "__init__.py").read_text()
    assert [name for name in sorted(names) if f'"{name}"' not in models] == []


@pytest.fixture
def client_package(python_client: tuple[Path, str]) -> Iterator[ModuleType]:
    """The generated package, imported from the temporary folder."""
    out, _ = python_client

    def forget() -> None:
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]

    forget()
    sys.path.insert(0, str(out.parent))
    try:
        module = importlib.import_module(PACKAGE)
        assert Path(module.__file__).is_relative_to(out)
        yield module
    finally:
        sys.path.remove(str(out.parent))
        forget()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A SQLite site with every shipped plugin, bank payouts from 10.00 for a 1.00 fee."""
    config = all_plugins_config(tmp_path)
    config["database"] = {"url": f"sqlite:///{tmp_path / 'site.sqlite3'}"}
    config["plugins"]["bank_transfer"] = {"payout_minimum": "10.00", "payout_fee": "1.00"}
    with served_site(config, shipped_plugins()) as served:
        yield served


def test_a_gig_order_through_the_generated_python_client(client_package: ModuleType, site: Site) -> None:
    api = importlib.import_module(f"{PACKAGE}.api")
    models = importlib.import_module(f"{PACKAGE}.models")
    client_module = importlib.import_module(f"{PACKAGE}.client")

    def call(operation: str, *args: Any, expect: type, **kwargs: Any) -> Any:
        """``api.<area>.<operation>.sync(...)``: the result must be the model ``expect``."""
        area, name = operation.split(".")
        module = importlib.import_module(f"{api.__name__}.{area}.{name}")
        result = module.sync(*args, **kwargs)
        assert isinstance(result, expect), f"{operation}: {result!r}"
        return result

    anonymous = client_module.Client(base_url=site.url, raise_on_unexpected_status=True, timeout=30)

    def usd(amount: str) -> Any:
        return models.Money(amount=amount, currency="USD")

    def signed_in(email: str, password: str) -> Any:
        token = call(
            "accounts.login",
            client=anonymous,
            body=models.Login(email=email, password=password),
            expect=models.AuthToken,
        )
        assert (token.token_type, token.member.email) == ("bearer", email)
        return client_module.AuthenticatedClient(
            base_url=site.url, token=token.access_token, raise_on_unexpected_status=True, timeout=30
        )

    def member(email: str, password: str, name: str) -> Any:
        body = models.RegisterMember(email=email, password=password, display_name=name, country="GB")
        call("accounts.register", client=anonymous, body=body, expect=models.Accepted)
        return signed_in(email, password)

    def balance(who: Any) -> Any:
        found = call("money.get_balance", client=who, expect=models.Balance).balances
        return next(item for item in found if item.currency == "USD")

    operator = signed_in(OPERATOR[0], OPERATOR[1])
    seller = member("sam@example.com", "sam-sells-logos-2026", "Sam Seller")
    buyer = member("bea@example.com", "bea-buys-designs-2026", "Bea Buyer")

    # the operator creates the categories
    for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
        category = call(
            "catalog.operator_create_category",
            client=operator,
            body=models.CreateCategory(slug=slug, name=name, parent=parent),
            expect=models.CategoryOut,
        )
        assert (category.slug, category.name) == (slug, name)

    # the seller creates a gig with an extra and submits it; the operator approves it
    attributes = models.CreateListingAttributes.from_dict(
        {
            "delivery_days": 3,
            "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
            "max_quantity": 1,
            "requirements": "Your brand name.",
        }
    )
    draft = call(
        "listings.create_listing",
        client=seller,
        body=models.CreateListing(
            kind="gig",
            title="I will design a minimalist logo",
            description="Three concepts, vector files and two rounds of changes.",
            price=usd("50.00"),
            category="logo-design",
            attributes=attributes,
        ),
        expect=models.ListingOut,
    )
    assert (draft.status, draft.price.amount) == (models.ListingOutStatus.DRAFT, "50.00")
    submitted = call("listings.submit_listing", draft.id, client=seller, expect=models.ListingOut)
    assert submitted.status == models.ListingOutStatus.PENDING_REVIEW
    approved = call("operator.operator_approve_listing", draft.id, client=operator, expect=models.ListingOut)
    assert approved.status == models.ListingOutStatus.PUBLISHED

    # the buyer adds 60.00 by bank transfer; the operator confirms the money arrived
    deposit = call(
        "money.create_deposit",
        client=buyer,
        body=models.CreateDeposit(method="bank_transfer", amount=usd("60.00")),
        expect=models.PaymentOut,
    )
    assert (deposit.status, deposit.amount.amount) == (models.PaymentOutStatus.AWAITING_FUNDS, "60.00")
    assert deposit.purpose == "deposit"
    confirmed = call(
        "bank_transfer.bank_transfer_confirm_payment",
        deposit.id,
        client=operator,
        body=models.ConfirmPayment(amount=usd("60.00"), reference=f"STMT-{deposit.reference}"),
        expect=models.PaymentOut,
    )
    assert confirmed.status == models.PaymentOutStatus.COMPLETED
    assert balance(buyer).credit == "60.00"

    # the buyer orders the gig with the extra (50.00 + 10.00) and pays from the balance
    quote = call(
        "gigs.quote_gig", draft.id, client=anonymous, extra=["Express delivery"], expect=models.GigQuote
    )
    assert (quote.total.amount, quote.seller_earns.amount) == ("60.00", "48.00")
    order = call(
        "gigs.order_gig",
        draft.id,
        client=buyer,
        body=models.OrderGig(extras=["Express delivery"], requirements="Acme, in green."),
        expect=models.OrderOut,
    )
    assert order.amount.amount == "60.00"
    assert [(item.kind, item.description, item.amount.amount) for item in order.items] == [
        ("base", "I will design a minimalist logo", "50.00"),
        ("extra", "Extra: Express delivery", "10.00"),
    ]
    paid = call(
        "orders.pay_order",
        order.id,
        client=buyer,
        body=models.PayOrder(method="balance"),
        expect=models.PaymentOut,
    )
    assert (paid.status, paid.amount.amount) == (models.PaymentOutStatus.COMPLETED, "60.00")
    assert call("orders.get_order", order.id, client=buyer, expect=models.OrderOut).state == "in_progress"
    assert (balance(buyer).credit, balance(buyer).in_escrow) == ("0.00", "60.00")

    # the seller delivers; the buyer accepts (the seller earns 60.00 less the site's 20%) and reviews
    delivered = call(
        "gigs.deliver_gig_order",
        order.id,
        client=seller,
        body=models.Delivery(message="Here you are: three concepts."),
        expect=models.OrderOut,
    )
    assert delivered.state == "delivered"
    accepted = call("gigs.accept_gig_order", order.id, client=buyer, expect=models.OrderOut)
    assert accepted.state == "completed"
    assert (balance(seller).available, balance(buyer).in_escrow) == ("48.00", "0.00")
    review = call(
        "reviews.post_review",
        order.id,
        client=buyer,
        body=models.PostReview(rating=5, text="Lovely concepts, delivered early."),
        expect=models.ReviewOut,
    )
    assert (review.rating, review.author_role, review.subject_id) == (
        5,
        models.ReviewOutAuthorRole.BUYER,
        approved.seller.id,
    )

    # the seller withdraws the 48.00 to a bank account (from 10.00): the bank's 1.00 fee, 47.00 paid out
    refused = call(
        "money.create_withdrawal",
        client=seller,
        body=models.CreateWithdrawal(
            method="bank_transfer",
            amount=usd("9.99"),
            destination=models.CreateWithdrawalDestination.from_dict(IBAN_ACCOUNT),
        ),
        expect=models.Problem,
    )
    assert (refused.status, refused.code) == (422, "below_minimum")
    withdrawal = call(
        "money.create_withdrawal",
        client=seller,
        body=models.CreateWithdrawal(
            method="bank_transfer",
            amount=usd("48.00"),
            destination=models.CreateWithdrawalDestination.from_dict(IBAN_ACCOUNT),
        ),
        expect=models.WithdrawalOut,
    )
    assert withdrawal.status == models.WithdrawalOutStatus.REQUESTED
    assert (withdrawal.amount.amount, withdrawal.fee.amount, withdrawal.net.amount) == (
        "48.00",
        "1.00",
        "47.00",
    )
    assert withdrawal.destination["iban"] == IBAN_ACCOUNT["iban"]
    assert balance(seller).available == "0.00"


@pytest.fixture(scope="module")
def typescript_bin() -> Path:
    """tests/clients/ts/node_modules/.bin, where ``make clients`` installed the tools."""
    if not (TS_BIN / "openapi-typescript").exists() or not (TS_BIN / "tsc").exists():
        unavailable(
            "the generated TypeScript types' test",
            f"{TS_BIN} has no openapi-typescript or tsc: `make clients` installs them (npm ci)",
        )
    return TS_BIN


def test_openapi_typescript_types_check_the_order(typescript_bin: Path, folder: Path, document: Path) -> None:
    types = folder / "api.d.ts"
    output = run([str(typescript_bin / "openapi-typescript"), str(document), "-o", str(types)], cwd=folder)
    said = [line for line in output.splitlines() if line.strip() and not line.startswith(("✨", "🚀"))]
    assert not said, "openapi-typescript warned:\n" + output
    assert "export interface paths {" in types.read_text()
    # order.ts, type-checked against these types (its tsconfig, "agorakit-api" resolved here)
    config = {
        "extends": str(TS_PROJECT / "tsconfig.json"),
        "compilerOptions": {"paths": {"agorakit-api": [str(types)]}},
        "files": [str(TS_PROJECT / "order.ts")],
    }
    (folder / "tsconfig.json").write_text(json.dumps(config))
    run([str(typescript_bin / "tsc"), "--noEmit", "-p", str(folder / "tsconfig.json")], cwd=folder)
