//! The pipeline every delivery goes through, shared by [`WebhookLayer`](crate::WebhookLayer) and
//! [`Webhooks`](crate::Webhooks): read (bounded, timed), verify (HMAC as the chunks arrive),
//! parse the envelope, claim the key, call the handler (timed, panics caught), then commit or
//! release the key and answer.

use std::{
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    sync::Arc,
    task::Poll,
    time::{Duration, SystemTime},
};

use bytes::{Buf as _, Bytes};
use bytestring::ByteString;
use futures_util::{FutureExt as _, future::Either};
use http::{Method, Request, Response, request::Parts};
use http_body::Body;
use http_body_util::{BodyExt as _, Full};
use sha2::{Digest, Sha256};
use tracing::field::Empty;

use crate::{
    body::ResponseBody,
    budget::{Budget, Reservation},
    dedup::{Claim, DedupKey, DedupStore, KeyOrigin, KeyParts, Lease, MemoryStore, Namespace},
    delivery::{Delivery, Name, redact},
    future::within,
    keyring::{Match, Tenant, Verifier},
    provider::{
        Challenge, EnvelopeError, Provider, SignatureError, Signed, SignedBody, Unread, check_body,
        is_json,
    },
    rejection::{Ack, Rejection},
    secrets::{Plan, Refusal, Selected},
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
    /// Bytes of bodies buffered at once by every delivery of the service (and its clones).
    pub(crate) buffered: Arc<Budget>,
    /// The route's dedup namespace; `None`: the verifying secret's fingerprint.
    pub(crate) namespace: Option<Arc<str>>,
    /// With a store: deliveries are stored in the inbox instead of handled inline.
    pub(crate) inbox: crate::inbox::InboxSettings,
    /// Who checks that the whole body is JSON (the envelope reads its top level only).
    pub(crate) json_check: JsonCheck,
}

impl Config {
    /// The handler timeout, when the lease is not longer than it: a handler still running when
    /// its claim ran out would see a redelivery of the same event claimed and handled at the
    /// same time.
    pub(crate) fn lease_not_above_timeout(&self) -> Option<Duration> {
        self.handler_timeout
            .filter(|&handler_timeout| self.lease <= handler_timeout)
    }
}

/// Who checks that a verified body is well-formed JSON, beyond the top level that
/// [`Provider::envelope`] reads: a signed body that is not JSON is answered 400
/// ([`EnvelopeError::NotJson`]) before any handler or inner service sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonCheck {
    /// The pipeline, before the next stage (an inner service that gets the raw body).
    Pipeline,
    /// The dispatcher: the typed handler's decode is the check (one pass over the body),
    /// and it checks the body itself when no typed decode did. The pipeline still checks a
    /// body it stores in an inbox, and a duplicate's before answering it.
    Dispatcher,
}

/// Default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// Default read timeout for the whole body.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default handler timeout (below which a handler keeps its claim).
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on the bytes of bodies one service buffers at once, across all of its
/// deliveries: 64 MiB (64 bodies at the default limit).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 << 20;
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
            buffered: Arc::new(Budget::new(DEFAULT_MAX_BUFFERED_BYTES)),
            namespace: None,
            inbox: Default::default(),
            json_check: JsonCheck::Pipeline,
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
            .field("max_buffered_bytes", &self.buffered.capacity())
            .field("namespace", &self.namespace)
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

        /// The most bytes of bodies buffered at once, across every delivery in progress on this
        /// service and its clones (default 64 MiB). A delivery whose body would pass it is
        /// answered 503 with `Retry-After` (`overloaded`): each body is bounded by
        /// [`body_limit`](Self::body_limit), this bounds their sum. A delivery holds its share
        /// from its first byte until it is answered.
        pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
            self.config.buffered = std::sync::Arc::new(crate::budget::Budget::new(bytes));
            self
        }

        /// How long the whole body may take to arrive (default 10 s); past it, 408.
        pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.read_timeout = timeout;
            self
        }

        /// How long a handler may run (default 30 s); past it, 503 and the key is released.
        /// `None` lets handlers run as long as they like (the lease still expires). With an
        /// inbox (`Webhooks::inbox`), an attempt is always cut off: at this timeout, or without
        /// one at the [`lease`](Self::lease), so that it never outlives its claim on the event.
        pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.handler_timeout = timeout;
            self
        }

        /// How long an in-flight claim lasts before another delivery of the same key may take
        /// it (default 60 s). Keep it above the handler timeout (`Webhooks::build` refuses a
        /// lease that is not).
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

        /// The route's own dedup namespace, for routes of one provider that share a dedup store
        /// (e.g. `"billing"` and `"shipping"`): keys of one namespace never suppress another's.
        ///
        /// By default a delivery's namespace is a one-way fingerprint of the secret that
        /// verified it (the oldest one, when several of its tenant's secrets did): senders with
        /// different secrets never share one, replicas with the same secrets agree, and a
        /// dual-signed retry keeps it while a new secret is added in front. It changes when
        /// the verifying secret is removed, so a delivery replayed after that could be handled
        /// again (at-least-once: never lost, possibly repeated). A configured namespace is
        /// stable across every rotation: set one when several routes share a store. Tenants
        /// and providers are always part of the key besides.
        pub fn namespace(mut self, namespace: impl Into<std::sync::Arc<str>>) -> Self {
            self.config.namespace = Some(namespace.into());
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

    /// The request parts and the delivery, both with the signature headers redacted: the
    /// next stage (an inner service) never sees a signature either.
    pub(crate) fn split(self) -> (Parts, Delivery) {
        let (mut parts, mut delivery) = (self.parts, self.delivery);
        redact(&mut parts.headers, self.signature_headers);
        delivery.headers = parts.headers.clone();
        (parts, delivery)
    }
}

/// What the next stage did.
pub(crate) enum Handled<R, E> {
    /// The next stage answered; a 2xx commits the key, anything else releases it.
    Response(R),
    /// The dispatcher's own answer: an acknowledgement commits the key, a refusal releases
    /// it; the pipeline builds the response (and knows the outcome without reading it back).
    Own(Result<Ack, Rejection>),
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
///
/// The returned future is boxed once per delivery by the services, so it is kept small: the
/// request is split here, before the pipeline's future holds it (an `async fn` keeps each of
/// its arguments for its whole life, so one that passed the request on to another would hold
/// it twice), and the panic guard and the metrics wrap it as plain futures.
pub(crate) fn run<P, B, F, Fut, RB, E>(
    provider: Arc<P>,
    config: Arc<Config>,
    request: Request<B>,
    next: F,
) -> Run<impl Future<Output = Result<Finished<RB, E>, PanicPayload>>>
where
    P: Provider,
    B: Body,
    B::Error: fmt::Display,
    F: FnOnce(Accepted) -> Fut,
    Fut: Future<Output = Handled<Response<RB>, E>>,
{
    let (parts, body) = request.into_parts();
    Run {
        // The handler's panics are caught around the handler (its key is released at once);
        // this catches the rest: a `Provider` or `DedupStore` implementation that panicked.
        // Dropping the pipeline's state releases a claimed key in the background.
        pipeline: AssertUnwindSafe(pipeline(provider, config, parts, body, next)).catch_unwind(),
        in_flight: crate::metrics::InFlight::new(P::NAME),
    }
}

/// The `event` label of the metrics, known once the envelope is read.
pub(crate) type Label = Option<&'static str>;
/// How the pipeline ended a delivery (or the next stage's error), and its `event` label.
pub(crate) type Finished<RB, E> = (Result<Outcome<RB>, E>, Label);
type PanicPayload = Box<dyn std::any::Any + Send>;

pin_project_lite::pin_project! {
    /// [`run`]'s future: the pipeline, then its outcome logged, counted and answered.
    pub(crate) struct Run<Fut> {
        #[pin]
        pipeline: Fut,
        in_flight: crate::metrics::InFlight,
    }
}

impl<Fut, RB, E> Future for Run<Fut>
where
    Fut: Future<Output = Result<Finished<RB, E>, PanicPayload>>,
{
    type Output = Result<Response<ResponseBody<RB>>, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let provider = this.in_flight.provider();
        let (result, label) = match this.pipeline.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(done)) => done,
            Poll::Ready(Err(_panic)) => {
                let rejection = Rejection::Internal;
                tracing::error!(
                    provider,
                    code = rejection.code(),
                    "the provider or the dedup store panicked; answered 500"
                );
                // The event label went with the pipeline's state.
                (Ok(Outcome::Rejected(rejection)), None)
            }
        };
        let outcome = match &result {
            Ok(Outcome::Rejected(rejection)) => rejection.code(),
            Ok(Outcome::Ack(ack)) => ack.code(),
            Ok(Outcome::Answered(_)) => "challenge",
            Ok(Outcome::Inner(response)) if response.status().is_success() => "handled",
            Ok(Outcome::Inner(_)) => "handler_refused",
            Err(_) => "inner_error",
        };
        tracing::Span::current().record("outcome", outcome);
        tracing::debug!(outcome, "delivery done");
        crate::metrics::delivery(provider, label.unwrap_or("_none"), outcome);
        if let Ok(Outcome::Rejected(Rejection::Signature(error))) = &result {
            crate::metrics::verification_failure(provider, error.code());
        }
        Poll::Ready(result.map(Outcome::into_response))
    }
}

/// How the pipeline ended a delivery.
pub(crate) enum Outcome<RB> {
    Rejected(Rejection),
    Ack(Ack),
    Inner(Response<RB>),
    /// The provider's answer to a verified challenge ([`Provider::challenge`]).
    Answered(Response<Bytes>),
}

impl<RB> Outcome<RB> {
    fn into_response(self) -> Response<ResponseBody<RB>> {
        match self {
            Self::Rejected(rejection) => rejection.into_response().map(ResponseBody::own),
            Self::Ack(ack) => ack.into_response().map(ResponseBody::own),
            Self::Inner(response) => response.map(ResponseBody::inner),
            Self::Answered(response) => response.map(|body| ResponseBody::own(Full::new(body))),
        }
    }
}

/// What a log line says about the delivery, once its envelope is known.
#[derive(Clone)]
struct Context {
    provider: &'static str,
    event: Option<Name>,
    key: Option<Arc<str>>,
}

impl Context {
    /// Logs `rejection` at its level, with the delivery's context, and turns it into an outcome.
    ///
    /// Only the fields known at that point are written: `event` and `key` are `Option`s, which
    /// `tracing` leaves out when `None` (a signature refusal has neither).
    fn refuse<RB>(&self, rejection: Rejection) -> Outcome<RB> {
        self.log(&rejection);
        Outcome::Rejected(rejection)
    }

    /// Logs `rejection` at its level, with the delivery's context.
    fn log(&self, rejection: &Rejection) {
        let (provider, code) = (self.provider, rejection.code());
        let event = self.event.as_deref();
        let key = self.key.as_deref();
        match rejection {
            Rejection::MethodNotAllowed => tracing::debug!(provider, code, "refused: {rejection}"),
            // A client that hung up mid-body: routine on the internet, not worth a WARN each.
            Rejection::BodyRead => tracing::debug!(provider, code, "refused: {rejection}"),
            Rejection::InFlight { .. } => {
                tracing::info!(
                    provider,
                    event,
                    key,
                    code,
                    "same key in flight; asked to retry"
                )
            }
            // Nothing was claimed: the sender is asked to retry later.
            Rejection::StoreUnavailable | Rejection::SecretsUnavailable => {
                tracing::error!(provider, event, key, code, "{rejection}; asked to retry")
            }
            Rejection::HandlerFailed | Rejection::HandlerPanicked | Rejection::HandlerTimeout => {
                tracing::error!(provider, event, key, code, "{rejection}; key released")
            }
            _ => tracing::warn!(provider, event, key, code, "refused: {rejection}"),
        }
    }
}

/// The pipeline of one delivery, as a future: a plain function returning an `async move`
/// block, so that its arguments are held once (an `async fn` holds each argument twice, the
/// value passed and the local it is moved into). Each phase that waits (verification, the
/// claim, the handler) keeps its own state in its own future, so that the states overlap.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` holds each argument twice: the future is kept small"
)]
fn pipeline<P, B, F, Fut, RB, E>(
    provider: Arc<P>,
    config: Arc<Config>,
    parts: Parts,
    body: B,
    next: F,
) -> impl Future<Output = Finished<RB, E>>
where
    P: Provider,
    B: Body,
    B::Error: fmt::Display,
    F: FnOnce(Accepted) -> Fut,
    Fut: Future<Output = Handled<Response<RB>, E>>,
{
    async move {
        let (provider, config) = (&*provider, &*config);
        let mut label: Label = None;
        if parts.method != Method::POST {
            return (Ok(refuse(P::NAME, Rejection::MethodNotAllowed)), label);
        }
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = config.body_limit;
        if declared.is_some_and(|n| n > limit as u64) || body.size_hint().lower() > limit as u64 {
            return (
                Ok(refuse(P::NAME, Rejection::PayloadTooLarge { limit })),
                label,
            );
        }
        let now = (config.clock)();
        // Held until the delivery is answered: the body stays buffered while the handler runs.
        let mut reservation = Reservation::new(&config.buffered);
        // Not boxed on its own: a future of one's own in the allocator's fast bins (and the
        // same for the claimed phase) was measured at two more allocations per delivery and no
        // fewer instructions (BENCHMARKS.md).
        let verification = verify(
            provider,
            config,
            &parts,
            body,
            declared,
            now,
            &mut reservation,
        );
        let (raw, verified) = match verification.await {
            Ok(Verification::Body(raw, verified)) => (raw, verified),
            Ok(Verification::Challenge(answer)) => {
                tracing::debug!("verified challenge answered");
                return (Ok(Outcome::Answered(answer)), label);
            }
            Err(rejection) => return (Ok(refuse(P::NAME, rejection)), label),
        };
        tracing::trace!(tenant = verified.tenant.as_deref(), "signature verified");
        // Checked once: the envelope, the decode and `Delivery::text` read it as text after.
        let Ok(raw) = ByteString::try_from(raw) else {
            let refused = Rejection::Envelope(EnvelopeError::NotUtf8);
            return (Ok(refuse(P::NAME, refused)), label);
        };
        let EnvelopeRead {
            key,
            key_from_body_hash,
            event,
            dedup_key,
            unread,
            checked,
        } = match read_envelope(provider, config, &parts, &raw, &verified) {
            Ok(read) => read,
            Err(refused) => return (Ok(Outcome::Rejected(refused)), label),
        };
        if crate::metrics::ENABLED {
            label = Some(event.label());
        }
        {
            let span = tracing::Span::current();
            span.record("event", &*event);
            span.record("key", &*key);
        }
        let context = Context {
            provider: P::NAME,
            event: Some(event.clone()),
            key: Some(key.clone()),
        };

        // Inbox mode: one atomic insert-if-absent is both the dedup and the durable store.
        if let Some(inbox) = &config.inbox.store {
            let meta = provider.delivery_meta(&parts.headers);
            let mut headers = parts.headers;
            redact(&mut headers, provider.signature_headers());
            let event = crate::inbox::NewEvent {
                dedup: dedup_key.to_hex(),
                provider: P::NAME.into(),
                tenant: verified
                    .tenant
                    .as_ref()
                    .map(|tenant| tenant.as_str().to_owned()),
                key: key.to_string(),
                key_is_body_hash: key_from_body_hash,
                event: event.to_string(),
                received_at: now,
                sender_attempt: meta.attempt,
                delivery_id: meta.delivery_id,
                headers,
                raw: raw.into_bytes(),
            };
            // Boxed: its state (an insert in flight) is paid by the inbox path alone.
            return (
                Ok(
                    match Box::pin(crate::inbox::accept(&**inbox, event)).await {
                        Ok(ack) => Outcome::Ack(ack),
                        Err(rejection) => context.refuse(rejection),
                    },
                ),
                label,
            );
        }

        let lease = match config.store.claim(&dedup_key, config.lease).await {
            Ok(Claim::Acquired(lease)) => lease,
            Ok(Claim::Done) => {
                if !checked && let Err(error) = check_body(&raw, unread, provider.json_body()) {
                    // Answered as the first delivery of this body was (no handler saw it then).
                    return (Ok(context.refuse(Rejection::Envelope(error))), label);
                }
                tracing::debug!("duplicate delivery acknowledged; handler not called");
                return (Ok(Outcome::Ack(Ack::Duplicate)), label);
            }
            Ok(Claim::InFlight { retry_after }) => {
                // The holder finishes or is cut off within the handler timeout, well before its
                // lease ends: ask for a retry then, not at the end of the lease.
                let retry_after = match config.handler_timeout {
                    Some(limit) => retry_after.min(limit),
                    None => retry_after,
                };
                return (
                    Ok(context.refuse(Rejection::InFlight { retry_after })),
                    label,
                );
            }
            Err(error) => {
                tracing::error!(provider = P::NAME, %error, "dedup claim failed");
                crate::metrics::dedup_error(P::NAME, "claim");
                return (Ok(context.refuse(Rejection::StoreUnavailable)), label);
            }
        };
        let guard = LeaseGuard {
            store: config.store.clone(),
            key: dedup_key,
            lease: Some(lease),
            committing: None,
            context: context.clone(),
        };

        let meta = provider.delivery_meta(&parts.headers);
        let delivery = Delivery {
            provider: P::NAME,
            tenant: verified.tenant,
            event,
            key,
            key_from_body_hash,
            received_at: now,
            attempt: meta.attempt,
            delivery_id: meta.delivery_id,
            headers: http::HeaderMap::new(),
            raw,
            unread,
        };
        let accepted = Accepted {
            parts,
            delivery,
            signature_headers: provider.signature_headers(),
        };
        let ttl = config.dedup_ttl.unwrap_or_else(|| provider.dedup_ttl());
        // `next` may do its first work as it is called (the dispatcher decodes the event):
        // its panics are caught there as well as in its future's polls.
        let next = match std::panic::catch_unwind(AssertUnwindSafe(|| next(accepted))) {
            Ok(future) => Either::Left(AssertUnwindSafe(future).catch_unwind()),
            Err(panic) => Either::Right(std::future::ready(Err(panic))),
        };
        let claimed = claimed(next, guard, context, config.handler_timeout, ttl);
        (claimed.await, label)
    }
}

/// The next stage run with the key claimed (timed, panics caught), then the claim committed
/// (a 2xx response, an acknowledgement) or released (anything else).
///
/// Its own future, which owns the claim: the pipeline's future does not keep it, nor the
/// response while the claim is committed.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` holds each argument twice: the future is kept small"
)]
fn claimed<Fut, RB, E>(
    next: Fut,
    mut guard: LeaseGuard,
    context: Context,
    timeout: Option<Duration>,
    ttl: Duration,
) -> impl Future<Output = Result<Outcome<RB>, E>>
where
    Fut: Future<Output = Result<Handled<Response<RB>, E>, PanicPayload>>,
{
    async move {
        let handled = match timeout {
            Some(limit) => match within(limit, next).await {
                Ok(handled) => handled,
                Err(_) => {
                    guard.release().await;
                    return Ok(context.refuse(Rejection::HandlerTimeout));
                }
            },
            None => next.await,
        };
        let (result, commit) = match handled {
            Ok(Handled::Response(response)) => {
                let commit = response.status().is_success();
                (Ok(Outcome::Inner(response)), commit)
            }
            Ok(Handled::Own(Ok(ack))) => (Ok(Outcome::Ack(ack)), true),
            Ok(Handled::Own(Err(rejection))) => (Ok(Outcome::Rejected(rejection)), false),
            Ok(Handled::Error(error)) => (Err(error), false),
            Err(_panic) => (Ok(context.refuse(Rejection::HandlerPanicked)), false),
        };
        if commit {
            guard.commit(ttl).await;
        } else {
            guard.release().await;
        }
        result
    }
}

/// Logs `rejection` with the provider alone (the envelope is not read yet) and turns it into
/// an outcome.
fn refuse<RB>(provider: &'static str, rejection: Rejection) -> Outcome<RB> {
    Outcome::Rejected(refused(provider, rejection))
}

/// Logs `rejection` with the provider alone, and gives it back.
fn refused(provider: &'static str, rejection: Rejection) -> Rejection {
    Context {
        provider,
        event: None,
        key: None,
    }
    .log(&rejection);
    rejection
}

/// What verification established.
enum Verification {
    /// The verified body, and who signed it.
    Body(Bytes, VerifiedBy),
    /// The provider's answer to a verified challenge ([`Provider::challenge`]).
    Challenge(Response<Bytes>),
}

/// Reads the body (bounded, timed) and verifies its signature, with the keys the request (or,
/// for a provider that names the tenant in the body, the body) selects.
///
/// Its own future, awaited by the pipeline's: the signature and the MAC states it holds while
/// the body arrives are gone by the time the handler runs.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` holds each argument twice: the future is kept small"
)]
fn verify<'a, P, B>(
    provider: &'a P,
    config: &'a Config,
    parts: &'a Parts,
    body: B,
    declared: Option<u64>,
    now: SystemTime,
    reservation: &'a mut Reservation<'_>,
) -> impl Future<Output = Result<Verification, Rejection>> + 'a
where
    P: Provider,
    B: Body + 'a,
    B::Error: fmt::Display,
{
    async move {
        let signed = provider
            .request_signature(parts, now)
            .map_err(Rejection::Signature)?;
        let (limit, timeout) = (config.body_limit, config.read_timeout);
        let expected = declared.or(body.size_hint().exact());
        let secrets = provider.secrets();
        let tenant = match secrets.plan(parts, P::TENANT_IN_BODY) {
            Plan::Body => {
                let read = within(timeout, read(body, limit, expected, reservation, None));
                // Boxed: its state (the whole body read, then a keys lookup) is paid by the
                // providers that name the tenant in the body alone.
                return Box::pin(verify_named(provider, parts, signed, read, timeout, now)).await;
            }
            Plan::Tenant(tenant) | Plan::Request(tenant) => Some(tenant),
            Plan::AnyKey => None,
            Plan::NoHint => return Err(Rejection::Signature(SignatureError::TenantRequired)),
        };
        let keys = select_keys(secrets, tenant, timeout).await?;
        // Only the tags are kept while the body arrives; what is signed after the body (derived
        // content, a suffix: a few senders) is boxed until then.
        let (mut verifier, tags, after) = split(&keys, signed);
        // The raw body with nothing after it is fed as it arrives; anything else once whole.
        let streamed = after.is_none();
        let raw = within(
            timeout,
            read(
                body,
                limit,
                expected,
                reservation,
                streamed.then_some(&mut verifier),
            ),
        )
        .await
        .map_err(|_| Rejection::ReadTimeout)??;
        let hash = match after {
            Some(after) => feed_body(&after, &mut verifier, &raw).map_err(Rejection::Signature)?,
            None => None,
        };
        let checked = verified(provider, parts, &raw, &keys, verifier.matched(&tags), now)?;
        Ok(checked.with(raw, hash))
    }
}

/// Verification when the tenant is named in the body: reads it whole, then verifies it with
/// that tenant's keys only (the hint is checked by the verification itself).
///
/// Its own future, which takes the signature whole: the one verification of the common case
/// (keys from the request, the body verified as it arrives) does not keep it.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` holds each argument twice: the future is kept small"
)]
fn verify_named<'a, P, R>(
    provider: &'a P,
    parts: &'a Parts,
    signed: Signed,
    read: R,
    timeout: Duration,
    now: SystemTime,
) -> impl Future<Output = Result<Verification, Rejection>> + 'a
where
    P: Provider,
    R: Future<Output = Result<Result<Bytes, Rejection>, crate::future::Elapsed>> + 'a,
{
    async move {
        let raw = read.await.map_err(|_| Rejection::ReadTimeout)??;
        let (checked, hash) = {
            let Some(hint) = provider.tenant_hint(&raw) else {
                return Err(Rejection::Signature(SignatureError::TenantRequired));
            };
            let keys = select_keys(provider.secrets(), Some(&hint), timeout).await?;
            let mut verifier = keys.verifier(&signed.prefix, &signed.tags);
            let hash = feed_body(&signed, &mut verifier, &raw).map_err(Rejection::Signature)?;
            let matched = verifier.matched(&signed.tags);
            (verified(provider, parts, &raw, &keys, matched, now)?, hash)
        };
        Ok(checked.with(raw, hash))
    }
}

/// Starts the verifier, and splits what else is signed into what is needed while the body
/// arrives (the offered tags) and what only after it (boxed: only the few senders that sign
/// derived content or a suffix have it). Takes `signed` whole, so that the verification's
/// future does not keep it while the body arrives.
fn split<'k>(
    keys: &'k Selected<'_>,
    signed: Signed,
) -> (Verifier<'k>, crate::keyring::Tags, Option<Box<Signed>>) {
    let Signed {
        prefix,
        tags,
        suffix,
        body,
    } = signed;
    let verifier = keys.verifier(&prefix, &tags);
    let after = if matches!(body, SignedBody::Raw) && suffix.is_empty() {
        None
    } else {
        Some(Box::new(Signed {
            suffix,
            body,
            ..Signed::default()
        }))
    };
    (verifier, tags, after)
}

/// The end of verification: refused when no key matched, else the provider's challenge
/// answer or who signed the body.
fn verified<P: Provider>(
    provider: &P,
    parts: &Parts,
    raw: &Bytes,
    keys: &Selected<'_>,
    matched: Option<Match<'_>>,
    now: SystemTime,
) -> Result<Checked, Rejection> {
    let Some(matched) = matched else {
        return Err(Rejection::Signature(SignatureError::Mismatch));
    };
    if let Some(answer) = challenge(provider, parts, raw, keys, &matched, now) {
        return Ok(Checked::Challenge(answer));
    }
    Ok(Checked::Signed(VerifiedBy::from(matched)))
}

/// A verified signature, before the body is handed on (the keys borrow it until then).
enum Checked {
    Signed(VerifiedBy),
    Challenge(Response<Bytes>),
}

impl Checked {
    fn with(self, raw: Bytes, signed_hash: Option<[u8; 32]>) -> Verification {
        match self {
            Self::Signed(verified) => Verification::Body(
                raw,
                VerifiedBy {
                    signed_hash,
                    ..verified
                },
            ),
            Self::Challenge(answer) => Verification::Challenge(answer),
        }
    }
}

/// What the envelope gave: the event and its keys.
struct EnvelopeRead {
    key: Arc<str>,
    key_from_body_hash: bool,
    event: Name,
    dedup_key: DedupKey,
    /// What the envelope read left of the top level, when nothing checked it yet.
    unread: Option<Unread>,
    /// The whole body is known to be as the envelope read it.
    checked: bool,
}

/// Reads the envelope of a verified body: its event name and key, checked against the
/// verifying tenant, and the dedup key made of them.
///
/// A refusal is logged here, with what is known of the delivery by then.
fn read_envelope<P: Provider>(
    provider: &P,
    config: &Config,
    parts: &Parts,
    raw: &ByteString,
    verified: &VerifiedBy,
) -> Result<EnvelopeRead, Rejection> {
    let text: &str = raw;
    let (envelope, unread) = match provider.envelope_head(&parts.headers, text) {
        Ok(read) => read,
        Err(error) => {
            // The envelope read the top level only: a field it found missing, empty or
            // repeated is the problem only if the body is JSON at all.
            let error = match error {
                EnvelopeError::MissingDiscriminator(_) | EnvelopeError::EmptyDiscriminator(_)
                    if provider.json_body() && !is_json(raw.as_bytes()) =>
                {
                    EnvelopeError::NotJson
                }
                error => error,
            };
            return Err(refused(P::NAME, Rejection::Envelope(error)));
        }
    };
    // The whole body's check, unless the dispatcher's typed decode makes it (an inbox stores
    // the body for later: checked now).
    // A provider whose bodies need not be JSON: nothing to check.
    let checked = !provider.json_body()
        || config.json_check == JsonCheck::Pipeline
        || config.inbox.store.is_some();
    // The rest of the top level an early-stopping envelope read left: read now when nothing
    // later would (the dispatcher reads it, or the handler's typed decode does).
    let unread = if checked {
        if let Err(error) = check_body(text, unread, provider.json_body()) {
            return Err(refused(P::NAME, Rejection::Envelope(error)));
        }
        None
    } else {
        unread
    };
    if let Some(tenant) = &verified.tenant
        && let Some(named) = provider.envelope_tenant(&envelope)
        && named != tenant.as_str()
    {
        tracing::warn!(
            provider = P::NAME,
            tenant = tenant.as_str(),
            named,
            "refused: verified by one tenant's secret, the body names another"
        );
        return Err(Rejection::Signature(SignatureError::TenantMismatch));
    }
    let (key, key_from_body_hash): (Arc<str>, bool) = match envelope.key {
        Some(key) => (key.into(), false),
        None => (
            const_hex::encode(
                verified
                    .signed_hash
                    .unwrap_or_else(|| Sha256::digest(raw.as_bytes()).into()),
            )
            .into(),
            true,
        ),
    };
    let event = Name::of::<P::Event>(&envelope.name);
    let dedup_key = DedupKey::from_parts(
        P::NAME,
        &KeyParts {
            tenant: verified.tenant.as_deref(),
            namespace: match &config.namespace {
                Some(namespace) => Namespace::Configured(namespace),
                None => Namespace::Fingerprint(&verified.namespace),
            },
            scope: envelope.scope.as_deref(),
            origin: if key_from_body_hash {
                KeyOrigin::BodyHash
            } else {
                KeyOrigin::Sender
            },
            key: &key,
        },
    );
    Ok(EnvelopeRead {
        key,
        key_from_body_hash,
        event,
        dedup_key,
        unread,
        checked,
    })
}

/// Feeds what the sender signed from the body on: the raw body or the content derived from it
/// ([`SignedBody`]), then the suffix. Answers the SHA-256 of derived content, in the same pass
/// ([`VerifiedBy::signed_hash`]): `None` for a raw body, and for a derivation that signs
/// nothing of the body itself (it checks the raw bytes against something signed elsewhere,
/// such as Twilio's JSON bodies, whose SHA-256 is a parameter of the signed URL, so they cannot
/// change).
fn feed_body(
    signed: &Signed,
    verifier: &mut Verifier<'_>,
    raw: &[u8],
) -> Result<Option<[u8; 32]>, SignatureError> {
    let hash = match &signed.body {
        SignedBody::Raw => {
            verifier.update(raw);
            None
        }
        SignedBody::Derived(derive) => {
            let (mut hasher, mut fed) = (Sha256::new(), false);
            derive(raw, &mut |piece| {
                verifier.update(piece);
                hasher.update(piece);
                fed = true;
            })?;
            fed.then(|| hasher.finalize().into())
        }
    };
    if !signed.suffix.is_empty() {
        verifier.update(&signed.suffix);
    }
    Ok(hash)
}

/// The provider's answer to a verified challenge, if it is one; its signer uses the key that
/// verified the delivery.
fn challenge<P: Provider>(
    provider: &P,
    parts: &Parts,
    raw: &Bytes,
    keys: &Selected<'_>,
    matched: &Match<'_>,
    now: SystemTime,
) -> Option<Response<Bytes>> {
    let signer = |pieces: &[&[u8]]| keys.sign_at(matched.position(), pieces);
    provider.challenge(&Challenge {
        parts,
        body: raw,
        tenant: matched.tenant(),
        now,
        signer: &signer,
    })
}

/// Reads the body up to `limit` bytes, feeding the verifier (if any) as chunks arrive and taking the
/// bytes it holds from `reservation` (503 when the service's budget has no room).
///
/// A body that arrives in one chunk is kept as it came, without a copy. Otherwise the chunks
/// are copied into one buffer, sized from `expected` (`Content-Length`) when it is known and
/// grown by doubling up to `limit` when not, and each chunk is dropped once copied: a
/// delivery holds its buffer, and for a moment the first chunk, never a second copy.
fn read<'a, B>(
    body: B,
    limit: usize,
    expected: Option<u64>,
    reservation: &'a mut Reservation<'_>,
    mut verifier: Option<&'a mut Verifier<'_>>,
) -> impl Future<Output = Result<Bytes, Rejection>> + 'a
where
    B: Body + 'a,
    B::Error: fmt::Display,
{
    enum Buffer {
        Empty,
        One(Bytes),
        Many(Vec<u8>),
    }
    // Takes room for `preferred` bytes in all, or at least `needed`.
    fn grow(reservation: &mut Reservation<'_>, needed: usize, preferred: usize) -> Option<usize> {
        if preferred > needed && reservation.resize(preferred) {
            Some(preferred)
        } else if reservation.resize(needed) {
            Some(needed)
        } else {
            None
        }
    }

    // A plain function returning the future: an `async fn` would hold its arguments twice.
    async move {
        let mut body = std::pin::pin!(body);
        let mut buffer = Buffer::Empty;
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                tracing::debug!(%error, "body stream failed");
                Rejection::BodyRead
            })?;
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            let len = data.remaining();
            total = total.saturating_add(len);
            if total > limit {
                return Err(Rejection::PayloadTooLarge { limit });
            }
            buffer = match buffer {
                Buffer::Empty => {
                    if !reservation.resize(len) {
                        return Err(Rejection::Overloaded);
                    }
                    let chunk = data.copy_to_bytes(len);
                    if let Some(verifier) = verifier.as_mut() {
                        verifier.update(&chunk);
                    }
                    Buffer::One(chunk)
                }
                Buffer::One(head) => {
                    let preferred = match expected {
                        Some(n) if n >= total as u64 => n as usize,
                        _ => total.saturating_mul(2),
                    };
                    let capacity = grow(reservation, total, preferred.min(limit))
                        .ok_or(Rejection::Overloaded)?;
                    let mut buf = Vec::with_capacity(capacity);
                    buf.extend_from_slice(&head);
                    drop(head);
                    copy_into(&mut buf, data, verifier.as_deref_mut());
                    Buffer::Many(buf)
                }
                Buffer::Many(mut buf) => {
                    if total > buf.capacity() {
                        let preferred = buf.capacity().saturating_mul(2).min(limit);
                        let capacity =
                            grow(reservation, total, preferred).ok_or(Rejection::Overloaded)?;
                        buf.reserve_exact(capacity - buf.len());
                    }
                    copy_into(&mut buf, data, verifier.as_deref_mut());
                    Buffer::Many(buf)
                }
            };
        }
        Ok(match buffer {
            Buffer::Empty => Bytes::new(),
            Buffer::One(chunk) => chunk,
            // No copy: the `Bytes` takes the vector's allocation over.
            Buffer::Many(buf) => Bytes::from(buf),
        })
    }
}

/// Appends `data` to `buf` and feeds it to the verifier, without an intermediate copy.
fn copy_into(
    buf: &mut Vec<u8>,
    mut data: impl bytes::Buf,
    mut verifier: Option<&mut Verifier<'_>>,
) {
    while data.has_remaining() {
        let chunk = data.chunk();
        if let Some(verifier) = verifier.as_mut() {
            verifier.update(chunk);
        }
        buf.extend_from_slice(chunk);
        let n = chunk.len();
        data.advance(n);
    }
}

/// What verification established: the tenant (owned: it goes into the delivery) and the
/// default dedup namespace.
struct VerifiedBy {
    tenant: Option<Tenant>,
    namespace: [u8; 16],
    /// When the sender signs content derived from the body (form parameters, not the raw
    /// bytes): the SHA-256 of that content, the body's identity for a dedup key taken from
    /// it. The raw bytes would not do: other bytes (the parameters reordered, re-encoded)
    /// carry the same signature, and each would be handled anew.
    signed_hash: Option<[u8; 32]>,
}

impl From<Match<'_>> for VerifiedBy {
    #[inline]
    fn from(matched: Match<'_>) -> Self {
        Self {
            tenant: matched.tenant().cloned(),
            namespace: *matched.namespace(),
            signed_hash: None,
        }
    }
}

/// The keys to verify with ([`Secrets::keys`](crate::secrets::Secrets)), within `timeout`: a
/// secret source that does not answer in time is 503 (the sender retries), as a failed one is;
/// a source that hangs must not hold deliveries, and their buffered bodies, without bound.
///
/// A plain function returning the lookup's own future, mapped: an `async fn` would hold its
/// arguments and that future both, in the verification's state while the body arrives.
fn select_keys<'a>(
    secrets: &'a crate::secrets::Secrets,
    tenant: Option<&'a str>,
    timeout: Duration,
) -> impl Future<Output = Result<Selected<'a>, Rejection>> + 'a {
    within(timeout, secrets.keys(tenant)).map(move |keys| match keys {
        Ok(keys) => keys.map_err(refusal_to_rejection),
        Err(_) => {
            tracing::error!(?timeout, "secret source did not answer in time");
            Err(Rejection::SecretsUnavailable)
        }
    })
}

/// The answer to keys that could not be chosen: 401 for a missing or unknown tenant (logged
/// here, as the context says little), 503 for a failed source.
fn refusal_to_rejection(refusal: Refusal) -> Rejection {
    match refusal {
        Refusal::NoHint => {
            tracing::debug!("no tenant named; the keys are per tenant");
            Rejection::Signature(SignatureError::TenantRequired)
        }
        Refusal::UnknownTenant => Rejection::Signature(SignatureError::UnknownTenant),
        Refusal::Source(error) => {
            tracing::error!(%error, "secret source failed");
            Rejection::SecretsUnavailable
        }
    }
}

/// Holds a claim until it is committed or released; a delivery dropped mid-way (the client
/// went away, the server shut down) releases its claim in the background.
///
/// A commit or release that fails (the store is unreachable or slow) is retried in the
/// background until it lands, with exponential backoff (100 ms doubling to 5 s, at most
/// [`RETRY_ATTEMPTS`] attempts: about two minutes), each failure logged at WARN and giving up at
/// ERROR. So a delivery answered 200 after its handler succeeded is remembered as handled once
/// the store is back, rather than left in flight until its lease ends and then handled again.
/// A commit that finds the key no longer held (the lease ran out, or the store lost the key,
/// e.g. a Redis restarted without persistence) claims the key again and commits it, unless
/// another delivery holds it (that one commits or releases it) or it is already handled. At most
/// [`MAX_RETRIES`] keys are retried at once in the process, so memory stays bounded; past it, a
/// failure is given up at once (ERROR), and the key frees itself when its lease ends.
///
/// Dropped while its commit or release is in flight (the sender hung up, a timeout layer or a
/// shutdown dropped the delivery), it keeps its claim until the store answered, so that the
/// operation is finished in the background: a commit is committed, a release released.
struct LeaseGuard {
    store: Arc<dyn DedupStore>,
    key: DedupKey,
    /// The claim, until the store answered its commit or release.
    lease: Option<Lease>,
    /// A commit in flight (its TTL): finished by a drop.
    committing: Option<Duration>,
    context: Context,
}

/// Attempts of a background retry, the first one included.
#[cfg(not(test))]
const RETRY_ATTEMPTS: u32 = 30;
#[cfg(test)]
const RETRY_ATTEMPTS: u32 = 4;
/// The wait before the first background retry, doubled after every failure up to
/// [`RETRY_MAX_WAIT`].
const RETRY_FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between two background retries.
const RETRY_MAX_WAIT: Duration = Duration::from_secs(5);
/// How long a claim taken again by a background commit lasts (it is committed at once).
const RECLAIM_LEASE: Duration = Duration::from_secs(10);
/// Keys retried in the background at once, across the process.
const MAX_RETRIES: usize = 1024;
static RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One of the [`MAX_RETRIES`] places for a background retry, given back on drop.
struct RetrySlot(&'static std::sync::atomic::AtomicUsize);

impl RetrySlot {
    fn take(counter: &'static std::sync::atomic::AtomicUsize, max: usize) -> Option<Self> {
        use std::sync::atomic::Ordering;
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter))
    }
}

impl Drop for RetrySlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// What a background retry still has to do.
#[derive(Clone, Copy)]
enum Pending {
    /// Commit with this TTL.
    Commit(Duration),
    /// The commit found the key no longer held: claim it again, then commit with this TTL.
    Reclaim(Duration),
    /// Release.
    Release,
}

impl Pending {
    fn name(self) -> &'static str {
        match self {
            Self::Commit(_) => "commit",
            Self::Reclaim(_) => "claim (to commit)",
            Self::Release => "release",
        }
    }
}

/// A commit or release left to finish in the background.
struct Retry {
    store: Arc<dyn DedupStore>,
    key: DedupKey,
    lease: Lease,
    context: Context,
}

impl Retry {
    /// Starts retrying `pending` in the background, if there is a place and a runtime, waiting
    /// first if `wait_first` (the caller just failed).
    fn spawn(self, pending: Pending, wait_first: bool) {
        let Some(slot) = RetrySlot::take(&RETRIES, MAX_RETRIES) else {
            self.give_up(pending, "too many dedup operations retried at once");
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _slot = slot;
                    self.run(pending, wait_first).await;
                });
            }
            Err(_) => self.give_up(pending, "no tokio runtime to retry on"),
        }
    }

    /// Tries `pending` until it lands or [`RETRY_ATTEMPTS`] attempts failed, waiting first if
    /// `wait_first` (the caller just failed).
    async fn run(mut self, mut pending: Pending, wait_first: bool) {
        let mut wait = RETRY_FIRST_WAIT;
        let mut must_wait = wait_first && !matches!(pending, Pending::Reclaim(_));
        let mut last_error = None;
        for attempt in 1..=RETRY_ATTEMPTS {
            if must_wait {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX_WAIT);
            }
            let (provider, key) = (self.context.provider, self.context.key.as_deref());
            let error = match pending {
                Pending::Commit(ttl) => match self.store.commit(&self.key, self.lease, ttl).await {
                    Ok(true) => {
                        tracing::info!(provider, key, attempt, "dedup commit landed on retry");
                        return;
                    }
                    Ok(false) => {
                        // No longer held: take the key again (no wait) and commit it.
                        pending = Pending::Reclaim(ttl);
                        must_wait = false;
                        continue;
                    }
                    Err(error) => error,
                },
                Pending::Reclaim(ttl) => match self.store.claim(&self.key, RECLAIM_LEASE).await {
                    Ok(Claim::Acquired(lease)) => {
                        self.lease = lease;
                        pending = Pending::Commit(ttl);
                        must_wait = false;
                        continue;
                    }
                    Ok(Claim::Done) => {
                        tracing::debug!(provider, key, "key already handled");
                        return;
                    }
                    Ok(Claim::InFlight { .. }) => {
                        tracing::warn!(
                            provider,
                            key,
                            "lease ended before commit and another delivery of the key is being \
                             handled: the handler ran twice"
                        );
                        return;
                    }
                    Err(error) => error,
                },
                Pending::Release => match self.store.release(&self.key, self.lease).await {
                    Ok(_) => return,
                    Err(error) => error,
                },
            };
            if attempt == RETRY_ATTEMPTS {
                last_error = Some(error.to_string());
                break;
            }
            tracing::warn!(
                provider,
                key,
                attempt,
                %error,
                "dedup {} failed; retrying in {wait:?}",
                pending.name()
            );
            must_wait = true;
        }
        self.give_up(pending, last_error.as_deref().unwrap_or("no attempt left"));
    }

    fn give_up(&self, pending: Pending, why: &str) {
        let (provider, key) = (self.context.provider, self.context.key.as_deref());
        match pending {
            Pending::Commit(_) | Pending::Reclaim(_) => tracing::error!(
                provider,
                key,
                why,
                "gave up on a dedup commit: a retry of this delivery may run its handler again"
            ),
            Pending::Release => tracing::error!(
                provider,
                key,
                why,
                "gave up on a dedup release: the key frees itself when its lease ends"
            ),
        }
    }
}

impl LeaseGuard {
    fn retry(&self, lease: Lease) -> Retry {
        Retry {
            store: self.store.clone(),
            key: self.key,
            lease,
            context: self.context.clone(),
        }
    }

    async fn commit(&mut self, ttl: Duration) {
        if let Some(lease) = self.lease {
            // Kept until the store answers: a drop meanwhile finishes the commit.
            self.committing = Some(ttl);
            let result = self.store.commit(&self.key, lease, ttl).await;
            (self.lease, self.committing) = (None, None);
            let (provider, key) = (self.context.provider, self.context.key.as_deref());
            match result {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        provider,
                        key,
                        "lease ended before commit; claiming the key again to commit it"
                    );
                    self.retry(lease).spawn(Pending::Reclaim(ttl), true);
                }
                Err(error) => {
                    crate::metrics::dedup_error(provider, "commit");
                    tracing::warn!(
                        provider,
                        key,
                        %error,
                        "dedup commit failed; retrying in the background"
                    );
                    self.retry(lease).spawn(Pending::Commit(ttl), true);
                }
            }
        }
    }

    async fn release(&mut self) {
        let Some(lease) = self.lease else {
            return;
        };
        // Kept until the store answers: a drop meanwhile releases in the background.
        let result = self.store.release(&self.key, lease).await;
        self.lease = None;
        if let Err(error) = result {
            crate::metrics::dedup_error(self.context.provider, "release");
            tracing::warn!(
                provider = self.context.provider,
                key = self.context.key.as_deref(),
                %error,
                "dedup release failed; retrying in the background"
            );
            self.retry(lease).spawn(Pending::Release, true);
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        if let Some(ttl) = self.committing.take() {
            // Dropped mid-commit, after the handler succeeded: the commit must still land (at
            // once: nothing failed yet).
            self.retry(lease).spawn(Pending::Commit(ttl), false);
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // One task per dropped delivery, as the delivery had; it takes a retry place only
            // if the first release fails.
            let retry = self.retry(lease);
            runtime.spawn(async move {
                if let Err(error) = retry.store.release(&retry.key, retry.lease).await {
                    tracing::warn!(
                        provider = retry.context.provider,
                        key = retry.context.key.as_deref(),
                        %error,
                        "dedup release failed; retrying"
                    );
                    match RetrySlot::take(&RETRIES, MAX_RETRIES) {
                        Some(_slot) => retry.run(Pending::Release, true).await,
                        None => retry.give_up(
                            Pending::Release,
                            "too many dedup operations retried at once",
                        ),
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod lease_guard_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::dedup::{DedupError, StoreFuture};

    const LEASE: Duration = Duration::from_secs(60);
    const TTL: Duration = Duration::from_secs(3600);

    /// A memory store whose next `fail` commits and releases fail, and whose commits and
    /// releases take `slow_ms` before they reach the store.
    #[derive(Default)]
    struct Flaky {
        inner: MemoryStore,
        fail: AtomicUsize,
        calls: AtomicUsize,
        slow_ms: AtomicUsize,
    }

    impl Flaky {
        fn failing(fail: usize) -> Arc<Self> {
            let store = Self::default();
            store.fail.store(fail, Ordering::SeqCst);
            Arc::new(store)
        }

        fn fails(&self) -> bool {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }

        fn claim_now(&self, key: &DedupKey, lease: Duration) -> Claim {
            self.inner.claim_now(key, lease).unwrap()
        }
    }

    impl DedupStore for Flaky {
        fn claim<'a>(
            &'a self,
            key: &'a DedupKey,
            lease: Duration,
        ) -> StoreFuture<'a, Result<Claim, DedupError>> {
            self.inner.claim(key, lease)
        }

        fn commit<'a>(
            &'a self,
            key: &'a DedupKey,
            lease: Lease,
            ttl: Duration,
        ) -> StoreFuture<'a, Result<bool, DedupError>> {
            if self.fails() {
                return StoreFuture::ready(Err(DedupError::new("unreachable")));
            }
            let slow = Duration::from_millis(self.slow_ms.load(Ordering::SeqCst) as u64);
            StoreFuture::boxed(async move {
                tokio::time::sleep(slow).await;
                self.inner.commit(key, lease, ttl).await
            })
        }

        fn release<'a>(
            &'a self,
            key: &'a DedupKey,
            lease: Lease,
        ) -> StoreFuture<'a, Result<bool, DedupError>> {
            if self.fails() {
                return StoreFuture::ready(Err(DedupError::new("unreachable")));
            }
            let slow = Duration::from_millis(self.slow_ms.load(Ordering::SeqCst) as u64);
            StoreFuture::boxed(async move {
                tokio::time::sleep(slow).await;
                self.inner.release(key, lease).await
            })
        }
    }

    fn guard(store: &Arc<Flaky>, key: DedupKey, lease: Duration) -> LeaseGuard {
        let Claim::Acquired(lease) = store.claim_now(&key, lease) else {
            panic!("a new key is acquired");
        };
        LeaseGuard {
            store: store.clone(),
            key,
            lease: Some(lease),
            committing: None,
            context: Context {
                provider: "test",
                event: None,
                key: Some("k".into()),
            },
        }
    }

    /// Waits (up to 5 s) until `done` holds.
    async fn eventually(done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_failed_commit_is_retried_until_it_lands() {
        let store = Flaky::failing(2);
        let key = DedupKey::new("test", None, "commit");
        guard(&store, key, LEASE).commit(TTL).await;
        assert!(matches!(
            store.claim_now(&key, LEASE),
            Claim::InFlight { .. }
        ));
        eventually(|| store.claim_now(&key, LEASE) == Claim::Done).await;
        assert_eq!(store.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_guard_dropped_mid_commit_still_commits() {
        let store = Flaky::failing(0);
        store.slow_ms.store(300, Ordering::SeqCst);
        let key = DedupKey::new("test", None, "dropped mid-commit");
        let mut guard = guard(&store, key, LEASE);
        // The delivery is dropped (the sender hung up) while its commit is in flight.
        let cut = tokio::time::timeout(Duration::from_millis(50), guard.commit(TTL)).await;
        assert!(cut.is_err());
        drop(guard);
        eventually(|| store.claim_now(&key, LEASE) == Claim::Done).await;
    }

    #[tokio::test]
    async fn a_guard_dropped_mid_release_still_releases() {
        let store = Flaky::failing(0);
        store.slow_ms.store(300, Ordering::SeqCst);
        let key = DedupKey::new("test", None, "dropped mid-release");
        let mut guard = guard(&store, key, LEASE);
        let cut = tokio::time::timeout(Duration::from_millis(50), guard.release()).await;
        assert!(cut.is_err());
        drop(guard);
        eventually(|| matches!(store.claim_now(&key, LEASE), Claim::Acquired(_))).await;
    }

    #[tokio::test]
    async fn a_failed_release_is_retried_until_it_lands() {
        let store = Flaky::failing(1);
        let key = DedupKey::new("test", None, "release");
        guard(&store, key, LEASE).release().await;
        eventually(|| matches!(store.claim_now(&key, LEASE), Claim::Acquired(_))).await;
        assert_eq!(store.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_dropped_guard_releases_and_retries() {
        let store = Flaky::failing(1);
        let key = DedupKey::new("test", None, "dropped");
        drop(guard(&store, key, LEASE));
        eventually(|| matches!(store.claim_now(&key, LEASE), Claim::Acquired(_))).await;
        assert_eq!(store.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_commit_that_keeps_failing_is_given_up() {
        let store = Flaky::failing(usize::MAX);
        let key = DedupKey::new("test", None, "hopeless");
        guard(&store, key, LEASE).commit(TTL).await;
        let attempts = 1 + RETRY_ATTEMPTS as usize;
        eventually(|| store.calls.load(Ordering::SeqCst) == attempts).await;
        tokio::time::sleep(RETRY_FIRST_WAIT * 16).await;
        assert_eq!(store.calls.load(Ordering::SeqCst), attempts, "no more");
    }

    #[tokio::test]
    async fn a_commit_after_the_lease_ended_claims_the_key_again() {
        let store = Flaky::failing(0);
        let key = DedupKey::new("test", None, "late");
        let mut late = guard(&store, key, Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(40)).await;
        // Meanwhile another delivery of the key ran, failed and released it: the late
        // holder's handler succeeded, so the key is handled.
        let Claim::Acquired(other) = store.claim_now(&key, LEASE) else {
            panic!("the lease ended");
        };
        assert!(store.inner.release_now(&key, other));
        late.commit(TTL).await;
        // (A claim would take the free key: look only once the background task ran.)
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(store.claim_now(&key, LEASE), Claim::Done);
    }

    #[tokio::test]
    async fn a_late_commit_leaves_another_holders_claim_alone() {
        let store = Flaky::failing(0);
        let key = DedupKey::new("test", None, "taken");
        let mut late = guard(&store, key, Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let Claim::Acquired(other) = store.claim_now(&key, LEASE) else {
            panic!("the lease ended");
        };
        late.commit(TTL).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(matches!(
            store.claim_now(&key, LEASE),
            Claim::InFlight { .. }
        ));
        assert!(
            store.inner.commit_now(&key, other, TTL),
            "the holder commits"
        );
    }

    #[test]
    fn retry_places_are_bounded() {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let first = RetrySlot::take(&COUNTER, 2).unwrap();
        let second = RetrySlot::take(&COUNTER, 2).unwrap();
        assert!(RetrySlot::take(&COUNTER, 2).is_none());
        drop(first);
        let third = RetrySlot::take(&COUNTER, 2).unwrap();
        drop((second, third));
        assert_eq!(COUNTER.load(Ordering::SeqCst), 0);
    }
}
