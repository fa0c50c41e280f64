// The README's quick start uses Zernio; without that feature the crate gets a one-line doc.
#![cfg_attr(feature = "zernio", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "zernio"),
    doc = "Receive webhooks safely in axum or hyper (see README.md)."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod budget;
#[cfg(any(feature = "zernio", feature = "ayrshare"))]
#[macro_use]
mod catalogue;
pub mod dedup;
mod delivery;
mod dispatch;
pub mod event;
#[cfg(feature = "axum")]
mod extract;
mod future;
#[cfg(feature = "generic")]
pub mod generic;
pub mod inbox;
pub mod keyring;
mod layer;
pub mod metrics;
mod pipeline;
pub mod provider;
pub mod rejection;
pub mod secrets;

#[cfg(feature = "ayrshare")]
pub mod ayrshare;
#[cfg(feature = "standard")]
pub mod standard;
#[cfg(feature = "zernio")]
pub mod zernio;

/// The `http` crate (1.x) whose types hookgate's API uses (`Request`, `Response`, `HeaderMap`,
/// `StatusCode`, ...), re-exported so that your code names the same version without a
/// dependency of its own.
pub use http;

pub use body::ResponseBody;
pub use delivery::Delivery;
pub use dispatch::{BuildError, Dispatcher, Handler, HandlerOutput, Webhooks, handler_shape};
#[cfg(feature = "axum")]
pub use extract::{Verified, VerifiedRejection};
pub use future::{BoxError, BoxFuture, ResponseFuture};
pub use layer::{WebhookLayer, WebhookService};
pub use pipeline::{
    Clock, DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_LEASE, DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_READ_TIMEOUT,
};
#[cfg(feature = "testing")]
pub mod testing;
