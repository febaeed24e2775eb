"""Every hook agorakit calls: the reference documentation for plugin authors.

Implement a hook with ``@agorakit.hookimpl`` on a function of the same name in your
plugin module, and register the module under the ``agorakit`` entry point group.
Hooks are always called with keyword arguments; an implementation may accept any subset
of a hook's parameters.  Collecting hooks return one contribution per plugin and the
core combines them; none of them is chained through another plugin's result.

The reference in ``docs/hooks.md`` is generated from these docstrings
(``agorakit docs hooks``); a test fails when it is out of date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click
    from piccolo.conf.apps import AppConfig

    from agorakit.events import DomainEvent
    from agorakit.money.fees import FeeLine, Quote
    from agorakit.settings import SettingsSpec


# --------------------------------------------------------------------------------------
# Registration: collected once at start-up
# --------------------------------------------------------------------------------------


@hookspec
def agorakit_settings() -> SettingsSpec | None:
    """Declare the plugin's settings.

    Called once while the site config is loaded.  The section ``[plugins.<name>]`` of
    ``site.toml`` (plus ``AGORAKIT_PLUGINS__<NAME>__<FIELD>`` environment overrides) is
    validated against the returned Struct type; a wrong key or type stops start-up with
    a message that names the file, the plugin and the field.  Every field needs a
    default, so that enabling the plugin is one line.  Mark secrets with
    :data:`agorakit.settings.Secret` so they are masked in ``GET /-/plugins``.

    Read the validated settings at run time with ``runtime.plugin_settings(name)``.

    :return: ``SettingsSpec(name="<plugin name>", type=MySettingsStruct)``, or None if
        the plugin has no settings.
    """


@hookspec
def agorakit_tables() -> list[AppConfig] | None:
    """Contribute the plugin's database tables.

    Called once at start-up.  Return the plugin's Piccolo ``AppConfig`` objects (usually
    the ``APP_CONFIG`` of its ``piccolo_app.py``), which carry the table classes and the
    migrations folder.  ``agorakit migrate`` applies their migrations after the core's,
    honouring ``migration_dependencies``; tables are bound to the site's database.
    Table names must be prefixed with the plugin name (``tablename="gigs_gig"``).

    :return: a list of ``piccolo.conf.apps.AppConfig``, or None.
    """


@hookspec
def agorakit_routes() -> list[Any] | None:
    """Contribute HTTP routes.

    Called once at start-up.  Return Litestar controllers, routers or route handlers.
    Put a plugin's routes under its own path prefix (``/gigs``, ``/leads``, ...); give
    every route an ``operation_id`` and a summary.  Handlers receive the runtime through
    dependency injection (a parameter named ``runtime``) and the caller as
    ``request.user``; a route open to anonymous callers sets
    ``opt={"exclude_from_auth": True}``.

    :return: a list of controllers / routers / handlers, or None.
    """


@hookspec
def agorakit_cli(cli: click.Group) -> None:
    """Add subcommands to the ``agorakit`` command line.

    Called once when the CLI starts, with the plugins the site config enables.

    :param cli: the root ``click`` group; add commands with ``cli.add_command(...)``
        or ``@cli.command()``.  Use a group named after your plugin for several commands.
    """


# --------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------


@hookspec
def agorakit_compute_fees(quote: Quote) -> list[FeeLine] | None:
    """Price the fees of a sale.

    Called whenever an order is quoted or its escrow released.  Every fee plugin returns
    its own lines; the core adds them up (no plugin sees another's result).  A seller
    fee is taken from what the seller receives; a buyer fee is added to what the buyer
    pays.  Amounts are integer minor units, never negative; round percentages half up
    (:func:`agorakit.money.fees.percent_of`).  The core's default percentage commission
    is registered ``trylast``; set ``[fees] commission = false`` when yours replaces it.

    :param quote: :class:`agorakit.money.fees.Quote`: ``amount``, ``currency``, ``kind``,
        ``buyer_id``, ``seller_id`` and ``context``.
    :return: a list of :class:`agorakit.money.fees.FeeLine` (``payer``, ``amount``,
        ``label``, ``code``), or None for no fee.
    """


@hookspec
def agorakit_payment_methods() -> list[Any] | None:
    """Offer pay-in methods.

    Called once at start-up.  Each method has a ``name`` (what ``[money]
    payment_methods`` binds), a ``label``, and ``async start(runtime, uow, payment)``
    returning a :class:`agorakit.money.methods.PaymentStep`.  A method that settles at
    once calls :func:`agorakit.money.payments.settle` in the given unit of work.  See
    :class:`agorakit.money.methods.PaymentMethod`.  A method that needs the site's
    settings may define ``bind(runtime)``: it is called once if the site binds the
    method, and what it returns is the method used.

    :return: a list of payment method objects, or None.
    """


@hookspec
def agorakit_payout_methods() -> list[Any] | None:
    """Offer payout (withdrawal) methods.

    Called once at start-up.  Each method has a ``name`` (bound by ``[money]
    payout_methods``; it also names the ledger accounts ``payouts:<name>:clearing`` and
    ``external:<name>``), a ``label``, ``manual`` (operators settle by hand), the
    ``destination_fields`` it needs, ``minimum(currency)``, ``fee(amount, currency)``,
    ``fee_description(currency)`` and ``validate_destination(destination)``.  See
    :class:`agorakit.money.methods.PayoutMethod`.  A method that needs the site's
    settings (its minimum, its fee, credentials) may define ``bind(runtime)``: it is
    called once if the site binds the method, and what it returns is the method used
    (e.g. a copy configured from ``runtime.plugin_settings(...)``).

    :return: a list of payout method objects, or None.
    """


@hookspec
def agorakit_can_withdraw(member: Any, request: Any) -> str | None:
    """Veto a withdrawal.  Any veto denies it.

    Called before a withdrawal is accepted, after its amount, minimum and destination
    were checked.  May be ``async``.

    :param member: the member asking (:class:`agorakit.accounts.schemas.MemberOut`).
    :param request: :class:`agorakit.money.withdrawals.WithdrawalRequest`: ``method``,
        ``amount`` (minor units) and ``currency``.
    :return: None to allow, or a sentence shown to the member saying why not and what
        they can do (e.g. "your success rate is 62%; withdrawals need 75%").
    """


# --------------------------------------------------------------------------------------
# Domain events
# --------------------------------------------------------------------------------------


@hookspec
def agorakit_on_event(event: DomainEvent, runtime: Any) -> None:
    """React to a domain event, after the transaction that produced it has committed.

    Called once per event (``member.registered``, ``member.suspended``, and the order,
    listing and money events of later modules) for notifications, webhooks and
    analytics.  It runs after commit, so it can never undo the change; an exception
    is logged and does not stop the other plugins.  May be ``async``.

    :param event: the event: ``name``, ``at``, ``actor_id``, ``subject`` and ``data``.
    :param runtime: the site's :class:`agorakit.runtime.Runtime` (settings, clock,
        database).
    """


# --------------------------------------------------------------------------------------
# Demo site
# --------------------------------------------------------------------------------------


@hookspec
def agorakit_demo_data(runtime: Any, members: dict[str, Any]) -> None:
    """Load the plugin's demo data into a freshly migrated demo site (``agorakit demo``).

    Called once, after the core has created the demo members, only when the demo
    database is new.  Go through the services (not raw inserts) so the data is what
    real use would produce.  May be ``async``.

    :param runtime: the demo site's :class:`agorakit.runtime.Runtime`.
    :param members: the demo members by role name (``"operator"``, ``"seller"``,
        ``"buyer"``), each a :class:`agorakit.accounts.schemas.MemberOut`.
    """
