//! The whole pipeline (read, verify, envelope, claim, decode, dispatch, commit) through the
//! tower service without a socket, against the same-run baselines: a bare service that only
//! reads the body, and the hand-written receiver (`benches/workload/handwritten.rs`: HMAC, one
//! typed decode, `lru` + mutex, a match on the event name).
//!
//! Workloads (`benches/workload`): `realistic`, Zernio's ~1 KiB `post.published` with every
//! header Zernio sends, and, labelled, the old `trivial` `webhook.test` (one 920-byte ASCII
//! string, two headers). Distinct signed deliveries (a fresh id each: dedup never
//! short-circuits).
//!
//! `cargo bench --bench pipeline`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::{
    convert::Infallible,
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::{
    Delivery, Webhooks,
    zernio::{self, Zernio},
};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt, service_fn};

#[path = "workload/mod.rs"]
mod workload;

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counter = AtomicU64::new(0);
    let handwritten = Arc::new(workload::handwritten::Receiver::new(workload::SECRET));
    let webhooks = Webhooks::new(Zernio::new([workload::SECRET]).unwrap())
        .on(
            |event: zernio::PostPublished, delivery: Delivery| async move {
                black_box((event, delivery));
            },
        )
        .on(
            |event: zernio::WebhookTest, delivery: Delivery| async move {
                black_box((event, delivery));
            },
        )
        .build()
        .unwrap();
    for kind in [workload::Kind::Realistic, workload::Kind::Trivial] {
        let mut group = c.benchmark_group(format!("pipeline_{}", kind.name()));
        group.throughput(Throughput::Elements(1));
        let next =
            || workload::delivery(kind, 0, counter.fetch_add(1, Ordering::Relaxed)).request();

        let bare = service_fn(|request: Request<Full<Bytes>>| async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                body.len().to_string(),
            ))))
        });
        group.bench_function("bare_read_body", |b| {
            b.to_async(&runtime).iter_batched(
                next,
                |request| {
                    let mut service = bare;
                    async move {
                        black_box(service.ready().await.unwrap().call(request).await.unwrap())
                    }
                },
                criterion::BatchSize::SmallInput,
            )
        });

        group.bench_function("handwritten", |b| {
            b.to_async(&runtime).iter_batched(
                next,
                |request| {
                    let receiver = handwritten.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let (status, text) = receiver.handle(&parts.headers, &body);
                        assert_eq!(status, 200);
                        black_box(Response::new(Full::new(Bytes::from_static(
                            text.as_bytes(),
                        ))))
                    }
                },
                criterion::BatchSize::SmallInput,
            )
        });

        group.bench_function("hookgate_dispatcher", |b| {
            b.to_async(&runtime).iter_batched(
                next,
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
