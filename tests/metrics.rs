//! The `metrics` feature: a recorder installed around real deliveries sees the documented
//! counters, histograms and gauges for each outcome.
#![cfg(all(feature = "metrics", feature = "testing", feature = "zernio"))]

use std::collections::HashMap;

use hookgate::{
    Webhooks,
    testing::signed_request,
    zernio::{self, Zernio},
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower::ServiceExt as _;

const SECRET: &str = "metrics-secret";

fn body(id: &str, event: &str) -> String {
    format!(
        r#"{{"id":"{id}","event":"{event}","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    )
}

/// (metric name, sorted labels) → value
type Seen = HashMap<(String, Vec<(String, String)>), DebugValue>;

fn run_deliveries() -> Seen {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let zernio = Zernio::new([SECRET]).unwrap();
            let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
                .on(|test: zernio::WebhookTest| async move {
                    if test.id == "fails" {
                        Err("the database is down")
                    } else {
                        Ok(())
                    }
                })
                .build()
                .unwrap();
            let send = |request| service.clone().oneshot(request);
            // handled, then its duplicate
            let ok = body("evt_good", "webhook.test");
            assert_eq!(
                send(signed_request(&zernio, "/", ok.clone()))
                    .await
                    .unwrap()
                    .status(),
                200
            );
            assert_eq!(
                send(signed_request(&zernio, "/", ok))
                    .await
                    .unwrap()
                    .status(),
                200
            );
            // a handler error
            let fails = body("fails", "webhook.test");
            assert_eq!(
                send(signed_request(&zernio, "/", fails))
                    .await
                    .unwrap()
                    .status(),
                500
            );
            // a forged signature
            let forger = Zernio::new(["not-the-secret"]).unwrap();
            let forged = signed_request(&forger, "/", body("forged", "webhook.test"));
            assert_eq!(send(forged).await.unwrap().status(), 401);
            // a name outside the catalogue: acknowledged, labelled `_other`, never by its name
            let novel = body("novel", "brand.new.event");
            assert_eq!(
                send(signed_request(&zernio, "/", novel))
                    .await
                    .unwrap()
                    .status(),
                200
            );
        });
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

fn counter(seen: &Seen, name: &str, pairs: &[(&str, &str)]) -> u64 {
    match seen.get(&(name.to_owned(), labels(pairs))) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {pairs:?}: {other:?}\nall: {:#?}", seen.keys()),
    }
}

#[test]
fn each_outcome_is_counted_with_bounded_labels() {
    let seen = run_deliveries();
    let delivery = |event, outcome| {
        counter(
            &seen,
            "hookgate.deliveries",
            &[
                ("provider", "zernio"),
                ("event", event),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(delivery("webhook.test", "handled"), 1);
    assert_eq!(delivery("webhook.test", "duplicate"), 1);
    assert_eq!(delivery("webhook.test", "handler_error"), 1);
    assert_eq!(delivery("_none", "invalid_signature"), 1);
    assert_eq!(delivery("_other", "ignored"), 1);
    assert_eq!(
        counter(
            &seen,
            "hookgate.verification.failures",
            &[("provider", "zernio"), ("reason", "invalid_signature")]
        ),
        1
    );
    // No label ever carries a key, an id or a sender-chosen name.
    for (_, labels) in seen.keys() {
        for (_, value) in labels {
            assert!(
                !["evt_good", "fails", "forged", "novel", "brand.new.event"]
                    .contains(&value.as_str()),
                "unbounded label value {value}"
            );
        }
    }
}

#[test]
fn handler_durations_and_in_flight() {
    let seen = run_deliveries();
    let histogram = |outcome| match seen.get(&(
        "hookgate.handler.duration".to_owned(),
        labels(&[
            ("provider", "zernio"),
            ("event", "webhook.test"),
            ("outcome", outcome),
        ]),
    )) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{outcome}: {other:?}"),
    };
    assert_eq!(histogram("ok"), 1, "one handler succeeded");
    assert_eq!(histogram("error"), 1, "one handler failed");
    match seen.get(&(
        "hookgate.deliveries.in_flight".to_owned(),
        labels(&[("provider", "zernio")]),
    )) {
        Some(DebugValue::Gauge(value)) => assert_eq!(value.into_inner(), 0.0, "all answered"),
        other => panic!("in flight: {other:?}"),
    }
}
