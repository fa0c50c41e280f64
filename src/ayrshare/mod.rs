//! Ayrshare: signature scheme and typed events.
//!
//! # Wire format
//!
//! Ayrshare `POST`s a JSON object to the URL registered for one *action*. The event name is the
//! body's `action`, refined by `subAction` when there is one: hookgate names events
//! `action` or `action/subAction` (`scheduled`, `scheduled/tikTokPublished`,
//! `messages/messageCreated`, …). There is no `event` field.
//!
//! The raw body alone is signed with HMAC-SHA256, keyed by the profile's signing secret (its
//! UTF-8 bytes). The tag arrives in two headers:
//!
//! * [`X-Authorization-Content-SHA256`](HEADER_SIGNATURE): one tag, lowercase hex;
//! * [`X-Authorization-Content-SHA256-V2`](HEADER_SIGNATURE_V2): a comma-separated list of
//!   `v1=<hex>` entries, one per currently valid secret.
//!
//! Every `v1=` entry of the `-V2` header and the value of the legacy header are candidates; the
//! delivery is authentic when any secret of the keyring produced any candidate (compared in
//! constant time). Entries with another version prefix are ignored, malformed entries are
//! skipped, and at most [`MAX_SIGNATURES`] candidates are read, so a hostile header cannot make
//! the server compare without limit. Hex is accepted in either case, and (defensively, since the
//! encoding is only confirmed by third parties) standard base64 of the same 32 bytes too.
//!
//! Neither header present answers [`SignatureError::Missing`]; headers present without a single
//! parsable candidate answer [`SignatureError::Malformed`]; a signature header repeated with
//! differing values answers [`SignatureError::Ambiguous`]. Signature headers are only sent when
//! the profile has a signing secret: set one (at registration or with
//! `POST /hook/webhook/secret`), since hookgate never accepts unsigned deliveries.
//!
//! # Rotation
//!
//! Rotating a secret keeps the previous one valid for 24 hours, during which Ayrshare signs every
//! delivery with both: the `-V2` header carries one `v1=` entry per secret, and the legacy
//! header one of them. Put the new secret first and the previous one second in the keyring
//! (`Ayrshare::new([new, previous])`) while the window lasts: both are accepted, whichever header
//! carries which tag, so it does not matter whether Ayrshare's legacy header holds the new or the
//! old tag. Drop the previous secret after the 24 hours.
//!
//! # Several User Profiles (tenants)
//!
//! Secrets are per User Profile. hookgate treats each profile as a **tenant** whose id is the
//! profile's `refId` (the `refId` field of every webhook body; the `Profile-Key` is an API
//! credential and never appears in a webhook). Give each profile its own entry, never one list
//! of everybody's secrets: a list is one tenant, so profile A's secret would vouch for a body
//! naming profile B, and that forgery would also use up B's `hookId`.
//!
//! With tenants, the profile whose secret verified a delivery is its
//! [`Delivery::tenant`](crate::Delivery::tenant) and part of its dedup key, and a body whose
//! `refId` names another profile is refused (401, code `tenant_mismatch`). By default a keyring
//! of up to [`MAX_KEYS_PER_REQUEST`](crate::keyring::MAX_KEYS_PER_REQUEST) keys is tried whole
//! (then the `refId` is checked); above that, or with a [secret source](crate::secrets), the
//! body's `refId` chooses the one profile whose secrets are tried, so a forged request costs at
//! most [`MAX_KEYS_PER_TENANT`](crate::keyring::MAX_KEYS_PER_TENANT) HMACs however many
//! profiles there are (a body without a `refId` is then refused, 401 `tenant_required`).
//!
//! ```
//! use hookgate::{
//!     Delivery, Webhooks,
//!     ayrshare::{self, Ayrshare},
//!     keyring::Keyring,
//! };
//!
//! # fn app() -> Result<axum::Router, Box<dyn std::error::Error>> {
//! // One entry per User Profile: its refId, then its secrets (current first; during a
//! // rotation, the previous one second).
//! let keyring = Keyring::builder()
//!     .tenant("9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d", ["profile-a-secret"])
//!     .tenant("0d2f4a6c8e0b1d9f2c4e1a7b3d5f60812a4c6e8b", ["profile-b-new", "profile-b-old"])
//!     .build()?;
//! let webhooks = Webhooks::new(Ayrshare::with_keyring(keyring))
//!     .on(|event: ayrshare::Scheduled, delivery: Delivery| async move {
//!         let profile = delivery.tenant().expect("every entry is a named profile");
//!         println!("post {:?} of profile {profile}", event.id);
//!     })
//!     .build()?;
//! let app = axum::Router::new().route_service("/webhooks/ayrshare", webhooks);
//! # Ok(app) }
//! # app().unwrap();
//! ```
//!
//! Profiles kept in a database, added and rotated at runtime: implement
//! [`SecretSource`](crate::secrets::SecretSource) (the tenant it is asked for is a `refId`), wrap
//! it in a [`CachedSource`](crate::secrets::CachedSource) and build the provider with
//! [`Ayrshare::with_secrets`]; call [`CachedSource::invalidate`](crate::secrets::CachedSource::invalidate)
//! when a profile's secret changes.
//!
//! # Timestamp
//!
//! `X-Authorization-Timestamp` (Unix seconds) is sent but **not signed**: anyone replaying a
//! captured delivery can put a fresh value in it, so it adds no authenticity and the real replay
//! defence is de-duplication. The window is therefore off by default. Turn it on with
//! [`Ayrshare::timestamp_window`] (or [`Ayrshare::with_default_window`], [`DEFAULT_WINDOW`] = 1 h)
//! to stop naive replays of old captures. Ayrshare retries for up to about an hour and it is not
//! known whether a retry carries a fresh timestamp, so a window shorter than one hour may refuse
//! legitimate retries. When on, a missing, malformed or out-of-window timestamp is refused (401).
//!
//! # De-duplication
//!
//! The dedup key is the body's `hookId`, shared by every retry of one event, scoped by the
//! body's `refId` (the User Profile). `hookId` is not guaranteed on every action: when it is
//! absent (or not a string) the pipeline falls back to the SHA-256 of the raw body, which a
//! retry repeats byte for byte. `X-Ayrshare-Delivery-Id` is most likely per attempt and is only
//! reported in [`DeliveryMeta`], never used as the key. Keys are kept for the default 72 hours,
//! well over the 24 hours Ayrshare's guidance asks for (retries span about an hour, and manual
//! resends from the dashboard may come later).
//!
//! # Stability
//!
//! Ayrshare's webhooks are unversioned, and several fields and actions are documented only by
//! third parties or not at all (`mentions`, `feed`, `batch`, `automations`, `accountActivity`,
//! `suspended`, most `messages` fields). The [typed events](Event) are lenient accordingly:
//! unconfirmed fields are optional, enumerations are open ([`Platform::Other`], …), free-form
//! objects are kept as JSON, and every field not modelled is kept in each event's `extra` map.
//! A payload that still does not fit is delivered as [`Event::Unknown`] with its raw JSON and
//! the decode error, never refused; an action or sub-action outside the catalogue as well.
//!
//! # Example
//!
//! The worked example of Ayrshare's wire specification, during a rotation:
//!
//! ```
//! use std::time::SystemTime;
//!
//! use hookgate::{ayrshare::Ayrshare, provider::Provider};
//! use http::{HeaderMap, HeaderValue};
//!
//! let ayrshare = Ayrshare::new(["ayr_new_secret_2026", "ayr_old_secret_2025"])?;
//!
//! let body = br#"{"action":"scheduled","created":"2026-09-12T16:00:06Z","code":200,"refId":"9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d","status":"success","id":"Kd8sQm2vLx7RtY4wPz1N","errors":[],"postIds":[{"postUrl":"https://x.com/brightpathcoffee/status/1834022000111222333","platform":"twitter","status":"success","id":"1834022000111222333"}],"hookId":"hk_3Jq9XvT2mR8pLw5N","url":"https://hooks.brightpath-agency.com/ayrshare"}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("x-authorization-timestamp", HeaderValue::from_static("1789228807"));
//! headers.insert(
//!     "x-authorization-content-sha256",
//!     HeaderValue::from_static("219486de1f6c9208073907a7384ac29628a7bc9ee8b4bde6eb2df210426912e2"),
//! );
//! headers.insert(
//!     "x-authorization-content-sha256-v2",
//!     HeaderValue::from_static(
//!         "v1=219486de1f6c9208073907a7384ac29628a7bc9ee8b4bde6eb2df210426912e2,\
//!          v1=de26dce5de9e766643cd1f33807f493f5d5703f3ffef1bd9eb6fb8455599660f",
//!     ),
//! );
//!
//! let signed = ayrshare.signature(&headers, SystemTime::now())?;
//! let keyring = ayrshare.secrets().keyring().expect("a static keyring");
//! let mut verifier = keyring.verifier(&signed.prefix);
//! verifier.update(body);
//! // The current secret (position 0) signed it.
//! assert_eq!(verifier.matches(&signed.tags), Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod events;

use std::{
    borrow::Cow,
    time::{Duration, SystemTime},
};

use http::{HeaderMap, HeaderName};
use serde::Deserialize;

pub use events::*;

use crate::{
    keyring::{Keyring, KeyringError, Tag, Tags},
    provider::{
        DeliveryMeta, Envelope, EnvelopeError, HeaderSlot, LenientStr, Prefix, Provider,
        SignatureError, Signed, check_timestamp, parse_envelope, scan_envelope, scan_headers,
    },
    secrets::Secrets,
};

/// `X-Authorization-Content-SHA256`: hex HMAC-SHA256 of the raw body (one secret).
pub const HEADER_SIGNATURE: &str = "x-authorization-content-sha256";
/// `X-Authorization-Content-SHA256-V2`: `v1=<hex>` entries, comma-separated, one per valid secret.
pub const HEADER_SIGNATURE_V2: &str = "x-authorization-content-sha256-v2";
/// `X-Authorization-Timestamp`: Unix seconds, **not** covered by the signature.
pub const HEADER_TIMESTAMP: &str = "x-authorization-timestamp";
/// `X-Ayrshare-Delivery-Id`: the delivery's id (most likely per attempt; not the dedup key).
pub const HEADER_DELIVERY_ID: &str = "x-ayrshare-delivery-id";
/// `X-Ayrshare-Delivery-Attempt`: the attempt number (1 for the first send, most likely).
pub const HEADER_DELIVERY_ATTEMPT: &str = "x-ayrshare-delivery-attempt";

/// A timestamp window covering Ayrshare's retry ladder (about one hour), for
/// [`Ayrshare::with_default_window`].
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// The most signatures read from one delivery (the legacy header's, then the `-V2` entries in
/// order); the rest are ignored. Ayrshare sends at most two distinct ones.
pub const MAX_SIGNATURES: usize = 8;

static SIGNATURE_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static(HEADER_SIGNATURE),
    HeaderName::from_static(HEADER_SIGNATURE_V2),
];

/// The Ayrshare provider: its keyring, its optional timestamp window, and its wire format.
///
/// See the [module docs](self) for the wire format, rotation and an example.
#[derive(Debug, Clone)]
pub struct Ayrshare {
    secrets: Secrets,
    window: Option<Duration>,
}

impl Ayrshare {
    /// Ayrshare with these signing secrets (their UTF-8 bytes, as Ayrshare uses them), current
    /// first. The timestamp window is off.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let keyring =
            Keyring::new(secrets).map_err(|e| e.for_provider(<Self as Provider>::NAME))?;
        Ok(Self::with_keyring(keyring))
    }

    /// Ayrshare with a prepared keyring: one profile, or several named by their `refId` with
    /// [`Keyring::builder`] (see [the module docs](self#several-user-profiles-tenants)). The
    /// timestamp window is off.
    pub fn with_keyring(keyring: Keyring) -> Self {
        Self::with_secrets(keyring)
    }

    /// Ayrshare with secrets from a keyring, a [`Rotating`](crate::secrets::Rotating) keyring
    /// or a [`CachedSource`](crate::secrets::CachedSource) of profiles by `refId`. The
    /// timestamp window is off.
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            window: None,
        }
    }

    /// Refuses deliveries whose `X-Authorization-Timestamp` is missing, malformed, or further
    /// than `window` from the pipeline's clock (either way).
    ///
    /// The timestamp is not signed, so this only stops naive replays; retries span about an
    /// hour, so keep `window` at one hour or more (see the [module docs](self#timestamp)).
    #[must_use]
    pub fn timestamp_window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// Turns the timestamp window on with [`DEFAULT_WINDOW`] (one hour).
    #[must_use]
    pub fn with_default_window(self) -> Self {
        self.timestamp_window(DEFAULT_WINDOW)
    }

    /// The timestamp window, if one is on.
    pub fn window(&self) -> Option<Duration> {
        self.window
    }

    fn check_window(
        &self,
        timestamp: HeaderSlot<'_>,
        now: SystemTime,
        window: Duration,
    ) -> Result<(), SignatureError> {
        let value = timestamp
            .single(HEADER_TIMESTAMP)?
            .ok_or(SignatureError::MissingHeader(HEADER_TIMESTAMP))?;
        let text = value.as_bytes().trim_ascii();
        let malformed = SignatureError::MalformedTimestamp(HEADER_TIMESTAMP);
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return Err(malformed);
        }
        let seconds: i64 = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(malformed)?;
        check_timestamp(seconds, now, window)
    }
}

/// One candidate signature: hex (either case) or, failing that, standard base64 of 32 bytes.
fn parse_tag(text: &[u8]) -> Option<Tag> {
    Tag::from_hex(text).or_else(|| Tag::from_base64(text))
}

/// The signature of a `-V2` entry, when it is a `v1=` entry.
fn strip_v1(entry: &[u8]) -> Option<&[u8]> {
    match entry.split_at_checked(3) {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(b"v1=") => Some(rest),
        _ => None,
    }
}

/// The one field read from an unverified body to choose the profile's keys.
#[derive(Deserialize)]
struct RefId<'a> {
    #[serde(borrow, default, rename = "refId")]
    ref_id: LenientStr<'a>,
}

/// A string field read leniently, with the empty string as absent.
fn non_empty(field: LenientStr<'_>) -> Option<Cow<'_, str>> {
    field.0.filter(|s| !s.is_empty())
}

impl Provider for Ayrshare {
    const NAME: &'static str = "ayrshare";
    const TENANT_IN_BODY: bool = true;
    type Event = Event;

    fn signature_headers(&self) -> &'static [HeaderName] {
        &SIGNATURE_HEADERS
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn signature(&self, headers: &HeaderMap, now: SystemTime) -> Result<Signed, SignatureError> {
        let [legacy, v2, timestamp] = scan_headers(
            headers,
            &[HEADER_SIGNATURE, HEADER_SIGNATURE_V2, HEADER_TIMESTAMP],
        );
        let (legacy, v2) = (
            legacy.single(HEADER_SIGNATURE)?,
            v2.single(HEADER_SIGNATURE_V2)?,
        );
        if legacy.is_none() && v2.is_none() {
            return Err(SignatureError::Missing(HEADER_SIGNATURE));
        }

        let mut tags = Tags::new();
        if let Some(tag) = legacy.and_then(|value| parse_tag(value.as_bytes())) {
            tags.push(tag);
        }
        if let Some(value) = v2 {
            let mut read = 0;
            for entry in value.as_bytes().split(|&b| b == b',') {
                if read == MAX_SIGNATURES || tags.len() == MAX_SIGNATURES {
                    break;
                }
                // Other versions (`v0=`, a future `v2=`) and bare values are not ours to read.
                let Some(signature) = strip_v1(entry.trim_ascii()) else {
                    continue;
                };
                read += 1;
                // A malformed entry is skipped: another one may still verify.
                if let Some(tag) = parse_tag(signature) {
                    // The legacy header usually repeats one entry; compare each tag once.
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
        }
        if tags.is_empty() {
            return Err(SignatureError::Malformed(if legacy.is_some() {
                HEADER_SIGNATURE
            } else {
                HEADER_SIGNATURE_V2
            }));
        }

        if let Some(window) = self.window {
            self.check_window(timestamp, now, window)?;
        }
        Ok(Signed {
            prefix: Prefix::new(),
            tags,
            ..Signed::default()
        })
    }

    /// The body's `refId` (the User Profile), read leniently from the unverified body.
    fn tenant_hint<'a>(&self, body: &'a [u8]) -> Option<Cow<'a, str>> {
        let body = std::str::from_utf8(body).ok()?;
        let raw: RefId<'a> = parse_envelope(body).ok()?;
        non_empty(raw.ref_id)
    }

    /// The body's `refId`: a body verified by one profile's secret that names another profile
    /// is refused.
    fn envelope_tenant<'e>(&self, envelope: &'e Envelope<'_>) -> Option<&'e str> {
        envelope.scope.as_deref()
    }

    fn envelope<'a>(
        &self,
        _headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let [action, sub_action, hook_id, ref_id] =
            scan_envelope(body, &["action", "subAction", "hookId", "refId"])?;
        let action = match action.0 {
            None => return Err(EnvelopeError::MissingDiscriminator("action")),
            Some(action) if action.is_empty() => {
                return Err(EnvelopeError::EmptyDiscriminator("action"));
            }
            Some(action) => action,
        };
        let name = match non_empty(sub_action) {
            Some(sub_action) => Cow::Owned(format!("{action}/{sub_action}")),
            None => action,
        };
        Ok(Envelope {
            name,
            // An empty `hookId` would make every such event one duplicate: hash the body instead.
            key: non_empty(hook_id),
            scope: non_empty(ref_id),
        })
    }

    fn delivery_meta(&self, headers: &HeaderMap) -> DeliveryMeta {
        let [attempt, delivery_id] =
            scan_headers(headers, &[HEADER_DELIVERY_ATTEMPT, HEADER_DELIVERY_ID]);
        // A repeated, differing value is unsigned noise: report nothing rather than guess.
        fn text(slot: HeaderSlot<'_>) -> Option<&str> {
            match slot {
                HeaderSlot::One(value) => {
                    value.to_str().ok().map(str::trim).filter(|s| !s.is_empty())
                }
                HeaderSlot::Missing | HeaderSlot::Ambiguous => None,
            }
        }
        DeliveryMeta {
            attempt: text(attempt).and_then(|s| s.parse().ok()),
            delivery_id: text(delivery_id).map(str::to_owned),
        }
    }

    // `dedup_ttl`: the default 72 h is kept on purpose (Ayrshare asks for at least 24 h).
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// The worked example of Ayrshare wire spec, section 2 (kept in `tests/fixtures/spec/ayrshare.md`).
    const BODY: &str = r#"{"action":"scheduled","created":"2026-09-12T16:00:06Z","code":200,"refId":"9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d","status":"success","id":"Kd8sQm2vLx7RtY4wPz1N","errors":[],"postIds":[{"postUrl":"https://x.com/brightpathcoffee/status/1834022000111222333","platform":"twitter","status":"success","id":"1834022000111222333"}],"hookId":"hk_3Jq9XvT2mR8pLw5N","url":"https://hooks.brightpath-agency.com/ayrshare"}"#;
    const NEW: &str = "ayr_new_secret_2026";
    const OLD: &str = "ayr_old_secret_2025";
    const SIG_NEW: &str = "219486de1f6c9208073907a7384ac29628a7bc9ee8b4bde6eb2df210426912e2";
    const SIG_OLD: &str = "de26dce5de9e766643cd1f33807f493f5d5703f3ffef1bd9eb6fb8455599660f";
    const B64_NEW: &str = "IZSG3h9skggHOQenOErCliinvJ7otL3m6y3yEEJpEuI=";
    const B64_OLD: &str = "3ibc5d6edmZDzR8zgH9JP11XA/P/7xvZ62+4RVWZZg8=";
    const TIMESTAMP: u64 = 1_789_228_807;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn verify_at(
        ayrshare: &Ayrshare,
        headers: &HeaderMap,
        body: &str,
        now: SystemTime,
    ) -> Result<Option<usize>, SignatureError> {
        let signed = ayrshare.signature(headers, now)?;
        assert!(signed.prefix.is_empty(), "Ayrshare signs the body alone");
        let keyring = ayrshare.secrets().keyring().unwrap();
        let mut verifier = keyring.verifier(&signed.prefix);
        verifier.update(body.as_bytes());
        Ok(verifier.matches(&signed.tags))
    }

    fn verify(
        ayrshare: &Ayrshare,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<Option<usize>, SignatureError> {
        verify_at(ayrshare, headers, body, at(TIMESTAMP))
    }

    fn both() -> Ayrshare {
        Ayrshare::new([NEW, OLD]).unwrap()
    }

    fn v2(entries: &[&str]) -> String {
        entries
            .iter()
            .map(|e| format!("v1={e}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn known_answer() {
        let new = Ayrshare::new([NEW]).unwrap();
        let old = Ayrshare::new([OLD]).unwrap();
        assert_eq!(BODY.len(), 411);
        let tag = new.secrets().keyring().unwrap().sign(b"", BODY.as_bytes());
        assert_eq!(
            (tag.to_hex().as_str(), tag.to_base64().as_str()),
            (SIG_NEW, B64_NEW)
        );
        let tag = old.secrets().keyring().unwrap().sign(b"", BODY.as_bytes());
        assert_eq!(
            (tag.to_hex().as_str(), tag.to_base64().as_str()),
            (SIG_OLD, B64_OLD)
        );
    }

    #[test]
    fn worked_example_headers() {
        let h = headers(&[
            (HEADER_TIMESTAMP, "1789228807"),
            (HEADER_SIGNATURE, SIG_NEW),
            (HEADER_SIGNATURE_V2, &v2(&[SIG_NEW, SIG_OLD])),
        ]);
        assert_eq!(verify(&both(), &h, BODY), Ok(Some(0)));
        // The repeated tag is offered once.
        assert_eq!(both().signature(&h, at(TIMESTAMP)).unwrap().tags.len(), 2);
        // A receiver that already dropped the previous secret, or has not added the new one
        // yet, still verifies during the grace window.
        assert_eq!(
            verify(&Ayrshare::new([NEW]).unwrap(), &h, BODY),
            Ok(Some(0))
        );
        assert_eq!(
            verify(&Ayrshare::new([OLD]).unwrap(), &h, BODY),
            Ok(Some(0))
        );
    }

    #[test]
    fn current_and_previous_secret_each_header() {
        let ayrshare = both();
        for (header, sig, expected) in [
            (HEADER_SIGNATURE, SIG_NEW.to_owned(), 0),
            (HEADER_SIGNATURE, SIG_OLD.to_owned(), 1),
            (HEADER_SIGNATURE, SIG_OLD.to_uppercase(), 1),
            (HEADER_SIGNATURE, B64_NEW.to_owned(), 0),
            (HEADER_SIGNATURE, B64_OLD.to_owned(), 1),
            (HEADER_SIGNATURE_V2, v2(&[SIG_NEW]), 0),
            (HEADER_SIGNATURE_V2, v2(&[SIG_OLD]), 1),
            (HEADER_SIGNATURE_V2, v2(&[B64_NEW]), 0),
            (HEADER_SIGNATURE_V2, v2(&[B64_OLD]), 1),
            (HEADER_SIGNATURE_V2, v2(&[&SIG_NEW.to_uppercase()]), 0),
            (HEADER_SIGNATURE_V2, v2(&[B64_OLD, B64_NEW]), 0),
        ] {
            let h = headers(&[(header, &sig)]);
            assert_eq!(
                verify(&ayrshare, &h, BODY),
                Ok(Some(expected)),
                "{header}: {sig}"
            );
        }
    }

    #[test]
    fn rotation_cases() {
        let ayrshare = both();
        let junk = "0".repeat(64);
        // -V2 only, either order, with spaces around the entries.
        let h = headers(&[(
            HEADER_SIGNATURE_V2,
            &format!(" v1={SIG_OLD} ,  v1={SIG_NEW} "),
        )]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(0)));
        // Legacy only.
        let h = headers(&[(HEADER_SIGNATURE, SIG_NEW)]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(0)));
        // Legacy signed with the previous secret, only the second -V2 entry valid for a
        // receiver that holds the new secret alone.
        let h = headers(&[
            (HEADER_SIGNATURE, SIG_OLD),
            (HEADER_SIGNATURE_V2, &v2(&[&junk, SIG_NEW])),
        ]);
        assert_eq!(
            verify(&Ayrshare::new([NEW]).unwrap(), &h, BODY),
            Ok(Some(0))
        );
        // Signed by the previous secret alone: valid only while the keyring holds it.
        let h = headers(&[
            (HEADER_SIGNATURE, SIG_OLD),
            (HEADER_SIGNATURE_V2, &v2(&[SIG_OLD])),
        ]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(1)));
        assert_eq!(verify(&Ayrshare::new([NEW]).unwrap(), &h, BODY), Ok(None));
        // Tampered body.
        let h = headers(&[
            (HEADER_SIGNATURE, SIG_NEW),
            (HEADER_SIGNATURE_V2, &v2(&[SIG_NEW, SIG_OLD])),
        ]);
        assert_eq!(verify(&ayrshare, &h, &BODY.replace("200", "201")), Ok(None));
        // Wrong secret.
        assert_eq!(
            verify(&Ayrshare::new(["ayr_other"]).unwrap(), &h, BODY),
            Ok(None)
        );
        // Unsigned: only the (unsigned) timestamp header.
        let h = headers(&[(HEADER_TIMESTAMP, "1789228807")]);
        assert_eq!(
            verify(&ayrshare, &h, BODY),
            Err(SignatureError::Missing(HEADER_SIGNATURE))
        );
        assert_eq!(
            verify(&ayrshare, &HeaderMap::new(), BODY),
            Err(SignatureError::Missing(HEADER_SIGNATURE))
        );
    }

    #[test]
    fn other_versions_and_malformed_entries_are_skipped() {
        let ayrshare = both();
        let junk = "f".repeat(64);
        for value in [
            format!("v0={junk},v1={SIG_NEW}"),
            format!("v2={SIG_OLD},v1={SIG_NEW}"),
            format!("v1,v1=,v1=nothex,v1={},v1={SIG_NEW}", &SIG_NEW[..63]),
            format!("{junk},V1={SIG_NEW}"),
            format!(",,v1={SIG_NEW},"),
        ] {
            let h = headers(&[(HEADER_SIGNATURE_V2, &value)]);
            assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(0)), "{value}");
        }
        // A valid tag under another version prefix is not read.
        let h = headers(&[(HEADER_SIGNATURE_V2, &format!("v0={SIG_NEW},v1={junk}"))]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(None));
        // A bare tag (no version) in -V2 is not read either.
        let h = headers(&[(HEADER_SIGNATURE_V2, SIG_NEW)]);
        assert_eq!(
            verify(&ayrshare, &h, BODY),
            Err(SignatureError::Malformed(HEADER_SIGNATURE_V2))
        );
    }

    #[test]
    fn malformed_headers() {
        let ayrshare = both();
        for (pairs, header) in [
            (vec![(HEADER_SIGNATURE, "sha256=abc")], HEADER_SIGNATURE),
            (vec![(HEADER_SIGNATURE, "")], HEADER_SIGNATURE),
            (vec![(HEADER_SIGNATURE_V2, "v0=abc")], HEADER_SIGNATURE_V2),
            (vec![(HEADER_SIGNATURE_V2, "v1,")], HEADER_SIGNATURE_V2),
            (
                vec![(HEADER_SIGNATURE, "nope"), (HEADER_SIGNATURE_V2, "v1=nope")],
                HEADER_SIGNATURE,
            ),
        ] {
            let h = headers(&pairs);
            assert_eq!(
                verify(&ayrshare, &h, BODY),
                Err(SignatureError::Malformed(header)),
                "{pairs:?}"
            );
        }
        // The legacy header malformed, -V2 fine: the delivery verifies.
        let h = headers(&[
            (HEADER_SIGNATURE, "nope"),
            (HEADER_SIGNATURE_V2, &v2(&[SIG_OLD])),
        ]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(1)));
    }

    #[test]
    fn candidates_are_bounded() {
        let ayrshare = both();
        let junk: Vec<String> = (0..MAX_SIGNATURES + 4)
            .map(|i| format!("{i:064x}"))
            .collect();
        let mut entries: Vec<&str> = junk.iter().map(String::as_str).collect();
        entries.push(SIG_NEW);
        let h = headers(&[(HEADER_SIGNATURE_V2, &v2(&entries))]);
        let signed = ayrshare.signature(&h, at(TIMESTAMP)).unwrap();
        assert_eq!(signed.tags.len(), MAX_SIGNATURES);
        // The valid entry came after the bound: it is not read.
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(None));
        // Malformed v1 entries count towards the bound too.
        let value = format!("{},v1={SIG_NEW}", ["v1=x"; MAX_SIGNATURES].join(","));
        let h = headers(&[(HEADER_SIGNATURE_V2, &value)]);
        assert_eq!(
            verify(&ayrshare, &h, BODY),
            Err(SignatureError::Malformed(HEADER_SIGNATURE_V2))
        );
        // The legacy header is read first and is never crowded out.
        let h = headers(&[
            (HEADER_SIGNATURE, SIG_NEW),
            (HEADER_SIGNATURE_V2, &v2(&entries)),
        ]);
        assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(0)));
    }

    #[test]
    fn repeated_headers() {
        let ayrshare = both();
        for header in [HEADER_SIGNATURE, HEADER_SIGNATURE_V2] {
            let (a, b) = if header == HEADER_SIGNATURE {
                (SIG_NEW.to_owned(), SIG_OLD.to_owned())
            } else {
                (v2(&[SIG_NEW]), v2(&[SIG_OLD]))
            };
            // Whatever the order, differing values are ambiguous.
            for (first, second) in [(&a, &b), (&b, &a)] {
                let h = headers(&[(header, first), (header, second)]);
                assert_eq!(
                    verify(&ayrshare, &h, BODY),
                    Err(SignatureError::Ambiguous(header))
                );
            }
            // An identical repeat (a proxy duplicated it) is fine.
            let h = headers(&[(header, &a), (header, &a)]);
            assert_eq!(verify(&ayrshare, &h, BODY), Ok(Some(0)));
        }
    }

    #[test]
    fn timestamp_window() {
        let hour = Duration::from_secs(3600);
        let windowed = both().timestamp_window(hour);
        assert_eq!(both().window(), None);
        assert_eq!(both().with_default_window().window(), Some(DEFAULT_WINDOW));
        let signed = |ts: &str| headers(&[(HEADER_SIGNATURE, SIG_NEW), (HEADER_TIMESTAMP, ts)]);
        let h = signed("1789228807");
        // Inside, at both edges.
        for now in [TIMESTAMP, TIMESTAMP + 3600, TIMESTAMP - 3600] {
            assert_eq!(
                verify_at(&windowed, &h, BODY, at(now)),
                Ok(Some(0)),
                "{now}"
            );
        }
        // Too old, too new.
        assert_eq!(
            verify_at(&windowed, &h, BODY, at(TIMESTAMP + 3601)),
            Err(SignatureError::TimestampTooOld)
        );
        assert_eq!(
            verify_at(&windowed, &h, BODY, at(TIMESTAMP - 3601)),
            Err(SignatureError::TimestampInFuture)
        );
        // Missing, malformed, repeated with differing values.
        let missing = headers(&[(HEADER_SIGNATURE, SIG_NEW)]);
        assert_eq!(
            verify_at(&windowed, &missing, BODY, at(TIMESTAMP)),
            Err(SignatureError::MissingHeader(HEADER_TIMESTAMP))
        );
        for bad in [
            "",
            "soon",
            "1789228807.5",
            "-5",
            "+1789228807",
            "1789228807000000000000",
            "1789228807ms",
        ] {
            assert_eq!(
                verify_at(&windowed, &signed(bad), BODY, at(TIMESTAMP)),
                Err(SignatureError::MalformedTimestamp(HEADER_TIMESTAMP)),
                "{bad:?}"
            );
        }
        let mut twice = signed("1789228807");
        twice.append(HEADER_TIMESTAMP, HeaderValue::from_static("1789228808"));
        assert_eq!(
            verify_at(&windowed, &twice, BODY, at(TIMESTAMP)),
            Err(SignatureError::Ambiguous(HEADER_TIMESTAMP))
        );
        assert_eq!(
            verify_at(&windowed, &signed(" 1789228807 "), BODY, at(TIMESTAMP)),
            Ok(Some(0))
        );
        // Window off: any timestamp, or none, is accepted.
        let off = both();
        for h in [signed("1"), signed("soon"), signed(""), missing, twice] {
            assert_eq!(
                verify_at(&off, &h, BODY, at(TIMESTAMP + 86_400 * 365)),
                Ok(Some(0))
            );
        }
        // A bad signature header is reported before the timestamp.
        let h = headers(&[(HEADER_SIGNATURE, "nope")]);
        assert_eq!(
            verify_at(&windowed, &h, BODY, at(TIMESTAMP)),
            Err(SignatureError::Malformed(HEADER_SIGNATURE))
        );
    }

    #[test]
    fn envelope_names_keys_and_scopes() {
        let ayrshare = both();
        let h = HeaderMap::new();
        let e = ayrshare.envelope(&h, BODY).unwrap();
        assert_eq!(e.name, "scheduled");
        assert!(matches!(e.name, Cow::Borrowed(_)));
        assert_eq!(e.key.as_deref(), Some("hk_3Jq9XvT2mR8pLw5N"));
        assert_eq!(
            e.scope.as_deref(),
            Some("9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d")
        );

        let e = ayrshare
            .envelope(
                &h,
                r#"{"action":"messages","subAction":"messageCreated","hookId":"hk_1"}"#,
            )
            .unwrap();
        assert_eq!(
            (e.name.as_ref(), e.key.as_deref(), e.scope),
            ("messages/messageCreated", Some("hk_1"), None)
        );
        let e = ayrshare
            .envelope(
                &h,
                r#"{"subAction":"tikTokPublished","action":"scheduled"}"#,
            )
            .unwrap();
        assert_eq!(e.name, "scheduled/tikTokPublished");
        // An empty or non-string subAction does not refine the name.
        for body in [
            r#"{"action":"social","subAction":""}"#,
            r#"{"action":"social","subAction":null}"#,
            r#"{"action":"social","subAction":{"x":1}}"#,
        ] {
            assert_eq!(
                ayrshare.envelope(&h, body).unwrap().name,
                "social",
                "{body}"
            );
        }
        // hookId absent, empty or not a string: no key (the pipeline hashes the body).
        for body in [
            r#"{"action":"social","refId":"r"}"#,
            r#"{"action":"social","refId":"r","hookId":""}"#,
            r#"{"action":"social","refId":"r","hookId":42}"#,
        ] {
            let e = ayrshare.envelope(&h, body).unwrap();
            assert_eq!((e.key, e.scope.as_deref()), (None, Some("r")), "{body}");
        }
    }

    #[test]
    fn envelope_refusals() {
        let ayrshare = both();
        let h = HeaderMap::new();
        assert_eq!(ayrshare.envelope(&h, "nope"), Err(EnvelopeError::NotJson));
        assert_eq!(
            ayrshare.envelope(&h, r#"{"action":"#),
            Err(EnvelopeError::NotJson)
        );
        assert_eq!(
            ayrshare.envelope(&h, r#"[{"action":"scheduled"}]"#),
            Err(EnvelopeError::NotObject)
        );
        assert_eq!(
            ayrshare.envelope(&h, r#""scheduled""#),
            Err(EnvelopeError::NotObject)
        );
        assert_eq!(
            ayrshare.envelope(&h, r#"{"action":"","subAction":"messageCreated"}"#),
            Err(EnvelopeError::EmptyDiscriminator("action"))
        );
        for body in [
            r#"{"hookId":"hk_1"}"#,
            r#"{"action":5}"#,
            r#"{"action":null,"subAction":"messageCreated"}"#,
        ] {
            assert_eq!(
                ayrshare.envelope(&h, body),
                Err(EnvelopeError::MissingDiscriminator("action")),
                "{body}"
            );
        }
    }

    #[test]
    fn delivery_meta() {
        let ayrshare = both();
        let h = headers(&[
            (HEADER_DELIVERY_ID, "dlv_123"),
            (HEADER_DELIVERY_ATTEMPT, " 3 "),
        ]);
        let meta = ayrshare.delivery_meta(&h);
        assert_eq!(
            (meta.attempt, meta.delivery_id.as_deref()),
            (Some(3), Some("dlv_123"))
        );
        let h = headers(&[(HEADER_DELIVERY_ATTEMPT, "third"), (HEADER_DELIVERY_ID, "")]);
        assert_eq!(ayrshare.delivery_meta(&h), DeliveryMeta::default());
        let h = headers(&[(HEADER_DELIVERY_ATTEMPT, "-1")]);
        assert_eq!(ayrshare.delivery_meta(&h).attempt, None);
        assert_eq!(
            ayrshare.delivery_meta(&HeaderMap::new()),
            DeliveryMeta::default()
        );
    }

    #[test]
    fn tenant_from_ref_id() {
        let ayrshare = both();
        assert_eq!(
            ayrshare.tenant_hint(BODY.as_bytes()).as_deref(),
            Some("9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d")
        );
        for body in [
            &br#"{"action":"x"}"#[..],
            br#"{"refId":""}"#,
            br#"{"refId":5}"#,
            br#"[1]"#,
            b"\xff",
        ] {
            assert_eq!(ayrshare.tenant_hint(body), None, "{body:?}");
        }
        let h = HeaderMap::new();
        let envelope = ayrshare.envelope(&h, BODY).unwrap();
        assert_eq!(
            ayrshare.envelope_tenant(&envelope),
            Some("9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d")
        );
    }

    #[test]
    fn keyring_errors_name_the_provider() {
        let error = Ayrshare::new(["ok", "  "]).unwrap_err();
        assert!(
            error.to_string().starts_with("ayrshare: secret #1"),
            "{error}"
        );
    }

    #[test]
    fn provider_constants() {
        let ayrshare = both();
        assert_eq!(Ayrshare::NAME, "ayrshare");
        let names: Vec<&str> = ayrshare
            .signature_headers()
            .iter()
            .map(HeaderName::as_str)
            .collect();
        assert_eq!(names, [HEADER_SIGNATURE, HEADER_SIGNATURE_V2]);
        assert!(ayrshare.dedup_ttl() >= Duration::from_secs(24 * 3600));
        assert!(!format!("{ayrshare:?}").contains("secret_2026"));
    }
}
