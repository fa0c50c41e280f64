// The README's quick start uses Zernio; without that feature the crate gets a one-line doc.
#![cfg_attr(feature = "zernio", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "zernio"),
    doc = "Receive webhooks safely in axum or hyper (see README.md)."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
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
pub mod inbox;
pub mod keyring;
mod layer;
mod pipeline;
pub mod provider;
pub mod rejection;

#[cfg(feature = "ayrshare")]
pub mod ayrshare;
#[cfg(feature = "standard")]
pub mod standard;
#[cfg(feature = "zernio")]
pub mod zernio;

pub use body::ResponseBody;
pub use delivery::Delivery;
pub use dispatch::{BoxError, BuildError, Dispatcher, Handler, HandlerOutput, Webhooks};
#[cfg(feature = "axum")]
pub use extract::{MissingDelivery, Verified};
pub use future::{BoxFuture, ResponseFuture};
pub use layer::{WebhookLayer, WebhookService};
pub use pipeline::{
    Clock, DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_LEASE, DEFAULT_READ_TIMEOUT,
};
#[cfg(feature = "testing")]
pub mod testing;
