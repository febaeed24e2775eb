"""The site as site.toml configures it: it loads, and it serves what it names."""

from __future__ import annotations

import tomllib

from agorakit.settings import load_settings
from conftest import PROJECT


def test_site_toml_loads_with_its_plugins_installed():
    settings = load_settings(PROJECT / "site.toml", environ={"JWT_SECRET": "a-test-secret-" + "x" * 32})
    written = tomllib.loads((PROJECT / "site.toml").read_text(encoding="utf-8"))
    assert settings.site.plugins == written["site"]["plugins"]
    assert settings.site.name == "{{ cookiecutter.site_name }}"
    assert settings.site.currency == "{{ cookiecutter.currency }}"


async def test_the_site_offers_the_payment_and_payout_methods_it_names(client, site_config):
    payment = await client.get("/payment-methods")
    payout = await client.get("/payout-methods")
    assert payment.status_code == payout.status_code == 200
    assert [m["name"] for m in payment.json()] == site_config["money"]["payment_methods"]
    assert [m["name"] for m in payout.json()] == site_config["money"]["payout_methods"]
