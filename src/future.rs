//! [`ResponseFuture`]: the future of every hookgate service.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::Response;

use crate::body::ResponseBody;

/// A boxed, `Send` future, as handlers and networked dedup stores return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The response future of [`WebhookService`](crate::WebhookService) and
/// [`Dispatcher`](crate::Dispatcher): the whole pipeline of one delivery, boxed once.
pub struct ResponseFuture<B, E> {
    // The pipeline is boxed once, where it is built; the span stays outside the box, so that
    // wrapping the future in it does not move the (large) pipeline state again.
    inner: BoxFuture<'static, Result<Response<ResponseBody<B>>, E>>,
    span: tracing::Span,
}

impl<B, E> ResponseFuture<B, E> {
    pub(crate) fn new(
        span: tracing::Span,
        future: BoxFuture<'static, Result<Response<ResponseBody<B>>, E>>,
    ) -> Self {
        Self {
            inner: future,
            span,
        }
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.as_mut().poll(cx)
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
