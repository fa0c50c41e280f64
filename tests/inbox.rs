//! The durable inbox on SQLite, end to end: the real pipeline stores, the real workers run the
//! dispatcher's handlers, settle, retry and bury; a SIGKILLed process loses nothing.
#![cfg(all(feature = "inbox-sqlite", feature = "zernio", feature = "testing"))]

mod support;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hookgate::{
    BoxError, Delivery, Dispatcher, Webhooks,
    event::UnknownEvent,
    inbox::{Inbox, Permanent, RetrySchedule, SqliteInbox, State},
    testing::signed_request,
    zernio::{self, Zernio},
};
use http_body_util::BodyExt as _;
use support::capture_logs;
use tower::ServiceExt as _;

const SECRET: &str = "inbox-test-secret";

/// A fresh SQLite file under the system's temp directory.
fn temp_db(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hookgate-inbox-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("inbox.db")
}

fn body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    )
}

/// Posts a signed `webhook.test` with event id `id`: (status, body status or code, retry-after).
async fn post<S: Clone + Send + Sync + 'static>(
    service: &Dispatcher<Zernio, S>,
    id: &str,
) -> (u16, String, Option<String>) {
    post_body(service, body(id)).await
}

async fn post_body<S: Clone + Send + Sync + 'static>(
    service: &Dispatcher<Zernio, S>,
    body: String,
) -> (u16, String, Option<String>) {
    let zernio = Zernio::new([SECRET]).unwrap();
    let request = signed_request(&zernio, "/webhooks/zernio", body);
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let word = json["status"].as_str().or(json["code"].as_str()).unwrap();
    (status, word.to_owned(), retry_after)
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Handler calls per key.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Calls {
    fn record(&self, key: &str) -> usize {
        let mut calls = self.0.lock().unwrap();
        let list = calls.entry(key.to_owned()).or_default();
        list.push(Instant::now());
        list.len()
    }
    fn count(&self, key: &str) -> usize {
        self.0.lock().unwrap().get(key).map_or(0, Vec::len)
    }
    fn times(&self, key: &str) -> Vec<Instant> {
        self.0.lock().unwrap().get(key).cloned().unwrap_or_default()
    }
}

/// The state handlers share in these tests: calls, and a gate that blocks `block_*` keys.
#[derive(Clone)]
struct Test {
    calls: Calls,
    gate: Arc<tokio::sync::Semaphore>,
}

impl Test {
    fn new() -> Self {
        Self {
            calls: Calls::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

/// Behaviour by key prefix: `block_` waits for the gate, `fail_` fails permanently, `err_`
/// always fails, `flaky_` fails permanently on its first call only, others succeed.
async fn handle(_: zernio::WebhookTest, delivery: Delivery, test: Test) -> Result<(), BoxError> {
    let key = delivery.key().to_owned();
    let call = test.calls.record(&key);
    if key.starts_with("block_") {
        let _permit = test.gate.acquire().await.unwrap();
    }
    if key.starts_with("fail_") || (key.starts_with("flaky_") && call == 1) {
        return Err(Permanent::new("bad payload").into());
    }
    if key.starts_with("err_") {
        return Err(format!("downstream refused attempt {call}").into());
    }
    Ok(())
}

async fn dispatcher(
    inbox: SqliteInbox,
    retry: RetrySchedule,
    test: &Test,
) -> Dispatcher<Zernio, Test> {
    Webhooks::with_state(Zernio::new([SECRET]).unwrap(), test.clone())
        .inbox(inbox)
        .retry_schedule(retry)
        .handler_timeout(Some(Duration::from_secs(5)))
        .on(handle)
        .fallback(|e: UnknownEvent, d: Delivery, test: Test| async move {
            test.calls
                .record(&format!("fallback:{}:{}", e.name(), d.key()));
        })
        .build()
        .unwrap()
}

async fn state_of(inbox: &SqliteInbox, key: &str) -> Option<(State, u32)> {
    for state in [State::Pending, State::Running, State::Done, State::Dead] {
        let page = inbox.list(state, None, 1000).await.unwrap();
        if let Some(e) = page.iter().find(|e| e.event.key == key) {
            return Some((e.state, e.attempts));
        }
    }
    None
}

#[tokio::test]
async fn deliveries_are_answered_when_stored_before_slow_handlers_finish() {
    let inbox = SqliteInbox::open(temp_db("ack")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let workers = service.workers().unwrap().concurrency(4).start();

    for i in 0..6 {
        let (status, word, _) = post(&service, &format!("block_{i}")).await;
        assert_eq!((status, word.as_str()), (202, "accepted"));
    }
    // Every delivery was answered while its handler is still blocked (or not started).
    eventually("four handlers running", async || {
        inbox.counts().await.unwrap().running == 4
    })
    .await;
    assert_eq!(inbox.counts().await.unwrap().done, 0);
    // An unknown event goes through the same fallback as inline.
    let unknown = r#"{"id":"u_1","event":"brand.new","timestamp":"2026-09-01T12:00:00.000Z"}"#;
    assert_eq!(post_body(&service, unknown.into()).await.0, 202);

    test.gate.add_permits(6);
    eventually("all done", async || inbox.counts().await.unwrap().done == 7).await;
    for i in 0..6 {
        assert_eq!(test.calls.count(&format!("block_{i}")), 1);
    }
    assert_eq!(test.calls.count("fallback:brand.new:u_1"), 1);
    workers.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn duplicates_in_every_state_answer_200_and_are_stored_once() {
    let inbox = SqliteInbox::open(temp_db("dups")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::Fixed(vec![]), &test).await;

    // Pending: no workers yet.
    assert_eq!(post(&service, "ok_pending").await.0, 202);
    assert_eq!(
        state_of(&inbox, "ok_pending").await,
        Some((State::Pending, 0))
    );
    assert_eq!(post(&service, "ok_pending").await.1, "duplicate");

    let workers = service.workers().unwrap().start();
    eventually("pending one done", async || {
        state_of(&inbox, "ok_pending").await == Some((State::Done, 1))
    })
    .await;
    // Done.
    assert_eq!(
        post(&service, "ok_pending").await,
        (200, "duplicate".into(), None)
    );

    // Running.
    assert_eq!(post(&service, "block_running").await.0, 202);
    eventually("running", async || {
        state_of(&inbox, "block_running").await == Some((State::Running, 1))
    })
    .await;
    assert_eq!(post(&service, "block_running").await.0, 200);

    // Dead.
    assert_eq!(post(&service, "fail_dead").await.0, 202);
    eventually("dead", async || {
        state_of(&inbox, "fail_dead").await == Some((State::Dead, 1))
    })
    .await;
    assert_eq!(post(&service, "fail_dead").await.0, 200);

    test.gate.add_permits(1);
    eventually("running one done", async || {
        state_of(&inbox, "block_running").await == Some((State::Done, 1))
    })
    .await;
    let counts = inbox.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.dead, counts.pending, counts.running),
        (2, 1, 0, 0)
    );
    for key in ["ok_pending", "block_running", "fail_dead"] {
        assert_eq!(test.calls.count(key), 1, "{key}");
    }
    workers.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_schedule_then_dead() {
    let (logs, _guard) = capture_logs();
    let inbox = SqliteInbox::open(temp_db("retry")).await.unwrap();
    let test = Test::new();
    let delays = [Duration::from_millis(150), Duration::from_millis(400)];
    let service = dispatcher(inbox.clone(), RetrySchedule::Fixed(delays.to_vec()), &test).await;
    let workers = service
        .workers()
        .unwrap()
        .poll_interval(Duration::from_secs(30))
        .start();

    assert_eq!(post(&service, "err_1").await.0, 202);
    eventually("dead", async || {
        state_of(&inbox, "err_1").await == Some((State::Dead, 3))
    })
    .await;
    let times = test.calls.times("err_1");
    assert_eq!(times.len(), 3);
    assert!(
        times[1] - times[0] >= delays[0],
        "{:?}",
        times[1] - times[0]
    );
    assert!(
        times[2] - times[1] >= delays[1],
        "{:?}",
        times[2] - times[1]
    );
    // Woken by the due time, not by the (30 s) poll.
    assert!(times[2] - times[0] < Duration::from_secs(15));
    let dead = inbox.list(State::Dead, None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("downstream refused attempt 3")
    );
    // Dead is final: nothing runs it again by itself.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(test.calls.count("err_1"), 3);
    workers.shutdown(Duration::from_secs(1)).await;
    // The worker says what it does with each failure; no line speaks of a released key (an
    // inbox attempt holds none), and the only ERROR is the event going dead.
    let text = logs.text();
    assert_eq!(
        text.matches("attempt failed; retrying later").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("event dead").count(), 1, "{text}");
    assert!(!text.contains("key released"), "{text}");
    assert_eq!(text.matches(" ERROR ").count(), 1, "{text}");
}

#[tokio::test]
async fn a_permanent_failure_is_dead_at_once_and_a_retried_dead_event_runs_once() {
    let inbox = SqliteInbox::open(temp_db("permanent")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let workers = service.workers().unwrap().start();

    assert_eq!(post(&service, "flaky_1").await.0, 202);
    eventually("dead", async || {
        state_of(&inbox, "flaky_1").await == Some((State::Dead, 1))
    })
    .await;
    assert_eq!(test.calls.count("flaky_1"), 1);
    let dead = inbox.list(State::Dead, None, 10).await.unwrap();
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("bad payload")
    );
    let id = dead[0].id;
    assert_eq!(inbox.get(id).await.unwrap().unwrap().event.key, "flaky_1");

    assert!(inbox.retry_dead(id).await.unwrap());
    eventually("done", async || {
        state_of(&inbox, "flaky_1").await == Some((State::Done, 1))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(test.calls.count("flaky_1"), 2);
    // Only dead events are retried.
    assert!(!inbox.retry_dead(id).await.unwrap());
    assert_eq!(inbox.retry_all_dead().await.unwrap(), 0);
    workers.shutdown(Duration::from_secs(1)).await;

    // Inline, the same permanent failure is an ordinary 500 (the sender retries).
    let inline = Webhooks::with_state(Zernio::new([SECRET]).unwrap(), Test::new())
        .on(handle)
        .build()
        .unwrap();
    assert_eq!(post(&inline, "fail_inline").await.0, 500);
}

#[tokio::test]
async fn panics_and_timeouts_are_failed_attempts() {
    let inbox = SqliteInbox::open(temp_db("panic")).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .inbox(inbox.clone())
        .retry_schedule(RetrySchedule::Fixed(vec![Duration::from_millis(50); 2]))
        .handler_timeout(Some(Duration::from_millis(200)))
        .on(move |_: zernio::WebhookTest| {
            let call = seen.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                match call {
                    1 => panic!("first attempt panics"),
                    2 => tokio::time::sleep(Duration::from_secs(5)).await,
                    _ => {}
                }
            }
        })
        .build()
        .unwrap();
    let workers = service.workers().unwrap().start();
    assert_eq!(post(&service, "p_1").await.0, 202);
    eventually("done", async || {
        state_of(&inbox, "p_1").await == Some((State::Done, 3))
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    workers.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn without_a_handler_timeout_an_attempt_still_ends_with_its_lease() {
    // No handler timeout: the claim's lease is the dispatcher's lease plus the margin. An
    // attempt that ran on past it would see its event claimed again and run twice at once.
    let inbox = SqliteInbox::open(temp_db("no_timeout")).await.unwrap();
    let (calls, running, overlapped) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let (seen, now_running, overlaps) = (calls.clone(), running.clone(), overlapped.clone());
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .inbox(inbox.clone())
        .retry_schedule(RetrySchedule::Fixed(vec![Duration::from_millis(50)]))
        .handler_timeout(None)
        .lease(Duration::from_millis(200))
        .on(move |_: zernio::WebhookTest| {
            seen.fetch_add(1, Ordering::SeqCst);
            let (running, overlaps) = (now_running.clone(), overlaps.clone());
            async move {
                if running.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                // Decrements even when the attempt is cut off (the future is dropped).
                struct Leave(Arc<AtomicU32>);
                impl Drop for Leave {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                let _leave = Leave(running);
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        })
        .build()
        .unwrap();
    let workers = service
        .workers()
        .unwrap()
        .lease_margin(Duration::from_millis(100))
        .poll_interval(Duration::from_millis(20))
        .start();
    assert_eq!(post(&service, "long_1").await.0, 202);
    // Each attempt is cut off at the lease's 200 ms: two attempts, then dead.
    eventually("dead", async || {
        state_of(&inbox, "long_1").await == Some((State::Dead, 2))
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        overlapped.load(Ordering::SeqCst),
        0,
        "an attempt outlived its claim"
    );
    workers.shutdown(Duration::from_secs(1)).await;
}

/// A SQLite inbox that counts its claims, and whose claims hang once `hang` is set (a
/// half-open connection to the database).
#[derive(Clone)]
struct Counting {
    inner: SqliteInbox,
    claims: Arc<AtomicUsize>,
    hang: Arc<std::sync::atomic::AtomicBool>,
}

impl Inbox for Counting {
    fn insert<'a>(
        &'a self,
        event: &'a hookgate::inbox::NewEvent,
    ) -> hookgate::BoxFuture<'a, Result<hookgate::inbox::Inserted, hookgate::inbox::InboxError>>
    {
        self.inner.insert(event)
    }
    fn claim<'a>(
        &'a self,
        providers: &'a [&'static str],
        limit: usize,
        lease: Duration,
        now: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'a, Result<hookgate::inbox::Claimed, hookgate::inbox::InboxError>>
    {
        self.claims.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            return Box::pin(std::future::pending());
        }
        self.inner.claim(providers, limit, lease, now)
    }
    fn complete(
        &self,
        claim: hookgate::inbox::ClaimToken,
        now: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'_, Result<bool, hookgate::inbox::InboxError>> {
        self.inner.complete(claim, now)
    }
    fn fail<'a>(
        &'a self,
        claim: hookgate::inbox::ClaimToken,
        error: &'a str,
        retry_at: Option<std::time::SystemTime>,
        now: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'a, Result<bool, hookgate::inbox::InboxError>> {
        self.inner.fail(claim, error, retry_at, now)
    }
    fn list(
        &self,
        state: State,
        after: Option<i64>,
        limit: usize,
    ) -> hookgate::BoxFuture<
        '_,
        Result<Vec<hookgate::inbox::StoredEvent>, hookgate::inbox::InboxError>,
    > {
        self.inner.list(state, after, limit)
    }
    fn get(
        &self,
        id: i64,
    ) -> hookgate::BoxFuture<
        '_,
        Result<Option<hookgate::inbox::StoredEvent>, hookgate::inbox::InboxError>,
    > {
        self.inner.get(id)
    }
    fn retry_dead(
        &self,
        id: i64,
    ) -> hookgate::BoxFuture<'_, Result<bool, hookgate::inbox::InboxError>> {
        self.inner.retry_dead(id)
    }
    fn retry_all_dead(&self) -> hookgate::BoxFuture<'_, Result<u64, hookgate::inbox::InboxError>> {
        self.inner.retry_all_dead()
    }
    fn purge_done(
        &self,
        before: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'_, Result<u64, hookgate::inbox::InboxError>> {
        self.inner.purge_done(before)
    }
    fn purge_done_of<'a>(
        &'a self,
        providers: &'a [&'static str],
        before: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'a, Result<u64, hookgate::inbox::InboxError>> {
        self.inner.purge_done_of(providers, before)
    }
    fn purge_dead(
        &self,
        before: std::time::SystemTime,
    ) -> hookgate::BoxFuture<'_, Result<u64, hookgate::inbox::InboxError>> {
        self.inner.purge_dead(before)
    }
    fn counts(
        &self,
    ) -> hookgate::BoxFuture<'_, Result<hookgate::inbox::Counts, hookgate::inbox::InboxError>> {
        self.inner.counts()
    }
    fn notifier(&self) -> Arc<tokio::sync::Notify> {
        self.inner.notifier()
    }
}

#[tokio::test]
async fn a_pool_whose_handle_was_dropped_keeps_working_without_spinning() {
    let inner = SqliteInbox::open(temp_db("detached")).await.unwrap();
    let claims = Arc::new(AtomicUsize::new(0));
    let inbox = Counting {
        inner: inner.clone(),
        claims: claims.clone(),
        hang: Arc::default(),
    };
    let test = Test::new();
    let service = Webhooks::with_state(Zernio::new([SECRET]).unwrap(), test.clone())
        .inbox(inbox)
        .on(handle)
        .build()
        .unwrap();
    // Dropped at once: nothing can stop the pool, which runs until the runtime ends.
    drop(service.workers().unwrap().start());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Idle: a claim when it starts and one per poll interval (1 s), not a busy loop.
    let idle = claims.load(Ordering::SeqCst);
    assert!(idle <= 3, "{idle} claims in 500 ms while idle");
    assert_eq!(post(&service, "after_drop").await.0, 202);
    eventually("handled", async || {
        state_of(&inner, "after_drop").await == Some((State::Done, 1))
    })
    .await;
}

#[tokio::test]
async fn an_event_whose_attempts_keep_dying_with_the_process_goes_dead() {
    // One attempt and no retries. The attempt is claimed by a process that dies during it
    // (here: claimed by hand and never settled); when its lease ends, the next claim finds
    // the schedule used up and marks the event dead without running it again.
    let inbox = SqliteInbox::open(temp_db("abandoned")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::Fixed(vec![]), &test).await;
    assert_eq!(post(&service, "crash_1").await.0, 202);
    let now = std::time::SystemTime::now();
    let died = inbox
        .claim(&["zernio"], 1, Duration::from_millis(100), now)
        .await
        .unwrap();
    assert_eq!(died.events.len(), 1);
    let workers = service
        .workers()
        .unwrap()
        .poll_interval(Duration::from_millis(20))
        .start();
    eventually("dead", async || {
        state_of(&inbox, "crash_1").await == Some((State::Dead, 2))
    })
    .await;
    assert_eq!(test.calls.count("crash_1"), 0, "not run again");
    let dead = inbox.list(State::Dead, None, 10).await.unwrap();
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("abandoned"),
        "{:?}",
        dead[0].last_error
    );
    workers.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_lease_margin_covers_at_least_a_claim_s_round_trip() {
    let inbox = SqliteInbox::open(temp_db("margin")).await.unwrap();
    let service = dispatcher(inbox, RetrySchedule::default(), &Test::new()).await;
    let workers = service.workers().unwrap().lease_margin(Duration::ZERO);
    assert!(
        format!("{workers:?}").contains("lease_margin: 100ms"),
        "{workers:?}"
    );
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_claim_that_hangs() {
    let claims = Arc::new(AtomicUsize::new(0));
    let inbox = Counting {
        inner: SqliteInbox::open(temp_db("hang")).await.unwrap(),
        claims: claims.clone(),
        hang: Arc::default(),
    };
    let hang = inbox.hang.clone();
    let service = Webhooks::with_state(Zernio::new([SECRET]).unwrap(), Test::new())
        .inbox(inbox)
        .on(handle)
        .build()
        .unwrap();
    let workers = service
        .workers()
        .unwrap()
        .poll_interval(Duration::from_millis(20))
        .start();
    hang.store(true, Ordering::SeqCst);
    let before = claims.load(Ordering::SeqCst);
    eventually("a claim in flight", async || {
        claims.load(Ordering::SeqCst) > before
    })
    .await;
    // The claim never answers: the shutdown must not wait for it (fail rather than hang).
    tokio::time::timeout(
        Duration::from_secs(30),
        workers.shutdown(Duration::from_secs(1)),
    )
    .await
    .expect("the shutdown returned");
}

#[tokio::test]
async fn a_full_inbox_answers_503_with_retry_after() {
    let inbox = SqliteInbox::open(temp_db("full"))
        .await
        .unwrap()
        .max_pending(2);
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    assert_eq!(post(&service, "a").await.0, 202);
    assert_eq!(post(&service, "b").await.0, 202);
    let (status, code, retry_after) = post(&service, "c").await;
    assert_eq!((status, code.as_str()), (503, "inbox_full"));
    assert!(retry_after.is_some());
    // A duplicate is still recognised when full.
    assert_eq!(post(&service, "a").await.0, 200);
    assert_eq!(inbox.counts().await.unwrap().pending, 2);
}

#[tokio::test]
async fn shutdown_drains_in_flight_events_and_purge_removes_done_ones() {
    let inbox = SqliteInbox::open(temp_db("drain")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let workers = service.workers().unwrap().start();
    assert_eq!(post(&service, "block_drain").await.0, 202);
    eventually("running", async || {
        inbox.counts().await.unwrap().running == 1
    })
    .await;
    let gate = test.gate.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        gate.add_permits(1);
    });
    workers.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        state_of(&inbox, "block_drain").await,
        Some((State::Done, 1))
    );

    assert_eq!(
        inbox
            .purge_done(std::time::SystemTime::now() - Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        inbox
            .purge_done(std::time::SystemTime::now() + Duration::from_secs(1))
            .await
            .unwrap(),
        1
    );
    // Purged: its dedup memory went with it.
    assert_eq!(post(&service, "block_drain").await.0, 202);
}

#[tokio::test]
async fn purge_dead_deletes_only_dead_events_that_died_before_the_time() {
    let inbox = SqliteInbox::open(temp_db("purge_dead")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let workers = service.workers().unwrap().start();
    assert_eq!(post(&service, "fail_old").await.0, 202);
    assert_eq!(post(&service, "ok_kept").await.0, 202);
    eventually("dead and done", async || {
        state_of(&inbox, "fail_old").await == Some((State::Dead, 1))
            && state_of(&inbox, "ok_kept").await == Some((State::Done, 1))
    })
    .await;
    workers.shutdown(Duration::from_secs(1)).await;
    // A pending event is never purged either.
    assert_eq!(post(&service, "fail_pending").await.0, 202);

    // Died just now: kept by a time in the past.
    let past = std::time::SystemTime::now() - Duration::from_secs(60);
    assert_eq!(inbox.purge_dead(past).await.unwrap(), 0);
    let later = std::time::SystemTime::now() + Duration::from_secs(1);
    assert_eq!(inbox.purge_dead(later).await.unwrap(), 1);
    assert_eq!(state_of(&inbox, "fail_old").await, None);
    assert_eq!(state_of(&inbox, "ok_kept").await, Some((State::Done, 1)));
    assert_eq!(
        state_of(&inbox, "fail_pending").await,
        Some((State::Pending, 0))
    );
    assert_eq!(inbox.purge_dead(later).await.unwrap(), 0);
    // Its dedup memory went with it: a redelivery is stored anew.
    assert_eq!(post(&service, "fail_old").await.0, 202);
    assert_eq!(post(&service, "ok_kept").await.0, 200);
}

// ---------------------------------------------------------------------------------------------
// A real process killed with SIGKILL: the test re-runs its own binary as the child server.

/// The child server (run by `a_sigkilled_process_restarted_on_the_same_file_loses_nothing`
/// through this test binary; ignored otherwise). Serves `/` with a SQLite inbox at
/// `HOOKGATE_CHILD_DB`, appends each handled key to `HOOKGATE_CHILD_OUT`, sleeps
/// `HOOKGATE_CHILD_SLEEP_MS` in each handler, prints `ADDR <addr>` on stdout.
#[test]
#[ignore = "the child process of the SIGKILL test"]
fn child_server() {
    let db = std::env::var("HOOKGATE_CHILD_DB").expect("run by the SIGKILL test");
    let out = std::env::var("HOOKGATE_CHILD_OUT").unwrap();
    let sleep: u64 = std::env::var("HOOKGATE_CHILD_SLEEP_MS")
        .unwrap()
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let inbox = SqliteInbox::open(&db).await.unwrap();
        let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
            .inbox(inbox)
            .handler_timeout(Some(Duration::from_secs(1)))
            .on(move |_: zernio::WebhookTest, delivery: Delivery| {
                let out = out.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(sleep)).await;
                    use std::io::Write as _;
                    let mut file = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(&out)
                        .unwrap();
                    // One write per line: `writeln!` writes the key and the newline
                    // separately, and a SIGKILL between the two glues two keys together.
                    file.write_all(format!("{}\n", delivery.key()).as_bytes())
                        .unwrap();
                }
            })
            .build()
            .unwrap();
        let _workers = service
            .workers()
            .unwrap()
            .concurrency(2)
            .lease_margin(Duration::from_millis(200))
            .start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("ADDR {}", listener.local_addr().unwrap());
        let app = axum::Router::new().route_service("/", service);
        axum::serve(listener, app).await.unwrap();
    });
}

fn spawn_child(
    db: &std::path::Path,
    out: &std::path::Path,
    sleep_ms: u64,
) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOOKGATE_CHILD_DB", db)
        .env("HOOKGATE_CHILD_OUT", out)
        .env("HOOKGATE_CHILD_SLEEP_MS", sleep_ms.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("child printed its address").unwrap();
        if let Some(addr) = line.split("ADDR ").nth(1) {
            break addr.trim().to_owned();
        }
    };
    (child, format!("http://{addr}/"))
}

#[tokio::test]
async fn a_sigkilled_process_restarted_on_the_same_file_loses_nothing() {
    let db = temp_db("sigkill");
    let out = db.with_file_name("handled.txt");
    let (mut child, url) = spawn_child(&db, &out, 400);
    let zernio = Zernio::new([SECRET]).unwrap();
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let id = format!("kill_{i}");
        let request = signed_request(&zernio, "/", body(&id));
        let (parts, payload) = request.into_parts();
        let response = client
            .post(&url)
            .headers(parts.headers)
            .body(payload.collect().await.unwrap().to_bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        acknowledged.push(id);
    }
    // SIGKILL (std's kill on Unix) while handlers sleep and most events wait.
    child.kill().unwrap();
    child.wait().unwrap();
    let handled_before = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        handled_before.lines().count() < 20,
        "the kill came too late to test anything"
    );

    let (mut child, _) = spawn_child(&db, &out, 0);
    let handled = async || -> std::collections::HashSet<String> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while handled().await.len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let handled = handled().await;
    for id in &acknowledged {
        assert!(
            handled.contains(id),
            "{id} was acknowledged but never handled"
        );
    }
}

#[tokio::test]
async fn concurrent_deliveries_share_commits_and_the_bound_holds() {
    let inbox = SqliteInbox::open(temp_db("concurrent"))
        .await
        .unwrap()
        .max_pending(10);
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let mut tasks = tokio::task::JoinSet::new();
    // 30 distinct keys, each sent twice at once: 10 stored, the rest refused or duplicates.
    for i in 0..60 {
        let service = service.clone();
        tasks.spawn(async move { (i % 30, post(&service, &format!("c_{}", i % 30)).await.0) });
    }
    let mut by_key: HashMap<i32, Vec<u16>> = HashMap::new();
    while let Some(result) = tasks.join_next().await {
        let (key, status) = result.unwrap();
        by_key.entry(key).or_default().push(status);
    }
    let stored = by_key.values().filter(|s| s.contains(&202)).count();
    assert_eq!(stored, 10);
    for statuses in by_key.values() {
        let mut statuses = statuses.clone();
        statuses.sort();
        // Stored once then a duplicate, or refused (503) with nothing stored.
        assert!(
            statuses == [200, 202] || statuses.iter().all(|s| *s == 503),
            "{statuses:?}"
        );
    }
    assert_eq!(inbox.counts().await.unwrap().pending, 10);
}

#[tokio::test]
async fn duplicates_within_one_batch_are_answered_200_and_stored_once() {
    let inbox = SqliteInbox::open(temp_db("batch-dups")).await.unwrap();
    let test = Test::new();
    let service = dispatcher(inbox.clone(), RetrySchedule::default(), &test).await;
    let mut tasks = tokio::task::JoinSet::new();
    // 40 distinct keys, each sent three times at once: the writer takes them in a few batches,
    // most holding two or three copies of a key, all under the bound.
    for i in 0..120 {
        let service = service.clone();
        tasks.spawn(async move { (i % 40, post(&service, &format!("b_{}", i % 40)).await.0) });
    }
    let mut by_key: HashMap<i32, Vec<u16>> = HashMap::new();
    while let Some(result) = tasks.join_next().await {
        let (key, status) = result.unwrap();
        by_key.entry(key).or_default().push(status);
    }
    assert_eq!(by_key.len(), 40);
    for statuses in by_key.values() {
        let mut statuses = statuses.clone();
        statuses.sort();
        assert_eq!(statuses, [200, 200, 202]);
    }
    let counts = inbox.counts().await.unwrap();
    assert_eq!(counts.pending + counts.running + counts.done, 40);
}
