//! Test helpers: build deliveries signed exactly as the providers sign them, drive your
//! webhook routes end to end through the real verifier, and check what happened (feature
//! `testing`).
//!
//! - [`signed_request`]: a `POST` signed with the provider's current secret;
//! - [`payload`]: a valid body for every catalogued Zernio and Ayrshare event, built from the
//!   crate's fixtures with a fresh event id and timestamp (so it is never a duplicate);
//! - [`Outcome`] and [`assert_handled`]: whether a handler ran (`handled`), or the delivery was
//!   a `duplicate`, `ignored` (no handler took it), `accepted` (queued in an inbox) or refused.
//!   A bare `200` says none of this: an event that fits no handler is acknowledged 200 too.
//!
//! ```
//! # #[cfg(feature = "zernio")] {
//! use hookgate::{Webhooks, testing::{self, Outcome, signed_request}, zernio::{self, Zernio}};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let zernio = Zernio::new(["test-secret"])?;
//! // A valid `webhook.test` body (fresh `id` and `timestamp`), signed as Zernio signs it.
//! let request = signed_request(&zernio, "/webhooks/zernio", testing::payload("zernio", "webhook.test"));
//!
//! let service = Webhooks::new(zernio).on(|_: zernio::WebhookTest| async {}).build()?;
//! let response = service.oneshot(request).await?;
//! // 200 alone would also pass for an event that went nowhere: check the handler ran.
//! assert_eq!(Outcome::from_response(response).await, Outcome::Handled);
//! # Ok(()) }
//! # }
//! ```

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};

use crate::provider::Provider;

/// A provider that can sign a delivery the way its sender does, with its keyring's current
/// (first) secret.
pub trait Sign: Provider {
    /// Adds the signature headers (and any other header the scheme signs) for `body`.
    fn sign(&self, body: &[u8], headers: &mut HeaderMap);

    /// Adds them to a whole request head, for schemes that sign the URL or the method too
    /// ([`Generic`](crate::generic::Generic)); by default, [`Sign::sign`] of its headers.
    fn sign_request(&self, parts: &mut http::request::Parts, body: &[u8]) {
        self.sign(body, &mut parts.headers);
    }
}

/// A `POST` to `uri` with `body`, `Content-Type: application/json` and the provider's signature.
pub fn signed_request<P: Sign>(
    provider: &P,
    uri: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let body = body.into();
    let (mut parts, full) = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .expect("a valid request")
        .into_parts();
    provider.sign_request(&mut parts, &body);
    Request::from_parts(parts, full)
}

#[cfg(feature = "generic")]
impl<S: crate::generic::Sender> Sign for crate::generic::Generic<S> {
    /// Signs a `POST /` with these headers (see [`Sign::sign_request`] for the URL).
    fn sign(&self, body: &[u8], headers: &mut HeaderMap) {
        let mut parts = Request::post("/")
            .body(())
            .expect("a valid request")
            .into_parts()
            .0;
        parts.headers = std::mem::take(headers);
        self.sign_request(&mut parts, body);
        *headers = parts.headers;
    }

    /// Signs as the sender does, now, with the current secret of the keyring (an HMAC
    /// scheme; for Ed25519, sign with the private key: [`sign_generic`]).
    fn sign_request(&self, parts: &mut http::request::Parts, body: &[u8]) {
        let keyring = self.secrets().current().expect(
            "testing::Sign needs a static or rotating keyring: a secret source cannot sign",
        );
        self.sign_parts(
            crate::generic::Signer::Keyring(&keyring),
            parts,
            body,
            SystemTime::now(),
        )
        .expect("the generic scheme signs this request");
    }
}

/// A request to `uri` with `body` (`Content-Type: application/json`), signed at `now` for a
/// [`Generic`](crate::generic::Generic) scheme with `signer`: an HMAC keyring or an Ed25519
/// private key.
#[cfg(feature = "generic")]
pub fn sign_generic<S: crate::generic::Sender>(
    generic: &crate::generic::Generic<S>,
    signer: crate::generic::Signer<'_>,
    uri: &str,
    body: impl Into<Bytes>,
    now: SystemTime,
) -> Result<Request<Full<Bytes>>, crate::generic::SignError> {
    let body = body.into();
    let (mut parts, full) = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .expect("a valid request")
        .into_parts();
    generic.sign_parts(signer, &mut parts, &body, now)?;
    Ok(Request::from_parts(parts, full))
}

/// The tag of `body` with the current secret of `tenant` when the keyring has that tenant,
/// else of the keyring's first tenant.
#[cfg(any(feature = "zernio", feature = "ayrshare"))]
fn tag(secrets: &crate::secrets::Secrets, tenant: Option<&str>, body: &[u8]) -> String {
    let keyring = secrets
        .current()
        .expect("testing::Sign needs a static or rotating keyring: a secret source cannot sign");
    tenant
        .and_then(|tenant| keyring.sign_as(tenant, b"", body))
        .unwrap_or_else(|| keyring.sign(b"", body))
        .to_hex()
}

#[cfg(any(feature = "zernio", feature = "ayrshare"))]
fn hex_header(value: String) -> http::HeaderValue {
    http::HeaderValue::try_from(value).expect("hex is a valid header value")
}

#[cfg(feature = "zernio")]
impl Sign for crate::zernio::Zernio {
    fn sign(&self, body: &[u8], headers: &mut HeaderMap) {
        let tag = tag(self.secrets(), None, body);
        headers.insert(crate::zernio::HEADER_SIGNATURE, hex_header(tag.clone()));
        headers.insert(crate::zernio::HEADER_LEGACY_SIGNATURE, hex_header(tag));
    }
}

#[cfg(feature = "ayrshare")]
impl Sign for crate::ayrshare::Ayrshare {
    /// The legacy header, the `-V2` header with one `v1=` entry, and the current timestamp;
    /// signed with the secret of the profile the body's `refId` names, when the keyring has
    /// that tenant.
    fn sign(&self, body: &[u8], headers: &mut HeaderMap) {
        let tenant = self.tenant_hint(body);
        let tag = tag(self.secrets(), tenant.as_deref(), body);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        headers.insert(
            crate::ayrshare::HEADER_SIGNATURE_V2,
            hex_header(format!("v1={tag}")),
        );
        headers.insert(crate::ayrshare::HEADER_SIGNATURE, hex_header(tag));
        headers.insert(
            crate::ayrshare::HEADER_TIMESTAMP,
            http::HeaderValue::from(now),
        );
    }
}

#[cfg(feature = "standard")]
impl Sign for crate::standard::Standard {
    /// Signs as a Standard Webhooks sender does, for now: a fresh `webhook-id` (`msg_` and a
    /// number unique in the process), `webhook-timestamp` from the system clock, and
    /// `webhook-signature: v1,<base64>` with the current secret. For a service with an injected
    /// clock, or to repeat an id, build the headers with
    /// [`Standard::sign`](crate::standard::Standard::sign).
    fn sign(&self, body: &[u8], headers: &mut HeaderMap) {
        use std::{
            sync::atomic::{AtomicU64, Ordering},
            time::{SystemTime, UNIX_EPOCH},
        };
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the system clock is after 1970");
        let id = format!(
            "msg_hookgate_{}_{:08x}",
            NEXT.fetch_add(1, Ordering::Relaxed),
            now.subsec_nanos()
        );
        let timestamp = now.as_secs() as i64;
        let signature = crate::standard::Standard::sign(self, &id, timestamp, body);
        let value = |text: String| http::HeaderValue::try_from(text).expect("ASCII header value");
        headers.insert(crate::standard::HEADER_ID, value(id));
        headers.insert(
            crate::standard::HEADER_TIMESTAMP,
            value(timestamp.to_string()),
        );
        headers.insert(crate::standard::HEADER_SIGNATURE, value(signature));
    }
}

/// What the service answered, read from a response's status and JSON body.
///
/// hookgate's own answers are `{"status":"handled"|"duplicate"|"ignored"|"accepted"}` (2xx:
/// 200, or 202 for an inbox's `accepted`) and `{"error":"...","code":"..."}` (refusals); behind
/// [`WebhookLayer`](crate::WebhookLayer), a handled delivery's answer is your inner
/// service's, read as [`Outcome::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// 200 `{"status":"handled"}`: a handler (typed, catch-all or fallback) ran and succeeded.
    Handled,
    /// 200 `{"status":"duplicate"}`: the key was already handled; no handler ran.
    Duplicate,
    /// 200 `{"status":"ignored"}`: verified, but no handler took it (no handler for the event
    /// and no fallback, or a `Verified<E>` route for another event type).
    Ignored,
    /// 2xx (202) `{"status":"accepted"}`: stored in a durable inbox, to be handled by a worker.
    Accepted,
    /// hookgate refused or could not finish the delivery: the status and the body's `code`
    /// (`bad_signature`, `handler_error`, `in_flight`, ...).
    Refused {
        /// The status code (4xx or 5xx).
        status: StatusCode,
        /// The body's machine-readable `code`.
        code: String,
    },
    /// Any other answer (your inner service's, behind `WebhookLayer`), with its body as text.
    Other {
        /// The status code.
        status: StatusCode,
        /// The body (lossy UTF-8, at most 64 KiB read).
        body: String,
    },
}

/// The most of a response body [`Outcome::from_response`] reads.
const OUTCOME_BODY_LIMIT: usize = 64 * 1024;

impl Outcome {
    /// Reads the response (at most 64 KiB of body) and classifies it.
    pub async fn from_response<B>(response: Response<B>) -> Self
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let status = response.status();
        let body = match Limited::new(response.into_body(), OUTCOME_BODY_LIMIT)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                return Self::Other {
                    status,
                    body: format!("<body not read: {error}>"),
                };
            }
        };
        Self::from_parts(status, &body)
    }

    /// Classifies a status and a body already read.
    pub fn from_parts(status: StatusCode, body: &[u8]) -> Self {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|json| json.get(name))
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        };
        if status.is_success() {
            match field("status").as_deref() {
                Some("handled") => return Self::Handled,
                Some("duplicate") => return Self::Duplicate,
                Some("ignored") => return Self::Ignored,
                Some("accepted") => return Self::Accepted,
                _ => {}
            }
        } else if (status.is_client_error() || status.is_server_error())
            && let (Some(code), Some(_)) = (field("code"), field("error"))
        {
            return Self::Refused { status, code };
        }
        Self::Other {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// Whether a handler ran and succeeded ([`Outcome::Handled`]).
    pub fn is_handled(&self) -> bool {
        matches!(self, Self::Handled)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handled => f.write_str("200 handled"),
            Self::Duplicate => f.write_str("200 duplicate"),
            Self::Ignored => f.write_str("200 ignored (no handler took the event)"),
            Self::Accepted => f.write_str("accepted (stored in the inbox)"),
            Self::Refused { status, code } => write!(f, "{} {code}", status.as_u16()),
            Self::Other { status, body } => write!(f, "{} {body}", status.as_u16()),
        }
    }
}

/// Panics unless the response says a handler ran and succeeded (`{"status":"handled"}`).
///
/// The message says what happened instead: `ignored` usually means the body did not reach
/// the handler you meant (another event name, or a payload that did not fit its type and went
/// to the fallback, or nowhere).
pub async fn assert_handled<B>(response: Response<B>)
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let outcome = Outcome::from_response(response).await;
    assert!(
        outcome.is_handled(),
        "expected the delivery to be handled, got: {outcome}"
    );
}

/// One fixture: the provider, the event name as routed, the fixture's name, its JSON.
type Fixture = (&'static str, &'static str, &'static str, &'static str);

/// The fixtures, embedded: `(provider, event name, fixture name, JSON)`.
#[cfg(any(feature = "zernio", feature = "ayrshare"))]
macro_rules! fixtures {
    ($provider:literal: $( $event:literal $(as $file:literal)? ),+ $(,)?) => {
        &[$(
            (
                $provider,
                $event,
                fixtures!(@file $event $($file)?),
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $provider, "/",
                    fixtures!(@file $event $($file)?), ".json"
                )),
            ),
        )+]
    };
    (@file $event:literal $file:literal) => { $file };
    (@file $event:literal) => { $event };
}

#[cfg(feature = "zernio")]
const ZERNIO_FIXTURES: &[Fixture] = fixtures!("zernio":
    "post.scheduled", "post.published", "post.failed", "post.partial", "post.cancelled",
    "post.recycled", "post.platform.published", "post.platform.failed", "post.platform.deleted",
    "post.tiktok.url_resolved", "account.connected", "account.disconnected",
    "account.ads.initial_sync_completed", "message.received", "conversation.started",
    "call.received", "call.ended", "call.failed", "call.permission_request", "message.sent",
    "message.edited", "message.deleted", "message.delivered", "message.read", "message.failed",
    "reaction.received", "referral.received", "comment.received", "review.new",
    "review.updated", "post.external.created", "post.external.updated",
    "post.external.deleted", "lead.received", "ad.status_changed",
    "whatsapp.template.status_updated", "whatsapp.template.category_updated",
    "whatsapp.automatic_event", "whatsapp.number.activated", "whatsapp.number.declined",
    "whatsapp.number.action_required", "whatsapp.number.verification_required",
    "whatsapp.number.suspended", "whatsapp.number.reactivated", "whatsapp.number.released",
    "whatsapp.number.kyc_submitted", "verification.approved", "verification.failed",
    "webhook.test",
);
#[cfg(not(feature = "zernio"))]
const ZERNIO_FIXTURES: &[Fixture] = &[];

#[cfg(feature = "ayrshare")]
const AYRSHARE_FIXTURES: &[Fixture] = fixtures!("ayrshare":
    "scheduled",
    "scheduled/tikTokPublished" as "scheduled.tikTokPublished",
    "social" as "social.link",
    "social" as "social.refresh",
    "social" as "social.unlink",
    "messages/messageCreated" as "messages.messageCreated",
    "messages/messageRead" as "messages.messageRead",
    "messages/reactionCreated" as "messages.reactionCreated",
    "messages/reactionDeleted" as "messages.reactionDeleted",
    "messages/messageEdited" as "messages.messageEdited",
    "comments", "mentions", "feed", "batch", "automations", "accountActivity", "suspended",
);
#[cfg(not(feature = "ayrshare"))]
const AYRSHARE_FIXTURES: &[Fixture] = &[];

fn fixtures_of(provider: &str) -> &'static [Fixture] {
    match provider {
        "zernio" => ZERNIO_FIXTURES,
        "ayrshare" => AYRSHARE_FIXTURES,
        _ => &[],
    }
}

/// The event names [`payload`] can build for `provider` (`"zernio"`, `"ayrshare"`), each
/// once, in catalogue order: every name of the provider's catalogue enum. Empty for a
/// provider without fixtures (Standard Webhooks names are yours) or whose feature is off.
pub fn events(provider: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (_, event, _, _) in fixtures_of(provider) {
        if !names.contains(event) {
            names.push(event);
        }
    }
    names
}

/// A valid body of the event `name` from `provider` (`"zernio"` or `"ayrshare"`), built from
/// the documented example delivery the crate tests against, with a fresh dedup key and
/// timestamp so that each call is a new event:
///
/// - Zernio: a fresh `id` and `timestamp` (now, ISO-8601 with milliseconds);
/// - Ayrshare: a fresh `hookId` and `created` (now, ISO-8601 in seconds).
///
/// `name` is the event name as routed (`post.published`, `messages/messageCreated`), or a
/// fixture's own name where one name has several (`social.unlink`; `social` gives
/// `social.link`). See [`events`] for the list.
///
/// # Panics
///
/// When `provider` has no fixture named `name` (the message lists the names there are).
pub fn payload(provider: &str, name: &str) -> String {
    let fixtures = fixtures_of(provider);
    let Some((_, _, _, json)) = fixtures
        .iter()
        .find(|(_, event, file, _)| *event == name || *file == name)
    else {
        panic!(
            "no `{provider}` fixture for `{name}`; there are: {:?}",
            fixtures.iter().map(|f| f.2).collect::<Vec<_>>()
        );
    };
    let mut body: serde_json::Value =
        serde_json::from_str(json).expect("the fixtures are JSON objects");
    let object = body.as_object_mut().expect("the fixtures are JSON objects");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the system clock is after 1970");
    let key = unique_id();
    match provider {
        "zernio" => {
            object.insert("id".into(), format!("evt_{key}").into());
            object.insert("timestamp".into(), iso8601(now, true).into());
        }
        _ => {
            object.insert("hookId".into(), format!("hk_{key}").into());
            object.insert("created".into(), iso8601(now, false).into());
        }
    }
    body.to_string()
}

/// An id unique in the process, and very likely across processes (clock nanoseconds).
fn unique_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "hookgate_{}_{nanos:08x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `since_epoch` as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (UTC, proleptic Gregorian).
fn iso8601(since_epoch: std::time::Duration, millis: bool) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3_600, rem % 3_600 / 60, rem % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if millis {
        text.push_str(&format!(".{:03}", since_epoch.subsec_millis()));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(Duration::ZERO, false), "1970-01-01T00:00:00Z");
        // 2026-09-01T12:00:00.250Z, a leap-year boundary and the end of a century.
        assert_eq!(
            iso8601(Duration::from_millis(1_788_264_000_250), true),
            "2026-09-01T12:00:00.250Z"
        );
        assert_eq!(
            iso8601(Duration::from_secs(951_782_400), false),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            iso8601(Duration::from_secs(4_102_444_799), false),
            "2099-12-31T23:59:59Z"
        );
    }

    #[test]
    fn outcome_reads_hookgate_bodies() {
        let ok = |body: &str| Outcome::from_parts(StatusCode::OK, body.as_bytes());
        assert_eq!(ok(r#"{"status":"handled"}"#), Outcome::Handled);
        assert_eq!(ok(r#"{"status":"duplicate"}"#), Outcome::Duplicate);
        assert_eq!(ok(r#"{"status":"ignored"}"#), Outcome::Ignored);
        assert_eq!(
            Outcome::from_parts(StatusCode::ACCEPTED, br#"{"status":"accepted"}"#),
            Outcome::Accepted
        );
        assert!(matches!(ok("ok"), Outcome::Other { .. }));
        assert_eq!(
            Outcome::from_parts(
                StatusCode::UNAUTHORIZED,
                br#"{"error":"signature mismatch","code":"bad_signature"}"#
            ),
            Outcome::Refused {
                status: StatusCode::UNAUTHORIZED,
                code: "bad_signature".into()
            }
        );
    }
}
