//! The durable inbox: answer first, handle after, retry for a day, lose nothing.
//!
//! With [`Webhooks::inbox`](crate::Webhooks::inbox), a verified delivery is not handled before
//! the answer: after verification and the envelope it is stored in ONE atomic step that is also
//! its de-duplication (insert if absent, keyed by the [`DedupKey`](crate::dedup::DedupKey)
//! digest), then answered at once: 202 `{"status":"accepted"}` when new, 200
//! `{"status":"duplicate"}` when already there in any state (pending, running, done or dead),
//! 503 with `Retry-After` when the inbox is unreachable or full (nothing half-stored). The answer
//! is sent only after the insert committed.
//!
//! [`Workers`] then claim due events with a lease, rebuild the [`Delivery`](crate::Delivery) and
//! run the very same typed handlers, fallback and drift rules as inline mode. A success marks
//! the event done, kept for the dispatcher's dedup TTL (so duplicates keep answering 200; each
//! pool of workers purges its own providers' older done events every minute,
//! [`Inbox::purge_done`] does it by hand); an error, a panic or a timeout schedules the next
//! attempt on the [`RetrySchedule`]; after the last one the event is dead: kept, listed,
//! replayable with [`Inbox::retry_dead`], never retried by itself, deleted only when the
//! operator says so ([`Inbox::purge_dead`]). An event whose attempts die with their process
//! is dead once the schedule is used up. A handler declares a permanent failure by returning
//! a [`Permanent`] error (straight to dead; inline mode answers 500 for it as for any error).
//!
//! A claimed event carries a lease of the handler timeout (the dispatcher's lease when it has
//! none) plus a margin (10 s by default), and its attempt is cut off at that timeout, so that
//! no attempt outlives its claim: a worker that died leaves the lease to expire, and another
//! worker takes the event over. Waiting
//! workers wake when an event is stored (an in-process notification; PostgreSQL's
//! `LISTEN/NOTIFY` across processes), when the next retry falls due, and otherwise poll at a
//! fallback interval (1 s by default).
//!
//! Engines, both on [`sqlx`](https://docs.rs/sqlx) (one well-kept async crate for both: pooled
//! connections, plain SQL without the query macros, so no database at build time, and SQLite
//! bundled, so no system library):
//!
//! - `SqliteInbox` (feature `inbox-sqlite`): one file, nothing to start. WAL journal,
//!   `synchronous = FULL` by default: a delivery is answered only after its transaction is
//!   fsynced, so an acknowledged delivery survives a process crash, a SIGKILL and a power loss.
//!   `synchronous = NORMAL` (opt-in) survives a crash or SIGKILL but may lose the last
//!   transactions on a power loss. Inserts go through one writer task that commits every
//!   insert waiting (up to 256) in one transaction: concurrent deliveries share one fsync
//!   (group commit), and each is answered after that commit.
//! - `PostgresInbox` (feature `inbox-postgres`): several replicas share one inbox; claims use
//!   `FOR UPDATE SKIP LOCKED`, inserts `NOTIFY` the other processes' workers.
//!
//! Both create their tables with versioned migrations (a version table, each step in a
//! transaction).

#[cfg(feature = "forward")]
mod forward;
#[cfg(feature = "inbox-postgres")]
mod postgres;
#[cfg(any(feature = "inbox-sqlite", feature = "inbox-postgres"))]
mod sql;
#[cfg(feature = "inbox-sqlite")]
mod sqlite;
mod worker;

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

#[cfg(feature = "forward")]
pub use forward::{Forward, ForwardError, Forwarding};
#[cfg(feature = "inbox-postgres")]
pub use postgres::PostgresInbox;
#[cfg(feature = "inbox-sqlite")]
pub use sqlite::{SqliteInbox, Synchronous};
pub(crate) use worker::{Attempt, Route, attempt, delivery, note_failure};
pub use worker::{
    DEFAULT_CONCURRENCY, DEFAULT_LEASE_MARGIN, DEFAULT_POLL_INTERVAL, Workers, WorkersHandle,
};

use crate::future::{BoxError, BoxFuture};

/// The most events one [`Inbox::list`] call returns.
pub const MAX_PAGE: usize = 1000;

/// Default bound of an inbox: how many events may wait (pending or running) before new
/// deliveries are refused with 503.
pub const DEFAULT_MAX_PENDING: u64 = 100_000;

/// A durable store of accepted deliveries, shared by the pipeline (insert) and the
/// [`Workers`] (claim, settle), with a bounded admin API.
///
/// Times are passed in by the caller (milliseconds since the Unix epoch in storage), so every
/// process of a shared inbox uses one notion of "due".
pub trait Inbox: Send + Sync + 'static {
    /// Stores `event` unless an event with the same [`NewEvent::dedup`] is there, in one atomic
    /// step, and returns only once that step is durable.
    fn insert<'a>(&'a self, event: &'a NewEvent) -> BoxFuture<'a, Result<Inserted, InboxError>>;

    /// Claims up to `limit` due events of `providers` (pending and due, or running with an
    /// expired lease) until `now + lease`, counting an attempt for each.
    fn claim<'a>(
        &'a self,
        providers: &'a [&'static str],
        limit: usize,
        lease: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Claimed, InboxError>>;

    /// Marks a claimed event done. `false` when the claim was lost (its lease expired and
    /// another worker took it).
    fn complete(
        &self,
        claim: ClaimToken,
        now: SystemTime,
    ) -> BoxFuture<'_, Result<bool, InboxError>>;

    /// Settles a failed attempt: pending again at `retry_at`, or dead when `None`.
    fn fail<'a>(
        &'a self,
        claim: ClaimToken,
        error: &'a str,
        retry_at: Option<SystemTime>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, InboxError>>;

    /// One page of events in `state`, by id, after `after` (exclusive); at most
    /// `limit.min(MAX_PAGE)` events.
    fn list(
        &self,
        state: State,
        after: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, InboxError>>;

    /// The event with this id.
    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>, InboxError>>;

    /// Makes a dead event pending again, due now, with a fresh attempt count. `false` when
    /// there is no dead event with this id.
    fn retry_dead(&self, id: i64) -> BoxFuture<'_, Result<bool, InboxError>>;

    /// Makes every dead event pending again; returns how many.
    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, InboxError>>;

    /// Deletes done events last updated before `before` (their dedup memory goes with them);
    /// returns how many.
    fn purge_done(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>>;

    /// Deletes the done events of `providers` last updated before `before`; returns how many.
    /// What each pool of [`Workers`] runs every minute, for its own providers only: its
    /// dispatchers' dedup TTL must not cut short the memory of another pool's dispatchers
    /// (another service, or another provider with a longer TTL, on the same inbox).
    fn purge_done_of<'a>(
        &'a self,
        providers: &'a [&'static str],
        before: SystemTime,
    ) -> BoxFuture<'a, Result<u64, InboxError>>;

    /// Deletes dead events that died before `before`; returns how many. Nothing else ever
    /// deletes a dead event: this is the operator's call, once they were looked at (or
    /// replayed elsewhere). Their dedup memory goes with them: a redelivery of one after that
    /// is stored and handled anew.
    fn purge_dead(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>>;

    /// Counts of events per state.
    fn counts(&self) -> BoxFuture<'_, Result<Counts, InboxError>>;

    /// What the workers' gauges show (feature `metrics`): the events not done and when the
    /// longest-waiting claimable one fell due. The workers read it every 10 s, never per
    /// delivery; the SQL engines answer it with one query over the `(state, next_at)` index
    /// that reads the pending, running and dead rows only (bounded by the inbox's maximum of
    /// pending events plus the dead), never the done rows, which are most of a busy inbox.
    ///
    /// The default reads [`counts`](Self::counts) and knows no due time.
    fn backlog(&self) -> BoxFuture<'_, Result<Backlog, InboxError>> {
        Box::pin(async move {
            let counts = self.counts().await?;
            Ok(Backlog {
                pending: counts.pending,
                running: counts.running,
                dead: counts.dead,
                oldest_due: None,
            })
        })
    }

    /// Notified (with `notify_waiters`) whenever an event may have become claimable.
    fn notifier(&self) -> Arc<tokio::sync::Notify>;
}

/// What [`Inbox::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored (answer 202).
    New,
    /// An event with the same key was there already, in any state (answer 200).
    Duplicate,
}

/// The inbox could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The inbox holds its maximum of pending events (answer 503).
    #[error("inbox full: {pending} events pending")]
    Full {
        /// How many were pending.
        pending: u64,
    },
    /// The database failed or could not be reached (answer 503).
    #[error("inbox unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// A stored row could not be read back.
    #[error("inbox row unreadable: {0}")]
    Corrupt(String),
}

/// The state of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting for its (next) attempt.
    Pending,
    /// Claimed by a worker (its lease may have expired).
    Running,
    /// Handled; kept as dedup memory until purged.
    Done,
    /// Failed for good; kept until retried by hand.
    Dead,
}

#[cfg_attr(
    not(any(feature = "inbox-sqlite", feature = "inbox-postgres")),
    allow(dead_code)
)]
impl State {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Pending => 0,
            Self::Running => 1,
            Self::Done => 2,
            Self::Dead => 3,
        }
    }

    pub(crate) fn from_code(code: i64) -> Result<Self, InboxError> {
        Ok(match code {
            0 => Self::Pending,
            1 => Self::Running,
            2 => Self::Done,
            3 => Self::Dead,
            other => return Err(InboxError::Corrupt(format!("state {other}"))),
        })
    }
}

/// Counts of events per state, from [`Inbox::counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waiting for an attempt.
    pub pending: u64,
    /// Claimed by a worker.
    pub running: u64,
    /// Handled.
    pub done: u64,
    /// Failed for good.
    pub dead: u64,
}

/// The events not done and how long the oldest claimable one has waited, from
/// [`Inbox::backlog`]: what the workers' `hookgate.inbox.depth` and
/// `hookgate.inbox.oldest_pending.age` gauges show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// Waiting for an attempt (due or not).
    pub pending: u64,
    /// Claimed by a worker (its lease may have expired).
    pub running: u64,
    /// Failed for good.
    pub dead: u64,
    /// When the longest-waiting claimable event fell (or falls) due: the earliest due time of
    /// the pending events (a new event is due when stored, a failed one when its retry is) and
    /// of the lease ends of the running ones (a worker that died leaves its event due when the
    /// lease ends). `None` when nothing is pending or running.
    pub oldest_due: Option<SystemTime>,
}

impl Backlog {
    /// How long the longest-waiting claimable event has waited for a worker at `now`: zero
    /// when nothing is due (an empty inbox, or only retries and leases still to come).
    #[must_use]
    pub fn oldest_pending_age(&self, now: SystemTime) -> Duration {
        self.oldest_due
            .and_then(|due| now.duration_since(due).ok())
            .unwrap_or_default()
    }
}

/// A delivery to store: what the pipeline knows once it is verified and its envelope read.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewEvent {
    /// The dedup key digest ([`DedupKey::to_hex`](crate::dedup::DedupKey::to_hex)): the
    /// unique key of the inbox.
    pub dedup: String,
    /// The provider's name.
    pub provider: std::borrow::Cow<'static, str>,
    /// The tenant whose secret verified the delivery, when there are tenants.
    pub tenant: Option<String>,
    /// The dedup key as the sender gave it (or the body hash).
    pub key: String,
    /// Whether `key` is the body-hash fallback.
    pub key_is_body_hash: bool,
    /// The event name as routed.
    pub event: String,
    /// When the delivery was received.
    pub received_at: SystemTime,
    /// The sender's attempt number, when it sends one.
    pub sender_attempt: Option<u32>,
    /// The sender's delivery id, when it sends one.
    pub delivery_id: Option<String>,
    /// The request headers (signature headers already redacted).
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    pub raw: Bytes,
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("provider", &self.provider)
            .field("event", &self.event)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A stored event, as claimed by a worker or listed by the admin API.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredEvent {
    /// The inbox's id for the event.
    pub id: i64,
    /// Where it stands.
    pub state: State,
    /// Attempts started so far (counting the current one when claimed).
    pub attempts: u32,
    /// When it is due next (pending) or when its lease ends (running), or when it was settled.
    pub next_at: SystemTime,
    /// The last failure, when an attempt failed.
    pub last_error: Option<String>,
    /// The claim's token (meaningful while running).
    pub(crate) token: i64,
    /// The delivery as it was stored.
    pub event: NewEvent,
}

impl fmt::Debug for StoredEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEvent")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("event", &self.event)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl StoredEvent {
    /// The claim that settles this event.
    pub fn claim_token(&self) -> ClaimToken {
        ClaimToken {
            id: self.id,
            token: self.token,
        }
    }
}

/// Identifies one claim of one event: settling with a stale token (the lease expired and
/// another worker claimed the event) changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimToken {
    /// The event's id.
    pub id: i64,
    /// The claim's random token.
    pub token: i64,
}

/// What [`Inbox::claim`] found.
#[derive(Debug, Default)]
pub struct Claimed {
    /// The claimed events.
    pub events: Vec<StoredEvent>,
    /// When nothing was due: when the next pending event falls due, if any.
    pub next_due: Option<SystemTime>,
}

/// A handler's way to say "retrying will not help": the event goes straight to dead.
///
/// ```
/// use hookgate::inbox::Permanent;
///
/// async fn handle(amount: i64) -> Result<(), hookgate::BoxError> {
///     if amount < 0 {
///         return Err(Permanent::new("negative amount").into());
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("permanent failure: {0}")]
pub struct Permanent(#[source] pub BoxError);

impl Permanent {
    /// Wraps `error` as permanent.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self(error.into())
    }

    /// Whether `error` is (or wraps, at its top) a [`Permanent`].
    pub fn is(error: &(dyn std::error::Error + 'static)) -> bool {
        error.is::<Permanent>()
    }
}

/// Delays between attempts of an event whose handler failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RetrySchedule {
    /// Exponential with jitter: `first`, doubling up to `cap`, `retries` times in all; each
    /// delay multiplied by a random factor in `1 ± jitter`.
    Exponential {
        /// The first delay.
        first: Duration,
        /// The longest delay.
        cap: Duration,
        /// How many retries (attempts after the first).
        retries: u32,
        /// Relative jitter, 0.0 to 1.0.
        jitter: f64,
    },
    /// These delays, exactly (no jitter): at most `1 + len` attempts.
    Fixed(Vec<Duration>),
}

impl Default for RetrySchedule {
    /// 18 retries: 15 s, 30 s, 1 min, ... doubling up to 4 h, then every 4 h; each ±20 %.
    /// Nominally the last retry starts 36 h after the first attempt (at least 29 h with the
    /// jitter): a handler's dependency may be down for a day without an event going dead.
    fn default() -> Self {
        Self::Exponential {
            first: Duration::from_secs(15),
            cap: Duration::from_secs(4 * 3600),
            retries: 18,
            jitter: 0.2,
        }
    }
}

impl RetrySchedule {
    /// The delay before the next attempt, after `attempts` attempts failed; `None` when the
    /// event is now dead.
    pub fn delay(&self, attempts: u32) -> Option<Duration> {
        let retry = attempts.checked_sub(1)?;
        match self {
            Self::Fixed(delays) => delays.get(retry as usize).copied(),
            Self::Exponential {
                first,
                cap,
                retries,
                jitter,
            } => {
                if retry >= *retries {
                    return None;
                }
                let nominal = first
                    .checked_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
                    .unwrap_or(*cap)
                    .min(*cap);
                let jitter = jitter.clamp(0.0, 1.0);
                let factor = 1.0 + jitter * (fastrand::f64() * 2.0 - 1.0);
                Some(nominal.mul_f64(factor))
            }
        }
    }

    /// The sum of the nominal delays (no jitter): how long after the first attempt the last
    /// one starts.
    pub fn horizon(&self) -> Duration {
        match self {
            Self::Fixed(delays) => delays.iter().sum(),
            Self::Exponential {
                first,
                cap,
                retries,
                ..
            } => (0..*retries)
                .map(|r| {
                    first
                        .checked_mul(1u32.checked_shl(r.min(31)).unwrap_or(u32::MAX))
                        .unwrap_or(*cap)
                        .min(*cap)
                })
                .sum(),
        }
    }
}

/// The inbox settings of a dispatcher (`Webhooks::inbox`, `Webhooks::retry_schedule`).
#[derive(Clone, Default)]
pub(crate) struct InboxSettings {
    /// `None`: handlers run inline.
    pub(crate) store: Option<Arc<dyn Inbox>>,
    pub(crate) retry: RetrySchedule,
}

impl fmt::Debug for InboxSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxSettings")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Stores an accepted delivery (the pipeline's inbox branch) and says how to answer.
pub(crate) async fn accept(
    inbox: &dyn Inbox,
    event: NewEvent,
) -> Result<crate::rejection::Ack, crate::rejection::Rejection> {
    use crate::rejection::{Ack, Rejection};
    match inbox.insert(&event).await {
        Ok(Inserted::New) => Ok(Ack::Accepted),
        Ok(Inserted::Duplicate) => {
            tracing::debug!("duplicate delivery acknowledged; already in the inbox");
            Ok(Ack::Duplicate)
        }
        Err(InboxError::Full { pending }) => {
            crate::metrics::inbox_error("full");
            tracing::error!(
                provider = &*event.provider,
                pending,
                "inbox full; delivery refused"
            );
            Err(Rejection::InboxFull)
        }
        Err(error) => {
            crate::metrics::inbox_error("insert");
            tracing::error!(provider = &*event.provider, %error, "inbox insert failed");
            Err(Rejection::InboxUnavailable)
        }
    }
}

#[cfg_attr(
    not(any(feature = "inbox-sqlite", feature = "inbox-postgres")),
    allow(dead_code)
)]
pub(crate) fn to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg_attr(
    not(any(feature = "inbox-sqlite", feature = "inbox-postgres")),
    allow(dead_code)
)]
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Headers as stored: per header, name length (u16 LE), name, value length (u32 LE), value.
#[cfg_attr(
    not(any(feature = "inbox-sqlite", feature = "inbox-postgres")),
    allow(dead_code)
)]
pub(crate) fn encode_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let (name, value) = (name.as_str().as_bytes(), value.as_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

#[cfg_attr(
    not(any(feature = "inbox-sqlite", feature = "inbox-postgres")),
    allow(dead_code)
)]
pub(crate) fn decode_headers(mut bytes: &[u8]) -> Result<HeaderMap, InboxError> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], InboxError> {
        if bytes.len() < n {
            return Err(InboxError::Corrupt("headers truncated".into()));
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    let mut headers = HeaderMap::new();
    while !bytes.is_empty() {
        let n = u16::from_le_bytes(take(&mut bytes, 2)?.try_into().expect("2 bytes")) as usize;
        let name = HeaderName::from_bytes(take(&mut bytes, n)?)
            .map_err(|_| InboxError::Corrupt("header name".into()))?;
        let n = u32::from_le_bytes(take(&mut bytes, 4)?.try_into().expect("4 bytes")) as usize;
        let mut value = HeaderValue::from_bytes(take(&mut bytes, n)?)
            .map_err(|_| InboxError::Corrupt("header value".into()))?;
        if value == "[redacted]" {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_covers_a_day_with_jitter() {
        let schedule = RetrySchedule::default();
        assert!(schedule.horizon() >= Duration::from_secs(36 * 3600));
        // The jitter takes at most 20 % off each delay.
        assert!(schedule.horizon().mul_f64(0.8) >= Duration::from_secs(24 * 3600));
        let mut total = Duration::ZERO;
        for attempts in 1..=18 {
            total += schedule.delay(attempts).expect("18 retries");
        }
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(schedule.delay(19), None);
        assert_eq!(schedule.delay(0), None);
    }

    #[test]
    fn fixed_delays_are_used_as_given() {
        let schedule = RetrySchedule::Fixed(vec![
            Duration::from_millis(200),
            Duration::from_secs(1),
            Duration::from_secs(5),
        ]);
        assert_eq!(schedule.delay(1), Some(Duration::from_millis(200)));
        assert_eq!(schedule.delay(2), Some(Duration::from_secs(1)));
        assert_eq!(schedule.delay(3), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay(4), None);
    }

    #[test]
    fn headers_round_trip_and_redaction_stays_sensitive() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("one"));
        headers.append("x-a", HeaderValue::from_static("two"));
        headers.insert("x-sig", HeaderValue::from_static("[redacted]"));
        let back = decode_headers(&encode_headers(&headers)).unwrap();
        assert_eq!(back, headers);
        assert!(back["x-sig"].is_sensitive());
        assert!(decode_headers(&[5, 0, b'x']).is_err());
    }

    #[test]
    fn permanent_is_recognised_through_a_box() {
        let error: BoxError = Permanent::new("nope").into();
        assert!(Permanent::is(&*error));
        let error: BoxError = "plain".into();
        assert!(!Permanent::is(&*error));
    }
}
