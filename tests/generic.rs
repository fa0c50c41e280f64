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
        // Bodies that are not JSON (the property test's) drift to the fallback.
        .fallback(|_: hookgate::event::UnknownEvent| async {})
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

#[tokio::test]
async fn a_challenge_is_answered_once_verified() {
    // Zoom-like: `{"event":"endpoint.url_validation","payload":{"plainToken":..}}` answered
    // with the token and its HMAC under the secret.
    let generic = || {
        Generic::builder()
            .header("x-zm-signature")
            .prefix("v0=")
            .signed("v0:{timestamp}:{body}")
            .timestamp_header(
                "x-zm-request-timestamp",
                Unit::Seconds,
                Duration::from_secs(300),
            )
            .event_json("event")
            .challenge(|challenge| {
                let body: serde_json::Value = serde_json::from_slice(challenge.body).ok()?;
                if body["event"] != "endpoint.url_validation" {
                    return None;
                }
                let token = body["payload"]["plainToken"].as_str()?;
                let encrypted = challenge.sign(&[token.as_bytes()])?.to_hex();
                let answer = serde_json::json!({"plainToken": token, "encryptedToken": encrypted});
                Some(Response::new(Bytes::from(answer.to_string())))
            })
            .secrets(["zoom-secret"])
            .unwrap()
    };
    let keyring = Keyring::new(["zoom-secret"]).unwrap();
    let body =
        r#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#;
    let request = sign_generic(&generic(), Signer::Keyring(&keyring), "/", body, at(NOW)).unwrap();
    let service = Webhooks::new(generic())
        .clock(|| at(NOW))
        .on_any(|_: hookgate::generic::Event| async {
            Err::<(), _>("a challenge is not dispatched")
        })
        .build()
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    let expected = keyring.sign(b"", b"qgg8vlvZRS6UYooatFL8Aw").to_hex();
    assert_eq!(answer["encryptedToken"], expected.as_str());
    // Unsigned, the same challenge is refused: the hook never sees it.
    let request = Request::post("/")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(
        Outcome::from_response(response).await,
        refused("missing_signature")
    );
}

#[tokio::test]
async fn derived_content_twilio_like() {
    use hookgate::provider::{SignatureError, SignedBody};
    use std::sync::Arc;
    // HMAC-SHA1 over the URL, then each form parameter's name and value, sorted by name.
    let generic = || {
        Generic::builder()
            .algorithm(Algorithm::HmacSha1)
            .header("X-Twilio-Signature")
            .encoding(Encoding::Base64)
            .signed("{url}{body}")
            .public_url("https://example.com/twilio")
            .event_fixed("message")
            .any_body()
            .derive(|_parts| {
                Ok(SignedBody::Derived(Arc::new(
                    |body: &[u8], feed: &mut dyn FnMut(&[u8])| {
                        let mut pairs: Vec<(&[u8], &[u8])> = body
                            .split(|b| *b == b'&')
                            .filter(|p| !p.is_empty())
                            .map(|p| match p.iter().position(|b| *b == b'=') {
                                Some(at) => (&p[..at], &p[at + 1..]),
                                None => (p, &b""[..]),
                            })
                            .collect();
                        if pairs.len() > 1000 {
                            return Err(SignatureError::Mismatch);
                        }
                        pairs.sort();
                        for (name, value) in pairs {
                            feed(name);
                            feed(value);
                        }
                        Ok(())
                    },
                )))
            })
            .secrets(["twilio-token"])
            .unwrap()
    };
    let keyring = Keyring::with_algorithm(Algorithm::HmacSha1, ["twilio-token"]).unwrap();
    let body = "To=%2B1555&From=%2B1666&Body=hi";
    let request = sign_generic(
        &generic(),
        Signer::Keyring(&keyring),
        "/twilio",
        body,
        at(NOW),
    );
    let request = request.unwrap();
    // What Twilio's documentation computes: URL + sorted names and values.
    let expected = keyring
        .try_sign(&[b"https://example.com/twilio", b"BodyhiFrom%2B1666To%2B1555"])
        .unwrap()
        .to_base64();
    assert_eq!(request.headers()["x-twilio-signature"], expected.as_str());
    assert_eq!(send(generic(), request, NOW).await, Outcome::Handled);
    // Reordered parameters sign the same; another value does not.
    let reordered = "Body=hi&To=%2B1555&From=%2B1666";
    let (parts, _) = sign_generic(
        &generic(),
        Signer::Keyring(&keyring),
        "/twilio",
        body,
        at(NOW),
    )
    .unwrap()
    .into_parts();
    let request = Request::from_parts(parts.clone(), Full::new(Bytes::from(reordered)));
    assert_eq!(send(generic(), request, NOW).await, Outcome::Handled);
    let request = Request::from_parts(
        parts,
        Full::new(Bytes::from("Body=ho&To=%2B1555&From=%2B1666")),
    );
    assert_eq!(
        send(generic(), request, NOW).await,
        refused("invalid_signature")
    );
}

#[test]
fn configurations_are_checked() {
    use hookgate::generic::{Config, ConfigError};
    let base = || Generic::builder().header("X-Sig");
    assert!(base().secrets(["s"]).is_ok());
    let errors = [
        base().header("bad header").secrets(["s"]).unwrap_err(),
        base()
            .signed("{timestamp}{body}")
            .secrets(["s"])
            .unwrap_err(),
        base()
            .timestamp_header("X-Ts", Unit::Seconds, Duration::from_secs(1))
            .secrets(["s"])
            .unwrap_err(),
        base().signed("{id}{body}").secrets(["s"]).unwrap_err(),
        base()
            .signed("{header:x-sig}{body}")
            .secrets(["s"])
            .unwrap_err(),
        base().list(',', ',', "v1").secrets(["s"]).unwrap_err(),
        base().list(',', '=', "v 1").secrets(["s"]).unwrap_err(),
        base()
            .separator(' ')
            .prefix("a b")
            .secrets(["s"])
            .unwrap_err(),
        base().separator('x').secrets(["s"]).unwrap_err(),
        base().event_json("a..b").secrets(["s"]).unwrap_err(),
        base()
            .event_json("a")
            .id_json("a.b")
            .secrets(["s"])
            .unwrap_err(),
        base().secrets([" "]).unwrap_err(),
        base()
            .secret_format(SecretFormat::Base64)
            .secrets(["%%"])
            .unwrap_err(),
        base()
            .algorithm(Algorithm::HmacSha1)
            .with_secrets(Keyring::new(["s"]).unwrap())
            .unwrap_err(),
    ];
    assert!(matches!(errors[0], ConfigError::HeaderName(_)));
    assert_eq!(errors[1], ConfigError::NoTimestamp);
    assert_eq!(errors[2], ConfigError::UnsignedTimestamp);
    assert_eq!(errors[3], ConfigError::NoIdHeader);
    assert!(matches!(errors[4], ConfigError::Template(_)));
    assert_eq!(errors[5], ConfigError::Separator);
    assert!(matches!(errors[6], ConfigError::Token(_)));
    assert!(matches!(errors[7], ConfigError::Token(_)));
    assert_eq!(errors[8], ConfigError::Separator);
    assert!(matches!(errors[9], ConfigError::JsonPath(_)));
    assert_eq!(errors[10], ConfigError::OverlappingPaths);
    assert!(matches!(errors[11], ConfigError::Keyring(_)));
    assert!(
        errors[12].to_string().contains("not base64"),
        "{}",
        errors[12]
    );
    assert_eq!(errors[13], ConfigError::AlgorithmMismatch);

    // A config file: unknown fields refused, the rest defaulted.
    let config: Config = serde_json::from_str(
        r#"{"header":"X-Hub-Signature-256","prefix":"sha256=","event":{"header":"X-GitHub-Event"},
            "id":{"header":"X-GitHub-Delivery"},"accept_unsigned_id":true,"algorithm":"hmac-sha256"}"#,
    )
    .unwrap();
    assert_eq!(config.signed, "{body}");
    assert!(Generic::from_config(config).secrets(["s"]).is_ok());
    assert!(
        serde_json::from_str::<Config>(r#"{"header":"x","event":{"json":"type"},"nope":1}"#)
            .is_err()
    );
}

mod property {
    use proptest::prelude::*;

    use super::*;

    /// A random configuration: its builder and the key that signs for it.
    #[derive(Debug, Clone)]
    struct Case {
        algorithm: u8,
        base64: bool,
        prefix: &'static str,
        /// 0 plain, 1 several split at a space, 2 a `k=v` list.
        location: u8,
        list_separator: char,
        /// 0 none, 1 a header, 2 in the list.
        timestamp: u8,
        millis: bool,
        template: Vec<u8>,
        secret: Vec<u8>,
        body: String,
        change_at: prop::sample::Index,
        change_to: u8,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            (
                0u8..4,
                any::<bool>(),
                prop::sample::select(vec!["", "sha256=", "v0="]),
            ),
            (
                0u8..3,
                prop::sample::select(vec![',', ';']),
                0u8..3,
                any::<bool>(),
            ),
            prop::collection::vec(0u8..6, 0..5),
            prop::collection::vec(any::<u8>(), 1..48),
            "[a-z{}\" :,0-9é]{1,200}",
            (any::<prop::sample::Index>(), 0x21u8..0x7f),
        )
            .prop_map(
                |(
                    (algorithm, base64, prefix),
                    (location, list_separator, timestamp, millis),
                    template,
                    secret,
                    body,
                    (change_at, change_to),
                )| Case {
                    algorithm,
                    base64,
                    prefix,
                    location,
                    list_separator,
                    timestamp: if location != 2 && timestamp == 2 {
                        1
                    } else {
                        timestamp
                    },
                    millis,
                    template,
                    secret,
                    body,
                    change_at,
                    change_to,
                },
            )
    }

    fn algorithm(case: &Case) -> Algorithm {
        match case.algorithm {
            0 => Algorithm::HmacSha256,
            1 => Algorithm::HmacSha1,
            2 => Algorithm::HmacSha512,
            #[cfg(feature = "ed25519")]
            _ => Algorithm::Ed25519,
            #[cfg(not(feature = "ed25519"))]
            _ => Algorithm::HmacSha256,
        }
    }

    /// The secret written as the configuration reads it (hex), and an Ed25519 key when the
    /// scheme is one.
    fn build(case: &Case) -> (Generic, Option<ed25519_dalek::SigningKey>, Keyring) {
        let algorithm = algorithm(case);
        let mut ed = None;
        let key_bytes = if algorithm.is_hmac() {
            // Never whitespace only (refused as an empty secret).
            [&b"k"[..], &case.secret].concat()
        } else {
            let mut seed = [0u8; 32];
            for (i, b) in case.secret.iter().enumerate() {
                seed[i % 32] ^= b;
            }
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let public = key.verifying_key().to_bytes().to_vec();
            ed = Some(key);
            public
        };
        let unit = if case.millis {
            Unit::Milliseconds
        } else {
            Unit::Seconds
        };
        let tolerance = Duration::from_secs(300);
        let mut builder = Generic::builder()
            .algorithm(algorithm)
            .header("X-Sig")
            .prefix(case.prefix)
            .encoding(if case.base64 {
                Encoding::Base64
            } else {
                Encoding::Hex
            })
            .secret_format(SecretFormat::Hex)
            .event_fixed("evt")
            .any_body()
            .public_url("https://example.com/hook");
        match case.location {
            1 => builder = builder.separator(' '),
            2 => builder = builder.list(case.list_separator, '=', "v1"),
            _ => {}
        }
        match case.timestamp {
            1 => builder = builder.timestamp_header("X-Ts", unit, tolerance),
            2 => builder = builder.timestamp_in_list("t", unit, tolerance),
            _ => {}
        }
        let mut template = String::new();
        let pieces = [
            "{url}",
            "{method}",
            ".",
            "{header:X-Extra}",
            "{timestamp}",
            "{{",
        ];
        let mut body_at = case.template.len() / 2;
        for (i, &piece) in case.template.iter().enumerate() {
            if i == body_at {
                template.push_str("{body}");
                body_at = usize::MAX;
            }
            if piece == 4 && case.timestamp == 0 {
                continue;
            }
            template.push_str(pieces[usize::from(piece)]);
        }
        if body_at != usize::MAX {
            template.push_str("{body}");
        }
        if case.timestamp != 0 && !template.contains("{timestamp}") {
            // A timestamp is always signed (an unsigned one is refused by the builder).
            template.push_str("{timestamp}");
        }
        let keyring = Keyring::with_algorithm(algorithm, [&key_bytes]).unwrap();
        let generic = builder
            .signed(&template)
            .secrets([const_hex::encode(&key_bytes)])
            .unwrap();
        (generic, ed, keyring)
    }

    fn signed(
        case: &Case,
        generic: &Generic,
        ed: &Option<ed25519_dalek::SigningKey>,
        keyring: &Keyring,
    ) -> Request<Full<Bytes>> {
        let signer = match ed {
            Some(key) => Signer::Ed25519(key),
            None => Signer::Keyring(keyring),
        };
        let mut request = Request::post("/hook?a=1")
            .header("x-extra", "extra value")
            .body(Full::new(Bytes::from(case.body.clone())))
            .unwrap();
        let (mut parts, body) = request.into_parts();
        generic
            .sign_parts(signer, &mut parts, case.body.as_bytes(), at(NOW))
            .unwrap();
        request = Request::from_parts(parts, body);
        request
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn signing_and_verifying_agree_and_one_byte_breaks_it(case in case()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (generic, ed, keyring) = build(&case);

            let request = signed(&case, &generic, &ed, &keyring);
            let outcome = runtime.block_on(send(generic.clone(), request, NOW));
            prop_assert_eq!(outcome, Outcome::Handled);

            // One byte of the body changed.
            let request = signed(&case, &generic, &ed, &keyring);
            let (parts, _) = request.into_parts();
            let mut body = case.body.clone().into_bytes();
            let i = case.change_at.index(body.len());
            body[i] = if body[i] == case.change_to { case.change_to ^ 0x01 } else { case.change_to };
            let request = Request::from_parts(parts, Full::new(Bytes::from(body)));
            let outcome = runtime.block_on(send(generic.clone(), request, NOW));
            prop_assert_eq!(outcome, refused("invalid_signature"));

            // One byte of the signature header changed (not a hex digit's case: either case is
            // the same signature).
            let mut request = signed(&case, &generic, &ed, &keyring);
            let mut value = request.headers()["x-sig"].as_bytes().to_vec();
            let i = case.change_at.index(value.len());
            let mut to = case.change_to;
            if to.eq_ignore_ascii_case(&value[i]) {
                to = if value[i] == b'~' { b'!' } else { b'~' };
            }
            value[i] = to;
            request.headers_mut().insert("x-sig", http::HeaderValue::from_bytes(&value).unwrap());
            let outcome = runtime.block_on(send(generic, request, NOW));
            prop_assert!(
                matches!(&outcome, Outcome::Refused { status, .. } if *status == 401),
                "{:?} for {:?}",
                outcome,
                String::from_utf8_lossy(&value)
            );
        }
    }
}
