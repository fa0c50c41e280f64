//! `Verified<E>`: the axum extractor for a delivery accepted by [`WebhookLayer`](crate::WebhookLayer).

use axum_core::{
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use http::{StatusCode, request::Parts};

use crate::{
    delivery::Delivery,
    event::{EventSet, decode_or_unknown},
};

/// A verified, de-duplicated event and its [`Delivery`], for handlers behind
/// [`WebhookLayer`](crate::WebhookLayer).
///
/// `E` is a provider's catalogue enum (`zernio::Event`, `ayrshare::Event`): a known event
/// decodes to its variant; an unknown name or a drifted payload decodes to the enum's unknown
/// case with the raw JSON, never a rejection.
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
/// # fn app() -> Result<Router, hookgate::keyring::KeyringError> {
/// let app = Router::new()
///     .route("/webhooks/zernio", post(handle).layer(WebhookLayer::new(Zernio::new(["secret"])?)));
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
    E: EventSet,
    S: Send + Sync,
{
    type Rejection = MissingDelivery;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let delivery = parts
            .extensions
            .remove::<Delivery>()
            .ok_or(MissingDelivery)?;
        let event = decode_or_unknown::<E>(delivery.event(), delivery.raw());
        Ok(Self { event, delivery })
    }
}

/// `Verified` was used on a route without [`WebhookLayer`](crate::WebhookLayer) (500: a
/// configuration error, and the provider will retry once it is fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no verified delivery on this request: is WebhookLayer on this route?")]
pub struct MissingDelivery;

impl IntoResponse for MissingDelivery {
    fn into_response(self) -> Response {
        tracing::error!("Verified<_> used on a route without WebhookLayer");
        let body = r#"{"error":"webhook layer missing","code":"missing_layer"}"#;
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}
