//! [`SqliteInbox`]: the embedded inbox, one SQLite file.

use std::{
    fmt,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use sqlx::{
    Row as _,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{
    Backlog, ClaimToken, Claimed, Counts, DEFAULT_MAX_PENDING, Inbox, InboxError, Inserted,
    MAX_PAGE, NewEvent, State, StoredEvent,
    sql::{self, COLUMNS, Shared, placeholders, stored_from_row, token, unavailable},
    to_millis,
};
use crate::future::BoxFuture;

/// How SQLite syncs the write-ahead log, and so what an acknowledged delivery survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous = FULL` (the default): every commit is fsynced before the answer, so an
    /// acknowledged delivery survives a crash, a SIGKILL and a power loss.
    #[default]
    Full,
    /// `synchronous = NORMAL` in WAL mode: commits reach the OS before the answer (a crash or
    /// SIGKILL loses nothing), the WAL is fsynced at checkpoints only, so a power loss may lose
    /// the last transactions. Faster on slow disks.
    Normal,
}

/// Versioned migrations: step `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE hookgate_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    tenant TEXT,
    key TEXT NOT NULL,
    key_is_body_hash INTEGER NOT NULL,
    event TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    sender_attempt INTEGER,
    delivery_id TEXT,
    headers BLOB NOT NULL,
    body BLOB NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    token INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX hookgate_inbox_due ON hookgate_inbox (state, next_at);
"#];

/// A durable inbox in one SQLite file (WAL), created when absent; several processes may open
/// it, though one is the usual case (use [`PostgresInbox`](super::PostgresInbox) for
/// replicas). Cheap to clone: clones share the connection pool.
///
/// Durability: see [`Synchronous`] (default `FULL`: every acknowledged delivery is on disk).
/// Bounded: at most [`max_pending`](Self::max_pending) pending or running events (default
/// 100 000); past it, new deliveries are answered 503.
#[derive(Clone)]
pub struct SqliteInbox {
    pool: SqlitePool,
    notify: Arc<Notify>,
    max_pending: Arc<AtomicU64>,
    writer: mpsc::Sender<Write>,
}

/// One insert waiting for the writer's next transaction.
struct Write {
    event: NewEvent,
    reply: oneshot::Sender<Result<Inserted, InboxError>>,
}

/// The most inserts one transaction (one fsync) commits.
const BATCH: usize = 256;

impl fmt::Debug for SqliteInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteInbox")
            .field("max_pending", &self.max_pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqliteInbox {
    /// Opens (or creates) the inbox in the file at `path`, `synchronous = FULL`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        Self::open_with(path, Synchronous::Full).await
    }

    /// Opens (or creates) the inbox in the file at `path` with the given sync setting.
    pub async fn open_with(
        path: impl AsRef<Path>,
        synchronous: Synchronous,
    ) -> Result<Self, InboxError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(5));
        Self::connect(options).await
    }

    /// Opens the inbox named by a URL such as `sqlite:PATH` (`sqlite://PATH` too).
    pub async fn open_url(url: &str) -> Result<Self, InboxError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| InboxError::Corrupt(format!("not a sqlite: URL: {url}")))?;
        Self::open(path).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, InboxError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        migrate(&pool).await?;
        let notify = Arc::new(Notify::new());
        let max_pending = Arc::new(AtomicU64::new(DEFAULT_MAX_PENDING));
        // Bounded: at most this many deliveries wait for the writer (their requests wait too).
        let (writer, queue) = mpsc::channel(4 * BATCH);
        tokio::spawn(write_loop(
            pool.clone(),
            queue,
            max_pending.clone(),
            notify.clone(),
        ));
        Ok(Self {
            pool,
            notify,
            max_pending,
            writer,
        })
    }

    /// At most this many pending or running events (default 100 000); new deliveries past it
    /// are refused with 503 (duplicates are still answered 200). Shared by the clones.
    pub fn max_pending(self, max: u64) -> Self {
        self.max_pending.store(max, Ordering::Relaxed);
        self
    }
}

/// The single writer of inserts: each transaction takes every insert waiting (up to
/// [`BATCH`]), so concurrent deliveries share one commit and one fsync (group commit); each is
/// answered only after that commit.
async fn write_loop(
    pool: SqlitePool,
    mut queue: mpsc::Receiver<Write>,
    max_pending: Arc<AtomicU64>,
    notify: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    // An upper bound of the pending count: recounted when it could reach the maximum, and at
    // least every second (workers and other processes change the true count).
    let mut pending: Option<(u64, std::time::Instant)> = None;
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let max = max_pending.load(Ordering::Relaxed);
        match write_batch(&pool, &batch, max, &mut pending).await {
            Ok(outcomes) => {
                if outcomes.iter().any(|o| matches!(o, Ok(Inserted::New))) {
                    notify.notify_waiters();
                }
                for (write, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = write.reply.send(outcome);
                }
            }
            Err(error) => {
                pending = None;
                let error = Arc::new(error);
                for write in batch.drain(..) {
                    let _ = write
                        .reply
                        .send(Err(InboxError::Unavailable(Box::new(Shared(
                            error.clone(),
                        )))));
                }
            }
        }
    }
}

async fn write_batch(
    pool: &SqlitePool,
    batch: &[Write],
    max: u64,
    pending: &mut Option<(u64, std::time::Instant)>,
) -> Result<Vec<Result<Inserted, InboxError>>, sqlx::Error> {
    let now = to_millis(SystemTime::now());
    // A write transaction from its first statement (no busy upgrade of a read).
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let stale = match *pending {
        Some((count, at)) => {
            count + batch.len() as u64 > max || at.elapsed() >= Duration::from_secs(1)
        }
        None => true,
    };
    let mut count = match *pending {
        Some((count, _)) if !stale => count,
        _ => {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM hookgate_inbox WHERE state IN (0, 1)")
                    .fetch_one(&mut *tx)
                    .await?;
            *pending = Some((n as u64, std::time::Instant::now()));
            n as u64
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for Write { event, .. } in batch {
        if count >= max {
            let there: Option<i64> =
                sqlx::query_scalar("SELECT id FROM hookgate_inbox WHERE dedup = ?")
                    .bind(&event.dedup)
                    .fetch_optional(&mut *tx)
                    .await?;
            outcomes.push(match there {
                Some(_) => Ok(Inserted::Duplicate),
                None => Err(InboxError::Full { pending: count }),
            });
            continue;
        }
        let inserted = sql::insert::<sqlx::Sqlite>(event, now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            count += 1;
            outcomes.push(Ok(Inserted::New));
        } else {
            outcomes.push(Ok(Inserted::Duplicate));
        }
    }
    tx.commit().await?;
    if let Some((cached, _)) = pending {
        *cached = count;
    }
    Ok(outcomes)
}

async fn migrate(pool: &SqlitePool) -> Result<(), InboxError> {
    let mut conn = pool.acquire().await.map_err(unavailable)?;
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    let result = async {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS hookgate_inbox_migrations (version INTEGER PRIMARY KEY)",
        )
        .execute(&mut *conn)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM hookgate_inbox_migrations")
                .fetch_one(&mut *conn)
                .await?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            sqlx::raw_sql(step).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO hookgate_inbox_migrations (version) VALUES (?)")
                .bind(i as i64 + 1)
                .execute(&mut *conn)
                .await?;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::raw_sql(end)
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    result.map_err(unavailable)
}

impl Inbox for SqliteInbox {
    fn insert<'a>(&'a self, event: &'a NewEvent) -> BoxFuture<'a, Result<Inserted, InboxError>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let write = Write {
                event: event.clone(),
                reply,
            };
            let closed = || InboxError::Unavailable("the inbox writer stopped".into());
            self.writer.send(write).await.map_err(|_| closed())?;
            answer.await.map_err(|_| closed())?
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
            let until = to_millis(now + lease);
            let list = placeholders(providers.len(), None);
            // Running events keep their lease end in next_at: one index range finds both.
            let sql = format!(
                "UPDATE hookgate_inbox SET state = 1, attempts = attempts + 1, next_at = ?, \
                 token = ?, updated_at = ? WHERE id IN (SELECT id FROM hookgate_inbox \
                 WHERE state IN (0, 1) AND next_at <= ? AND provider IN ({list}) \
                 ORDER BY next_at LIMIT ?) RETURNING {COLUMNS}"
            );
            let mut query = sqlx::query(&sql)
                .bind(until)
                .bind(token())
                .bind(now_ms)
                .bind(now_ms);
            for provider in providers {
                query = query.bind(*provider);
            }
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(unavailable)?;
            let rows = query
                .bind(limit as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(unavailable)?;
            let mut claimed = Claimed::default();
            for row in &rows {
                claimed.events.push(stored_from_row!(row)?);
            }
            if claimed.events.is_empty() {
                let sql = format!(
                    "SELECT MIN(next_at) FROM hookgate_inbox WHERE state IN (0, 1) \
                     AND provider IN ({list})"
                );
                let mut query = sqlx::query_scalar::<_, Option<i64>>(&sql);
                for provider in providers {
                    query = query.bind(*provider);
                }
                let next: Option<i64> = query.fetch_one(&mut *tx).await.map_err(unavailable)?;
                claimed.next_due = next.map(super::from_millis);
            }
            tx.commit().await.map_err(unavailable)?;
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
            let done = sqlx::query(
                "UPDATE hookgate_inbox SET state = 2, next_at = ?, updated_at = ?, token = NULL \
                 WHERE id = ? AND state = 1 AND token = ?",
            )
            .bind(to_millis(now))
            .bind(to_millis(now))
            .bind(claim.id)
            .bind(claim.token)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            Ok(done.rows_affected() == 1)
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
                "UPDATE hookgate_inbox SET state = ?, next_at = ?, last_error = ?, \
                 updated_at = ?, token = NULL WHERE id = ? AND state = 1 AND token = ?",
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
                "SELECT {COLUMNS} FROM hookgate_inbox WHERE state = ? AND id > ? \
                 ORDER BY id LIMIT ?"
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
            let sql = format!("SELECT {COLUMNS} FROM hookgate_inbox WHERE id = ?");
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
                "UPDATE hookgate_inbox SET state = 0, attempts = 0, next_at = ?, updated_at = ? \
                 WHERE id = ? AND state = 3",
            )
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            self.notify.notify_waiters();
            Ok(done.rows_affected() == 1)
        })
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let now = to_millis(SystemTime::now());
            let done = sqlx::query(
                "UPDATE hookgate_inbox SET state = 0, attempts = 0, next_at = ?, updated_at = ? \
                 WHERE state = 3",
            )
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
            self.notify.notify_waiters();
            Ok(done.rows_affected())
        })
    }

    fn purge_done(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM hookgate_inbox WHERE state = 2 AND updated_at < ?")
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
            let sql = format!(
                "DELETE FROM hookgate_inbox WHERE state = 2 AND updated_at < ? AND provider IN ({})",
                placeholders(providers.len(), None)
            );
            let mut query = sqlx::query(&sql).bind(to_millis(before));
            for provider in providers {
                query = query.bind(*provider);
            }
            let done = query.execute(&self.pool).await.map_err(unavailable)?;
            Ok(done.rows_affected())
        })
    }

    fn purge_dead(&self, before: SystemTime) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(async move {
            let dead = sql::purge_dead::<sqlx::Sqlite>(to_millis(before))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored event of `provider`, as the pipeline would store it.
    fn new_event(provider: &'static str, key: &str) -> NewEvent {
        NewEvent {
            dedup: format!("{provider}:{key}"),
            provider: provider.into(),
            tenant: None,
            key: key.to_owned(),
            key_is_body_hash: false,
            event: "webhook.test".to_owned(),
            received_at: SystemTime::now(),
            sender_attempt: None,
            delivery_id: None,
            headers: http::HeaderMap::new(),
            raw: bytes::Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn a_pool_purges_the_done_events_of_its_own_providers_only() {
        // Two pools on one inbox, for two providers whose dedup TTLs differ: the one with the
        // shorter TTL must not delete the other's dedup memory.
        let dir = std::env::temp_dir().join(format!("hookgate-purge-of-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let inbox = SqliteInbox::open(dir.join("inbox.db")).await.unwrap();
        for (provider, key) in [("zernio", "z_1"), ("standard", "s_1")] {
            inbox.insert(&new_event(provider, key)).await.unwrap();
        }
        let now = SystemTime::now();
        let claimed = inbox
            .claim(&["zernio", "standard"], 10, Duration::from_secs(60), now)
            .await
            .unwrap();
        assert_eq!(claimed.events.len(), 2);
        for event in &claimed.events {
            assert!(inbox.complete(event.claim_token(), now).await.unwrap());
        }
        let after = now + Duration::from_secs(1);
        assert_eq!(inbox.purge_done_of(&["zernio"], after).await.unwrap(), 1);
        let left = inbox.list(State::Done, None, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].event.key, "s_1");
        assert_eq!(inbox.purge_done_of(&[], after).await.unwrap(), 0);
        // The operator's purge takes every provider's.
        assert_eq!(inbox.purge_done(after).await.unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
