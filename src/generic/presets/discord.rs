//! Discord: Ed25519 `X-Signature-Ed25519: <hex>` over `{X-Signature-Timestamp}{body}`.

use std::time::Duration;

use http::StatusCode;

use crate::{
    generic::{Builder, Encoding, Generic, SecretFormat, Sender, Unit},
    keyring::Algorithm,
};

/// A Discord application's interactions endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Discord;

impl Sender for Discord {
    const NAME: &'static str = "discord";
}

#[derive(serde::Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: Option<u64>,
}

/// Discord's scheme: an Ed25519 signature (hex) of the timestamp followed by the body, checked
/// with the application's public key (hex, from the Developer Portal: give it to
/// [`Builder::secrets`](crate::generic::Builder::secrets)). Discord states no window;
/// hookgate allows 300 s both ways.
///
/// Discord probes endpoints with invalid signatures and removes those that accept them: every
/// failed check is answered 401, as for any sender. A verified `PING` (`"type": 1`) is answered
/// `{"type":1}` before dedup and handlers.
///
/// Event name: `interaction` for every delivery (Discord's `type` is a number: read it, and
/// `data`, from the body in your handler). Dedup key: the body's `id`, signed. Discord does not
/// retry.
///
/// Discord publishes no fixed test vector; see `tests/fixtures/discord/vectors.json`.
pub fn discord() -> Builder<Discord> {
    Generic::builder_for()
        .algorithm(Algorithm::Ed25519)
        .header("X-Signature-Ed25519")
        .encoding(Encoding::Hex)
        .secret_format(SecretFormat::Hex)
        .signed("{timestamp}{body}")
        .timestamp_header(
            "X-Signature-Timestamp",
            Unit::Seconds,
            Duration::from_secs(300),
        )
        .event_fixed("interaction")
        .id_json("id")
        .challenge(|challenge| {
            let kind: Kind = super::object(challenge.body)?;
            (kind.kind? == 1)
                .then(|| super::json_answer(StatusCode::OK, &serde_json::json!({ "type": 1 })))
        })
}
