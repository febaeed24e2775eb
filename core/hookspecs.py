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
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager
    from os import PathLike

    import click
    from litestar.types import ControllerRouterHandler
    from piccolo.conf.apps import AppConfig

    from agorakit.accounts import MemberOut
    from agorakit.attachments import Storage
    from agorakit.catalog import ListingKind
    from agorakit.catalog.schemas import ListingDraft, ListingOut
    from agorakit.catalog.screening import ScreenFlag
    from agorakit.errors import FieldError
    from agorakit.events import DomainEvent, Event, EventFollower
    from agorakit.http import OperatorQueue
    from agorakit.notifications import Mailer, Notice
    from agorakit.orders import OrderOut, Process, SubmitProof, TransitionContext
    from agorakit.runtime import Runtime, UnitOfWork
    from agorakit.settings import SettingsSpec


# -- Registration: collected once at start-up ------------------------------------------
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
def agorakit_routes(runtime: Runtime) -> list[ControllerRouterHandler] | None:
    """Contribute HTTP routes.

    Called once per app at start-up.  Return Litestar controllers, routers or route handlers.
    Put a plugin's routes under its own path prefix (``/gigs``, ``/leads``, ...); give
    every route an ``operation_id`` and a summary.  Handlers receive the runtime through
    dependency injection (a parameter named ``runtime``) and the caller as
    ``request.user``; a route open to anonymous callers sets
    ``opt={"exclude_from_auth": True}``.

    :param runtime: the site's runtime, for routes built from settings or from other
        plugins' contributions (the console's pages); most plugins do not need it.
    :return: a list of controllers / routers / handlers, or None.
    """


@hookspec
def agorakit_cli(cli: click.Group) -> None:
    """Add subcommands to the ``agorakit`` command line.

    Called once when the CLI starts, with the plugins the site config enables.

    :param cli: the root ``click`` group; add commands with ``cli.add_command(...)``
        or ``@cli.command()``.  Use a group named after your plugin for several commands.
    """


@hookspec
def agorakit_startup(runtime: Runtime) -> None:
    """Bind what the plugin needs for the whole life of a runtime, and check it.

    Called once while the runtime is built (app, worker, CLI command, test), after the
    tables are bound and before anything is served; synchronous (not ``async``).  The
    core's areas start here: money binds the payment and payout methods and registers
    the default commission, attachments its storage, notifications its mailer, orders
    checks its processes, guards and effects.  The core's own implementations run
    first, so a plugin's finds them bound.  Raise
    :class:`~agorakit.settings.ConfigError` to stop start-up with a message: every
    implementation still runs, and start-up stops with all their messages at once.

    :param runtime: the :class:`agorakit.runtime.Runtime` being built.
    """


# -- Listings and eligibility ----------------------------------------------------------
@hookspec
def agorakit_listing_kinds(runtime: Runtime) -> list[ListingKind] | None:
    """Register listing kinds (gig, campaign, offer, request, lead, ...).

    Called once per runtime, on first use, and must not be async.  Each kind is an
    :class:`agorakit.catalog.kinds.ListingKind`: its ``name``, the msgspec Struct of its
    kind-specific ``attributes`` (validated when a listing is created or edited), whether
    a new or changed listing needs operator review before it is published
    (``review_required``), whether sales of it pay the site's fees (``charge_fees``; the
    kind name is the ``Quote.kind`` fee plugins see) and who sees its listings
    (``visible_to``: ``"everyone"``, or ``"eligible"`` for listings only the members who
    may take them see, kept out of browsing and search).  Kind names are unique across
    plugins.

    :param runtime: the site's runtime (optional to accept): read your settings with
        ``runtime.plugin_settings``, e.g. whether your kind needs review.
    :return: a list of ``ListingKind``, or None.
    """


@hookspec(firstresult=True)
def agorakit_rank_listings(runtime: Runtime, words: list[str], offset: int, limit: int) -> list[int] | None:
    """Rank the listings a full-text search matches, best first: a search engine plugin.

    Called by ``GET /listings?q=...`` sorted by relevance (the default with ``q``), for
    each slice of the ranking the page needs.  Return the ids at positions ``offset`` to
    ``offset + limit - 1`` of the ranking of published listings that match every one of
    ``words`` (lower case, as the query gave them; stem them as your index does); fewer
    than ``limit`` means the ranking ends there.  The core then keeps, in that order,
    those the database says are published and pass the request's filters (kind,
    category, price, ...), asking for further slices until the page is full, so an id
    your index still holds for a listing since paused or closed is harmless.  A database
    ranks every match of a word before it knows the best 20 (``ts_rank``, FTS5's
    ``bm25``), so a word in 1% of a million listings costs a page tens to hundreds of
    milliseconds; an index that keeps its postings ranked answers in a fraction of one.
    May be ``async``.  Stops at the first non-None result; return None to let the
    database rank (``agorakit.plugins.search_tantivy`` ships one).

    :param words: the search's words, at least one.
    :param offset: the position of the first id wanted (0 = the best match).
    :param limit: how many ids are wanted.
    :return: listing ids, best first, or None.
    """


@hookspec
def agorakit_validate_listing(listing: ListingDraft, runtime: Runtime) -> list[FieldError] | None:
    """Check a listing before it is saved or submitted for review.

    Called when a listing is created, edited and submitted, with the listing as it would
    be stored (``id`` (None while creating), ``owner_id``, ``kind``, ``title``,
    ``description``, ``price`` in minor units, ``currency``, ``category`` slug and the
    ``attributes`` already converted to the kind's Struct).  Every plugin may contribute
    problems; any problem refuses the save with a 422 that lists them all, together with
    the core's own checks.  Name fields as the API does (``price.amount``,
    ``attributes.delivery_days``).  May be ``async``.

    :param listing: :class:`agorakit.catalog.schemas.ListingDraft`.
    :param runtime: the site's :class:`agorakit.runtime.Runtime` (for the plugin's
        settings: ``runtime.plugin_settings(name)``).
    :return: a list of :class:`agorakit.errors.FieldError` (empty or None when fine).
    """


@hookspec
def agorakit_screen_text(text: str, context: str) -> list[ScreenFlag] | None:
    """Screen member-written text for off-platform advertising.

    Called for listing titles and descriptions, the text attributes a listing kind names
    in ``screened_attributes`` (context ``"listing.attributes.<name>"``), message bodies
    and the texts plugins screen with :func:`agorakit.catalog.screen_fields` (context
    ``"<their context>.<field>"``, e.g. ``"offer.message"``).  The core's default implementation (``trylast``) flags e-mail addresses, phone
    numbers and URLs.  Whether a flag blocks the text (422)
    or only marks it for moderators (a listing then always goes to review, a message is
    listed for operators) is the site's ``[listings] screening`` / ``[messaging]
    screening`` setting.
    Every plugin's flags count.  May be ``async``.

    :param text: the text to screen.
    :param context: where it comes from, e.g. ``"listing.title"``, ``"message.body"``.
    :return: a list of :class:`agorakit.catalog.screening.ScreenFlag` (``reason``,
        ``match``), or None.
    """


@hookspec
def agorakit_can_take(listing: ListingOut, member: MemberOut, runtime: Runtime) -> str | None:
    """Veto a member taking a listing (ordering a gig, taking a task, locking a request).

    Every plugin is asked; any veto denies, and the reason is shown to the member.  Use it
    for countries, hired groups, category qualifications and skills.  May be ``async``.

    :param listing: the listing (:class:`agorakit.catalog.schemas.ListingOut`).
    :param member: the member (:class:`agorakit.accounts.schemas.MemberOut`).
    :param runtime: the site's runtime (for a plugin's settings).
    :return: None to allow, or a sentence saying why not (and what the member can do).
    """


# -- Orders ----------------------------------------------------------------------------
@hookspec
def agorakit_processes(runtime: Runtime) -> list[Process] | None:
    """Contribute order processes.

    Called once at start-up.  Return :class:`agorakit.orders.process.Process` objects:
    states, transitions (sources, target, actors, guards, effects), timers and proof
    transitions.  Read durations from your settings with ``runtime.plugin_settings``.
    Keep returning an old version of a process while orders may still use it: an order
    always follows the (name, version) it started with.

    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: a list of ``Process``, or None.
    """


@hookspec
def agorakit_order_guards() -> dict[str, Callable[[TransitionContext], Any]] | None:
    """Name guards that transitions can require.

    Called once at start-up.  A guard is ``guard(ctx) -> str | None`` (may be ``async``):
    None lets the transition happen, a sentence refuses it with a 409 ``guard_failed``
    that shows the sentence.  ``ctx`` is an :class:`agorakit.orders.TransitionContext`
    (``runtime``, ``uow``, ``order``, ``transition``, ``actor_role``, ``actor_id``,
    ``data``).  Guard names are unique across plugins.  A guard with a set form
    (``agorakit.orders.set_form``: ``many(contexts)`` returns one reason or None
    per context; the result follows :class:`agorakit.orders.SetForm`) lets the worker
    fire its transition's due timers as a set.

    :return: a dict of name → guard, or None.
    """


@hookspec
def agorakit_order_effects() -> dict[str, Callable[[TransitionContext], Any]] | None:
    """Name effects that transitions run.

    Called once at start-up.  An effect is ``async effect(ctx)`` run inside the
    transition's transaction, after the order entered its new state (``ctx.order`` is
    the order after the transition): post to the ledger with ``agorakit.money.ledger``,
    write the plugin's own rows, record events with ``ctx.uow.record``.  An exception
    rolls the whole transition back; when a timer fires it, the worker runs it in a
    savepoint of a batch's transaction, so that rolls back this timer's work only (let
    database errors propagate: a caught one leaves the transaction unusable).  The core
    provides ``release_escrow`` (escrow →
    seller net + fees) and ``refund_escrow`` (escrow → buyer credit), and the effects of
    its fixed-price process (``fixed_price_*``, see ``agorakit.orders.fixed_price_process``).  Effect names are
    unique across plugins.  An effect with a set form (``agorakit.orders.set_form``:
    ``many(contexts)`` does for a batch's orders what the effect does for each in turn;
    the result follows :class:`agorakit.orders.SetForm`) lets the worker fire its transition's due timers as a set, in a few statements.

    :return: a dict of name → effect, or None.
    """


@hookspec
def agorakit_validate_proof(order: OrderOut, proof: SubmitProof) -> list[FieldError] | None:
    """Check a proof of work before it is stored.

    Called when a proof (a delivery, a microjob proof) is submitted.  Every plugin may
    contribute problems; any problem refuses it with a 422 listing them.  May be
    ``async``.

    :param order: the order (:class:`agorakit.orders.schemas.OrderOut`).
    :param proof: :class:`agorakit.orders.schemas.SubmitProof` (``text``, ``urls``,
        ``attachments``).
    :return: a list of :class:`agorakit.errors.FieldError`, or None.
    """


# -- Domain events ---------------------------------------------------------------------
@hookspec
def agorakit_event_types() -> list[type[Event]] | None:
    """Declare domain event classes (start-up).

    Return a list of :class:`agorakit.events.Event` subclasses, each with a unique
    ``name`` class variable and typed fields.  Recorded events of these classes reach
    handlers with ``event.payload`` set to the typed event; ``docs/events.md`` lists the
    core's and the shipped plugins' classes.  Must not be async.
    """


@hookspec
def agorakit_on_event(event: DomainEvent, runtime: Runtime) -> None:
    """React to a domain event, after the transaction that produced it has committed.

    Called for every event (``member.registered``, ``order.transitioned``,
    ``message.posted``, ``review.posted``, ``dispute.resolved``, ...; the docs list them)
    for notifications, webhooks and analytics.  It runs after commit, so it can never undo
    the change.  Events are stored in the same transaction as the change (an outbox) and
    delivered *at least once*: when a plugin raises, the error is logged, the others still
    run, and the worker delivers the event again later (to every plugin) until all succeed
    or the attempts run out.  Use ``event.id`` to make a handler idempotent.  A served
    site calls it from a background task after the response (``[events] delivery``), so
    a handler never slows a request down.  Decorated with
    :func:`agorakit.events.event_handler`, an implementation takes only the events it
    names, and may run inside the transaction that records them instead (for handlers
    that only write the site's database: its rows commit with the change).  May be
    ``async``.

    :param event: the event: ``id``, ``name``, ``at``, ``actor_id``, ``subject`` and
        ``data``.
    :param runtime: the site's :class:`agorakit.runtime.Runtime` (settings, clock,
        database).
    """


@hookspec
def agorakit_on_events(events: list[DomainEvent], runtime: Runtime) -> None:
    """React to committed domain events a batch at a time: ``agorakit_on_event``'s set-wise form.

    Gets the events that were published together, in commit order: a unit of work's,
    several units of work's (the background delivery takes what is queued), a worker
    batch's (each batch of fired timers) or the worker's re-published ones.  Implement it
    instead of ``agorakit_on_event`` when a handler stores something per event and can do
    it for the whole batch in a few statements (the core's notifications and order
    system messages do, inside the events' transaction: see
    :func:`agorakit.events.event_handler`).  A plugin implementing both gets every event
    through each.

    Delivery is *at least once*, as for ``agorakit_on_event``: make the handler
    idempotent on ``event.id``.  To fail only some events, raise
    :class:`agorakit.events.EventsFailed` with their ids and reasons: they are delivered
    again later, the others count as handled.  Any other exception makes the batch be
    handed to this plugin again one event at a time, so that one bad event does not fail
    the others.  May be ``async``.

    :param events: the committed events (see ``agorakit_on_event``), oldest first.
    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    """


@hookspec
def agorakit_event_followers(runtime: Runtime) -> list[EventFollower] | None:
    """Contribute followers: readers of the stored events that every served app process runs.

    An event reaches ``agorakit_on_event`` in one process only; a follower sees every
    event in every process.  Use one for state each process or host keeps for itself
    (a search index in a host's folder, a cache): subclass
    :class:`agorakit.events.EventFollower`, keep its position where the state is, and
    read with :func:`agorakit.events.read_feed` (in id order from that position, without
    skipping an event that commits after a higher one).  Called once when a served app
    process starts; the process starts the followers after the event delivery and stops
    them first when it stops.  Each reads at once (catching up from its stored
    position while the app serves), then every ``interval`` seconds.  The worker and the
    ``agorakit`` commands run none.  Return the same object for the life of the runtime
    (keep it on the runtime) so that an ``agorakit_on_events`` handler can ask it to
    catch up at once (``follower.nudge()``, ``await follower.catch_up(timeout=...)``).
    May be ``async``.  See ``docs/events.md``.

    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: a list of :class:`agorakit.events.EventFollower`, or None.
    """


# -- Messaging, notifications and files ------------------------------------------------
@hookspec
def agorakit_notify(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """Say who should be told about a domain event, and with which template.

    Called for every event by the core's notification service, inside the transaction
    that records it (after the commit for an event with ``fan_out``, or one delivered
    again), which turns each returned notice into a site notification (the member's
    inbox) and, unless the member turned email off for the notice's category, an email in
    the outbox that the worker delivers.  The core notifies for its own events (orders, messages, reviews,
    disputes, listings, withdrawals); a plugin returns notices for its own events, or for
    core events it wants to describe differently.  Never notify the member who caused the
    event (``event.actor_id``) unless they need a receipt.  May be ``async``.

    :param event: the committed event (see ``agorakit_on_event``).
    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: a list of :class:`agorakit.notifications.Notice` (``member_id``,
        ``category``, ``template``, ``context``, ``link``), or None.
    """


@hookspec
def agorakit_notices_read_ahead(
    events: list[DomainEvent], runtime: Runtime
) -> AbstractAsyncContextManager[Any] | list[AbstractAsyncContextManager[Any]] | None:
    """Read ahead, once for a batch of events, what this plugin's ``agorakit_notify``
    will need for each of them.

    The notification service calls it with every batch of committed events it notifies
    about and enters each returned async context manager around the whole batch: inside
    it, the plugin's ``agorakit_notify`` finds what was read (e.g. in a context variable
    the manager sets and resets) instead of reading it once per event.  The orders area
    reads the batch's orders and their history this way, in two statements.  May be
    ``async``.

    :param events: the committed events of the batch.
    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: an async context manager (or a list of them), or None when the batch needs
        nothing read ahead.
    """


@hookspec(firstresult=True)
def agorakit_account_email(
    runtime: Runtime, uow: UnitOfWork, member: dict[str, Any], template: str, context: dict[str, Any]
) -> bool | None:
    """Queue a security email about a member's account, inside the caller's unit of work.

    Called by the accounts area for the emails that carry a secret or concern the
    account itself, whatever the member's notification settings: the email verification
    link (template ``account_verify_email``), the password reset link
    (``account_password_reset``) and the notice that someone tried to register with the
    member's address (``account_registration_attempt``).  These never go to the inbox
    (a secret must not stay on the site).  The core's notifications plugin renders
    ``notifications/<template>.jinja2`` and puts the email in the outbox, sent after the
    commit; a plugin can send them another way.  May be ``async``.  Stops at the first
    non-None result.

    :param uow: the unit of work that made the secret; queue in it so that nothing is
        sent if it rolls back.
    :param member: ``id``, ``email`` (the recipient) and ``display_name``.
    :param template: the template name.
    :param context: template variables: ``link`` and ``token`` for the verification
        and reset emails, with ``hours`` or ``minutes`` of validity.
    :return: True when the email is queued, or None to let another plugin do it.
    """


@hookspec
def agorakit_template_dirs() -> list[str | PathLike[str]] | None:
    """Contribute folders of Jinja2 templates (notification emails and inbox texts).

    Called once at start-up.  A notice's template ``gigs_delivered`` is looked up as
    ``notifications/gigs_delivered.jinja2`` in the site's ``[email] templates_dir`` first,
    then in these folders (in plugin order), then in the core's own; so a site overrides
    any template by putting a file with the same name in its folder.  Ship templates in
    a ``templates/`` folder inside the plugin and prefix their names with the plugin name.

    :return: a list of folder paths (``str`` or ``pathlib.Path``), or None.
    """


@hookspec
def agorakit_mailers() -> list[Mailer] | None:
    """Contribute ways of sending email (the outbox's transport).

    Called once at start-up.  The site picks one by name with ``[email] mailer``; the
    core ships ``smtp`` (aiosmtplib, the ``[email]`` SMTP settings) and ``log``
    (development).  The worker calls ``await mailer.send(message)`` outside any
    database transaction; raising means "not sent, try again later" (with backoff).

    :return: a list of objects following :class:`agorakit.notifications.mailers.Mailer`
        (``name``, ``async send(message)``, optional ``bind(runtime)``:
        :class:`agorakit.notifications.BindableMailer`), or None.
    """


@hookspec
def agorakit_storages() -> list[Storage] | None:
    """Contribute places to keep uploaded files (attachments).

    Called once at start-up.  The site picks one by name with ``[attachments] storage``;
    the core ships ``local`` (a folder on disk, ``[attachments] path``), the shipped
    ``storage_s3`` plugin ``s3``.  Files are written before the row that references them
    is committed, and deleted again if that transaction fails.  Each file is read from
    the storage its row names, so files kept before a site changed storage stay readable.

    :return: a list of objects following :class:`agorakit.attachments.storage.Storage`
        (``name``, ``async save(key, data)``, ``async read(key)``, ``async delete(key)``,
        optional ``bind(runtime)``: :class:`agorakit.attachments.BindableStorage`,
        ``check()``: :class:`agorakit.attachments.CheckableStorage`, ``open(key)``:
        :class:`agorakit.attachments.StreamableStorage`, download links:
        :class:`agorakit.attachments.LinkableStorage`), or None.
    """


# -- Operators -------------------------------------------------------------------------
@hookspec
def agorakit_operator_queues(runtime: Runtime) -> list[OperatorQueue] | None:
    """Report the work queues of the plugin's own tables for operators.

    Called on every ``GET /operator/queues`` (the operators' overview of what waits for
    them), outside any transaction; may be ``async``.  Count each queue with one cheap
    aggregate query (:func:`agorakit.http.count_queue`: the items, the oldest one's time
    and the overdue ones at once) and return it even when it is empty, so operators see
    that nothing waits.  Judge "overdue" by the plugin's own due rule, as of
    ``runtime.clock.now()``, exactly as the plugin's list route does.

    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: a list of :class:`agorakit.http.OperatorQueue` (``key`` dotted and prefixed
        with the plugin's name, ``title`` for a person, ``count``, ``oldest_at``,
        ``overdue``, ``due_hours``, ``list_path``: the API list route that shows the
        items, ``area``: the plugin's name), or None.
    """


# -- Demo site -------------------------------------------------------------------------
@hookspec
def agorakit_demo_settings() -> dict[str, Any] | None:
    """The plugin's settings on the demo site: ``agorakit demo`` writes them into the
    ``site.toml`` it creates, as the section ``[plugins.<name>]``, so that the plugin's
    demo data (and a walkthrough run against the demo) find what they need configured,
    e.g. the service types of the demo's categories.  The owner of the demo edits them
    there like any setting.  Must not be async.

    :return: the section's keys and values (strings, integers, booleans, lists and
        tables, validated like the site's own ``[plugins.<name>]``), or None to keep the
        defaults.
    """


@hookspec
def agorakit_demo_data(runtime: Runtime, members: dict[str, MemberOut]) -> None:
    """Load the plugin's demo data into a freshly migrated demo site (``agorakit demo``).

    Called once, after the core has created the demo members, only when the demo
    database is new.  Go through the services (not raw inserts) so the data is what
    real use would produce.  May be ``async``.

    :param runtime: the demo site's :class:`agorakit.runtime.Runtime`.
    :param members: the demo members by role name (``"operator"``, ``"seller"``,
        ``"buyer"``), each a :class:`agorakit.accounts.schemas.MemberOut`.
    """
