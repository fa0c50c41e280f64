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
    seen(snapshotter.snapshot())
}

/// What a recorder saw, by name and sorted labels.
fn seen(snapshot: metrics_util::debugging::Snapshot) -> Seen {
    snapshot
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

/// The inbox gauges: depth by state and the oldest pending age, sampled by the workers from
/// [`Inbox::backlog`](hookgate::inbox::Inbox::backlog), on each SQL engine.
#[cfg(any(feature = "inbox-sqlite", feature = "inbox-postgres"))]
mod inbox_gauges {
    use std::time::{Duration, Instant, SystemTime};

    use hookgate::{
        BoxError, Delivery, Dispatcher, Webhooks,
        inbox::{Backlog, Inbox, Permanent, RetrySchedule},
        testing::signed_request,
        zernio::{self, Zernio},
    };
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt as _;

    use super::{SECRET, Seen, body, labels};

    /// `dead_` keys fail for good, `later_` keys fail and retry in an hour, others succeed.
    async fn handle(_: zernio::WebhookTest, delivery: Delivery) -> Result<(), BoxError> {
        match delivery.key() {
            key if key.starts_with("dead_") => Err(Permanent::new("bad payload").into()),
            key if key.starts_with("later_") => Err("downstream down".into()),
            _ => Ok(()),
        }
    }

    async fn post(service: &Dispatcher<Zernio>, id: &str) {
        let zernio = Zernio::new([SECRET]).unwrap();
        let request = signed_request(&zernio, "/", body(id, "webhook.test"));
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 202, "{id} stored");
    }

    async fn eventually(what: &str, inbox: &impl Inbox, check: impl Fn(&Backlog) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let backlog = inbox.backlog().await.unwrap();
            if check(&backlog) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {backlog:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs the scenario on `inbox` (fresh, empty) under a recorder; returns what it recorded.
    async fn scenario(inbox: impl Inbox + Clone) -> Seen {
        let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
            .inbox(inbox.clone())
            .retry_schedule(RetrySchedule::Fixed(vec![Duration::from_secs(3600)]))
            .on(handle)
            .build()
            .unwrap();
        assert_eq!(inbox.backlog().await.unwrap().oldest_due, None, "empty");

        // One event goes dead, one waits for a retry an hour away: nothing is due.
        post(&service, "dead_1").await;
        post(&service, "later_1").await;
        let workers = service.workers().unwrap().start();
        eventually("one dead, one retry", &inbox, |b| {
            b.dead == 1 && b.pending == 1 && b.running == 0
        })
        .await;
        workers.shutdown(Duration::from_secs(5)).await;
        let now = SystemTime::now();
        let backlog = inbox.backlog().await.unwrap();
        let due = backlog.oldest_due.expect("a pending event has a due time");
        assert!(
            due > now + Duration::from_secs(3000),
            "the retry is due in an hour"
        );
        assert_eq!(
            backlog.oldest_pending_age(now),
            Duration::ZERO,
            "none due yet"
        );

        // Three new events wait 1.5 s with no worker: the oldest is at least that late.
        post(&service, "new_1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        post(&service, "new_2").await;
        post(&service, "new_3").await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let now = SystemTime::now();
        let backlog = inbox.backlog().await.unwrap();
        assert_eq!((backlog.pending, backlog.running, backlog.dead), (4, 0, 1));
        let age = backlog.oldest_pending_age(now);
        assert!(
            age >= Duration::from_millis(1500) && age < Duration::from_secs(20),
            "{age:?}"
        );

        // A new pool samples the gauges as it starts, before its first claim, then runs them.
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        {
            // The test runtime has one thread: the workers' tasks record into this recorder.
            let _guard = metrics::set_default_local_recorder(&recorder);
            let workers = service.workers().unwrap().start();
            eventually("the new events done", &inbox, |b| {
                b.pending == 1 && b.running == 0
            })
            .await;
            workers.shutdown(Duration::from_secs(5)).await;
        }
        super::seen(snapshotter.snapshot())
    }

    fn gauge(seen: &Seen, name: &str, pairs: &[(&str, &str)]) -> f64 {
        match seen.get(&(name.to_owned(), labels(pairs))) {
            Some(DebugValue::Gauge(value)) => value.into_inner(),
            other => panic!("{name} {pairs:?}: {other:?}\nall: {:#?}", seen.keys()),
        }
    }

    fn assert_gauges(seen: &Seen) {
        let depth = |state| gauge(seen, "hookgate.inbox.depth", &[("state", state)]);
        assert_eq!(depth("pending"), 4.0);
        assert_eq!(depth("running"), 0.0);
        assert_eq!(depth("dead"), 1.0);
        let age = gauge(seen, "hookgate.inbox.oldest_pending.age", &[]);
        assert!((1.5..20.0).contains(&age), "oldest pending age {age} s");
    }

    #[cfg(feature = "inbox-sqlite")]
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite_depth_and_oldest_pending_age() {
        let dir = std::env::temp_dir().join(format!("hookgate-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let inbox = hookgate::inbox::SqliteInbox::open(dir.join("inbox.db"))
            .await
            .unwrap();
        let seen = scenario(inbox).await;
        let _ = std::fs::remove_dir_all(&dir);
        assert_gauges(&seen);
    }

    /// On `HOOKGATE_TEST_POSTGRES_URL` (default: the local test server), in a schema of its
    /// own; skipped with a notice when no server answers, except under CI.
    #[cfg(feature = "inbox-postgres")]
    #[tokio::test(flavor = "current_thread")]
    async fn postgres_depth_and_oldest_pending_age() {
        let url = std::env::var("HOOKGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let schema = format!("hg_metrics_{}", std::process::id());
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            hookgate::inbox::PostgresInbox::connect_in_schema(&url, &schema),
        )
        .await;
        let inbox = match connected {
            Ok(Ok(inbox)) => inbox,
            failure => {
                let why = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => "connection timed out".to_owned(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL not reachable at {url} under CI: {why}"
                );
                eprintln!("SKIPPED: no PostgreSQL at {url}; set HOOKGATE_TEST_POSTGRES_URL");
                return;
            }
        };
        let seen = scenario(inbox).await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
        assert_gauges(&seen);
    }
}
