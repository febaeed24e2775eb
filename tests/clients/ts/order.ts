// A gig order through a site's API with the types openapi-typescript generates from its
// OpenAPI document (`paths`, imported as "agorakit-api") and openapi-fetch: every request
// body, parameter and response field below is checked by `tsc --noEmit`
// (tests/test_generated_clients.py; by hand: generate generated/api.d.ts, then npx tsc).
import createClient from "openapi-fetch";
import type { components, paths } from "agorakit-api";

type Schemas = components["schemas"];
type Api = ReturnType<typeof createClient<paths>>;

const usd = (amount: string): Schemas["Money"] => ({ amount, currency: "USD" });

function ok<T>(answer: { data?: T; error?: Schemas["Problem"] }): T {
  if (answer.data === undefined) {
    throw new Error(`${answer.error?.code}: ${answer.error?.detail}`);
  }
  return answer.data;
}

// the expected value has the field's type: a state or status the API cannot send fails to compile
function expect<T>(what: string, actual: T, expected: NoInfer<T>): void {
  if (actual !== expected) {
    throw new Error(`${what}: ${String(actual)}, not ${String(expected)}`);
  }
}

async function signedIn(baseUrl: string, email: string, password: string): Promise<Api> {
  const token: Schemas["AuthToken"] = ok(
    await createClient<paths>({ baseUrl }).POST("/auth/login", { body: { email, password } }),
  );
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token.access_token}` } });
}

async function member(baseUrl: string, email: string, password: string, display_name: string): Promise<Api> {
  const body: Schemas["RegisterMember"] = { email, password, display_name, country: "GB", accept_terms: false };
  ok(await createClient<paths>({ baseUrl }).POST("/auth/register", { body }));
  return signedIn(baseUrl, email, password);
}

async function usdBalance(who: Api): Promise<Schemas["CurrencyBalance"]> {
  const { balances } = ok(await who.GET("/me/balance"));
  const found = balances.find((balance) => balance.currency === "USD");
  if (found === undefined) throw new Error("no USD balance");
  return found;
}

/** The order of tests/test_generated_clients.py: register, fund by bank transfer, order a
 * gig with an extra, pay from the balance, deliver, accept, review, withdraw. */
export async function gigOrder(baseUrl: string, operatorEmail: string, operatorPassword: string): Promise<void> {
  const operator = await signedIn(baseUrl, operatorEmail, operatorPassword);
  const seller = await member(baseUrl, "sam@example.com", "sam-sells-logos-2026", "Sam Seller");
  const buyer = await member(baseUrl, "bea@example.com", "bea-buys-designs-2026", "Bea Buyer");

  for (const [slug, name, parent] of [
    ["design", "Design", null],
    ["logo-design", "Logo design", "design"],
  ] as const) {
    const category = ok(await operator.POST("/operator/categories", { body: { slug, name, parent, position: 0 } }));
    expect("category", category.slug, slug);
  }

  const draft = ok(
    await seller.POST("/listings", {
      body: {
        kind: "gig",
        title: "I will design a minimalist logo",
        description: "Three concepts, vector files and two rounds of changes.",
        price: usd("50.00"),
        category: "logo-design",
        attributes: {
          delivery_days: 3,
          extras: [{ title: "Express delivery", price: "10.00", days: 0 }],
          max_quantity: 1,
          requirements: "Your brand name.",
        },
      },
    }),
  );
  const listing = { params: { path: { listing_id: draft.id } } };
  expect("submitted", ok(await seller.POST("/listings/{listing_id}/submit", listing)).status, "pending_review");
  const approved = ok(await operator.POST("/operator/listings/{listing_id}/approve", listing));
  expect("approved", approved.status, "published");

  const deposit = ok(
    await buyer.POST("/payments", { body: { method: "bank_transfer", amount: usd("60.00") } }),
  );
  expect("deposit", deposit.status, "awaiting_funds");
  const confirmed = ok(
    await operator.POST("/bank-transfer/payments/{payment_id}/confirm", {
      params: { path: { payment_id: deposit.id } },
      body: { amount: usd("60.00"), reference: `STMT-${deposit.reference}` },
    }),
  );
  expect("confirmed", confirmed.status, "completed");
  expect("buyer's credit", (await usdBalance(buyer)).credit, "60.00");

  const quote = ok(
    await buyer.GET("/gigs/{listing_id}/quote", {
      params: { path: { listing_id: draft.id }, query: { extra: ["Express delivery"] } },
    }),
  );
  expect("quote", quote.total.amount, "60.00");
  const order = ok(
    await buyer.POST("/gigs/{listing_id}/orders", {
      ...listing,
      body: { extras: ["Express delivery"], quantity: 1, requirements: "Acme, in green." },
    }),
  );
  expect("order", order.amount.amount, "60.00");
  const path = { params: { path: { order_id: order.id } } };
  const paid = ok(await buyer.POST("/orders/{order_id}/payments", { ...path, body: { method: "balance" } }));
  expect("paid", paid.status, "completed");
  expect("order", ok(await buyer.GET("/orders/{order_id}", path)).state, "in_progress");

  const delivered = ok(
    await seller.POST("/gigs/orders/{order_id}/delivery", {
      ...path,
      body: { message: "Here you are: three concepts." },
    }),
  );
  expect("delivered", delivered.state, "delivered");
  expect("accepted", ok(await buyer.POST("/gigs/orders/{order_id}/accept", path)).state, "completed");
  expect("seller's balance", (await usdBalance(seller)).available, "48.00");
  const review: Schemas["ReviewOut"] = ok(
    await buyer.POST("/orders/{order_id}/reviews", {
      ...path,
      body: { rating: 5, text: "Lovely concepts, delivered early." },
    }),
  );
  expect("review", review.author_role, "buyer");

  // a refusal is a Problem (application/problem+json): its code and field errors are typed
  const account = { account_holder: "Sam Seller", iban: "DE89370400440532013000", bic: "DEUTDEFF" };
  const refused = await seller.POST("/withdrawals", {
    body: { method: "bank_transfer", amount: usd("9.99"), destination: account },
  });
  expect("refused", refused.error?.code, "below_minimum");
  const withdrawal = ok(
    await seller.POST("/withdrawals", {
      body: {
        method: "bank_transfer",
        amount: usd("48.00"),
        destination: account,
      },
    }),
  );
  expect("withdrawal", withdrawal.status, "requested");
  expect("net", withdrawal.net.amount, "47.00");
}
