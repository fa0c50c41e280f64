//! [`ResponseFuture`]: the future of every hookgate service, and [`Within`], the deadline the
//! pipeline puts on reading a body and on running a handler; the boxed future and error that
//! handlers return.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use pin_project_lite::pin_project;

use http::Response;

use crate::body::ResponseBody;

/// A boxed, `Send` future, as handlers and networked dedup stores return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed error, as returned by failing handlers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

pin_project! {
    /// `future` with a deadline of `limit` from its first poll ([`within`]).
    ///
    /// Unlike `tokio::time::timeout`, it arms no timer when the future finishes on its first
    /// poll (a body that came with the headers, a handler that did not wait): a timer costs a
    /// clock read and a timer-wheel entry per delivery. And it holds the future once, inline,
    /// with the timer boxed only when one is armed: the pipeline's future, which holds it, is
    /// boxed per delivery and stays small.
    pub(crate) struct Within<F> {
        #[pin]
        future: F,
        limit: Duration,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

/// The deadline of a [`Within`] passed first.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// Runs `future` with a deadline of `limit`, counted from its first poll.
pub(crate) fn within<F: Future>(limit: Duration, future: F) -> Within<F> {
    Within {
        future,
        limit,
        timer: None,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let limit = *this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
