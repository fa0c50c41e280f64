//! [`Webhooks`] and the [`Dispatcher`] it builds: typed handlers per event name.

use std::{
    collections::{HashMap, hash_map::Entry},
    convert::Infallible,
    fmt,
    future::Future,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower_service::Service;

#[cfg(feature = "forward")]
use crate::inbox::{Forward, Forwarding};
use crate::{
    body::ResponseBody,
    delivery::{Delivery, Name},
    event::{Event, EventOf, UnknownEvent, UnknownReason},
    future::{BoxError, BoxFuture, ResponseFuture},
    pipeline::{self, Config, Handled, JsonCheck, config_methods},
    provider::{EnvelopeError, Provider, check_body},
    rejection::{Ack, Rejection},
};

/// What a handler's future may return: `()`, or `Result<(), E>` for any error convertible into
/// a [`BoxError`] (including `anyhow::Error`, `std::io::Error`, `String`).
#[diagnostic::on_unimplemented(
    message = "a webhook handler's future cannot return `{Self}`",
    label = "the handler's future returns `{Self}`",
    note = "a handler's future returns `()` (200) or `Result<(), E>` with `E: Into<BoxError>` such as `std::io::Error`, `anyhow::Error` or `String` (`Err` is 500 and the sender retries)"
)]
pub trait HandlerOutput: Send + 'static {
    /// `Err` answers 500 and releases the key.
    fn into_result(self) -> Result<(), BoxError>;
}

impl HandlerOutput for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError> + Send + 'static> HandlerOutput for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// The markers that tell the [`Handler`] shapes apart (its `M` parameter).
///
/// You never name them: the compiler picks the one that fits your closure's arguments. They
/// are distinct types (not tuples of the argument types) so that `(event, Delivery)` and
/// `(event, state)` never overlap, whatever the state type.
pub mod handler_shape {
    /// `|event| async { .. }`.
    #[derive(Debug)]
    pub enum Event {}
    /// `|event, delivery: Delivery| async { .. }`.
    #[derive(Debug)]
    pub enum EventDelivery {}
    /// `|event, state| async { .. }`.
    #[derive(Debug)]
    pub enum EventState {}
    /// `|event, delivery: Delivery, state| async { .. }`.
    #[derive(Debug)]
    pub enum EventDeliveryState {}
}

/// An async function that handles events of type `T`, with app state `S`.
///
/// Implemented for closures and `async fn`s of four shapes, whose future returns a
/// [`HandlerOutput`] (`()` or `Result<(), E>`) and is `Send + 'static`:
///
/// | arguments | example |
/// | --- | --- |
/// | `(event)` | `\|e: zernio::PostPublished\| async move { .. }` |
/// | `(event, Delivery)` | `\|e: zernio::PostPublished, d: Delivery\| async move { .. }` |
/// | `(event, state)` | `\|e: zernio::PostPublished, app: App\| async move { .. }` |
/// | `(event, Delivery, state)` | `\|e: zernio::PostPublished, d: Delivery, app: App\| async move { .. }` |
///
/// `M` is a [marker](handler_shape) that tells those shapes apart; the compiler infers it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a webhook handler (with state `{S}`)",
    label = "not a webhook handler",
    note = "a handler is an async closure or `async fn` taking `(event)`, `(event, Delivery)`, `(event, state)` or `(event, Delivery, state)`, where the state is `{S}`",
    note = "its future must be `Send + 'static` and return `()` or `Result<(), E>` with `E: Into<hookgate::BoxError>`",
    note = "a closure must return a future (`|e: zernio::PostPublished| async move {{ .. }}`, not `|e| {{ .. }}`), and its event's type must be written out"
)]
pub trait Handler<T, S, M>: Send + Sync + 'static {
    /// Runs the handler.
    fn call(
        &self,
        event: T,
        delivery: Delivery,
        state: S,
    ) -> BoxFuture<'static, Result<(), BoxError>>;
}

impl<F, Fut, T, S> Handler<T, S, handler_shape::Event> for F
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    fn call(&self, event: T, _: Delivery, _: S) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(self(event).map(HandlerOutput::into_result))
    }
}

impl<F, Fut, T, S> Handler<T, S, handler_shape::EventDelivery> for F
where
    F: Fn(T, Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    fn call(&self, event: T, delivery: Delivery, _: S) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(self(event, delivery).map(HandlerOutput::into_result))
    }
}

impl<F, Fut, T, S> Handler<T, S, handler_shape::EventState> for F
where
    F: Fn(T, S) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    fn call(&self, event: T, _: Delivery, state: S) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(self(event, state).map(HandlerOutput::into_result))
    }
}

impl<F, Fut, T, S> Handler<T, S, handler_shape::EventDeliveryState> for F
where
    F: Fn(T, Delivery, S) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    fn call(
        &self,
        event: T,
        delivery: Delivery,
        state: S,
    ) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(self(event, delivery, state).map(HandlerOutput::into_result))
    }
}

/// Whether the provider's bodies must be JSON ([`Provider::json_body`]).
type JsonBody = bool;

/// A decode failure, handed back with what the fallback needs.
type Drift<S> = Box<(crate::event::DecodeError, Delivery, S)>;
type Typed<S> = Arc<
    dyn Fn(Delivery, S, JsonBody) -> Result<BoxFuture<'static, Result<(), BoxError>>, Drift<S>>
        + Send
        + Sync,
>;
type Fallback<S> = Arc<
    dyn Fn(UnknownEvent, Delivery, S) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync,
>;

/// Registering handlers went wrong; reported by [`Webhooks::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two handlers were registered for one event name.
    #[error("two handlers registered for event `{0}`")]
    DuplicateHandler(&'static str),
    /// `on` was given a type that names no event (an open envelope type): use `on_any`.
    #[error("`{0}` names no event: register it with `on_any`")]
    NoEventNames(&'static str),
    /// `on_any` was called twice.
    #[error("two catch-all handlers registered")]
    DuplicateCatchAll,
    /// No handler, no catch-all and no fallback: the dispatcher would acknowledge every
    /// delivery as `ignored` and run nothing (register one with `on`, `on_any` or `fallback`).
    #[error(
        "no handler registered: every delivery would be acknowledged and dropped (register one with `on`, `on_any` or `fallback`)"
    )]
    NoHandlers,
    /// The claim's lease is not longer than the handler timeout: a handler still running
    /// when its claim ran out would see a redelivery of the same event claimed and handled
    /// at the same time (set `lease` above `handler_timeout`).
    #[error(
        "the lease ({lease:?}) must be longer than the handler timeout ({handler_timeout:?}): a handler still running after its claim ran out would see the same event handled again at the same time"
    )]
    LeaseNotAboveHandlerTimeout {
        /// The configured lease.
        lease: std::time::Duration,
        /// The configured handler timeout.
        handler_timeout: std::time::Duration,
    },
}

/// [`Webhooks`]: register an async closure per typed event, then mount the built
/// [`Dispatcher`] as a service on a route.
///
/// Each delivery goes through the whole pipeline (read, verify, claim), then to the handler
/// registered for its event name, which decodes its own typed event straight from the raw
/// body. A handler takes the event, optionally the [`Delivery`], and optionally the app state
/// (see [`Handler`] for the four shapes):
///
/// ```
/// # #[cfg(feature = "zernio")] {
/// use hookgate::{Delivery, Webhooks, event::UnknownEvent, zernio::{self, Zernio}};
///
/// #[derive(Clone)]
/// struct App { name: &'static str }
///
/// # fn build() -> Result<(), Box<dyn std::error::Error>> {
/// let webhooks = Webhooks::with_state(Zernio::new(["secret"])?, App { name: "demo" })
///     .on(|test: zernio::WebhookTest| async move {
///         println!("test fire {}", test.id);
///     })
///     .on(|event: zernio::WebhookTest, delivery: Delivery, app: App| async move {
///         // A second handler for the same event type is refused by `build`.
///         Ok::<_, std::io::Error>(())
///     })
///     .fallback(|event: UnknownEvent, delivery: Delivery| async move {
///         println!("unhandled {} ({:?})", event.name(), event.reason());
///     });
/// assert!(webhooks.build().is_err());
/// # Ok(()) }
/// # build().unwrap();
/// # }
/// ```
///
/// A handler's answer decides the status: `()` or `Ok(())` is 200 and commits the key; `Err`
/// (or a panic) is 500 and releases it, so the provider's retry is handled. An event whose name
/// has no handler, that is outside the catalogue, or whose fields did not fit its model goes to
/// the fallback as an [`UnknownEvent`] with its raw JSON; without a fallback it is acknowledged
/// (200) and logged.
pub struct Webhooks<P, S = ()> {
    provider: P,
    config: Config,
    state: S,
    handlers: Vec<(&'static str, &'static [&'static str], Typed<S>)>,
    any: Vec<Typed<S>>,
    fallback: Option<Fallback<S>>,
}

impl<P: Provider> Webhooks<P, ()> {
    /// Handlers for `provider`'s events, with default limits and an in-memory dedup store.
    pub fn new(provider: P) -> Self {
        Self::with_state(provider, ())
    }
}

impl<P: Provider, S: Clone + Send + Sync + 'static> Webhooks<P, S> {
    /// Like [`Webhooks::new`], with app state that handlers taking `(event, state)` or
    /// `(event, Delivery, state)` receive (cloned per delivery: wrap large state in an `Arc`).
    pub fn with_state(provider: P, state: S) -> Self {
        Self {
            provider,
            config: Config::default(),
            state,
            handlers: Vec::new(),
            any: Vec::new(),
            fallback: None,
        }
    }

    /// Registers `handler` for the event type `T` (every name in `T::NAMES`).
    ///
    /// `T` must be an event of this provider ([`EventOf<P>`]): a handler for another
    /// provider's event would never run, so it does not compile.
    pub fn on<T, M, H>(mut self, handler: H) -> Self
    where
        T: EventOf<P>,
        H: Handler<T, S, M>,
    {
        self.handlers
            .push((std::any::type_name::<T>(), T::NAMES, typed(handler)));
        self
    }

    /// Registers `handler` for the event names `names`, decoding your own serde type `T` from
    /// the verified body (no [`Event`] impl needed): `.on_named(&["issues.opened"], |e: Issue|
    /// async move { .. })`. A body that does not fit `T` goes to the fallback as drift, as for
    /// [`Webhooks::on`].
    pub fn on_named<T, M, H>(mut self, names: &'static [&'static str], handler: H) -> Self
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        H: Handler<T, S, M>,
    {
        let handler: Typed<S> = Arc::new(move |delivery: Delivery, state: S, _: JsonBody| {
            if delivery.unread.is_some()
                && check_body(delivery.text(), delivery.unread, false).is_err()
            {
                // Refused by the dispatcher (it checks again on the drift path).
                let error =
                    crate::event::DecodeError::custom("the body is not as the envelope read it");
                return Err(Box::new((error, delivery, state)));
            }
            match crate::event::decode_json_text::<T>(delivery.text()) {
                Ok(event) => Ok(handler.call(event, delivery, state)),
                Err(error) => Err(Box::new((error, delivery, state))),
            }
        });
        self.handlers
            .push((std::any::type_name::<T>(), names, handler));
        self
    }

    /// Registers `handler` for every event name that has no handler of its own; `T` decodes
    /// whatever name it is given (like a provider's envelope type for Standard Webhooks, whose
    /// event names are yours). A decode failure goes to the fallback, as drift. `T` must be an
    /// event of this provider ([`EventOf<P>`]).
    pub fn on_any<T, M, H>(mut self, handler: H) -> Self
    where
        T: EventOf<P>,
        H: Handler<T, S, M>,
    {
        self.any.push(typed(handler));
        self
    }

    /// Registers the handler for everything no typed handler took: names outside the
    /// catalogue, known names without a handler, and known events that did not fit their model.
    pub fn fallback<M, H>(mut self, handler: H) -> Self
    where
        H: Handler<UnknownEvent, S, M>,
    {
        let handler = Arc::new(handler);
        self.fallback = Some(Arc::new(move |event, delivery, state| {
            handler.call(event, delivery, state)
        }));
        self
    }

    config_methods!();

    /// Runs handlers through a durable inbox instead of inline: each verified delivery is
    /// stored (one atomic insert that is also its de-duplication) and answered 202 at once;
    /// [`Dispatcher::workers`] run the handlers after. See the [`inbox`](crate::inbox) module.
    pub fn inbox(mut self, inbox: impl crate::inbox::Inbox) -> Self {
        self.config.inbox.store = Some(Arc::new(inbox));
        self
    }

    /// Delays between the attempts of an inbox event whose handler failed (default:
    /// [`RetrySchedule::default`](crate::inbox::RetrySchedule), over a day, with jitter).
    pub fn retry_schedule(mut self, schedule: crate::inbox::RetrySchedule) -> Self {
        self.config.inbox.retry = schedule;
        self
    }

    /// Freezes the registrations into a service; refuses two handlers for one event name, two
    /// catch-alls, a dispatcher with nothing registered at all ([`BuildError::NoHandlers`]),
    /// and a lease not longer than the handler timeout
    /// ([`BuildError::LeaseNotAboveHandlerTimeout`]).
    pub fn build(self) -> Result<Dispatcher<P, S>, BuildError> {
        if self.handlers.is_empty() && self.any.is_empty() && self.fallback.is_none() {
            return Err(BuildError::NoHandlers);
        }
        if let Some(handler_timeout) = self.config.lease_not_above_timeout() {
            return Err(BuildError::LeaseNotAboveHandlerTimeout {
                lease: self.config.lease,
                handler_timeout,
            });
        }
        let mut routes = HashMap::new();
        for (type_name, names, handler) in self.handlers {
            if names.is_empty() {
                return Err(BuildError::NoEventNames(type_name));
            }
            for &name in names {
                match routes.entry(name) {
                    Entry::Occupied(_) => return Err(BuildError::DuplicateHandler(name)),
                    Entry::Vacant(slot) => {
                        slot.insert(handler.clone());
                    }
                }
            }
        }
        let mut any = self.any.into_iter();
        let (any, extra) = (any.next(), any.next());
        if extra.is_some() {
            return Err(BuildError::DuplicateCatchAll);
        }
        // The typed decodes check the body is JSON; `Router::dispatch` checks the others.
        let mut config = self.config;
        config.json_check = JsonCheck::Dispatcher;
        let json = self.provider.json_body();
        Ok(Dispatcher {
            provider: Arc::new(self.provider),
            config: Arc::new(config),
            router: Arc::new(Router {
                routes,
                any,
                fallback: self.fallback,
                state: self.state,
                json,
                provider: PhantomData,
            }),
        })
    }
}

fn typed<T, S, M, H>(handler: H) -> Typed<S>
where
    T: Event,
    H: Handler<T, S, M>,
{
    Arc::new(move |delivery: Delivery, state: S, json: JsonBody| {
        // What the decode does not check, the dispatcher checks first: the whole body is JSON,
        // and the envelope's fields are not repeated in the part of the top level it left.
        let json = json && !T::DECODE_CHECKS_JSON;
        let unread = delivery
            .unread
            .filter(|_| !(T::DECODE_CHECKS_JSON && T::DECODE_CHECKS_ENVELOPE));
        if (json || unread.is_some()) && check_body(delivery.text(), unread, json).is_err() {
            // Refused by the dispatcher (it checks again on the drift path).
            let error =
                crate::event::DecodeError::custom("the body is not as the envelope read it");
            return Err(Box::new((error, delivery, state)));
        }
        match T::decode_text(delivery.event(), delivery.text()) {
            Ok(event) => Ok(handler.call(event, delivery, state)),
            Err(error) => Err(Box::new((error, delivery, state))),
        }
    })
}

impl<P, S> fmt::Debug for Webhooks<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field("provider", &std::any::type_name::<P>())
            .field(
                "handlers",
                &self
                    .handlers
                    .iter()
                    .map(|(_, names, _)| names)
                    .collect::<Vec<_>>(),
            )
            .field("fallback", &self.fallback.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct Router<P, S> {
    routes: HashMap<&'static str, Typed<S>>,
    any: Option<Typed<S>>,
    fallback: Option<Fallback<S>>,
    state: S,
    /// The provider's bodies must be JSON ([`Provider::json_body`]).
    json: JsonBody,
    provider: PhantomData<fn() -> P>,
}

impl<P: Provider, S: Clone> Router<P, S> {
    /// Picks the delivery's handler and decodes its event, without waiting: what runs next is
    /// the handler's future alone, and the future that awaits it holds nothing of the delivery
    /// (it is part of the pipeline's, boxed per delivery).
    fn start(&self, delivery: Delivery) -> Started {
        // For log lines once the delivery has moved into a handler (reference counts, no copy).
        let (event, key) = (delivery.event.clone(), delivery.key.clone());
        let route = self.routes.get(delivery.event()).or(self.any.as_ref());
        let (unknown, delivery, state) = match route {
            Some(handler) => match handler(delivery, self.state.clone(), self.json) {
                Ok(future) => return Started::Run(future, event, key),
                Err(drift) => {
                    let (error, delivery, state) = *drift;
                    if let Err(refused) = check_body(delivery.text(), delivery.unread, self.json) {
                        return Started::Done(refuse_body::<P>(refused, &event, &key));
                    }
                    tracing::warn!(
                        provider = P::NAME,
                        event = &*event,
                        key = &*key,
                        %error,
                        "known event did not fit its model; delivered as unknown"
                    );
                    let unknown = UnknownEvent::new(
                        delivery.event(),
                        delivery.raw().clone(),
                        UnknownReason::Drifted(error),
                    );
                    (unknown, delivery, state)
                }
            },
            None => {
                // No typed decode read the body: check it before anything sees it.
                if let Err(refused) = check_body(delivery.text(), delivery.unread, self.json) {
                    return Started::Done(refuse_body::<P>(refused, &event, &key));
                }
                let reason = if <P::Event as Event>::accepts(delivery.event()) {
                    UnknownReason::Unhandled
                } else {
                    UnknownReason::UnknownName
                };
                let unknown = UnknownEvent::new(delivery.event(), delivery.raw().clone(), reason);
                (unknown, delivery, self.state.clone())
            }
        };
        match &self.fallback {
            Some(fallback) => Started::Run(fallback(unknown, delivery, state), event, key),
            None => {
                tracing::info!(
                    provider = P::NAME,
                    event = &*event,
                    key = &*key,
                    reason = ?unknown.reason(),
                    "no handler for event; acknowledged"
                );
                Started::Done(Ok(Ack::Ignored))
            }
        }
    }
}

/// What [`Router::start`] decided: a handler (or the fallback) runs, or the answer is known.
enum Started {
    /// The handler's future; the event and key are for the log lines once it answers.
    Run(BoxFuture<'static, Result<(), BoxError>>, Name, Arc<str>),
    Done(Result<Ack, Rejection>),
}

impl Started {
    /// Runs the handler, if any, and answers.
    async fn finish<P: Provider>(self) -> Result<Ack, Rejection> {
        match self {
            Self::Done(result) => result,
            Self::Run(future, event, key) => {
                finish(timed::<P, _>(future, &event).await, P::NAME, &event, &key)
            }
        }
    }
}

/// The answer to a verified body the envelope read did not finish (not JSON below its top
/// level, or an envelope field repeated after where it stopped): 400, as the pipeline answers
/// it; no handler ran, and the key is released.
fn refuse_body<P: Provider>(
    error: EnvelopeError,
    event: &str,
    key: &str,
) -> Result<Ack, Rejection> {
    let rejection = Rejection::Envelope(error);
    let code = rejection.code();
    tracing::warn!(provider = P::NAME, event, key, code, "refused: {rejection}");
    Err(rejection)
}

/// Runs a handler's future, recording its duration when metrics are on (no clock read when
/// they are off).
async fn timed<P: Provider, F>(future: F, event: &Name) -> Result<(), BoxError>
where
    F: std::future::Future<Output = Result<(), BoxError>>,
{
    if !crate::metrics::ENABLED {
        return future.await;
    }
    let started = std::time::Instant::now();
    let result = future.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    crate::metrics::handler_duration(P::NAME, event.label(), outcome, started.elapsed());
    result
}

/// A handler's result as the pipeline's answer; an error is logged with the delivery's context
/// (the pipeline releases the key when it sees the 500), or, in an inbox attempt, left to the
/// worker to log with its retry.
fn finish(
    result: Result<(), BoxError>,
    provider: &str,
    event: &str,
    key: &str,
) -> Result<Ack, Rejection> {
    match result {
        Ok(()) => Ok(Ack::Handled),
        Err(error) => {
            if crate::inbox::note_failure(&error) {
                // An inbox attempt: its worker logs the failure with the retry or the dead end.
                tracing::debug!(provider, event, key, %error, "handler failed");
            } else {
                tracing::error!(provider, event, key, %error, "handler failed; key released");
            }
            Err(Rejection::HandlerFailed)
        }
    }
}

/// The service built by [`Webhooks::build`]: mount it on a route (`route_service` in axum),
/// or serve it with bare hyper. Cheap to clone.
pub struct Dispatcher<P, S = ()> {
    provider: Arc<P>,
    config: Arc<Config>,
    router: Arc<Router<P, S>>,
}

impl<P, S> Clone for Dispatcher<P, S> {
    fn clone(&self) -> Self {
        Self {
            provider: self.provider.clone(),
            config: self.config.clone(),
            router: self.router.clone(),
        }
    }
}

impl<P, S> fmt::Debug for Dispatcher<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.router.routes.keys().collect();
        names.sort();
        f.debug_struct("Dispatcher")
            .field("events", &names)
            .field("fallback", &self.router.fallback.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// [`Forward`](crate::inbox::Forward) is a handler of any event type (see its docs).
#[cfg(feature = "forward")]
impl<T: Send + 'static, S> Handler<T, S, Forwarding> for Forward {
    fn call(&self, _: T, delivery: Delivery, _: S) -> BoxFuture<'static, Result<(), BoxError>> {
        self.handle(delivery)
    }
}

impl<P: Provider, S: Clone + Send + Sync + 'static> Dispatcher<P, S> {
    /// A pool of [`Workers`](crate::inbox::Workers) that runs this dispatcher's handlers for
    /// the events its inbox holds; `None` when it has no inbox (handlers run inline).
    pub fn workers(&self) -> Option<crate::inbox::Workers> {
        let inbox = self.config.inbox.store.clone()?;
        Some(crate::inbox::Workers::new(inbox).route(self))
    }
}

impl<P: Provider, S: Clone + Send + Sync + 'static> crate::inbox::Route for Dispatcher<P, S> {
    fn provider(&self) -> &'static str {
        P::NAME
    }

    fn attempt_limit(&self) -> std::time::Duration {
        self.config.handler_timeout.unwrap_or(self.config.lease)
    }

    fn retry(&self) -> crate::inbox::RetrySchedule {
        self.config.inbox.retry.clone()
    }

    fn dedup_ttl(&self) -> std::time::Duration {
        self.config
            .dedup_ttl
            .unwrap_or_else(|| self.provider.dedup_ttl())
    }

    fn run(&self, stored: crate::inbox::StoredEvent) -> BoxFuture<'static, crate::inbox::Attempt> {
        // Always bounded, by the limit the lease is made of: an attempt that outlived its claim
        // would see its event claimed again and run twice at once (without a handler timeout,
        // the limit is the lease).
        let (router, limit) = (self.router.clone(), self.attempt_limit());
        let delivery = match crate::inbox::delivery::<P::Event>(P::NAME, stored) {
            Ok(delivery) => delivery,
            Err(attempt) => return Box::pin(std::future::ready(attempt)),
        };
        // Started inside the attempt, which catches a panic of the decode as well.
        Box::pin(crate::inbox::attempt(
            async move { router.start(delivery).finish::<P>().await },
            limit,
        ))
    }

    fn event_label(&self, name: &str) -> &'static str {
        crate::metrics::event_label::<P::Event>(name)
    }
}

impl crate::inbox::Workers {
    /// Also runs `dispatcher`'s handlers for its provider's events (it must store into the
    /// same inbox). A second dispatcher of the same provider replaces the first.
    pub fn route<P, S>(self, dispatcher: &Dispatcher<P, S>) -> Self
    where
        P: Provider,
        S: Clone + Send + Sync + 'static,
    {
        self.with_route(Arc::new(dispatcher.clone()))
    }
}

impl<P, S, B> Service<Request<B>> for Dispatcher<P, S>
where
    P: Provider,
    S: Clone + Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: fmt::Display,
{
    type Response = Response<ResponseBody<Full<Bytes>>>;
    type Error = Infallible;
    type Future = ResponseFuture<Full<Bytes>, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let router = self.router.clone();
        let future = Box::pin(pipeline::run(
            self.provider.clone(),
            self.config.clone(),
            request,
            move |accepted| {
                router
                    .start(accepted.into_delivery())
                    .finish::<P>()
                    .map(Handled::<Response<Full<Bytes>>, Infallible>::Own)
            },
        ));
        ResponseFuture::new(pipeline::span(P::NAME), future)
    }
}
