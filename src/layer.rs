//! [`WebhookLayer`]: the pipeline in front of any tower service, such as an axum route.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    body::ResponseBody,
    future::ResponseFuture,
    pipeline::{self, Config, Handled, config_methods},
    provider::Provider,
};

/// [`WebhookLayer`]: the pipeline in front of any tower service, such as an axum route.
///
/// The layer reads, verifies, de-duplicates and accepts each delivery, then calls the inner
/// service with the raw body and the [`Delivery`](crate::Delivery) in the request extensions
/// (take it with `Verified<E>`, feature `axum`). The signature headers of the request the inner
/// service gets are redacted (`[redacted]`), as in `Delivery::headers`. The inner service's status decides: 2xx
/// commits the key, anything else (or a panic, or a timeout) releases it so the provider's
/// retry is handled. Refusals are returned as responses; the service's error type is the inner
/// service's.
///
/// ```
/// # #[cfg(feature = "zernio")] {
/// use axum::{Router, routing::post};
/// use hookgate::{WebhookLayer, zernio::Zernio};
///
/// # fn app() -> Result<Router, hookgate::keyring::KeyringError> {
/// let app = Router::new().route(
///     "/webhooks/zernio",
///     post(|request: axum::extract::Request| async move {
///         let delivery = request.extensions().get::<hookgate::Delivery>().unwrap();
///         println!("{} {}", delivery.event(), delivery.key());
///     })
///     .layer(WebhookLayer::new(Zernio::new(["secret"])?)),
/// );
/// # Ok(app) }
/// # }
/// ```
pub struct WebhookLayer<P> {
    provider: Arc<P>,
    config: Config,
}

impl<P: Provider> WebhookLayer<P> {
    /// The pipeline for `provider`, with default limits and an in-memory dedup store.
    pub fn new(provider: P) -> Self {
        Self {
            provider: Arc::new(provider),
            config: Config::default(),
        }
    }

    config_methods!();
}

impl<P> Clone for WebhookLayer<P> {
    fn clone(&self) -> Self {
        Self {
            provider: self.provider.clone(),
            config: self.config.clone(),
        }
    }
}

impl<P> fmt::Debug for WebhookLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// # Panics
///
/// When the lease is not longer than the handler timeout (as `Webhooks::build` refuses with
/// [`BuildError::LeaseNotAboveHandlerTimeout`](crate::BuildError::LeaseNotAboveHandlerTimeout)):
/// a handler still running when its claim ran out would see the same event handled again at
/// the same time. Like axum's routers, it fails as the app is put together, not on a delivery.
impl<S, P> Layer<S> for WebhookLayer<P> {
    type Service = WebhookService<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        if let Some(handler_timeout) = self.config.lease_not_above_timeout() {
            panic!(
                "WebhookLayer: {}",
                crate::dispatch::BuildError::LeaseNotAboveHandlerTimeout {
                    lease: self.config.lease,
                    handler_timeout,
                }
            );
        }
        WebhookService {
            inner,
            provider: self.provider.clone(),
            config: Arc::new(self.config.clone()),
        }
    }
}

/// The service built by [`WebhookLayer`].
pub struct WebhookService<S, P> {
    inner: S,
    provider: Arc<P>,
    config: Arc<Config>,
}

impl<S, P> WebhookService<S, P> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, P> Clone for WebhookService<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            provider: self.provider.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for WebhookService<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for WebhookService<S, P>
where
    P: Provider,
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: fmt::Display,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The instance polled ready is the one to call: take it and leave a clone behind.
        // https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = Box::pin(pipeline::run(
            self.provider.clone(),
            self.config.clone(),
            request,
            move |accepted| {
                let (mut parts, delivery) = accepted.split();
                let raw = delivery.raw().clone();
                parts.extensions.insert(delivery);
                let request = Request::from_parts(parts, ReqBody::from(raw));
                // Called now (the pipeline catches a panic of `call` as the handler's), so that
                // the future holds the inner service's future alone, not the request too.
                inner.call(request).map(|result| match result {
                    Ok(response) => Handled::Response(response),
                    Err(error) => Handled::Error(error),
                })
            },
        ));
        ResponseFuture::new(pipeline::span(P::NAME), future)
    }
}
