//! The built-in senders (`generic::presets`) through the real pipeline: every official vector
//! in `tests/fixtures/<sender>/vectors.json`, every real-shaped fixture, and per preset a
//! tampered body, a wrong key, a missing and a malformed signature header, stale and future
//! timestamps (401 with the documented code), rotation (two secrets; two signatures), the dedup
//! key, the handshakes (Zoom, Discord, Slack) and the testing kit's signing.
#![cfg(all(feature = "generic", feature = "ed25519", feature = "testing"))]

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use hookgate::{
    Delivery, Dispatcher, Webhooks,
    event::UnknownEvent,
    generic::{self, Generic, Sender, Signer, presets},
    testing::{Outcome, sign_generic, signed_request},
};
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One delivery of `tests/fixtures/<sender>/<name>.json` (format in `spec/senders.md`).
#[derive(Debug, Clone, Deserialize)]
struct Fixture {
    secret: String,
    now: u64,
    #[serde(default)]
    url: Option<String>,
    headers: BTreeMap<String, String>,
    body: String,
    #[serde(default)]
    other_secret: Option<String>,
    #[serde(default)]
    expected_response: Option<Value>,
    #[serde(default)]
    signing_seed_hex: Option<String>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("tests/fixtures/{path}: {e}"))
}

fn load(sender: &str, name: &str) -> Fixture {
    serde_json::from_str(&read(&format!("{sender}/{name}.json"))).unwrap()
}

/// The official vectors of a sender (`vectors.json`).
fn vectors(sender: &str) -> Vec<Value> {
    let file: Value = serde_json::from_str(&read(&format!("{sender}/vectors.json"))).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

/// The path and query of an absolute URL (what the request line says).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |slash| &rest[slash..])
}

fn request(uri: &str, headers: &BTreeMap<String, String>, body: &str) -> Request<Full<Bytes>> {
    let mut request = Request::post(uri)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::try_from(name.as_str()).unwrap(),
            HeaderValue::try_from(value.as_str()).unwrap(),
        );
    }
    request
}

impl Fixture {
    fn uri(&self) -> &str {
        self.url.as_deref().map_or("/webhooks/preset", path_of)
    }

    fn request(&self) -> Request<Full<Bytes>> {
        request(self.uri(), &self.headers, &self.body)
    }

    /// The request with one header replaced (`None`: removed).
    fn with_header(&self, name: &str, value: Option<&str>) -> Request<Full<Bytes>> {
        let mut headers = self.headers.clone();
        headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
        if let Some(value) = value {
            headers.insert(name.into(), value.into());
        }
        request(self.uri(), &headers, &self.body)
    }

    /// The request with its body changed by one byte.
    fn tampered(&self) -> Request<Full<Bytes>> {
        let mut body = self.body.clone().into_bytes();
        let last = body.len() - 2;
        body[last] = if body[last] == b'1' { b'2' } else { b'1' };
        request(self.uri(), &self.headers, &String::from_utf8(body).unwrap())
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("fixture has no {name}"))
    }

    fn signing_key(&self) -> SigningKey {
        let seed = const_hex::decode(self.signing_seed_hex.as_ref().unwrap()).unwrap();
        SigningKey::from_bytes(&seed.try_into().unwrap())
    }
}

/// What the handler saw of each delivery: (event name, dedup key).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A service for `provider` whose clock reads `now`, recording every delivery.
fn receiver<S: Sender>(provider: Generic<S>, now: SystemTime) -> (Dispatcher<Generic<S>>, Seen) {
    let seen = Seen::default();
    let (record, unknown) = (seen.clone(), seen.clone());
    let service = Webhooks::new(provider)
        .clock(move || now)
        .on_any(move |_: generic::Event, delivery: Delivery| {
            record
                .lock()
                .unwrap()
                .push((delivery.event().to_owned(), delivery.key().to_owned()));
            async {}
        })
        // Bodies that are not JSON (Twilio's and Slack's forms) take the untyped path.
        .fallback(move |_: UnknownEvent, delivery: Delivery| {
            unknown
                .lock()
                .unwrap()
                .push((delivery.event().to_owned(), delivery.key().to_owned()));
            async {}
        })
        .build()
        .unwrap();
    (service, seen)
}

/// The outcome and raw body of one request.
async fn call<S: Sender>(
    service: &Dispatcher<Generic<S>>,
    request: Request<Full<Bytes>>,
) -> (Outcome, Value) {
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        Outcome::from_parts(status, &body),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn refused(code: &str) -> Outcome {
    Outcome::Refused {
        status: StatusCode::UNAUTHORIZED,
        code: code.into(),
    }
}

/// What a preset's fixture must come to.
struct Expect<'a> {
    /// The event name the handler sees.
    event: &'a str,
    /// The dedup key the handler sees (`None`: the hash of the body).
    key: Option<&'a str>,
    /// The signature header.
    header: &'a str,
    /// The scheme's window, if it signs a timestamp.
    tolerance: Option<Duration>,
    /// A valid secret (or public key) that did not sign the fixture.
    other: &'a str,
}

/// The checks every HMAC preset passes with its fixture: handled at the fixture's `now` with
/// the expected event and key; the same delivery again is a duplicate; a tampered body, another
/// secret, no signature header and a malformed one are refused 401; a second secret on the
/// keyring (rotation) still verifies it; and, with a timestamp, a clock too far after or
/// before it refuses it as too old or in the future.
async fn common<S: Sender>(
    build: impl Fn(&[&str]) -> Generic<S>,
    fixture: &Fixture,
    expect: Expect<'_>,
) {
    let now = at(fixture.now);
    let (service, seen) = receiver(build(&[&fixture.secret]), now);
    assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
    {
        let seen = seen.lock().unwrap();
        let (event, key) = &seen[0];
        assert_eq!(event, expect.event);
        match expect.key {
            Some(expected) => assert_eq!(key, expected),
            None => assert_eq!(
                key,
                &const_hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&fixture.body)),
                "the body hash"
            ),
        }
    }
    assert_eq!(
        call(&service, fixture.request()).await.0,
        Outcome::Duplicate
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a duplicate reaches no handler"
    );

    let (fresh, _) = receiver(build(&[&fixture.secret]), now);
    assert_eq!(
        call(&fresh, fixture.tampered()).await.0,
        refused("invalid_signature"),
        "tampered body"
    );
    let (wrong, _) = receiver(build(&[expect.other]), now);
    assert_eq!(
        call(&wrong, fixture.request()).await.0,
        refused("invalid_signature"),
        "wrong key"
    );
    assert_eq!(
        call(&fresh, fixture.with_header(expect.header, None))
            .await
            .0,
        refused("missing_signature"),
        "no signature header"
    );
    assert_eq!(
        call(
            &fresh,
            fixture.with_header(expect.header, Some("not a signature"))
        )
        .await
        .0,
        refused("malformed_signature"),
        "malformed signature header"
    );

    let (rotated, _) = receiver(build(&[expect.other, &fixture.secret]), now);
    assert_eq!(
        call(&rotated, fixture.request()).await.0,
        Outcome::Handled,
        "the second secret of a keyring verifies"
    );

    if let Some(tolerance) = expect.tolerance {
        let late = now + tolerance + Duration::from_secs(1);
        let (service, _) = receiver(build(&[&fixture.secret]), late);
        assert_eq!(
            call(&service, fixture.request()).await.0,
            refused("timestamp_too_old")
        );
        let early = now - tolerance - Duration::from_secs(1);
        let (service, _) = receiver(build(&[&fixture.secret]), early);
        assert_eq!(
            call(&service, fixture.request()).await.0,
            refused("timestamp_in_future")
        );
        // At the edges of the window it is accepted.
        let (service, _) = receiver(build(&[&fixture.secret]), now + tolerance);
        assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
    }
}

/// Signs `body` with the preset's current secret at `now` through the testing kit and checks it
/// is handled (the kit signs for every preset).
async fn kit_round_trip<S: Sender>(
    provider: Generic<S>,
    uri: &str,
    body: &str,
    headers: &[(&str, &str)],
) {
    let now = SystemTime::now();
    let mut request = signed_request(&provider, uri, body.to_owned());
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::try_from(*name).unwrap(),
            HeaderValue::try_from(*value).unwrap(),
        );
    }
    let (service, seen) = receiver(provider, now);
    assert_eq!(call(&service, request).await.0, Outcome::Handled);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------- GitHub

fn github(secrets: &[&str]) -> Generic<presets::GitHub> {
    presets::github().secrets(secrets).unwrap()
}

#[tokio::test]
async fn github_official_vectors() {
    let vectors = vectors("github");
    assert_eq!(vectors.len(), 2);
    for vector in vectors {
        let mut headers: BTreeMap<String, String> =
            serde_json::from_value(vector["headers"].clone()).unwrap();
        // The vectors give the signature only; GitHub sends these beside it.
        headers.insert("X-GitHub-Event".into(), "ping".into());
        headers.insert(
            "X-GitHub-Delivery".into(),
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        );
        let body = vector["body"].as_str().unwrap();
        // The vectors' bodies are not JSON (`Hello, World!`): the preset would verify them and
        // answer 400 `invalid_json`; a route that accepts any body handles them.
        let route = presets::github()
            .any_body()
            .secrets([vector["secret"].as_str().unwrap()])
            .unwrap();
        let (service, seen) = receiver(route, SystemTime::now());
        let (outcome, _) = call(&service, request("/webhooks/github", &headers, body)).await;
        assert_eq!(outcome, Outcome::Handled, "{}", vector["name"]);
        assert_eq!(
            seen.lock().unwrap()[0].1,
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );

        // The preset itself expects JSON: a vector whose body is not JSON is verified, then
        // refused 400 (never 401).
        let (service, _) = receiver(
            github(&[vector["secret"].as_str().unwrap()]),
            SystemTime::now(),
        );
        let (outcome, _) = call(&service, request("/webhooks/github", &headers, body)).await;
        let expected = match serde_json::from_str::<Value>(body) {
            Ok(_) => Outcome::Handled,
            Err(_) => Outcome::Refused {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_json".into(),
            },
        };
        assert_eq!(outcome, expected, "{}", vector["name"]);

        let (service, _) = receiver(github(&["It's a Secret to Everybody!"]), SystemTime::now());
        let (outcome, _) = call(&service, request("/webhooks/github", &headers, body)).await;
        assert_eq!(outcome, refused("invalid_signature"));
    }
}

#[tokio::test]
async fn github_fixtures() {
    for name in ["issues.opened", "ping"] {
        let fixture = load("github", name);
        let event = fixture.header("X-GitHub-Event").to_owned();
        let key = fixture.header("X-GitHub-Delivery").to_owned();
        common(
            github,
            &fixture,
            Expect {
                event: &event,
                key: Some(&key),
                header: "X-Hub-Signature-256",
                tolerance: None,
                other: "another",
            },
        )
        .await;
    }
    kit_round_trip(
        github(&["kit-secret"]),
        "/webhooks/github",
        r#"{"zen":"Design for failure."}"#,
        &[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d-1")],
    )
    .await;
}

/// A redelivery keeps `X-GitHub-Delivery`: a duplicate; a new delivery id is handled (the
/// documented risk of an unsigned key).
#[tokio::test]
async fn github_dedup_is_by_delivery_header() {
    let fixture = load("github", "ping");
    let (service, seen) = receiver(github(&[&fixture.secret]), at(fixture.now));
    assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
    let again = fixture.with_header(
        "X-GitHub-Delivery",
        Some("0b4f0a80-0000-11f1-8f2b-7a1c3e9d5b21"),
    );
    assert_eq!(call(&service, again).await.0, Outcome::Handled);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------- Stripe

fn stripe(secrets: &[&str]) -> Generic<presets::Stripe> {
    presets::stripe().secrets(secrets).unwrap()
}

#[tokio::test]
async fn stripe_has_no_official_vector_and_says_so() {
    let file: Value = serde_json::from_str(&read("stripe/vectors.json")).unwrap();
    assert!(file["vectors"].as_array().unwrap().is_empty());
    assert!(
        file["no_official_vector"]
            .as_str()
            .unwrap()
            .contains("generateTestHeaderString")
    );
}

#[tokio::test]
async fn stripe_fixtures() {
    let fixture = load("stripe", "payment_intent.succeeded");
    common(
        stripe,
        &fixture,
        Expect {
            event: "payment_intent.succeeded",
            key: Some("evt_3QxYz2HookgateFixt0001"),
            header: "Stripe-Signature",
            tolerance: Some(Duration::from_secs(300)),
            other: "whsec_another",
        },
    )
    .await;
    kit_round_trip(
        stripe(&["whsec_kit"]),
        "/webhooks/stripe",
        r#"{"id":"evt_kit","type":"charge.succeeded"}"#,
        &[],
    )
    .await;
}

/// During a secret roll Stripe sends one `v1` per secret: a receiver with either secret
/// verifies the delivery.
#[tokio::test]
async fn stripe_two_signatures_in_one_header() {
    let fixture = load("stripe", "customer.created.rolled");
    let other = fixture.other_secret.clone().unwrap();
    for secret in [fixture.secret.as_str(), other.as_str()] {
        let (service, seen) = receiver(stripe(&[secret]), at(fixture.now));
        assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
        assert_eq!(
            seen.lock().unwrap()[0],
            (
                "customer.created".into(),
                "evt_1QxZ00HookgateFixt0002".into()
            )
        );
    }
    // A header without `t`, or with only another scheme, is malformed.
    let (service, _) = receiver(stripe(&[&fixture.secret]), at(fixture.now));
    let sig = fixture.header("Stripe-Signature");
    let no_t = sig
        .split(',')
        .filter(|p| !p.starts_with("t="))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        call(
            &service,
            fixture.with_header("Stripe-Signature", Some(&no_t))
        )
        .await
        .0,
        refused("malformed_timestamp")
    );
    let v0_only = sig.replace("v1=", "v0=");
    assert_eq!(
        call(
            &service,
            fixture.with_header("Stripe-Signature", Some(&v0_only))
        )
        .await
        .0,
        refused("malformed_signature")
    );
}

// ---------------------------------------------------------------------------------- Shopify

fn shopify(secrets: &[&str]) -> Generic<presets::Shopify> {
    presets::shopify().secrets(secrets).unwrap()
}

#[tokio::test]
async fn shopify_fixtures() {
    for (name, topic) in [
        ("orders.create", "orders/create"),
        ("products.update", "products/update"),
    ] {
        let fixture = load("shopify", name);
        let key = fixture.header("X-Shopify-Webhook-Id").to_owned();
        common(
            shopify,
            &fixture,
            Expect {
                event: topic,
                key: Some(&key),
                header: "X-Shopify-Hmac-Sha256",
                tolerance: None,
                other: "another",
            },
        )
        .await;
    }
    assert!(vectors("shopify").is_empty());
    kit_round_trip(
        shopify(&["kit"]),
        "/webhooks/shopify",
        r#"{"id":1}"#,
        &[
            ("X-Shopify-Topic", "orders/paid"),
            ("X-Shopify-Webhook-Id", "w-1"),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------- Slack

fn slack(secrets: &[&str]) -> Generic<presets::Slack> {
    presets::slack().secrets(secrets).unwrap()
}

/// Slack's documented vector is a form-encoded slash command: it verifies, and the Events
/// API preset then answers 400 (no `event.type`), never 401.
#[tokio::test]
async fn slack_official_vector() {
    let vectors = vectors("slack");
    assert_eq!(vectors.len(), 1);
    let vector = &vectors[0];
    let headers: BTreeMap<String, String> =
        serde_json::from_value(vector["headers"].clone()).unwrap();
    let body = vector["body"].as_str().unwrap();
    let timestamp = vector["timestamp"].as_u64().unwrap();
    let (service, _) = receiver(slack(&[vector["secret"].as_str().unwrap()]), at(timestamp));
    let (outcome, _) = call(&service, request("/webhooks/slack", &headers, body)).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_json".into()
        },
        "verified, then refused as not an Events API body"
    );
    let (service, _) = receiver(slack(&["8f742231b10e8888abcd99yyyzzz85a6"]), at(timestamp));
    let (outcome, _) = call(&service, request("/webhooks/slack", &headers, body)).await;
    assert_eq!(outcome, refused("invalid_signature"));

    // The same vector through a route configured for slash commands: handled.
    let mut config = presets::slack().config().clone();
    config.event = generic::Field::Fixed("command".into());
    config.id = None;
    config.any_body = true; // form-encoded
    let commands = generic::Builder::<presets::Slack>::from_config(config)
        .secrets([vector["secret"].as_str().unwrap()])
        .unwrap();
    let (service, seen) = receiver(commands, at(timestamp));
    let (outcome, _) = call(&service, request("/webhooks/slack", &headers, body)).await;
    assert_eq!(outcome, Outcome::Handled);
    assert_eq!(seen.lock().unwrap()[0].0, "command");
}

#[tokio::test]
async fn slack_fixtures() {
    let fixture = load("slack", "event_callback.app_mention");
    common(
        slack,
        &fixture,
        Expect {
            event: "app_mention",
            key: Some("Ev0LAN670R"),
            header: "X-Slack-Signature",
            tolerance: Some(Duration::from_secs(300)),
            other: "another",
        },
    )
    .await;
    // Slack's retry of the same event (new timestamp and signature, same event_id): a duplicate.
    let retry = load("slack", "event_callback.app_mention.retry");
    let (service, seen) = receiver(slack(&[&fixture.secret]), at(fixture.now));
    assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
    assert_eq!(call(&service, retry.request()).await.0, Outcome::Duplicate);
    assert_eq!(seen.lock().unwrap().len(), 1);

    kit_round_trip(
        slack(&["kit"]),
        "/webhooks/slack",
        r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}"#,
        &[],
    )
    .await;
}

#[tokio::test]
async fn slack_url_verification_is_answered() {
    let fixture = load("slack", "url_verification");
    let (service, seen) = receiver(slack(&[&fixture.secret]), at(fixture.now));
    let (outcome, body) = call(&service, fixture.request()).await;
    assert!(
        matches!(
            outcome,
            Outcome::Other {
                status: StatusCode::OK,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        body,
        serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "a handshake reaches no handler"
    );
    // Unsigned (or signed with another secret), it is refused like any delivery.
    let (service, _) = receiver(slack(&["another"]), at(fixture.now));
    assert_eq!(
        call(&service, fixture.request()).await.0,
        refused("invalid_signature")
    );
}

// ---------------------------------------------------------------------------------- Paddle

fn paddle(secrets: &[&str]) -> Generic<presets::Paddle> {
    presets::paddle().secrets(secrets).unwrap()
}

/// Paddle's SDK vectors verify (their bodies have no `event_type`: verified, then 400); the
/// SDK's refusals are refused 401 here too.
#[tokio::test]
async fn paddle_official_vectors() {
    let vectors = vectors("paddle");
    assert_eq!(vectors.len(), 2);
    let ts = 1_698_796_800;
    let not_an_event = Outcome::Refused {
        status: StatusCode::BAD_REQUEST,
        code: "missing_discriminator".into(),
    };
    for vector in &vectors {
        let headers: BTreeMap<String, String> =
            serde_json::from_value(vector["headers"].clone()).unwrap();
        let body = vector["body"].as_str().unwrap();
        let (service, _) = receiver(paddle(&[vector["secret"].as_str().unwrap()]), at(ts));
        let (outcome, _) = call(&service, request("/webhooks/paddle", &headers, body)).await;
        assert_eq!(outcome, not_an_event, "{}", vector["name"]);
    }
    let file: Value = serde_json::from_str(&read("paddle/vectors.json")).unwrap();
    for case in file["refused_in_the_same_sdk_test"].as_array().unwrap() {
        let secret = case["secret"].as_str().unwrap_or("VALID_SECRET");
        let body = case["body"].as_str().unwrap_or(r#"{"data": ["1", "2"]}"#);
        let headers = BTreeMap::from([(
            "Paddle-Signature".to_owned(),
            case["header"].as_str().unwrap().to_owned(),
        )]);
        let (service, _) = receiver(paddle(&[secret]), at(ts));
        let (outcome, _) = call(&service, request("/webhooks/paddle", &headers, body)).await;
        let code = match outcome {
            Outcome::Refused {
                status: StatusCode::UNAUTHORIZED,
                code,
            } => code,
            other => panic!("{}: {other:?}", case["why"]),
        };
        assert!(
            [
                "invalid_signature",
                "malformed_signature",
                "malformed_timestamp"
            ]
            .contains(&code.as_str()),
            "{}: {code}",
            case["why"]
        );
    }
}

#[tokio::test]
async fn paddle_fixtures() {
    let fixture = load("paddle", "subscription.created");
    common(
        paddle,
        &fixture,
        Expect {
            event: "subscription.created",
            key: Some("evt_01jhkgfx000000000000000001"),
            header: "Paddle-Signature",
            tolerance: Some(Duration::from_secs(300)),
            other: "pdl_ntfset_another",
        },
    )
    .await;
    // Two `h1` during a rotation: either secret verifies.
    let rotating = load("paddle", "transaction.completed.rotating");
    for secret in [
        rotating.secret.clone(),
        rotating.other_secret.clone().unwrap(),
    ] {
        let (service, seen) = receiver(paddle(&[&secret]), at(rotating.now));
        assert_eq!(call(&service, rotating.request()).await.0, Outcome::Handled);
        assert_eq!(seen.lock().unwrap()[0].1, "evt_01jhkgfx000000000000000002");
    }
    kit_round_trip(
        paddle(&["pdl_ntfset_kit"]),
        "/webhooks/paddle",
        r#"{"event_id":"evt_kit","event_type":"transaction.paid"}"#,
        &[],
    )
    .await;
}

// ---------------------------------------------------------------------------------- Linear

fn linear(secrets: &[&str]) -> Generic<presets::Linear> {
    presets::linear().secrets(secrets).unwrap()
}

/// The fixture's body, its `webhookTimestamp` set to `at_ms`, signed now with its secret.
fn linear_at(fixture: &Fixture, at_ms: u128) -> Fixture {
    let mut body: Value = serde_json::from_str(&fixture.body).unwrap();
    body["webhookTimestamp"] = Value::from(at_ms as u64);
    let body = body.to_string();
    let request = signed_request(
        &linear(&[&fixture.secret]),
        "/webhooks/linear",
        body.clone(),
    );
    let mut resigned = fixture.clone();
    resigned.body = body;
    resigned.now = unix(SystemTime::now());
    resigned.headers.insert(
        "Linear-Signature".into(),
        request.headers()["linear-signature"]
            .to_str()
            .unwrap()
            .into(),
    );
    resigned
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test]
async fn linear_fixtures() {
    assert!(vectors("linear").is_empty());
    for (name, event) in [("Issue.create", "Issue"), ("Comment.create", "Comment")] {
        let fixture = load("linear", name);
        // As stored, the signature is good and the body's timestamp is the fixture's own: stale
        // by now (the check runs only after the signature verified).
        let (service, _) = receiver(linear(&[&fixture.secret]), SystemTime::now());
        assert_eq!(
            call(&service, fixture.request()).await.0,
            refused("timestamp_too_old")
        );
        let (service, _) = receiver(linear(&["another"]), SystemTime::now());
        assert_eq!(
            call(&service, fixture.request()).await.0,
            refused("invalid_signature")
        );

        let fresh = linear_at(&fixture, now_ms());
        let key = fixture.header("Linear-Delivery").to_owned();
        common(
            linear,
            &fresh,
            Expect {
                event,
                key: Some(&key),
                header: "Linear-Signature",
                tolerance: None,
                other: "another",
            },
        )
        .await;
    }
}

#[tokio::test]
async fn linear_body_timestamp_window() {
    let fixture = load("linear", "Issue.create");
    let window = presets::LINEAR_TOLERANCE.as_millis();
    let cases = [
        (now_ms() - window - 5_000, refused("timestamp_too_old")),
        (now_ms() + window + 5_000, refused("timestamp_in_future")),
        (now_ms() - window + 5_000, Outcome::Handled),
        (now_ms() + window - 5_000, Outcome::Handled),
    ];
    for (at_ms, expected) in cases {
        let request = linear_at(&fixture, at_ms).request();
        let (service, _) = receiver(linear(&[&fixture.secret]), SystemTime::now());
        assert_eq!(call(&service, request).await.0, expected, "{at_ms}");
    }
}

#[tokio::test]
async fn linear_s_timestamp_check_uses_the_service_s_clock_and_survives_a_hook_of_yours() {
    let fixture = load("linear", "Issue.create");
    // The fixture as stored, at its own time by the service's clock: fresh.
    let (service, _) = receiver(linear(&[&fixture.secret]), at(fixture.now));
    assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);

    // A challenge hook of yours adds to the preset's check, and does not replace it.
    let hooked = presets::linear()
        .challenge(|_| None)
        .secrets([fixture.secret.as_str()])
        .unwrap();
    let (service, _) = receiver(hooked, SystemTime::now());
    assert_eq!(
        call(&service, fixture.request()).await.0,
        refused("timestamp_too_old")
    );

    // A timestamp that is there but not a whole number of milliseconds is refused, not taken
    // for an absent one.
    let mut body: Value = serde_json::from_str(&fixture.body).unwrap();
    body["webhookTimestamp"] = Value::from(1.5e12);
    let request = signed_request(
        &linear(&[&fixture.secret]),
        "/webhooks/linear",
        body.to_string(),
    );
    let (service, _) = receiver(linear(&[&fixture.secret]), SystemTime::now());
    assert_eq!(
        call(&service, request).await.0,
        refused("malformed_timestamp")
    );
}

// ---------------------------------------------------------------------------------- Square

fn square(secrets: &[&str]) -> Generic<presets::Square> {
    presets::square("https://example.com/webhooks/square")
        .secrets(secrets)
        .unwrap()
}

/// Square's documented vector verifies against its URL (its body is no event: verified, then
/// 400); the same request with another URL configured is refused 401.
#[tokio::test]
async fn square_official_vector() {
    let vectors = vectors("square");
    let vector = &vectors[0];
    let headers: BTreeMap<String, String> =
        serde_json::from_value(vector["headers"].clone()).unwrap();
    let body = vector["body"].as_str().unwrap();
    let url = vector["url"].as_str().unwrap();
    let key = vector["secret"].as_str().unwrap();
    let (service, _) = receiver(
        presets::square(url).secrets([key]).unwrap(),
        SystemTime::now(),
    );
    let (outcome, _) = call(&service, request(path_of(url), &headers, body)).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "missing_discriminator".into()
        }
    );
    let elsewhere = presets::square("https://example.com/webhook/")
        .secrets([key])
        .unwrap();
    let (service, _) = receiver(elsewhere, SystemTime::now());
    let (outcome, _) = call(&service, request(path_of(url), &headers, body)).await;
    assert_eq!(outcome, refused("invalid_signature"));
}

#[tokio::test]
async fn a_public_url_configured_with_its_query_is_signed_with_it_once() {
    // Square signs the notification URL as registered, query included; the request carries
    // that query. Configured "exactly as registered", the URL is not signed with the query
    // twice (`?site=1?site=1`, every delivery refused).
    let url = "https://example.com/webhook?site=1";
    let body = r#"{"type":"payment.created","event_id":"e-query"}"#;
    let tag = hookgate::keyring::Keyring::new(["sigkey"])
        .unwrap()
        .sign(url.as_bytes(), body.as_bytes());
    let headers = BTreeMap::from([("x-square-hmacsha256-signature".to_owned(), tag.to_base64())]);
    for configured in [url, "https://example.com/webhook"] {
        let (service, _) = receiver(
            presets::square(configured).secrets(["sigkey"]).unwrap(),
            SystemTime::now(),
        );
        let (outcome, _) = call(&service, request("/webhook?site=1", &headers, body)).await;
        assert_eq!(outcome, Outcome::Handled, "{configured}");
    }
}

#[tokio::test]
async fn square_fixtures() {
    let fixture = load("square", "payment.created");
    common(
        square,
        &fixture,
        Expect {
            event: "payment.created",
            key: Some("13b867cf-db3d-4b1c-90b6-2f32a9d78124"),
            header: "X-Square-Hmacsha256-Signature",
            tolerance: None,
            other: "another",
        },
    )
    .await;
    // Square's retry of the notification: same event_id, a duplicate.
    let retry = load("square", "payment.created.retry");
    let (service, seen) = receiver(square(&[&fixture.secret]), at(fixture.now));
    assert_eq!(call(&service, fixture.request()).await.0, Outcome::Handled);
    assert_eq!(call(&service, retry.request()).await.0, Outcome::Duplicate);
    assert_eq!(seen.lock().unwrap().len(), 1);
    kit_round_trip(
        square(&["kit"]),
        "/webhooks/square",
        r#"{"type":"payment.updated","event_id":"e-1"}"#,
        &[],
    )
    .await;
}

// ---------------------------------------------------------------------------------- Zoom

fn zoom(secrets: &[&str]) -> Generic<presets::Zoom> {
    presets::zoom().secrets(secrets).unwrap()
}

#[tokio::test]
async fn zoom_fixtures() {
    assert!(vectors("zoom").is_empty());
    let fixture = load("zoom", "meeting.started");
    common(
        zoom,
        &fixture,
        Expect {
            event: "meeting.started",
            key: None,
            header: "x-zm-signature",
            tolerance: Some(Duration::from_secs(300)),
            other: "another",
        },
    )
    .await;
    kit_round_trip(
        zoom(&["kit"]),
        "/webhooks/zoom",
        r#"{"event":"meeting.ended","payload":{}}"#,
        &[],
    )
    .await;
}

#[tokio::test]
async fn zoom_url_validation_is_answered() {
    let fixture = load("zoom", "endpoint.url_validation");
    // The second secret of the keyring verified it: the answer is signed with that one.
    let (service, seen) = receiver(zoom(&["another", &fixture.secret]), at(fixture.now));
    let (outcome, body) = call(&service, fixture.request()).await;
    assert!(
        matches!(
            outcome,
            Outcome::Other {
                status: StatusCode::OK,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(&body, fixture.expected_response.as_ref().unwrap());
    assert!(seen.lock().unwrap().is_empty());

    let (service, _) = receiver(zoom(&["another"]), at(fixture.now));
    assert_eq!(
        call(&service, fixture.request()).await.0,
        refused("invalid_signature")
    );
    let (service, _) = receiver(zoom(&[&fixture.secret]), at(fixture.now + 301));
    assert_eq!(
        call(&service, fixture.request()).await.0,
        refused("timestamp_too_old")
    );
}

// ---------------------------------------------------------------------------------- Discord

fn discord(keys: &[&str]) -> Generic<presets::Discord> {
    presets::discord().secrets(keys).unwrap()
}

/// A public key (hex) nobody signed the fixtures with.
fn other_public_key() -> String {
    const_hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes())
}

#[tokio::test]
async fn discord_fixtures() {
    assert!(vectors("discord").is_empty());
    let fixture = load("discord", "application_command");
    assert_eq!(
        const_hex::encode(fixture.signing_key().verifying_key().as_bytes()),
        fixture.secret,
        "the fixture's seed and public key belong together"
    );
    let other = other_public_key();
    common(
        discord,
        &fixture,
        Expect {
            event: "interaction",
            key: Some("1311111111111111112"),
            header: "X-Signature-Ed25519",
            tolerance: Some(Duration::from_secs(300)),
            other: &other,
        },
    )
    .await;

    // The testing kit signs with the private key.
    let key = fixture.signing_key();
    let now = SystemTime::now();
    let request = sign_generic(
        &discord(&[&fixture.secret]),
        Signer::Ed25519(&key),
        "/webhooks/discord",
        r#"{"id":"1","type":3,"data":{"custom_id":"ok"}}"#,
        now,
    )
    .unwrap();
    let (service, _) = receiver(discord(&[&fixture.secret]), now);
    assert_eq!(call(&service, request).await.0, Outcome::Handled);
}

/// The PING is answered PONG; Discord's deliberate bad signatures get 401.
#[tokio::test]
async fn discord_ping_and_invalid_signatures() {
    let fixture = load("discord", "ping");
    let (service, seen) = receiver(discord(&[&fixture.secret]), at(fixture.now));
    let (outcome, body) = call(&service, fixture.request()).await;
    assert!(
        matches!(
            outcome,
            Outcome::Other {
                status: StatusCode::OK,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(body, serde_json::json!({"type": 1}));
    assert!(seen.lock().unwrap().is_empty());

    let flipped = {
        let sig = fixture.header("X-Signature-Ed25519");
        let first = if sig.starts_with('0') { "1" } else { "0" };
        format!("{first}{}", &sig[1..])
    };
    for request in [
        fixture.with_header("X-Signature-Ed25519", Some(&flipped)),
        fixture.with_header("X-Signature-Ed25519", None),
        fixture.with_header(
            "X-Signature-Timestamp",
            Some(&(fixture.now + 1).to_string()),
        ),
        fixture.tampered(),
    ] {
        let (outcome, _) = call(&service, request).await;
        assert!(
            matches!(
                outcome,
                Outcome::Refused {
                    status: StatusCode::UNAUTHORIZED,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
    let (service, _) = receiver(discord(&[&other_public_key()]), at(fixture.now));
    assert_eq!(
        call(&service, fixture.request()).await.0,
        refused("invalid_signature")
    );
}

// ---------------------------------------------------------------------------------- Twilio

fn twilio(secrets: &[&str]) -> Generic<presets::Twilio> {
    presets::twilio("https://example.com/webhooks/twilio")
        .secrets(secrets)
        .unwrap()
}

/// Twilio's documented vector and twilio-python's: form parameters sorted (values too, for a
/// repeated name), and a JSON body checked against `bodySHA256`.
#[tokio::test]
async fn twilio_official_vectors() {
    let vectors = vectors("twilio");
    assert_eq!(vectors.len(), 6);
    let mut checked = 0;
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let url = vector["url"].as_str().unwrap();
        let public = url.split('?').next().unwrap();
        // Twilio's validators also try the URL without (or with) its default port; hookgate
        // checks the URL configured, so configure it as Twilio signed it.
        let public = match name {
            "sdk-adds-port-on-https" => public.replace(".com/", ".com:443/"),
            "sdk-removes-port-on-https" => public.replace(":1234", ""),
            _ => public.to_owned(),
        };
        let headers: BTreeMap<String, String> =
            serde_json::from_value(vector["headers"].clone()).unwrap();
        let body = vector["body"].as_str().unwrap();
        let provider = presets::twilio(&public)
            .secrets([vector["secret"].as_str().unwrap()])
            .unwrap();
        let (service, seen) = receiver(provider, SystemTime::now());
        let (outcome, _) = call(&service, request(path_of(url), &headers, body)).await;
        assert_eq!(outcome, Outcome::Handled, "{name}");
        assert_eq!(seen.lock().unwrap()[0].0, "request");
        checked += 1;

        let provider = presets::twilio(&public).secrets(["54321"]).unwrap();
        let (service, _) = receiver(provider, SystemTime::now());
        let (outcome, _) = call(&service, request(path_of(url), &headers, body)).await;
        assert_eq!(outcome, refused("invalid_signature"), "{name}");
    }
    assert_eq!(checked, 6);
}

#[tokio::test]
async fn twilio_fixtures() {
    for name in ["sms.incoming", "event_streams.message.delivered"] {
        let fixture = load("twilio", name);
        // A form body's key is the hash of what Twilio signs of it (its parameters, sorted,
        // each name then value), so that re-encoded bytes are the same delivery; a JSON body's
        // is the hash of its bytes, bound by the signed `bodySHA256`.
        let form_key = (!fixture.uri().contains("bodySHA256=")).then(|| {
            let mut params: Vec<(String, String)> = form_urlencoded::parse(fixture.body.as_bytes())
                .into_owned()
                .collect();
            params.sort();
            let signed: String = params.iter().map(|(n, v)| format!("{n}{v}")).collect();
            const_hex::encode(<sha2::Sha256 as sha2::Digest>::digest(signed.as_bytes()))
        });
        common(
            twilio,
            &fixture,
            Expect {
                event: "request",
                key: form_key.as_deref(),
                header: "X-Twilio-Signature",
                tolerance: None,
                other: "another",
            },
        )
        .await;
    }
    // Parameters in another order sign the same: Twilio sorts them.
    let fixture = load("twilio", "sms.incoming");
    let mut pairs: Vec<&str> = fixture.body.split('&').collect();
    pairs.reverse();
    let reordered = request(fixture.uri(), &fixture.headers, &pairs.join("&"));
    let (service, _) = receiver(twilio(&[&fixture.secret]), at(fixture.now));
    assert_eq!(call(&service, reordered).await.0, Outcome::Handled);
    // ...so their dedup key is the hash of what is signed, not of the raw bytes: the original,
    // the same parameters reordered again, with a trailing `&`, or with `+` written `%20`,
    // are all one delivery (each would otherwise be handled anew: Twilio signs no timestamp).
    let original = request(fixture.uri(), &fixture.headers, &fixture.body);
    assert_eq!(call(&service, original).await.0, Outcome::Duplicate);
    pairs.rotate_left(1);
    for body in [
        pairs.join("&"),
        format!("{}&", fixture.body),
        fixture.body.replace('+', "%20"),
    ] {
        let variant = request(fixture.uri(), &fixture.headers, &body);
        assert_eq!(
            call(&service, variant).await.0,
            Outcome::Duplicate,
            "{body}"
        );
    }

    // A JSON body whose bodySHA256 does not match is refused, even when the URL's signature is
    // good; so is a changed bodySHA256.
    let json = load("twilio", "event_streams.message.delivered");
    let (service, _) = receiver(twilio(&[&json.secret]), at(json.now));
    let other_body = request(
        json.uri(),
        &json.headers,
        &json.body.replace("DELIVERED", "FAILED"),
    );
    assert_eq!(
        call(&service, other_body).await.0,
        refused("invalid_signature")
    );
    let other_hash = request(
        &json.uri().replace("bodySHA256=", "bodySHA256=0"),
        &json.headers,
        &json.body,
    );
    assert_eq!(
        call(&service, other_hash).await.0,
        refused("invalid_signature")
    );

    kit_round_trip(
        twilio(&["kit"]),
        "/webhooks/twilio",
        "From=%2B15558675310&Body=hi+there&To=%2B15017122661",
        &[],
    )
    .await;
}

// ------------------------------------------------------------------ Standard Webhooks `v1a`

fn v1a(keys: &[&str]) -> Generic<presets::StandardV1a> {
    presets::standard_v1a()
        .secrets(keys.iter().map(|key| presets::strip_whpk(key)))
        .unwrap()
}

/// The Go library's signing vector verifies with the public key of its seed (its body has no
/// `type`: verified, then 400); another key refuses it.
#[tokio::test]
async fn standard_v1a_official_vector() {
    let vectors = vectors("standard-v1a");
    let vector = &vectors[0];
    let seed = base64_decode(vector["signing_secret"].as_str().unwrap());
    let public = SigningKey::from_bytes(&seed.try_into().unwrap()).verifying_key();
    assert_eq!(
        format!("whpk_{}", base64_encode(public.as_bytes())),
        vector["secret"].as_str().unwrap()
    );
    let headers: BTreeMap<String, String> =
        serde_json::from_value(vector["headers"].clone()).unwrap();
    let body = vector["body"].as_str().unwrap();
    let timestamp = vector["timestamp"].as_u64().unwrap();
    let (service, _) = receiver(v1a(&[vector["secret"].as_str().unwrap()]), at(timestamp));
    let (outcome, _) = call(&service, request("/webhooks/standard", &headers, body)).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "missing_discriminator".into()
        }
    );
    let other = base64_encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
    let (service, _) = receiver(v1a(&[&other]), at(timestamp));
    let (outcome, _) = call(&service, request("/webhooks/standard", &headers, body)).await;
    assert_eq!(outcome, refused("invalid_signature"));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim_start_matches("whsk_"))
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn standard_v1a_fixture() {
    let fixture = load("standard-v1a", "contact.created");
    let other = format!(
        "whpk_{}",
        base64_encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes())
    );
    common(
        v1a,
        &fixture,
        Expect {
            event: "contact.created",
            key: Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
            header: "webhook-signature",
            tolerance: Some(Duration::from_secs(300)),
            other: &other,
        },
    )
    .await;
    // The testing kit signs `v1a` with the private key (a fresh `webhook-id`).
    let seed = base64_decode(&read_signing_secret());
    let key = SigningKey::from_bytes(&seed.try_into().unwrap());
    let now = SystemTime::now();
    let request = sign_generic(
        &v1a(&[&fixture.secret]),
        Signer::Ed25519(&key),
        "/webhooks/standard",
        r#"{"type":"contact.deleted","data":{}}"#,
        now,
    )
    .unwrap();
    let (service, seen) = receiver(v1a(&[&fixture.secret]), now);
    assert_eq!(call(&service, request).await.0, Outcome::Handled);
    assert!(seen.lock().unwrap()[0].1.starts_with("msg_"));

    // `webhook-id` is signed: changing it breaks the signature.
    let (service, _) = receiver(v1a(&[&fixture.secret]), at(fixture.now));
    let renamed = fixture.with_header("webhook-id", Some("msg_other"));
    assert_eq!(
        call(&service, renamed).await.0,
        refused("invalid_signature")
    );
}

/// The fixture's private key (`whsk_...`).
fn read_signing_secret() -> String {
    let file: Value = serde_json::from_str(&read("standard-v1a/contact.created.json")).unwrap();
    file["signing_secret"].as_str().unwrap().to_owned()
}

/// The envelope reads the top level only; a signed body malformed deeper down is still refused
/// 400 before any handler sees it (the typed decode, or the dispatcher's check, is the one full
/// JSON pass).
#[tokio::test]
async fn a_signed_body_malformed_below_the_top_level_is_400() {
    let provider = stripe(&["whsec_dGVzdC1zZWNyZXQtZm9yLXN0cmlwZQ"]);
    let body = r#"{"id":"evt_1","type":"customer.created","data":{"object":{"a":}}}"#;
    let request = signed_request(&provider, "/webhooks/stripe", body.to_owned());
    let (service, seen) = receiver(provider, SystemTime::now());
    assert_eq!(
        call(&service, request).await.0,
        Outcome::Refused {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_json".into()
        }
    );
    assert!(seen.lock().unwrap().is_empty());
}
