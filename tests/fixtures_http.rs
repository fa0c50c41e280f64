//! Every provider fixture in `tests/fixtures`, signed as its sender signs it and
//! sent over real HTTP, reaches the typed handler of its own event (never the unknown path).
#![cfg(feature = "testing")]

mod support;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use axum::Router;
use hookgate::{
    Delivery, Webhooks,
    event::UnknownEvent,
    provider::Provider,
    testing::{Sign, signed_request},
};
use http_body_util::BodyExt;

fn fixtures(provider: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures in {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// What reached the handlers: (event name, typed?, dedup key).
type Seen = Arc<Mutex<Vec<(String, bool, String)>>>;

/// Sends every fixture of `dir` through a dispatcher over HTTP; each must reach the typed
/// handler under the name the provider's envelope gives it, and `check` sees the typed event.
async fn every_fixture_reaches_its_typed_handler<P>(
    provider: P,
    signer: P,
    dir: &str,
    check: fn(&P::Event, &serde_json::Value),
) where
    P: Provider + Sign,
{
    let seen: Seen = Arc::default();
    let checked = Arc::new(Mutex::new(Vec::<(P::Event, Delivery)>::new()));
    let service = Webhooks::with_state(provider, seen.clone())
        .on({
            let checked = checked.clone();
            move |event: P::Event, delivery: Delivery, seen: Seen| {
                seen.lock().unwrap().push((
                    delivery.event().to_owned(),
                    true,
                    delivery.key().to_owned(),
                ));
                checked.lock().unwrap().push((event, delivery));
                async {}
            }
        })
        .fallback(
            |event: UnknownEvent, delivery: Delivery, seen: Seen| async move {
                eprintln!("fallback: {} {:?}", event.name(), event.reason());
                seen.lock().unwrap().push((
                    delivery.event().to_owned(),
                    false,
                    delivery.key().to_owned(),
                ));
            },
        )
        .build()
        .unwrap();
    let addr = support::serve(Router::new().route_service("/hook", service)).await;
    let client = reqwest::Client::new();
    let files = fixtures(dir);
    for path in &files {
        let body = std::fs::read(path).unwrap();
        let request = signed_request(&signer, "/hook", body.clone());
        let (parts, full) = request.into_parts();
        let mut builder = client
            .post(format!("http://{addr}/hook"))
            .body(full.collect().await.unwrap().to_bytes());
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", path.display());

        let headers = parts.headers.clone();
        let text = std::str::from_utf8(&body).unwrap();
        let envelope = signer.envelope(&headers, text).unwrap();
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last.0, envelope.name, "{}", path.display());
        assert!(last.1, "{} took the unknown path", path.display());
        if let Some(key) = envelope.key {
            assert_eq!(last.2, key, "{}", path.display());
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let (event, delivery) = checked.lock().unwrap().pop().unwrap();
        assert_eq!(delivery.raw().as_ref(), &body[..]);
        check(&event, &json);
    }
    assert_eq!(seen.lock().unwrap().len(), files.len());
}

#[cfg(feature = "zernio")]
#[tokio::test]
async fn zernio_fixtures() {
    use hookgate::zernio::{Event, Zernio};
    let zernio = || Zernio::new(["fixture-secret"]).unwrap();
    every_fixture_reaches_its_typed_handler(zernio(), zernio(), "zernio", |event: &Event, json| {
        assert_eq!(event.name(), json["event"].as_str().unwrap());
    })
    .await;
}

#[cfg(feature = "ayrshare")]
#[tokio::test]
async fn ayrshare_fixtures() {
    use hookgate::ayrshare::{Ayrshare, Event};
    let ayrshare = || Ayrshare::new(["fixture-secret"]).unwrap();
    every_fixture_reaches_its_typed_handler(
        ayrshare(),
        ayrshare(),
        "ayrshare",
        |event: &Event, json| {
            assert_eq!(event.name().split('/').next(), json["action"].as_str());
            let common = event
                .common()
                .expect("typed events carry the common envelope");
            assert_eq!(common.ref_id.as_deref(), json["refId"].as_str());
        },
    )
    .await;
}

/// The raw bytes reach the handler untouched even through the layer-free tower path.
#[cfg(feature = "zernio")]
#[tokio::test]
async fn oneshot_without_a_socket() {
    use hookgate::zernio::{WebhookTest, Zernio};
    use tower::ServiceExt;
    let zernio = Zernio::new(["s"]).unwrap();
    let body = br#"{"id":"x","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let request = signed_request(&zernio, "/", &body[..]);
    let service = Webhooks::new(zernio)
        .on(|_: WebhookTest| async {})
        .build()
        .unwrap();
    assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
}
