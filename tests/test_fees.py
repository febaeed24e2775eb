"""Fees: percentages in integer cents rounded half up, and fee plugins adding lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import agorakit
from agorakit.money import CommissionDefault
from agorakit.money.commission import Commission
from agorakit.money.fees import FeeLine, Quote, compute_fees, percent_of
from agorakit.money.ledger import LedgerError
from agorakit.settings import ConfigError


@pytest.mark.parametrize(
    ("amount", "percent", "fee"),
    [
        (500, "20", 100),  # 20% of 5.00 is 1.00
        (3, "20", 1),  # 0.006 -> 0.01
        (2, "20", 0),  # 0.004 -> 0.00
        (10, "12.5", 1),  # 1.25 -> 1
        (20, "12.5", 3),  # 2.5 -> 3: half rounds up
        (30, "12.5", 4),  # 3.75 -> 4
        (1, "50", 1),  # 0.5 -> 1
        (1, "49.99", 0),
        (0, "20", 0),
        (12345, "0", 0),
        (12345, "100", 12345),
        (999, "0.01", 0),  # 0.0999 -> 0
        (5000, "0.01", 1),  # 0.5 -> 1
        (10**12, "33.33", 333_300_000_000),
        (1999, Decimal("7.5"), 150),  # 149.925 -> 150
    ],
)
def test_percent_of_rounds_half_up(amount, percent, fee):
    assert percent_of(amount, percent) == fee


@pytest.mark.parametrize("percent", ["12.345", "-1", "0.001"])
def test_percent_of_refuses_more_than_two_decimals_or_negative(percent):
    with pytest.raises(ValueError, match="at most 2 decimals"):
        percent_of(100, percent)


def _commission_pm(fees: SimpleNamespace):
    from agorakit.hooks import get_plugin_manager

    pm = get_plugin_manager()
    pm.register(Commission(fees), name="agorakit.money.commission")
    return pm


_FEES = SimpleNamespace(commission_percent="20", commission_by_kind={})
_PM = _commission_pm(_FEES)


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    hundredths=st.integers(min_value=0, max_value=100_00),
)
def test_fees_always_add_up_to_the_amount(amount, hundredths):
    percent = Decimal(hundredths) / 100  # at most 2 decimals, 0 to 100
    expected = (Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert percent_of(amount, percent) == int(expected)
    assert percent_of(amount, str(percent)) == int(expected)

    _FEES.commission_percent = str(percent)
    breakdown = compute_fees(_PM, Quote(amount=amount, currency="USD"))
    fees = sum(line.amount for line in breakdown.lines)
    assert fees == int(expected) == breakdown.platform_total
    assert breakdown.seller_net + fees == amount
    assert breakdown.buyer_total == amount  # a seller-side commission costs the buyer nothing
    assert 0 <= breakdown.seller_net <= amount


async def test_default_commission_is_twenty_percent_of_the_seller_side(runtime):
    breakdown = compute_fees(runtime.pm, Quote(amount=500, currency="USD", kind="gig"))
    assert breakdown.amount == 500 and breakdown.currency == "USD"
    assert breakdown.lines == [FeeLine(payer="seller", amount=100, label="Site fee (20%)", code="commission")]
    assert breakdown.seller_net == 400
    assert breakdown.platform_total == 100
    assert breakdown.buyer_total == 500


async def test_zero_fee_lines_are_dropped(runtime):
    breakdown = compute_fees(runtime.pm, Quote(amount=2, currency="USD"))  # 20% of 0.02 -> 0.00
    assert breakdown.lines == []
    assert (breakdown.seller_net, breakdown.platform_total, breakdown.buyer_total) == (2, 0, 2)


class TestCommissionByKind:
    @pytest.fixture
    def site_config(self):
        return {"fees": {"commission_percent": "12.5", "commission_by_kind": {"offer": "0", "lead": "100"}}}

    async def test_commission_by_kind_overrides_the_percent(self, runtime):
        offer = compute_fees(runtime.pm, Quote(amount=5000, currency="USD", kind="offer"))
        assert offer.lines == []
        assert (offer.seller_net, offer.platform_total, offer.buyer_total) == (5000, 0, 5000)

        lead = compute_fees(runtime.pm, Quote(amount=5000, currency="USD", kind="lead"))
        assert (lead.seller_net, lead.platform_total) == (0, 5000)

        gig = compute_fees(runtime.pm, Quote(amount=20, currency="USD", kind="gig"))
        assert gig.lines == [FeeLine(payer="seller", amount=3, label="Site fee (12.5%)", code="commission")]
        assert (gig.seller_net, gig.platform_total) == (17, 3)


class ServiceFees:
    """An example fee plugin: the buyer pays a fixed 0.50 service fee, and the seller a
    15% commission capped at 10.00 per sale."""

    @agorakit.hookimpl
    def agorakit_compute_fees(self, quote):
        commission = min(percent_of(quote.amount, "15"), 1000)
        return [
            FeeLine(payer="buyer", amount=50, label="Service fee", code="service_fee"),
            FeeLine(
                payer="seller", amount=commission, label="Commission (15%, at most 10.00)", code="capped"
            ),
        ]


class TestCustomFeePlugin:
    @pytest.fixture
    def extra_plugins(self):
        return [("service-fees", ServiceFees())]

    @pytest.fixture
    def site_config(self):
        return {"fees": {"commission": False}}  # the plugin replaces the default

    @pytest.mark.parametrize(
        ("amount", "commission", "buyer_total", "seller_net", "platform_total"),
        [
            (500, 75, 550, 425, 125),
            (6666, 1000, 6716, 5666, 1050),  # 15% is 999.9 -> 1000, just the cap
            (20000, 1000, 20050, 19000, 1050),  # 15% would be 30.00: capped
            (1, 0, 51, 1, 50),  # 15% of 0.01 rounds to 0: that line is dropped
        ],
    )
    async def test_hook_agorakit_compute_fees(
        self, runtime, amount, commission, buyer_total, seller_net, platform_total
    ):
        assert runtime.pm.get_plugin("agorakit.money.commission") is None
        breakdown = compute_fees(runtime.pm, Quote(amount=amount, currency="EUR", kind="gig"))
        assert [(line.code, line.payer, line.amount) for line in breakdown.lines] == [
            ("service_fee", "buyer", 50),
            *([("capped", "seller", commission)] if commission else []),
        ]
        assert breakdown.buyer_total == buyer_total
        assert breakdown.seller_net == seller_net
        assert breakdown.platform_total == platform_total
        # What the buyer pays is exactly what the seller and the platform get.
        assert breakdown.buyer_total == breakdown.seller_net + breakdown.platform_total


class TestCustomFeePluginWithDefaultCommission:
    @pytest.fixture
    def extra_plugins(self):
        return [("service-fees", ServiceFees())]

    async def test_every_plugin_adds_its_own_lines(self, runtime):
        breakdown = compute_fees(runtime.pm, Quote(amount=500, currency="USD"))
        # The default commission is trylast: its line comes after the plugin's.
        assert [(line.code, line.payer, line.amount) for line in breakdown.lines] == [
            ("service_fee", "buyer", 50),
            ("capped", "seller", 75),
            ("commission", "seller", 100),
        ]
        assert breakdown.buyer_total == 550
        assert breakdown.seller_net == 325
        assert breakdown.platform_total == 225
        assert breakdown.buyer_total == breakdown.seller_net + breakdown.platform_total


class BrokenFees:
    def __init__(self, lines):
        self.lines = lines

    @agorakit.hookimpl
    def agorakit_compute_fees(self, quote):
        return self.lines


class TestBrokenFeePlugin:
    @pytest.fixture(
        params=[
            [FeeLine(payer="seller", amount=-1, label="Rebate")],
            [FeeLine(payer="buyer", amount=1.5, label="Float")],
            [{"payer": "seller", "amount": 1, "label": "Not a FeeLine"}],
        ],
        ids=["negative", "float", "not-a-feeline"],
    )
    def extra_plugins(self, request):
        return [("broken", BrokenFees(request.param))]

    async def test_invalid_fee_line_is_a_ledger_error(self, runtime):
        with pytest.raises(LedgerError, match="invalid fee line"):
            compute_fees(runtime.pm, Quote(amount=500, currency="USD"))


class TestSellerFeesAboveTheAmount:
    @pytest.fixture
    def extra_plugins(self):
        return [("greedy", BrokenFees([FeeLine(payer="seller", amount=401, label="Too much")]))]

    async def test_seller_fees_cannot_exceed_the_amount(self, runtime):
        # 4.01 plus the default 1.00 commission is more than the 5.00 sold.
        with pytest.raises(LedgerError, match="seller fees 501 exceed the amount 500"):
            compute_fees(runtime.pm, Quote(amount=500, currency="USD"))


class KindDefaults:
    """A plugin that owns listing kinds with their own default commission."""

    def __init__(self, *defaults: CommissionDefault) -> None:
        self.defaults = list(defaults)

    @agorakit.hookimpl
    def agorakit_commission_defaults(self):
        return self.defaults


CAMPAIGN = CommissionDefault(kind="campaign", percent="10", payer="buyer")
FREE_OFFER = CommissionDefault(kind="offer", percent="0")


class TestCommissionDefaults:
    @pytest.fixture
    def extra_plugins(self):
        return [("kinds", KindDefaults(CAMPAIGN, FREE_OFFER))]

    async def test_hook_agorakit_commission_defaults(self, runtime):
        # A campaign: the buyer (the employer) pays 10% on top, the worker receives it all.
        campaign = compute_fees(runtime.pm, Quote(amount=1999, currency="USD", kind="campaign"))
        assert campaign.lines == [
            FeeLine(payer="buyer", amount=200, label="Site fee (10%)", code="commission")
        ]
        assert (campaign.buyer_total, campaign.seller_net, campaign.platform_total) == (2199, 1999, 200)
        # A free offer: nothing.
        offer = compute_fees(runtime.pm, Quote(amount=5000, currency="USD", kind="offer"))
        assert offer.lines == []
        assert (offer.buyer_total, offer.seller_net, offer.platform_total) == (5000, 5000, 0)
        # Any other kind: the site's commission, paid by the seller.
        gig = compute_fees(runtime.pm, Quote(amount=500, currency="USD", kind="gig"))
        assert gig.lines == [FeeLine(payer="seller", amount=100, label="Site fee (20%)", code="commission")]


class TestTheSiteOverridesAKindsDefaultPercent:
    @pytest.fixture
    def extra_plugins(self):
        return [("kinds", KindDefaults(CAMPAIGN))]

    @pytest.fixture
    def site_config(self):
        return {"fees": {"commission_percent": "15", "commission_by_kind": {"campaign": "12.5", "lead": "5"}}}

    async def test_the_sites_percent_with_the_plugins_payer(self, runtime):
        campaign = compute_fees(runtime.pm, Quote(amount=1000, currency="USD", kind="campaign"))
        assert campaign.lines == [
            FeeLine(payer="buyer", amount=125, label="Site fee (12.5%)", code="commission")
        ]
        assert (campaign.buyer_total, campaign.seller_net) == (1125, 1000)
        # A kind no plugin declares: the site's percent, paid by the seller.
        lead = compute_fees(runtime.pm, Quote(amount=1000, currency="USD", kind="lead"))
        assert lead.lines == [FeeLine(payer="seller", amount=50, label="Site fee (5%)", code="commission")]
        other = compute_fees(runtime.pm, Quote(amount=1000, currency="USD", kind="gig"))
        assert other.lines == [FeeLine(payer="seller", amount=150, label="Site fee (15%)", code="commission")]


def _start(extra, fees=None):
    from agorakit.hooks import get_plugin_manager
    from agorakit.runtime import Runtime
    from agorakit.settings import settings_from_dict
    from agorakit.testing import TEST_DEFAULTS, deep_merge

    data = deep_merge(TEST_DEFAULTS, {"database": {"url": "sqlite:///:memory:"}, "fees": fees or {}})
    pm = get_plugin_manager([], extra=extra, source="test settings")
    return Runtime(settings_from_dict(data, source="test settings", environ={}, pm=pm), pm=pm)


def test_two_plugins_declaring_one_kind_stop_start_up():
    extra = [
        ("one", KindDefaults(CAMPAIGN)),
        ("two", KindDefaults(CommissionDefault(kind="campaign", percent="5"))),
    ]
    with pytest.raises(ConfigError, match="two plugins declare a default commission for the kind 'campaign'"):
        _start(extra)
    # Also when the site turned the core's commission off: the declaration is still wrong.
    with pytest.raises(ConfigError, match="kind 'campaign'"):
        _start(extra, fees={"commission": False})


@pytest.mark.parametrize(
    ("default", "message"),
    [
        (CommissionDefault(kind="campaign", percent="12.345"), "the default commission of kind 'campaign'"),
        (CommissionDefault(kind="campaign", percent="101"), "the default commission of kind 'campaign'"),
        (CommissionDefault(kind="campaign", percent="10", payer="platform"), "kind 'campaign'"),  # type: ignore[arg-type]
        ({"kind": "campaign", "percent": "10"}, "not a CommissionDefault"),
    ],
)
def test_a_wrong_default_stops_start_up(default, message):
    with pytest.raises(ConfigError, match=message):
        _start([("kinds", KindDefaults(default))])
