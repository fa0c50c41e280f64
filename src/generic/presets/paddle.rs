//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>]` over `{ts}:{body}`.

use std::time::Duration;

use crate::generic::{Builder, Generic, Sender, Unit};

/// Paddle Billing notifications (a notification destination of type `url`).
#[derive(Debug, Clone, Copy)]
pub struct Paddle;

impl Sender for Paddle {
    const NAME: &'static str = "paddle";
}

/// Paddle's scheme: HMAC-SHA256 of `{ts}:{body}` with the destination's secret key
/// (`pdl_ntfset_...`, as given), hex; every `h1` entry offered (several during a rotation),
/// other keys ignored.
///
/// Window: Paddle's Node SDK refuses a `ts` older than 5 s. Whether Paddle re-signs a retry is
/// not documented; if it does not, 5 s would refuse every retry, so hookgate allows 300 s both
/// ways (as for Stripe) and leaves replays inside it to dedup.
///
/// Event name: the body's `event_type`; dedup key: the body's `event_id` (Paddle's own advice),
/// both signed. Paddle retries live deliveries for three days: keys are remembered four.
///
/// Vectors: Paddle's Node SDK tests (`VALID_SECRET`), in `tests/presets.rs`.
pub fn paddle() -> Builder<Paddle> {
    Generic::builder_for()
        .header("Paddle-Signature")
        .list(';', '=', "h1")
        .timestamp_in_list("ts", Unit::Seconds, Duration::from_secs(300))
        .signed("{timestamp}:{body}")
        .event_json("event_type")
        .id_json("event_id")
        .dedup_ttl(Duration::from_secs(4 * 24 * 3600))
}
