"""site_plugins/category_fee.py: gigs pay the site's fee once, lower in a reduced category."""

from __future__ import annotations

from pathlib import Path

import pytest
from agorakit.hooks import get_plugin_manager
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import deep_merge

FEES = {"percent": "20", "reduced": {"logo-design": "10"}}


def with_category_fee(config: dict) -> dict:
    """``config`` with gigs, this plugin and a known fee table, in USD."""
    plugins = config["site"]["plugins"]
    wanted = [name for name in ("gigs", "category_fee") if name not in plugins]
    return deep_merge(
        config,
        {
            "site": {"plugins": [*plugins, *wanted], "currency": "USD"},
            "fees": {"commission_by_kind": {"gig": "0"}},
            "plugins": {"category_fee": FEES},
        },
    )


@pytest.fixture
def site_config(site_config):
    return with_category_fee(site_config)


@pytest.fixture
async def categories(client, make_operator):
    operator = await make_operator()
    for slug, name, parent in [
        ("design", "Design", None),
        ("logo-design", "Logo design", "design"),
        ("writing", "Writing", None),
    ]:
        body = {"slug": slug, "name": name, "parent": parent}
        response = await client.post("/operator/categories", json=body, headers=operator.headers)
        assert response.status_code == 201, response.text


async def quote(client, listing_id: int) -> dict:
    response = await client.get(f"/gigs/{listing_id}/quote")
    assert response.status_code == 200, response.text
    return response.json()


async def available(client, member) -> str:
    response = await client.get("/me/balance", headers=member.headers)
    (usd,) = [b for b in response.json()["balances"] if b["currency"] == "USD"]
    return usd["available"]


async def test_a_gig_in_a_reduced_category_pays_the_lower_fee_once(
    client, categories, make_member, make_listing, make_order
):
    seller = await make_member()
    gig = await make_listing(kind="gig", seller=seller, category="logo-design", price=1500)

    priced = await quote(client, gig["id"])
    assert priced["fees"] == [
        {"label": "Site fee (10%)", "payer": "seller", "amount": {"amount": "1.50", "currency": "USD"}}
    ]
    assert priced["total"] == {"amount": "15.00", "currency": "USD"}
    assert priced["seller_earns"] == {"amount": "13.50", "currency": "USD"}

    order = await make_order(kind="gig", state="completed", listing=gig)
    assert order["state"] == "completed"
    assert await available(client, seller) == "13.50"


async def test_other_categories_pay_the_site_percent(
    client, categories, make_member, make_listing, make_order
):
    seller = await make_member()
    gig = await make_listing(kind="gig", seller=seller, category="writing", price=1500)

    priced = await quote(client, gig["id"])
    assert [(f["label"], f["amount"]["amount"]) for f in priced["fees"]] == [("Site fee (20%)", "3.00")]
    assert priced["seller_earns"]["amount"] == "12.00"

    await make_order(kind="gig", state="completed", listing=gig)
    assert await available(client, seller) == "12.00"


async def test_the_fee_is_rounded_half_up_to_the_cent(client, categories, make_member, make_listing):
    seller = await make_member()
    gig = await make_listing(kind="gig", seller=seller, category="logo-design", price=1005)
    # 10% of 10.05 is 1.005: 1.01
    assert (await quote(client, gig["id"]))["seller_earns"]["amount"] == "9.04"


def start(config: dict, tmp_path: Path) -> Runtime:
    """A runtime built from ``config`` as a site would start (no database is opened)."""
    data = deep_merge(
        {
            "auth": {"jwt_secret": "a-test-secret-0123456789abcdef0123456789"},
            "database": {"url": f"sqlite:///{tmp_path / 'site.sqlite3'}"},
        },
        config,
    )
    pm = get_plugin_manager(data["site"]["plugins"], source="site.toml")
    return Runtime(settings_from_dict(data, source="site.toml", environ={}, pm=pm), pm=pm)


def test_it_refuses_to_start_while_the_core_also_charges_gigs(site_config, tmp_path):
    assert start(site_config, tmp_path).plugin_settings("category_fee").reduced == {"logo-design": "10"}
    both = deep_merge(site_config, {"fees": {"commission_by_kind": {"gig": "15"}}})
    with pytest.raises(ConfigError) as refused:
        start(both, tmp_path)
    assert str(refused.value) == (
        "site.toml: plugins.category_fee: the core's commission charges gig orders too; "
        'set [fees] commission_by_kind = { gig = "0" } (or commission = false)'
    )
    # with the core's commission off altogether, this plugin is the only fee
    off = deep_merge(site_config, {"fees": {"commission": False, "commission_by_kind": {"gig": "15"}}})
    assert start(off, tmp_path).settings.fees.commission is False


@pytest.mark.parametrize(
    ("fees", "message"),
    [
        (
            {"percent": "20", "reduced": {"logo-design": "25"}},
            "site.toml: plugins.category_fee.reduced: logo-design = '25' is not lower than percent ('20')",
        ),
        ({"percent": "120"}, "site.toml: plugins.category_fee.percent: Expected `str` matching regex"),
        (
            {"reduced": {"Logo Design": "5"}},
            "site.toml: plugins.category_fee.reduced: Expected `str` matching regex '^[a-z0-9]+(-[a-z0-9]+)*$'",
        ),
        (
            {"kinds": []},
            'site.toml: plugins.category_fee.kinds: name the listing kinds it prices, e.g. ["gig"]',
        ),
    ],
)
def test_wrong_settings_stop_the_site_with_the_key_named(site_config, tmp_path, fees, message):
    config = deep_merge(site_config, {"plugins": {"category_fee": {"percent": "20", "reduced": {}, **fees}}})
    with pytest.raises(ConfigError) as refused:
        start(config, tmp_path)
    assert str(refused.value).startswith(message)
