//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` over `{t}.{body}`.

use std::time::Duration;

use crate::generic::{Builder, Generic, Sender, Unit};

/// Stripe (snapshot events to a webhook endpoint).
#[derive(Debug, Clone, Copy)]
pub struct Stripe;

impl Sender for Stripe {
    const NAME: &'static str = "stripe";
}

/// Stripe's scheme: HMAC-SHA256 of `{t}.{body}`, hex, every `v1` entry offered (Stripe sends
/// one per secret while an endpoint secret is rolled), other schemes (`v0`) ignored; `t`
/// within 300 s both ways (Stripe's libraries' default tolerance, which they apply to the past
/// only). The key is the endpoint secret as given, `whsec_...` included, not decoded.
///
/// Event name: the body's `type`; dedup key: the body's `id` (`evt_...`), both signed. Stripe
/// retries for up to three days: keys are remembered four.
///
/// Stripe publishes no fixed test vector; see `tests/fixtures/stripe/vectors.json`.
pub fn stripe() -> Builder<Stripe> {
    Generic::builder_for()
        .header("Stripe-Signature")
        .list(',', '=', "v1")
        .timestamp_in_list("t", Unit::Seconds, Duration::from_secs(300))
        .signed("{timestamp}.{body}")
        .event_json("type")
        .id_json("id")
        .dedup_ttl(Duration::from_secs(4 * 24 * 3600))
}
