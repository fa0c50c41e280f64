//! The generic provider end to end: schemes of every algorithm, location and encoding, signed
//! by the testing kit and verified through the real pipeline; then a property test over random
//! configurations.
#![cfg(all(feature = "generic", feature = "testing"))]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hookgate::{
    Webhooks,
    generic::{Encoding, Generic, SecretFormat, Signer, Unit},
    http::{Request, Response},
    keyring::{Algorithm, Keyring},
    testing::{Outcome, sign_generic},
};
use http_body_util::Full;
use tower::ServiceExt;

const NOW: u64 = 1_767_225_600;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

async fn send<S: hookgate::generic::Sender>(
    generic: Generic<S>,
    request: Request<Full<Bytes>>,
    clock: u64,
) -> Outcome {
    let service = Webhooks::new(generic)
        .clock(move || at(clock))
        .on_any(|_: hookgate::generic::Event| async {})
        .build()
        .unwrap();
    let response: Response<_> = service.oneshot(request).await.unwrap();
    Outcome::from_response(response).await
}

fn refused(code: &str) -> Outcome {
    Outcome::Refused {
        status: http::StatusCode::UNAUTHORIZED,
        code: code.into(),
    }
}

const BODY: &str = r#"{"type":"issues.opened","id":"evt_1","data":{"n":1}}"#;

/// Signs with `signer` and checks: accepted; a tampered body refused; another secret refused.
async fn round_trip(generic: impl Fn() -> Generic, signer: Signer<'_>, other: Signer<'_>) {
    let request = sign_generic(&generic(), signer, "/hook", BODY, at(NOW)).unwrap();
    assert_eq!(send(generic(), request, NOW).await, Outcome::Handled);

    let (parts, _) = sign_generic(&generic(), signer, "/hook", BODY, at(NOW))
        .unwrap()
        .into_parts();
    let tampered = Request::from_parts(parts, Full::new(Bytes::from(BODY.replace('1', "2"))));
    assert_eq!(
        send(generic(), tampered, NOW).await,
        refused("invalid_signature")
    );

    let request = sign_generic(&generic(), other, "/hook", BODY, at(NOW)).unwrap();
    assert_eq!(
        send(generic(), request, NOW).await,
        refused("invalid_signature")
    );
}

#[tokio::test]
async fn hmac_sha256_with_prefix_and_timestamp() {
    let generic = || {
        Generic::builder()
            .header("X-Signature")
            .prefix("v0=")
            .signed("v0:{timestamp}:{body}")
            .timestamp_header("X-Timestamp", Unit::Seconds, Duration::from_secs(300))
            .event_json("type")
            .id_json("id")
            .secrets(["secret"])
            .unwrap()
    };
    let (good, bad) = (
        Keyring::new(["secret"]).unwrap(),
        Keyring::new(["nope"]).unwrap(),
    );
    round_trip(generic, Signer::Keyring(&good), Signer::Keyring(&bad)).await;
    // Stale and future timestamps.
    let request = sign_generic(&generic(), Signer::Keyring(&good), "/", BODY, at(NOW - 301));
    assert_eq!(
        send(generic(), request.unwrap(), NOW).await,
        refused("timestamp_too_old")
    );
    let request = sign_generic(&generic(), Signer::Keyring(&good), "/", BODY, at(NOW + 301));
    assert_eq!(
        send(generic(), request.unwrap(), NOW).await,
        refused("timestamp_in_future")
    );
    // A replayed delivery (same body id) is a duplicate once handled.
    let service = Webhooks::new(generic())
        .clock(|| at(NOW))
        .on_any(|_: hookgate::generic::Event| async {})
        .build()
        .unwrap();
    for expected in [Outcome::Handled, Outcome::Duplicate] {
        let request = sign_generic(&generic(), Signer::Keyring(&good), "/", BODY, at(NOW)).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(Outcome::from_response(response).await, expected);
    }
}

#[tokio::test]
async fn hmac_sha1_and_sha512_in_base64() {
    for algorithm in [Algorithm::HmacSha1, Algorithm::HmacSha512] {
        let generic = || {
            Generic::builder()
                .algorithm(algorithm)
                .header("X-Sig")
                .encoding(Encoding::Base64)
                .signed("{url}{body}")
                .public_url("https://example.com/hook")
                .secrets(["c2VjcmV0"])
                .unwrap()
        };
        let good = Keyring::with_algorithm(algorithm, ["c2VjcmV0"]).unwrap();
        let bad = Keyring::with_algorithm(algorithm, ["other"]).unwrap();
        round_trip(generic, Signer::Keyring(&good), Signer::Keyring(&bad)).await;
    }
}

#[tokio::test]
async fn a_stripe_like_list_with_rotation() {
    let generic = || {
        Generic::builder()
            .header("Stripe-Signature")
            .list(',', '=', "v1")
            .timestamp_in_list("t", Unit::Seconds, Duration::from_secs(300))
            .signed("{timestamp}.{body}")
            .secrets(["new", "old"])
            .unwrap()
    };
    let (old, bad) = (Keyring::new(["old"]).unwrap(), Keyring::new(["x"]).unwrap());
    round_trip(generic, Signer::Keyring(&old), Signer::Keyring(&bad)).await;
    // Two signatures in the list, one of them good: accepted.
    let mut request = sign_generic(&generic(), Signer::Keyring(&old), "/", BODY, at(NOW)).unwrap();
    let value = request.headers()["stripe-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let doubled = format!("{value},v1={}", "ab".repeat(32));
    request
        .headers_mut()
        .insert("stripe-signature", doubled.parse().unwrap());
    assert_eq!(send(generic(), request, NOW).await, Outcome::Handled);
    // A malformed header.
    let mut request = sign_generic(&generic(), Signer::Keyring(&old), "/", BODY, at(NOW)).unwrap();
    request
        .headers_mut()
        .insert("stripe-signature", "t=1,v1=zz".parse().unwrap());
    assert_eq!(
        send(generic(), request, NOW).await,
        refused("malformed_signature")
    );
    request_without_signature(generic()).await;
}

async fn request_without_signature(generic: Generic) {
    let request = Request::post("/")
        .body(Full::new(Bytes::from(BODY)))
        .unwrap();
    assert_eq!(
        send(generic, request, NOW).await,
        refused("missing_signature")
    );
}

#[cfg(feature = "ed25519")]
#[tokio::test]
async fn ed25519_over_timestamp_and_body() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let public = const_hex::encode(key.verifying_key().as_bytes());
    let generic = || {
        Generic::builder()
            .algorithm(Algorithm::Ed25519)
            .header("X-Signature-Ed25519")
            .signed("{timestamp}{body}")
            .timestamp_header(
                "X-Signature-Timestamp",
                Unit::Seconds,
                Duration::from_secs(300),
            )
            .secret_format(SecretFormat::Hex)
            .secrets([public.as_str()])
            .unwrap()
    };
    round_trip(generic, Signer::Ed25519(&key), Signer::Ed25519(&other)).await;
}

#[tokio::test]
async fn typed_events_by_name_and_the_unsigned_id_rule() {
    #[derive(serde::Deserialize)]
    struct Opened {
        id: String,
    }
    // An id from a header the sender does not sign is refused unless accepted explicitly.
    let unsigned = Generic::builder()
        .header("X-Sig")
        .id_header("X-Delivery")
        .secrets(["s"]);
    assert!(unsigned.is_err());
    let generic = Generic::builder()
        .header("X-Sig")
        .id_header_unsigned("X-Delivery")
        .event_header("X-Event")
        .secrets(["s"])
        .unwrap();
    let keyring = Keyring::new(["s"]).unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let service = Webhooks::new(generic.clone())
        .on_named(&["issues.opened"], move |e: Opened| {
            let seen_tx = seen_tx.clone();
            async move {
                seen_tx.send(e.id).unwrap();
            }
        })
        .build()
        .unwrap();
    let mut request =
        sign_generic(&generic, Signer::Keyring(&keyring), "/", BODY, at(NOW)).unwrap();
    request
        .headers_mut()
        .insert("x-event", "issues.opened".parse().unwrap());
    request
        .headers_mut()
        .insert("x-delivery", "d1".parse().unwrap());
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(Outcome::from_response(response).await, Outcome::Handled);
    assert_eq!(seen.recv().await.as_deref(), Some("evt_1"));
}
