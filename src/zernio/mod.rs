//! Zernio (formerly Late): signature scheme and typed events.
//!
//! Zernio signs the raw body alone with HMAC-SHA256 and sends the lowercase hex tag in
//! `X-Zernio-Signature` (and an identical legacy `X-Late-Signature`). It sends no timestamp,
//! retries for about 51 hours, and its body `id` is the event's stable key, so replay defence is
//! de-duplication on `id` alone; the default dedup TTL (72 h) covers the whole retry ladder.
//!
//! **Rotation.** Zernio has no dual signing: retries of events enqueued before a rotation stay
//! signed with the old secret for up to ~51 h. Keep the previous secret in the keyring (second,
//! after the current one) for about three days after you change it.
//!
//! ```
//! use hookgate::zernio::Zernio;
//!
//! let zernio = Zernio::new(["current-secret", "previous-secret"])?;
//! # Ok::<(), hookgate::keyring::KeyringError>(())
//! ```

mod events;

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};
use serde::Deserialize;

pub use events::*;

use crate::{
    keyring::{Keyring, KeyringError, Tag},
    provider::{
        Envelope, EnvelopeError, LenientStr, Provider, SignatureError, Signed, parse_envelope,
        single_header,
    },
};

/// `X-Zernio-Signature`: hex HMAC-SHA256 of the raw body.
pub const HEADER_SIGNATURE: &str = "x-zernio-signature";
/// `X-Late-Signature`: the legacy copy of the signature, read when the new one is absent.
pub const HEADER_LEGACY_SIGNATURE: &str = "x-late-signature";
/// `X-Zernio-Event`: the event name (unsigned; the body's `event` is what counts).
pub const HEADER_EVENT: &str = "x-zernio-event";
/// `X-Zernio-Event-Id`: the event id (unsigned; the body's `id` is the dedup key).
pub const HEADER_EVENT_ID: &str = "x-zernio-event-id";

static SIGNATURE_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static(HEADER_SIGNATURE),
    HeaderName::from_static(HEADER_LEGACY_SIGNATURE),
];

/// The Zernio provider: its keyring and its wire format.
#[derive(Debug, Clone)]
pub struct Zernio {
    keyring: Keyring,
}

impl Zernio {
    /// Zernio with these webhook secrets (their UTF-8 bytes, as Zernio uses them), current first.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        Ok(Self::with_keyring(Keyring::new(secrets)?))
    }

    /// Zernio with a prepared keyring.
    pub fn with_keyring(keyring: Keyring) -> Self {
        Self { keyring }
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    event: LenientStr<'a>,
    #[serde(borrow, default)]
    id: LenientStr<'a>,
}

impl Provider for Zernio {
    const NAME: &'static str = "zernio";
    type Event = Event;

    fn signature_headers(&self) -> &'static [HeaderName] {
        &SIGNATURE_HEADERS
    }

    fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn signature(&self, headers: &HeaderMap, _now: SystemTime) -> Result<Signed, SignatureError> {
        let (name, value) = match single_header(headers, HEADER_SIGNATURE)? {
            Some(value) => (HEADER_SIGNATURE, value),
            None => match single_header(headers, HEADER_LEGACY_SIGNATURE)? {
                Some(value) => (HEADER_LEGACY_SIGNATURE, value),
                None => return Err(SignatureError::Missing(HEADER_SIGNATURE)),
            },
        };
        let tag = Tag::from_hex(value.as_bytes()).ok_or(SignatureError::Malformed(name))?;
        Ok(Signed {
            prefix: Vec::new(),
            tags: vec![tag],
        })
    }

    fn envelope<'a>(
        &self,
        _headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let raw: RawEnvelope<'a> = parse_envelope(body)?;
        let name = raw
            .event
            .0
            .ok_or(EnvelopeError::MissingDiscriminator("event"))?;
        Ok(Envelope {
            name,
            key: raw.id.0,
            scope: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// The worked example of `shared/providers/zernio.md` section 2.
    const SECRET: &str = "zr_demo_secret_123";
    const BODY: &str = r#"{"id":"3f1c2a9e-4b7d-4e21-9c0a-5d6e7f8a9b10","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    const SIGNATURE: &str = "0415d913f2d4bbcabd19f94cccf2152fb6c7beceda0966149ac24da2e63ff682";

    fn verify(
        zernio: &Zernio,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Option<usize>, SignatureError> {
        let signed = zernio.signature(headers, SystemTime::now())?;
        let mut verifier = zernio.keyring().verifier(&signed.prefix);
        verifier.update(body.as_bytes());
        Ok(verifier.matches(&signed.tags))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn known_answer() {
        let zernio = Zernio::new([SECRET]).unwrap();
        assert_eq!(
            zernio.keyring().sign(b"", BODY.as_bytes()).to_hex(),
            SIGNATURE
        );
        let h = headers(&[
            ("X-Zernio-Signature", SIGNATURE),
            ("X-Late-Signature", SIGNATURE),
        ]);
        assert_eq!(verify(&zernio, &h, BODY), Ok(Some(0)));
    }

    #[test]
    fn legacy_header_uppercase_hex_and_rotation() {
        let zernio = Zernio::new(["new-secret", SECRET]).unwrap();
        let h = headers(&[(
            "x-late-signature",
            &format!(" {} ", SIGNATURE.to_uppercase()),
        )]);
        assert_eq!(verify(&zernio, &h, BODY), Ok(Some(1)));
        // The new header wins over the legacy one when both are there.
        let h = headers(&[
            ("x-zernio-signature", &"0".repeat(64)),
            ("x-late-signature", SIGNATURE),
        ]);
        assert_eq!(verify(&zernio, &h, BODY), Ok(None));
    }

    #[test]
    fn refusals() {
        let zernio = Zernio::new([SECRET]).unwrap();
        assert_eq!(
            verify(&zernio, &HeaderMap::new(), BODY),
            Err(SignatureError::Missing(HEADER_SIGNATURE))
        );
        let h = headers(&[("x-zernio-signature", "sha256=abc")]);
        assert_eq!(
            verify(&zernio, &h, BODY),
            Err(SignatureError::Malformed(HEADER_SIGNATURE))
        );
        let h = headers(&[
            ("x-zernio-signature", SIGNATURE),
            ("x-zernio-signature", &"0".repeat(64)),
        ]);
        assert_eq!(
            verify(&zernio, &h, BODY),
            Err(SignatureError::Ambiguous(HEADER_SIGNATURE))
        );
        let h = headers(&[("x-zernio-signature", SIGNATURE)]);
        assert_eq!(verify(&zernio, &h, &BODY.replace("test", "tost")), Ok(None));
    }

    #[test]
    fn envelope() {
        let zernio = Zernio::new([SECRET]).unwrap();
        let headers = HeaderMap::new();
        let e = zernio.envelope(&headers, BODY).unwrap();
        assert_eq!(
            (e.name.as_ref(), e.key.as_deref()),
            ("webhook.test", Some("3f1c2a9e-4b7d-4e21-9c0a-5d6e7f8a9b10"))
        );
        assert_eq!(
            zernio.envelope(&HeaderMap::new(), r#"{"id":"x"}"#),
            Err(EnvelopeError::MissingDiscriminator("event"))
        );
    }
}
