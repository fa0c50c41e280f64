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
//!
//! # Typed events
//!
//! The models cover Zernio's whole catalogue: 49 event names (48 subscribable ones plus
//! `webhook.test`), from the OpenAPI spec bundled in Zernio's own SDK.
//!
//! - One type per event name, named after it: [`PostPublished`] for `post.published`,
//!   [`WhatsappNumberKycSubmitted`] for `whatsapp.number.kyc_submitted`, [`WebhookTest`] for
//!   `webhook.test`. Each implements [`Event`](crate::event::Event) for its one name, so a
//!   handler can take it directly.
//! - Names that share a payload shape are thin newtypes over one struct, reachable through
//!   `Deref`: the six `post.*` rollups over [`PostPayload`], the four `post.platform.*` /
//!   `post.tiktok.url_resolved` over [`PostPlatformPayload`], and likewise
//!   [`ExternalPostPayload`], [`DeliveryStatusPayload`], [`CallPayload`], [`ReviewPayload`],
//!   [`WhatsappNumberPayload`] and [`WhatsappNumberReasonPayload`]. The shared struct also
//!   implements `Event` for all of its names, for one handler covering them all.
//! - Sub-objects that several events share are modelled once: [`Post`], [`PlatformTarget`],
//!   [`Message`], [`Sender`], [`Conversation`], [`InboxAccount`], [`Call`], [`Comment`],
//!   [`Review`], ...
//! - [`Event`] is the whole catalogue as one enum (one boxed variant per name, plus
//!   [`Event::Unknown`]), for the `Verified<zernio::Event>` extractor or a single handler.
//!
//! ```
//! use hookgate::{event::{Event as _, decode_or_unknown}, zernio::{self, Platform, PostStatus}};
//!
//! let raw = br#"{"id":"e1","event":"post.published","timestamp":"2026-09-12T16:00:09.884Z",
//!   "post":{"id":"66b2","content":"Autumn menu","status":"published",
//!   "scheduledFor":"2026-09-12T16:00:00.000Z","platforms":[{"platform":"mastodon","status":"published"}]}}"#;
//!
//! // One type, straight from the body:
//! let published = zernio::PostPublished::decode("post.published", raw)?;
//! assert_eq!(published.post.status, PostStatus::Published);
//! // A platform this version does not list is kept, not refused:
//! assert_eq!(published.post.platforms[0].platform, Platform::Other("mastodon".into()));
//!
//! // The whole catalogue, with the unknown path:
//! let event: zernio::Event = decode_or_unknown("post.published", &raw[..].into());
//! assert!(matches!(event, zernio::Event::PostPublished(_)));
//! let event: zernio::Event = decode_or_unknown("post.exploded", &raw[..].into());
//! assert_eq!(event.name(), "post.exploded");
//! assert!(event.as_unknown().is_some());
//! # Ok::<(), hookgate::event::DecodeError>(())
//! ```
//!
//! # Handling Zernio deliveries
//!
//! Three typed handlers and a fallback, mounted on an axum route:
//!
//! ```
//! use axum::Router;
//! use hookgate::{Delivery, Webhooks, event::UnknownEvent, zernio::{self, Zernio}};
//!
//! # fn app() -> Result<Router, Box<dyn std::error::Error>> {
//! let webhooks = Webhooks::new(Zernio::new(["current-secret", "previous-secret"])?)
//!     .on(|event: zernio::PostPublished| async move {
//!         println!("post {} published on {} platforms", event.post.id, event.post.platforms.len());
//!     })
//!     .on(|event: zernio::PostFailed, delivery: Delivery| async move {
//!         // An error answers 500: Zernio retries, and the retry runs this handler again.
//!         Err::<(), _>(format!("post {} failed (event {})", event.post.id, delivery.key()))
//!     })
//!     .on(|event: zernio::MessageReceived| async move {
//!         println!("message from {}", event.message.sender.id);
//!     })
//!     .fallback(|event: UnknownEvent| async move {
//!         // New event names, drifted payloads and the events above without a handler.
//!         println!("{} ({:?}): {}", event.name(), event.reason(), event.json());
//!     })
//!     .build()?;
//! let app = Router::new().route_service("/webhooks/zernio", webhooks);
//! # Ok(app) }
//! # app().unwrap();
//! ```
//!
//! # Stability
//!
//! These models follow Zernio's upstream, which is **not versioned**: the catalogue grew from 11
//! event names in April 2026 to 49 in August 2026, and fields and values are added without
//! notice. So the models are lenient by design:
//!
//! - unknown fields are ignored (no model denies them);
//! - closed-looking value sets (platforms, statuses, directions, categories, ...) are open enums
//!   with an `Other(String)` case ([`Platform`], [`PostStatus`], [`DisconnectionType`], ...);
//! - optional fields are `Option` and decode from absent or `null`; fields Zernio always sends
//!   but may set to `null` are [`Nullable`]; numbers are `serde_json::Number` (counts, codes) or
//!   `f64` (money), which never overflow; free-form objects are JSON maps;
//! - a payload that still does not fit (a field of a new type, a missing required field) is not
//!   refused: [`decode_or_unknown`](crate::event::decode_or_unknown) turns it into
//!   [`Event::Unknown`] with [`UnknownReason::Drifted`](crate::event::UnknownReason::Drifted)
//!   and the JSON path of the failure, and an unknown event name into `Event::Unknown` with
//!   `UnknownReason::UnknownName`. Either way the raw JSON is kept, and the pipeline's
//!   `Delivery::raw()` keeps the raw body next to every typed event too.
//!
//! New fields, values and events are added in minor releases (every struct and enum here is
//! `#[non_exhaustive]`); a value moving from `Other(..)` to a named variant is not considered
//! breaking.

mod events;

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

pub use events::*;

use crate::{
    keyring::{Keyring, KeyringError, Tag, Tags},
    provider::{
        Envelope, EnvelopeError, Prefix, Provider, SignatureError, Signed, Unread,
        scan_envelope_head, scan_headers, scan_unread,
    },
    secrets::Secrets,
};

/// `X-Zernio-Signature`: hex HMAC-SHA256 of the raw body.
pub const HEADER_SIGNATURE: &str = "x-zernio-signature";
/// `X-Late-Signature`: the legacy copy of the signature, read when the new one is absent; when
/// both are sent they must agree (401 `ambiguous_signature` otherwise).
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
    secrets: Secrets,
}

impl Zernio {
    /// Zernio with these webhook secrets (their UTF-8 bytes, as Zernio uses them), current first.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let keyring =
            Keyring::new(secrets).map_err(|e| e.for_provider(<Self as Provider>::NAME))?;
        Ok(Self::with_keyring(keyring))
    }

    /// Zernio with a prepared keyring (one account, or several named with
    /// [`Keyring::builder`]).
    pub fn with_keyring(keyring: Keyring) -> Self {
        Self::with_secrets(keyring)
    }

    /// Zernio with secrets from a keyring, a [`Rotating`](crate::secrets::Rotating) keyring
    /// or a [`CachedSource`](crate::secrets::CachedSource), per account (see
    /// [`secrets`](crate::secrets)).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
        }
    }
}

impl Provider for Zernio {
    const NAME: &'static str = "zernio";
    type Event = Event;

    fn signature_headers(&self) -> &'static [HeaderName] {
        &SIGNATURE_HEADERS
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    #[inline]
    fn signature(&self, headers: &HeaderMap, _now: SystemTime) -> Result<Signed, SignatureError> {
        let [signature, legacy] =
            scan_headers(headers, &[HEADER_SIGNATURE, HEADER_LEGACY_SIGNATURE]);
        let (signature, legacy) = (
            signature.single(HEADER_SIGNATURE)?,
            legacy.single(HEADER_LEGACY_SIGNATURE)?,
        );
        let (name, value) = match (signature, legacy) {
            // Zernio sends the same tag in both; differing values leave no way to tell which
            // one the sender meant (a proxy or an attacker added one): refuse, as for a
            // repeated header. Hex case and padding are not differences.
            (Some(value), Some(other))
                if !value
                    .as_bytes()
                    .trim_ascii()
                    .eq_ignore_ascii_case(other.as_bytes().trim_ascii()) =>
            {
                return Err(SignatureError::Ambiguous(HEADER_SIGNATURE));
            }
            (Some(value), _) => (HEADER_SIGNATURE, value),
            (None, Some(value)) => (HEADER_LEGACY_SIGNATURE, value),
            (None, None) => return Err(SignatureError::Missing(HEADER_SIGNATURE)),
        };
        let tag = Tag::from_hex(value.as_bytes()).ok_or(SignatureError::Malformed(name))?;
        Ok(Signed {
            prefix: Prefix::new(),
            tags: Tags::from(tag),
            ..Signed::default()
        })
    }

    fn envelope<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let (envelope, unread) = self.envelope_head(headers, body)?;
        if let Some(unread) = unread {
            scan_unread(body, unread)?;
        }
        Ok(envelope)
    }

    fn envelope_head<'a>(
        &self,
        _headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<(Envelope<'a>, Option<Unread>), EnvelopeError> {
        // Zernio writes `id` and `event` first: the skim stops there, and the typed decode of
        // every Zernio event refuses a repeat of either (`Event::DECODE_CHECKS_ENVELOPE`).
        let ([event, id], unread) = scan_envelope_head(body, &["event", "id"])?;
        let name = event
            .0
            .ok_or(EnvelopeError::MissingDiscriminator("event"))?;
        if name.is_empty() {
            // Refused as the whole read would: a repeat further on first.
            if let Some(unread) = unread {
                scan_unread(body, unread)?;
            }
            return Err(EnvelopeError::EmptyDiscriminator("event"));
        }
        let envelope = Envelope {
            name,
            // An empty `id` would make every such event one duplicate: hash the body instead.
            key: id.0.filter(|id| !id.is_empty()),
            scope: None,
        };
        Ok((envelope, unread))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// The worked example of Zernio wire spec, section 2 (kept in `tests/fixtures/spec/zernio.md`).
    const SECRET: &str = "zr_demo_secret_123";
    const BODY: &str = r#"{"id":"3f1c2a9e-4b7d-4e21-9c0a-5d6e7f8a9b10","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    const SIGNATURE: &str = "0415d913f2d4bbcabd19f94cccf2152fb6c7beceda0966149ac24da2e63ff682";

    fn verify(
        zernio: &Zernio,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Option<usize>, SignatureError> {
        let signed = zernio.signature(headers, SystemTime::now())?;
        let mut verifier = zernio.secrets().keyring().unwrap().verifier(&signed.prefix);
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
            zernio
                .secrets()
                .keyring()
                .unwrap()
                .sign(b"", BODY.as_bytes())
                .to_hex(),
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
        // Both headers, the same tag (hex case aside): accepted.
        let h = headers(&[
            ("x-zernio-signature", SIGNATURE),
            ("x-late-signature", &SIGNATURE.to_uppercase()),
        ]);
        assert_eq!(verify(&zernio, &h, BODY), Ok(Some(1)));
    }

    #[test]
    fn differing_current_and_legacy_signatures_are_ambiguous() {
        let zernio = Zernio::new([SECRET]).unwrap();
        // A valid current signature beside a different legacy one, and the other way round.
        for (current, legacy) in [
            (SIGNATURE, "0".repeat(64)),
            (&*"0".repeat(64), SIGNATURE.to_owned()),
        ] {
            let h = headers(&[
                ("x-zernio-signature", current),
                ("x-late-signature", &legacy),
            ]);
            assert_eq!(
                verify(&zernio, &h, BODY),
                Err(SignatureError::Ambiguous(HEADER_SIGNATURE))
            );
        }
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

    #[test]
    fn empty_event_is_refused_and_empty_id_is_absent() {
        let zernio = Zernio::new([SECRET]).unwrap();
        let headers = HeaderMap::new();
        assert_eq!(
            zernio.envelope(&headers, r#"{"id":"x","event":""}"#),
            Err(EnvelopeError::EmptyDiscriminator("event"))
        );
        let e = zernio
            .envelope(&headers, r#"{"id":"","event":"webhook.test"}"#)
            .unwrap();
        assert_eq!((e.name.as_ref(), e.key), ("webhook.test", None));
    }
}
