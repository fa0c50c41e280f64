//! The status contract of the README, one test per row, over real HTTP: an axum server
//! on 127.0.0.1 and a real client.
#![cfg(all(feature = "zernio", feature = "testing"))]

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::Router;
use hookgate::{
    Delivery, Dispatcher, Webhooks,
    dedup::{Claim, DedupError, DedupKey, DedupStore, Lease, StoreFuture},
    event::{UnknownEvent, UnknownReason},
    keyring::Keyring,
    zernio::{self, Zernio},
};
use support::{raw_exchange, serve};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::Notify};

const SECRET: &str = "test-secret";

fn body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    )
}

fn signature(secret: &str, body: &[u8]) -> String {
    Keyring::new([secret]).unwrap().sign(b"", body).to_hex()
}

/// What the handlers saw.
#[derive(Clone, Default)]
struct Seen {
    typed: Arc<AtomicUsize>,
    unknown: Arc<Mutex<Vec<UnknownEvent>>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Seen {
    fn typed(&self) -> usize {
        self.typed.load(Ordering::SeqCst)
    }
}

/// Zernio webhooks whose `webhook.test` handler counts, then runs `behaviour` on the message.
fn webhooks(seen: &Seen) -> Webhooks<Zernio, Seen> {
    Webhooks::with_state(Zernio::new([SECRET]).unwrap(), seen.clone())
        .on(
            |event: zernio::WebhookTest, delivery: Delivery, seen: Seen| async move {
                seen.typed.fetch_add(1, Ordering::SeqCst);
                seen.deliveries.lock().unwrap().push(delivery);
                match event.message.as_str() {
                    "fail" => Err("handler says no".to_owned()),
                    "panic" => panic!("handler panicked on purpose"),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Ok(())
                    }
                    _ => Ok(()),
                }
            },
        )
        .fallback(|event: UnknownEvent, _: Delivery, seen: Seen| async move {
            seen.unknown.lock().unwrap().push(event);
        })
}

async fn start(service: Dispatcher<Zernio, Seen>) -> String {
    let addr = serve(Router::new().route_service("/webhooks/zernio", service)).await;
    format!("http://{addr}/webhooks/zernio")
}

async fn post_signed(url: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-zernio-signature", signature(SECRET, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn handled_then_duplicate_calls_the_handler_once() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let response = post_signed(&url, &body("evt-1")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "handled");
    let response = post_signed(&url, &body("evt-1")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "duplicate");
    assert_eq!(seen.typed(), 1);

    let delivery = seen.deliveries.lock().unwrap()[0].clone();
    assert_eq!(
        (delivery.provider(), delivery.event(), delivery.key()),
        ("zernio", "webhook.test", "evt-1")
    );
    assert_eq!(delivery.raw().as_ref(), body("evt-1").as_bytes());
    assert_eq!(delivery.headers()["x-zernio-signature"], "[redacted]");
    assert_eq!(delivery.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn concurrent_duplicate_gets_429_with_retry_after() {
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let service = {
        let (gate, entered, calls) = (gate.clone(), entered.clone(), calls.clone());
        Webhooks::new(Zernio::new([SECRET]).unwrap())
            .on(move |_: zernio::WebhookTest| {
                let (gate, entered, calls) = (gate.clone(), entered.clone(), calls.clone());
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    entered.notify_one();
                    gate.notified().await;
                }
            })
            .build()
            .unwrap()
    };
    let url = start_plain(service).await;
    let first = tokio::spawn({
        let url = url.clone();
        async move { post_signed(&url, &body("evt-race")).await.status() }
    });
    entered.notified().await;
    let second = post_signed(&url, &body("evt-race")).await;
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(json(second).await["code"], "in_flight");
    gate.notify_one();
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(post_signed(&url, &body("evt-race")).await.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_signatures_get_401() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let b = body("evt-sig");
    let client = reqwest::Client::new();
    let good = signature(SECRET, b.as_bytes());
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("missing_signature", vec![]),
        (
            "malformed_signature",
            vec![("x-zernio-signature", "sha256=abc".to_owned())],
        ),
        (
            "invalid_signature",
            vec![(
                "x-zernio-signature",
                signature("wrong-secret", b.as_bytes()),
            )],
        ),
        (
            "ambiguous_signature",
            vec![
                ("x-zernio-signature", good.clone()),
                ("x-zernio-signature", "0".repeat(64)),
            ],
        ),
        (
            "ambiguous_signature",
            vec![
                ("x-zernio-signature", "0".repeat(64)),
                ("x-zernio-signature", good.clone()),
            ],
        ),
    ];
    for (code, headers) in cases {
        let mut request = client.post(&url).body(b.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{code}");
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(&good),
            "the expected signature must never be sent back"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["code"],
            code
        );
    }
    // A tampered body with the original signature.
    let response = client
        .post(&url)
        .header("x-zernio-signature", &good)
        .body(b.replace("hi", "ho"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(seen.typed(), 0);
}

#[tokio::test]
async fn rotated_secret_is_accepted() {
    let seen = Seen::default();
    let service = Webhooks::with_state(Zernio::new(["new-secret", SECRET]).unwrap(), seen.clone())
        .on(
            |_: zernio::WebhookTest, _: Delivery, seen: Seen| async move {
                seen.typed.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build()
        .unwrap();
    let url = start(service).await;
    // Signed with the previous secret, as Zernio's retries are for ~51 h after a rotation.
    assert_eq!(post_signed(&url, &body("evt-rot")).await.status(), 200);
    assert_eq!(seen.typed(), 1);
}

#[tokio::test]
async fn oversize_by_content_length_is_refused_before_reading() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).body_limit(1024).build().unwrap()).await;
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Announce 10 MB and send nothing: the answer must come without the body.
    let head = "POST /webhooks/zernio HTTP/1.1\r\nhost: x\r\nx-zernio-signature: 00\r\ncontent-length: 10000000";
    let response = raw_exchange(addr, head, b"", Duration::from_secs(5)).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.body.contains("payload_too_large"));
}

#[tokio::test]
async fn oversize_stream_is_refused_without_reading_to_the_end() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).body_limit(1024).build().unwrap()).await;
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let sig = signature(SECRET, b"irrelevant");
    let head = format!(
        "POST /webhooks/zernio HTTP/1.1\r\nhost: x\r\nx-zernio-signature: {sig}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 2 KiB in 512-byte chunks, past the 1 KiB limit, and the terminating chunk never sent.
    for _ in 0..4 {
        stream
            .write_all(format!("200\r\n{}\r\n", "a".repeat(512)).as_bytes())
            .await
            .unwrap();
    }
    let response = support::read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(seen.typed(), 0);
}

#[tokio::test]
async fn trickling_body_times_out_with_408() {
    let seen = Seen::default();
    let url = start(
        webhooks(&seen)
            .read_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .await;
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let sig = signature(SECRET, b"x");
    let head = format!(
        "POST /webhooks/zernio HTTP/1.1\r\nhost: x\r\nx-zernio-signature: {sig}\r\ncontent-length: 100"
    );
    // Ten bytes of the hundred announced, then silence.
    let response = raw_exchange(addr, &head, b"{\"id\":\"1\",", Duration::from_secs(5)).await;
    assert_eq!(response.status, 408, "{response:?}");
}

#[tokio::test]
async fn signed_bodies_that_are_not_envelopes_get_400() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let client = reqwest::Client::new();
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "invalid_json"),
        (
            b"{\"id\":\"x\",\"event\":\"webhook.test\",\"message\":\"\xff\xfe\"}",
            "invalid_utf8",
        ),
        (b"[1,2,3]", "not_an_object"),
        (
            b"{\"id\":\"x\",\"message\":\"no event\"}",
            "missing_discriminator",
        ),
        (b"{\"id\":\"x\",\"event\":42}", "missing_discriminator"),
    ];
    for (bytes, code) in cases {
        let sig = Keyring::new([SECRET]).unwrap().sign(b"", bytes).to_hex();
        let response = client
            .post(&url)
            .header("x-zernio-signature", sig)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{code}");
        assert_eq!(json(response).await["code"], code);
    }
    assert_eq!(seen.typed(), 0);
}

#[tokio::test]
async fn unknown_and_drifted_events_reach_the_fallback_with_raw_json() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let unknown = r#"{"id":"u-1","event":"brand.new_event","whatever":{"x":1}}"#;
    let drifted = r#"{"id":"d-1","event":"webhook.test","message":"hi","timestamp":12345}"#;
    assert_eq!(post_signed(&url, unknown).await.status(), 200);
    assert_eq!(post_signed(&url, drifted).await.status(), 200);
    let events = seen.unknown.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].name(), "brand.new_event");
    assert_eq!(events[0].reason(), &UnknownReason::UnknownName);
    assert_eq!(events[0].raw().as_ref(), unknown.as_bytes());
    assert_eq!(events[0].json()["whatever"]["x"], 1);
    assert_eq!(events[1].name(), "webhook.test");
    let error = events[1]
        .decode_error()
        .expect("drift carries its decode error");
    assert_eq!(error.path(), "timestamp");
    assert_eq!(seen.typed(), 0);
    // Both were handled (by the fallback): their retries are duplicates.
    assert_eq!(
        json(post_signed(&url, unknown).await).await["status"],
        "duplicate"
    );
}

#[tokio::test]
async fn unknown_event_without_fallback_is_acknowledged() {
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on(|_: zernio::WebhookTest| async {})
        .build()
        .unwrap();
    let url = start_plain(service).await;
    let response = post_signed(&url, r#"{"id":"u-2","event":"brand.new_event"}"#).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ignored");
}

async fn start_plain(service: Dispatcher<Zernio>) -> String {
    let addr = serve(Router::new().route_service("/webhooks/zernio", service)).await;
    format!("http://{addr}/webhooks/zernio")
}

#[tokio::test]
async fn handler_error_and_panic_give_500_and_release_the_key() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    for (id, message, code) in [
        ("e-1", "fail", "handler_error"),
        ("p-1", "panic", "handler_panicked"),
    ] {
        let b = body(id).replace("\"hi\"", &format!("\"{message}\""));
        let response = post_signed(&url, &b).await;
        assert_eq!(response.status(), 500, "{message}");
        assert_eq!(json(response).await["code"], code);
        // The retry is handled again (the key was released), and fails again the same way.
        assert_eq!(post_signed(&url, &b).await.status(), 500, "{message}");
    }
    assert_eq!(seen.typed(), 4);
    // The server keeps serving.
    assert_eq!(post_signed(&url, &body("after-panic")).await.status(), 200);
}

#[tokio::test]
async fn handler_timeout_gives_503_and_releases_the_key() {
    let seen = Seen::default();
    let url = start(
        webhooks(&seen)
            .handler_timeout(Some(Duration::from_millis(100)))
            .build()
            .unwrap(),
    )
    .await;
    let b = body("slow-1").replace("\"hi\"", "\"slow\"");
    let response = post_signed(&url, &b).await;
    assert_eq!(response.status(), 503);
    assert_eq!(json(response).await["code"], "handler_timeout");
    // Released: the retry runs the handler again (not 429, not duplicate).
    assert_eq!(post_signed(&url, &b).await.status(), 503);
    assert_eq!(seen.typed(), 2);
}

#[tokio::test]
async fn wrong_method_gets_405() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn body_without_key_deduplicates_on_its_hash() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let b = r#"{"event":"webhook.test","message":"no id","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    // WebhookTest needs an id, so this goes to the fallback; what matters is the key.
    assert_eq!(json(post_signed(&url, b).await).await["status"], "handled");
    assert_eq!(
        json(post_signed(&url, b).await).await["status"],
        "duplicate"
    );
}

/// A store that is down: every call fails, as a Redis outage would.
struct DownStore;

impl DedupStore for DownStore {
    fn claim<'a>(
        &'a self,
        _: &'a DedupKey,
        _: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>> {
        StoreFuture::ready(Err(DedupError::new("connection refused")))
    }
    fn commit<'a>(
        &'a self,
        _: &'a DedupKey,
        _: Lease,
        _: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::ready(Err(DedupError::new("connection refused")))
    }
    fn release<'a>(
        &'a self,
        _: &'a DedupKey,
        _: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::ready(Err(DedupError::new("connection refused")))
    }
}

#[tokio::test]
async fn store_unavailable_gives_503_and_skips_the_handler() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).store(DownStore).build().unwrap()).await;
    let response = post_signed(&url, &body("down-1")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(json(response).await["code"], "store_unavailable");
    assert_eq!(seen.typed(), 0);
}

#[tokio::test]
async fn two_handlers_for_one_event_is_a_build_error() {
    let result = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on(|_: zernio::WebhookTest| async {})
        .on(|_: zernio::WebhookTest, _: Delivery| async {})
        .build();
    assert_eq!(
        result.unwrap_err(),
        hookgate::BuildError::DuplicateHandler("webhook.test")
    );
}

/// Any JSON object, for a catch-all handler.
struct AnyEvent(serde_json::Value);

impl hookgate::event::Event for AnyEvent {
    const NAMES: &'static [&'static str] = &[];
    fn decode(_: &str, raw: &[u8]) -> Result<Self, hookgate::event::DecodeError> {
        hookgate::event::decode_json(raw).map(AnyEvent)
    }
}

impl hookgate::event::EventOf<Zernio> for AnyEvent {}

#[tokio::test]
async fn catch_all_takes_names_without_their_own_handler() {
    let seen = Seen::default();
    let service = webhooks(&seen)
        .on_any(
            |event: AnyEvent, delivery: Delivery, seen: Seen| async move {
                assert_eq!(event.0["event"], delivery.event());
                seen.typed.fetch_add(100, Ordering::SeqCst);
            },
        )
        .build()
        .unwrap();
    let url = start(service).await;
    assert_eq!(post_signed(&url, &body("any-1")).await.status(), 200);
    assert_eq!(seen.typed(), 1, "webhook.test keeps its own handler");
    assert_eq!(
        post_signed(&url, r#"{"id":"any-2","event":"brand.new"}"#)
            .await
            .status(),
        200
    );
    assert_eq!(seen.typed(), 101);
    assert!(seen.unknown.lock().unwrap().is_empty());

    let twice = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on_any(|_: AnyEvent| async {})
        .on_any(|_: AnyEvent| async {})
        .build();
    assert_eq!(twice.unwrap_err(), hookgate::BuildError::DuplicateCatchAll);
}

#[tokio::test]
async fn a_type_naming_no_event_must_use_on_any() {
    let result = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on(|_: AnyEvent| async {})
        .build();
    assert!(
        matches!(result.unwrap_err(), hookgate::BuildError::NoEventNames(name) if name.contains("AnyEvent"))
    );
}
