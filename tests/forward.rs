//! `Forward` through the inbox: the forwarded request carries the raw body and Standard
//! Webhooks headers that the crate's own `Standard` provider verifies; a non-2xx answer, a
//! refused connection and a timeout are failed attempts.
#![cfg(all(
    feature = "forward",
    feature = "inbox-sqlite",
    feature = "zernio",
    feature = "testing"
))]

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use hookgate::{
    Delivery, Webhooks,
    inbox::{Forward, ForwardError, Inbox, RetrySchedule, SqliteInbox},
    provider::Provider,
    standard::Standard,
    testing::signed_request,
    zernio::{Event, Zernio},
};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const FORWARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone, Default)]
struct Target {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// The status the target answers next (then 200).
    next: Arc<AtomicU16>,
}

async fn receive(
    State(target): State<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    target.seen.lock().unwrap().push((headers, body));
    let status = target.next.swap(200, Ordering::SeqCst);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// Verifies one forwarded request with `standard`, through its real header and HMAC checks.
fn verifies(standard: &Standard, headers: &HeaderMap, body: &[u8]) -> bool {
    let Ok(signed) = standard.signature(headers, SystemTime::now()) else {
        return false;
    };
    let keyring = standard.secrets().keyring().expect("a static keyring");
    let mut verifier = keyring.verifier(&signed.prefix);
    verifier.update(body);
    verifier.matches(&signed.tags).is_some()
}

#[tokio::test]
async fn forwarded_requests_verify_with_the_standard_provider_and_non_2xx_is_retried() {
    let target = Target::default();
    target.next.store(500, Ordering::SeqCst);
    let addr = support::serve(
        Router::new()
            .route("/in", post(receive))
            .with_state(target.clone()),
    )
    .await;
    let dir = std::env::temp_dir().join(format!("hookgate-forward-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let inbox = SqliteInbox::open(dir.join("inbox.db")).await.unwrap();

    let forward = Forward::new(&format!("http://{addr}/in"), FORWARD_SECRET).unwrap();
    let zernio = Zernio::new(["zernio-secret"]).unwrap();
    let service = Webhooks::new(zernio.clone())
        .inbox(inbox.clone())
        .retry_schedule(RetrySchedule::Fixed(vec![Duration::from_millis(50)]))
        .on_any::<Event, _, _>(forward.clone())
        .fallback(forward)
        .build()
        .unwrap();
    let workers = service.workers().unwrap().start();

    // Non-ASCII and escapes: forwarded byte for byte.
    let body = r#"{"id":"evt_fw","event":"webhook.test","message":"caf\u00e9 ünïcode \"q\"","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let response = service
        .clone()
        .oneshot(signed_request(&zernio, "/", body))
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.counts().await.unwrap().done != 1 {
        assert!(Instant::now() < deadline, "forward never succeeded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = target.seen.lock().unwrap().clone();
    // The 500 was a failed attempt, retried once.
    assert_eq!(seen.len(), 2);
    let standard = Standard::new([FORWARD_SECRET]).unwrap();
    let other = Standard::new(["whsec_YWJjZA=="]).unwrap();
    for (headers, forwarded) in &seen {
        assert_eq!(&forwarded[..], body.as_bytes());
        assert_eq!(headers["webhook-id"], "evt_fw");
        assert_eq!(headers["hookgate-provider"], "zernio");
        assert_eq!(headers["hookgate-event"], "webhook.test");
        assert_eq!(headers["content-type"], "application/json");
        assert!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,")
        );
        assert!(verifies(&standard, headers, forwarded));
        assert!(!verifies(&other, headers, forwarded));
    }
    workers.shutdown(Duration::from_secs(1)).await;
}

fn delivery(body: &'static str) -> Delivery {
    // A delivery as a handler sees it: through the real pipeline, inline.
    let (tx, rx) = std::sync::mpsc::channel();
    let zernio = Zernio::new(["k"]).unwrap();
    let service = Webhooks::new(zernio.clone())
        .on_any(move |_: Event, d: Delivery| {
            let tx = tx.clone();
            async move { tx.send(d).unwrap() }
        })
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = runtime
        .block_on(service.oneshot(signed_request(&zernio, "/", body)))
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = runtime.block_on(response.into_body().collect());
    rx.recv().unwrap()
}

#[tokio::test]
async fn refused_connections_and_timeouts_are_failures() {
    let d = tokio::task::spawn_blocking(|| {
        delivery(r#"{"id":"evt_x","event":"webhook.test","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}"#)
    })
    .await
    .unwrap();

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let forward = Forward::new(&format!("http://127.0.0.1:{port}/"), FORWARD_SECRET).unwrap();
    assert!(matches!(
        forward.send(&d).await,
        Err(ForwardError::Request(_))
    ));

    // A target that never answers in time.
    let addr = support::serve(Router::new().route(
        "/",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    ))
    .await;
    let forward = Forward::new(&format!("http://{addr}/"), FORWARD_SECRET)
        .unwrap()
        .timeout(Duration::from_millis(200));
    assert!(matches!(forward.send(&d).await, Err(ForwardError::Timeout)));

    // A 4xx answer.
    let addr = support::serve(
        Router::new().route("/", post(|| async { axum::http::StatusCode::FORBIDDEN })),
    )
    .await;
    let forward = Forward::new(&format!("http://{addr}/"), FORWARD_SECRET).unwrap();
    assert!(matches!(
        forward.send(&d).await,
        Err(ForwardError::Status(403))
    ));

    assert!(matches!(
        Forward::new("https://example.invalid/", FORWARD_SECRET),
        Err(ForwardError::InvalidUrl)
    ));
    assert!(Forward::new("http://127.0.0.1/", "whsec_not base64!").is_err());
}
