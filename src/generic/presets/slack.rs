//! Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`.

use std::time::Duration;

use http::StatusCode;

use crate::generic::{Builder, Generic, Sender, Unit};

/// Slack's Events API (the app's Request URL).
#[derive(Debug, Clone, Copy)]
pub struct Slack;

impl Sender for Slack {
    const NAME: &'static str = "slack";
}

/// The `url_verification` handshake's fields.
#[derive(serde::Deserialize)]
struct Handshake<'a> {
    #[serde(borrow, rename = "type")]
    kind: &'a str,
    #[serde(borrow, default)]
    challenge: Option<&'a str>,
}

/// Slack's scheme: HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret, hex, `v0=`
/// prefix; `X-Slack-Request-Timestamp` within 300 s both ways (Slack's "five minutes").
///
/// The signed `url_verification` request Slack sends when the Request URL is saved is answered
/// `{"challenge": ...}`, before dedup and handlers. Other deliveries are Events API callbacks:
/// event name `event.type` (`app_mention`), dedup key `event_id` (kept on Slack's retries), both
/// signed. A body without `event.type` (`app_rate_limited`, or a form-encoded slash command
/// sent to this URL) is answered 400; point slash commands at a route of their own.
///
/// Vector: Slack's docs (`8f742231b10e8888abcd99yyyzzz85a5`), in `tests/presets.rs`.
pub fn slack() -> Builder<Slack> {
    Generic::builder_for()
        .header("X-Slack-Signature")
        .prefix("v0=")
        .signed("v0:{timestamp}:{body}")
        .timestamp_header(
            "X-Slack-Request-Timestamp",
            Unit::Seconds,
            Duration::from_secs(300),
        )
        .event_json("event.type")
        .id_json("event_id")
        .challenge(|challenge| {
            let handshake: Handshake<'_> = super::object(challenge.body)?;
            let answer =
                (handshake.kind == "url_verification").then_some(handshake.challenge)??;
            Some(super::json_answer(
                StatusCode::OK,
                &serde_json::json!({ "challenge": answer }),
            ))
        })
}
