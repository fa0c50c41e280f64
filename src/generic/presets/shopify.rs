//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(client secret, body)>`.

use crate::generic::{Builder, Encoding, Generic, Sender};

/// Shopify app webhooks over HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct Shopify;

impl Sender for Shopify {
    const NAME: &'static str = "shopify";
}

/// Shopify's scheme: HMAC-SHA256 of the body with the app's client secret, base64, no
/// timestamp. After you rotate the client secret Shopify may sign with the old one for up to an
/// hour: configure both.
///
/// Event name: `X-Shopify-Topic` (`orders/create`). Dedup key: `X-Shopify-Webhook-Id`, which
/// Shopify names as its duplicate-detection id but does not sign: taken as an **unsigned** key
/// (a captured delivery resent under a new id would be handled again; no timestamp bounds it).
///
/// Shopify publishes no fixed test vector; see `tests/fixtures/shopify/vectors.json`.
pub fn shopify() -> Builder<Shopify> {
    Generic::builder_for()
        .header("X-Shopify-Hmac-Sha256")
        .encoding(Encoding::Base64)
        .event_header("X-Shopify-Topic")
        .id_header_unsigned("X-Shopify-Webhook-Id")
}
