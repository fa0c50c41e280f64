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

/// Opens the inbox named by `url`; a SQLite file must exist (no empty inbox made by a typo).
async fn open(url: &str) -> Result<Box<dyn Inbox>, Error> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(
            PostgresInbox::connect(url).await.map_err(inbox_error)?,
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            Error::usage(format_args!(
                "--inbox `{url}`: use sqlite:PATH or postgres://…"
            ))
        })?;
    if !std::path::Path::new(path).is_file() {
        return Err(Error::usage(format_args!("no inbox file at {path}")));
    }
    Ok(Box::new(
        SqliteInbox::open(path).await.map_err(inbox_error)?,
    ))
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
            let done_before = done_before.map(|t| parse_before(&t, now)).transpose()?;
            let dead_before = dead_before.map(|t| parse_before(&t, now)).transpose()?;
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

/// `7d` (an age: now minus it) or an RFC 3339 time.
fn parse_before(text: &str, now: SystemTime) -> Result<SystemTime, Error> {
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH));
    }
    humantime::parse_rfc3339_weak(text).map_err(|_| {
        Error::usage(format_args!(
            "--done-before `{text}`: an age like 7d or 36h, or a time like 2026-09-01T00:00:00Z"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn before_is_an_age_or_a_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_before("1h", now).unwrap(),
            now - Duration::from_secs(3600)
        );
        assert_eq!(
            parse_before("1970-01-02T00:00:00Z", now).unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(86_400)
        );
        assert!(parse_before("last tuesday", now).is_err());
    }
}
