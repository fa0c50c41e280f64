//! Zoom: `x-zm-signature: v0=<hex>` over `v0:{x-zm-request-timestamp}:{body}`.

use std::time::Duration;

use http::StatusCode;

use crate::generic::{Builder, Generic, Sender, Unit};

/// Zoom app event subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct Zoom;

impl Sender for Zoom {
    const NAME: &'static str = "zoom";
}

#[derive(serde::Deserialize)]
struct Validation<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(borrow)]
    payload: Option<Plain<'a>>,
}

#[derive(serde::Deserialize)]
struct Plain<'a> {
    #[serde(borrow, rename = "plainToken")]
    plain_token: &'a str,
}

/// Zoom's scheme: HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's secret token, hex,
/// `v0=` prefix. Zoom states no window; hookgate allows 300 s both ways, as for Slack's identical
/// scheme.
///
/// `endpoint.url_validation` (sent when the URL is saved, then every 72 hours) is answered
/// `{"plainToken": ..., "encryptedToken": hex HMAC-SHA256(secret token, plainToken)}`, with the
/// secret that verified it, before dedup and handlers.
///
/// Event name: the body's `event` (`meeting.started`). Zoom sends no delivery id: the dedup key
/// is the hash of the body (a retry resends the same body).
///
/// Zoom publishes no fixed test vector; see `tests/fixtures/zoom/vectors.json`.
pub fn zoom() -> Builder<Zoom> {
    Generic::builder_for()
        .header("x-zm-signature")
        .prefix("v0=")
        .signed("v0:{timestamp}:{body}")
        .timestamp_header(
            "x-zm-request-timestamp",
            Unit::Seconds,
            Duration::from_secs(300),
        )
        .event_json("event")
        .challenge(|challenge| {
            let validation: Validation<'_> = super::object(challenge.body)?;
            if validation.event != "endpoint.url_validation" {
                return None;
            }
            let plain = validation.payload?.plain_token;
            let encrypted = challenge.sign(&[plain.as_bytes()])?.to_hex();
            Some(super::json_answer(
                StatusCode::OK,
                &serde_json::json!({ "plainToken": plain, "encryptedToken": encrypted }),
            ))
        })
}
