//! Every way hookgate answers a delivery itself, with the status that makes the sender retry
//! exactly when a retry helps.
//!
//! Both first providers retry 5xx, 408 and 429 and treat other 4xx as final, so:
//!
//! | outcome | status |
//! | --- | --- |
//! | handled, duplicate, unknown event | 200 |
//! | same key still being handled | 429 with `Retry-After` |
//! | no / malformed / wrong signature, timestamp out of window | 401 |
//! | body over the limit | 413 |
//! | body not sent in time, or broken off on its way | 408 |
//! | not a JSON object, no discriminator or an empty one | 400 |
//! | handler error or panic | 500 (key released) |
//! | a provider or dedup store implementation panicked | 500 |
//! | handler timeout, dedup store or secret source unavailable | 503 |
//! | the service's buffered-bytes cap reached | 503 with `Retry-After` |
//! | stored in the inbox (handled later) | 202 |
//! | inbox unreachable or full | 503 with `Retry-After` |
//! | method other than `POST` | 405 |
//!
//! Refusal bodies are short JSON, `{"error":"...","code":"..."}`, and never contain a secret or
//! an expected signature; details go to `tracing`.
//!
//! A 2xx that hookgate answers itself says what happened, in `{"status":"..."}` (200, and 202
//! for `accepted`):
//!
//! | body | meaning |
//! | --- | --- |
//! | `{"status":"handled"}` | a handler (typed, catch-all or fallback) ran and succeeded; the key is committed |
//! | `{"status":"duplicate"}` | the key was already handled: no handler ran |
//! | `{"status":"ignored"}` | verified, but no handler took it (no handler and no fallback, or a `Verified<E>` route for another event type); the key is committed |
//! | `{"status":"accepted"}` | stored in a durable inbox, handled later by a worker |
//!
//! In tests, `testing::Outcome` (feature `testing`) reads these bodies.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::provider::{EnvelopeError, SignatureError};

/// Why hookgate refused (or could not finish) a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The method is not `POST` (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is over the limit, by `Content-Length` or while streaming (413).
    #[error("body over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body did not arrive within the read timeout (408, retried by senders).
    #[error("body not received in time")]
    ReadTimeout,
    /// The body stream failed: the client went away, or the body broke off on its way
    /// (408: a retry may well deliver it whole).
    #[error("body could not be read")]
    BodyRead,
    /// Signature refused (401).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Verified body that is not a usable envelope (400).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The same key is being handled right now (429 with `Retry-After`).
    #[error("delivery in flight; retry after {retry_after:?}")]
    InFlight {
        /// How long until the other holder is done at the latest: the rest of its lease,
        /// bounded by the handler timeout (sent rounded up, at least 1 s).
        retry_after: Duration,
    },
    /// The dedup store failed, or is full of deliveries in flight (503 with `Retry-After: 5`).
    #[error("dedup store unavailable")]
    StoreUnavailable,
    /// The service already buffers as many body bytes as it may
    /// (`max_buffered_bytes`): 503 with `Retry-After`, as a retry can succeed once other
    /// deliveries are answered.
    #[error("too many bodies in flight; retry later")]
    Overloaded,
    /// The secret source failed to give a tenant's secrets (503).
    #[error("secrets unavailable")]
    SecretsUnavailable,
    /// The handler returned an error (500, key released).
    #[error("handler failed")]
    HandlerFailed,
    /// The handler panicked (500, key released).
    #[error("handler panicked")]
    HandlerPanicked,
    /// The handler ran past its timeout (503, key released).
    #[error("handler timed out")]
    HandlerTimeout,
    /// Code outside the handler panicked: a [`Provider`](crate::provider::Provider) or
    /// [`DedupStore`](crate::dedup::DedupStore) implementation (500; a claimed key is
    /// released, or after a panic in `commit` frees itself when its lease ends; the service
    /// keeps serving).
    #[error("internal error")]
    Internal,
    /// The inbox could not store the delivery (503 with `Retry-After`).
    #[error("inbox unavailable")]
    InboxUnavailable,
    /// The inbox holds its maximum of pending events (503 with `Retry-After`).
    #[error("inbox full")]
    InboxFull,
}

/// `Retry-After` of an inbox refusal, in seconds.
const INBOX_RETRY_AFTER: u64 = 5;

impl Rejection {
    /// The status code sent for this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ReadTimeout | Self::BodyRead => StatusCode::REQUEST_TIMEOUT,
            Self::Envelope(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
            Self::InFlight { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::StoreUnavailable
            | Self::SecretsUnavailable
            | Self::HandlerTimeout
            | Self::Overloaded
            | Self::InboxUnavailable
            | Self::InboxFull => StatusCode::SERVICE_UNAVAILABLE,
            Self::HandlerFailed | Self::HandlerPanicked | Self::Internal => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// A stable machine-readable code, sent as `code` in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::ReadTimeout => "read_timeout",
            Self::BodyRead => "body_read_failed",
            Self::Signature(e) => e.code(),
            Self::Envelope(e) => e.code(),
            Self::InFlight { .. } => "in_flight",
            Self::StoreUnavailable => "store_unavailable",
            Self::Overloaded => "overloaded",
            Self::SecretsUnavailable => "secrets_unavailable",
            Self::HandlerFailed => "handler_error",
            Self::HandlerPanicked => "handler_panicked",
            Self::HandlerTimeout => "handler_timeout",
            Self::Internal => "internal_error",
            Self::InboxUnavailable => "inbox_unavailable",
            Self::InboxFull => "inbox_full",
        }
    }

    /// The response: status, JSON body and, where it applies, `Retry-After` or `Allow`.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            Self::InFlight { retry_after } => {
                headers.insert(header::RETRY_AFTER, retry_after_secs(retry_after));
            }
            Self::Overloaded => {
                // Bodies in flight are answered within the read and handler timeouts; most
                // take milliseconds.
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Self::StoreUnavailable | Self::SecretsUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::InboxUnavailable | Self::InboxFull => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(INBOX_RETRY_AFTER));
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` in whole seconds: rounded up, at least 1, saturating (a lease of
/// `Duration::MAX` must not overflow).
fn retry_after_secs(retry_after: Duration) -> HeaderValue {
    let secs = retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0));
    HeaderValue::from(secs.max(1))
}

/// A 200 answer hookgate gives itself, with a fixed JSON body naming the outcome:
/// `{"status":"handled"}`, `{"status":"duplicate"}` or `{"status":"ignored"}` (see the
/// [module docs](self) for what each means; `testing::Outcome` reads them in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ack {
    /// A handler ran and succeeded: `{"status":"handled"}`.
    Handled,
    /// The key was already handled, the handler was not called again: `{"status":"duplicate"}`.
    Duplicate,
    /// No handler and no fallback took the event: `{"status":"ignored"}`.
    Ignored,
    /// Stored in the inbox, handled later (202).
    Accepted,
}

impl Ack {
    /// The outcome's name, as in the body's `status`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Accepted => "accepted",
        }
    }

    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let body: &'static [u8] = match self {
            Self::Handled => br#"{"status":"handled"}"#,
            Self::Duplicate => br#"{"status":"duplicate"}"#,
            Self::Ignored => br#"{"status":"ignored"}"#,
            Self::Accepted => br#"{"status":"accepted"}"#,
        };
        let mut response = Response::new(Full::new(Bytes::from_static(body)));
        if self == Self::Accepted {
            *response.status_mut() = StatusCode::ACCEPTED;
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn bodies_are_short_json_and_retry_after_rounds_up() {
        let response = Rejection::InFlight {
            retry_after: Duration::from_millis(1500),
        }
        .into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "in_flight");

        // Rounding up the largest duration saturates instead of overflowing.
        let response = Rejection::InFlight {
            retry_after: Duration::MAX,
        }
        .into_response();
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            u64::MAX.to_string().as_str()
        );
        let response = Rejection::InFlight {
            retry_after: Duration::ZERO,
        }
        .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");

        let response = Rejection::Signature(SignatureError::Mismatch).into_response();
        assert_eq!(response.status(), 401);
        let response = Rejection::MethodNotAllowed.into_response();
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }
}
