//! `hookgate send`, `sign` and `verify`, run as the real binary against the library's own
//! dispatcher served on 127.0.0.1.

mod support;

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
};

use axum::Router;
use hookgate::{
    Delivery, Webhooks, ayrshare::Ayrshare, event::UnknownEvent, provider::Provider,
    standard::Standard, zernio::Zernio,
};
use support::{Run, hookgate, run};

const ZERNIO_SECRET: &str = "zernio-test-secret";
const AYRSHARE_SECRET: &str = "ayrshare-test-secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What reached a handler: (provider, event, key, typed).
type Seen = Arc<Mutex<Vec<(String, String, String, bool)>>>;

fn record(seen: &Seen, delivery: &Delivery, typed: bool) {
    seen.lock().unwrap().push((
        delivery.provider().to_owned(),
        delivery.event().to_owned(),
        delivery.key().to_owned(),
        typed,
    ));
}

async fn untyped(_: UnknownEvent, delivery: Delivery, seen: Seen) {
    record(&seen, &delivery, false)
}

fn catalogue<P: Provider>(provider: P, seen: &Seen) -> hookgate::Dispatcher<P, Seen> {
    Webhooks::with_state(provider, seen.clone())
        .on(|_: P::Event, delivery: Delivery, seen: Seen| async move {
            record(&seen, &delivery, true)
        })
        .fallback(untyped)
        .build()
        .unwrap()
}

/// The receiver example's routes, with these secrets (the current one first).
async fn receiver(zernio: &[&str], ayrshare: &[&str], standard: &[&str]) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let standard = Webhooks::with_state(Standard::new(standard).unwrap(), seen.clone())
        .on_any(
            |_: hookgate::standard::Event, delivery: Delivery, seen: Seen| async move {
                record(&seen, &delivery, true)
            },
        )
        .fallback(untyped)
        .build()
        .unwrap();
    let app = Router::new()
        .route_service(
            "/webhooks/zernio",
            catalogue(Zernio::new(zernio).unwrap(), &seen),
        )
        .route_service(
            "/webhooks/ayrshare",
            catalogue(Ayrshare::new(ayrshare).unwrap(), &seen),
        )
        .route_service("/webhooks/standard", standard);
    (support::serve(app).await, seen)
}

async fn default_receiver() -> (SocketAddr, Seen) {
    receiver(&[ZERNIO_SECRET], &[AYRSHARE_SECRET], &[STANDARD_SECRET]).await
}

fn url(addr: SocketAddr, provider: &str) -> String {
    format!("http://{addr}/webhooks/{provider}")
}

/// The event name the library gives a fixture (`action` or `action/subAction` for Ayrshare).
fn library_name(provider: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(provider)
        .join(format!("{name}.json"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    match provider {
        "zernio" => json["event"].as_str().unwrap().to_owned(),
        _ => match json["subAction"].as_str() {
            Some(sub) => format!("{}/{sub}", json["action"].as_str().unwrap()),
            None => json["action"].as_str().unwrap().to_owned(),
        },
    }
}

#[tokio::test]
async fn every_catalogued_event_reaches_its_typed_handler() {
    let (addr, seen) = default_receiver().await;
    for (provider, var, secret, count) in [
        ("zernio", "ZERNIO_WEBHOOK_SECRET", ZERNIO_SECRET, 49),
        ("ayrshare", "AYRSHARE_WEBHOOK_SECRET", AYRSHARE_SECRET, 17),
    ] {
        let listed = run(hookgate().args(["events", provider]), None).await;
        assert_eq!(listed.code, 0, "{listed:?}");
        let names: Vec<&str> = listed
            .stdout
            .lines()
            .map(|line| line.strip_prefix(&format!("{provider} ")).unwrap())
            .collect();
        assert_eq!(names.len(), count, "{}", listed.stdout);
        for name in names {
            let sent = run(
                hookgate()
                    .args(["send", provider, name, "--url", &url(addr, provider)])
                    .env(var, secret),
                None,
            )
            .await;
            assert_eq!(sent.code, 0, "{provider} {name}: {sent:?}");
            assert!(
                sent.stdout.starts_with("200 OK in ") && sent.stdout.contains("handled"),
                "{provider} {name}: {}",
                sent.stdout
            );
            let last = seen.lock().unwrap().last().cloned().unwrap();
            assert_eq!(last.0, provider);
            assert_eq!(last.1, library_name(provider, name), "{provider} {name}");
            assert!(last.3, "{provider} {name} took the unknown path");
        }
    }
    // Every send was a fresh event: as many distinct keys as sends, none a body hash.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 49 + 17);
    let keys: std::collections::HashSet<_> = seen.iter().map(|s| &s.2).collect();
    assert_eq!(keys.len(), seen.len());
    assert!(
        seen.iter()
            .filter(|s| s.0 == "ayrshare")
            .all(|s| s.2.starts_with("hk_"))
    );
}

#[tokio::test]
async fn repeat_is_handled_once_and_answered_as_duplicates() {
    let (addr, seen) = default_receiver().await;
    let sent = run(
        hookgate()
            .args(["send", "zernio", "post.published", "--repeat", "3"])
            .args(["--url", &url(addr, "zernio"), "--secret", ZERNIO_SECRET]),
        None,
    )
    .await;
    assert_eq!(sent.code, 0, "{sent:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "{sent:?}");
    // The summary table: one handled, two duplicates, and the latencies.
    let table: Vec<&str> = sent.stdout.lines().collect();
    assert!(
        table
            .iter()
            .any(|l| l.starts_with("200") && l.contains(" 1  {\"status\":\"handled\"}")),
        "{}",
        sent.stdout
    );
    assert!(
        table
            .iter()
            .any(|l| l.starts_with("200") && l.contains(" 2  {\"status\":\"duplicate\"}")),
        "{}",
        sent.stdout
    );
    assert!(sent.stdout.contains("latency  p50 "), "{}", sent.stdout);

    // The same as JSON, for Ayrshare, all at once: still one handling; each answer is a 200
    // (handled or duplicate) or a 429 while the first is in flight.
    let sent = run(
        hookgate()
            .args(["send", "ayrshare", "scheduled", "--repeat", "5"])
            .args(["--concurrent", "5", "--json"])
            .args(["--url", &url(addr, "ayrshare")])
            .env("AYRSHARE_WEBHOOK_SECRET", AYRSHARE_SECRET),
        None,
    )
    .await;
    let summary: serde_json::Value = serde_json::from_str(&sent.stdout).unwrap();
    assert_eq!(summary["sent"], 5);
    assert_eq!(
        summary["answers"]["200"]["{\"status\":\"handled\"}"], 1,
        "{summary}"
    );
    let answered: u64 = summary["answers"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(_, bodies)| bodies.as_object().unwrap().values())
        .map(|count| count.as_u64().unwrap())
        .sum();
    assert_eq!(answered, 5, "{summary}");
    assert_eq!(summary["each"].as_array().unwrap().len(), 5);
    let handled: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.0 == "ayrshare")
        .cloned()
        .collect();
    assert_eq!(handled.len(), 1, "{summary}");
    assert_eq!(summary["key"].as_str().unwrap(), handled[0].2);
}

#[tokio::test]
async fn set_overrides_and_verbatim_bodies_are_sent() {
    let (addr, seen) = default_receiver().await;
    let sent = run(
        hookgate()
            .args([
                "send",
                "zernio",
                "post.failed",
                "--url",
                &url(addr, "zernio"),
            ])
            .args(["--set", "id=evt_pinned", "--set", "post.status=failed"])
            .env("ZERNIO_WEBHOOK_SECRET", ZERNIO_SECRET),
        None,
    )
    .await;
    assert_eq!(sent.code, 0, "{sent:?}");
    assert_eq!(seen.lock().unwrap().last().unwrap().2, "evt_pinned");
    // The summary names the delivery by the id that was set, not the fresh one it replaced.
    let sent = run(
        hookgate()
            .args(["send", "zernio", "post.failed", "--json"])
            .args(["--url", &url(addr, "zernio"), "--secret", ZERNIO_SECRET])
            .args(["--set", "id=evt_pinned_2"]),
        None,
    )
    .await;
    let summary: serde_json::Value = serde_json::from_str(&sent.stdout).unwrap();
    assert_eq!(summary["key"], "evt_pinned_2", "{summary}");

    // --body: the file's bytes as they are; a second send is a duplicate of the first.
    let dir = std::env::temp_dir().join(format!("hookgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = dir.join("body.json");
    std::fs::write(
        &body,
        r#"{"id":"evt_file","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}"#,
    )
    .unwrap();
    for expected in ["handled", "duplicate"] {
        let sent = run(
            hookgate()
                .args(["send", "zernio", "--body"])
                .arg(&body)
                .args(["--url", &url(addr, "zernio"), "--secret", ZERNIO_SECRET]),
            None,
        )
        .await;
        assert_eq!(sent.code, 0, "{sent:?}");
        assert!(sent.stdout.contains(expected), "{}", sent.stdout);
    }
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.1.as_str(), last.2.as_str()),
        ("webhook.test", "evt_file")
    );
    // A Standard Webhooks body: its key is a fresh `webhook-id` header.
    let standard = dir.join("standard.json");
    std::fs::write(&standard, r#"{"type":"invoice.paid","data":{"n":1}}"#).unwrap();
    let sent = run(
        hookgate()
            .args(["send", "standard", "--body"])
            .arg(&standard)
            .args(["--url", &url(addr, "standard"), "--secret", STANDARD_SECRET]),
        None,
    )
    .await;
    assert_eq!(sent.code, 0, "{sent:?}");
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.3),
        ("standard", "invoice.paid", true)
    );
    assert!(last.2.starts_with("msg_"), "{last:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn rotation_signatures_verify_with_the_previous_secret_alone() {
    // The receiver still knows only the old secret; the sender signs with new and old.
    let (addr, seen) = receiver(&[ZERNIO_SECRET], &["ayr-old"], &["whsec_b2xkLXNlY3JldA=="]).await;
    for (provider, event, secrets) in [
        ("ayrshare", "scheduled", "ayr-new,ayr-old"),
        (
            "standard",
            "invoice.paid",
            "whsec_bmV3LXNlY3JldA==,whsec_b2xkLXNlY3JldA==",
        ),
    ] {
        let without = run(
            hookgate()
                .args(["send", provider, event, "--url", &url(addr, provider)])
                .args(["--secret", secrets]),
            None,
        )
        .await;
        assert_eq!(without.code, 1, "{provider}: {without:?}");
        assert!(without.stdout.starts_with("401"), "{}", without.stdout);
        let with = run(
            hookgate()
                .args([
                    "send",
                    provider,
                    event,
                    "--rotate",
                    "--url",
                    &url(addr, provider),
                ])
                .args(["--secret", secrets]),
            None,
        )
        .await;
        assert_eq!(with.code, 0, "{provider}: {with:?}");
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1.as_str(), last.3),
            (provider, event, true)
        );
    }
    // Zernio signs with one secret at a time: --rotate is a usage error that says so.
    let zernio = run(
        hookgate()
            .args([
                "send",
                "zernio",
                "post.published",
                "--rotate",
                "--secret",
                "a,b",
            ])
            .args(["--url", &url(addr, "zernio")]),
        None,
    )
    .await;
    assert_eq!(zernio.code, 2, "{zernio:?}");
    assert!(
        zernio.stderr.contains("no dual signing"),
        "{}",
        zernio.stderr
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn exit_codes_and_secrets_stay_out_of_the_output() {
    let (addr, seen) = default_receiver().await;
    let secret = "never-print-this-secret";
    // A receiver with another secret: 401, exit 1.
    let refused = run(
        hookgate()
            .args([
                "send",
                "zernio",
                "post.published",
                "--url",
                &url(addr, "zernio"),
            ])
            .env("ZERNIO_WEBHOOK_SECRET", secret),
        None,
    )
    .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stdout.starts_with("401 Unauthorized"),
        "{refused:?}"
    );
    // Nothing listening: exit 3.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let unreachable = run(
        hookgate()
            .args([
                "send",
                "ayrshare",
                "feed",
                "--url",
                &url(closed, "ayrshare"),
            ])
            .args(["--secret", secret]),
        None,
    )
    .await;
    assert_eq!(unreachable.code, 3, "{unreachable:?}");
    assert!(unreachable.stderr.contains("no answer"), "{unreachable:?}");
    // Usage: an unknown event, no secret at all.
    let unknown = run(
        hookgate().args(["send", "zernio", "post.exploded", "--secret", secret]),
        None,
    )
    .await;
    assert_eq!(unknown.code, 2, "{unknown:?}");
    let no_secret = run(hookgate().args(["send", "zernio", "post.published"]), None).await;
    assert_eq!(no_secret.code, 2, "{no_secret:?}");
    assert!(
        no_secret.stderr.contains("ZERNIO_WEBHOOK_SECRET"),
        "{no_secret:?}"
    );
    // Signing prints signatures, never the secret.
    let signed = run(
        hookgate()
            .args(["sign", "ayrshare", "--rotate"])
            .env("AYRSHARE_WEBHOOK_SECRET", format!("{secret},{secret}-old")),
        Some(b"{\"action\":\"feed\"}"),
    )
    .await;
    assert_eq!(signed.code, 0, "{signed:?}");
    for run in [&refused, &unreachable, &unknown, &signed] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{run:?}"
        );
    }
    // The help documents the exit codes.
    let help = run(hookgate().arg("--help"), None).await;
    assert!(help.stdout.contains("3  network error"), "{}", help.stdout);
    assert!(seen.lock().unwrap().is_empty());
}

async fn sign_then_verify(provider: &str, secret: &str, body: &[u8], extra: &[&str]) -> (Run, Run) {
    let signed = run(
        hookgate()
            .args(["sign", provider, "--secret", secret])
            .args(extra),
        Some(body),
    )
    .await;
    assert_eq!(signed.code, 0, "{signed:?}");
    let mut verify = hookgate();
    verify.args(["verify", provider, "--secret", secret]);
    for line in signed.stdout.lines() {
        verify.args(["-H", line]);
    }
    let verified = run(&mut verify, Some(body)).await;
    (signed, verified)
}

#[tokio::test]
async fn sign_output_verifies_with_verify() {
    let zernio = br#"{"id":"evt_1","event":"post.published","post":{"id":"p1"}}"#;
    let ayrshare = br#"{"action":"messages","subAction":"messageCreated","hookId":"hk_1"}"#;
    let standard = br#"{"type":"invoice.paid","timestamp":"2026-09-01T12:00:00Z","data":{}}"#;
    for (provider, secret, body, expected) in [
        (
            "zernio",
            ZERNIO_SECRET,
            &zernio[..],
            "valid: zernio event post.published (key evt_1, untyped",
        ),
        (
            "ayrshare",
            AYRSHARE_SECRET,
            &ayrshare[..],
            "valid: ayrshare event messages/messageCreated (key hk_1, ",
        ),
        (
            "standard",
            STANDARD_SECRET,
            &standard[..],
            "valid: standard event invoice.paid (key msg_",
        ),
    ] {
        let (signed, verified) = sign_then_verify(provider, secret, body, &[]).await;
        assert_eq!(verified.code, 0, "{provider}: {signed:?} {verified:?}");
        assert!(verified.stdout.starts_with(expected), "{}", verified.stdout);

        // One byte changed: refused, exit 1, with the pipeline's reason.
        let mut tampered = body.to_vec();
        tampered[2] ^= 1;
        let mut verify = hookgate();
        verify.args(["verify", provider, "--secret", secret]);
        for line in signed.stdout.lines() {
            verify.args(["-H", line]);
        }
        let refused = run(&mut verify, Some(&tampered)).await;
        assert_eq!(refused.code, 1, "{provider}: {refused:?}");
        assert!(
            refused
                .stderr
                .contains("invalid: 401 Unauthorized: signature does not match"),
            "{provider}: {}",
            refused.stderr
        );
    }
    // A body that fits its model is reported typed.
    let (_, typed) = sign_then_verify(
        "zernio",
        ZERNIO_SECRET,
        br#"{"id":"3f1c","event":"webhook.test","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}"#,
        &[],
    )
    .await;
    assert_eq!(typed.code, 0, "{typed:?}");
    assert!(
        typed.stdout.ends_with("(key 3f1c, typed)\n"),
        "{}",
        typed.stdout
    );
    // --json: one object of the same headers.
    let json = run(
        hookgate().args(["sign", "zernio", "--json", "--secret", ZERNIO_SECRET]),
        Some(&zernio[..]),
    )
    .await;
    let headers: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(headers["x-zernio-event-id"], "evt_1");
    assert_eq!(headers["x-zernio-signature"], headers["x-late-signature"]);
    assert_eq!(headers["x-zernio-signature"].as_str().unwrap().len(), 64);
}

/// The test vector of the Standard Webhooks libraries (and Svix).
#[tokio::test]
async fn standard_webhooks_spec_vector() {
    let body = br#"{"test": 2432232314}"#;
    let signed = run(
        hookgate()
            .args(["sign", "standard", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek"])
            .args(["--timestamp", "1614265330"])
            .env("STANDARD_WEBHOOK_SECRET", STANDARD_SECRET),
        Some(body),
    )
    .await;
    assert_eq!(signed.code, 0, "{signed:?}");
    assert_eq!(
        signed.stdout,
        "content-type: application/json\n\
         webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\n\
         webhook-timestamp: 1614265330\n\
         webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
    );
    let vector = [
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp: 1614265330",
        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ];
    let verify = |secret: &'static str, now: &'static str| {
        let mut command = hookgate();
        command.args(["verify", "standard", "--secret", secret, "--now", now]);
        for header in vector {
            command.args(["-H", header]);
        }
        command
    };
    // The signature is valid at its time; the vector's body is no event envelope (no `type`),
    // which the receiver refuses after the signature check, and verify says both.
    let at_time = run(&mut verify(STANDARD_SECRET, "1614265330"), Some(body)).await;
    assert_eq!(at_time.code, 1, "{at_time:?}");
    assert!(
        at_time
            .stderr
            .contains("signature valid, but the receiver refuses the body: 400"),
        "{}",
        at_time.stderr
    );
    // Now (years later): outside the 5-minute window.
    let mut late = hookgate();
    late.args(["verify", "standard", "--secret", STANDARD_SECRET]);
    for header in vector {
        late.args(["-H", header]);
    }
    let late = run(&mut late, Some(body)).await;
    assert_eq!(late.code, 1);
    assert!(
        late.stderr.contains("401 Unauthorized: timestamp too old"),
        "{}",
        late.stderr
    );
    // Another secret: invalid.
    let other = run(
        &mut verify("whsec_b3RoZXItc2VjcmV0", "1614265330"),
        Some(body),
    )
    .await;
    assert_eq!(other.code, 1);
    assert!(other.stderr.contains("invalid: 401"), "{}", other.stderr);
}

#[tokio::test]
async fn an_endless_answer_is_read_only_as_far_as_it_is_shown() {
    // A receiver that answers with a body that never ends: `send` reads the part it shows
    // and moves on, instead of reading (and holding) it forever.
    let endless = axum::routing::post(|| async {
        let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        axum::body::Body::from_stream(futures_util::stream::repeat_with(move || {
            Ok::<_, std::convert::Infallible>(chunk.clone())
        }))
    });
    let addr = support::serve(Router::new().route("/webhooks/zernio", endless)).await;
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run(
            hookgate()
                .args(["send", "zernio", "post.published", "--json"])
                .args(["--url", &url(addr, "zernio"), "--secret", ZERNIO_SECRET]),
            None,
        ),
    )
    .await
    .expect("send returned");
    assert_eq!(sent.code, 0, "{sent:?}");
    assert!(sent.stdout.contains("xxxx"), "{sent:?}");
}

#[tokio::test]
async fn a_secret_file_that_never_ends_is_refused_not_read_forever() {
    // `/dev/zero` never ends: read to a bound, then refused as a usage error (exit 2).
    let (addr, _) = default_receiver().await;
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run(
            hookgate().args(["send", "zernio", "post.published"]).args([
                "--url",
                &url(addr, "zernio"),
                "--secret-file",
                "/dev/zero",
            ]),
            None,
        ),
    )
    .await
    .expect("send returned");
    assert_eq!(sent.code, 2, "{sent:?}");
    assert!(sent.stderr.contains("not a secret"), "{sent:?}");
}
