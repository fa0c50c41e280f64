//! Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`, freshness from the body.

use std::time::{Duration, UNIX_EPOCH};

use http::StatusCode;

use crate::{
    generic::{Builder, Generic, Sender},
    provider::SignatureError,
};

/// Linear data-change webhooks.
#[derive(Debug, Clone, Copy)]
pub struct Linear;

impl Sender for Linear {
    const NAME: &'static str = "linear";
}

/// How far the body's `webhookTimestamp` may be from now, both ways (Linear's SDK: one minute).
pub const LINEAR_TOLERANCE: Duration = Duration::from_secs(60);

#[derive(serde::Deserialize)]
struct Stamp {
    /// Any JSON value: one that is there but not a whole number of milliseconds is refused,
    /// not taken for an absent one.
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: Option<serde_json::Value>,
}

/// Linear's scheme: HMAC-SHA256 of the body, hex, no prefix. Linear puts its timestamp in the
/// signed body (`webhookTimestamp`, Unix milliseconds); once the signature is verified, a body
/// whose timestamp is more than [`LINEAR_TOLERANCE`] from the service's clock is refused 401 (as
/// Linear's SDK does), as is one that is not a whole number. A body without one is accepted,
/// as in that SDK.
///
/// Event name: the body's `type` (`Issue`, `Comment`; the `action` is in the body). Dedup key:
/// `Linear-Delivery`, which Linear does not sign: taken as an **unsigned** key, its replay risk
/// bounded by the one-minute window.
///
/// Linear publishes no fixed test vector; see `tests/fixtures/linear/vectors.json`.
pub fn linear() -> Builder<Linear> {
    Generic::builder_for()
        .header("Linear-Signature")
        .event_json("type")
        .id_header_unsigned("Linear-Delivery")
        .challenge(|challenge| {
            let stamp: Stamp = super::object(challenge.body)?;
            let now = challenge.now;
            let error = match stamp.webhook_timestamp?.as_u64() {
                None => SignatureError::MalformedTimestamp("webhookTimestamp"),
                Some(ms) => {
                    let at = UNIX_EPOCH + Duration::from_millis(ms);
                    if at + LINEAR_TOLERANCE < now {
                        SignatureError::TimestampTooOld
                    } else if at > now + LINEAR_TOLERANCE {
                        SignatureError::TimestampInFuture
                    } else {
                        return None;
                    }
                }
            };
            Some(super::json_answer(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({ "error": error.to_string(), "code": error.code() }),
            ))
        })
}
