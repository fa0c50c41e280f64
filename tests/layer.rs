//! `WebhookLayer` on an ordinary axum route, with the `Verified` extractor, over real HTTP.
#![cfg(all(feature = "zernio", feature = "testing", feature = "axum"))]

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, extract::State, http::StatusCode, routing::post};
use tower::Layer as _;

use hookgate::{
    Verified, WebhookLayer,
    keyring::Keyring,
    zernio::{self, Zernio},
};

const SECRET: &str = "layer-secret";

async fn handle(
    State(calls): State<Arc<AtomicUsize>>,
    Verified { event, delivery }: Verified<zernio::Event>,
) -> StatusCode {
    calls.fetch_add(1, Ordering::SeqCst);
    match event {
        zernio::Event::WebhookTest(test) if test.message == "refuse" => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        zernio::Event::WebhookTest(_) => StatusCode::NO_CONTENT,
        zernio::Event::Unknown(unknown) => {
            assert_eq!(unknown.raw(), delivery.raw());
            StatusCode::ACCEPTED
        }
        _ => StatusCode::OK,
    }
}

async fn post_signed(url: &str, body: &str) -> reqwest::Response {
    let sig = Keyring::new([SECRET])
        .unwrap()
        .sign(b"", body.as_bytes())
        .to_hex();
    reqwest::Client::new()
        .post(url)
        .header("x-zernio-signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn layer_verifies_dedups_and_hands_the_typed_event_to_the_route() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/hook",
            post(handle).layer(WebhookLayer::new(Zernio::new([SECRET]).unwrap())),
        )
        .route("/plain", post(|| async { "no layer here" }))
        .with_state(calls.clone());
    let url = format!("http://{}/hook", support::serve(app).await);

    let test = r#"{"id":"l-1","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    assert_eq!(post_signed(&url, test).await.status(), 204);
    // Duplicate: answered by the layer, the route is not called.
    assert_eq!(post_signed(&url, test).await.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The route's non-2xx releases the key: the retry reaches the route again.
    let refuse = test.replace("l-1", "l-2").replace("\"hi\"", "\"refuse\"");
    assert_eq!(post_signed(&url, &refuse).await.status(), 503);
    assert_eq!(post_signed(&url, &refuse).await.status(), 503);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Unknown events reach the route as the enum's unknown case.
    assert_eq!(
        post_signed(&url, r#"{"id":"l-3","event":"new.thing"}"#)
            .await
            .status(),
        202
    );

    // Refusals never reach the route.
    let response = reqwest::Client::new()
        .post(&url)
        .body(test)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn verified_without_the_layer_is_a_500() {
    let app = Router::new().route(
        "/hook",
        post(|_: Verified<zernio::Event>| async { "unreachable" }),
    );
    let url = format!("http://{}/hook", support::serve(app).await);
    let response = reqwest::Client::new()
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
}

/// Users put these in shared state and spawn their futures: they must be `Send + Sync`.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<hookgate::Dispatcher<Zernio>>();
    send_sync::<hookgate::WebhookLayer<Zernio>>();
    send_sync::<hookgate::WebhookService<axum::routing::Route, Zernio>>();
    send::<hookgate::ResponseFuture<axum::body::Body, std::convert::Infallible>>();
    send_sync::<hookgate::Delivery>();
    send_sync::<zernio::Event>();
    send_sync::<hookgate::event::UnknownEvent>();
    send_sync::<hookgate::keyring::Keyring>();
    send_sync::<hookgate::dedup::MemoryStore>();
    send_sync::<Verified<zernio::Event>>();
}

/// `hookgate::http` is the `http` crate the API speaks: a user names its types without a
/// dependency of their own (and cannot pick a mismatching version).
#[test]
fn http_is_reexported() {
    let status: hookgate::http::StatusCode =
        hookgate::rejection::Rejection::MethodNotAllowed.status();
    assert_eq!(status, hookgate::http::StatusCode::METHOD_NOT_ALLOWED);
    let headers: &hookgate::http::HeaderMap = &hookgate::http::HeaderMap::new();
    assert!(headers.is_empty());
}

/// The inner service sees the request with its signature headers redacted, as the delivery's
/// copy is: a route that logs or forwards its request headers must not leak a signature.
#[tokio::test]
async fn the_inner_service_sees_redacted_signature_headers() {
    let app = Router::new().route(
        "/hook",
        post(|request: axum::extract::Request| async move {
            let delivery = request.extensions().get::<hookgate::Delivery>().unwrap();
            format!(
                "{}|{}|{}",
                request.headers()["x-zernio-signature"].to_str().unwrap(),
                delivery.headers()["x-zernio-signature"].to_str().unwrap(),
                request.headers()["content-type"].to_str().unwrap(),
            )
        })
        .layer(WebhookLayer::new(Zernio::new([SECRET]).unwrap())),
    );
    let addr = support::serve(app).await;
    let body = r#"{"id":"redact-1","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let sig = Keyring::new([SECRET])
        .unwrap()
        .sign(b"", body.as_bytes())
        .to_hex();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/hook"))
        .header("x-zernio-signature", &sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&sig), "{text}");
    assert_eq!(text, "[redacted]|[redacted]|application/json");
}

#[tokio::test]
async fn an_inner_service_whose_call_panics_gets_500_and_its_key_released() {
    // The layer calls the inner service as soon as the delivery is accepted; a panic in `call`
    // itself (before any future exists) is the handler's panic: 500, and the key released at
    // once, so the sender's retry runs again rather than waiting out the lease.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner =
        tower::service_fn(
            move |_: axum::extract::Request| -> std::future::Ready<
                Result<axum::response::Response, std::convert::Infallible>,
            > {
                counted.fetch_add(1, Ordering::SeqCst);
                panic!("inner call panicked")
            },
        );
    let service = WebhookLayer::new(Zernio::new([SECRET]).unwrap()).layer(inner);
    let app = Router::new().route_service("/hook", service);
    let url = format!("http://{}/hook", support::serve(app).await);
    let body = r#"{"id":"layer-panic-1","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    for attempt in 0..2 {
        let response = post_signed(&url, body).await;
        assert_eq!(response.status(), 500, "attempt {attempt}");
        let answer: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(answer["code"], "handler_panicked", "attempt {attempt}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
#[should_panic(expected = "must be longer than the handler timeout")]
fn a_layer_whose_lease_is_not_above_the_handler_timeout_panics_when_applied() {
    // The default handler timeout is 30 s: a 100 ms lease would let a redelivery run while
    // the first handler still runs.
    let layer = WebhookLayer::new(Zernio::new(["secret"]).unwrap())
        .lease(std::time::Duration::from_millis(100));
    let _ = layer.layer(tower::service_fn(
        |_: http::Request<axum::body::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
        },
    ));
}

#[test]
fn a_layer_without_a_handler_timeout_takes_any_lease() {
    let layer = WebhookLayer::new(Zernio::new(["secret"]).unwrap())
        .handler_timeout(None)
        .lease(std::time::Duration::from_millis(100));
    let _ = layer.layer(tower::service_fn(
        |_: http::Request<axum::body::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
        },
    ));
}
