//! [`Workers`]: claim stored events, run the dispatcher's handlers, settle the outcome.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, SystemTime},
};

use futures_util::FutureExt as _;
use tokio::{
    sync::{Semaphore, watch},
    task::{JoinHandle, JoinSet},
};
use tracing::{Instrument as _, field::Empty};

use super::{ClaimToken, Inbox, Permanent, RetrySchedule, StoredEvent};
use crate::{
    delivery::{Delivery, Name},
    future::{BoxError, BoxFuture},
    rejection::Rejection,
};

/// Default number of events one [`Workers`] pool handles at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default fallback poll interval of idle workers (they also wake on inserts and due retries).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a pool purges done events past their dedup TTL.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often the workers sample the inbox's backlog (depth, oldest pending age) for metrics
/// (feature `metrics`).
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The smallest lease margin [`Workers::lease_margin`] takes.
const MIN_LEASE_MARGIN: Duration = Duration::from_millis(100);
/// Default lease margin: a claim lasts the handler timeout plus this, so a dead worker's events
/// are taken over within the handler timeout plus 10 s.
pub const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(10);

/// How one attempt ended.
#[derive(Debug)]
pub(crate) enum Attempt {
    Handled,
    Failed { permanent: bool, error: String },
    Panicked,
    TimedOut,
}

/// A dispatcher as the workers see it (implemented by [`Dispatcher`](crate::Dispatcher)).
pub(crate) trait Route: Send + Sync + 'static {
    fn provider(&self) -> &'static str;
    /// How long an attempt may run; the lease is this plus the margin.
    fn attempt_limit(&self) -> Duration;
    fn retry(&self) -> RetrySchedule;
    /// How long a done event is kept (its dedup memory): the dispatcher's dedup TTL.
    fn dedup_ttl(&self) -> Duration;
    fn run(&self, stored: StoredEvent) -> BoxFuture<'static, Attempt>;
    /// The metrics `event` label of `name` (a catalogue name, or `_other`).
    fn event_label(&self, name: &str) -> &'static str;
}

tokio::task_local! {
    static FAILURE: RefCell<Option<(bool, String)>>;
}

/// Called by the router when a handler returned an error: during an inbox attempt, keeps
/// whether it was [`Permanent`] and its message for the attempt's outcome, and answers
/// `true` (the worker logs the failure with what it does next); `false` outside one.
pub(crate) fn note_failure(error: &BoxError) -> bool {
    FAILURE
        .try_with(|slot| {
            *slot.borrow_mut() = Some((Permanent::is(&**error), error.to_string()));
        })
        .is_ok()
}

/// Runs one dispatch (the router's, as in inline mode) as an inbox attempt: panics caught,
/// cut off at `limit` (always: the claim's lease is made of it), the handler's error kept.
pub(crate) async fn attempt<F>(dispatch: F, limit: Duration) -> Attempt
where
    F: Future<Output = Result<crate::rejection::Ack, Rejection>>,
{
    let guarded = AssertUnwindSafe(dispatch).catch_unwind();
    FAILURE
        .scope(RefCell::new(None), async move {
            let Ok(result) = tokio::time::timeout(limit, guarded).await else {
                return Attempt::TimedOut;
            };
            match result {
                Ok(Ok(_)) => Attempt::Handled,
                Ok(Err(rejection)) => {
                    let noted = FAILURE.with(|slot| slot.borrow_mut().take());
                    let (permanent, error) =
                        noted.unwrap_or_else(|| (false, rejection.to_string()));
                    Attempt::Failed { permanent, error }
                }
                Err(_) => Attempt::Panicked,
            }
        })
        .await
}

/// A pool of workers over one inbox, for one or several dispatchers (one per provider) that
/// store into it. Build it with [`Dispatcher::workers`](crate::Dispatcher::workers), add the
/// other dispatchers with [`route`](Self::route), and [`start`](Self::start) it.
///
/// Each claim takes up to as many due events as there are free slots
/// ([`concurrency`](Self::concurrency)); each event runs on its own task.
pub struct Workers {
    inbox: Arc<dyn Inbox>,
    routes: HashMap<&'static str, Arc<dyn Route>>,
    concurrency: usize,
    poll: Duration,
    lease_margin: Duration,
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("providers", &self.routes.keys().collect::<Vec<_>>())
            .field("concurrency", &self.concurrency)
            .field("poll", &self.poll)
            .field("lease_margin", &self.lease_margin)
            .finish_non_exhaustive()
    }
}

impl Workers {
    pub(crate) fn new(inbox: Arc<dyn Inbox>) -> Self {
        Self {
            inbox,
            routes: HashMap::new(),
            concurrency: DEFAULT_CONCURRENCY,
            poll: DEFAULT_POLL_INTERVAL,
            lease_margin: DEFAULT_LEASE_MARGIN,
        }
    }

    pub(crate) fn with_route(mut self, route: Arc<dyn Route>) -> Self {
        self.routes.insert(route.provider(), route);
        self
    }

    /// How many events run at once (default 8, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Fallback poll interval when no notification arrives (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(10));
        self
    }

    /// Added to the handler timeout to make a claim's lease (default 10 s, at least 100 ms).
    ///
    /// The lease runs from just before the claim, the attempt's timeout from just after it: the
    /// margin must cover the claim's round trip, or another worker could claim the event while
    /// its attempt still runs.
    pub fn lease_margin(mut self, margin: Duration) -> Self {
        self.lease_margin = margin.max(MIN_LEASE_MARGIN);
        self
    }

    /// Starts the pool on the current tokio runtime. Keep the handle to shut the pool down;
    /// dropped, it leaves the pool running until the runtime ends.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[must_use = "the handle shuts the workers down; dropped, they run until the runtime ends"]
    pub fn start(self) -> WorkersHandle {
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(self.run(stopped));
        WorkersHandle { stop, task }
    }

    async fn run(self, mut stop: watch::Receiver<Option<Duration>>) {
        let providers: Vec<&'static str> = self.routes.keys().copied().collect();
        let lease = self
            .routes
            .values()
            .map(|r| r.attempt_limit())
            .max()
            .unwrap_or_default()
            + self.lease_margin;
        // Done events are kept for the longest dedup TTL of the routes, then purged.
        let keep_done = self
            .routes
            .values()
            .map(|r| r.dedup_ttl())
            .max()
            .unwrap_or_default();
        let mut last_purge: Option<std::time::Instant> = None;
        let mut last_sample: Option<std::time::Instant> = None;
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        let notify = self.inbox.notifier();
        tracing::debug!(
            ?providers,
            concurrency = self.concurrency,
            "inbox workers started"
        );
        // The handle was dropped: nothing can stop the pool any more, and `changed` would
        // answer at once on every wait (a busy loop of claims).
        let mut detached = false;
        let deadline = loop {
            if let Some(deadline) = *stop.borrow() {
                break deadline;
            }
            while tasks.try_join_next().is_some() {}
            if crate::metrics::ENABLED && last_sample.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY)
            {
                last_sample = Some(std::time::Instant::now());
                let Some(backlog) =
                    unless_stopped(&mut stop, &mut detached, self.inbox.backlog()).await
                else {
                    continue;
                };
                match backlog {
                    Ok(backlog) => crate::metrics::inbox_backlog(
                        backlog.pending,
                        backlog.running,
                        backlog.dead,
                        backlog.oldest_pending_age(SystemTime::now()),
                    ),
                    Err(_) => crate::metrics::inbox_error("backlog"),
                }
            }
            if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                let before = SystemTime::now()
                    .checked_sub(keep_done)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                let purge = self.inbox.purge_done_of(&providers, before);
                let Some(purged) = unless_stopped(&mut stop, &mut detached, purge).await else {
                    continue;
                };
                match purged {
                    Ok(0) => {}
                    Ok(purged) => {
                        tracing::debug!(purged, "done events past their dedup TTL purged")
                    }
                    Err(error) => tracing::warn!(%error, "purging done events failed"),
                }
            }
            let notified = notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    permit = slots.acquire() => drop(permit),
                    changed = stop.changed(), if !detached => detached = changed.is_err(),
                }
                continue;
            }
            let now = SystemTime::now();
            // Dropped by a shutdown mid-way, a claim that landed leaves its events to their
            // lease, as a dead worker does.
            let claim = self.inbox.claim(&providers, free, lease, now);
            let Some(claimed) = unless_stopped(&mut stop, &mut detached, claim).await else {
                continue;
            };
            let wait = match claimed {
                Ok(claimed) if !claimed.events.is_empty() => {
                    for stored in claimed.events {
                        let Some(route) = self.routes.get(&*stored.event.provider).cloned() else {
                            continue;
                        };
                        let permit = slots
                            .clone()
                            .try_acquire_owned()
                            .expect("claimed no more than the free slots");
                        let inbox = self.inbox.clone();
                        tasks.spawn(async move {
                            run_one(&*inbox, &*route, stored).await;
                            drop(permit);
                        });
                    }
                    continue;
                }
                Ok(claimed) => match claimed.next_due {
                    Some(due) => due.duration_since(now).unwrap_or_default().min(self.poll),
                    None => self.poll,
                },
                Err(error) => {
                    tracing::error!(%error, "inbox claim failed; retrying after the poll interval");
                    crate::metrics::inbox_error("claim");
                    self.poll
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
                changed = stop.changed(), if !detached => detached = changed.is_err(),
            }
        };
        let running = tasks.len();
        if running > 0 {
            tracing::info!(running, ?deadline, "inbox workers draining");
        }
        let drained = tokio::time::timeout(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "inbox workers stopped before their events finished; their leases will expire \
                 and the events be claimed again"
            );
            tasks.shutdown().await;
        }
    }
}

/// A running [`Workers`] pool.
#[derive(Debug)]
pub struct WorkersHandle {
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<()>,
}

impl WorkersHandle {
    /// Stops claiming, waits up to `deadline` for the events in flight, then stops them (their
    /// leases expire and another worker takes them over).
    pub async fn shutdown(self, deadline: Duration) {
        let _ = self.stop.send(Some(deadline));
        let _ = self.task.await;
    }

    /// Stops at once, as a crashed process would: events in flight are left running with
    /// their lease, to be taken over when it expires.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// One attempt of one claimed event, in its span, settled in the inbox.
/// `future`'s output, or `None` when the pool is told to stop first: a query that hangs (a
/// half-open connection to the database) must not hold a shutdown.
async fn unless_stopped<F: Future>(
    stop: &mut watch::Receiver<Option<Duration>>,
    detached: &mut bool,
    future: F,
) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => return Some(output),
            changed = stop.changed(), if !*detached => match changed {
                Ok(()) if stop.borrow().is_some() => return None,
                Ok(()) => {}
                Err(_) => *detached = true,
            },
        }
    }
}

async fn run_one(inbox: &dyn Inbox, route: &dyn Route, stored: StoredEvent) {
    let span = tracing::info_span!(
        "inbox_attempt",
        provider = route.provider(),
        event = %stored.event.event,
        key = %stored.event.key,
        id = stored.id,
        attempt = stored.attempts,
        outcome = Empty,
    );
    async move {
        let claim = stored.claim_token();
        let attempts = stored.attempts;
        let label = if crate::metrics::ENABLED {
            route.event_label(&stored.event.event)
        } else {
            "_none"
        };
        // Claimed again after the schedule's last attempt: that attempt (and maybe others)
        // ended without an outcome, because the process running it died (a handler that
        // aborts it, runs out of memory, overflows its stack). Dead, as a permanent failure,
        // without another run that would take the next process down too.
        let outcome = if attempts > 1 && route.retry().delay(attempts - 1).is_none() {
            Attempt::Failed {
                permanent: true,
                error: format!(
                    "abandoned: claimed {attempts} times, the last attempts ended without an \
                     outcome (the process running them died)"
                ),
            }
        } else {
            route.run(stored).await
        };
        let (permanent, error) = match outcome {
            Attempt::Handled => {
                tracing::Span::current().record("outcome", "done");
                crate::metrics::inbox_attempt(route.provider(), label, "done");
                complete(inbox, claim).await;
                return;
            }
            Attempt::Failed { permanent, error } => (permanent, error),
            Attempt::Panicked => (false, "handler panicked".to_owned()),
            Attempt::TimedOut => (false, "handler timed out".to_owned()),
        };
        let now = SystemTime::now();
        let delay = if permanent {
            None
        } else {
            route.retry().delay(attempts)
        };
        let retry_at = delay.map(|d| now + d);
        let settled = settle(inbox, claim, &error, retry_at).await;
        match delay {
            Some(delay) => {
                tracing::Span::current().record("outcome", "retry");
                crate::metrics::inbox_attempt(route.provider(), label, "retry");
                tracing::warn!(%error, ?delay, "attempt failed; retrying later");
            }
            None => {
                tracing::Span::current().record("outcome", "dead");
                crate::metrics::inbox_attempt(route.provider(), label, "dead");
                tracing::error!(%error, permanent, "event dead; kept for a manual retry");
            }
        }
        if !settled {
            tracing::warn!("claim lost before the failure was recorded; another worker has it");
        }
    }
    .instrument(span)
    .await
}

/// Marks the event done; a failing database is retried (bounded) so that a success is not
/// left to the lease (which would run the handler again).
async fn complete(inbox: &dyn Inbox, claim: ClaimToken) {
    let mut pause = Duration::from_millis(50);
    for _ in 0..10 {
        match inbox.complete(claim, SystemTime::now()).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!("lease expired before the event was marked done; it may run again");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "marking the event done failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
    tracing::error!("could not mark the event done; it will run again after its lease");
}

async fn settle(
    inbox: &dyn Inbox,
    claim: ClaimToken,
    error: &str,
    retry_at: Option<SystemTime>,
) -> bool {
    let mut pause = Duration::from_millis(50);
    for _ in 0..10 {
        match inbox.fail(claim, error, retry_at, SystemTime::now()).await {
            Ok(settled) => return settled,
            Err(db) => {
                tracing::error!(error = %db, "recording the failed attempt failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
    false
}

/// The [`Delivery`] handlers see, rebuilt from a stored event; a failed
/// attempt that is not retried when the stored body is not UTF-8 (the pipeline stores only
/// bodies that are: the row was changed since).
pub(crate) fn delivery<E: crate::event::Event>(
    provider: &'static str,
    stored: StoredEvent,
) -> Result<Delivery, Attempt> {
    let event = stored.event;
    let Ok(raw) = bytestring::ByteString::try_from(event.raw) else {
        return Err(Attempt::Failed {
            permanent: true,
            error: "the stored body is not UTF-8".to_owned(),
        });
    };
    Ok(Delivery {
        provider,
        // Stored from a valid tenant id, so it converts back.
        tenant: event
            .tenant
            .and_then(|tenant| crate::keyring::Tenant::new(tenant).ok()),
        event: Name::of::<E>(&event.event),
        key: event.key.into(),
        key_from_body_hash: event.key_is_body_hash,
        received_at: event.received_at,
        attempt: event.sender_attempt,
        delivery_id: event.delivery_id,
        headers: event.headers,
        raw,
        // Read whole when it was accepted.
        unread: None,
    })
}
