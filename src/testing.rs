//! Test helpers: build deliveries signed exactly as the providers sign them, to drive your
//! webhook routes end to end through the real verifier (feature `testing`).
//!
//! ```
//! # #[cfg(feature = "zernio")] {
//! use hookgate::{Webhooks, testing::signed_request, zernio::{self, Zernio}};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let zernio = Zernio::new(["test-secret"])?;
//! let body = r#"{"id":"evt_1","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z"}"#;
//! let request = signed_request(&zernio, "/webhooks/zernio", body);
//!
//! let service = Webhooks::new(zernio).on(|_: zernio::WebhookTest| async {}).build()?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! # }
//! ```

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, header};
use http_body_util::Full;

use crate::provider::Provider;

/// A provider that can sign a delivery the way its sender does, with its keyring's current
/// (first) secret.
pub trait Sign: Provider {
    /// Adds the signature headers (and any other header the scheme signs) for `body`.
    fn sign(&self, body: &[u8], headers: &mut HeaderMap);
}

/// A `POST` to `uri` with `body`, `Content-Type: application/json` and the provider's signature.
pub fn signed_request<P: Sign>(
    provider: &P,
    uri: &str,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let body = body.into();
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .expect("a valid request");
    provider.sign(&body, request.headers_mut());
    request
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

fn hex_header(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("hex is a valid header value")
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
        headers.insert(crate::ayrshare::HEADER_TIMESTAMP, HeaderValue::from(now));
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
        let value = |text: String| HeaderValue::try_from(text).expect("ASCII header value");
        headers.insert(crate::standard::HEADER_ID, value(id));
        headers.insert(
            crate::standard::HEADER_TIMESTAMP,
            value(timestamp.to_string()),
        );
        headers.insert(crate::standard::HEADER_SIGNATURE, value(signature));
    }
}
