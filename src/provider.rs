//! The [`Provider`] trait: everything that differs between webhook senders, and nothing else.
//!
//! A provider says where its signatures are and how they are encoded ([`Provider::signature`],
//! run on the headers before a byte of the body is read), what it signs before the body (a
//! prefix such as Standard Webhooks' `id.timestamp.`), whether it sends a timestamp to check,
//! where its event name and dedup key live in the verified body ([`Provider::envelope`]), and
//! its typed event catalogue ([`Provider::Event`]). The pipeline (body limit, HMAC, dedup,
//! decode, dispatch, status codes) is shared by all providers.
//!
#![doc = include_str!("../docs/custom-provider.md")]
//!
//! ```rust
#![doc = include_str!("../examples/custom_provider.rs")]
//! ```

use std::{borrow::Cow, fmt, sync::Arc, time::Duration, time::SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, request::Parts};
use serde::{Deserialize, Deserializer, de::IgnoredAny};

use crate::{
    event::{EventOf, EventSet},
    keyring::{Tag, Tags, Tenant},
    secrets::Secrets,
};

/// A webhook sender's wire format.
pub trait Provider: Send + Sync + 'static {
    /// Short lowercase name: scopes dedup keys, names the provider in logs and in
    /// [`Delivery::provider`](crate::Delivery::provider).
    const NAME: &'static str;

    /// The provider's catalogue enum, with its unknown case; an event of this provider.
    type Event: EventSet + EventOf<Self>;

    /// Headers that carry signatures: redacted in [`Delivery::headers`](crate::Delivery::headers)
    /// and never logged.
    fn signature_headers(&self) -> &'static [HeaderName];

    /// Whether this provider's bodies name their tenant ([`Provider::tenant_hint`],
    /// [`Provider::envelope_tenant`]); with [`TenantFrom::Auto`](crate::secrets::TenantFrom::Auto),
    /// large keyrings and secret sources then take the tenant from the body.
    const TENANT_IN_BODY: bool = false;

    /// The secrets to verify with, and where a delivery's tenant is named. Build it from a
    /// [`Keyring`](crate::keyring::Keyring) (`Secrets::from(keyring)`), a
    /// [`Rotating`](crate::secrets::Rotating) keyring or a
    /// [`CachedSource`](crate::secrets::CachedSource).
    fn secrets(&self) -> &Secrets;

    /// The tenant an **unverified** body names, to choose whose keys verify it (only with
    /// [`TenantFrom::Body`](crate::secrets::TenantFrom::Body)). The body is untrusted here:
    /// read one field, refuse nothing. Default: none.
    fn tenant_hint<'a>(&self, body: &'a [u8]) -> Option<Cow<'a, str>> {
        let _ = body;
        None
    }

    /// The tenant a **verified** envelope names (Ayrshare: `refId`). When the delivery was
    /// verified by a named tenant's secret and the envelope names another tenant, the delivery
    /// is refused with [`SignatureError::TenantMismatch`] (401): one tenant's secret never
    /// vouches for another tenant's events. Default: none (no check).
    fn envelope_tenant<'e>(&self, envelope: &'e Envelope<'_>) -> Option<&'e str> {
        let _ = envelope;
        None
    }

    /// Reads the signatures and any timestamp from the headers, before the body is read.
    ///
    /// `now` is the pipeline's clock (injectable for tests). Refuse (401) when no usable
    /// signature is there or a timestamp is out of the provider's window.
    fn signature(&self, headers: &HeaderMap, now: SystemTime) -> Result<Signed, SignatureError>;

    /// What the pipeline calls: [`Provider::signature`] of the request's headers, by default.
    /// Override it when the scheme signs more of the request than its headers (the URL, the
    /// method: [`Generic`](crate::generic::Generic) does).
    #[inline]
    fn request_signature(&self, parts: &Parts, now: SystemTime) -> Result<Signed, SignatureError> {
        self.signature(&parts.headers, now)
    }

    /// Whether this provider's bodies are JSON (the default): a signed body that is not is
    /// refused 400 `invalid_json` before any handler sees it. A provider whose bodies may be
    /// anything (Twilio's form-encoded requests) says `false`: its handlers then get the raw
    /// bytes, and a typed decode that fails goes to the fallback as drift.
    fn json_body(&self) -> bool {
        true
    }

    /// Answers a verified delivery that is not an event but a probe of the endpoint (Zoom's
    /// `endpoint.url_validation`, Discord's `PING`), before its envelope is read and before
    /// any dedup or handler: `Some(response)` is sent as is. Default: none.
    fn challenge(&self, challenge: &Challenge<'_>) -> Option<Response<Bytes>> {
        let _ = challenge;
        None
    }

    /// Finds the event name and the dedup key in the verified body.
    ///
    /// `body` is the verified raw body, already checked to be UTF-8. Refuse (400) only what
    /// is not a JSON object or has no discriminator, or an empty one
    /// ([`EnvelopeError::EmptyDiscriminator`]); everything else is delivered. Treat an empty
    /// key as absent (the pipeline then hashes the body): an empty id would make every such
    /// event a duplicate of the first.
    fn envelope<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError>;

    /// [`Provider::envelope`], allowed to stop reading once it has every field it needs
    /// ([`scan_envelope_head`]): the envelope, and the part of the top level left unread.
    ///
    /// The pipeline then finishes the read ([`scan_unread`]) before anything acts on the
    /// delivery, unless the handler's typed decode refuses a repeated envelope field itself
    /// ([`Event::DECODE_CHECKS_ENVELOPE`](crate::event::Event::DECODE_CHECKS_ENVELOPE)): one
    /// pass over the body instead of two. The default reads everything ([`Provider::envelope`]).
    fn envelope_head<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<(Envelope<'a>, Option<Unread>), EnvelopeError> {
        self.envelope(headers, body)
            .map(|envelope| (envelope, None))
    }

    /// Delivery metadata the provider sends in headers (attempt number, delivery id).
    fn delivery_meta(&self, headers: &HeaderMap) -> DeliveryMeta {
        let _ = headers;
        DeliveryMeta::default()
    }

    /// How long a handled key is remembered: the provider's whole retry horizon.
    fn dedup_ttl(&self) -> Duration {
        Duration::from_secs(72 * 3600)
    }
}

/// What the sender signed around the body, and the tags it offered.
///
/// Build it with `Signed { prefix, tags, ..Signed::default() }`: the body is then signed as
/// it arrives, with nothing after it.
#[derive(Debug, Clone, Default)]
pub struct Signed {
    /// Bytes signed before the body (empty for providers that sign the body alone).
    pub prefix: Prefix,
    /// Every tag the sender offered; the delivery is authentic when any secret of the keyring
    /// matches any of them.
    pub tags: Tags,
    /// Bytes signed after the body (empty for most senders).
    pub suffix: Prefix,
    /// What stands between the prefix and the suffix: the raw body (the default), or content
    /// derived from it.
    pub body: SignedBody,
}

/// Signed content derived from the whole raw body: it calls `feed` with each piece of what the
/// sender signed in the body's place (Twilio: the form parameters, sorted, each name followed by
/// its value), or refuses the body (a `bodySHA256` that does not match). It runs once the body
/// is read whole, and must not allocate per byte: borrow pieces of the body.
pub type Derive =
    Arc<dyn Fn(&[u8], &mut dyn FnMut(&[u8])) -> Result<(), SignatureError> + Send + Sync>;

/// What a scheme signs in the body's place.
#[derive(Clone, Default)]
pub enum SignedBody {
    /// The raw body, fed to the verifier chunk by chunk as it arrives (never copied).
    #[default]
    Raw,
    /// Content derived from the whole body (see [`Derive`]).
    Derived(Derive),
}

impl fmt::Debug for SignedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Raw => "Raw",
            Self::Derived(_) => "Derived",
        })
    }
}

/// A verified delivery offered to [`Provider::challenge`]: the request, its raw body, and a
/// signer holding the secret that verified it.
pub struct Challenge<'a> {
    /// The request's head (method, URI, headers).
    pub parts: &'a Parts,
    /// The verified raw body.
    pub body: &'a Bytes,
    /// The tenant whose secret verified it, if named.
    pub tenant: Option<&'a Tenant>,
    /// The time the delivery was received, by the service's clock (`clock`): what a check of a
    /// timestamp in the body compares with.
    pub now: std::time::SystemTime,
    pub(crate) signer: &'a dyn Fn(&[&[u8]]) -> Option<Tag>,
}

impl Challenge<'_> {
    /// The MAC of the concatenated `parts` under the secret that verified the delivery (Zoom
    /// answers its challenge with one); `None` for public keys.
    pub fn sign(&self, parts: &[&[u8]]) -> Option<Tag> {
        (self.signer)(parts)
    }
}

impl fmt::Debug for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenge")
            .field("uri", &self.parts.uri)
            .field("body_len", &self.body.len())
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// The bytes a provider signs before the body, held inline up to 64 bytes (a Standard
/// Webhooks `id.timestamp.` fits) so that building it does not allocate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefix(smallvec::SmallVec<[u8; 64]>);

impl Prefix {
    /// An empty prefix: the provider signs the body alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl std::ops::Deref for Prefix {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::io::Write for Prefix {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a provider's event name and dedup key are, read from one verified body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The event name used for routing and logs.
    pub name: Cow<'a, str>,
    /// The provider's delivery key, when the body (or a signed header) has one. When absent,
    /// the pipeline uses the hex SHA-256 of the raw body.
    pub key: Option<Cow<'a, str>>,
    /// A narrower dedup scope inside the provider (Ayrshare's `refId`), if any.
    pub scope: Option<Cow<'a, str>>,
}

/// Metadata a provider sends about the delivery itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryMeta {
    /// The attempt number, when the provider sends one (1 for the first attempt).
    pub attempt: Option<u32>,
    /// The provider's id for this delivery attempt, when distinct from the event id.
    pub delivery_id: Option<String>,
}

/// Why a delivery's signature was refused (answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No signature header at all.
    #[error("missing signature header `{0}`")]
    Missing(&'static str),
    /// The header is there but holds no well-formed signature.
    #[error("malformed signature header `{0}`")]
    Malformed(&'static str),
    /// A header was repeated with differing values: which one did the sender mean?
    #[error("header `{0}` repeated with differing values")]
    Ambiguous(&'static str),
    /// A header the scheme needs besides the signature is missing.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// The timestamp header is not a whole number of seconds.
    #[error("malformed timestamp header `{0}`")]
    MalformedTimestamp(&'static str),
    /// The timestamp is older than the tolerance.
    #[error("timestamp too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp too far in the future")]
    TimestampInFuture,
    /// No secret of the keyring produced any offered signature.
    #[error("signature does not match")]
    Mismatch,
    /// Verified with one tenant's secret, but the body names another tenant.
    #[error("the body names another tenant than the one whose secret signed it")]
    TenantMismatch,
    /// The delivery names a tenant that has no secrets here.
    #[error("unknown tenant")]
    UnknownTenant,
    /// The delivery names no tenant, and the secrets are per tenant (a source, or more keys
    /// than one delivery may try).
    #[error("no tenant named")]
    TenantRequired,
}

impl SignatureError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "missing_signature",
            Self::Malformed(_) => "malformed_signature",
            Self::Ambiguous(_) => "ambiguous_signature",
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedTimestamp(_) => "malformed_timestamp",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::Mismatch => "invalid_signature",
            Self::TenantMismatch => "tenant_mismatch",
            Self::UnknownTenant => "unknown_tenant",
            Self::TenantRequired => "tenant_required",
        }
    }
}

/// Why a verified body was refused (answered 400): it is not something a retry could fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not valid UTF-8.
    #[error("body is not valid UTF-8")]
    NotUtf8,
    /// The body is not JSON.
    #[error("body is not JSON")]
    NotJson,
    /// The body is JSON but not an object.
    #[error("body is not a JSON object")]
    NotObject,
    /// The object has no usable discriminator (named here).
    #[error("body has no string field `{0}`")]
    MissingDiscriminator(&'static str),
    /// The discriminator (named here) is the empty string: no event name to route on.
    #[error("body field `{0}` is empty")]
    EmptyDiscriminator(&'static str),
}

impl EnvelopeError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "invalid_utf8",
            Self::NotJson => "invalid_json",
            Self::NotObject => "not_an_object",
            Self::MissingDiscriminator(_) => "missing_discriminator",
            Self::EmptyDiscriminator(_) => "empty_discriminator",
        }
    }
}

/// Parses a provider's envelope struct from a verified body, classifying failures.
///
/// Declare the discriminator and the dedup key as [`LenientStr`] (with `#[serde(borrow,
/// default)]`): they borrow from the body when they can and never fail, so the provider can
/// answer [`EnvelopeError::MissingDiscriminator`] itself. The whole body is checked to be JSON.
pub fn parse_envelope<'a, T: Deserialize<'a>>(body: &'a str) -> Result<T, EnvelopeError> {
    if !body.trim_start().starts_with('{') {
        // serde would read an array into a struct field by field: refuse anything else first.
        return Err(match serde_json::from_str::<IgnoredAny>(body) {
            Ok(_) => EnvelopeError::NotObject,
            Err(_) => EnvelopeError::NotJson,
        });
    }
    serde_json::from_str(body).map_err(|error| {
        if error.is_data() {
            // An object whose declared fields did not fit (a discriminator repeated, say).
            EnvelopeError::MissingDiscriminator("discriminator")
        } else {
            EnvelopeError::NotJson
        }
    })
}

/// The top-level fields `names` of a verified JSON object, found in one skim over the body:
/// each is its string value (borrowed unless it has escapes) or absent, as [`LenientStr`]
/// reads it (a number, `null`, an array or an object reads as absent).
///
/// This is what the built-in providers' [`Provider::envelope`] uses: it reads the top level
/// of the object and steps over nested values (strings, brackets) without decoding them,
/// which costs a fraction of a parse. It refuses what the envelope refuses:
///
/// - a body that is not an object ([`EnvelopeError::NotObject`]) or whose top level is not
///   well-formed JSON ([`EnvelopeError::NotJson`]);
/// - a field of `names` given twice (which value did the sender mean?), answered like a
///   repeated field of [`parse_envelope`]: [`EnvelopeError::MissingDiscriminator`]
///   (`"discriminator"`).
///
/// It does **not** check the nested values: the pipeline checks the whole body is JSON before
/// any handler or inner service sees it, in the handler's typed decode when there is one
/// (one full pass per delivery), or with a validating skip when there is none. Keys with
/// escapes (`"ev\u0065nt"`) are unescaped before they are compared, as serde does.
pub fn scan_envelope<'a, const N: usize>(
    body: &'a str,
    names: &[&str; N],
) -> Result<[LenientStr<'a>; N], EnvelopeError> {
    scan(body, names, false).map(|(fields, _)| fields)
}

/// [`scan_envelope`] that stops as soon as it has read every field of `names`: the fields,
/// and where it stopped when that was before the end of the object.
///
/// The members after that point are not read, so a repeat of one of `names` there, or a
/// malformed member, is not refused yet: [`Unread`] says where to go on, and
/// [`scan_unread`] finishes the job. What a provider's [`Provider::envelope_head`] returns.
pub fn scan_envelope_head<'a, const N: usize>(
    body: &'a str,
    names: &'static [&'static str; N],
) -> Result<([LenientStr<'a>; N], Option<Unread>), EnvelopeError> {
    scan(body, names, true).map(|(fields, stopped)| {
        let unread = stopped.map(|at| Unread { at, names });
        (fields, unread)
    })
}

/// The part of a body's top level an envelope read left unread ([`scan_envelope_head`]):
/// the members from byte `at` on, where a repeat of one of `names` must still be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    /// The byte offset just past the last member read.
    pub at: usize,
    /// The envelope's field names, which must not appear again at the top level.
    pub names: &'static [&'static str],
}

/// Reads the rest of the top level that [`scan_envelope_head`] left: refuses a repeat of one
/// of the envelope's names (as [`scan_envelope`] does, with
/// [`EnvelopeError::MissingDiscriminator`]) and a malformed top level
/// ([`EnvelopeError::NotJson`]). Nested values are stepped over, not checked.
pub fn scan_unread(body: &str, unread: Unread) -> Result<(), EnvelopeError> {
    let found = walk(body, unread.at, true, |key, _| {
        if slot(body, key, unread.names)?.is_some() {
            return Err(EnvelopeError::MissingDiscriminator("discriminator"));
        }
        Ok(false)
    })?;
    debug_assert!(found.is_none());
    Ok(())
}

/// The skim behind [`scan_envelope`] and [`scan_envelope_head`]; with `stop`, it returns as
/// soon as every name was read, with the offset it stopped at.
fn scan<'a, const N: usize>(
    body: &'a str,
    names: &[&str; N],
    stop: bool,
) -> Result<([LenientStr<'a>; N], Option<usize>), EnvelopeError> {
    let mut fields: [LenientStr<'a>; N] = std::array::from_fn(|_| LenientStr::default());
    let mut seen = [false; N];
    let mut left = N;
    let bytes = body.as_bytes();
    let at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Err(not_an_object(body));
    }
    let stopped = walk(body, at + 1, false, |key, value| {
        let Some(slot) = slot(body, key, names)? else {
            return Ok(false);
        };
        let value = value.map(|string| string.decode(body)).transpose()?;
        if std::mem::replace(&mut seen[slot], true) {
            return Err(EnvelopeError::MissingDiscriminator("discriminator"));
        }
        fields[slot] = LenientStr(value);
        left -= 1;
        Ok(stop && left == 0)
    })?;
    Ok((fields, stopped))
}

/// Walks the members of the top-level object from `at`: just inside its `{`, or (with
/// `after_member`) just past a member's value. `member` sees each key and, when the value is
/// a string, its literal; it returns `true` to stop there, and the walk returns the offset
/// past that member. Otherwise the walk checks the object closes and only space follows.
fn walk(
    body: &str,
    mut at: usize,
    mut after_member: bool,
    mut member: impl FnMut(&Literal, Option<&Literal>) -> Result<bool, EnvelopeError>,
) -> Result<Option<usize>, EnvelopeError> {
    let bytes = body.as_bytes();
    if !after_member {
        at = skip_space(bytes, at);
        if bytes.get(at) == Some(&b'}') {
            return close(bytes, at + 1);
        }
    }
    loop {
        if after_member {
            at = skip_space(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = skip_space(bytes, at + 1),
                Some(b'}') => return close(bytes, at + 1),
                _ => return Err(EnvelopeError::NotJson),
            }
        }
        after_member = true;
        if bytes.get(at) != Some(&b'"') {
            return Err(EnvelopeError::NotJson);
        }
        let key = string_at(bytes, at)?;
        at = skip_space(bytes, key.end);
        if bytes.get(at) != Some(&b':') {
            return Err(EnvelopeError::NotJson);
        }
        at = skip_space(bytes, at + 1);
        let value = if bytes.get(at) == Some(&b'"') {
            let string = string_at(bytes, at)?;
            at = string.end;
            Some(string)
        } else {
            at = skip_value(bytes, at)?;
            None
        };
        if member(&key, value.as_ref())? {
            return Ok(Some(at));
        }
    }
}

/// The end of the object at `at`: only space may follow.
fn close(bytes: &[u8], at: usize) -> Result<Option<usize>, EnvelopeError> {
    if skip_space(bytes, at) == bytes.len() {
        Ok(None)
    } else {
        Err(EnvelopeError::NotJson)
    }
}

/// Which of `names` the key literal is (unescaped first, as serde compares keys).
fn slot(body: &str, key: &Literal, names: &[&str]) -> Result<Option<usize>, EnvelopeError> {
    Ok(if key.escaped {
        let key = key.decode(body)?;
        names.iter().position(|name| *name == key)
    } else {
        let key = &body[key.start + 1..key.end - 1];
        names.iter().position(|name| *name == key)
    })
}

/// The checks of a verified body that the envelope read left to later: the rest of the top
/// level (`unread`: a repeated envelope field, a malformed member), then, with `json`, the
/// whole body is JSON. The first refusal, as the whole read would have answered it.
pub(crate) fn check_body(
    text: &str,
    unread: Option<Unread>,
    json: bool,
) -> Result<(), EnvelopeError> {
    if let Some(unread) = unread {
        scan_unread(text, unread)?;
    }
    if json && !is_json(text.as_bytes()) {
        return Err(EnvelopeError::NotJson);
    }
    Ok(())
}

/// Whether `body` is one well-formed JSON value: a validating skip over all of it, building
/// nothing (the check [`scan_envelope`] leaves to the pipeline).
pub(crate) fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

/// Why a body that does not start with `{` is refused.
fn not_an_object(body: &str) -> EnvelopeError {
    match serde_json::from_str::<IgnoredAny>(body) {
        Ok(_) => EnvelopeError::NotObject,
        Err(_) => EnvelopeError::NotJson,
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

/// A JSON string literal in the body: `start` at its opening quote, `end` past its closing one.
struct Literal {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Literal {
    /// Its value: borrowed when it has no escape, else unescaped by serde_json.
    fn decode<'a>(&self, body: &'a str) -> Result<Cow<'a, str>, EnvelopeError> {
        let quoted = &body[self.start..self.end];
        if self.escaped {
            serde_json::from_str::<String>(quoted)
                .map(Cow::Owned)
                .map_err(|_| EnvelopeError::NotJson)
        } else {
            Ok(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }
}

/// The string literal opening at `start` (a `"`).
fn string_at(bytes: &[u8], start: usize) -> Result<Literal, EnvelopeError> {
    let mut at = start + 1;
    let mut escaped = false;
    loop {
        match memchr::memchr2(b'"', b'\\', &bytes[at..]) {
            None => return Err(EnvelopeError::NotJson),
            Some(n) if bytes[at + n] == b'"' => {
                return Ok(Literal {
                    start,
                    end: at + n + 1,
                    escaped,
                });
            }
            Some(n) => {
                // A backslash: it and the character it escapes (a `u` escape's four hex digits
                // hold no quote or backslash).
                escaped = true;
                at += n + 2;
                if at > bytes.len() {
                    return Err(EnvelopeError::NotJson);
                }
            }
        }
    }
}

/// Steps over the value at `at` (not a string): a number, `true`, `false`, `null`, or an
/// array or object, whose strings are stepped over as literals. Only the brackets are
/// counted; what is between them is checked later, with the whole body.
fn skip_value(bytes: &[u8], at: usize) -> Result<usize, EnvelopeError> {
    match bytes.get(at) {
        Some(b'{' | b'[') => {
            let (mut depth, mut at) = (0usize, at);
            while let Some(&byte) = bytes.get(at) {
                match byte {
                    b'"' => {
                        at = string_at(bytes, at)?.end;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            Err(EnvelopeError::NotJson)
        }
        Some(_) => {
            let end = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .map_or(bytes.len(), |n| at + n);
            if end == at {
                Err(EnvelopeError::NotJson)
            } else {
                Ok(end)
            }
        }
        None => Err(EnvelopeError::NotJson),
    }
}

/// A string field that never fails to parse: anything that is not a string reads as absent.
///
/// For envelope fields like the dedup key, where a provider's drift must not turn into a 400.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Option<Cow<'de, str>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Some(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        deserializer.deserialize_any(Visit).map(LenientStr)
    }
}

/// The single value of a header (lowercase name), refusing a header repeated with differing
/// values; identical repeats (a proxy that duplicated a header) are accepted. The one-header
/// case of [`scan_headers`].
pub fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h HeaderValue>, SignatureError> {
    let [slot] = scan_headers(headers, &[name]);
    slot.single(name)
}

/// One header as [`scan_headers`] found it.
///
/// `Debug` does not print the value (a signature header is read this way).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub enum HeaderSlot<'h> {
    /// Not in the request.
    #[default]
    Missing,
    /// Present once, or several times with the same value.
    One(&'h HeaderValue),
    /// Present several times with different values.
    Ambiguous,
}

impl<'h> HeaderSlot<'h> {
    fn see(&mut self, value: &'h HeaderValue) {
        *self = match *self {
            Self::Missing => Self::One(value),
            Self::One(first) if first == value => Self::One(first),
            _ => Self::Ambiguous,
        };
    }

    /// The value, `None` when missing, or [`SignatureError::Ambiguous`] naming `name`, as
    /// [`single_header`] reads it.
    pub fn single(self, name: &'static str) -> Result<Option<&'h HeaderValue>, SignatureError> {
        match self {
            Self::Missing => Ok(None),
            Self::One(value) => Ok(Some(value)),
            Self::Ambiguous => Err(SignatureError::Ambiguous(name)),
        }
    }

    /// Whether the header is there at all.
    pub fn is_present(self) -> bool {
        !matches!(self, Self::Missing)
    }
}

impl fmt::Debug for HeaderSlot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "Missing",
            Self::One(_) => "One([redacted])",
            Self::Ambiguous => "Ambiguous",
        })
    }
}

/// The headers `names` (lowercase), found in one pass over the map: slot `i` is `names[i]`.
///
/// A provider reads two to six headers of every delivery; one pass comparing a few short
/// names per header is cheaper than a hashed lookup per name (each hashes the name byte by
/// byte), and a request carries few headers (hyper accepts 100 at most).
pub fn scan_headers<'h, const N: usize>(
    headers: &'h HeaderMap,
    names: &[&'static str; N],
) -> [HeaderSlot<'h>; N] {
    let mut slots = [HeaderSlot::Missing; N];
    for (name, value) in headers {
        let name = name.as_str();
        if let Some(i) = names.iter().position(|wanted| *wanted == name) {
            slots[i].see(value);
        }
    }
    slots
}

/// Checks a Unix timestamp (seconds) against `now` with a symmetric tolerance.
pub fn check_timestamp(
    timestamp: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let now = match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => 0,
    };
    let tolerance = tolerance.as_secs().min(i64::MAX as u64) as i64;
    if timestamp < now.saturating_sub(tolerance) {
        Err(SignatureError::TimestampTooOld)
    } else if timestamp > now.saturating_add(tolerance) {
        Err(SignatureError::TimestampInFuture)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_headers_finds_each_name_once_and_flags_differing_repeats() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-b", HeaderValue::from_static("2"));
        headers.append("x-b", HeaderValue::from_static("2"));
        headers.append("x-c", HeaderValue::from_static("3"));
        headers.append("x-c", HeaderValue::from_static("4"));
        let [a, b, c, d] = scan_headers(&headers, &["x-a", "x-b", "x-c", "x-d"]);
        assert_eq!(a.single("x-a"), Ok(Some(&HeaderValue::from_static("1"))));
        assert_eq!(b.single("x-b"), Ok(Some(&HeaderValue::from_static("2"))));
        assert_eq!(c.single("x-c"), Err(SignatureError::Ambiguous("x-c")));
        assert_eq!(d, HeaderSlot::Missing);
        assert!(a.is_present() && c.is_present() && !d.is_present());
        assert_eq!(format!("{a:?}"), "One([redacted])");
    }

    #[derive(Deserialize)]
    struct Env<'a> {
        #[serde(borrow, default)]
        event: LenientStr<'a>,
        #[serde(borrow, default)]
        id: LenientStr<'a>,
    }

    #[test]
    fn envelope_classification() {
        let e: Env<'_> = parse_envelope(r#"{"id":"k","event":"a.b","x":[1,{"y":null}]}"#).unwrap();
        assert_eq!(
            (e.event.0.as_deref(), e.id.0.as_deref()),
            (Some("a.b"), Some("k"))
        );
        assert!(matches!(e.event.0, Some(Cow::Borrowed(_))));
        let e: Env<'_> = parse_envelope(r#"{"id":{"nested":true},"event":"a"}"#).unwrap();
        assert_eq!(e.id.0, None);
        let e: Env<'_> = parse_envelope(r#"{"id":"a\"b","event":"a"}"#).unwrap();
        assert_eq!(e.id.0.as_deref(), Some("a\"b"));
        assert_eq!(
            parse_envelope::<Env<'_>>("nope").err(),
            Some(EnvelopeError::NotJson)
        );
        assert_eq!(
            parse_envelope::<Env<'_>>("{\"a\":").err(),
            Some(EnvelopeError::NotJson)
        );
        assert_eq!(
            parse_envelope::<Env<'_>>("[1,2]").err(),
            Some(EnvelopeError::NotObject)
        );
        assert_eq!(
            parse_envelope::<Env<'_>>("\"s\"").err(),
            Some(EnvelopeError::NotObject)
        );
        let e: Env<'_> = parse_envelope(r#"{"event":5}"#).unwrap();
        assert_eq!(e.event.0, None);
    }

    /// `scan_envelope` against the full parse it replaces: on well-formed JSON they agree on
    /// every field and every refusal; on malformed JSON the scan may accept (it reads the top
    /// level only), and then the whole-body check refuses.
    #[test]
    fn scan_envelope_agrees_with_the_full_parse() {
        let mut bodies: Vec<String> = [
            r#"{"id":"k","event":"a.b","x":[1,{"y":null}]}"#,
            r#"  {"x":{"event":"nested","id":"no"},"event":"top","id":"k"}  "#,
            r#"{"s":"a \"quoted\" {brace} [bracket]","event":"e"}"#,
            r#"{"s":"ends with a backslash \\","event":"e","id":"k"}"#,
            r#"{"ev\u0065nt":"escaped key","id":"k"}"#,
            r#"{"event":"caf\u00e9 \n","id":"a\"b"}"#,
            r#"{"event":"é 🍂 ü","id":"ж"}"#,
            r#"{"event":"a","event":"b"}"#,
            r#"{"id":"a","id":"a","event":"e"}"#,
            r#"{"event":5,"id":null}"#,
            r#"{"event":{"a":[1,2,{"b":"]"}]},"id":[true,false]}"#,
            r#"{"event":"e","n":-1.5e3,"t":true,"f":false,"z":null}"#,
            r#"{}"#,
            r#"{ }"#,
            r#"[1,2]"#,
            r#""s""#,
            "nope",
            "",
            r#"{"event":"e"} x"#,
            r#"{"event":"e",}"#,
            r#"{"event":"e""#,
            r#"{"event" "e"}"#,
            r#"{"event":"e" "id":"k"}"#,
            r#"{"event":"e","x":[1,2}"#,
            r#"{"event":"e","x":{"a":1]}"#,
            r#"{"event":"e","x":tru}"#,
            r#"{"event":"e","x":"unterminated}"#,
            r#"{"event":"e","x":"\q"}"#,
            "{\"event\":\"e\",\"x\":\"raw \u{1} control\"}",
            r#"{"event":"e","x":{"a":"\"}"}}"#,
            r#"{"id":"k","event":"e","event":"again"}"#,
            r#"{"id":"k","event":"e","x":1,"ev\u0065nt":"again"}"#,
            r#"{"id":"k","event":"e","x":{"id":"nested is fine"}}"#,
            r#"{"id":"k","event":"e","x":[1,2}"#,
            r#"{"id":"k","event":"e" x"#,
            r#"{"id":"k","event":"","id":"k2"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for dir in ["zernio", "ayrshare"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(dir);
            for entry in std::fs::read_dir(dir).unwrap() {
                bodies.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        assert!(bodies.len() > 60);
        for body in &bodies {
            let full = parse_envelope::<Env<'_>>(body).map(|e| (e.event, e.id));
            let scanned = scan_envelope(body, &["event", "id"]).map(|[event, id]| (event, id));
            if is_json(body.as_bytes()) {
                assert_eq!(scanned, full, "{body}");
            } else {
                assert_eq!(full, Err(EnvelopeError::NotJson), "{body}");
                assert!(
                    !matches!(scanned, Err(EnvelopeError::NotObject)),
                    "a malformed body is never called a non-object: {body}"
                );
            }
            // Stopping early, then reading the rest, answers what the whole skim answers.
            let scanned = scan_envelope(body, &["event", "id"]);
            let head = scan_envelope_head(body, &["event", "id"]).and_then(|(fields, unread)| {
                if let Some(unread) = unread {
                    assert!(unread.at < body.len(), "{body}");
                    scan_unread(body, unread)?;
                }
                Ok(fields)
            });
            assert_eq!(head, scanned, "{body}");
        }
    }

    #[test]
    fn scan_envelope_head_stops_after_the_last_field() {
        let body = r#"{"id":"k","event":"e","post":{"id":"x"},"event":"again"}"#;
        let ([event, id], unread) = scan_envelope_head(body, &["event", "id"]).unwrap();
        assert_eq!(
            (event.0.as_deref(), id.0.as_deref()),
            (Some("e"), Some("k"))
        );
        let unread = unread.expect("stopped before the end");
        assert!(
            body[unread.at..].starts_with(r#","post":"#),
            "{}",
            &body[unread.at..]
        );
        assert_eq!(
            scan_unread(body, unread),
            Err(EnvelopeError::MissingDiscriminator("discriminator"))
        );
        // A field missing: the skim reads to the end, nothing is left.
        let body = r#"{"event":"e","post":{"id":"x"}}"#;
        let (_, unread) = scan_envelope_head(body, &["event", "id"]).unwrap();
        assert_eq!(unread, None);
    }

    #[test]
    fn repeated_headers() {
        let mut h = HeaderMap::new();
        h.append("x-sig", HeaderValue::from_static("a"));
        assert!(single_header(&h, "x-sig").unwrap().is_some());
        h.append("x-sig", HeaderValue::from_static("a"));
        assert!(single_header(&h, "x-sig").is_ok());
        h.append("x-sig", HeaderValue::from_static("b"));
        assert_eq!(
            single_header(&h, "x-sig"),
            Err(SignatureError::Ambiguous("x-sig"))
        );
        assert_eq!(single_header(&h, "x-none"), Ok(None));
    }

    #[test]
    fn timestamp_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let tol = Duration::from_secs(300);
        assert_eq!(check_timestamp(1_000_000, now, tol), Ok(()));
        assert_eq!(check_timestamp(1_000_300, now, tol), Ok(()));
        assert_eq!(
            check_timestamp(999_699, now, tol),
            Err(SignatureError::TimestampTooOld)
        );
        assert_eq!(
            check_timestamp(1_000_301, now, tol),
            Err(SignatureError::TimestampInFuture)
        );
        assert_eq!(
            check_timestamp(-5, now, tol),
            Err(SignatureError::TimestampTooOld)
        );
    }
}
