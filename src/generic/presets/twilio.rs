//! Twilio: HMAC-SHA1 `X-Twilio-Signature` over the URL and the sorted form parameters.

use std::{borrow::Cow, sync::Arc};

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::{
    generic::{Builder, Encoding, Generic, Sender},
    keyring::Algorithm,
    provider::{SignatureError, SignedBody},
};

/// Twilio webhooks (Messaging, Voice, Event Streams sinks).
#[derive(Debug, Clone, Copy)]
pub struct Twilio;

impl Sender for Twilio {
    const NAME: &'static str = "twilio";
}

/// The `bodySHA256` query parameter of a JSON delivery, if the URL has one.
fn body_sha256(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

/// Feeds the form parameters of `body` sorted by name, then value, each as name then value
/// (Twilio's signed content after the URL).
fn sorted_params(body: &[u8], feed: &mut dyn FnMut(&[u8])) {
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(body).collect();
    params.sort_unstable();
    for (name, value) in &params {
        feed(name.as_bytes());
        feed(value.as_bytes());
    }
}

/// Twilio's scheme: HMAC-SHA1 with the account's auth token, base64, of the full URL Twilio
/// requested followed by every form parameter of the body sorted by name (then value), each
/// as name then value. A JSON delivery instead carries `bodySHA256=<hex SHA-256 of the body>`
/// in its URL; the signature covers the URL alone and the body must hash to that value (else
/// 401). No timestamp.
///
/// No id either: the dedup key is the SHA-256 of what is signed of the body, the sorted
/// parameters (of the raw body for JSON, which its signed `bodySHA256` pins down). Not of the
/// raw form: the same parameters reordered or re-encoded carry the same signature, and would
/// otherwise each be handled anew.
///
/// `public_url` is the route's URL as configured in Twilio (`https://example.com/webhooks/twilio`,
/// the request's query is appended): Twilio signs it, and proxies change what the request
/// says. Twilio's validators also try the URL with and without a default port; hookgate
/// verifies the one URL configured: configure it exactly as Twilio has it.
///
/// Event name: `request` for every delivery (Twilio's bodies carry no common event field: read
/// `SmsStatus`, `CallStatus` or the CloudEvents `type` in your handler). Dedup key: the hash of
/// the body (Twilio's `I-Twilio-Idempotency-Token` is not signed; message and call SIDs repeat
/// across status callbacks).
///
/// Vectors: Twilio's docs (token `12345`) and twilio-python's tests, in `tests/presets.rs`.
pub fn twilio(public_url: &str) -> Builder<Twilio> {
    Generic::builder_for()
        .algorithm(Algorithm::HmacSha1)
        .header("X-Twilio-Signature")
        .encoding(Encoding::Base64)
        .signed("{url}{body}")
        .public_url(public_url)
        .event_fixed("request")
        // Form-encoded parameters, or JSON with `bodySHA256`.
        .any_body()
        .derive(|parts| {
            Ok(SignedBody::Derived(match body_sha256(parts.uri.query()) {
                Some(expected) => Arc::new(move |body, _feed| {
                    let actual = const_hex::encode(Sha256::digest(body));
                    let expected = expected.to_ascii_lowercase();
                    if bool::from(actual.as_bytes().ct_eq(expected.as_bytes())) {
                        Ok(())
                    } else {
                        Err(SignatureError::Mismatch)
                    }
                }),
                None => Arc::new(|body, feed| {
                    sorted_params(body, feed);
                    Ok(())
                }),
            }))
        })
}
