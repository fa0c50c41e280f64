//! [`ResponseBody`]: the body of every response that passes through hookgate, either one of its
//! own short answers or the inner service's body untouched.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

pin_project! {
    /// A response body: hookgate's own answer (refusals, acknowledgements) or the inner
    /// service's body.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project! {
    #[project = InnerProj]
    #[derive(Debug)]
    enum Inner<B> {
        Own { #[pin] body: Full<Bytes> },
        Service { #[pin] body: B },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn own(body: Full<Bytes>) -> Self {
        Self {
            inner: Inner::Own { body },
        }
    }

    pub(crate) fn inner(body: B) -> Self {
        Self {
            inner: Inner::Service { body },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().inner.project() {
            InnerProj::Own { body } => body.poll_frame(cx).map_err(|never| match never {}),
            InnerProj::Service { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Own { body } => body.is_end_stream(),
            Inner::Service { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Own { body } => body.size_hint(),
            Inner::Service { body } => body.size_hint(),
        }
    }
}
