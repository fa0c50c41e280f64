//! Square: `X-Square-Hmacsha256-Signature: <base64 HMAC-SHA256(key, url + body)>`.

use crate::generic::{Builder, Encoding, Generic, Sender};

/// Square webhook subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct Square;

impl Sender for Square {
    const NAME: &'static str = "square";
}

/// Square's scheme: HMAC-SHA256 of the subscription's notification URL followed by the body,
/// with its signature key, base64; no timestamp. `public_url` is that notification URL exactly
/// as registered with Square (`https://example.com/webhooks/square`): Square signs it, and a
/// proxy in front of you changes what the request itself says. A query in it may be given or
/// left out: the request's query is signed in its place.
///
/// Event name: the body's `type` (`payment.created`); dedup key: the body's `event_id`, both
/// signed.
///
/// Vector: Square's docs (`asdf1234`, `https://example.com/webhook`), in `tests/presets.rs`.
pub fn square(public_url: &str) -> Builder<Square> {
    Generic::builder_for()
        .header("X-Square-Hmacsha256-Signature")
        .encoding(Encoding::Base64)
        .signed("{url}{body}")
        .public_url(public_url)
        .event_json("type")
        .id_json("event_id")
}
