//! [`Forward`]: a handler that POSTs each delivery to an internal URL, signed as Standard
//! Webhooks, so that a service in any language verifies one scheme whatever the sender was.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::Full;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::{
    delivery::Delivery,
    future::{BoxError, BoxFuture},
    standard::Standard,
};

/// The forwarding request could not be made, or was not answered with a 2xx.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The URL is not an absolute `http://` URL.
    #[error("forward URL must be an absolute http:// URL")]
    InvalidUrl,
    /// The secret is not `whsec_` followed by base64.
    #[error("forward secret: {0}")]
    InvalidSecret(#[from] crate::keyring::KeyringError),
    /// The event name or key cannot be sent in a header.
    #[error("`{0}` cannot be sent as a header value")]
    InvalidHeader(&'static str),
    /// The connection failed (refused, reset, ...).
    #[error("forward request failed: {0}")]
    Request(#[source] BoxError),
    /// No answer within the forward timeout.
    #[error("forward request timed out")]
    Timeout,
    /// The service answered with a status other than 2xx.
    #[error("forward answered {0}")]
    Status(u16),
}

/// Forwards the delivery's raw body, byte for byte, with `POST` to an internal `http://` URL,
/// signed as Standard Webhooks with a forwarding secret:
///
/// - `webhook-id`: the delivery's dedup key ([`Delivery::key`]);
/// - `webhook-timestamp`: this attempt's time, in Unix seconds;
/// - `webhook-signature`: `v1,<base64>` over `{id}.{timestamp}.{body}`;
/// - `hookgate-provider` and `hookgate-event`: the provider's name and the event name;
/// - `content-type: application/json`.
///
/// A 2xx answer is a success; any other answer, a failed connection or no answer within the
/// timeout (default 30 s; the handler timeout bounds it too) is a failed attempt, retried by
/// the inbox. Register it for every event (typed or not) with `on_any` and `fallback`, or call
/// [`Forward::send`] from a handler.
///
/// The HTTP client is hyper-util's (hyper is already hookgate's HTTP stack; no TLS: the target
/// is an internal service).
///
/// ```
/// # #[cfg(feature = "zernio")] {
/// use hookgate::{Webhooks, inbox::Forward, zernio::{Event, Zernio}};
///
/// # fn build() -> Result<(), Box<dyn std::error::Error>> {
/// let forward = Forward::new("http://127.0.0.1:8080/hooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let webhooks = Webhooks::new(Zernio::new(["secret"])?)
///     .on_any::<Event, _, _>(forward.clone())
///     .fallback(forward)
///     .build()?;
/// # Ok(()) }
/// # build().unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct Forward {
    url: Uri,
    signer: Arc<Standard>,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Forward {
    /// Forwards to `url` (absolute, `http://`), signing with `secret` (`whsec_<base64>`).
    pub fn new(url: &str, secret: &str) -> Result<Self, ForwardError> {
        let url: Uri = url.parse().map_err(|_| ForwardError::InvalidUrl)?;
        if url.scheme_str() != Some("http") || url.authority().is_none() {
            return Err(ForwardError::InvalidUrl);
        }
        let signer = Standard::new([secret])?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(32)
            .build(connector);
        Ok(Self {
            url,
            signer: Arc::new(signer),
            client,
            timeout: Duration::from_secs(30),
        })
    }

    /// How long to wait for the answer (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `delivery`; `Ok` only for a 2xx answer.
    pub async fn send(&self, delivery: &Delivery) -> Result<(), ForwardError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let signature = self.signer.sign(delivery.key(), timestamp, delivery.raw());
        let value = |text: &str, what| {
            HeaderValue::from_str(text).map_err(|_| ForwardError::InvalidHeader(what))
        };
        let mut signature = value(&signature, "webhook-signature")?;
        signature.set_sensitive(true);
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("webhook-id", value(delivery.key(), "webhook-id")?)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .header("hookgate-provider", value(delivery.provider(), "provider")?)
            .header("hookgate-event", value(delivery.event(), "event")?)
            .body(Full::new(delivery.raw().clone()))
            .map_err(|e| ForwardError::Request(e.into()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| ForwardError::Timeout)?
            .map_err(|e| ForwardError::Request(e.into()))?;
        let status = response.status();
        // The body is not needed; dropping it lets the connection be reused or closed.
        drop(response);
        if status.is_success() {
            Ok(())
        } else {
            Err(ForwardError::Status(status.as_u16()))
        }
    }
}

/// The marker that makes [`Forward`] a [`Handler`](crate::Handler) of any event type.
#[derive(Debug)]
pub struct Forwarding;

impl Forward {
    /// Forwards `delivery` as [`Forward`]'s [`Handler`](crate::Handler) implementation does:
    /// an invalid header is a [`Permanent`](super::Permanent) failure, every other error a
    /// retryable one.
    pub(crate) fn handle(&self, delivery: Delivery) -> BoxFuture<'static, Result<(), BoxError>> {
        let this = self.clone();
        Box::pin(async move {
            match this.send(&delivery).await {
                Ok(()) => Ok(()),
                Err(error @ ForwardError::InvalidHeader(_)) => {
                    Err(super::Permanent::new(error).into())
                }
                Err(error) => Err(error.into()),
            }
        })
    }
}
