//! The PostgreSQL inbox against a real server: several pools (as several replicas would) on
//! one inbox handle each event once, a killed pool's events are taken over after the lease,
//! `NOTIFY` wakes another connection's workers, claims take the oldest due events and completions
//! batched together each answer for their own claim.
//!
//! The server: `HOOKGATE_TEST_POSTGRES_URL`, else `postgres://postgres@127.0.0.1:5432/test`.
//! Without one the tests are skipped with a notice, except under CI (`CI` set), where they
//! fail. Each test works in its own schema, dropped at the end.
#![cfg(all(feature = "inbox-postgres", feature = "zernio", feature = "testing"))]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hookgate::{
    Delivery, Dispatcher, Webhooks,
    inbox::{Inbox, PostgresInbox},
    testing::signed_request,
    zernio::{self, Zernio},
};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const SECRET: &str = "inbox-pg-secret";

/// A schema of its own on the test server, or `None` (skipped) when there is no server and
/// `CI` is unset.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn new(test: &str) -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let url = std::env::var("HOOKGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let reachable = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url),
        )
        .await;
        match reachable {
            Ok(Ok(pool)) => pool.close().await,
            failure => {
                let why = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => "connection timed out".to_owned(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL not reachable at {url} under CI: {why}");
                }
                eprintln!(
                    "SKIPPED {test}: no PostgreSQL at {url} ({why}); set HOOKGATE_TEST_POSTGRES_URL"
                );
                return None;
            }
        }
        let name = format!(
            "hg_{}_{}_{}",
            test.chars().take(20).collect::<String>(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Some(Self { url, name })
    }

    /// A new connection pool to the inbox (as another replica would have).
    async fn inbox(&self) -> PostgresInbox {
        PostgresInbox::connect_in_schema(&self.url, &self.name)
            .await
            .unwrap()
    }

    async fn drop_schema(self) {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
            .execute(&pool)
            .await
            .unwrap();
    }
}

fn body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","event":"webhook.test","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    )
}

async fn post<S: Clone + Send + Sync + 'static>(service: &Dispatcher<Zernio, S>, id: &str) -> u16 {
    let zernio = Zernio::new([SECRET]).unwrap();
    let response = service
        .clone()
        .oneshot(signed_request(&zernio, "/webhooks/zernio", body(id)))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await.unwrap();
    status
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Handler calls per key, and per pool.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, Vec<&'static str>>>>);

impl Calls {
    fn record(&self, key: &str, pool: &'static str) {
        self.0
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .push(pool);
    }
    fn snapshot(&self) -> HashMap<String, Vec<&'static str>> {
        self.0.lock().unwrap().clone()
    }
}

/// A dispatcher on `inbox` whose handler records `(key, pool)` after `sleep`, or never
/// returns when `hang`.
fn dispatcher(
    inbox: PostgresInbox,
    calls: &Calls,
    pool: &'static str,
    sleep: Duration,
    hang: bool,
) -> Dispatcher<Zernio, Calls> {
    Webhooks::with_state(Zernio::new([SECRET]).unwrap(), calls.clone())
        .inbox(inbox)
        .handler_timeout(Some(Duration::from_secs(1)))
        .on(
            move |_: zernio::WebhookTest, d: Delivery, calls: Calls| async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(sleep).await;
                calls.record(d.key(), pool);
            },
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_pools_on_one_inbox_handle_each_event_once() {
    let Some(schema) = Schema::new("two_pools").await else {
        return;
    };
    let calls = Calls::default();
    let (a, b) = (schema.inbox().await, schema.inbox().await);
    let service_a = dispatcher(a.clone(), &calls, "a", Duration::from_millis(10), false);
    let service_b = dispatcher(b.clone(), &calls, "b", Duration::from_millis(10), false);
    let workers_a = service_a.workers().unwrap().concurrency(4).start();
    let workers_b = service_b.workers().unwrap().concurrency(4).start();
    for i in 0..40 {
        // Half through each replica; every delivery twice (the sender's retry).
        let service = if i % 2 == 0 { &service_a } else { &service_b };
        assert_eq!(post(service, &format!("two_{i}")).await, 202);
        let other = if i % 2 == 0 { &service_b } else { &service_a };
        assert_eq!(post(other, &format!("two_{i}")).await, 200);
    }
    eventually("all done", async || a.counts().await.unwrap().done == 40).await;
    let calls = calls.snapshot();
    assert_eq!(calls.len(), 40);
    for (key, pools) in &calls {
        assert_eq!(pools.len(), 1, "{key} handled by {pools:?}");
    }
    workers_a.shutdown(Duration::from_secs(2)).await;
    workers_b.shutdown(Duration::from_secs(2)).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_killed_pool_s_events_are_taken_over_after_the_lease() {
    let Some(schema) = Schema::new("takeover").await else {
        return;
    };
    let calls = Calls::default();
    let (a, b) = (schema.inbox().await, schema.inbox().await);
    let service_a = dispatcher(a.clone(), &calls, "a", Duration::ZERO, true);
    let workers_a = service_a
        .workers()
        .unwrap()
        .lease_margin(Duration::from_millis(300))
        .start();
    for i in 0..3 {
        assert_eq!(post(&service_a, &format!("take_{i}")).await, 202);
    }
    eventually("claimed by a", async || {
        a.counts().await.unwrap().running == 3
    })
    .await;
    let killed = Instant::now();
    workers_a.abort();

    let service_b = dispatcher(b.clone(), &calls, "b", Duration::ZERO, false);
    let workers_b = service_b
        .workers()
        .unwrap()
        .poll_interval(Duration::from_millis(100))
        .lease_margin(Duration::from_millis(300))
        .start();
    eventually("taken over", async || b.counts().await.unwrap().done == 3).await;
    // Not before the lease (handler timeout 1 s + 300 ms) ran out.
    assert!(
        killed.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        killed.elapsed()
    );
    let calls = calls.snapshot();
    for i in 0..3 {
        assert_eq!(calls[&format!("take_{i}")], ["b"]);
    }
    let done = b
        .list(hookgate::inbox::State::Done, None, 10)
        .await
        .unwrap();
    assert!(done.iter().all(|e| e.attempts == 2));
    workers_b.shutdown(Duration::from_secs(2)).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn notify_wakes_another_connection_s_workers() {
    let Some(schema) = Schema::new("notify").await else {
        return;
    };
    let calls = Calls::default();
    let (a, b) = (schema.inbox().await, schema.inbox().await);
    let service_a = dispatcher(a.clone(), &calls, "a", Duration::ZERO, false);
    let service_b = dispatcher(b.clone(), &calls, "b", Duration::ZERO, false);
    // Only b has workers, and they poll every 60 s: only a NOTIFY wakes them sooner.
    let workers_b = service_b
        .workers()
        .unwrap()
        .poll_interval(Duration::from_secs(60))
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    assert_eq!(post(&service_a, "woken").await, 202);
    eventually("handled", async || b.counts().await.unwrap().done == 1).await;
    assert!(sent.elapsed() < Duration::from_secs(30));
    assert_eq!(calls.snapshot()["woken"], ["b"]);
    workers_b.shutdown(Duration::from_secs(2)).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_full_inbox_answers_503_and_duplicates_200() {
    let Some(schema) = Schema::new("full").await else {
        return;
    };
    let calls = Calls::default();
    let inbox = schema.inbox().await.max_pending(1);
    let service = dispatcher(inbox.clone(), &calls, "a", Duration::ZERO, false);
    assert_eq!(post(&service, "f_1").await, 202);
    assert_eq!(post(&service, "f_1").await, 200);
    assert_eq!(post(&service, "f_2").await, 503);
    assert_eq!(inbox.counts().await.unwrap().pending, 1);
    schema.drop_schema().await;
}

#[tokio::test]
async fn purges_delete_only_their_state_and_providers_settled_before_the_time() {
    let Some(schema) = Schema::new("purge").await else {
        return;
    };
    let calls = Calls::default();
    let inbox = schema.inbox().await;
    // No workers: the test claims and settles by hand.
    let service = dispatcher(inbox.clone(), &calls, "a", Duration::ZERO, false);
    for key in ["p_dead", "p_done", "p_pending"] {
        assert_eq!(post(&service, key).await, 202);
    }
    let (lease, now) = (Duration::from_secs(60), std::time::SystemTime::now());
    let claimed = inbox.claim(&["zernio"], 2, lease, now).await.unwrap();
    let (dead, done) = (&claimed.events[0], &claimed.events[1]);
    assert_eq!((&*dead.event.key, &*done.event.key), ("p_dead", "p_done"));
    assert!(
        inbox
            .fail(dead.claim_token(), "bad", None, now)
            .await
            .unwrap()
    );
    assert!(inbox.complete(done.claim_token(), now).await.unwrap());

    let before = now - Duration::from_secs(1);
    assert_eq!(inbox.purge_dead(before).await.unwrap(), 0);
    let after = now + Duration::from_secs(1);
    assert_eq!(inbox.purge_dead(after).await.unwrap(), 1);
    let counts = inbox.counts().await.unwrap();
    assert_eq!((counts.dead, counts.done, counts.pending), (0, 1, 1));
    // A pool purges its own providers' done events only.
    assert_eq!(inbox.purge_done_of(&["standard"], after).await.unwrap(), 0);
    assert_eq!(inbox.purge_done_of(&["zernio"], after).await.unwrap(), 1);
    let counts = inbox.counts().await.unwrap();
    assert_eq!((counts.dead, counts.done, counts.pending), (0, 0, 1));
    // Their dedup memory went with them.
    assert_eq!(post(&service, "p_dead").await, 202);
    assert_eq!(post(&service, "p_pending").await, 200);
    schema.drop_schema().await;
}

#[tokio::test]
async fn claims_take_the_oldest_due_and_completions_batched_together_each_answer_for_their_claim() {
    let Some(schema) = Schema::new("batched").await else {
        return;
    };
    let calls = Calls::default();
    let inbox = schema.inbox().await;
    // No workers: the test claims and completes by hand.
    let service = dispatcher(inbox.clone(), &calls, "a", Duration::ZERO, false);
    for i in 0..10 {
        assert_eq!(post(&service, &format!("b_{i}")).await, 202);
    }
    let lease = Duration::from_secs(60);
    let now = std::time::SystemTime::now();
    let first = inbox.claim(&["zernio"], 4, lease, now).await.unwrap();
    let ids: Vec<i64> = first.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 4);
    let rest = inbox.claim(&["zernio"], 100, lease, now).await.unwrap();
    assert_eq!(rest.events.len(), 6, "the running events' leases hold");
    assert!(
        rest.events
            .iter()
            .all(|e| e.id > *ids.iter().max().unwrap()),
        "the first claim took the oldest"
    );
    assert!(
        inbox
            .claim(&["zernio"], 100, lease, now)
            .await
            .unwrap()
            .events
            .is_empty()
    );
    // All ten completed at once (one or a few statements), one with a token that lost its
    // claim: that one alone answers false and stays running.
    let mut claims: Vec<_> = first
        .events
        .iter()
        .chain(&rest.events)
        .map(|e| e.claim_token())
        .collect();
    claims[7].token = claims[7].token.wrapping_add(1);
    let done = futures_util::future::join_all(
        claims
            .iter()
            .map(|claim| inbox.complete(*claim, std::time::SystemTime::now())),
    )
    .await;
    for (i, done) in done.into_iter().enumerate() {
        assert_eq!(done.unwrap(), i != 7, "completion {i}");
    }
    let counts = inbox.counts().await.unwrap();
    assert_eq!((counts.done, counts.running, counts.pending), (9, 1, 0));
    // The lost one is taken over once its lease expires.
    let later = now + lease + Duration::from_secs(1);
    let again = inbox.claim(&["zernio"], 100, lease, later).await.unwrap();
    assert_eq!(again.events.len(), 1);
    assert_eq!(again.events[0].id, claims[7].id);
    assert_eq!(again.events[0].attempts, 2);
    assert!(
        inbox
            .complete(again.events[0].claim_token(), later)
            .await
            .unwrap()
    );
    assert_eq!(inbox.counts().await.unwrap().done, 10);
    schema.drop_schema().await;
}
