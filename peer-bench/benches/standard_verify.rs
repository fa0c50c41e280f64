//! Standard Webhooks verification of one delivery, hookgate against peer crates: `svix`,
//! `standardwebhooks` and `webhook-verify`, at body sizes from 256 B to 1 MiB.
//!
//! Each size is one group (`standard_verify_256B`, ...) with one function per library. Every
//! library verifies the same delivery (`webhook-id`, `webhook-timestamp` = now,
//! `webhook-signature: v1,<base64>`) and is asserted to accept it once before timing, so a
//! mis-wired comparison fails loudly instead of timing an early rejection. Per iteration each
//! library does its whole check: header parsing, timestamp tolerance, HMAC-SHA256 over
//! `id.timestamp.body`, signature comparison.
//!
//! `cargo bench -p hookgate-peer-bench`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::{
    hint::black_box,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::{provider::Provider as _, standard::Standard};
use http::{HeaderMap, HeaderValue};

/// The test secret of the Standard Webhooks and Svix libraries.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

const SIZES: [(usize, &str); 5] = [
    (256, "256B"),
    (1024, "1KiB"),
    (4 * 1024, "4KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// A JSON-ish ASCII body of exactly `size` bytes: `{"type":"x","data":"aaa…"}`.
fn body(size: usize) -> Vec<u8> {
    const HEAD: &[u8] = br#"{"type":"x","data":""#;
    const TAIL: &[u8] = br#""}"#;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(HEAD);
    body.resize(size - TAIL.len(), b'a');
    body.extend_from_slice(TAIL);
    assert_eq!(body.len(), size);
    body
}

fn standard_verify(c: &mut Criterion) {
    let standard = Standard::new([SECRET]).unwrap();
    let svix = svix::webhooks::Webhook::new(SECRET).unwrap();
    let standardwebhooks = standardwebhooks::Webhook::new(SECRET).unwrap();
    let webhook_verify_secret = webhook_verify::Secret::new(SECRET);

    for (size, label) in SIZES {
        let body = body(size);
        // Now, per size: every group runs well within the 5-minute tolerance of all four.
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let signature = standard.sign(ID, timestamp, &body);
        // The peers sign alike: the same delivery for all four.
        assert_eq!(svix.sign(ID, timestamp, &body).unwrap(), signature);
        assert_eq!(
            standardwebhooks.sign(ID, timestamp, &body).unwrap(),
            signature
        );

        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static(ID));
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).unwrap(),
        );
        // webhook-verify's own header form (its default features have no `http::HeaderMap`).
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();

        let hookgate_verify = |headers: &HeaderMap, body: &[u8]| {
            let signed = standard.signature(headers, SystemTime::now()).unwrap();
            let mut verifier = standard
                .secrets()
                .keyring()
                .unwrap()
                .verifier(&signed.prefix);
            verifier.update(body);
            verifier.matches(&signed.tags)
        };
        let webhook_verify = |pairs: &Vec<(String, String)>, body: &[u8]| {
            webhook_verify::verify(
                webhook_verify::Provider::StandardWebhooks,
                pairs,
                body,
                &webhook_verify_secret,
                webhook_verify::VerifyOptions::default(),
            )
        };

        // Each accepts the delivery and refuses it with one body byte changed.
        let mut tampered = body.clone();
        tampered[size / 2] = b'b';
        assert_eq!(hookgate_verify(&headers, &body), Some(0));
        assert_eq!(hookgate_verify(&headers, &tampered), None);
        svix.verify(&body, &headers).unwrap();
        assert!(matches!(
            svix.verify(&tampered, &headers),
            Err(svix::webhooks::WebhookError::InvalidSignature)
        ));
        standardwebhooks.verify(&body, &headers).unwrap();
        assert!(matches!(
            standardwebhooks.verify(&tampered, &headers),
            Err(standardwebhooks::WebhookError::InvalidSignature)
        ));
        webhook_verify(&pairs, &body).unwrap();
        assert_eq!(
            webhook_verify(&pairs, &tampered),
            Err(webhook_verify::VerifyError::SignatureMismatch)
        );

        let mut group = c.benchmark_group(format!("standard_verify_{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("hookgate", |b| {
            b.iter(|| {
                assert_eq!(
                    hookgate_verify(black_box(&headers), black_box(&body)),
                    Some(0)
                )
            })
        });
        group.bench_function("svix", |b| {
            b.iter(|| assert!(svix.verify(black_box(&body), black_box(&headers)).is_ok()))
        });
        group.bench_function("standardwebhooks", |b| {
            b.iter(|| {
                assert!(
                    standardwebhooks
                        .verify(black_box(&body), black_box(&headers))
                        .is_ok()
                )
            })
        });
        group.bench_function("webhook-verify", |b| {
            b.iter(|| assert!(webhook_verify(black_box(&pairs), black_box(&body)).is_ok()))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20);
    targets = standard_verify
}
criterion_main!(benches);
