//! Two replicas of a webhook receiver sharing one Redis: a delivery that reaches both (a
//! provider's retry landing on the other machine, a duplicate) is handled once.
//!
//! ```text
//! redis-server --port 6379 --save '' --appendonly no &   # or any Redis you have
//! cargo run --example redis_replicas --features redis
//! ```
//!
//! `HOOKGATE_REDIS_URL` picks another Redis (default `redis://127.0.0.1:6379/`). Each replica
//! here is an axum server on its own port, as it would be on its own machine behind a load
//! balancer; the example then plays the provider and sends every delivery to both.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::Router;
use hookgate::{Delivery, Webhooks, dedup::RedisDedupStore, keyring::Keyring, zernio};

const SECRET: &str = "example-secret";

/// One replica: its own store (its own Redis connection), the same Redis and prefix as the
/// others. Returns the address it serves on.
async fn replica(name: &'static str, redis: &str, handled: Arc<AtomicUsize>) -> String {
    let store = RedisDedupStore::connect(redis)
        .await
        .unwrap_or_else(|e| panic!("{e} (is redis-server running?)"))
        .prefix("example:dedup:");
    let webhooks = Webhooks::new(zernio::Zernio::new([SECRET]).expect("a valid secret"))
        .store(store)
        .on(move |_: zernio::WebhookTest, delivery: Delivery| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                println!("{name} handled {}", delivery.key());
            }
        })
        .build()
        .expect("one handler");
    let app = Router::new().route_service("/webhooks/zernio", webhooks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/webhooks/zernio")
}

#[tokio::main]
async fn main() {
    let redis = std::env::var("HOOKGATE_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let handled = Arc::new(AtomicUsize::new(0));
    let a = replica("replica A", &redis, handled.clone()).await;
    let b = replica("replica B", &redis, handled.clone()).await;

    // Play the provider: each delivery goes to both replicas at the same time.
    let client = reqwest::Client::new();
    let run = std::process::id();
    for n in 0..5 {
        let body = format!(
            r#"{{"id":"evt_{run}_{n}","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}}"#
        );
        let signature = Keyring::new([SECRET])
            .unwrap()
            .sign(b"", body.as_bytes())
            .to_hex();
        let send = |url: &str| {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("x-zernio-signature", &signature)
                .body(body.clone())
                .send()
        };
        let (to_a, to_b) = tokio::join!(send(&a), send(&b));
        // One replica handles it (200); the other finds it in flight (429, the provider retries
        // later) or already handled (200, handler not called).
        println!(
            "evt_{run}_{n}: replica A {}, replica B {}",
            to_a.unwrap().status(),
            to_b.unwrap().status()
        );
    }
    println!(
        "5 deliveries sent twice each, handled {} times",
        handled.load(Ordering::SeqCst)
    );
}
