"""store_credit: earnings paid out as a gift card of a partner store.

A member withdraws to a gift card of one of the site's partner stores, sent to an email
address (``{"store": "Books & Co", "email": "ada@example.com"}``). The method is manual:
an operator takes the waiting withdrawals into a batch (``POST
/operator/store-credit/batches``: the cards to buy, each withdrawal now ``processing``),
buys and sends each card, and marks its withdrawal paid
(``POST /operator/withdrawals/{id}/complete`` with the card's number as
``provider_ref``) or failed (``/fail`` with the reason the member reads; the money goes
back to them), as for any manual method.

    [site]
    plugins = ["store_credit"]

    [money]
    payout_methods = ["store_credit"]

    [plugins.store_credit]
    stores = ["Books & Co", "Corner Grocer"]
    minimum = "10.00"
    fee = "0.50"
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import msgspec
from agorakit import hookimpl
from agorakit.accounts import operator_only
from agorakit.errors import Conflict, FieldError, ValidationFailed
from agorakit.http import MemberRequest, problems
from agorakit.money import Money, attach_to_batch, claim_waiting, exponent, format_amount, money
from agorakit.runtime import Runtime
from agorakit.settings import AmountSetting, SettingsSpec, SettingsStruct
from email_validator import EmailNotValidError, validate_email
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_201_CREATED

#: the plugin's and the method's name: [plugins.store_credit], [money] payout_methods and
#: the ledger accounts payouts:store_credit:clearing and external:store_credit
NAME = "store_credit"
Store = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class StoreCreditSettings(SettingsStruct, frozen=True):
    #: the partner stores whose gift cards members may choose
    stores: list[Store] = msgspec.field(default_factory=lambda: ["Books & Co"])
    #: smallest withdrawal, in the currency's units (default "10.00")
    minimum: AmountSetting = "10.00"
    #: flat fee the site keeps per withdrawal, in the currency's units (default "0.50");
    #: below the minimum, or a withdrawal of the minimum would pay out nothing
    fee: AmountSetting = "0.50"

    def __post_init__(self) -> None:
        if not self.stores:
            raise ValueError("stores: name at least one partner store")
        if len({store.casefold() for store in self.stores}) != len(self.stores):
            raise ValueError(f"stores: a store is listed twice: {self.stores}")
        if Decimal(self.fee) >= Decimal(self.minimum):
            raise ValueError(f"fee ({self.fee}) must be below minimum ({self.minimum})")


def to_minor(amount: str, currency: str, *, round_up: bool = False) -> int:
    """A settings amount ("10.00") in minor units of ``currency``: a minimum rounds up
    (never below what the site asked), a fee half up."""
    scaled = Decimal(amount) * 10 ** exponent(currency)
    return int(scaled.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_HALF_UP))


class StoreCreditPayout:
    name = NAME
    label = "Store gift card"
    #: operators pay by hand and mark each withdrawal completed or failed
    manual = True
    destination_fields = ["store", "email"]

    def __init__(self, settings: StoreCreditSettings | None = None) -> None:
        self.settings = settings or StoreCreditSettings()

    def bind(self, runtime: Any) -> StoreCreditPayout:
        """The method with the site's [plugins.store_credit] settings."""
        return StoreCreditPayout(runtime.plugin_settings(NAME))

    def minimum(self, currency: str) -> int:
        return to_minor(self.settings.minimum, currency, round_up=True)

    def fee(self, amount: int, currency: str) -> int:
        return to_minor(self.settings.fee, currency)

    def fee_description(self, currency: str) -> str:
        fee = self.fee(0, currency)
        return f"{format_amount(fee, currency)} {currency} per gift card" if fee else "no fee"

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        """``{"store", "email"}`` normalised: the store as the site spells it, the email
        address as email-validator normalises it; every problem is a field error."""
        if not isinstance(destination, dict):
            raise ValidationFailed([FieldError("destination", 'must be an object: {"store", "email"}')])
        errors = [
            FieldError(f"destination.{key}", "not a field of this method: give store and email")
            for key in sorted(set(destination) - {"store", "email"})
        ]
        stores = {store.casefold(): store for store in self.settings.stores}
        store = destination.get("store")
        if not isinstance(store, str) or store.strip().casefold() not in stores:
            errors.append(
                FieldError("destination.store", f"choose one of: {', '.join(self.settings.stores)}")
            )
        email = destination.get("email")
        normalized = ""
        try:
            if not isinstance(email, str):
                raise EmailNotValidError("give the email address the gift card is sent to")
            normalized = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors.append(FieldError("destination.email", str(exc)))
        if errors:
            raise ValidationFailed(errors)
        return {"store": stores[str(store).strip().casefold()], "email": normalized}


class GiftCard(msgspec.Struct):
    withdrawal_id: int
    store: str
    #: where to send the card
    email: str
    #: the card's value: the withdrawal less the fee
    amount: Money


class GiftCardBatch(msgspec.Struct):
    #: the withdrawals' batch_ref
    batch_ref: str
    #: the cards to buy, oldest withdrawal first
    cards: list[GiftCard]


class StoreCreditOperatorController(Controller):
    path = "/operator/store-credit"
    tags = ["store_credit"]
    guards = [operator_only]

    @post(
        "/batches",
        operation_id="storeCreditCreateBatch",
        summary="Take the waiting gift-card withdrawals into a batch: the cards to buy",
        status_code=HTTP_201_CREATED,
        responses=problems(409),
    )
    async def create_batch(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> GiftCardBatch:
        async with runtime.unit_of_work() as uow:
            # locked until this unit of work ends: two operators never take one twice
            waiting = await claim_waiting(uow, NAME, limit=500)
            if not waiting:
                raise Conflict("no gift-card withdrawal is waiting")
            batch_ref = f"giftcards-{uow.now:%Y%m%d%H%M%S}-{waiting[0].id}"
            await attach_to_batch(uow, [w.id for w in waiting], batch_ref=batch_ref, actor_id=request.user.id)
        cards = [
            GiftCard(
                withdrawal_id=w.id,
                store=w.destination["store"],
                email=w.destination["email"],
                amount=money(w.net, w.currency),
            )
            for w in waiting
        ]
        return GiftCardBatch(batch_ref=batch_ref, cards=cards)


@hookimpl
def agorakit_settings() -> SettingsSpec:
    return SettingsSpec(name=NAME, type=StoreCreditSettings)


@hookimpl
def agorakit_payout_methods() -> list[StoreCreditPayout]:
    return [StoreCreditPayout()]


@hookimpl
def agorakit_routes() -> list[type[Controller]]:
    return [StoreCreditOperatorController]
