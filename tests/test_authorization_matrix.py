"""Who may touch which object: every operation that takes an id in its path, per actor.

The operations come from the OpenAPI document, so a new route with an id in its path
fails here until ``MATRIX`` says who may use it.  Each operation is called on an object
of the seeded world (``api_world``) as:

- the **owner** (a party of the order, the listing's seller, ...): allowed, which means
  anything but 401/403/404 (the state or the body may still refuse with 409 or 422);
- a **stranger** (another member): by default 404, as if the object did not exist,
  since the API never tells a member about another member's objects; 403 on
  operator routes; allowed where the object is public (a published listing);
- an **operator**: allowed, or what the entry says (operators read orders and write in
  their conversations as Support, but do not pay them or review their work); on a
  route for the site's owner only (changing roles), 403, and the owner is allowed;
- **anonymous** (no token): 401 on every operation the document marks as needing a
  bearer token, allowed on the others.

Every expected 403/404 must also be documented for the operation.  Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from api_world import all_plugins_config, build_world, usd

#: allowed: the request passed authentication and authorization (any status but 401/403/404)
OK = "ok"


@dataclass(frozen=True)
class Rule:
    #: who owns the object: "buyer", "seller", "operator" (operator-only route),
    #: "site_owner" (owner-only route) or "anyone" (any signed-in member, or the public on
    #: a public route)
    owner: str
    #: path parameter -> name of a world id (or a literal value)
    path: dict[str, Any]
    stranger: int | str = 404
    operator: int | str = OK
    body: Any = None


def party(owner: str, *, stranger: int | str = 404, operator: int | str = OK, body: Any = None, **path: Any):
    """An object of ``owner``'s that other members may not see."""
    return Rule(owner, path, stranger=stranger, operator=operator, body=body)


def anyone(*, operator: int | str = OK, body: Any = None, **path: Any) -> Rule:
    """A public object (a published listing, a member's ratings): every member may use it."""
    return Rule("anyone", path, stranger=OK, operator=operator, body=body)


def operators(*, operator: int | str = OK, body: Any = None, **path: Any) -> Rule:
    """An operator-only route: members get 403."""
    return Rule("operator", path, stranger=403, operator=operator, body=body)


def owners(*, body: Any = None, **path: Any) -> Rule:
    """A route for the site's owner only: members and operators get 403."""
    return Rule("site_owner", path, stranger=403, operator=403, body=body)


ORDER = {"order_id": "order_id"}
DONE = {"order_id": "completed_order_id"}
CANCEL = {"order_id": "cancel_order_id"}
CAMPAIGN = {"campaign_id": "campaign_id"}
SPARE = {"campaign_id": "spare_campaign_id"}
TASK = {"order_id": "task_id"}


@dataclass(frozen=True)
class Ref:
    """A world id in a request body (the path ids are named the same way)."""

    name: str


def resolve(body: Any, ids: dict[str, Any]) -> Any:
    if isinstance(body, Ref):
        return ids[body.name]
    if isinstance(body, dict):
        return {key: resolve(value, ids) for key, value in body.items()}
    return body


#: operation id -> who may use it.  Order matters a little: the calls change the world
#: (a suspension before the reactivation).
MATRIX: dict[str, Rule] = {
    # accounts
    "getMember": operators(member_id="member_id"),
    "updateMember": operators(member_id="member_id", body={"display_name": "Renamed"}),
    "suspendMember": operators(member_id="member_id", body={"reason": "spam"}),
    "warnMember": operators(member_id="member_id", body={"reason": "spam"}),
    "flagMember": operators(member_id="member_id", body={"reason": "spam"}),
    "unflagMember": operators(member_id="member_id"),
    "reactivateMember": operators(member_id="member_id"),
    "setMemberRole": owners(member_id="member_id", body={"role": "member"}),
    # catalog
    "operatorUpdateCategory": operators(category_id="category_id", body={"position": 3}),
    "operatorApproveQualification": operators(qualification_id="qualification_id"),
    "operatorRejectQualification": operators(
        qualification_id="qualification_id", body={"reason": "no portfolio"}
    ),
    "updateMyQualification": party(
        "seller", operator=404, qualification_id="qualification_id", body={"notify": False}
    ),
    "operatorRevokeQualification": operators(
        qualification_id="qualification_id", body={"reason": "copied work"}
    ),
    "getListing": anyone(listing_id="listing_id"),
    "getListingEligibility": anyone(listing_id="listing_id"),
    "updateListing": party(
        "seller", operator=404, listing_id="draft_listing_id", body={"title": "I will write a slogan"}
    ),
    "submitListing": party("seller", operator=404, listing_id="draft_listing_id"),
    "pauseListing": party("seller", operator=404, listing_id="draft_listing_id"),
    "resumeListing": party("seller", operator=404, listing_id="draft_listing_id"),
    "closeListing": party("seller", operator=404, listing_id="draft_listing_id"),
    "operatorApproveListing": operators(listing_id="draft_listing_id"),
    "operatorRejectListing": operators(listing_id="draft_listing_id", body={"reason": "too vague"}),
    "operatorPauseListing": operators(listing_id="draft_listing_id", body={"reason": "a complaint"}),
    "operatorResumeListing": operators(listing_id="draft_listing_id", body={"reason": "settled"}),
    "operatorCloseListing": operators(listing_id="draft_listing_id", body={"reason": "copied artwork"}),
    # orders
    "getOrder": party("buyer", **ORDER),
    "getOrderHistory": party("buyer", **ORDER),
    "fireTransition": party("buyer", order_id="order_id", name="accept"),
    "payOrder": party("buyer", operator=403, body={"method": "balance"}, **ORDER),
    "listProofs": party("buyer", **ORDER),
    "submitProof": party("seller", operator=403, body={"text": "the files"}, **ORDER),
    "deliverOrder": party("seller", operator=403, body={"message": "again"}, **ORDER),
    "reviewProof": party(
        "buyer", operator=403, body={"decision": "accept"}, order_id="order_id", proof_id="proof_id"
    ),
    # messaging and attachments
    "getOrderConversation": party("buyer", **ORDER),
    "getConversation": party("buyer", conversation_id="conversation_id"),
    "listMessages": party("buyer", conversation_id="conversation_id"),
    # operators write (as Support) in an order's conversation
    "postMessage": party("buyer", body={"body": "hello"}, conversation_id="conversation_id"),
    "markConversationRead": party("buyer", body={}, conversation_id="conversation_id"),
    # a message's sender only: the other party 403, a stranger 404, operators 403
    "editMessage": party(
        "buyer",
        operator=403,
        body={"body": "Navy blue?"},
        conversation_id="conversation_id",
        message_id="message_id",
    ),
    "deleteMessage": party("buyer", operator=403, conversation_id="conversation_id", message_id="message_id"),
    "getAttachment": party("buyer", attachment_id="attachment_id"),
    "downloadAttachment": party("buyer", attachment_id="attachment_id"),
    # notifications
    "markNotificationRead": party("seller", operator=404, notification_id="notification_id"),
    "operatorRetryEmail": operators(email_id="email_id"),
    "operatorRetryEvent": operators(event_id="event_id"),
    # reviews
    "listOrderReviews": party("buyer", **DONE),
    "postReview": party("buyer", operator=403, body={"rating": 4, "text": "Good."}, **DONE),
    "listListingReviews": anyone(listing_id="listing_id"),
    "getMemberRating": anyone(member_id="seller_id"),
    "listMemberReviews": anyone(member_id="seller_id"),
    "operatorGetReview": operators(review_id="review_id"),
    "operatorHideReview": operators(review_id="review_id", body={"reason": "personal data"}),
    "operatorUnhideReview": operators(review_id="review_id"),
    # disputes
    "listOrderDisputes": party("buyer", **ORDER),
    "listDisputeReasons": party("buyer", **ORDER),
    "openDispute": party(
        "buyer", operator=403, body={"reason": "not_delivered", "text": "Nothing came."}, **ORDER
    ),
    "getDispute": party("buyer", dispute_id="dispute_id"),
    "resolveDispute": operators(dispute_id="dispute_id", body={"outcome": "reject", "note": "delivered"}),
    # reports
    "getReport": operators(report_id="report_id"),
    "decideReport": operators(report_id="report_id", body={"action": "dismiss"}),
    # support: the member's own request; operators use the operator routes
    "getSupportTicket": party("buyer", operator=404, ticket_id="ticket_id"),
    "operatorGetSupportTicket": operators(ticket_id="ticket_id"),
    "operatorAssignSupportTicket": operators(ticket_id="ticket_id", body={"operator_id": Ref("operator_id")}),
    "operatorReplySupportTicket": operators(ticket_id="ticket_id", body={"body": "We are on it."}),
    "closeSupportTicket": party("buyer", operator=404, ticket_id="ticket_id"),
    "operatorCloseSupportTicket": operators(ticket_id="ticket_id"),
    # webhooks (the world's endpoint is disabled: nothing is sent; deleted last)
    "operatorGetWebhook": operators(endpoint_id="webhook_id"),
    "operatorUpdateWebhook": operators(endpoint_id="webhook_id", body={"description": "CRM"}),
    "operatorRotateWebhookSecret": operators(endpoint_id="webhook_id"),
    "operatorListWebhookDeliveries": operators(endpoint_id="webhook_id"),
    "operatorGetWebhookDelivery": operators(endpoint_id="webhook_id", delivery_id="webhook_delivery_id"),
    "operatorReplayWebhookDelivery": operators(endpoint_id="webhook_id", delivery_id="webhook_delivery_id"),
    "operatorReplayWebhookEvents": operators(
        endpoint_id="webhook_id", body={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}
    ),
    "operatorResumeWebhook": operators(endpoint_id="webhook_id"),
    "operatorDeleteWebhook": operators(endpoint_id="webhook_id"),
    # money
    "getPayment": party("buyer", payment_id="payment_id"),
    "cancelPayment": party("buyer", operator=404, payment_id="payment_id"),
    "getWithdrawal": party("seller", withdrawal_id="withdrawal_id"),
    "cancelWithdrawal": party("seller", operator=404, withdrawal_id="withdrawal_id"),
    "operatorGetAccount": operators(name="platform:fees"),
    "operatorMemberBalance": operators(member_id="member_id"),
    "operatorCompleteWithdrawal": operators(withdrawal_id="withdrawal_id", body={}),
    "operatorFailWithdrawal": operators(withdrawal_id="withdrawal_id", body={"reason": "account closed"}),
    "cancelVoucher": party("seller", operator=404, voucher_id="voucher_id"),
    # gigs
    "quoteGig": anyone(listing_id="listing_id"),
    "orderGig": anyone(listing_id="listing_id", body={}),
    "listGigCancellations": party("buyer", **CANCEL),
    "proposeGigCancellation": party("buyer", operator=403, body={"reason": "no longer needed"}, **CANCEL),
    "declineGigCancellation": party("seller", operator=403, body={}, **CANCEL),
    "acceptGigCancellation": party("seller", operator=403, **CANCEL),
    "withdrawGigCancellation": party("buyer", operator=403, **CANCEL),
    "cancelLateGigOrder": party("buyer", **ORDER),
    "deliverGigOrder": party("seller", operator=403, body={"message": "again"}, **ORDER),
    "acceptGigOrder": party("buyer", operator=403, **ORDER),
    "sellerCancelGigOrder": party("seller", operator=403, **ORDER),
    "gigSellerRecord": anyone(member_id="seller_id"),
    # bank_transfer
    "bankTransferConfirmPayment": operators(
        payment_id="payment_id", body={"amount": usd("20.00"), "reference": "STMT-1"}
    ),
    "bankTransferGetPayoutBatch": operators(ref="ref"),
    "bankTransferExportPayoutBatch": operators(ref="ref"),
    # paypal (not configured on this site: no PayPal payout exists, checkout answers 503)
    "paypalCheckout": party("buyer", operator=404, payment_id="payment_id"),
    "paypalCapture": party("buyer", operator=404, payment_id="payment_id"),
    "paypalGetPayoutBatch": operators(operator=404, batch_id=999),
    "paypalSyncPayoutBatch": operators(operator=404, batch_id=999),
    "paypalGetPayoutItem": operators(operator=404, withdrawal_id="withdrawal_id"),
    "paypalCancelUnclaimedPayout": operators(operator=404, withdrawal_id="withdrawal_id"),
    # microjobs: the buyer is the employer, the seller the worker; operators read
    # campaigns and tasks and pause or stop campaigns, but do not fund them, do or rate
    # tasks, or see an employer's groups
    "microjobsGetCampaign": party("buyer", **CAMPAIGN),
    "microjobsCampaignTasks": party("buyer", **CAMPAIGN),
    "microjobsPauseCampaign": party("buyer", **SPARE),
    "microjobsResumeCampaign": party("buyer", **SPARE),
    "microjobsPayCampaign": party("buyer", operator=404, body={"method": "balance"}, **SPARE),
    "microjobsAddPositions": party("buyer", operator=404, body={"positions": 1}, **SPARE),
    "microjobsOperatorPause": operators(body={"reason": "a complaint"}, **SPARE),
    "microjobsOperatorResume": operators(body={"reason": "settled"}, **SPARE),
    "microjobsGetJob": anyone(campaign_id="seller_campaign_id"),
    "microjobsTakeJob": anyone(campaign_id="seller_campaign_id"),
    "microjobsVisitJob": anyone(campaign_id="seller_ptc_campaign_id"),
    "microjobsGo": anyone(token="go_token"),
    "microjobsConfirmVisit": party("seller", operator=403, order_id="ptc_task_id"),
    "microjobsGetTask": party("seller", **TASK),
    "microjobsSubmitProof": party(
        "seller", operator=403, body={"answers": [{"field": "username", "value": "ada_designs"}]}, **TASK
    ),
    "microjobsGiveUpTask": party("seller", **TASK),
    "microjobsRateTask": party("buyer", operator=403, body={"satisfied": True}, **TASK),
    "microjobsWorkerStats": party("seller", member_id="seller_id"),
    "microjobsOperatorWorker": operators(member_id="seller_id"),
    "microjobsGetGroup": party("buyer", operator=404, group_id="group_id"),
    "microjobsListGroupMembers": party("buyer", operator=404, group_id="group_id"),
    "microjobsRemoveGroupMember": party("buyer", operator=404, group_id="group_id", member_id="seller_id"),
    "microjobsAddGroupMember": party(
        "buyer", operator=404, body={"member_id": Ref("seller_id")}, group_id="group_id"
    ),
    "microjobsDeleteGroup": party("buyer", operator=404, group_id="group_id"),
    "microjobsOrderOffer": anyone(listing_id="offer_listing_id", body={}),
    # prepaid: the buyer's requests, the seller's lock and offers.  Members without access
    # to a request's category (the stranger; operators, who take no work) get 403
    # not_eligible when they look at or take an open request, as for its listing; a
    # request out of the feed, and the offers on one, are a 404 to them.
    "prepaidGetRequest": party("buyer", request_id="locked_request_id"),
    "prepaidReturnToPool": party("buyer", operator=403, request_id="locked_request_id"),
    "prepaidReleaseLock": party(
        "seller", operator=403, body={"reason": "no time"}, request_id="locked_request_id"
    ),
    # released above: open again, so the stranger sees it but may not take it
    "prepaidLockRequest": party("seller", stranger=403, operator=403, request_id="locked_request_id"),
    "prepaidCancelRequest": party("buyer", operator=403, request_id="locked_request_id"),
    "prepaidSellerReleases": party("seller", seller_id="seller_id"),
    "prepaidListOffers": party("buyer", request_id="classic_request_id"),
    "prepaidMakeOffer": party(
        "seller",
        stranger=403,
        operator=403,
        body={"price": usd("17.00"), "timeframe_hours": 12},
        request_id="classic_request_id",
    ),
    "prepaidAcceptOffer": party("buyer", operator=404, body={}, offer_id="offer_id"),
    "prepaidApproveOffer": operators(offer_id="flagged_offer_id"),
    "prepaidWithdrawRequest": operators(request_id="locked_request_id", body={"reason": "breaks the rules"}),
    "prepaidRejectOffer": operators(offer_id="flagged_offer_id", body={"reason": "contact details"}),
    "prepaidWithdrawOffer": party("seller", operator=404, offer_id="flagged_offer_id"),
    # leads: the buyer is the customer, the seller a business whose profile matches the
    # open job (``lead_id``) and who unlocked and reported it.  A member whose profile does
    # not match an open job (the stranger; operators, who unlock nothing) gets 403
    # not_eligible saying why when they look at it or unlock it, as for a prepaid request;
    # a job out of the feed (waiting for review) and a customer's own pages are a 404 to
    # them.  Operators read and close jobs but do not edit them or write for the customer.
    "leadsGetForm": anyone(category="category"),
    "leadsGetJob": party("buyer", stranger=403, lead_id="lead_id"),
    "leadsUnlock": party("seller", stranger=403, operator=403, body={"method": "balance"}, lead_id="lead_id"),
    "leadsListMatchingBusinesses": party("buyer", operator=404, lead_id="lead_id"),
    "leadsContactBusiness": party(
        "buyer",
        operator=404,
        body={"business_id": Ref("seller_id"), "body": "Could you also do a sign?"},
        lead_id="lead_id",
    ),
    "leadsReport": party("seller", operator=404, body={"reason": "job_changed"}, lead_id="lead_id"),
    "leadsUpdateJob": party(
        "buyer", operator=404, body={"title": "A sign for our window"}, lead_id="pending_lead_id"
    ),
    "leadsCloseJob": party("buyer", lead_id="pending_lead_id"),
    # integrations
    "getIntegrationToken": operators(token_id="integration_token_id"),
    "revokeIntegrationToken": operators(token_id="integration_token_id"),
    # stops last: a stopped campaign refuses the rest
    "microjobsStopCampaign": party("buyer", body={}, **SPARE),
    "microjobsOperatorStop": operators(body={"reason": "a complaint"}, **CAMPAIGN),
}


@pytest.fixture
def site_config(tmp_path):
    return all_plugins_config(tmp_path)


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    protected: bool
    documented: set[int] = field(default_factory=set)


async def operations_with_path_ids(client) -> dict[str, Operation]:
    document = (await client.get("/docs/openapi.json")).json()
    found = {}
    for path, item in document["paths"].items():
        if "{" not in path:
            continue
        for method, op in item.items():
            found[op["operationId"]] = Operation(
                op["operationId"],
                method.upper(),
                path,
                protected=bool(op.get("security")),
                documented={int(code) for code in op["responses"]},
            )
    return found


async def test_every_operation_with_a_path_id_has_a_matrix_entry(client):
    operations = await operations_with_path_ids(client)
    missing = [op for op_id, op in operations.items() if op_id not in MATRIX]
    stale = sorted(set(MATRIX) - set(operations))
    assert not missing, (
        "operations that take an id in their path need an entry in MATRIX "
        "(tests/test_authorization_matrix.py) saying who may use them:\n"
        + "\n".join(f"  {op.operation_id}: {op.method} {op.path}" for op in missing)
    )
    assert not stale, f"MATRIX has entries for operations that no longer exist: {stale}"


def expected(rule: Rule, actor: str, op: Operation) -> int | str:
    if actor == "anonymous":
        return 401 if op.protected else OK
    if actor == "operator":
        return rule.operator
    if actor == "stranger":
        return rule.stranger
    return rule.operator if rule.owner == "operator" else OK  # the owner (an operator on operator routes)


async def test_each_actor_gets_what_the_matrix_says(client, runtime, make_member):
    world = await build_world(client, runtime, make_member)
    operations = await operations_with_path_ids(client)
    tokens = {
        "operator": world.operator.headers,
        "buyer": world.buyer.headers,
        "seller": world.seller.headers,
        "stranger": world.stranger.headers,
        "site_owner": world.site_owner.headers,
        "anonymous": {},
    }
    wrong: list[str] = []
    calls = 0
    for operation_id, rule in MATRIX.items():
        op = operations[operation_id]
        values = {name: world.ids.get(value, value) for name, value in rule.path.items()}
        url = op.path.format(**values)
        owner = {"anyone": "buyer", "operator": "operator"}.get(rule.owner, rule.owner)
        # the member actors first: the owner's call may change the object's state
        actors = ["anonymous", "stranger"]
        if rule.owner in ("operator", "site_owner"):
            actors.append("buyer")  # a member on a role route, even a party of the object
        if rule.owner != "operator":
            actors.append("operator")
        actors.append("owner")
        for actor in actors:
            who = owner if actor == "owner" else actor
            want = 403 if actor == "buyer" else expected(rule, actor, op)
            kwargs: dict[str, Any] = {"headers": tokens[who]}
            if rule.body is not None:
                kwargs["json"] = resolve(rule.body, world.ids)
            response = await client.request(op.method, url, **kwargs)
            calls += 1
            got = response.status_code
            if got >= 500:
                wrong.append(f"{operation_id} as {actor}: {got} {response.text[:200]}")
            elif want == OK:
                if got in (401, 403, 404):
                    wrong.append(
                        f"{operation_id} as {actor} ({who}): want allowed, got {got} {response.text[:200]}"
                    )
            elif got != want:
                wrong.append(
                    f"{operation_id} as {actor} ({who}): want {want}, got {got} {response.text[:200]}"
                )
            elif want not in op.documented:
                wrong.append(f"{operation_id}: answers {want} to the {actor} but does not document it")
    assert calls >= 4 * len(MATRIX)
    assert not wrong, "\n".join(wrong)
    await check_open_orders(client, world, tokens)
    await check_prepaid_feed(client, world, tokens)
    await check_leads(client, world, tokens)


async def check_open_orders(client, world, tokens: dict[str, dict[str, str]]) -> None:
    """``GET /orders/open`` (no id in its path, so not in ``MATRIX``) answers each member
    with only what they may take: the world's open request to the seller (approved for
    its category), to no one else; its buyer never; a visitor gets 401."""
    open_id = world.ids["open_order_id"]
    seen: dict[str, Any] = {}
    for actor, headers in tokens.items():
        response = await client.get("/orders/open", headers=headers)
        ok = response.status_code == 200
        seen[actor] = [item["id"] for item in response.json()["items"]] if ok else response.status_code
    assert seen == {
        "operator": [],
        "buyer": [],
        "seller": [open_id],
        "stranger": [],
        "site_owner": [],
        "anonymous": 401,
    }


async def check_prepaid_feed(client, world, tokens: dict[str, dict[str, str]]) -> None:
    """An open prepaid request is the feed's: the seller (with access to its category)
    sees it in ``GET /prepaid/feed`` and reads it, its buyer and operators read it, a
    member without access gets 403 ``not_eligible`` saying why, a visitor 401."""
    ids = world.ids
    feed = await client.get("/prepaid/feed", headers=tokens["seller"])
    assert [item["id"] for item in feed.json()["items"]] == [ids["flag_request_id"], ids["request_id"]]
    assert (await client.get("/prepaid/feed", headers=tokens["stranger"])).json()["items"] == []
    url = f"/prepaid/requests/{ids['request_id']}"
    seen = {actor: (await client.get(url, headers=headers)) for actor, headers in tokens.items()}
    assert {actor: r.status_code for actor, r in seen.items()} == {
        "operator": 200,
        "buyer": 200,
        "seller": 200,
        "stranger": 403,
        "site_owner": 200,
        "anonymous": 401,
    }
    assert seen["stranger"].json()["code"] == "not_eligible"
    assert "logo-design" in seen["stranger"].json()["detail"]


async def check_leads(client, world, tokens: dict[str, dict[str, str]]) -> None:
    """A job is seen by its customer, operators and the businesses it matches: the open
    one is in the seller's feed, with the customer's id (they are in contact), in no one
    else's; its listing is never in ``GET /listings`` and a 403 to members other than its
    customer; the closed job that was never open (the matrix closed the pending one) is a
    404 to every business, to read or to unlock; the operators' list is theirs alone; the
    unlock's conversation is the customer's and the business's, its report the business's."""
    ids = world.ids
    lead_id, closed_id = ids["lead_id"], ids["pending_lead_id"]

    async def status(method: str, url: str, actor: str) -> int:
        return (await client.request(method, url, headers=tokens[actor])).status_code

    feeds = {}
    for actor in ("operator", "buyer", "seller", "stranger"):
        feeds[actor] = (await client.get("/leads/feed", headers=tokens[actor])).json()["items"]
    assert {actor: [job["id"] for job in items] for actor, items in feeds.items()} == {
        "operator": [],
        "buyer": [],
        "seller": [lead_id],
        "stranger": [],
    }
    assert feeds["seller"][0]["customer_id"] == world.buyer.id
    assert feeds["seller"][0]["unlock"]["status"] == "charged"
    job = (await client.get(f"/leads/{lead_id}", headers=tokens["buyer"])).json()
    listing = f"/listings/{job['listing_id']}"
    assert {actor: await status("GET", listing, actor) for actor in tokens} == {
        "operator": 200,
        "buyer": 200,
        "seller": 403,
        "stranger": 403,
        "site_owner": 200,
        "anonymous": 401,
    }
    for actor in ("seller", "stranger"):
        listed = (await client.get("/listings", params={"kind": "lead"}, headers=tokens[actor])).json()
        assert listed["items"] == [], actor
    closed = f"/leads/{closed_id}"
    assert {actor: await status("GET", closed, actor) for actor in tokens} == {
        "operator": 200,
        "buyer": 200,
        "seller": 404,
        "stranger": 404,
        "site_owner": 200,
        "anonymous": 401,
    }
    for actor in ("seller", "stranger"):
        response = await client.post(f"{closed}/unlock", headers=tokens[actor])
        assert response.status_code == 404, (actor, response.text)
    assert {actor: await status("GET", "/operator/leads", actor) for actor in tokens} == {
        "operator": 200,
        "buyer": 403,
        "seller": 403,
        "stranger": 403,
        "site_owner": 200,
        "anonymous": 401,
    }
    parties = ("operator", "buyer", "seller", "stranger")
    conversation = f"/conversations/{ids['lead_conversation_id']}"
    assert {actor: await status("GET", conversation, actor) for actor in parties} == {
        "operator": 200,
        "buyer": 200,
        "seller": 200,
        "stranger": 404,
    }
    # the report is between the business and the site: the unlock's order is the
    # business's alone, so its customer does not see it
    dispute = f"/disputes/{ids['lead_dispute_id']}"
    assert {actor: await status("GET", dispute, actor) for actor in parties} == {
        "operator": 200,
        "buyer": 404,
        "seller": 200,
        "stranger": 404,
    }
    unlocks = (await client.get("/leads/unlocks", headers=tokens["stranger"])).json()["items"]
    assert unlocks == []
    mine = (await client.get("/leads/mine", headers=tokens["seller"])).json()["items"]
    assert mine == []


async def test_an_integration_token_reads_only_the_routes_that_name_a_scope(
    client, app, runtime, make_member
):
    """An integration token holding every scope is refused (401) by every operation that
    needs a token, except the GETs whose handler names a scope; nothing changes."""
    from agorakit.accounts import INTEGRATION_SCOPE
    from agorakit.integrations import integration_scopes

    operator = await make_member(role="operator")
    body = {"name": "everything", "scopes": list(integration_scopes(runtime))}
    made = await client.post("/operator/integration-tokens", json=body, headers=operator.headers)
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    scoped = {
        (method, route.path_format)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.opt.get(INTEGRATION_SCOPE)
        for method in handler.http_methods
    }
    assert ("GET", "/events") in scoped and ("GET", "/events/types") in scoped
    document = (await client.get("/docs/openapi.json")).json()
    wrong = []
    for path, item in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method, op in item.items():
            if not op.get("security"):
                continue
            got = (await client.request(method.upper(), url, headers=headers)).status_code
            want_reads = (method.upper(), path) in scoped
            if (got == 401) == want_reads:
                wrong.append(f"{method.upper()} {path}: {got}")
    assert not wrong, "\n".join(wrong)
    assert (await client.get("/operator/integration-tokens", headers=operator.headers)).json()["items"][0][
        "name"
    ] == "everything"
