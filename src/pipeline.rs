//! The pipeline every delivery goes through, shared by [`WebhookLayer`](crate::WebhookLayer) and
//! [`Webhooks`](crate::Webhooks): read (bounded, timed), verify (HMAC as the chunks arrive),
//! parse the envelope, claim the key, call the handler (timed, panics caught), then commit or
//! release the key and answer.

use std::{
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::FutureExt as _;
use http::{Method, Request, Response, request::Parts};
use http_body::Body;
use http_body_util::{BodyExt as _, Full};
use sha2::{Digest, Sha256};
use tracing::field::Empty;

use crate::{
    body::ResponseBody,
    dedup::{Claim, DedupKey, DedupStore, Lease, MemoryStore},
    delivery::{Delivery, redact},
    keyring::Verifier,
    provider::{EnvelopeError, Provider},
    rejection::{Ack, Rejection},
};

/// A source of the current time (injectable for tests of timestamp windows).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Pipeline settings, shared by the layer and the dispatcher.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) body_limit: usize,
    pub(crate) read_timeout: Duration,
    pub(crate) handler_timeout: Option<Duration>,
    pub(crate) lease: Duration,
    pub(crate) dedup_ttl: Option<Duration>,
    pub(crate) store: Arc<dyn DedupStore>,
    pub(crate) clock: Clock,
    /// With a store: deliveries are stored in the inbox instead of handled inline.
    pub(crate) inbox: crate::inbox::InboxSettings,
}

/// Default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// Default read timeout for the whole body.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default handler timeout (below which a handler keeps its claim).
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default lease of an in-flight claim: longer than the default handler timeout, so a handler
/// never loses its claim while it may still run.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

impl Default for Config {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            handler_timeout: Some(DEFAULT_HANDLER_TIMEOUT),
            lease: DEFAULT_LEASE,
            dedup_ttl: None,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemTime::now),
            inbox: Default::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("body_limit", &self.body_limit)
            .field("read_timeout", &self.read_timeout)
            .field("handler_timeout", &self.handler_timeout)
            .field("lease", &self.lease)
            .field("dedup_ttl", &self.dedup_ttl)
            .field("inbox", &self.inbox.store.is_some())
            .finish_non_exhaustive()
    }
}

/// Builder methods shared by `WebhookLayer` and `Webhooks` (both hold a `config: Config`).
macro_rules! config_methods {
    () => {
        /// Largest body accepted, in bytes (default 1 MiB). Larger bodies get 413, from
        /// `Content-Length` before a byte is read, or as soon as a stream passes the limit.
        pub fn body_limit(mut self, bytes: usize) -> Self {
            self.config.body_limit = bytes;
            self
        }

        /// How long the whole body may take to arrive (default 10 s); past it, 408.
        pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.read_timeout = timeout;
            self
        }

        /// How long a handler may run (default 30 s); past it, 503 and the key is released.
        /// `None` lets handlers run as long as they like (the lease still expires).
        pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.handler_timeout = timeout;
            self
        }

        /// How long an in-flight claim lasts before another delivery of the same key may take
        /// it (default 60 s). Keep it above the handler timeout.
        pub fn lease(mut self, lease: std::time::Duration) -> Self {
            self.config.lease = lease;
            self
        }

        /// How long a handled key is remembered (default: the provider's retry horizon, e.g.
        /// 72 h for Zernio).
        pub fn dedup_ttl(mut self, ttl: std::time::Duration) -> Self {
            self.config.dedup_ttl = Some(ttl);
            self
        }

        /// The dedup store (default: a [`MemoryStore`](crate::dedup::MemoryStore) of one
        /// million keys). Share one store between several providers or services by passing
        /// the same `Arc`.
        pub fn store(mut self, store: impl crate::dedup::DedupStore) -> Self {
            self.config.store = std::sync::Arc::new(store);
            self
        }

        /// The clock used for timestamp windows and `Delivery::received_at` (default
        /// `SystemTime::now`); inject one in tests.
        pub fn clock(
            mut self,
            clock: impl Fn() -> std::time::SystemTime + Send + Sync + 'static,
        ) -> Self {
            self.config.clock = std::sync::Arc::new(clock);
            self
        }
    };
}
pub(crate) use config_methods;

/// A verified, claimed delivery handed to the next stage (handler registry or inner service).
pub(crate) struct Accepted {
    pub(crate) parts: Parts,
    /// The delivery, without headers yet: the next stage moves or copies them in.
    delivery: Delivery,
    signature_headers: &'static [http::HeaderName],
}

impl Accepted {
    /// The delivery with the request's headers moved in (redacted); the parts are dropped.
    pub(crate) fn into_delivery(self) -> Delivery {
        let mut delivery = self.delivery;
        delivery.headers = self.parts.headers;
        redact(&mut delivery.headers, self.signature_headers);
        delivery
    }

    /// The request parts and the delivery with a redacted copy of the headers.
    pub(crate) fn split(self) -> (Parts, Delivery) {
        let mut delivery = self.delivery;
        delivery.headers = self.parts.headers.clone();
        redact(&mut delivery.headers, self.signature_headers);
        (self.parts, delivery)
    }
}

/// What the next stage did.
pub(crate) enum Handled<R, E> {
    /// The next stage answered; a 2xx commits the key, anything else releases it.
    Response(R),
    /// The inner service failed: release the key and pass the error on.
    Error(E),
}

/// The span of one delivery. DEBUG, like tower-http's `TraceLayer`: a span per delivery costs
/// about a microsecond with a formatting subscriber; refusals and failures carry their own
/// context at INFO / WARN / ERROR. The service's [`ResponseFuture`](crate::ResponseFuture)
/// enters it on every poll.
pub(crate) fn span(provider: &'static str) -> tracing::Span {
    tracing::debug_span!(
        "webhook",
        provider,
        event = Empty,
        key = Empty,
        outcome = Empty
    )
}

/// Runs one delivery through the pipeline. `next` gets the accepted delivery; its response's
/// status decides commit (2xx) or release.
pub(crate) async fn run<P, B, F, Fut, RB, E>(
    provider: Arc<P>,
    config: Arc<Config>,
    request: Request<B>,
    next: F,
) -> Result<Response<ResponseBody<RB>>, E>
where
    P: Provider,
    B: Body,
    B::Error: fmt::Display,
    F: FnOnce(Accepted) -> Fut,
    Fut: Future<Output = Handled<Response<RB>, E>>,
{
    let result = pipeline(&*provider, &config, request, next).await;
    let outcome = match &result {
        Ok(Outcome::Rejected(rejection)) => rejection.code(),
        Ok(Outcome::Ack(Ack::Duplicate)) => "duplicate",
        Ok(Outcome::Ack(Ack::Ignored)) => "ignored",
        Ok(Outcome::Ack(Ack::Handled)) => "handled",
        Ok(Outcome::Ack(Ack::Accepted)) => "accepted",
        Ok(Outcome::Inner(response)) if response.status().is_success() => "handled",
        Ok(Outcome::Inner(_)) => "handler_refused",
        Err(_) => "inner_error",
    };
    tracing::Span::current().record("outcome", outcome);
    tracing::debug!(outcome, "delivery done");
    result.map(Outcome::into_response)
}

enum Outcome<RB> {
    Rejected(Rejection),
    Ack(Ack),
    Inner(Response<RB>),
}

impl<RB> Outcome<RB> {
    fn into_response(self) -> Response<ResponseBody<RB>> {
        match self {
            Self::Rejected(rejection) => rejection.into_response().map(ResponseBody::own),
            Self::Ack(ack) => ack.into_response().map(ResponseBody::own),
            Self::Inner(response) => response.map(ResponseBody::inner),
        }
    }
}

/// What a log line says about the delivery, once its envelope is known.
#[derive(Clone)]
struct Context {
    provider: &'static str,
    event: Option<Arc<str>>,
    key: Option<Arc<str>>,
}

impl Context {
    /// Logs `rejection` at its level, with the delivery's context, and turns it into an outcome.
    fn refuse<RB>(&self, rejection: Rejection) -> Outcome<RB> {
        let (provider, code) = (self.provider, rejection.code());
        let event = self.event.as_deref().unwrap_or("");
        let key = self.key.as_deref().unwrap_or("");
        match &rejection {
            Rejection::MethodNotAllowed => tracing::debug!(provider, code, "refused: {rejection}"),
            Rejection::InFlight { .. } => {
                tracing::info!(
                    provider,
                    event,
                    key,
                    code,
                    "same key in flight; asked to retry"
                )
            }
            Rejection::StoreUnavailable
            | Rejection::HandlerFailed
            | Rejection::HandlerPanicked
            | Rejection::HandlerTimeout => {
                tracing::error!(provider, event, key, code, "{rejection}; key released")
            }
            _ => tracing::warn!(provider, event, key, code, "refused: {rejection}"),
        }
        Outcome::Rejected(rejection)
    }
}

async fn pipeline<P, B, F, Fut, RB, E>(
    provider: &P,
    config: &Config,
    request: Request<B>,
    next: F,
) -> Result<Outcome<RB>, E>
where
    P: Provider,
    B: Body,
    B::Error: fmt::Display,
    F: FnOnce(Accepted) -> Fut,
    Fut: Future<Output = Handled<Response<RB>, E>>,
{
    let mut context = Context {
        provider: P::NAME,
        event: None,
        key: None,
    };
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Ok(context.refuse(Rejection::MethodNotAllowed));
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = config.body_limit;
    if declared.is_some_and(|n| n > limit as u64) || body.size_hint().lower() > limit as u64 {
        return Ok(context.refuse(Rejection::PayloadTooLarge { limit }));
    }
    let now = (config.clock)();
    let signed = match provider.signature(&parts.headers, now) {
        Ok(signed) => signed,
        Err(error) => return Ok(context.refuse(Rejection::Signature(error))),
    };
    let mut verifier = provider.keyring().verifier(&signed.prefix);
    let raw = match within(config.read_timeout, read(body, limit, &mut verifier)).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(rejection)) => return Ok(context.refuse(rejection)),
        Err(_) => return Ok(context.refuse(Rejection::ReadTimeout)),
    };
    match verifier.matches(&signed.tags) {
        Some(key_index) => tracing::trace!(key_index, "signature verified"),
        None => {
            let mismatch = Rejection::Signature(crate::provider::SignatureError::Mismatch);
            return Ok(context.refuse(mismatch));
        }
    }
    let Ok(text) = std::str::from_utf8(&raw) else {
        return Ok(context.refuse(Rejection::Envelope(EnvelopeError::NotUtf8)));
    };
    let envelope = match provider.envelope(&parts.headers, text) {
        Ok(envelope) => envelope,
        Err(error) => return Ok(context.refuse(Rejection::Envelope(error))),
    };
    let (key, key_from_body_hash): (Arc<str>, bool) = match envelope.key {
        Some(key) => (key.into(), false),
        None => (const_hex::encode(Sha256::digest(&raw)).into(), true),
    };
    let event: Arc<str> = envelope.name.into();
    let dedup_key = DedupKey::new(P::NAME, envelope.scope.as_deref(), &key);
    let span = tracing::Span::current();
    span.record("event", &*event);
    span.record("key", &*key);
    context.event = Some(event.clone());
    context.key = Some(key.clone());

    // Inbox mode: one atomic insert-if-absent is both the dedup and the durable store.
    if let Some(inbox) = &config.inbox.store {
        let meta = provider.delivery_meta(&parts.headers);
        let mut headers = parts.headers;
        redact(&mut headers, provider.signature_headers());
        let event = crate::inbox::NewEvent {
            dedup: dedup_key.to_hex(),
            provider: P::NAME.into(),
            tenant: None, // TODO(tenants): `Delivery::tenant` once it lands.
            key: key.to_string(),
            key_is_body_hash: key_from_body_hash,
            event: event.to_string(),
            received_at: now,
            sender_attempt: meta.attempt,
            delivery_id: meta.delivery_id,
            headers,
            raw,
        };
        return Ok(match crate::inbox::accept(&**inbox, event).await {
            Ok(ack) => Outcome::Ack(ack),
            Err(rejection) => context.refuse(rejection),
        });
    }

    let lease = match config.store.claim(&dedup_key, config.lease).await {
        Ok(Claim::Acquired(lease)) => lease,
        Ok(Claim::Done) => {
            tracing::debug!("duplicate delivery acknowledged; handler not called");
            return Ok(Outcome::Ack(Ack::Duplicate));
        }
        Ok(Claim::InFlight { retry_after }) => {
            return Ok(context.refuse(Rejection::InFlight { retry_after }));
        }
        Err(error) => {
            tracing::error!(provider = P::NAME, %error, "dedup claim failed");
            return Ok(context.refuse(Rejection::StoreUnavailable));
        }
    };
    let mut guard = LeaseGuard {
        store: config.store.clone(),
        key: dedup_key,
        lease: Some(lease),
        context: context.clone(),
    };

    let meta = provider.delivery_meta(&parts.headers);
    let delivery = Delivery {
        provider: P::NAME,
        event,
        key,
        key_from_body_hash,
        received_at: now,
        attempt: meta.attempt,
        delivery_id: meta.delivery_id,
        headers: http::HeaderMap::new(),
        raw,
    };
    let accepted = Accepted {
        parts,
        delivery,
        signature_headers: provider.signature_headers(),
    };
    let handled = AssertUnwindSafe(next(accepted)).catch_unwind();
    let handled = match config.handler_timeout {
        Some(limit) => match within(limit, handled).await {
            Ok(handled) => handled,
            Err(_) => {
                guard.release().await;
                return Ok(context.refuse(Rejection::HandlerTimeout));
            }
        },
        None => handled.await,
    };
    match handled {
        Ok(Handled::Response(response)) if response.status().is_success() => {
            guard
                .commit(config.dedup_ttl.unwrap_or_else(|| provider.dedup_ttl()))
                .await;
            Ok(Outcome::Inner(response))
        }
        Ok(Handled::Response(response)) => {
            guard.release().await;
            Ok(Outcome::Inner(response))
        }
        Ok(Handled::Error(error)) => {
            guard.release().await;
            Err(error)
        }
        Err(_panic) => {
            guard.release().await;
            Ok(context.refuse(Rejection::HandlerPanicked))
        }
    }
}

/// Runs `future` with a deadline of `limit`, without arming a timer when the future finishes on
/// its first poll (a body that came with the headers, a handler that did not wait): a timer
/// costs a clock read and a timer-wheel entry per delivery.
async fn within<F: Future>(
    limit: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(output) => Ok(output),
        std::task::Poll::Pending => tokio::time::timeout(limit, future).await,
    }
}

/// Reads the body up to `limit` bytes, feeding the verifier as chunks arrive. A body that
/// arrives in one chunk is kept without a copy.
async fn read<B>(body: B, limit: usize, verifier: &mut Verifier) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            tracing::debug!(%error, "body stream failed");
            Rejection::BodyRead
        })?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let chunk = data.copy_to_bytes(data.remaining());
        total += chunk.len();
        if total > limit {
            return Err(Rejection::PayloadTooLarge { limit });
        }
        verifier.update(&chunk);
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(head), None) => {
                let mut buf = BytesMut::with_capacity((total * 2).min(limit));
                buf.extend_from_slice(head);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(head), None) => head,
        (None, None) => Bytes::new(),
    })
}

/// Holds a claim until it is committed or released; a delivery dropped mid-way (the client
/// went away, the server shut down) releases its claim in the background.
struct LeaseGuard {
    store: Arc<dyn DedupStore>,
    key: DedupKey,
    lease: Option<Lease>,
    context: Context,
}

impl LeaseGuard {
    async fn commit(&mut self, ttl: Duration) {
        if let Some(lease) = self.lease.take() {
            match self.store.commit(&self.key, lease, ttl).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    provider = self.context.provider,
                    key = self.context.key.as_deref(),
                    "lease expired before commit; a retry may run the handler again"
                ),
                Err(error) => tracing::error!(
                    provider = self.context.provider,
                    key = self.context.key.as_deref(),
                    %error,
                    "dedup commit failed; a retry may run the handler again"
                ),
            }
        }
    }

    async fn release(&mut self) {
        if let Some(lease) = self.lease.take()
            && let Err(error) = self.store.release(&self.key, lease).await
        {
            tracing::error!(
                provider = self.context.provider,
                key = self.context.key.as_deref(),
                %error,
                "dedup release failed; the key frees itself when its lease ends"
            );
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, key) = (self.store.clone(), self.key);
            runtime.spawn(async move {
                let _ = store.release(&key, lease).await;
            });
        }
    }
}

/// Turns a handler's outcome into the next stage's response (used by the dispatcher).
pub(crate) fn respond(result: Result<Ack, Rejection>) -> Response<Full<Bytes>> {
    match result {
        Ok(ack) => ack.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}
