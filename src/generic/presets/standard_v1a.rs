//! Standard Webhooks `v1a`: Ed25519 over `{webhook-id}.{webhook-timestamp}.{body}`.

use std::time::Duration;

use crate::{
    generic::{Builder, Encoding, Generic, SecretFormat, Sender, Unit},
    keyring::Algorithm,
};

/// A Standard Webhooks sender that signs with Ed25519 (`v1a`).
#[derive(Debug, Clone, Copy)]
pub struct StandardV1a;

impl Sender for StandardV1a {
    const NAME: &'static str = "standard-v1a";
}

/// The base64 of a `whpk_...` public key (the prefix is optional): what
/// [`Builder::secrets`](crate::generic::Builder::secrets) of [`standard_v1a`] takes.
pub fn strip_whpk(key: &str) -> &str {
    let key = key.trim();
    key.strip_prefix("whpk_").unwrap_or(key)
}

/// The `v1a` scheme of Standard Webhooks: `webhook-signature` is a space-separated list of
/// `version,base64` entries; every `v1a` entry is checked (Ed25519 of
/// `{webhook-id}.{webhook-timestamp}.{body}`) against the trusted public keys, other versions
/// (`v1`, HMAC) skipped: a sender may send both. `webhook-timestamp` within 300 s both ways;
/// `webhook-id` is signed and is the dedup key; the event name is the body's `type`.
///
/// Public keys are `whpk_` + base64: pass them through [`strip_whpk`]. (The HMAC `v1` scheme is
/// [`Standard`](crate::standard::Standard).)
///
/// Vector: the standard-webhooks Go library's signing test, in `tests/presets.rs`.
pub fn standard_v1a() -> Builder<StandardV1a> {
    Generic::builder_for()
        .algorithm(Algorithm::Ed25519)
        .header("webhook-signature")
        .list(' ', ',', "v1a")
        .encoding(Encoding::Base64)
        .secret_format(SecretFormat::Base64)
        .signed("{id}.{timestamp}.{body}")
        .id_header("webhook-id")
        .timestamp_header("webhook-timestamp", Unit::Seconds, Duration::from_secs(300))
        .event_json("type")
}
