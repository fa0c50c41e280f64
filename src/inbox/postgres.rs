//! [`PostgresInbox`]: one inbox shared by several replicas.

use std::{
    fmt,
    str::FromStr as _,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant, SystemTime},
};

use sqlx::{
    Postgres, Row as _,
    postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions},
};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{
    Backlog, ClaimToken, Claimed, Counts, DEFAULT_MAX_PENDING, Inbox, InboxError, Inserted,
    MAX_PAGE, NewEvent, State, StoredEvent,
    sql::{self, COLUMNS, Shared, stored_from_row, token, unavailable},
    to_millis,
};
use crate::future::BoxFuture;

/// Versioned migrations: step `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE hookgate_inbox (
    id BIGSERIAL PRIMARY KEY,
    dedup TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    tenant TEXT,
    key TEXT NOT NULL,
    key_is_body_hash BOOLEAN NOT NULL,
    event TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    sender_attempt BIGINT,
    delivery_id TEXT,
    headers BYTEA NOT NULL,
    body BYTEA NOT NULL,
    state BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    token BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hookgate_inbox_due ON hookgate_inbox (state, next_at);
"#];

/// Serializes concurrent migrations of several replicas (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x686f_6f6b_6761_7465; // "hookgate"

/// A durable inbox in PostgreSQL, shared by every replica pointing at it: workers claim with
/// `FOR UPDATE SKIP LOCKED` (no two claim one event), inserts `NOTIFY` every replica's idle
/// workers (`LISTEN`), and the tables are created by versioned migrations in the given schema
/// (default `public`). Cheap to clone.
///
/// Durability is PostgreSQL's: a delivery is answered after its transaction committed.
/// Bounded by [`max_pending`](Self::max_pending) (default 100 000 pending or running).
///
/// The table is a queue: every claim and every completion leaves a dead row version, and
/// claims read the start of the `(state, next_at)` index, where the dead versions of the
/// events just handled lie. Keep autovacuum on (PostgreSQL's default); on a server without it,
/// run `VACUUM hookgate_inbox` every minute or so, or claims slow down with every event handled.
#[derive(Clone)]
pub struct PostgresInbox {
    pool: PgPool,
    notify: Arc<Notify>,
    channel: Arc<str>,
    max_pending: u64,
    /// An upper bound of the pending count (this process's view), recounted when it could
    /// reach the maximum and at least every second: a `COUNT(*)` per insert would cost more as
    /// the backlog grows.
    pending: Arc<Mutex<Option<(u64, Instant)>>>,
    /// Completions waiting for the completer's next statement.
    completer: mpsc::Sender<Completion>,
    /// Asks the announcer for one `NOTIFY` after the inserts committed so far.
    announce: mpsc::Sender<()>,
}

/// One [`Inbox::complete`] waiting for the completer's next statement.
struct Completion {
    claim: ClaimToken,
    now: i64,
    reply: oneshot::Sender<Result<bool, InboxError>>,
}

/// The most completions one statement marks done.
const COMPLETE_BATCH: usize = 256;

impl fmt::Debug for PostgresInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresInbox")
            .field("channel", &self.channel)
            .field("max_pending", &self.max_pending)
            .finish_non_exhaustive()
    }
}

impl PostgresInbox {
    /// Connects to `url` (`postgres://USER@HOST:PORT/DB`) and creates the tables in `public`
    /// when absent.
    pub async fn connect(url: &str) -> Result<Self, InboxError> {
        Self::connect_in_schema(url, "public").await
    }

    /// Like [`connect`](Self::connect), with the tables in `schema` (created when absent).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, InboxError> {
        if schema.is_empty() || schema.len() > 48 || schema.contains('"') {
            return Err(InboxError::Corrupt(format!(
                "unusable schema name {schema:?}"
            )));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(unavailable)?
            .options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        migrate(&pool, schema).await?;
        let notify = Arc::new(Notify::new());
        let channel: Arc<str> = format!("hookgate_inbox.{schema}").into();
        let mut listener = PgListener::connect_with(&pool).await.map_err(unavailable)?;
        listener.listen(&channel).await.map_err(unavailable)?;
        tokio::spawn(listen(listener, Arc::downgrade(&notify)));
        let (completer, completions) = mpsc::channel(4 * COMPLETE_BATCH);
        tokio::spawn(complete_loop(pool.clone(), completions));
        let (announce, requests) = mpsc::channel(1);
        tokio::spawn(announce_loop(pool.clone(), channel.clone(), requests));
        Ok(Self {
            pool,
            notify,
            channel,
            max_pending: DEFAULT_MAX_PENDING,
            pending: Arc::new(Mutex::new(None)),
            completer,
            announce,
        })
    }

    /// At most this many pending or running events (default 100 000); new deliveries past it
    /// are refused with 503 (duplicates are still answered 200).
    pub fn max_pending(mut self, max: u64) -> Self {
        self.max_pending = max;
        self
    }
}

/// Wakes this process's workers on every `NOTIFY` until the inbox is dropped.
async fn listen(mut listener: PgListener, notify: Weak<Notify>) {
    loop {
        // `try_recv`, not `recv`: `recv` reconnects by itself and says nothing, so the
        // notifications sent while it reconnected would go unnoticed until the next poll.
        let received = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await;
        let Some(notify) = notify.upgrade() else {
            return;
        };
        match received {
            Ok(Ok(Some(_))) => notify.notify_waiters(),
            Err(_) => {}
            Ok(Ok(None)) => {
                tracing::warn!("inbox LISTEN connection lost; reconnecting");
                // Wake the workers: a notification may have been missed.
                notify.notify_waiters();
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "inbox LISTEN connection failed; reconnecting");
                // Wake the workers: a notification may have been missed.
                notify.notify_waiters();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Tells every replica's workers that events were stored: one `NOTIFY` (its own statement) per
/// request, requests made while one is sent coalescing into the next. Each request is made
/// after its insert committed, so the `NOTIFY` that answers it is sent after that commit too:
/// a replica it wakes sees the event.
///
/// `NOTIFY` inside the insert's transaction (as before) made every insert commit wait for
/// PostgreSQL's one notification-queue lock, held across the commit's WAL flush: the inserts
/// of all replicas committed one at a time. Ends when every clone of the inbox is dropped.
async fn announce_loop(pool: PgPool, channel: Arc<str>, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(&*channel)
            .execute(&pool)
            .await
        {
            // The other replicas poll (their workers' fallback interval).
            tracing::warn!(%error, "inbox NOTIFY failed");
        }
    }
}

/// Marks claimed events done, every completion waiting (up to [`COMPLETE_BATCH`]) in one
/// statement, one round trip and one commit: the workers' events finish together, and one
/// `UPDATE` a batch costs the database less than one per event. Each caller is answered after
/// that commit, with whether its claim still held; a failed statement fails every completion
/// of the batch (the workers retry each). Ends when every clone of the inbox is dropped.
async fn complete_loop(pool: PgPool, mut queue: mpsc::Receiver<Completion>) {
    let mut batch = Vec::with_capacity(COMPLETE_BATCH);
    while queue.recv_many(&mut batch, COMPLETE_BATCH).await > 0 {
        let ids: Vec<i64> = batch.iter().map(|c| c.claim.id).collect();
        let tokens: Vec<i64> = batch.iter().map(|c| c.claim.token).collect();
        let nows: Vec<i64> = batch.iter().map(|c| c.now).collect();
        let done: Result<Vec<i64>, _> = sqlx::query_scalar(
            "UPDATE hookgate_inbox h SET state = 2, next_at = c.now, updated_at = c.now, \
             token = NULL FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) \
             AS c(id, token, now) WHERE h.id = c.id AND h.state = 1 AND h.token = c.token \
             RETURNING h.id",
        )
        .bind(&ids)
        .bind(&tokens)
        .bind(&nows)
        .fetch_all(&pool)
        .await;
        match done {
            Ok(done) => {
                for completion in batch.drain(..) {
                    let held = done.contains(&completion.claim.id);
                    let _ = completion.reply.send(Ok(held));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for completion in batch.drain(..) {
                    let shared = Box::new(Shared(error.clone()));
                    let _ = completion.reply.send(Err(InboxError::Unavailable(shared)));
                }
            }
        }
    }
}

async fn migrate(pool: &PgPool, schema: &str) -> Result<(), InboxError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; \
         CREATE TABLE IF NOT EXISTS hookgate_inbox_migrations (version BIGINT PRIMARY KEY)"
    ))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM hookgate_inbox_migrations")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        sqlx::raw_sql(step)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO hookgate_inbox_migrations (version) VALUES ($1)")
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}

impl Inbox for PostgresInbox {
    fn insert<'a>(&'a self, event: &'a NewEvent) -> BoxFuture<'a, Result<Inserted, InboxError>> {
        Box::pin(async move {
            let now = to_millis(SystemTime::now());
            let cached = *self.pending.lock().expect("not poisoned");
            if let Some((count, at)) = cached
                && count < self.max_pending
                && at.elapsed() < Duration::from_secs(1)
            {
                // Room for it by the recent count: one statement, one round trip, its own
                // transaction; a duplicate returns no row.
                let inserted = sql::insert::<Postgres>(event, now)
                    .execute(&self.pool)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                if inserted == 0 {
                    return Ok(Inserted::Duplicate);
                }
                if let Some((count, _)) = self.pending.lock().expect("not poisoned").as_mut() {
                    *count += 1;
                }
                self.announce();
                return Ok(Inserted::New);
            }
            // Recount in the transaction of the insert, and roll it back when full.
            let mut tx = self.pool.begin().await.map_err(unavailable)?;
            let inserted = sql::insert::<Postgres>(event, now)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
            if inserted == 0 {
                tx.rollback().await.map_err(unavailable)?;
                return Ok(Inserted::Duplicate);
            }
            let pending = {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM hookgate_inbox WHERE state IN (0, 1)")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                let n = n as u64;
                *self.pending.lock().expect("not poisoned") = Some((n, Instant::now()));
                n
            };
            if pending > self.max_pending {
                tx.rollback().await.map_err(unavailable)?;
                return Err(InboxError::Full {
                    pending: pending - 1,
                });
            }
            tx.commit().await.map_err(unavailable)?;
            if let Some((count, _)) = self.pending.lock().expect("not poisoned").as_mut() {
                *count += 1;
            }
            self.announce();
            Ok(Inserted::New)
        })
    }

    fn claim<'a>(
        &'a self,
        providers: &'a [&'static str],
        limit: usize,
        lease: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Claimed, InboxError>> {
        Box::pin(async move {
            if providers.is_empty() || limit == 0 {
                return Ok(Claimed::default());
            }
            let now_ms = to_millis(now);
            let providers: Vec<&str> = providers.to_vec();
            // Running events keep their lease end in next_at, so the due pending events and the
            // expired leases are each the start of one `(state, next_at)` index range, read in
            // order: a few rows per claim however long the backlog. (One `state IN (0, 1)`
            // range ordered by next_at read and sorted every due event: 50 ms a claim at
            // 50 000 pending, the workers slowing as the backlog grew.)
            let sql = format!(
                "WITH pending AS (SELECT id, next_at FROM hookgate_inbox \
                 WHERE state = 0 AND next_at <= $3 AND provider = ANY($4) \
                 ORDER BY next_at LIMIT $5 FOR UPDATE SKIP LOCKED), \
                 expired AS (SELECT id, next_at FROM hookgate_inbox \
                 WHERE state = 1 AND next_at <= $3 AND provider = ANY($4) \
                 ORDER BY next_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 UPDATE hookgate_inbox SET state = 1, attempts = attempts + 1, next_at = $1, \
                 token = $2, updated_at = $3 WHERE id IN (SELECT id FROM \
                 (SELECT id, next_at FROM pending UNION ALL SELECT id, next_at FROM expired) due \
                 ORDER BY next_at LIMIT $5) RETURNING {COLUMNS}"
            );
            let rows = sqlx::query(&sql)
                .bind(to_millis(now + lease))
                .bind(token())
                .bind(now_ms)
                .bind(&providers)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
            let mut claimed = Claimed::default();
            for row in &rows {
                claimed.events.push(stored_from_row!(row)?);
            }
            if claimed.events.is_empty() {
                // The first row of each state's index range.
                let next: Option<i64> = sqlx::query_scalar(
                    "SELECT LEAST((SELECT MIN(next_at) FROM hookgate_inbox WHERE state = 0 \
                     AND provider = ANY($1)), (SELECT MIN(next_at) FROM hookgate_inbox \
                     WHERE state = 1 AND provider = ANY($1)))",
                )
                .bind(&providers)
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
                claimed.next_due = next.map(super::from_millis);
            }
            claimed.events.sort_by_key(|e| e.id);
            Ok(claimed)
        })
    }

    fn complete(
        &self,
        claim: ClaimToken,
        now: SystemTime,
    ) -> BoxFuture<'_, Result<bool, InboxError>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let completion = Completion {
                claim,
                now: to_millis(now),
                reply,
            };
            let closed = || InboxError::Unavailable("the inbox completer stopped".into());
            self.completer
                .send(completion)
                .await
                .map_err(|_| closed())?;
            answer.await.map_err(|_| closed())?
        })
    }

    fn fail<'a>(
        &'a self,
        claim: ClaimToken,
        error: &'a str,
        retry_at: Option<SystemTime>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, InboxError>> {
        Box::pin(async move {
            let (state, next) = match retry_at {
                Some(at) => (State::Pending, at),
                None => (State::Dead, now),
            };
            let done = sqlx::query(
                "UPDATE hookgate_inbox SET state = $1, next_at = $2, last_error = $3, \
                 updated_at = $4, token = NULL WHERE id = $5 AND state = 1 AND token = $6",
            )
            .bind(state.code())
            .bind(to_millis(next))
            .bind(error)
            .bind(to_millis(now))
            .bind(claim.id)
            .bind(claim.token)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            if retry_at.is_some() {
                // This process's idle workers recompute when the next event is due.
                self.notify.notify_waiters();
            }
            Ok(done.rows_affected() == 1)
        })
    }

    fn list(
        &self,
        state: State,
        after: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, InboxError>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {COLUMNS} FROM hookgate_inbox WHERE state = $1 AND id > $2 \
                 ORDER BY id LIMIT $3"
            );
            let rows = sqlx::query(&sql)
                .bind(state.code())
                .bind(after.unwrap_or(i64::MIN))
                .bind(limit.min(MAX_PAGE) as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
            rows.iter().map(|row| stored_from_row!(row)).collect()
        })
    }

    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>, InboxError>> {
        Box::pin(async move {
            let sql = format!("SELECT {COLUMNS} FROM hookgate_inbox WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
            row.as_ref().map(|row| stored_from_row!(row)).transpose()
        })
    }

    fn retry_dead(&self, id: i64) -> BoxFuture<'_, Result<bool, InboxError>> {
        Box::pin(async move {
            let now = to_millis(SystemTime::now());
            let done = sqlx::query(
                "UPDATE hookgate_inbox SET state = 0, attempts = 0, next_at = $1, \
                 updated_at = $1 WHERE id = $2 AND state = 3",
            )
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            self.wake_all().await;
            Ok(done.rows_affected() == 1)
        })
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let now = to_millis(SystemTime::now());
            let done = sqlx::query(
                "UPDATE hookgate_inbox SET state = 0, attempts = 0, next_at = $1, \
                 updated_at = $1 WHERE state = 3",
            )
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            self.wake_all().await;
            Ok(done.rows_affected())
        })
    }

    fn purge_done(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            // A done event's next_at is its updated_at (`complete` sets both): the bound on
            // next_at makes this one `(state, next_at)` index range of the rows to delete,
            // where `updated_at` alone read every done row, every minute.
            let done = sqlx::query(
                "DELETE FROM hookgate_inbox WHERE state = 2 AND next_at < $1 AND updated_at < $1",
            )
            .bind(to_millis(before))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            Ok(done.rows_affected())
        })
    }

    fn purge_done_of<'a>(
        &'a self,
        providers: &'a [&'static str],
        before: SystemTime,
    ) -> BoxFuture<'a, Result<u64, InboxError>> {
        Box::pin(async move {
            if providers.is_empty() {
                return Ok(0);
            }
            // As `purge_done`: one `(state, next_at)` index range, then the providers.
            let providers: Vec<&str> = providers.to_vec();
            let done = sqlx::query(
                "DELETE FROM hookgate_inbox WHERE state = 2 AND next_at < $1 AND updated_at < $1 \
                 AND provider = ANY($2)",
            )
            .bind(to_millis(before))
            .bind(&providers)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            Ok(done.rows_affected())
        })
    }

    fn purge_dead(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let dead = sql::purge_dead::<Postgres>(to_millis(before))
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
            Ok(dead.rows_affected())
        })
    }

    fn counts(&self) -> BoxFuture<'_, Result<Counts, InboxError>> {
        Box::pin(async move {
            let rows = sqlx::query(sql::COUNT_BY_STATE)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
            sql::counts(
                rows.iter()
                    .map(|row| Ok((row.try_get("state")?, row.try_get("n")?))),
            )
        })
    }

    fn backlog(&self) -> BoxFuture<'_, Result<Backlog, InboxError>> {
        Box::pin(async move {
            let rows = sqlx::query(sql::BACKLOG_BY_STATE)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
            sql::backlog(rows.iter().map(|row| {
                Ok((
                    row.try_get("state")?,
                    row.try_get("n")?,
                    row.try_get("due")?,
                ))
            }))
        })
    }

    fn notifier(&self) -> Arc<Notify> {
        self.notify.clone()
    }
}

impl PostgresInbox {
    /// After an insert committed: wakes this process's workers now, and every replica's with
    /// the announcer's next `NOTIFY` (one already asked for covers this insert too).
    fn announce(&self) {
        self.notify.notify_waiters();
        let _ = self.announce.try_send(());
    }

    /// Tells every replica's workers that events became claimable (best effort).
    async fn wake_all(&self) {
        let _ = sqlx::query("SELECT pg_notify($1, '')")
            .bind(&*self.channel)
            .execute(&self.pool)
            .await;
        self.notify.notify_waiters();
    }
}
