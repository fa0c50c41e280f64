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
use bytes::Bytes;
use hookgate::{
    Delivery, Dispatcher, WebhookLayer, Webhooks,
    dedup::{Claim, DedupError, DedupKey, DedupStore, Lease, StoreFuture},
    event::{UnknownEvent, UnknownReason},
    keyring::Keyring,
    provider::{DeliveryMeta, Envelope, EnvelopeError, Provider, SignatureError, Signed},
    zernio::{self, Zernio},
};
use http_body_util::{BodyExt as _, Full};
use support::{capture_logs, raw_exchange, serve};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::Notify};
use tower::{Layer as _, ServiceExt as _};

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
async fn retry_after_of_429_is_bounded_by_the_handler_timeout() {
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let service = {
        let (gate, entered) = (gate.clone(), entered.clone());
        Webhooks::new(Zernio::new([SECRET]).unwrap())
            .lease(Duration::from_secs(600))
            .handler_timeout(Some(Duration::from_secs(30)))
            .on(move |_: zernio::WebhookTest| {
                let (gate, entered) = (gate.clone(), entered.clone());
                async move {
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
        async move { post_signed(&url, &body("evt-bounded")).await.status() }
    });
    entered.notified().await;
    let second = post_signed(&url, &body("evt-bounded")).await;
    assert_eq!(second.status(), 429);
    // The handler timeout (the holder is done or cut off by then), not the 600 s lease.
    assert_eq!(second.headers()["retry-after"], "30");
    gate.notify_one();
    assert_eq!(first.await.unwrap(), 200);
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
        // A valid current signature with a different legacy one.
        (
            "ambiguous_signature",
            vec![
                ("x-zernio-signature", good.clone()),
                ("x-late-signature", "0".repeat(64)),
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
    let cases: [(&[u8], &str); 6] = [
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
        (b"{\"id\":\"x\",\"event\":\"\"}", "empty_discriminator"),
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

/// The envelope reads the top level of the body only; whatever path a delivery then takes
/// (a typed handler, the fallback, a duplicate, an inner service behind the layer), a signed
/// body that is not JSON further in is answered 400 and reaches no handler, as a full parse
/// would have answered it.
#[tokio::test]
async fn bodies_malformed_below_the_top_level_get_400_on_every_path() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let cases = [
        // A typed handler's event, malformed in a field it skips.
        r#"{"id":"m-1","event":"webhook.test","message":"hi","timestamp":"t","x":[1,}"#,
        // A name without a handler (the fallback's), malformed inside.
        r#"{"id":"m-2","event":"brand.new_event","x":{"a":tru}}"#,
        // A drifted payload (the fallback's), with a bad escape.
        r#"{"id":"m-3","event":"webhook.test","message":5,"x":"\q"}"#,
        // A raw control character inside a nested string.
        "{\"id\":\"m-4\",\"event\":\"webhook.test\",\"message\":\"hi\",\"timestamp\":\"t\",\"x\":{\"s\":\"a\u{1}b\"}}",
    ];
    for body in cases {
        let response = post_signed(&url, body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(json(response).await["code"], "invalid_json", "{body}");
        // Nothing was committed: the retry is refused the same way, not acknowledged.
        let response = post_signed(&url, body).await;
        assert_eq!(response.status(), 400, "retry of {body}");
    }
    // A repeated discriminator is refused before anything else.
    let repeated = r#"{"id":"m-5","event":"webhook.test","event":"brand.new_event"}"#;
    let response = post_signed(&url, repeated).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "missing_discriminator");
    // A handled key sent again with a malformed body is refused, not called a duplicate.
    let good = body("m-6");
    assert_eq!(
        json(post_signed(&url, &good).await).await["status"],
        "handled"
    );
    let bad = r#"{"id":"m-6","event":"webhook.test","x":[}"#;
    assert_eq!(post_signed(&url, bad).await.status(), 400);
    assert_eq!(seen.typed(), 1);
    assert!(seen.unknown.lock().unwrap().is_empty());

    // Behind the layer, the inner service never sees such a body.
    assert_eq!(behind_the_layer(cases[1]).await, (400, 0));
}

/// Sends `body`, signed, to a `WebhookLayer` over an inner service that counts its calls: the
/// status, and how many times the inner service was called.
async fn behind_the_layer(body: &'static str) -> (u16, usize) {
    let called = Arc::new(AtomicUsize::new(0));
    let inner = {
        let called = called.clone();
        tower::service_fn(move |_: http::Request<Full<Bytes>>| {
            called.fetch_add(1, Ordering::SeqCst);
            async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
            }
        })
    };
    let service = WebhookLayer::new(Zernio::new([SECRET]).unwrap()).layer(inner);
    let request = http::Request::post("/")
        .header("x-zernio-signature", signature(SECRET, body.as_bytes()))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    (response.status().as_u16(), called.load(Ordering::SeqCst))
}

/// Zernio's envelope read stops once it has `id` and `event`, and the typed decode reads the
/// rest: a repeat of either after that point is still refused (400 `missing_discriminator`)
/// on every path, reaches no handler, and is never answered as a duplicate.
#[tokio::test]
async fn a_repeat_after_where_the_envelope_read_stopped_is_refused_on_every_path() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let cases = [
        // The typed handler's event: its decode refuses the repeat.
        r#"{"id":"r-1","event":"webhook.test","message":"hi","timestamp":"t","event":"post.published"}"#,
        // A name without a handler (the fallback's): the dispatcher reads the rest.
        r#"{"id":"r-2","event":"brand.new_event","x":{"id":"nested is fine"},"id":"r-2b"}"#,
        // The repeat with an escaped key, as serde reads it.
        r#"{"id":"r-3","event":"webhook.test","message":"hi","timestamp":"t","ev\u0065nt":"x"}"#,
    ];
    for body in cases {
        let response = post_signed(&url, body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(
            json(response).await["code"],
            "missing_discriminator",
            "{body}"
        );
        let response = post_signed(&url, body).await;
        assert_eq!(response.status(), 400, "retry of {body}");
    }
    // A handled key sent again with a repeat is refused, not called a duplicate.
    let good = body("r-4");
    assert_eq!(
        json(post_signed(&url, &good).await).await["status"],
        "handled"
    );
    let bad = r#"{"id":"r-4","event":"webhook.test","timestamp":"t","id":"r-4"}"#;
    let response = post_signed(&url, bad).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "missing_discriminator");
    assert_eq!(seen.typed(), 1);
    assert!(seen.unknown.lock().unwrap().is_empty());

    // A handler taking a serde type of the user's (`on_named`): refused before its decode.
    let called = Arc::new(AtomicUsize::new(0));
    let service = {
        let called = called.clone();
        Webhooks::new(Zernio::new([SECRET]).unwrap())
            .on_named(&["webhook.test"], move |_: serde_json::Value| {
                called.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .build()
            .unwrap()
    };
    let url = start_plain(service).await;
    let response = post_signed(&url, cases[0]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "missing_discriminator");
    assert_eq!(called.load(Ordering::SeqCst), 0);

    // Behind the layer, the inner service never sees such a body.
    assert_eq!(behind_the_layer(cases[0]).await, (400, 0));
}

/// An event type whose `decode` does not read the body (so it proves nothing about it):
/// the dispatcher checks the body is JSON before calling its handler.
#[tokio::test]
async fn a_handler_whose_decode_reads_nothing_never_sees_a_malformed_body() {
    struct Lax;
    impl hookgate::event::Event for Lax {
        const NAMES: &'static [&'static str] = &["webhook.test"];
        fn decode(_: &str, _: &[u8]) -> Result<Self, hookgate::event::DecodeError> {
            Ok(Lax)
        }
    }
    impl hookgate::event::EventOf<Zernio> for Lax {}
    let called = Arc::new(AtomicUsize::new(0));
    let service = {
        let called = called.clone();
        Webhooks::new(Zernio::new([SECRET]).unwrap())
            .on(move |_: Lax| {
                called.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .build()
            .unwrap()
    };
    let url = start_plain(service).await;
    let bad = r#"{"id":"lax-1","event":"webhook.test","x":{"a":[1,2}}"#;
    let response = post_signed(&url, bad).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "invalid_json");
    assert_eq!(called.load(Ordering::SeqCst), 0);
    // Its decode proves nothing about the envelope either: a repeat is refused before it.
    let repeated = r#"{"id":"lax-3","event":"webhook.test","x":1,"id":"lax-4"}"#;
    let response = post_signed(&url, repeated).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["code"], "missing_discriminator");
    assert_eq!(called.load(Ordering::SeqCst), 0);
    let good = r#"{"id":"lax-2","event":"webhook.test","x":{"a":[1,2]}}"#;
    assert_eq!(
        json(post_signed(&url, good).await).await["status"],
        "handled"
    );
    assert_eq!(called.load(Ordering::SeqCst), 1);
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

/// An event type whose decode panics (a hand-written `Deserialize` gone wrong).
struct PanicsOnDecode;

impl<'de> serde::Deserialize<'de> for PanicsOnDecode {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("decode panicked")
    }
}

#[tokio::test]
async fn a_decode_that_panics_gives_500_and_releases_the_key() {
    // The dispatcher decodes as the pipeline calls it, before the handler's future exists:
    // the panic is still the handler's, and the key is released at once.
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on_named(&["webhook.test"], |_: PanicsOnDecode| async {})
        .build()
        .unwrap();
    let url = start_plain(service).await;
    let b = body("decode-panics-1");
    for attempt in 0..2 {
        let response = post_signed(&url, &b).await;
        assert_eq!(response.status(), 500, "attempt {attempt}");
        // Not `in_flight` on the retry: the claim was released, not left to its lease.
        assert_eq!(json(response).await["code"], "handler_panicked");
    }
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

#[tokio::test]
async fn empty_id_is_absent_and_each_body_gets_its_own_key() {
    let seen = Seen::default();
    let url = start(webhooks(&seen).build().unwrap()).await;
    let first = r#"{"id":"","event":"webhook.test","message":"one","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let second = r#"{"id":"","event":"webhook.test","message":"two","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    // Two different events with an empty id: both run (an empty id is no key).
    assert_eq!(
        json(post_signed(&url, first).await).await["status"],
        "handled"
    );
    assert_eq!(
        json(post_signed(&url, second).await).await["status"],
        "handled"
    );
    assert_eq!(seen.typed(), 2);
    {
        let deliveries = seen.deliveries.lock().unwrap();
        assert!(deliveries.iter().all(Delivery::key_is_body_hash));
        assert_ne!(deliveries[0].key(), deliveries[1].key());
    }
    // The same body again is a duplicate of itself, by its hash.
    assert_eq!(
        json(post_signed(&url, first).await).await["status"],
        "duplicate"
    );
    assert_eq!(seen.typed(), 2);
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

/// Zernio, except that it panics in the step named by the request's `x-panic` header.
struct PanickyProvider(Zernio);

fn panics_in(headers: &http::HeaderMap, step: &str) -> bool {
    headers.get("x-panic").is_some_and(|v| v == step)
}

/// `PanickyProvider`'s catalogue: empty, every event is unknown.
#[derive(Debug)]
struct PanickyEvent(#[allow(dead_code)] UnknownEvent);

impl hookgate::event::Event for PanickyEvent {
    const NAMES: &'static [&'static str] = &[];
    fn decode(_: &str, _: &[u8]) -> Result<Self, hookgate::event::DecodeError> {
        Err(hookgate::event::DecodeError::custom("no typed events"))
    }
}

impl hookgate::event::EventSet for PanickyEvent {
    fn unknown(event: UnknownEvent) -> Self {
        Self(event)
    }
}

impl hookgate::event::EventOf<PanickyProvider> for PanickyEvent {}

impl Provider for PanickyProvider {
    const NAME: &'static str = "panicky";
    type Event = PanickyEvent;

    fn signature_headers(&self) -> &'static [http::HeaderName] {
        self.0.signature_headers()
    }
    fn secrets(&self) -> &hookgate::secrets::Secrets {
        self.0.secrets()
    }
    fn signature(
        &self,
        headers: &http::HeaderMap,
        now: std::time::SystemTime,
    ) -> Result<Signed, SignatureError> {
        assert!(
            !panics_in(headers, "signature"),
            "provider bug in signature"
        );
        self.0.signature(headers, now)
    }
    fn envelope<'a>(
        &self,
        headers: &'a http::HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        assert!(!panics_in(headers, "envelope"), "provider bug in envelope");
        self.0.envelope(headers, body)
    }
    fn delivery_meta(&self, headers: &http::HeaderMap) -> DeliveryMeta {
        assert!(!panics_in(headers, "meta"), "provider bug in delivery_meta");
        DeliveryMeta::default()
    }
}

/// A memory store that panics in the step named in `panic_in`.
#[derive(Clone, Default)]
struct PanickyStore(Arc<PanickyState>);

#[derive(Default)]
struct PanickyState {
    inner: hookgate::dedup::MemoryStore,
    panic_in: Mutex<&'static str>,
}

impl PanickyStore {
    fn panic_in(&self, step: &'static str) {
        *self.0.panic_in.lock().unwrap() = step;
    }
    fn check(&self, step: &str) {
        assert!(
            *self.0.panic_in.lock().unwrap() != step,
            "store bug in {step}"
        );
    }
}

impl DedupStore for PanickyStore {
    fn claim<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>> {
        self.check("claim");
        self.0.inner.claim(key, lease)
    }
    fn commit<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::boxed(async move {
            self.check("commit");
            self.0.inner.commit(key, lease, ttl).await
        })
    }
    fn release<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        self.check("release");
        self.0.inner.release(key, lease)
    }
}

fn signed_request(body: &str, panic: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::post("/hook")
        .header("x-zernio-signature", signature(SECRET, body.as_bytes()))
        .header("x-panic", panic)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

#[tokio::test]
async fn a_panicking_provider_or_store_gets_500_and_the_service_keeps_serving() {
    let store = PanickyStore::default();
    // The inner service answers 200, or 500 for the message "refuse" (so the key is released).
    let inner = tower::service_fn(|request: http::Request<Full<Bytes>>| async move {
        let refuse = request.into_body().collect().await.unwrap().to_bytes();
        let refuse = String::from_utf8_lossy(&refuse).contains("\"refuse\"");
        Ok::<_, std::convert::Infallible>(
            http::Response::builder()
                .status(if refuse { 500 } else { 200 })
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
    });
    let service = WebhookLayer::new(PanickyProvider(Zernio::new([SECRET]).unwrap()))
        .store(store.clone())
        .layer(inner);
    let cases = [
        ("signature", ""),
        ("envelope", ""),
        ("meta", ""),
        ("", "claim"),
        ("", "commit"),
        ("", "release"),
    ];
    for (n, (provider_step, store_step)) in cases.into_iter().enumerate() {
        store.panic_in(store_step);
        let message = if store_step == "release" {
            "refuse"
        } else {
            "hi"
        };
        let b = format!(
            r#"{{"id":"panic-{n}","event":"webhook.test","message":"{message}","timestamp":"2026-09-01T12:00:00.000Z"}}"#
        );
        let response = service
            .clone()
            .oneshot(signed_request(&b, provider_step))
            .await
            .unwrap();
        let case = format!("{provider_step}{store_step}");
        assert_eq!(response.status(), 500, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{case}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(json["code"], "internal_error", "{case}");

        // The same service answers the next delivery as usual.
        store.panic_in("");
        let b = format!(
            r#"{{"id":"after-{n}","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}}"#
        );
        let response = service
            .clone()
            .oneshot(signed_request(&b, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "after {case}");
    }
}

/// The dispatcher as a plain service, for `oneshot`.
fn dispatcher(store: impl DedupStore) -> Dispatcher<Zernio> {
    Webhooks::new(Zernio::new([SECRET]).unwrap())
        .store(store)
        .on(|_: zernio::WebhookTest| async {})
        .build()
        .unwrap()
}

#[tokio::test]
async fn refusal_logs_carry_only_the_fields_known_at_that_point() {
    let (logs, _guard) = capture_logs();
    // A signature refusal: neither event nor key is known.
    let b = body("log-1");
    let request = http::Request::post("/hook")
        .header(
            "x-zernio-signature",
            signature("wrong-secret", b.as_bytes()),
        )
        .body(Full::new(Bytes::from(b)))
        .unwrap();
    let response = dispatcher(hookgate::dedup::MemoryStore::new())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let text = logs.text();
    let line = text
        .lines()
        .find(|line| line.contains("code=\"invalid_signature\""))
        .unwrap_or_else(|| panic!("no refusal line in:\n{text}"));
    assert!(line.contains(" WARN "), "{line}");
    assert!(!text.contains("event="), "{text}");
    assert!(!text.contains("key="), "{text}");

    // A refusal after the envelope was read: event and key are in the refusal's own line.
    let b = body("log-2");
    let request = http::Request::post("/hook")
        .header("x-zernio-signature", signature(SECRET, b.as_bytes()))
        .body(Full::new(Bytes::from(b)))
        .unwrap();
    let response = dispatcher(DownStore).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    let text = logs.text();
    let line = text
        .lines()
        .find(|line| line.contains("code=\"store_unavailable\""))
        .unwrap_or_else(|| panic!("no refusal line in:\n{text}"));
    // The fields after the message are the event's own (the span's come before it).
    let (_, fields) = line.split_once("asked to retry").unwrap();
    assert!(fields.contains("event=\"webhook.test\""), "{line}");
    assert!(fields.contains("key=\"log-2\""), "{line}");
    assert!(!text.contains("=\"\""), "an empty field in:\n{text}");
}

#[tokio::test]
async fn a_client_hanging_up_mid_body_is_logged_at_debug() {
    let (logs, _guard) = capture_logs();
    let b = body("hangup");
    // Half the body, then the stream fails as hyper's does when the peer resets.
    let frames = vec![
        Ok(http_body::Frame::data(Bytes::copy_from_slice(
            &b.as_bytes()[..b.len() / 2],
        ))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )),
    ];
    let request = http::Request::post("/hook")
        .header("x-zernio-signature", signature(SECRET, b.as_bytes()))
        .body(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
        .unwrap();
    let response = dispatcher(hookgate::dedup::MemoryStore::new())
        .oneshot(request)
        .await
        .unwrap();
    // Not a final 4xx: the sender retries 408, and a retry may well deliver the body whole.
    assert_eq!(response.status(), 408);
    let json: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(json["code"], "body_read_failed");
    let text = logs.text();
    let line = text
        .lines()
        .find(|line| line.contains("code=\"body_read_failed\""))
        .unwrap_or_else(|| panic!("no refusal line in:\n{text}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(!text.contains(" WARN "), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
}

/// A request signed for `body(id)`, with `payload` as its body stream.
fn request_for<B>(id: &str, payload: B) -> http::Request<B> {
    http::Request::post("/hook")
        .header("x-zernio-signature", signature(SECRET, body(id).as_bytes()))
        .body(payload)
        .unwrap()
}

/// A body that sends `bytes` at once, says so on `sent`, then ends only when `end` is notified.
fn held_body(
    bytes: String,
    sent: Arc<Notify>,
    end: Arc<Notify>,
) -> http_body_util::StreamBody<
    impl futures_util::Stream<Item = Result<http_body::Frame<Bytes>, std::io::Error>>,
> {
    let frames = futures_util::stream::unfold(Some(bytes), move |state| {
        let (sent, end) = (sent.clone(), end.clone());
        async move {
            match state {
                Some(bytes) => Some((Ok(http_body::Frame::data(Bytes::from(bytes))), None)),
                None => {
                    // Polled for more: the first chunk was taken.
                    sent.notify_one();
                    end.notified().await;
                    None
                }
            }
        }
    });
    http_body_util::StreamBody::new(frames)
}

#[tokio::test]
async fn bodies_past_the_buffered_bytes_cap_get_503_until_room_is_back() {
    let b = body("cap-1");
    assert!(b.len() > 75 && b.len() <= 150);
    // Room for one of these bodies, not two.
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .max_buffered_bytes(150)
        .on(|_: zernio::WebhookTest| async {})
        .build()
        .unwrap();

    // A slow sender: its whole body is buffered, the end of the stream does not come yet.
    let (sent, end) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let first = tokio::spawn(service.clone().oneshot(request_for(
        "cap-1",
        held_body(b, sent.clone(), end.clone()),
    )));
    sent.notified().await;

    // A second slow sender does not fit beside it.
    let (sent2, end2) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let response = service
        .clone()
        .oneshot(request_for("cap-2", held_body(body("cap-2"), sent2, end2)))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let json: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(json["code"], "overloaded");

    // The first one finishes and gives its bytes back: the next delivery fits.
    end.notify_one();
    let response = first.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    for id in ["cap-2", "cap-3"] {
        let response = service
            .clone()
            .oneshot(request_for(id, Full::new(Bytes::from(body(id)))))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{id}");
    }
}

#[tokio::test]
async fn a_body_in_many_chunks_is_read_whole_within_the_cap() {
    let b = body("chunks");
    // The cap is the body's size: the chunks are held once (never a chunk beside its copy
    // counted twice), with or without a Content-Length.
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .body_limit(b.len())
        .max_buffered_bytes(b.len())
        .on(|_: zernio::WebhookTest| async {})
        .build()
        .unwrap();
    for declared in [false, true] {
        let frames: Vec<Result<_, std::io::Error>> = b
            .as_bytes()
            .chunks(7)
            .map(|chunk| Ok(http_body::Frame::data(Bytes::copy_from_slice(chunk))))
            .collect();
        let mut builder = http::Request::post("/hook")
            .header("x-zernio-signature", signature(SECRET, b.as_bytes()));
        if declared {
            builder = builder.header("content-length", b.len());
        }
        let request = builder
            .body(http_body_util::StreamBody::new(futures_util::stream::iter(
                frames,
            )))
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "declared: {declared}");
        let json: serde_json::Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        // The second round is the same body: a duplicate, so both read it whole and verified.
        let expected = if declared { "duplicate" } else { "handled" };
        assert_eq!(json["status"], expected);
    }
}
