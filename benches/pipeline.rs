//! The whole pipeline (read, verify, envelope, claim, decode, dispatch, commit) through the
//! tower service without a socket, against a bare service that only reads the body.
//! 1 KiB distinct signed deliveries (a fresh id each, so dedup never short-circuits).
//!
//! `cargo bench --bench pipeline`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::{
    convert::Infallible,
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::{
    Delivery, Webhooks,
    keyring::Keyring,
    zernio::{self, Zernio},
};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt, service_fn};

const SECRET: &str = "bench-secret";

/// A 1 KiB `webhook.test` delivery with a fresh id.
fn delivery(n: u64, keyring: &Keyring) -> Request<Full<Bytes>> {
    let head = format!(
        r#"{{"id":"evt-{n:016}","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z","message":""#
    );
    let mut body = head.into_bytes();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(b"\"}");
    let tag = keyring.sign(b"", &body).to_hex();
    Request::post("/webhooks/zernio")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .header("x-zernio-signature", tag)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keyring = Keyring::new([SECRET]).unwrap();
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("pipeline_1KiB");
    group.throughput(Throughput::Elements(1));

    let bare = service_fn(|request: Request<Full<Bytes>>| async move {
        let body = request.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
            body.len().to_string(),
        ))))
    });
    group.bench_function("bare_read_body", |b| {
        b.to_async(&runtime).iter_batched(
            || delivery(counter.fetch_add(1, Ordering::Relaxed), &keyring),
            |request| {
                let mut service = bare;
                async move { black_box(service.ready().await.unwrap().call(request).await.unwrap()) }
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let webhooks = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on(
            |event: zernio::WebhookTest, delivery: Delivery| async move {
                black_box((event, delivery));
            },
        )
        .build()
        .unwrap();
    group.bench_function("hookgate_dispatcher", |b| {
        b.to_async(&runtime).iter_batched(
            || delivery(counter.fetch_add(1, Ordering::Relaxed), &keyring),
            |request| {
                let service = webhooks.clone();
                async move {
                    let response = service.oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    black_box(response)
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(30);
    targets = pipeline
}
criterion_main!(benches);
