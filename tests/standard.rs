//! Standard Webhooks: the published test vectors, deliveries signed by the official libraries,
//! the negative cases the Svix and Standard Webhooks libraries test, and the whole pipeline over
//! real HTTP (typed dispatch by `type`, dedup by `webhook-id`, timestamp window).
#![cfg(all(feature = "standard", feature = "testing"))]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::Router;
use hookgate::{
    Delivery, Webhooks,
    event::{UnknownEvent, UnknownReason},
    keyring::KeyringError,
    provider::{Provider, SignatureError},
    standard::{self, Payload, Standard},
};
use http::{HeaderMap, HeaderValue};

/// The vector of the Standard Webhooks spec libraries: `libraries/javascript/src/webhook.test.ts`
/// ("sign function works") in standard-webhooks/standard-webhooks, and the same test in
/// svix/svix-webhooks (e.g. `php/tests/WebhookTest.php`, `testSignFunctionWorks`).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1614265330;
const BODY: &str = r#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// The vector of the Rust libraries: `libraries/rust/src/lib.rs` (standard-webhooks) and
/// `rust/src/webhooks.rs` (svix-webhooks), `test_sign`.
const RUST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const RUST_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const RUST_TIMESTAMP: i64 = 1649367553;
const RUST_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
const RUST_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

#[track_caller]
fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, HeaderValue::from_str(value).unwrap());
    }
    h
}

fn webhook_headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    headers(&[
        (standard::HEADER_ID, id),
        (standard::HEADER_TIMESTAMP, &timestamp.to_string()),
        (standard::HEADER_SIGNATURE, signature),
    ])
}

fn svix_headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    headers(&[
        (standard::HEADER_SVIX_ID, id),
        (standard::HEADER_SVIX_TIMESTAMP, &timestamp.to_string()),
        (standard::HEADER_SVIX_SIGNATURE, signature),
    ])
}

/// The signature stage of the pipeline: headers at `now`, then the body streamed in `chunk`s.
/// `Ok(Some(i))`: secret #i matched.
fn verify_at(
    standard: &Standard,
    h: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Option<usize>, SignatureError> {
    let signed = standard.signature(h, now)?;
    let mut verifier = standard
        .secrets()
        .keyring()
        .unwrap()
        .verifier(&signed.prefix);
    for chunk in body.chunks(7) {
        verifier.update(chunk);
    }
    Ok(verifier.matches(&signed.tags))
}

fn verify(
    standard: &Standard,
    h: &HeaderMap,
    body: &[u8],
) -> Result<Option<usize>, SignatureError> {
    let timestamp = h
        .get(standard::HEADER_TIMESTAMP)
        .or_else(|| h.get(standard::HEADER_SVIX_TIMESTAMP))
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(TIMESTAMP);
    verify_at(standard, h, body, at(timestamp))
}

// --- Known answers --------------------------------------------------------------------------

#[test]
fn spec_vector_signs_and_verifies() {
    let standard = Standard::new([SECRET]).unwrap();
    assert_eq!(standard.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    let h = webhook_headers(ID, TIMESTAMP, SIGNATURE);
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(Some(0)));
    let h = svix_headers(ID, TIMESTAMP, SIGNATURE);
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(Some(0)));
}

#[test]
fn rust_library_vector_signs_and_verifies() {
    let standard = Standard::new([RUST_SECRET]).unwrap();
    assert_eq!(
        standard.sign(RUST_ID, RUST_TIMESTAMP, RUST_BODY.as_bytes()),
        RUST_SIGNATURE
    );
    let h = webhook_headers(RUST_ID, RUST_TIMESTAMP, RUST_SIGNATURE);
    assert_eq!(verify(&standard, &h, RUST_BODY.as_bytes()), Ok(Some(0)));
}

/// A delivery signed by an official library, pinned.
struct Fixture {
    library: &'static str,
    id: &'static str,
    timestamp: i64,
    body: &'static [u8],
    signature: &'static str,
}

/// Every fixture is signed with this secret (key bytes 100..=131).
const FIXTURE_SECRET: &str = "whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

/// Deliveries signed by the official libraries, generated once and pinned here:
/// `standardwebhooks` 1.1.0 from PyPI (`Webhook(secret).sign(id, datetime, body)`),
/// `standardwebhooks` 1.1.1 and `svix` 1.99.1 from npm (`new Webhook(secret).sign(id, Date,
/// body)`). The libraries sign strings (as UTF-8), so the bodies carry non-ASCII text; the last
/// one is not UTF-8 at all and was signed with `standardwebhooks.webhooks.hmac_data` (PyPI
/// 1.1.0), the library's own HMAC function, over the raw bytes of `id.timestamp.body`.
const FIXTURES: &[Fixture] = &[
    Fixture {
        library: "standardwebhooks 1.1.0 (PyPI)",
        id: "msg_2yQ8RbCqkVQ1xJmD9pLwZ3nA7e",
        timestamp: 1767225600,
        body: r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"invoice":"in_42","customer":"Zoë Ångström 🎉","amount":4200}}"#.as_bytes(),
        signature: "v1,ux2rR8PpbT1Evr8K/ZSRIfR04XieKAguIcdh6qaNBBI=",
    },
    Fixture {
        library: "standardwebhooks 1.1.0 (PyPI)",
        id: "msg_2yQ8RbCqkVQ1xJmD9pLwZ3nA7f",
        timestamp: 1767225601,
        body: r#"{"type":"user.created","timestamp":"2026-01-01T00:00:01Z","data":{"name":"山田太郎","bio":"κόσμε — ∑ 😀\u00e9"}}"#.as_bytes(),
        signature: "v1,aKpbn+21mTs4Hwh85eu+y0F4jQG0urGc959JLoKD9D0=",
    },
    Fixture {
        library: "standardwebhooks 1.1.1 (npm)",
        id: "msg_js_sw_1",
        timestamp: 1767225700,
        body: r#"{"type":"order.shipped","timestamp":"2026-01-01T00:01:40Z","data":{"order":"ord_9","note":"Größe: M — ✓ 🚚","items":[1,2,3]}}"#.as_bytes(),
        signature: "v1,pXVocirYctfCvMf4teD8xD5F9Ie582xACp4WTNLVucM=",
    },
    Fixture {
        library: "standardwebhooks 1.1.1 (npm)",
        id: "msg_js_sw_2",
        timestamp: 1767225701,
        body: "{\n  \"type\": \"contact.created\",\n  \"timestamp\": \"2026-01-01T00:01:41Z\",\n  \"data\": {\"id\": \"1f81eb52\", \"fullName\": \"Ñandú Café\"}\n}".as_bytes(),
        signature: "v1,WtVJKpIgaRCj3wsYZ3L4DOslS23NNetjKBEHZaJ+HO0=",
    },
    Fixture {
        library: "svix 1.99.1 (npm)",
        id: "msg_js_svix_1",
        timestamp: 1767225800,
        body: r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:03:20Z","data":{"invoice":"in_7","customer":"Łukasz Żółw 🐢","amount":100}}"#.as_bytes(),
        signature: "v1,b5UISPQq1BoZYziNP8GDWjaY0ECAp68QaySFEXIqIJI=",
    },
    Fixture {
        library: "standardwebhooks 1.1.0 (PyPI) hmac_data, raw bytes",
        id: "msg_notutf8",
        timestamp: 1767225602,
        body: b"{\"type\":\"blob.raw\",\"data\":\"\xff\xfe\x80\"}",
        signature: "v1,TKbWq6Q9XXFgZLnhHGoCEx4Z1wVNWVNrDzqFjjAcTRI=",
    },
];

#[test]
fn deliveries_signed_by_the_official_libraries_verify() {
    let standard = Standard::new([FIXTURE_SECRET]).unwrap();
    for f in FIXTURES {
        assert_eq!(
            standard.sign(f.id, f.timestamp, f.body),
            f.signature,
            "{}: {}",
            f.library,
            f.id
        );
        for h in [
            webhook_headers(f.id, f.timestamp, f.signature),
            svix_headers(f.id, f.timestamp, f.signature),
        ] {
            assert_eq!(verify(&standard, &h, f.body), Ok(Some(0)), "{}", f.id);
            // One byte changed anywhere: refused.
            let mut tampered = f.body.to_vec();
            let middle = tampered.len() / 2;
            tampered[middle] ^= 1;
            assert_eq!(verify(&standard, &h, &tampered), Ok(None), "{}", f.id);
        }
    }
    assert!(std::str::from_utf8(FIXTURES.last().unwrap().body).is_err());
}

// --- Negative cases, as the Svix and Standard Webhooks libraries test them ---------------------

#[test]
fn truncated_and_empty_signatures_are_refused() {
    let standard = Standard::new([SECRET]).unwrap();
    for partial in [
        "v1,",
        &SIGNATURE[..8],
        &SIGNATURE[..SIGNATURE.len() - 1],
        &SIGNATURE[..SIGNATURE.len() - 4],
        "v1,dawfeoifkpqwoekfpqoekf",
        "",
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ] {
        let h = webhook_headers(ID, TIMESTAMP, partial);
        assert_eq!(
            verify(&standard, &h, BODY.as_bytes()),
            Err(SignatureError::Malformed(standard::HEADER_SIGNATURE)),
            "{partial:?}"
        );
    }
    // Well-formed, but not the signature: a mismatch (svix `test_no_verify`).
    let h = webhook_headers(
        ID,
        TIMESTAMP,
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    );
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(None));
    // A `v1,` entry with nothing after it does not spoil a valid one next to it.
    let h = webhook_headers(ID, TIMESTAMP, &format!("v1, {SIGNATURE}"));
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(Some(0)));
}

#[test]
fn each_missing_header_is_named() {
    let standard = Standard::new([SECRET]).unwrap();
    let cases = [
        (
            webhook_headers(ID, TIMESTAMP, SIGNATURE),
            [
                standard::HEADER_ID,
                standard::HEADER_TIMESTAMP,
                standard::HEADER_SIGNATURE,
            ],
        ),
        (
            svix_headers(ID, TIMESTAMP, SIGNATURE),
            [
                standard::HEADER_SVIX_ID,
                standard::HEADER_SVIX_TIMESTAMP,
                standard::HEADER_SVIX_SIGNATURE,
            ],
        ),
    ];
    for (full, [id, timestamp, signature]) in cases {
        for (missing, expected) in [
            (id, SignatureError::MissingHeader(id)),
            (timestamp, SignatureError::MissingHeader(timestamp)),
            (signature, SignatureError::Missing(signature)),
        ] {
            let mut h = full.clone();
            h.remove(missing);
            assert_eq!(standard.signature(&h, at(TIMESTAMP)).unwrap_err(), expected);
        }
    }
    assert_eq!(
        standard
            .signature(&HeaderMap::new(), at(TIMESTAMP))
            .unwrap_err(),
        SignatureError::Missing(standard::HEADER_SIGNATURE)
    );
}

#[test]
fn the_valid_signature_may_be_anywhere_in_the_list() {
    let standard = Standard::new([RUST_SECRET]).unwrap();
    let others = [
        "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
        "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
    ];
    let with = format!(
        "{} {} {RUST_SIGNATURE} {} {} {}",
        others[0], others[1], others[2], others[3], others[4]
    );
    let h = webhook_headers(RUST_ID, RUST_TIMESTAMP, &with);
    assert_eq!(verify(&standard, &h, RUST_BODY.as_bytes()), Ok(Some(0)));
    let without = others.join(" ");
    let h = webhook_headers(RUST_ID, RUST_TIMESTAMP, &without);
    assert_eq!(verify(&standard, &h, RUST_BODY.as_bytes()), Ok(None));

    // Only the first MAX_SIGNATURES usable entries are considered.
    let mut crowded = vec![others[0]; standard::MAX_SIGNATURES];
    crowded.push(RUST_SIGNATURE);
    let h = webhook_headers(RUST_ID, RUST_TIMESTAMP, &crowded.join(" "));
    assert_eq!(verify(&standard, &h, RUST_BODY.as_bytes()), Ok(None));
    crowded.remove(0);
    let h = webhook_headers(RUST_ID, RUST_TIMESTAMP, &crowded.join(" "));
    assert_eq!(verify(&standard, &h, RUST_BODY.as_bytes()), Ok(Some(0)));
}

#[test]
fn timestamps_outside_the_tolerance_are_refused() {
    let standard = Standard::new([SECRET]).unwrap();
    let h = webhook_headers(ID, TIMESTAMP, SIGNATURE);
    let tolerance = 300;
    for (now, expected) in [
        (TIMESTAMP + tolerance, Ok(Some(0))),
        (TIMESTAMP - tolerance, Ok(Some(0))),
        (
            TIMESTAMP + tolerance + 1,
            Err(SignatureError::TimestampTooOld),
        ),
        (
            TIMESTAMP - tolerance - 1,
            Err(SignatureError::TimestampInFuture),
        ),
    ] {
        assert_eq!(
            verify_at(&standard, &h, BODY.as_bytes(), at(now)),
            expected,
            "now {now}"
        );
    }
    // A configured tolerance.
    let relaxed = Standard::new([SECRET])
        .unwrap()
        .tolerance(Duration::from_secs(3600));
    let later = at(TIMESTAMP + 3000);
    assert_eq!(verify_at(&relaxed, &h, BODY.as_bytes(), later), Ok(Some(0)));
    let strict = relaxed.tolerance(Duration::from_secs(10));
    assert_eq!(
        verify_at(&strict, &h, BODY.as_bytes(), at(TIMESTAMP + 11)),
        Err(SignatureError::TimestampTooOld)
    );

    // The timestamp is signed: one second off and the signature no longer matches.
    let h = webhook_headers(ID, TIMESTAMP + 1, SIGNATURE);
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(None));

    // Negative (svix signs -1 and refuses it) and non-numeric timestamps.
    let negative = standard.sign(ID, -1, BODY.as_bytes());
    for (timestamp, signature) in [
        ("-1", negative.as_str()),
        ("hello", SIGNATURE),
        ("", SIGNATURE),
    ] {
        let h = headers(&[
            (standard::HEADER_ID, ID),
            (standard::HEADER_TIMESTAMP, timestamp),
            (standard::HEADER_SIGNATURE, signature),
        ]);
        assert_eq!(
            standard.signature(&h, at(0)).unwrap_err(),
            SignatureError::MalformedTimestamp(standard::HEADER_TIMESTAMP),
            "{timestamp:?}"
        );
    }
}

#[test]
fn wrong_secret_tampered_body_and_rotation() {
    let h = webhook_headers(ID, TIMESTAMP, SIGNATURE);
    let wrong = Standard::new(["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).unwrap();
    assert_eq!(verify(&wrong, &h, BODY.as_bytes()), Ok(None));

    let standard = Standard::new([SECRET]).unwrap();
    assert_eq!(verify(&standard, &h, br#"{"test": 2432232315}"#), Ok(None));
    assert_eq!(verify(&standard, &h, br#"{"test": 2432232314} "#), Ok(None));
    // The id is signed too.
    let h2 = webhook_headers("msg_other", TIMESTAMP, SIGNATURE);
    assert_eq!(verify(&standard, &h2, BODY.as_bytes()), Ok(None));

    // During a rotation, the previous secret (second) still verifies.
    let rotated = Standard::new([RUST_SECRET, SECRET]).unwrap();
    assert_eq!(verify(&rotated, &h, BODY.as_bytes()), Ok(Some(1)));
    // And a sender signing with both secrets is accepted by either side.
    let both = format!(
        "{} {SIGNATURE}",
        Standard::new([RUST_SECRET])
            .unwrap()
            .sign(ID, TIMESTAMP, BODY.as_bytes())
    );
    let h = webhook_headers(ID, TIMESTAMP, &both);
    assert_eq!(verify(&wrong, &h, BODY.as_bytes()), Ok(Some(0)));
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(Some(0)));
}

#[test]
fn repeated_headers_with_differing_values_are_ambiguous() {
    let standard = Standard::new([SECRET]).unwrap();
    for name in [
        standard::HEADER_ID,
        standard::HEADER_TIMESTAMP,
        standard::HEADER_SIGNATURE,
    ] {
        let mut h = webhook_headers(ID, TIMESTAMP, SIGNATURE);
        h.append(name, HeaderValue::from_static("v1,other"));
        assert_eq!(
            standard.signature(&h, at(TIMESTAMP)).unwrap_err(),
            SignatureError::Ambiguous(name)
        );
    }
    // An identical repeat (a proxy that duplicated it) is fine.
    let mut h = webhook_headers(ID, TIMESTAMP, SIGNATURE);
    h.append(
        standard::HEADER_SIGNATURE,
        HeaderValue::from_static(SIGNATURE),
    );
    assert_eq!(verify(&standard, &h, BODY.as_bytes()), Ok(Some(0)));
}

#[test]
fn secret_forms() {
    // With and without the prefix, as the reference libraries accept.
    let bare = Standard::new(["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    assert_eq!(bare.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    assert!(matches!(
        Standard::new(["whsec_%%%"]),
        Err(KeyringError::InvalidSecret { index: 0, .. })
    ));
    assert!(matches!(
        Standard::new(["whsec_"]).unwrap_err(),
        KeyringError::EmptySecret { index: 0, .. }
    ));
    assert!(matches!(
        Standard::from_raw_keys([b""]).unwrap_err(),
        KeyringError::EmptySecret { index: 0, .. }
    ));
    let raw = Standard::from_raw_keys([b"raw key bytes"]).unwrap();
    let expected = Standard::new(["whsec_cmF3IGtleSBieXRlcw=="]).unwrap();
    assert_eq!(raw.sign("a", 1, b"b"), expected.sign("a", 1, b"b"));
}

// --- The whole pipeline over HTTP ---------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
struct InvoicePaid {
    invoice: String,
    amount: u64,
}

impl Payload for InvoicePaid {
    const TYPES: &'static [&'static str] = &["invoice.paid"];
}

/// One handler call: `(handler, type, dedup key)`.
type Call = (&'static str, String, String);

/// What the handlers saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Call>>>);

impl Seen {
    fn push(&self, handler: &'static str, event: &str, key: &str) {
        self.0
            .lock()
            .unwrap()
            .push((handler, event.to_owned(), key.to_owned()));
    }

    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

const NOW: i64 = 1_767_225_600;

async fn start(standard: Standard, now: i64, seen: &Seen) -> String {
    let service = Webhooks::with_state(standard, seen.clone())
        .clock(move || at(now))
        .on(
            |m: standard::Message<InvoicePaid>, d: Delivery, seen: Seen| async move {
                assert!(m.data.invoice.starts_with("in_"));
                assert!(m.data.amount > 0);
                seen.push("invoice", &m.r#type, d.key());
            },
        )
        .on_any(|m: standard::Message, d: Delivery, seen: Seen| async move {
            assert!(m.data.is_object());
            seen.push("any", &m.r#type, d.key());
        })
        .fallback(|e: UnknownEvent, d: Delivery, seen: Seen| async move {
            assert!(matches!(e.reason(), UnknownReason::Drifted(_)));
            seen.push("fallback", e.name(), d.key());
        })
        .build()
        .unwrap();
    let addr = support::serve(Router::new().route_service("/webhooks/standard", service)).await;
    format!("http://{addr}/webhooks/standard")
}

async fn post(url: &str, h: &[(&str, &str)], body: &[u8]) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in h {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

async fn post_signed(
    url: &str,
    standard: &Standard,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let signature = standard.sign(id, timestamp, body);
    let timestamp = timestamp.to_string();
    post(
        url,
        &[
            ("webhook-id", id),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", &signature),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn typed_dispatch_dedup_by_id_and_the_timestamp_window() {
    let seen = Seen::default();
    let standard = Standard::new([SECRET]).unwrap();
    let url = start(standard.clone(), NOW, &seen).await;

    let paid = r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"invoice":"in_42","amount":4200,"currency":"eur"}}"#;
    let (status, body) = post_signed(&url, &standard, "msg_1", NOW - 30, paid.as_bytes()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("handled")));
    assert_eq!(
        seen.take(),
        [("invoice", "invoice.paid".to_owned(), "msg_1".to_owned())]
    );

    // The same delivery again: a duplicate, the handler is not called.
    let (status, body) = post_signed(&url, &standard, "msg_1", NOW - 30, paid.as_bytes()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    // A retry: same id, a new timestamp and so a new signature. Still a duplicate.
    let (status, body) = post_signed(&url, &standard, "msg_1", NOW + 5, paid.as_bytes()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    assert!(seen.take().is_empty());

    // Another type: the catch-all typed handler, with its own key.
    let created =
        r#"{"type":"user.created","timestamp":"2026-01-01T00:00:00Z","data":{"name":"Zoë 🎉"}}"#;
    let (status, _) = post_signed(&url, &standard, "msg_2", NOW, created.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen.take(),
        [("any", "user.created".to_owned(), "msg_2".to_owned())]
    );

    // A `type` but no `data`: not the envelope, so the fallback, as drift.
    let bare = r#"{"type":"thin.event","id":"x"}"#;
    let (status, _) = post_signed(&url, &standard, "msg_3", NOW, bare.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen.take(),
        [("fallback", "thin.event".to_owned(), "msg_3".to_owned())]
    );

    // Too old, too new: 401, nothing claimed (the same id is handled once in time).
    let late = r#"{"type":"user.created","data":{}}"#;
    for timestamp in [NOW - 301, NOW + 301] {
        let (status, body) =
            post_signed(&url, &standard, "msg_4", timestamp, late.as_bytes()).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = post_signed(&url, &standard, "msg_4", NOW, late.as_bytes()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("handled")));
    assert_eq!(seen.take().len(), 1);

    // Wrong secret, missing headers, no `type`.
    let other = Standard::new([RUST_SECRET]).unwrap();
    let (status, body) = post_signed(&url, &other, "msg_5", NOW, late.as_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let (status, body) = post(&url, &[], late.as_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_signature"))
    );
    let (status, body) = post_signed(&url, &standard, "msg_6", NOW, br#"{"data":{}}"#).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_discriminator"))
    );
    assert!(seen.take().is_empty());
}

#[tokio::test]
async fn library_signed_deliveries_through_the_pipeline() {
    let seen = Seen::default();
    let standard = Standard::new([FIXTURE_SECRET]).unwrap();
    let url = start(standard, NOW, &seen).await;
    for (f, svix) in FIXTURES
        .iter()
        .zip([false, false, false, true, true, false])
    {
        let timestamp = f.timestamp.to_string();
        let names = if svix {
            ["svix-id", "svix-timestamp", "svix-signature"]
        } else {
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        };
        let (status, body) = post(
            &url,
            &[
                (names[0], f.id),
                (names[1], &timestamp),
                (names[2], f.signature),
            ],
            f.body,
        )
        .await;
        if std::str::from_utf8(f.body).is_ok() {
            assert_eq!(
                (status, body["status"].as_str()),
                (200, Some("handled")),
                "{}",
                f.id
            );
        } else {
            // Signed, then refused as not UTF-8: the signature stage passed.
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("invalid_utf8")),
                "{}",
                f.id
            );
        }
    }
    let seen: Vec<_> = seen
        .take()
        .into_iter()
        .map(|(_, event, key)| (event, key))
        .collect();
    let expected: Vec<_> = FIXTURES[..5]
        .iter()
        .map(|f| {
            let json: serde_json::Value = serde_json::from_slice(f.body).unwrap();
            (json["type"].as_str().unwrap().to_owned(), f.id.to_owned())
        })
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn testing_signed_request_passes_the_real_verifier() {
    use hookgate::testing::signed_request;
    use tower::ServiceExt;

    let standard = Standard::new([SECRET]).unwrap();
    let body = r#"{"type":"ping","timestamp":"2026-01-01T00:00:00Z","data":{}}"#;
    let first = signed_request(&standard, "/hook", body);
    let second = signed_request(&standard, "/hook", body);
    assert_ne!(
        first.headers()["webhook-id"],
        second.headers()["webhook-id"]
    );
    let service = Webhooks::new(standard)
        .on_any(|_: standard::Event| async {})
        .build()
        .unwrap();
    for request in [first, second] {
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn verified_extractor_gives_the_envelope() {
    use axum::routing::post as route_post;
    use hookgate::{Verified, WebhookLayer};

    async fn handle(Verified { event, delivery }: Verified<standard::Event>) -> String {
        match event {
            standard::Event::Message(m) => format!("message {} {}", m.r#type, delivery.key()),
            standard::Event::Unknown(u) => format!("unknown {} {:?}", u.name(), u.reason()),
            _ => "other".to_owned(),
        }
    }

    let standard = Standard::new([SECRET]).unwrap();
    let layer = WebhookLayer::new(standard.clone()).clock(|| at(NOW));
    let app = Router::new().route("/hook", route_post(handle).layer(layer));
    let url = format!("http://{}/hook", support::serve(app).await);

    let body = r#"{"type":"invoice.paid","data":{"invoice":"in_1"}}"#;
    let signature = standard.sign("msg_v1", NOW, body.as_bytes());
    let response = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_v1")
        .header("webhook-timestamp", NOW.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "message invoice.paid msg_v1"
    );

    let body = r#"{"type":"thin.event"}"#;
    let signature = standard.sign("msg_v2", NOW, body.as_bytes());
    let response = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_v2")
        .header("webhook-timestamp", NOW.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.starts_with("unknown thin.event Drifted"), "{text}");
}
