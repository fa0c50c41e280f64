//! Per-delivery cost at the service level (no socket): allocations, counted by a global
//! allocator, and instructions, counted by callgrind over two runs of different lengths.
//!
//! Three services get the same pre-built, signed deliveries of a workload
//! (`benches/workload`): `bare` (reads the body, answers its length), `handwritten` (the
//! hand-written receiver: HMAC, one typed decode, `lru` + mutex, a match on the name) and
//! `hookgate` (a `Webhooks` dispatcher with typed handlers taking the event and the
//! `Delivery`).
//!
//! ```text
//! cargo bench --bench per_delivery                      # allocations per delivery, each service
//! target/release/deps/per_delivery-* hookgate realistic 1200   # one service, for callgrind
//! ```
//!
//! Instructions per delivery: run one service under `valgrind --tool=callgrind
//! --toggle-collect=per_delivery::serve_all` with 200 and with 1200 deliveries; the difference over 1000
//! leaves set-up out (`scripts`: see BENCHMARKS.md, "Instructions per delivery").
#![allow(missing_docs)]

use std::{convert::Infallible, hint::black_box, sync::Arc};

use bytes::Bytes;
use hookgate::{
    Delivery, Webhooks,
    zernio::{self, Zernio},
};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt, service_fn, util::BoxCloneService};

#[path = "workload/mod.rs"]
mod workload;

/// Counts allocations, reallocations and bytes through the global allocator.
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

fn counts() -> (u64, u64, u64) {
    let stats = GLOBAL.stats();
    (
        stats.allocations as u64,
        stats.reallocations as u64,
        stats.bytes_allocated as u64,
    )
}

type Svc = BoxCloneService<Request<Full<Bytes>>, Response<Bytes>, Infallible>;

/// Answers the status and body as `Bytes` (collected), so every service ends the same way.
fn collected<S, B>(service: S) -> Svc
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Debug,
{
    BoxCloneService::new(service.and_then(|response: Response<B>| async move {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Ok(Response::from_parts(parts, body))
    }))
}

fn service(which: &str) -> Svc {
    match which {
        "bare" => collected(service_fn(|request: Request<Full<Bytes>>| async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                body.len().to_string(),
            ))))
        })),
        "handwritten" => {
            let receiver = Arc::new(workload::handwritten::Receiver::new(workload::SECRET));
            collected(service_fn(move |request: Request<Full<Bytes>>| {
                let receiver = receiver.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await.unwrap().to_bytes();
                    let (status, text) = receiver.handle(&parts.headers, &body);
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(text.as_bytes())));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            }))
        }
        "hookgate" => collected(
            Webhooks::new(Zernio::new([workload::SECRET]).unwrap())
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
                .unwrap(),
        ),
        other => panic!("unknown service {other} (bare, handwritten, hookgate)"),
    }
}

/// Sends the deliveries through the service, one after the other: the only function whose
/// instructions callgrind counts (`--toggle-collect=per_delivery::serve_all`), so that building and
/// signing the deliveries are left out.
#[inline(never)]
fn serve_all(
    runtime: &tokio::runtime::Runtime,
    service: &Svc,
    requests: Vec<Request<Full<Bytes>>>,
    which: &str,
) {
    runtime.block_on(async {
        for request in requests {
            let response = service.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200, "{which}: {:?}", response.body());
            black_box(response);
        }
    });
}

/// Sends `n` deliveries of `kind` through `which`; answers (allocations, reallocations, bytes)
/// counted while they ran.
fn run(which: &str, kind: workload::Kind, n: u64) -> (u64, u64, u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let service = service(which);
    let requests: Vec<_> = (0..n)
        .map(|i| workload::delivery(kind, 0, i).request())
        .collect();
    let before = counts();
    serve_all(&runtime, &service, requests, which);
    let after = counts();
    (after.0 - before.0, after.1 - before.1, after.2 - before.2)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [which, kind, n] = &args[..] {
        let kind = workload::Kind::parse(kind).expect("workload: realistic, mix or trivial");
        let n = n.parse().expect("a count");
        let (allocs, reallocs, bytes) = run(which, kind, n);
        let body = workload::delivery(kind, 0, 0).body.len();
        println!(
            "{which} {}: {n} deliveries of {body} bytes, {allocs} allocations, {reallocs} \
             reallocations, {bytes} bytes",
            kind.name()
        );
        return;
    }
    println!("allocations per delivery (difference of 1100 and 100 deliveries, over 1000)");
    println!("workload    service       allocs   reallocs  bytes");
    for kind in [workload::Kind::Realistic, workload::Kind::Trivial] {
        for which in ["bare", "handwritten", "hookgate"] {
            let small = run(which, kind, 100);
            let large = run(which, kind, 1100);
            let per = |a: u64, b: u64| (b - a) as f64 / 1000.0;
            println!(
                "{:<10}  {which:<12}  {:>6.2}   {:>6.2}    {:>7.0}",
                kind.name(),
                per(small.0, large.0),
                per(small.1, large.1),
                per(small.2, large.2)
            );
        }
    }
}
