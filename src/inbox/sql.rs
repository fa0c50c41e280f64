//! What both SQL engines share: the column list and reading a row back.

/// The columns every query that returns events selects, in this order.
pub(super) const COLUMNS: &str = "id, dedup, provider, tenant, key, key_is_body_hash, event, \
    received_at, sender_attempt, delivery_id, headers, body, state, attempts, next_at, token, \
    last_error";

/// Builds a [`StoredEvent`](super::StoredEvent) from a row selected with [`COLUMNS`].
macro_rules! stored_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        (|| -> Result<$crate::inbox::StoredEvent, $crate::inbox::InboxError> {
            let err = |e: sqlx::Error| $crate::inbox::InboxError::Corrupt(e.to_string());
            let headers: Vec<u8> = row.try_get("headers").map_err(err)?;
            let body: Vec<u8> = row.try_get("body").map_err(err)?;
            let sender_attempt: Option<i64> = row.try_get("sender_attempt").map_err(err)?;
            let attempts: i64 = row.try_get("attempts").map_err(err)?;
            let token: Option<i64> = row.try_get("token").map_err(err)?;
            let provider: String = row.try_get("provider").map_err(err)?;
            Ok($crate::inbox::StoredEvent {
                id: row.try_get("id").map_err(err)?,
                state: $crate::inbox::State::from_code(row.try_get("state").map_err(err)?)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_at: $crate::inbox::from_millis(row.try_get("next_at").map_err(err)?),
                last_error: row.try_get("last_error").map_err(err)?,
                token: token.unwrap_or(0),
                event: $crate::inbox::NewEvent {
                    dedup: row.try_get("dedup").map_err(err)?,
                    provider: provider.into(),
                    tenant: row.try_get("tenant").map_err(err)?,
                    key: row.try_get("key").map_err(err)?,
                    key_is_body_hash: row.try_get("key_is_body_hash").map_err(err)?,
                    event: row.try_get("event").map_err(err)?,
                    received_at: $crate::inbox::from_millis(
                        row.try_get("received_at").map_err(err)?,
                    ),
                    sender_attempt: sender_attempt.and_then(|a| u32::try_from(a).ok()),
                    delivery_id: row.try_get("delivery_id").map_err(err)?,
                    headers: $crate::inbox::decode_headers(&headers)?,
                    raw: bytes::Bytes::from(body),
                },
            })
        })()
    }};
}
pub(super) use stored_from_row;

/// Counts events per state; its rows are `(state, n)`.
pub(super) const COUNT_BY_STATE: &str =
    "SELECT state, COUNT(*) AS n FROM hookgate_inbox GROUP BY state";

/// [`Counts`](super::Counts) from the `(state, n)` rows of [`COUNT_BY_STATE`].
pub(super) fn counts(
    rows: impl IntoIterator<Item = Result<(i64, i64), sqlx::Error>>,
) -> Result<super::Counts, super::InboxError> {
    let mut counts = super::Counts::default();
    for row in rows {
        let (state, n) = row.map_err(unavailable)?;
        let slot = match super::State::from_code(state)? {
            super::State::Pending => &mut counts.pending,
            super::State::Running => &mut counts.running,
            super::State::Done => &mut counts.done,
            super::State::Dead => &mut counts.dead,
        };
        *slot = u64::try_from(n).unwrap_or(0);
    }
    Ok(counts)
}

/// The backlog of [`Inbox::backlog`](super::Inbox::backlog): count and earliest `next_at` of
/// the pending, running and dead events, by state, through the `(state, next_at)` index (the
/// done rows are never read); its rows are `(state, n, due)`.
pub(super) const BACKLOG_BY_STATE: &str = "SELECT state, COUNT(*) AS n, MIN(next_at) AS due \
    FROM hookgate_inbox WHERE state IN (0, 1, 3) GROUP BY state";

/// [`Backlog`](super::Backlog) from the `(state, n, due)` rows of [`BACKLOG_BY_STATE`].
pub(super) fn backlog(
    rows: impl IntoIterator<Item = Result<(i64, i64, Option<i64>), sqlx::Error>>,
) -> Result<super::Backlog, super::InboxError> {
    let mut backlog = super::Backlog::default();
    for row in rows {
        let (state, n, due) = row.map_err(unavailable)?;
        let n = u64::try_from(n).unwrap_or(0);
        match super::State::from_code(state)? {
            super::State::Pending => backlog.pending = n,
            super::State::Running => backlog.running = n,
            super::State::Dead => backlog.dead = n,
            super::State::Done => continue,
        }
        if state != super::State::Dead.code()
            && let Some(due) = due.map(super::from_millis)
        {
            backlog.oldest_due = Some(backlog.oldest_due.map_or(due, |d| d.min(due)));
        }
    }
    Ok(backlog)
}

/// A database error as the inbox's.
pub(super) fn unavailable(error: sqlx::Error) -> super::InboxError {
    super::InboxError::Unavailable(Box::new(error))
}

#[cfg_attr(not(feature = "inbox-sqlite"), allow(dead_code))]
/// `?, ?, ?` (SQLite) or `$from, $from+1, ...` (PostgreSQL) for `n` values.
pub(super) fn placeholders(n: usize, numbered_from: Option<usize>) -> String {
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        match numbered_from {
            Some(from) => {
                out.push('$');
                out.push_str(&(from + i).to_string());
            }
            None => out.push('?'),
        }
    }
    out
}

/// A random claim token, never 0 (0 reads back as "no token").
pub(super) fn token() -> i64 {
    loop {
        let token = fastrand::i64(..);
        if token != 0 {
            return token;
        }
    }
}

/// The insert-if-absent of one event, pending and due at `now`: one statement, no row
/// affected for a duplicate. Its `$n` placeholders are numbered parameters to both engines.
pub(super) fn insert<'q, DB>(
    event: &'q super::NewEvent,
    now: i64,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO hookgate_inbox (dedup, provider, tenant, key, key_is_body_hash, event, \
         received_at, sender_attempt, delivery_id, headers, body, state, attempts, next_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12, $12) \
         ON CONFLICT (dedup) DO NOTHING",
    )
    .bind(event.dedup.as_str())
    .bind(&*event.provider)
    .bind(event.tenant.as_deref())
    .bind(event.key.as_str())
    .bind(event.key_is_body_hash)
    .bind(event.event.as_str())
    .bind(super::to_millis(event.received_at))
    .bind(event.sender_attempt.map(i64::from))
    .bind(event.delivery_id.as_deref())
    .bind(super::encode_headers(&event.headers))
    .bind(&event.raw[..])
    .bind(now)
}

/// The deletion of the dead events that died before `before` (in milliseconds): a dead
/// event's `next_at` is the time it died, as its `updated_at` (`fail` sets both), so the bound
/// on `next_at` makes it one `(state, next_at)` index range. Its `$1` is a numbered parameter
/// to both engines.
pub(super) fn purge_dead<'q, DB>(
    before: i64,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query("DELETE FROM hookgate_inbox WHERE state = 3 AND next_at < $1 AND updated_at < $1")
        .bind(before)
}

/// One database error reported to every operation of a failed batch (inserts, completions).
#[derive(Debug)]
pub(super) struct Shared(pub(super) std::sync::Arc<sqlx::Error>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {}
