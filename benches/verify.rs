//! HMAC verification of the Zernio scheme (header parse, keyed-state clone, HMAC over the body,
//! constant-time compare) against a plain SHA-256 of the same bytes: the floor.
//!
//! `cargo bench --bench verify`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::{hint::black_box, time::SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hookgate::{keyring::Keyring, provider::Provider, zernio::Zernio};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

const SIZES: [usize; 5] = [256, 1024, 4 * 1024, 64 * 1024, 1024 * 1024];

fn verify(c: &mut Criterion) {
    let zernio = Zernio::new(["bench-secret"]).unwrap();
    let mut group = c.benchmark_group("verify");
    for size in SIZES {
        let body = vec![b'x'; size];
        let mut headers = HeaderMap::new();
        let tag = Keyring::new(["bench-secret"])
            .unwrap()
            .sign(b"", &body)
            .to_hex();
        headers.insert("x-zernio-signature", HeaderValue::from_str(&tag).unwrap());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("sha256", size), &body, |b, body| {
            b.iter(|| Sha256::digest(black_box(body)))
        });
        group.bench_with_input(
            BenchmarkId::new("hookgate_zernio", size),
            &body,
            |b, body| {
                b.iter(|| {
                    let signed = zernio
                        .signature(black_box(&headers), SystemTime::UNIX_EPOCH)
                        .unwrap();
                    let mut verifier = zernio.secrets().keyring().unwrap().verifier(&signed.prefix);
                    verifier.update(black_box(body));
                    assert_eq!(verifier.matches(&signed.tags), Some(0));
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30);
    targets = verify
}
criterion_main!(benches);
