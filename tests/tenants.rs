//! Tenants own their keys (issue 11): a keyring entry belongs to a tenant, the tenant that
//! verified a delivery is in its `Delivery` and its dedup key, one tenant's secret never
//! vouches for another's body, routes sharing a store never suppress each other, secrets
//! rotate at runtime, and an unauthenticated request costs a bounded number of HMACs however
//! many tenants there are. Over real HTTP: an axum server on 127.0.0.1 and a real client.
#![cfg(all(
    feature = "zernio",
    feature = "ayrshare",
    feature = "standard",
    feature = "testing"
))]

mod support;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use axum::Router;
use hookgate::{
    BoxFuture, Delivery, Webhooks,
    ayrshare::{self, Ayrshare},
    dedup::MemoryStore,
    event::UnknownEvent,
    keyring::{Keyring, MAX_KEYS_PER_REQUEST, MAX_KEYS_PER_TENANT},
    secrets::{CacheOptions, CachedSource, Rotating, SecretSource, SourceError, TenantFrom},
    standard::{self, Standard},
    zernio::{self, Zernio},
};
use sha2::{Digest, Sha256};
use support::serve;

const PROFILE_A: &str = "9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d";
const PROFILE_B: &str = "0d2f4a6c8e0b1d9f2c4e1a7b3d5f60812a4c6e8b";

/// One handler call: (route, tenant, key).
type Call = (String, Option<String>, String);

/// What the handlers saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Call>>>);

impl Seen {
    fn record(&self, route: &str, delivery: &Delivery) {
        self.0.lock().unwrap().push((
            route.to_owned(),
            delivery.tenant().map(|t| t.to_string()),
            delivery.key().to_owned(),
        ));
    }

    fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }
}

/// A reply's status and JSON body.
async fn answer(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn hex_hmac(secret: &str, body: &[u8]) -> String {
    Keyring::new([secret]).unwrap().sign(b"", body).to_hex()
}

// ---------------------------------------------------------------------------------------
// Ayrshare: one profile's secret never vouches for another profile's body.
// ---------------------------------------------------------------------------------------

fn ayrshare_body(ref_id: &str, hook_id: &str) -> String {
    format!(
        r#"{{"action":"scheduled","status":"success","id":"post_1","refId":"{ref_id}","hookId":"{hook_id}","errors":[],"postIds":[]}}"#
    )
}

async fn post_ayrshare(url: &str, secret: &str, body: &str) -> (u16, serde_json::Value) {
    let signature = hex_hmac(secret, body.as_bytes());
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-authorization-content-sha256", &signature)
        .header(
            "x-authorization-content-sha256-v2",
            format!("v1={signature}"),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn ayrshare_route(keyring: Keyring, seen: &Seen) -> String {
    let seen = seen.clone();
    let service = Webhooks::new(Ayrshare::with_keyring(keyring))
        .on(move |_: ayrshare::Scheduled, delivery: Delivery| {
            let seen = seen.clone();
            async move { seen.record("ayrshare", &delivery) }
        })
        .build()
        .unwrap();
    let addr = serve(Router::new().route_service("/webhooks/ayrshare", service)).await;
    format!("http://{addr}/webhooks/ayrshare")
}

/// The forgery of issue 11: profile A signs a body naming profile B with B's `hookId`.
async fn forged_then_real(keyring: Keyring, forged_code: &str) {
    let seen = Seen::default();
    let url = ayrshare_route(keyring, &seen).await;
    let forged = ayrshare_body(PROFILE_B, "hk_shared");
    let (status, body) = post_ayrshare(&url, "secret-a", &forged).await;
    assert_eq!((status, body["code"].as_str()), (401, Some(forged_code)));
    assert!(
        seen.calls().is_empty(),
        "the forged event reached a handler"
    );

    // B's real delivery with the same hookId is handled, as B's.
    let (status, body) = post_ayrshare(&url, "secret-b", &forged).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("handled")));
    assert_eq!(
        seen.calls(),
        [(
            "ayrshare".to_owned(),
            Some(PROFILE_B.to_owned()),
            "hk_shared".to_owned()
        )]
    );
    // A's own delivery with the same hookId is A's event: a different key.
    let own = ayrshare_body(PROFILE_A, "hk_shared");
    let (status, body) = post_ayrshare(&url, "secret-a", &own).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("handled")));
    assert_eq!(seen.calls()[1].1.as_deref(), Some(PROFILE_A));
}

#[tokio::test]
async fn a_profile_cannot_sign_for_another_profile() {
    // A small keyring: every key is tried, then the body's refId is checked.
    let keyring = Keyring::builder()
        .tenant(PROFILE_A, ["secret-a"])
        .tenant(PROFILE_B, ["secret-b", "secret-b-previous"])
        .build()
        .unwrap();
    forged_then_real(keyring, "tenant_mismatch").await;
}

#[tokio::test]
async fn with_many_profiles_the_ref_id_chooses_the_keys() {
    // Over MAX_KEYS_PER_REQUEST keys: the refId names the one profile whose keys are tried,
    // so A's signature is simply not B's.
    let mut builder = Keyring::builder()
        .tenant(PROFILE_A, ["secret-a"])
        .tenant(PROFILE_B, ["secret-b"]);
    for i in 0..MAX_KEYS_PER_REQUEST {
        builder = builder.tenant(format!("profile-{i}"), [format!("secret-{i}")]);
    }
    forged_then_real(builder.build().unwrap(), "invalid_signature").await;
}

// ---------------------------------------------------------------------------------------
// Routes sharing one store.
// ---------------------------------------------------------------------------------------

fn standard_body() -> &'static str {
    r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"invoice":"in_1"}}"#
}

async fn post_standard(
    url: &str,
    standard: &Standard,
    id: &str,
    timestamp: i64,
) -> (u16, serde_json::Value) {
    let body = standard_body();
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            standard.sign(id, timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn standard_service(
    standard: Standard,
    route: &'static str,
    store: &Arc<MemoryStore>,
    namespace: Option<&str>,
    seen: &Seen,
) -> hookgate::Dispatcher<Standard, ()> {
    let seen = seen.clone();
    let mut webhooks = Webhooks::new(standard).store(store.clone());
    if let Some(namespace) = namespace {
        webhooks = webhooks.namespace(namespace);
    }
    webhooks
        .on_any(move |_: standard::Event, delivery: Delivery| {
            let seen = seen.clone();
            async move { seen.record(route, &delivery) }
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_standard_routes_sharing_a_store_both_handle_a_colliding_id() {
    let store = Arc::new(MemoryStore::new());
    let seen = Seen::default();
    let billing = Standard::from_raw_keys([b"billing sender's key"]).unwrap();
    let shipping = Standard::from_raw_keys([b"shipping sender's key"]).unwrap();
    let app = Router::new()
        .route_service(
            "/billing",
            standard_service(billing.clone(), "billing", &store, None, &seen),
        )
        .route_service(
            "/shipping",
            standard_service(shipping.clone(), "shipping", &store, None, &seen),
        );
    let addr = serve(app).await;
    let ts = now();
    for (route, standard) in [("billing", &billing), ("shipping", &shipping)] {
        let url = format!("http://{addr}/{route}");
        let (status, body) = post_standard(&url, standard, "msg_1", ts).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &"handled".into()),
            "{route}"
        );
        // Each route still de-duplicates its own retries.
        let (status, body) = post_standard(&url, standard, "msg_1", ts + 1).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &"duplicate".into()),
            "{route}"
        );
    }
    let routes: Vec<String> = seen.calls().into_iter().map(|c| c.0).collect();
    assert_eq!(routes, ["billing", "shipping"]);
}

#[tokio::test]
async fn configured_namespaces_keep_routes_apart_even_with_one_secret() {
    let store = Arc::new(MemoryStore::new());
    let seen = Seen::default();
    let standard = Standard::from_raw_keys([b"one key for both"]).unwrap();
    let service = |route, namespace| {
        standard_service(standard.clone(), route, &store, Some(namespace), &seen)
    };
    let app = Router::new()
        .route_service("/a", service("a", "billing"))
        .route_service("/b", service("b", "shipping"))
        .route_service("/c", service("c", "billing"));
    let addr = serve(app).await;
    let ts = now();
    let mut statuses = Vec::new();
    for route in ["a", "b", "c"] {
        let url = format!("http://{addr}/{route}");
        let (_, body) = post_standard(&url, &standard, "msg_same", ts).await;
        statuses.push(body["status"].as_str().unwrap().to_owned());
    }
    // `c` shares `a`'s namespace on purpose: the same delivery is a duplicate there.
    assert_eq!(statuses, ["handled", "handled", "duplicate"]);
}

fn zernio_service(
    zernio: Zernio,
    route: &'static str,
    store: &Arc<MemoryStore>,
    seen: &Seen,
) -> hookgate::Dispatcher<Zernio, ()> {
    let (typed, untyped) = (seen.clone(), seen.clone());
    Webhooks::new(zernio)
        .store(store.clone())
        .on(move |_: zernio::WebhookTest, delivery: Delivery| {
            let seen = typed.clone();
            async move { seen.record(route, &delivery) }
        })
        // A `webhook.test` without an id does not fit the model: it takes this path.
        .fallback(move |_: UnknownEvent, delivery: Delivery| {
            let seen = untyped.clone();
            async move { seen.record(route, &delivery) }
        })
        .build()
        .unwrap()
}

async fn post_zernio(url: &str, secret: &str, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-zernio-signature", hex_hmac(secret, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    answer(response).await
}

#[tokio::test]
async fn two_zernio_accounts_sharing_a_store_both_handle_a_colliding_id() {
    let store = Arc::new(MemoryStore::new());
    let seen = Seen::default();
    let app = Router::new()
        .route_service(
            "/one",
            zernio_service(Zernio::new(["account-one"]).unwrap(), "one", &store, &seen),
        )
        .route_service(
            "/two",
            zernio_service(Zernio::new(["account-two"]).unwrap(), "two", &store, &seen),
        );
    let addr = serve(app).await;
    let body = r#"{"id":"evt_1","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let one = post_zernio(&format!("http://{addr}/one"), "account-one", body).await;
    let two = post_zernio(&format!("http://{addr}/two"), "account-two", body).await;
    assert_eq!(
        (one.1["status"].as_str(), two.1["status"].as_str()),
        (Some("handled"), Some("handled"))
    );
    assert_eq!(seen.calls().len(), 2);
}

#[tokio::test]
async fn a_body_hash_key_and_an_id_equal_to_that_hash_do_not_collide() {
    let store = Arc::new(MemoryStore::new());
    let seen = Seen::default();
    let app = Router::new().route_service(
        "/z",
        zernio_service(Zernio::new(["s"]).unwrap(), "z", &store, &seen),
    );
    let url = format!("http://{}/z", serve(app).await);
    // No id: the key is the body's hex SHA-256.
    let without_id =
        r#"{"event":"webhook.test","message":"no id","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    let hash = const_hex_sha256(without_id.as_bytes());
    let (_, body) = post_zernio(&url, "s", without_id).await;
    assert_eq!(body["status"], "handled");
    // A signed event whose id is that hash is another event.
    let with_id = format!(
        r#"{{"id":"{hash}","event":"webhook.test","message":"id","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    );
    let (_, body) = post_zernio(&url, "s", &with_id).await;
    assert_eq!(body["status"], "handled");
    let keys: Vec<String> = seen.calls().into_iter().map(|c| c.2).collect();
    assert_eq!(keys, [hash.clone(), hash]);
}

fn const_hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Rotation at runtime.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_rotating_keyring_changes_without_rebuilding_the_service() {
    let keys = Rotating::new(Keyring::new(["old"]).unwrap());
    let seen = Seen::default();
    let service = zernio_service(
        Zernio::with_secrets(keys.secrets(TenantFrom::AnyKey)),
        "z",
        &Arc::new(MemoryStore::new()),
        &seen,
    );
    let url = format!(
        "http://{}/z",
        serve(Router::new().route_service("/z", service)).await
    );
    let body = |id: &str| {
        format!(
            r#"{{"id":"{id}","event":"webhook.test","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}}"#
        )
    };
    let code = |a: (u16, serde_json::Value)| (a.0, a.1["code"].as_str().map(str::to_owned));

    assert_eq!(post_zernio(&url, "old", &body("1")).await.0, 200);
    assert_eq!(
        code(post_zernio(&url, "new", &body("2")).await),
        (401, Some("invalid_signature".into()))
    );
    // Add the new secret in front: both verify.
    keys.rotate(Keyring::new(["new", "old"]).unwrap());
    assert_eq!(post_zernio(&url, "new", &body("3")).await.0, 200);
    assert_eq!(post_zernio(&url, "old", &body("4")).await.0, 200);
    // Remove the old one: only the new one verifies.
    keys.rotate(Keyring::new(["new"]).unwrap());
    assert_eq!(
        code(post_zernio(&url, "old", &body("5")).await),
        (401, Some("invalid_signature".into()))
    );
    assert_eq!(post_zernio(&url, "new", &body("6")).await.0, 200);
    assert_eq!(seen.calls().len(), 4);
}

/// Tenants in a map the test can change, counting lookups and the keys handed out (each key
/// costs one HMAC per delivery it verifies).
#[derive(Clone, Default)]
struct CountingSource {
    secrets: Arc<Mutex<HashMap<String, Vec<String>>>>,
    lookups: Arc<AtomicUsize>,
    keys_handed_out: Arc<AtomicUsize>,
}

impl SecretSource for CountingSource {
    fn keyring<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let secrets = self.secrets.lock().unwrap().get(tenant).cloned();
            match secrets {
                None => Ok(None),
                Some(secrets) => {
                    self.keys_handed_out
                        .fetch_add(secrets.len(), Ordering::SeqCst);
                    Ok(Some(standard::keyring(&secrets)?))
                }
            }
        })
    }
}

fn whsec(raw: &str) -> String {
    use base64::Engine as _;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn a_source_of_a_thousand_tenants_costs_a_bounded_number_of_hmacs() {
    let source = CountingSource::default();
    {
        let mut map = source.secrets.lock().unwrap();
        for i in 0..1000 {
            map.insert(
                format!("customer-{i}"),
                vec![
                    whsec(&format!("current-{i}")),
                    whsec(&format!("previous-{i}")),
                ],
            );
        }
    }
    let cache = CachedSource::with_options(source.clone(), CacheOptions::default().capacity(100));
    let seen = Seen::default();
    let store = Arc::new(MemoryStore::new());
    let service = standard_service(
        Standard::with_secrets(cache.secrets(TenantFrom::PathSegment(1))),
        "tenanted",
        &store,
        None,
        &seen,
    );
    let addr = serve(Router::new().route_service("/hooks/{customer}", service)).await;
    let url = |customer: &str| format!("http://{addr}/hooks/{customer}");
    let ts = now();
    let forger = Standard::from_raw_keys([b"guess"]).unwrap();

    // A forged request naming one of the 1000 tenants: one lookup, that tenant's two keys.
    let (status, body) = post_standard(&url("customer-500"), &forger, "msg_f", ts).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    assert_eq!(source.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(source.keys_handed_out.load(Ordering::SeqCst), 2);
    // The same again: cached, no lookup; the tenant's keys only (at most MAX_KEYS_PER_TENANT).
    for _ in 0..5 {
        let (status, _) = post_standard(&url("customer-500"), &forger, "msg_f", ts).await;
        assert_eq!(status, 401);
    }
    assert_eq!(source.lookups.load(Ordering::SeqCst), 1);
    assert!(source.keys_handed_out.load(Ordering::SeqCst) <= MAX_KEYS_PER_TENANT);

    // An unknown tenant: one lookup, remembered as unknown.
    for _ in 0..3 {
        let (status, body) = post_standard(&url("nobody"), &forger, "msg_f", ts).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unknown_tenant"))
        );
    }
    assert_eq!(source.lookups.load(Ordering::SeqCst), 2);

    // The real sender of customer-7 (its previous secret, during a rotation) is handled as
    // customer-7.
    let real = Standard::new([whsec("previous-7")]).unwrap();
    let (status, body) = post_standard(&url("customer-7"), &real, "msg_1", ts).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("handled")));
    assert_eq!(seen.calls()[0].1.as_deref(), Some("customer-7"));
    // Its keys, signed for another tenant's path, verify nothing there.
    let (status, _) = post_standard(&url("customer-8"), &real, "msg_2", ts).await;
    assert_eq!(status, 401);
    assert_eq!(source.lookups.load(Ordering::SeqCst), 4);

    // A rotation in the source: the new secret is used once the cache entry is invalidated.
    source
        .secrets
        .lock()
        .unwrap()
        .insert("customer-7".into(), vec![whsec("rotated-7")]);
    let rotated = Standard::new([whsec("rotated-7")]).unwrap();
    let (status, _) = post_standard(&url("customer-7"), &rotated, "msg_3", ts).await;
    assert_eq!(status, 401, "still cached");
    cache.invalidate("customer-7");
    let (status, _) = post_standard(&url("customer-7"), &rotated, "msg_3", ts).await;
    assert_eq!(status, 200);
    let (status, _) = post_standard(&url("customer-7"), &real, "msg_4", ts).await;
    assert_eq!(status, 401, "the removed secret no longer verifies");
}

#[tokio::test]
async fn a_source_without_a_tenant_in_the_request_costs_nothing() {
    let source = CountingSource::default();
    source
        .secrets
        .lock()
        .unwrap()
        .insert("acme".into(), vec![whsec("acme")]);
    let cache = CachedSource::new(source.clone());
    let header = http::HeaderName::from_static("x-customer");
    let seen = Seen::default();
    let store = Arc::new(MemoryStore::new());
    let app = Router::new()
        .route_service(
            "/auto",
            standard_service(
                Standard::with_secrets(cache.secrets(TenantFrom::Auto)),
                "auto",
                &store,
                None,
                &seen,
            ),
        )
        .route_service(
            "/header",
            standard_service(
                Standard::with_secrets(cache.secrets(TenantFrom::Header(header))),
                "header",
                &store,
                None,
                &seen,
            ),
        );
    let addr = serve(app).await;
    let acme = Standard::new([whsec("acme")]).unwrap();
    let (status, body) = post_standard(&format!("http://{addr}/auto"), &acme, "m1", now()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("tenant_required"))
    );
    let (status, body) = post_standard(&format!("http://{addr}/header"), &acme, "m1", now()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("tenant_required"))
    );
    assert_eq!(source.lookups.load(Ordering::SeqCst), 0);

    // Named by the header: handled as acme.
    let body = standard_body();
    let ts = now();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/header"))
        .header("x-customer", "acme")
        .header("webhook-id", "m2")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", acme.sign("m2", ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.calls()[0].1.as_deref(), Some("acme"));
}

#[tokio::test]
async fn a_failing_source_answers_503() {
    struct Down;
    impl SecretSource for Down {
        fn keyring<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
            Box::pin(async { Err(SourceError::new("database unreachable")) })
        }
    }
    let seen = Seen::default();
    let service = standard_service(
        Standard::with_secrets(CachedSource::new(Down).secrets(TenantFrom::PathSegment(1))),
        "down",
        &Arc::new(MemoryStore::new()),
        None,
        &seen,
    );
    let addr = serve(Router::new().route_service("/hooks/{customer}", service)).await;
    let standard = Standard::from_raw_keys([b"k"]).unwrap();
    let (status, body) =
        post_standard(&format!("http://{addr}/hooks/acme"), &standard, "m", now()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("secrets_unavailable"))
    );
    assert!(seen.calls().is_empty());
}

#[tokio::test]
async fn a_source_that_hangs_answers_503_within_the_read_timeout() {
    struct Hangs;
    impl SecretSource for Hangs {
        fn keyring<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
            Box::pin(std::future::pending())
        }
    }
    let seen = Seen::default();
    let route = seen.clone();
    let service = Webhooks::new(Standard::with_secrets(
        CachedSource::new(Hangs).secrets(TenantFrom::PathSegment(1)),
    ))
    .read_timeout(std::time::Duration::from_millis(200))
    .on_any(move |_: standard::Event, delivery: Delivery| {
        let seen = route.clone();
        async move { seen.record("hangs", &delivery) }
    })
    .build()
    .unwrap();
    let addr = serve(Router::new().route_service("/hooks/{customer}", service)).await;
    let standard = Standard::from_raw_keys([b"k"]).unwrap();
    // Without a bound the delivery would wait forever: fail instead of hanging.
    let (status, body) = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        post_standard(&format!("http://{addr}/hooks/acme"), &standard, "m", now()),
    )
    .await
    .expect("answered");
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("secrets_unavailable"))
    );
    assert!(seen.calls().is_empty());
}
