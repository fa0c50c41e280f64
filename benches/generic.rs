//! The generic provider against the hand-written ones, as ratios measured in interleaved
//! batches (see `benches/verify_ratio.rs` for why interleaved: a shared machine drifts by a
//! few percent over seconds, the size of the effects measured here).
//!
//! 1. The whole pipeline at 1 KiB: `Generic` configured as Zernio's scheme (hex HMAC-SHA256 of
//!    the body in `X-Zernio-Signature`, event `event`, key `id` from the JSON body) against the
//!    `Zernio` provider, both through `Webhooks` with the same handler (`IgnoredAny`, so only
//!    the providers differ), fresh ids (no duplicate short-circuits).
//! 2. Verification alone from 8 KiB (header parse, keyed-state clone, HMAC, constant-time
//!    compare) of generic HMAC-SHA1/256/512 schemes against a plain SHA-256 of the same bytes;
//!    SHA-512 also against a plain SHA-512 (no CPU instruction for it here, where SHA-256 and
//!    SHA-1 have SHA-NI).
//!
//! `cargo bench --bench generic`

use std::{
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
    time::{Instant, SystemTime},
};

use bytes::Bytes;
use hookgate::{
    Delivery, Webhooks,
    generic::{Generic, Signer},
    keyring::{Algorithm, Keyring},
    provider::Provider,
    zernio::Zernio,
};
use http::Request;
use http_body_util::Full;
use sha2::{Digest, Sha256, Sha512};
use tower::{Service, ServiceExt};

const SECRET: &str = "bench-secret";
const ROUNDS: usize = 101;

/// A 1 KiB `webhook.test` delivery with a fresh id, signed as Zernio signs.
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

fn as_zernio() -> Generic {
    Generic::builder()
        .header("X-Zernio-Signature")
        .event_json("event")
        .id_json("id")
        .secrets([SECRET])
        .unwrap()
}

fn summary(ratios: &mut [f64]) -> String {
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p) as usize];
    format!("{:.3}× ({:.3} - {:.3})", q(0.5), q(0.25), q(0.75))
}

fn pipeline() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keyring = Keyring::new([SECRET]).unwrap();
    let counter = AtomicU64::new(0);
    let handler = |event: serde::de::IgnoredAny, delivery: Delivery| async move {
        black_box((event, delivery));
    };
    let zernio = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .on_named(&["webhook.test"], handler)
        .build()
        .unwrap();
    let generic = Webhooks::new(as_zernio())
        .on_named(&["webhook.test"], handler)
        .build()
        .unwrap();
    const BATCH: usize = 2000;
    let time = |service: &mut dyn FnMut(Request<Full<Bytes>>)| {
        let requests: Vec<_> = (0..BATCH)
            .map(|_| delivery(counter.fetch_add(1, Ordering::Relaxed), &keyring))
            .collect();
        let start = Instant::now();
        for request in requests {
            service(request);
        }
        start.elapsed().as_secs_f64() / BATCH as f64
    };
    let (mut ratios, mut zernio_ns, mut generic_ns) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let z = time(&mut |request| {
            let mut service = zernio.clone();
            let response = runtime.block_on(async {
                ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                    .await
                    .unwrap()
                    .call(request)
                    .await
                    .unwrap()
            });
            assert_eq!(response.status(), 200);
        });
        let g = time(&mut |request| {
            let mut service = generic.clone();
            let response = runtime.block_on(async {
                ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                    .await
                    .unwrap()
                    .call(request)
                    .await
                    .unwrap()
            });
            assert_eq!(response.status(), 200);
        });
        ratios.push(g / z);
        zernio_ns.push(z * 1e9);
        generic_ns.push(g * 1e9);
    }
    zernio_ns.sort_by(f64::total_cmp);
    generic_ns.sort_by(f64::total_cmp);
    println!(
        "pipeline 1 KiB: Zernio {:.0} ns, generic as Zernio {:.0} ns (medians); generic / Zernio {}",
        zernio_ns[ROUNDS / 2],
        generic_ns[ROUNDS / 2],
        summary(&mut ratios)
    );
}

fn verification() {
    const SIZES: [usize; 4] = [8 * 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
    const BATCH_BYTES: usize = 4 << 20;
    println!("verification / plain hash of the same bytes: median (q1 - q3) over {ROUNDS} rounds");
    println!(
        "size   HMAC-SHA1 / SHA-256    HMAC-SHA256 / SHA-256  HMAC-SHA512 / SHA-256  HMAC-SHA512 / SHA-512"
    );
    for size in SIZES {
        let body = vec![b'x'; size];
        let schemes: Vec<_> = [
            Algorithm::HmacSha1,
            Algorithm::HmacSha256,
            Algorithm::HmacSha512,
        ]
        .into_iter()
        .map(|algorithm| {
            let generic = Generic::builder()
                .algorithm(algorithm)
                .header("X-Signature")
                .prefix("sha256=")
                .secrets([SECRET])
                .unwrap();
            let keyring = Keyring::with_algorithm(algorithm, [SECRET]).unwrap();
            let mut parts = Request::post("/").body(()).unwrap().into_parts().0;
            generic
                .sign_parts(
                    Signer::Keyring(&keyring),
                    &mut parts,
                    &body,
                    SystemTime::now(),
                )
                .unwrap();
            (generic, parts)
        })
        .collect();
        let batch = (BATCH_BYTES / size).max(1);
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64()
        };
        let sha256 = || {
            black_box(Sha256::digest(black_box(&body)));
        };
        let sha512 = || {
            black_box(Sha512::digest(black_box(&body)));
        };
        let verify = |i: usize| {
            let (generic, parts) = &schemes[i];
            let signed = generic
                .request_signature(black_box(parts), SystemTime::UNIX_EPOCH)
                .unwrap();
            let keyring = generic.secrets().keyring().unwrap();
            let mut verifier = keyring.verifier_for(&signed.prefix, &signed.tags);
            verifier.update(black_box(&body));
            assert_eq!(verifier.matches(&signed.tags), Some(0));
        };
        let mut ratios = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            let base = time(&sha256);
            for (i, ratios) in ratios.iter_mut().take(3).enumerate() {
                ratios.push(time(&|| verify(i)) / base);
            }
            let base512 = time(&sha512);
            ratios[3].push(time(&|| verify(2)) / base512);
        }
        let [a, b, c, d] = &mut ratios;
        println!(
            "{:<5}  {:<21}  {:<21}  {:<21}  {}",
            format!("{}K", size / 1024),
            summary(a),
            summary(b),
            summary(c),
            summary(d)
        );
    }
}

/// Runs `requests` through `service` (the function callgrind counts, see [`callgrind`]).
#[inline(never)]
fn counted_batch<S>(
    runtime: &tokio::runtime::Runtime,
    service: &S,
    requests: Vec<Request<Full<Bytes>>>,
) where
    S: Service<Request<Full<Bytes>>> + Clone,
    S::Error: std::fmt::Debug,
{
    for request in requests {
        let mut service = service.clone();
        runtime.block_on(async {
            ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                .await
                .unwrap()
                .call(request)
                .await
                .unwrap();
        });
    }
}

/// Instruction counts, which a loaded machine does not disturb: with
/// `HOOKGATE_GENERIC_CALLGRIND=zernio` (or `generic`), runs 1000 pipeline deliveries of that
/// provider in `counted_batch` only, for
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*counted_batch*'`.
fn callgrind(which: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keyring = Keyring::new([SECRET]).unwrap();
    let requests: Vec<_> = (0..1000).map(|n| delivery(n, &keyring)).collect();
    let handler = |event: serde::de::IgnoredAny, delivery: Delivery| async move {
        black_box((event, delivery));
    };
    match which {
        "zernio" => {
            let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
                .on_named(&["webhook.test"], handler)
                .build()
                .unwrap();
            counted_batch(&runtime, &service, requests);
        }
        _ => {
            let service = Webhooks::new(as_zernio())
                .on_named(&["webhook.test"], handler)
                .build()
                .unwrap();
            counted_batch(&runtime, &service, requests);
        }
    }
}

fn main() {
    if let Ok(which) = std::env::var("HOOKGATE_GENERIC_CALLGRIND") {
        return callgrind(&which);
    }
    pipeline();
    verification();
}
