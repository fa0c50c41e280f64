//! `hookgate inbox …`: the durable inbox's admin API (list, show, retry, purge, stats) on a
//! SQLite file or a PostgreSQL database, through the library's `Inbox` trait.

use std::time::SystemTime;

use clap::{Args, Subcommand, ValueEnum};
use hookgate::inbox::{
    Inbox, InboxError, MAX_PAGE, PostgresInbox, SqliteInbox, State, StoredEvent,
};
use serde_json::{Value, json};

use crate::error::Error;

/// `hookgate inbox …`
#[derive(Args)]
#[command(after_help = concat!("\
The inbox is the receiver's HOOKGATE_INBOX: `sqlite:PATH` (the file must exist) or
`postgres://USER@HOST:PORT/DB`. Dead events are kept until retried here (or by the API).

", exit_codes!()))]
pub(crate) struct InboxArgs {
    #[command(subcommand)]
    command: InboxCommand,
    /// The inbox: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, global = true, env = "HOOKGATE_INBOX", hide_env_values = true)]
    inbox: Option<String>,
    /// Machine output: JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum InboxCommand {
    /// One page of events in a state, by id.
    #[command(after_help = "\
Examples:
  hookgate inbox list --inbox sqlite:inbox.db --state dead
  hookgate inbox list --state pending --after 4200 --limit 100 --json")]
    List {
        /// Which events.
        #[arg(long, value_enum, default_value = "pending")]
        state: StateArg,
        /// Only ids after this one (the last id of the previous page).
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// Page size (at most 1000).
        #[arg(long, default_value_t = 50,
              value_parser = clap::value_parser!(u32).range(1..=MAX_PAGE as i64))]
        limit: u32,
    },
    /// One event: its state, attempts, last error, headers (signatures redacted) and body.
    #[command(after_help = "Example:\n  hookgate inbox show 4217 --inbox sqlite:inbox.db")]
    Show {
        /// The event's id.
        id: i64,
    },
    /// Make a dead event (or every dead event) pending again, due now, with fresh attempts.
    #[command(after_help = "\
Examples:
  hookgate inbox retry 4217 --inbox sqlite:inbox.db
  hookgate inbox retry --all-dead")]
    Retry {
        /// The dead event's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        /// Every dead event.
        #[arg(long)]
        all_dead: bool,
    },
    /// Delete done events last settled before a time, dead events that died before a time, or
    /// both (prints how many in all). Their dedup memory goes with them: a redelivery after
    /// that is handled again. Nothing else deletes a dead event.
    #[command(after_help = "\
Examples:
  hookgate inbox purge --done-before 7d            # settled more than 7 days ago
  hookgate inbox purge --done-before 2026-09-01T00:00:00Z
  hookgate inbox purge --dead-before 30d           # dead for more than 30 days")]
    Purge {
        /// Done events settled before this: an age (`7d`, `36h`) or an RFC 3339 time.
        #[arg(long, value_name = "AGE|TIME", required_unless_present = "dead_before")]
        done_before: Option<String>,
        /// Dead events that died before this: an age (`30d`) or an RFC 3339 time.
        #[arg(long, value_name = "AGE|TIME")]
        dead_before: Option<String>,
    },
    /// Events per state.
    #[command(
        after_help = "Example:\n  hookgate inbox stats --inbox postgres://postgres@127.0.0.1:5432/app --json"
    )]
    Stats,
}

/// The states, as the command line spells them.
#[derive(Clone, Copy, ValueEnum)]
enum StateArg {
    Pending,
    Running,
    Done,
    Dead,
}

impl From<StateArg> for State {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Pending => State::Pending,
            StateArg::Running => State::Running,
            StateArg::Done => State::Done,
            StateArg::Dead => State::Dead,
        }
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Pending => "pending",
        State::Running => "running",
        State::Done => "done",
        State::Dead => "dead",
        _ => "other",
    }
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn inbox_error(error: InboxError) -> Error {
    match error {
        InboxError::Unavailable(_) => Error::Network(error.to_string()),
        other => Error::Failed(other.to_string()),
    }
}

/// Opens the inbox named by `url`. It must be one already: opening creates the inbox's
/// tables (and turns a SQLite file to WAL), so a typo must not make an empty inbox, nor one
/// inside another application's database.
async fn open(url: &str) -> Result<Box<dyn Inbox>, Error> {
    use sqlx::Connection as _;
    const HAS_TABLE: &str = "SELECT COUNT(*) FROM information_schema.tables \
                             WHERE table_name = 'hookgate_inbox' \
                             AND table_schema = ANY(current_schemas(false))";
    let not_an_inbox = || {
        Error::usage(format_args!(
            "--inbox {}: not a hookgate inbox (no hookgate_inbox table)",
            without_password(url)
        ))
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut connection = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| Error::Network(format!("{}: {e}", without_password(url))))?;
        let tables: i64 = sqlx::query_scalar(HAS_TABLE)
            .fetch_one(&mut connection)
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        let _ = connection.close().await;
        if tables == 0 {
            return Err(not_an_inbox());
        }
        return Ok(Box::new(
            PostgresInbox::connect(url).await.map_err(inbox_error)?,
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            Error::usage(format_args!(
                "--inbox {}: use sqlite:PATH or postgres://…",
                without_password(url)
            ))
        })?;
    if !std::path::Path::new(path).is_file() {
        return Err(Error::usage(format_args!("no inbox file at {path}")));
    }
    // Read-only: looking changes nothing in a file that turns out not to be an inbox.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let tables: i64 = match sqlx::SqliteConnection::connect_with(&options).await {
        Ok(mut connection) => {
            let tables = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'hookgate_inbox'",
            )
            .fetch_one(&mut connection)
            .await
            .unwrap_or(0);
            let _ = connection.close().await;
            tables
        }
        Err(_) => 0,
    };
    if tables == 0 {
        return Err(not_an_inbox());
    }
    Ok(Box::new(
        SqliteInbox::open(path).await.map_err(inbox_error)?,
    ))
}

/// `url` without a password (`postgres://user:secret@host` → `postgres://user:***@host`),
/// for messages.
fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
        && !userinfo.contains('/')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

fn summary(event: &StoredEvent) -> Value {
    json!({
        "id": event.id,
        "state": state_name(event.state),
        "attempts": event.attempts,
        "provider": event.event.provider,
        "event": event.event.event,
        "key": event.event.key,
        "tenant": event.event.tenant,
        "received_at": time(event.event.received_at),
        "next_at": time(event.next_at),
        "last_error": event.last_error,
    })
}

/// `hookgate inbox …`
pub(crate) async fn inbox(args: InboxArgs) -> Result<(), Error> {
    let url = args
        .inbox
        .ok_or_else(|| Error::usage("which inbox? --inbox sqlite:PATH or HOOKGATE_INBOX"))?;
    let inbox = open(&url).await?;
    match args.command {
        InboxCommand::List {
            state,
            after,
            limit,
        } => {
            let page = inbox
                .list(state.into(), after, limit as usize)
                .await
                .map_err(inbox_error)?;
            if args.json {
                println!("{}", Value::Array(page.iter().map(summary).collect()));
            } else {
                println!(
                    "{:>8}  {:<7} {:>8}  {:<9} {:<32} {:<38} next/settled",
                    "id", "state", "attempts", "provider", "event", "key"
                );
                for event in &page {
                    println!(
                        "{:>8}  {:<7} {:>8}  {:<9} {:<32} {:<38} {}{}",
                        event.id,
                        state_name(event.state),
                        event.attempts,
                        event.event.provider,
                        event.event.event,
                        event.event.key,
                        time(event.next_at),
                        event
                            .last_error
                            .as_deref()
                            .map(|e| format!("  error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            if page.len() == limit as usize {
                let last = page.last().map_or(0, |e| e.id);
                eprintln!("hookgate: more may follow: --after {last}");
            }
        }
        InboxCommand::Show { id } => {
            let event = inbox
                .get(id)
                .await
                .map_err(inbox_error)?
                .ok_or_else(|| Error::Failed(format!("no event with id {id}")))?;
            let mut value = summary(&event);
            let headers: serde_json::Map<String, Value> = event
                .event
                .headers
                .iter()
                .map(|(name, v)| {
                    (
                        name.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
                    )
                })
                .collect();
            value["headers"] = headers.into();
            value["body"] = serde_json::from_slice(&event.event.raw).unwrap_or_else(|_| {
                String::from_utf8_lossy(&event.event.raw)
                    .into_owned()
                    .into()
            });
            if args.json {
                println!("{value}");
            } else {
                println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
            }
        }
        InboxCommand::Retry { id, all_dead } => {
            let count = match id {
                Some(id) if !all_dead => {
                    if !inbox.retry_dead(id).await.map_err(inbox_error)? {
                        return Err(Error::Failed(format!("no dead event with id {id}")));
                    }
                    1
                }
                _ => inbox.retry_all_dead().await.map_err(inbox_error)?,
            };
            report(args.json, "retried", count);
        }
        InboxCommand::Purge {
            done_before,
            dead_before,
        } => {
            let now = SystemTime::now();
            // Both parsed before anything is deleted: a typo in one deletes nothing.
            let done_before = done_before
                .map(|t| parse_before("--done-before", &t, now))
                .transpose()?;
            let dead_before = dead_before
                .map(|t| parse_before("--dead-before", &t, now))
                .transpose()?;
            let mut count = 0;
            if let Some(before) = done_before {
                count += inbox.purge_done(before).await.map_err(inbox_error)?;
            }
            if let Some(before) = dead_before {
                count += inbox.purge_dead(before).await.map_err(inbox_error)?;
            }
            report(args.json, "purged", count);
        }
        InboxCommand::Stats => {
            let counts = inbox.counts().await.map_err(inbox_error)?;
            if args.json {
                println!(
                    "{}",
                    json!({"pending": counts.pending, "running": counts.running,
                           "done": counts.done, "dead": counts.dead})
                );
            } else {
                println!(
                    "pending {}\nrunning {}\ndone    {}\ndead    {}",
                    counts.pending, counts.running, counts.done, counts.dead
                );
            }
        }
    }
    Ok(())
}

fn report(json: bool, what: &str, count: u64) {
    if json {
        println!("{}", json!({ what: count }));
    } else {
        println!("{what} {count}");
    }
}

/// `7d` (an age: now minus it) or an RFC 3339 time, given to `flag`; not in the future (a
/// purge "before" a future time would delete what it means to keep, the events settled in the
/// last moments included).
fn parse_before(flag: &str, text: &str, now: SystemTime) -> Result<SystemTime, Error> {
    let before = match humantime::parse_duration(text) {
        Ok(age) => now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(text).map_err(|_| {
            Error::usage(format_args!(
                "{flag} `{text}`: an age like 7d or 36h, or a time like 2026-09-01T00:00:00Z"
            ))
        })?,
    };
    if before > now {
        return Err(Error::usage(format_args!(
            "{flag} `{text}` is in the future: that would purge everything up to now"
        )));
    }
    Ok(before)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn before_is_an_age_or_a_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let before = |text| parse_before("--done-before", text, now);
        assert_eq!(before("1h").unwrap(), now - Duration::from_secs(3600));
        assert_eq!(
            before("1970-01-02T00:00:00Z").unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(86_400)
        );
        assert!(before("last tuesday").is_err());
        // A time after now is refused, with the flag's name.
        let future = parse_before("--dead-before", "2099-01-01T00:00:00Z", now).unwrap_err();
        assert!(future.to_string().contains("--dead-before"), "{future}");
        assert!(future.to_string().contains("in the future"), "{future}");
    }
}
