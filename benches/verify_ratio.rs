//! HMAC verification of the Zernio scheme against a plain SHA-256 of the same bytes, as a
//! ratio measured in interleaved batches: on a shared machine whose speed drifts over seconds,
//! two criterion benchmarks run one after the other can differ by a few percent for no reason
//! of their own, which is the size of the effect measured here.
//!
//! Each round times a batch of SHA-256 runs, then a batch of hookgate verifications of the
//! same body (the same work as `benches/verify.rs`: header parse, keyed-state clone, HMAC,
//! constant-time compare), then a batch of the HMAC check alone (keyed-state clone, HMAC,
//! compare: no header), and keeps the two ratios; the median and quartiles of the rounds are
//! printed per size.
//!
//! `cargo bench --bench verify_ratio`

use std::{
    hint::black_box,
    time::{Instant, SystemTime},
};

use hookgate::{
    keyring::{Keyring, Tag},
    provider::Provider,
    zernio::Zernio,
};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

const SIZES: [usize; 5] = [4 * 1024, 8 * 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const ROUNDS: usize = 301;
/// Bytes hashed per batch: batches of about 2 ms whatever the size.
const BATCH_BYTES: usize = 4 << 20;

fn main() {
    let zernio = Zernio::new(["bench-secret"]).unwrap();
    println!("ratio to SHA-256: median (q1 - q3) over {ROUNDS} interleaved rounds");
    println!("size      Zernio scheme             HMAC check alone");
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
            let mut verifier = zernio.secrets().keyring().unwrap().verifier(&signed.prefix);
            verifier.update(black_box(&body));
            assert_eq!(verifier.matches(&signed.tags), Some(0));
        };
        let offered = [Tag::from_hex(&tag).unwrap()];
        let hmac_only = || {
            let mut verifier = zernio.secrets().keyring().unwrap().verifier(b"");
            verifier.update(black_box(&body));
            assert_eq!(verifier.matches(black_box(&offered)), Some(0));
        };
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64()
        };
        let sha = || {
            black_box(Sha256::digest(black_box(&body)));
        };
        let (mut scheme, mut alone): (Vec<f64>, Vec<f64>) = (0..ROUNDS)
            .map(|_| {
                let base = time(&sha);
                (time(&verify) / base, time(&hmac_only) / base)
            })
            .unzip();
        let summary = |ratios: &mut Vec<f64>| {
            ratios.sort_by(f64::total_cmp);
            let q = |p: f64| ratios[((ROUNDS - 1) as f64 * p) as usize];
            format!("{:.3}× ({:.3} - {:.3})", q(0.5), q(0.25), q(0.75))
        };
        println!(
            "{:<8}  {:<24}  {}",
            format!("{}K", size / 1024),
            summary(&mut scheme),
            summary(&mut alone)
        );
    }
}
