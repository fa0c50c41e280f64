//! `Verified<E>`: the axum extractor for a delivery accepted by [`WebhookLayer`](crate::WebhookLayer).

use axum_core::{
    body::Body,
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use http::{StatusCode, request::Parts};

use crate::{
    delivery::Delivery,
    event::{Event, UnknownEvent, decode_verified},
    rejection::Ack,
};

/// A verified, de-duplicated event and its [`Delivery`], for handlers behind
/// [`WebhookLayer`](crate::WebhookLayer).
///
/// `E` is any [`Event`] type:
///
/// - a provider's catalogue enum (`zernio::Event`, `ayrshare::Event`, `standard::Event`): a
///   known event decodes to its variant; an unknown name or a drifted payload decodes to the
///   enum's unknown case with the raw JSON, never a rejection;
/// - one event type (`zernio::PostPublished`, a shared shape, your own type): when the
///   delivery is another event, or is this event but does not fit the model, the route's
///   handler could never take it, so the extractor answers **200 `{"status":"ignored"}`** and
///   logs a WARN ([`VerifiedRejection::NotThisEvent`]), exactly as a [`Webhooks`](crate::Webhooks)
///   dispatcher does with an event that has no handler and no fallback. The layer then
///   commits the key: the sender does not retry an event that would be refused again. Take
///   the catalogue enum instead when you must see every event.
///
/// The [`Delivery`] stays in the request extensions (the extractor clones it: reference-counted
/// fields, the raw body is not copied), so other extractors and middleware after it still
/// find it.
///
/// ```
/// # #[cfg(feature = "zernio")] {
/// use axum::{Router, routing::post};
/// use hookgate::{Verified, WebhookLayer, zernio::{self, Zernio}};
///
/// async fn handle(Verified { event, delivery }: Verified<zernio::Event>) -> &'static str {
///     match event {
///         zernio::Event::WebhookTest(test) => println!("test fire {}", test.id),
///         other => println!("{} ({})", delivery.event(), delivery.key()),
///     }
///     "ok"
/// }
///
/// // One event type per route: other events are acknowledged as `ignored`.
/// async fn published(Verified { event, .. }: Verified<zernio::PostPublished>) {
///     println!("published {}", event.post.id);
/// }
///
/// # fn app() -> Result<Router, hookgate::keyring::KeyringError> {
/// let app = Router::new()
///     .route("/webhooks/zernio", post(handle).layer(WebhookLayer::new(Zernio::new(["secret"])?)))
///     .route(
///         "/webhooks/zernio/published",
///         post(published).layer(WebhookLayer::new(Zernio::new(["secret"])?)),
///     );
/// # Ok(app) }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Verified<E> {
    /// The typed event (or the enum's unknown case).
    pub event: E,
    /// Its delivery context, with the raw body.
    pub delivery: Delivery,
}

impl<E, S> FromRequestParts<S> for Verified<E>
where
    E: Event,
    S: Send + Sync,
{
    type Rejection = VerifiedRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let delivery = parts
            .extensions
            .get::<Delivery>()
            .cloned()
            .ok_or(VerifiedRejection::MissingLayer)?;
        match decode_verified::<E>(delivery.event(), delivery.raw()) {
            Ok(event) => Ok(Self { event, delivery }),
            Err(unknown) => {
                tracing::warn!(
                    provider = delivery.provider(),
                    event = delivery.event(),
                    key = delivery.key(),
                    expected = std::any::type_name::<E>(),
                    reason = ?unknown.reason(),
                    "delivery is not this route's event type; acknowledged as ignored"
                );
                Err(VerifiedRejection::NotThisEvent(Box::new(unknown)))
            }
        }
    }
}

/// Why `Verified<E>` did not extract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifiedRejection {
    /// `Verified` was used on a route without [`WebhookLayer`](crate::WebhookLayer) (500: a
    /// configuration error, and the provider will retry once it is fixed).
    #[error("no verified delivery on this request: is WebhookLayer on this route?")]
    MissingLayer,
    /// The delivery is not an event of the single type `E`, or did not fit its model (200
    /// `{"status":"ignored"}`, logged at WARN; the layer commits the key). The unknown event
    /// holds the name, the raw body and the reason.
    #[error("delivery `{}` is not this route's event type", .0.name())]
    NotThisEvent(Box<UnknownEvent>),
}

impl IntoResponse for VerifiedRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer => {
                tracing::error!("Verified<_> used on a route without WebhookLayer");
                let body = r#"{"error":"webhook layer missing","code":"missing_layer"}"#;
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response()
            }
            Self::NotThisEvent(_) => Ack::Ignored.into_response().map(Body::new),
        }
    }
}
