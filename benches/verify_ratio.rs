//! HMAC verification of the Zernio scheme against a plain SHA-256 of the same bytes, as a
//! ratio measured in interleaved batches: on a shared machine whose speed drifts over seconds,
//! two criterion benchmarks run one after the other can differ by a few percent for no reason
//! of their own, which is the size of the effect measured here.
//!
//! Each round times a batch of SHA-256 runs, then a batch of hookgate verifications of the
//! same body (the same work as `benches/verify.rs`: header parse, keyed-state clone, HMAC,
//! constant-time compare), and keeps their ratio; the median and quartiles of the rounds are
//! printed per size.
//!
//! `cargo bench --bench verify_ratio`

use std::{
    hint::black_box,
    time::{Instant, SystemTime},
};

use hookgate::{keyring::Keyring, provider::Provider, zernio::Zernio};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

const SIZES: [usize; 3] = [4 * 1024, 64 * 1024, 1024 * 1024];
const ROUNDS: usize = 301;
/// Bytes hashed per batch: batches of about 2 ms whatever the size.
const BATCH_BYTES: usize = 4 << 20;

fn main() {
    let zernio = Zernio::new(["bench-secret"]).unwrap();
    println!("size      median  (q1 - q3)   over {ROUNDS} interleaved rounds");
    for size in SIZES {
        let body = vec![b'x'; size];
        let mut headers = HeaderMap::new();
        let tag = Keyring::new(["bench-secret"])
            .unwrap()
            .sign(b"", &body)
            .to_hex();
        headers.insert("x-zernio-signature", HeaderValue::from_str(&tag).unwrap());
        let batch = (BATCH_BYTES / size).max(1);
        let verify = || {
            let signed = zernio
                .signature(black_box(&headers), SystemTime::UNIX_EPOCH)
                .unwrap();
            let mut verifier = zernio.keyring().verifier(&signed.prefix);
            verifier.update(black_box(&body));
            assert_eq!(verifier.matches(&signed.tags), Some(0));
        };
        let mut ratios: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..batch {
                    black_box(Sha256::digest(black_box(&body)));
                }
                let sha = start.elapsed();
                let start = Instant::now();
                for _ in 0..batch {
                    verify();
                }
                start.elapsed().as_secs_f64() / sha.as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ROUNDS - 1) as f64 * p) as usize];
        println!(
            "{:<8}  {:.3}×  ({:.3} - {:.3})",
            format!("{}K", size / 1024),
            q(0.5),
            q(0.25),
            q(0.75)
        );
    }
}
