//! Standard Webhooks (and Svix, which it grew from): signature scheme and typed envelopes.
//!
//! A sender signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 and sends
//! `webhook-signature: v1,<base64>`, a space-separated list of signatures (several during a
//! secret rotation). Svix sends the same headers named `svix-id`, `svix-timestamp` and
//! `svix-signature`; both are read. hookgate verifies over the raw bytes as they stream in (the
//! `id.timestamp.` prefix first, then the body, never copied), checks the timestamp against a
//! tolerance (5 minutes by default, both ways), and uses the signed `webhook-id`, which stays
//! the same across retries, as the dedup key.
//!
//! The payload is routed by its `type`. Event names are yours, so the catalogue is too:
//! implement [`Payload`] for the `data` of the types you handle and register handlers taking
//! [`Message<YourType>`](Message); [`Webhooks::on_any`](crate::Webhooks::on_any) with the
//! untyped [`Message`] catches the rest.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! use bytes::Bytes;
//! use hookgate::{Webhooks, standard::{self, Payload, Standard}};
//! use http_body_util::Full;
//! use tower::ServiceExt;
//!
//! #[derive(serde::Deserialize)]
//! struct InvoicePaid {
//!     invoice: String,
//!     amount: u64,
//! }
//!
//! impl Payload for InvoicePaid {
//!     const TYPES: &'static [&'static str] = &["invoice.paid"];
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let standard = Standard::new(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])?;
//!
//! // What the sender does: sign `id.timestamp.body` and send three headers.
//! let (id, timestamp) = ("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1_767_225_600);
//! let body = r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"invoice":"in_1","amount":4200}}"#;
//! let request = http::Request::post("/webhooks/standard")
//!     .header("webhook-id", id)
//!     .header("webhook-timestamp", timestamp.to_string())
//!     .header("webhook-signature", standard.sign(id, timestamp, body.as_bytes()))
//!     .body(Full::new(Bytes::from(body)))?;
//!
//! let service = Webhooks::new(standard)
//!     // The delivery's clock: it arrives within the 5-minute tolerance.
//!     .clock(move || UNIX_EPOCH + Duration::from_secs(timestamp as u64 + 10))
//!     .on(|paid: standard::Message<InvoicePaid>| async move {
//!         assert_eq!((paid.data.invoice.as_str(), paid.data.amount), ("in_1", 4200));
//!     })
//!     .on_any(|other: standard::Message| async move {
//!         println!("{} without a handler of its own: {}", other.r#type, other.data);
//!     })
//!     .build()?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```
//!
//! **Secrets** are given as the sender shows them, `whsec_<base64>` ([`Standard::new`]), or as
//! raw key bytes ([`Standard::from_raw_keys`]), current first. The decoded key bytes are
//! zeroized once keyed. Only symmetric (`v1`, HMAC-SHA256) signatures are verified: `v1a`
//! (ed25519) entries and other versions are ignored.
//!
//! **Replays and retries.** A retry carries the same `webhook-id` with a new timestamp and a new
//! signature, so it is answered as a duplicate once the first attempt was handled. A delivery
//! replayed after the tolerance is refused (401) before dedup is consulted; within it, dedup
//! answers. The dedup TTL defaults to 4 days, which covers the retry schedule the specification
//! gives as an example (about 76 hours), and is never shorter than twice the tolerance.

mod events;

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

pub use events::{Event, Message, Payload};

use crate::{
    keyring::{Keyring, KeyringError, Tag, Tags},
    provider::{
        Envelope, EnvelopeError, HeaderSlot, Prefix, Provider, SignatureError, Signed,
        check_timestamp, scan_envelope, scan_headers,
    },
    secrets::Secrets,
};

/// `webhook-id`: the event's unique id, the same across retries (signed; the dedup key).
pub const HEADER_ID: &str = "webhook-id";
/// `webhook-timestamp`: the attempt's Unix time in seconds (signed; checked against the tolerance).
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature`: space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// `svix-id`: Svix's name for `webhook-id`.
pub const HEADER_SVIX_ID: &str = "svix-id";
/// `svix-timestamp`: Svix's name for `webhook-timestamp`.
pub const HEADER_SVIX_TIMESTAMP: &str = "svix-timestamp";
/// `svix-signature`: Svix's name for `webhook-signature`.
pub const HEADER_SVIX_SIGNATURE: &str = "svix-signature";

/// The default timestamp tolerance, both ways: 5 minutes, as the reference libraries use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// At most this many `v1` signatures of one header are considered; the rest are ignored.
pub const MAX_SIGNATURES: usize = 16;

/// The prefix of a serialized secret.
const SECRET_PREFIX: &str = "whsec_";

/// The default dedup TTL: 4 days.
const DEDUP_TTL: Duration = Duration::from_secs(4 * 24 * 3600);

static SIGNATURE_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static(HEADER_SIGNATURE),
    HeaderName::from_static(HEADER_SVIX_SIGNATURE),
];

/// One naming of the three headers.
struct Names {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const WEBHOOK_NAMES: Names = Names {
    id: HEADER_ID,
    timestamp: HEADER_TIMESTAMP,
    signature: HEADER_SIGNATURE,
};

const SVIX_NAMES: Names = Names {
    id: HEADER_SVIX_ID,
    timestamp: HEADER_SVIX_TIMESTAMP,
    signature: HEADER_SVIX_SIGNATURE,
};

/// The three headers of one naming, as found in the request.
struct Found<'h> {
    id: HeaderSlot<'h>,
    timestamp: HeaderSlot<'h>,
    signature: HeaderSlot<'h>,
}

/// Finds the `webhook-*` and `svix-*` headers in one pass over the map, and picks a set: the
/// `webhook-*` set when any of its headers is there, else the `svix-*` set when any of its
/// headers is, else `webhook-*` (to name what is missing). The set is chosen once, so the id,
/// timestamp and signature always come from the same sender's naming.
fn scan(headers: &HeaderMap) -> (&'static Names, Found<'_>) {
    let [
        id,
        timestamp,
        signature,
        svix_id,
        svix_timestamp,
        svix_signature,
    ] = scan_headers(
        headers,
        &[
            HEADER_ID,
            HEADER_TIMESTAMP,
            HEADER_SIGNATURE,
            HEADER_SVIX_ID,
            HEADER_SVIX_TIMESTAMP,
            HEADER_SVIX_SIGNATURE,
        ],
    );
    let webhook = Found {
        id,
        timestamp,
        signature,
    };
    let svix = Found {
        id: svix_id,
        timestamp: svix_timestamp,
        signature: svix_signature,
    };
    let any = |found: &Found<'_>| {
        found.id.is_present() || found.timestamp.is_present() || found.signature.is_present()
    };
    if !any(&webhook) && any(&svix) {
        (&SVIX_NAMES, svix)
    } else {
        (&WEBHOOK_NAMES, webhook)
    }
}

/// The Standard Webhooks provider: its keyring, its timestamp tolerance and its wire format.
///
/// See the [module docs](self) for an example.
#[derive(Clone)]
pub struct Standard {
    secrets: Secrets,
    tolerance: Duration,
}

impl Standard {
    /// Standard Webhooks with these secrets, current first, each as the sender shows it:
    /// `whsec_` followed by base64 (padded or not).
    ///
    /// Like the reference libraries, a secret without the `whsec_` prefix is base64-decoded
    /// too. Surrounding whitespace is ignored. A secret that does not decode is refused with
    /// [`KeyringError::InvalidSecret`] (the error never contains the secret), one that decodes
    /// to nothing with [`KeyringError::EmptySecret`].
    pub fn new<I, S>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keyring = keyring(secrets).map_err(|e| e.for_provider(<Self as Provider>::NAME))?;
        Ok(Self::with_keyring(keyring))
    }

    /// Standard Webhooks with raw key bytes (the decoded secrets), current first.
    pub fn from_raw_keys<I, K>(keys: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let keyring = Keyring::new(keys).map_err(|e| e.for_provider(<Self as Provider>::NAME))?;
        Ok(Self::with_keyring(keyring))
    }

    /// Standard Webhooks with a prepared keyring (of raw key bytes; see [`keyring`] for
    /// `whsec_` secrets), one sender or several named with [`Keyring::builder`].
    pub fn with_keyring(keyring: Keyring) -> Self {
        Self::with_secrets(keyring)
    }

    /// Standard Webhooks with secrets from a keyring, a
    /// [`Rotating`](crate::secrets::Rotating) keyring or a
    /// [`CachedSource`](crate::secrets::CachedSource), per customer (see
    /// [`secrets`](crate::secrets)).
    pub fn with_secrets(secrets: impl Into<Secrets>) -> Self {
        Self {
            secrets: secrets.into(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// How far `webhook-timestamp` may be from the pipeline's clock, in the past or the future
    /// (default [`DEFAULT_TOLERANCE`], 5 minutes). Whole seconds count.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The `webhook-signature` value a sender computes for one delivery with the current
    /// (first) secret: `v1,<base64>`, over `{id}.{timestamp}.{body}` (raw bytes; `body` need
    /// not be UTF-8).
    ///
    /// For tests and senders; a receiver needs nothing but the pipeline.
    ///
    /// ```
    /// use hookgate::standard::Standard;
    ///
    /// // The test vector of the Standard Webhooks and Svix libraries.
    /// let standard = Standard::new(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])?;
    /// assert_eq!(
    ///     standard.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
    ///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    /// );
    /// # Ok::<(), hookgate::keyring::KeyringError>(())
    /// ```
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let keyring = self
            .secrets
            .current()
            .expect("Standard::sign needs a static or rotating keyring, not a secret source");
        let tag = keyring.sign(&prefix(id.as_bytes(), timestamp), body);
        format!("v1,{}", tag.to_base64())
    }
}

impl fmt::Debug for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Standard")
            .field("secrets", &self.secrets)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// A keyring (one unnamed tenant) from Standard Webhooks secrets as the sender shows them,
/// `whsec_<base64>` (or bare base64), current first, with the rules of [`Standard::new`]: for
/// a [`Keyring::builder`] tenant, or a [`SecretSource`](crate::secrets::SecretSource).
pub fn keyring<I, S>(secrets: I) -> Result<Keyring, KeyringError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut keys: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for (index, secret) in secrets.into_iter().enumerate() {
        keys.push(Zeroizing::new(decode_secret(secret.as_ref(), index)?));
    }
    Keyring::new(keys.iter().map(|key| key.as_slice()))
}

/// `whsec_<base64>` (or bare base64) to key bytes.
fn decode_secret(secret: &str, index: usize) -> Result<Vec<u8>, KeyringError> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let secret = secret.trim();
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    ENGINE
        .decode(encoded)
        .map_err(|_| KeyringError::invalid(index, "not `whsec_` followed by base64"))
}

/// `{id}.{timestamp}.`: what is signed before the body.
/// The prefix of a received delivery: the timestamp header's own bytes when they are the
/// number's canonical digits (the usual case, no formatting), else the number formatted as the
/// reference libraries do.
fn signed_prefix(id: &[u8], raw_timestamp: &[u8], timestamp: i64) -> Prefix {
    let canonical = !raw_timestamp.is_empty()
        && raw_timestamp.iter().all(u8::is_ascii_digit)
        && (raw_timestamp[0] != b'0' || raw_timestamp.len() == 1);
    if !canonical {
        return prefix(id, timestamp);
    }
    let mut prefix = Prefix::new();
    for part in [id, b".", raw_timestamp, b"."] {
        prefix.extend_from_slice(part);
    }
    prefix
}

fn prefix(id: &[u8], timestamp: i64) -> Prefix {
    use std::io::Write as _;
    // Inline for ids up to about 40 bytes: no allocation, no intermediate string.
    let mut prefix = Prefix::new();
    prefix.extend_from_slice(id);
    write!(prefix, ".{timestamp}.").expect("writing to memory cannot fail");
    prefix
}

/// The `v1` tags of a signature header, at most [`MAX_SIGNATURES`]. Entries of other versions
/// and `v1` entries that are not base64 of 32 bytes are skipped.
fn parse_signatures(value: &HeaderValue) -> Tags {
    let mut tags = Tags::new();
    for entry in value.as_bytes().split(|&b| b == b' ') {
        if tags.len() == MAX_SIGNATURES {
            break;
        }
        if let Some(tag) = entry.strip_prefix(b"v1,").and_then(Tag::from_base64) {
            tags.push(tag);
        }
    }
    tags
}

/// A whole, non-negative number of seconds, as the reference libraries read it.
fn parse_timestamp(value: &HeaderValue) -> Option<i64> {
    let seconds: i64 = value.to_str().ok()?.trim().parse().ok()?;
    // Svix refuses timestamps before 1970 as invalid.
    (seconds >= 0).then_some(seconds)
}

impl Provider for Standard {
    const NAME: &'static str = "standard";
    type Event = Event;

    fn signature_headers(&self) -> &'static [HeaderName] {
        &SIGNATURE_HEADERS
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn signature(&self, headers: &HeaderMap, now: SystemTime) -> Result<Signed, SignatureError> {
        let (names, found) = scan(headers);
        let signature = found
            .signature
            .single(names.signature)?
            .ok_or(SignatureError::Missing(names.signature))?;
        let id = found
            .id
            .single(names.id)?
            .filter(|id| !id.is_empty())
            .ok_or(SignatureError::MissingHeader(names.id))?;
        // The id becomes the dedup key: refuse what is not visible ASCII rather than guess.
        if id.to_str().is_err() {
            return Err(SignatureError::Malformed(names.id));
        }
        let timestamp = found
            .timestamp
            .single(names.timestamp)?
            .ok_or(SignatureError::MissingHeader(names.timestamp))?;
        let tags = parse_signatures(signature);
        if tags.is_empty() {
            return Err(SignatureError::Malformed(names.signature));
        }
        let raw_timestamp = timestamp.as_bytes();
        let timestamp = parse_timestamp(timestamp)
            .ok_or(SignatureError::MalformedTimestamp(names.timestamp))?;
        check_timestamp(timestamp, now, self.tolerance)?;
        Ok(Signed {
            prefix: signed_prefix(id.as_bytes(), raw_timestamp, timestamp),
            tags,
            ..Signed::default()
        })
    }

    fn envelope<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let [kind] = scan_envelope(body, &["type"])?;
        let name = kind.0.ok_or(EnvelopeError::MissingDiscriminator("type"))?;
        if name.is_empty() {
            return Err(EnvelopeError::EmptyDiscriminator("type"));
        }
        // Checked by `signature`: present, single, visible ASCII.
        let (names, found) = scan(headers);
        let key = found
            .id
            .single(names.id)
            .ok()
            .flatten()
            .and_then(|id| id.to_str().ok())
            .map(Into::into);
        Ok(Envelope {
            name,
            key,
            scope: None,
        })
    }

    /// Four days (the example retry schedule of the specification spans about 76 hours), and
    /// never less than twice the tolerance, so a delivery replayed anywhere in its window is
    /// still remembered.
    fn dedup_ttl(&self) -> Duration {
        DEDUP_TTL.max(self.tolerance.saturating_mul(2))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::{EventSet, UnknownEvent, UnknownReason, decode_or_unknown};

    /// The test vector of the Standard Webhooks and Svix libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn vector_headers() -> HeaderMap {
        headers(&[
            (HEADER_ID, ID),
            (HEADER_TIMESTAMP, &TIMESTAMP.to_string()),
            (HEADER_SIGNATURE, SIGNATURE),
        ])
    }

    fn verify(standard: &Standard, h: &HeaderMap, body: &[u8]) -> Result<bool, SignatureError> {
        let signed = standard.signature(h, at(TIMESTAMP))?;
        let mut verifier = standard
            .secrets()
            .keyring()
            .unwrap()
            .verifier(&signed.prefix);
        verifier.update(body);
        Ok(verifier.matches(&signed.tags).is_some())
    }

    #[test]
    fn known_answer() {
        let standard = Standard::new([SECRET]).unwrap();
        assert_eq!(standard.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        let signed = standard
            .signature(&vector_headers(), at(TIMESTAMP))
            .unwrap();
        assert_eq!(&*signed.prefix, format!("{ID}.{TIMESTAMP}.").as_bytes());
        assert_eq!(
            verify(&standard, &vector_headers(), BODY.as_bytes()),
            Ok(true)
        );
    }

    #[test]
    fn secrets_decode_like_the_reference_libraries() {
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        for form in [
            SECRET,
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        ] {
            let standard = Standard::new([form]).unwrap();
            assert_eq!(
                standard.sign(ID, TIMESTAMP, BODY.as_bytes()),
                SIGNATURE,
                "{form}"
            );
        }
        let raw = Standard::from_raw_keys([&key]).unwrap();
        assert_eq!(raw.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        // Unpadded base64 is accepted, as Python's standardwebhooks does.
        let padded = Standard::new(["whsec_YWJjZA=="]).unwrap();
        let unpadded = Standard::new(["whsec_YWJjZA"]).unwrap();
        assert_eq!(padded.sign("a", 1, b""), unpadded.sign("a", 1, b""));

        let error = Standard::new([SECRET, "whsec_not base64!"]).unwrap_err();
        assert!(matches!(
            error,
            KeyringError::InvalidSecret {
                index: 1,
                reason: "not `whsec_` followed by base64",
                ..
            }
        ));
        assert!(
            error.to_string().starts_with("standard: secret #1"),
            "{error}"
        );
        assert!(matches!(
            Standard::new(["whsec_"]).unwrap_err(),
            KeyringError::EmptySecret { index: 0, .. }
        ));
        assert!(matches!(
            Standard::new(Vec::<String>::new()).unwrap_err(),
            KeyringError::NoSecrets { .. }
        ));
        let text = format!("{:?}", Standard::new([SECRET]).unwrap());
        assert!(!text.contains("MfKQ"), "{text}");
    }

    #[test]
    fn signature_list_parsing() {
        let good = Tag::from_base64(&SIGNATURE[3..]).unwrap();
        let parse = |s: &str| parse_signatures(&HeaderValue::from_str(s).unwrap());
        assert_eq!(parse(SIGNATURE), Tags::from(good));
        assert_eq!(
            parse(&format!("v1a,AAAA v2,{} {SIGNATURE}  ", &SIGNATURE[3..])),
            Tags::from(good)
        );
        assert!(parse("v1,").is_empty());
        assert!(parse(&SIGNATURE[..8]).is_empty());
        assert!(parse(&SIGNATURE[..SIGNATURE.len() - 2]).is_empty());
        assert!(parse(&format!("V1,{}", &SIGNATURE[3..])).is_empty());
        let many = vec![SIGNATURE; 40].join(" ");
        assert_eq!(parse(&many).len(), MAX_SIGNATURES);
    }

    #[test]
    fn header_sets() {
        let standard = Standard::new([SECRET]).unwrap();
        let svix = headers(&[
            (HEADER_SVIX_ID, ID),
            (HEADER_SVIX_TIMESTAMP, &TIMESTAMP.to_string()),
            (HEADER_SVIX_SIGNATURE, SIGNATURE),
        ]);
        assert_eq!(verify(&standard, &svix, BODY.as_bytes()), Ok(true));
        // The sets are not mixed: a webhook-* header selects the webhook-* set.
        let mut mixed = svix.clone();
        mixed.insert(HEADER_ID, HeaderValue::from_static(ID));
        assert_eq!(
            verify(&standard, &mixed, BODY.as_bytes()),
            Err(SignatureError::Missing(HEADER_SIGNATURE))
        );
        let mut partial = svix;
        partial.remove(HEADER_SVIX_TIMESTAMP);
        assert_eq!(
            verify(&standard, &partial, BODY.as_bytes()),
            Err(SignatureError::MissingHeader(HEADER_SVIX_TIMESTAMP))
        );
    }

    #[test]
    fn header_refusals() {
        let standard = Standard::new([SECRET]).unwrap();
        let check = |h: &HeaderMap| verify(&standard, h, BODY.as_bytes());
        assert_eq!(
            check(&HeaderMap::new()),
            Err(SignatureError::Missing(HEADER_SIGNATURE))
        );
        let mut h = vector_headers();
        h.insert(HEADER_ID, HeaderValue::from_static(""));
        assert_eq!(check(&h), Err(SignatureError::MissingHeader(HEADER_ID)));
        h.insert(HEADER_ID, HeaderValue::from_bytes(b"msg_\xff").unwrap());
        assert_eq!(check(&h), Err(SignatureError::Malformed(HEADER_ID)));
        let mut h = vector_headers();
        h.append(HEADER_ID, HeaderValue::from_static("msg_other"));
        assert_eq!(check(&h), Err(SignatureError::Ambiguous(HEADER_ID)));
        // The same value twice (a proxy that repeats a header) is one value.
        let mut h = vector_headers();
        h.append(HEADER_ID, HeaderValue::from_static(ID));
        assert_eq!(check(&h), Ok(true));
        let mut h = vector_headers();
        h.append(HEADER_SIGNATURE, HeaderValue::from_static("v1,other"));
        assert_eq!(check(&h), Err(SignatureError::Ambiguous(HEADER_SIGNATURE)));
        for bad in ["", "hello", "1614265330.5", "-1614265330", "0x10"] {
            let mut h = vector_headers();
            h.insert(HEADER_TIMESTAMP, HeaderValue::from_str(bad).unwrap());
            assert_eq!(
                check(&h),
                Err(SignatureError::MalformedTimestamp(HEADER_TIMESTAMP)),
                "{bad}"
            );
        }
    }

    #[test]
    fn envelope_and_key() {
        let standard = Standard::new([SECRET]).unwrap();
        let h = vector_headers();
        let body = r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{}}"#;
        let e = standard.envelope(&h, body).unwrap();
        assert_eq!(
            (e.name.as_ref(), e.key.as_deref()),
            ("invoice.paid", Some(ID))
        );
        assert_eq!(
            standard.envelope(&h, BODY),
            Err(EnvelopeError::MissingDiscriminator("type"))
        );
        assert_eq!(
            standard.envelope(&h, r#"{"type":7}"#),
            Err(EnvelopeError::MissingDiscriminator("type"))
        );
        assert_eq!(
            standard.envelope(&h, r#"{"type":"","data":{}}"#),
            Err(EnvelopeError::EmptyDiscriminator("type"))
        );
        assert_eq!(standard.envelope(&h, "[1]"), Err(EnvelopeError::NotObject));
    }

    #[test]
    fn ttl_covers_the_window() {
        let standard = Standard::new([SECRET]).unwrap();
        assert_eq!(standard.dedup_ttl(), DEDUP_TTL);
        let wide = standard.tolerance(Duration::from_secs(3 * 24 * 3600));
        assert_eq!(wide.dedup_ttl(), Duration::from_secs(6 * 24 * 3600));
    }

    #[test]
    fn open_catalogue() {
        let body = Bytes::from_static(
            br#"{"type":"a.b","timestamp":"2026-01-01T00:00:00Z","data":{"x":1},"extra":true}"#,
        );
        match decode_or_unknown::<Event>("a.b", &body) {
            Event::Message(m) => {
                assert_eq!(m.r#type, "a.b");
                assert_eq!(m.timestamp.as_deref(), Some("2026-01-01T00:00:00Z"));
                assert_eq!(m.data, serde_json::json!({"x": 1}));
            }
            other => panic!("{other:?}"),
        }
        let no_data = Bytes::from_static(br#"{"type":"a.b"}"#);
        match decode_or_unknown::<Event>("a.b", &no_data) {
            Event::Unknown(u) => {
                assert!(matches!(u.reason(), UnknownReason::Drifted(_)));
                assert_eq!(u.raw(), &no_data);
            }
            other => panic!("{other:?}"),
        }
        let unhandled = UnknownEvent::new("a.b", body, UnknownReason::Unhandled);
        assert!(matches!(Event::unknown(unhandled), Event::Unknown(_)));
    }
}
