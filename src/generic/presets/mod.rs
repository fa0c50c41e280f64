//! Built-in senders: each a few lines of configuration on [`Generic`](super::Generic), checked
//! against the sender's official test vectors where it publishes them.
//!
//! | sender | function | provider type | scheme | vector source |
//! | --- | --- | --- | --- | --- |
//! | GitHub | [`github`] | `Generic<GitHub>` | `X-Hub-Signature-256: sha256=<hex>` over the body | GitHub docs, octokit |
//! | Stripe | [`stripe`] | `Generic<Stripe>` | `Stripe-Signature: t=..,v1=..` over `{t}.{body}`, 300 s | none published |
//! | Shopify | [`shopify`] | `Generic<Shopify>` | `X-Shopify-Hmac-Sha256`, base64, over the body | none published |
//! | Slack | [`slack`] | `Generic<Slack>` | `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`, 300 s | Slack docs |
//! | Paddle | [`paddle`] | `Generic<Paddle>` | `Paddle-Signature: ts=..;h1=..` over `{ts}:{body}`, 300 s | Paddle's Node SDK |
//! | Linear | [`linear`] | `Generic<Linear>` | `Linear-Signature: <hex>` over the body; `webhookTimestamp` ±60 s | none published |
//! | Square | [`square`] | `Generic<Square>` | `X-Square-Hmacsha256-Signature`, base64, over `{url}{body}` | Square docs |
//! | Zoom | [`zoom`] | `Generic<Zoom>` | `x-zm-signature: v0=<hex>` over `v0:{ts}:{body}`, 300 s; URL validation answered | none published |
//! | Discord | [`discord`] | `Generic<Discord>` | Ed25519 `X-Signature-Ed25519` over `{ts}{body}`, 300 s; `PING` answered | none published |
//! | Twilio | [`twilio`] | `Generic<Twilio>` | HMAC-SHA1 `X-Twilio-Signature`, base64, over `{url}` + sorted form parameters, or `bodySHA256` | Twilio docs, twilio-python |
//! | Standard Webhooks `v1a` | [`standard_v1a`] | `Generic<StandardV1a>` | Ed25519 `webhook-signature: v1a,<base64>` over `{id}.{ts}.{body}` | standard-webhooks Go library |
//!
//! Each function returns a [`Builder`](super::Builder); finish it with the secrets (current
//! first, any number: rotation), and change anything first if you need to (a wider window, a
//! longer dedup memory):
//!
//! ```
//! use hookgate::{Webhooks, generic::{self, presets}};
//!
//! let github = presets::github().secrets(["It's a Secret to Everybody", "the-previous-secret"])?;
//! let service = Webhooks::new(github)
//!     .on_named(&["issues"], |issue: serde_json::Value| async move { let _ = issue; })
//!     .on_any(|other: generic::Event| async move { let _ = other; })
//!     .build()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where each sender puts its event name and delivery key, its window and its retries, with the
//! source of every fact, is in `tests/fixtures/spec/senders.md`; each preset's docs say what
//! hookgate chose where the sender is silent.

#[cfg(feature = "ed25519")]
mod discord;
mod github;
mod linear;
mod paddle;
mod shopify;
mod slack;
mod square;
#[cfg(feature = "ed25519")]
mod standard_v1a;
mod stripe;
mod twilio;
mod zoom;

use bytes::Bytes;
use http::{Response, StatusCode, header};

#[cfg(feature = "ed25519")]
pub use discord::{Discord, discord};
pub use github::{GitHub, github};
pub use linear::{LINEAR_TOLERANCE, Linear, linear};
pub use paddle::{Paddle, paddle};
pub use shopify::{Shopify, shopify};
pub use slack::{Slack, slack};
pub use square::{Square, square};
#[cfg(feature = "ed25519")]
pub use standard_v1a::{StandardV1a, standard_v1a, strip_whpk};
pub use stripe::{Stripe, stripe};
pub use twilio::{Twilio, twilio};
pub use zoom::{Zoom, zoom};

/// A JSON answer to a challenge (or a refusal written like the pipeline's own).
fn json_answer(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Reads one JSON object body into `T` (a few borrowed fields), or `None` when it is not one.
fn object<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    if !body.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    serde_json::from_slice(body).ok()
}
