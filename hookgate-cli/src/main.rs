//! `hookgate`: the command-line companion of the hookgate library, for webhook developers.
//!
//! Sign and verify deliveries exactly as Zernio, Ayrshare and Standard Webhooks senders do,
//! send realistic signed events to a receiver (with retries, concurrent duplicates and key
//! rotation), and register webhooks with Zernio and Ayrshare. `hookgate --help` for the
//! commands; every command has its own `--help` with an example.

/// The exit status table, at the end of every command's help.
macro_rules! exit_codes {
    () => {
        "\
Exit status:
  0  success
  1  verification failed, an answer was not 2xx, or a provider API refused the request
  2  usage error: bad arguments, no secret or API key, unreadable file, unknown event
  3  network error: no answer (connection refused, DNS, timeout)"
    };
}

mod api;
mod catalogue;
mod error;
// The inbox's admin commands need `hookgate::inbox` (branch `inbox`): off until it is merged;
// then this cfg becomes the cargo feature `inbox` (see Cargo.toml).
mod inbox;
mod provider;
mod secret;
mod send;
mod sign;
mod verify;

use std::{
    io::{Read as _, Write as _},
    path::PathBuf,
    process::ExitCode,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use clap::{Parser, Subcommand};

use crate::{
    catalogue::Set,
    error::{EXIT_OK, Error},
    provider::Kind,
    secret::SecretArgs,
    send::Plan,
    sign::{Attempt, Signer},
};

/// Sign, verify and send webhook deliveries; register webhooks with the senders.
#[derive(Parser)]
#[command(name = "hookgate", version, after_help = exit_codes!())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a body as the sender signs it and print the headers it sends.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ZERNIO_WEBHOOK_SECRET=dev-secret hookgate sign zernio --body event.json\n",
        "  hookgate sign standard --secret-file whsec.txt --id msg_1 --timestamp 1614265330 < body.json\n",
        "\nThe headers print as `Name: value` lines, the input of `hookgate verify --headers`.\n",
        "Secrets come from --secret, --secret-file or the provider's variable (ZERNIO_WEBHOOK_SECRET,\n",
        "AYRSHARE_WEBHOOK_SECRET, STANDARD_WEBHOOK_SECRET), comma-separated, current first."
,
        "\n\n",
        exit_codes!()
    ))]
    Sign(SignArgs),
    /// Verify a delivery (body and headers) through hookgate's real pipeline: exit 0 when
    /// valid, 1 with the reason when not.
    #[command(after_help = concat!(
        "Examples:\n",
        "  hookgate sign zernio --body event.json > headers.txt\n",
        "  hookgate verify zernio --body event.json --headers headers.txt\n",
        "  hookgate verify standard --body body.json -H 'webhook-id: msg_1' -H 'webhook-timestamp: 1614265330' \\\n",
        "      -H 'webhook-signature: v1,…' --now 1614265330\n",
        "\nEvery secret of the list is tried (a rotation). Exit status 0: valid (prints the event, its\n",
        "dedup key and whether a typed model took it); 1: refused, with the pipeline's reason."
,
        "\n\n",
        exit_codes!()
    ))]
    Verify(VerifyArgs),
    /// Send a realistic, signed delivery of a catalogued event to a receiver.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ZERNIO_WEBHOOK_SECRET=dev-secret hookgate send zernio post.published\n",
        "  hookgate send zernio post.failed --set post.platforms.0.error='rate limited'\n",
        "  hookgate send ayrshare messages.messageCreated --repeat 3          # the sender retrying\n",
        "  hookgate send zernio message.received --repeat 20 --concurrent 20 # concurrent duplicates\n",
        "  hookgate send ayrshare scheduled --rotate --secret-file new-and-old.txt\n",
        "  hookgate send standard invoice.paid --url http://127.0.0.1:8080/hooks\n",
        "\nThe body is the event's fixture with a fresh id (Zernio `id`, Ayrshare `hookId`, Standard\n",
        "`webhook-id`) and the current timestamp, serialized compactly as the sender does, then the\n",
        "--set overrides. --repeat and --concurrent send that SAME delivery (same body, same key)\n",
        "again: what a sender's retries and concurrent redeliveries look like; a receiver handles it\n",
        "once and answers the others as duplicates. `hookgate events` lists the catalogue."
,
        "\n\n",
        exit_codes!()
    ))]
    Send(SendArgs),
    /// List the catalogued events of a provider (the EVENT names `send` takes).
    #[command(after_help = "Example:\n  hookgate events ayrshare")]
    Events {
        /// The provider (Zernio and Ayrshare have catalogues; Standard Webhooks types are yours).
        provider: Option<Kind>,
    },
    /// Ayrshare's webhook API: register, list, unregister, rotate the signing secret.
    Ayrshare(api::AyrshareArgs),
    /// Zernio's webhook API: create, update, list, test, logs, redeliver.
    Zernio(api::ZernioArgs),
    /// The durable inbox (SQLite file or PostgreSQL): list, show, retry, purge, stats.
    Inbox(inbox::InboxArgs),
}

#[derive(clap::Args)]
struct SignArgs {
    /// The sender.
    provider: Kind,
    /// The body to sign, byte for byte (`-`: standard input).
    #[arg(long, value_name = "FILE", default_value = "-")]
    body: PathBuf,
    #[command(flatten)]
    secret: SecretArgs,
    /// Sign with the current and the previous secret, as Ayrshare and Standard Webhooks
    /// senders do during a rotation (Zernio has no dual signing).
    #[arg(long)]
    rotate: bool,
    /// The `webhook-id` (Standard Webhooks; default: a fresh `msg_…`).
    #[arg(long)]
    id: Option<String>,
    /// Unix seconds for the timestamp header (default: now).
    #[arg(long, allow_hyphen_values = true)]
    timestamp: Option<i64>,
    /// Print the headers as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The sender.
    provider: Kind,
    /// The body, byte for byte (`-`: standard input).
    #[arg(long, value_name = "FILE", default_value = "-")]
    body: PathBuf,
    /// A header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    header: Vec<String>,
    /// A file of `Name: value` lines (`hookgate sign`'s output).
    #[arg(long, value_name = "FILE")]
    headers: Option<PathBuf>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Check timestamps as if it were this Unix time (default: now), e.g. to verify a recorded
    /// Standard Webhooks delivery outside its 5-minute window.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SendArgs {
    /// The sender.
    provider: Kind,
    /// The event (`post.published`, `messages.messageCreated`; any type for Standard Webhooks).
    /// Optional with --body.
    #[arg(required_unless_present = "body")]
    event: Option<String>,
    /// The receiver's URL [default: `http://127.0.0.1:3000/webhooks/PROVIDER`, the receiver
    /// example's route].
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Override a field: a dot path (array items by index) and a JSON value, or a string
    /// (repeatable): `--set post.status=failed`, `--set post.platforms.0.attempts=3`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<Set>,
    /// Send this file's bytes as the body, unchanged (no fresh id, no --set): to replay a
    /// captured delivery.
    #[arg(long, value_name = "FILE", conflicts_with = "set")]
    body: Option<PathBuf>,
    /// Send the same delivery N times in all (a sender's retries).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    repeat: u32,
    /// Keep up to N of those in flight at once (concurrent duplicates).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrent: u32,
    /// Sign with the current and the previous secret, as a rotation does (Ayrshare: both in
    /// the `-V2` list; Standard Webhooks: two `v1,` entries). Zernio has no dual signing.
    #[arg(long)]
    rotate: bool,
    /// Seconds to wait for each answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("hookgate: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args).await,
        Command::Send(args) => send(args).await,
        Command::Events { provider } => {
            events(provider);
            Ok(())
        }
        Command::Ayrshare(args) => api::ayrshare(args).await,
        Command::Zernio(args) => api::zernio(args).await,
        Command::Inbox(args) => inbox::inbox(args).await,
    }
}

/// The bytes of `path`, or of standard input for `-`.
fn read_body(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    /// Sixteen times the library's default body limit: a bigger body is a mistake.
    const LIMIT: u64 = 16 * hookgate::DEFAULT_BODY_LIMIT as u64;
    let mut body = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().take(LIMIT + 1).read_to_end(&mut body)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(LIMIT + 1).read_to_end(&mut body))
    };
    let name = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    read.map_err(|e| Error::usage(format_args!("cannot read {name}: {e}")))?;
    if body.len() as u64 > LIMIT {
        return Err(Error::usage(format_args!(
            "{name} is over {} MiB: too big for a webhook body",
            LIMIT >> 20
        )));
    }
    Ok(body)
}

fn sign(args: SignArgs) -> Result<(), Error> {
    let secrets = args.secret.resolve(args.provider)?;
    let signer = Signer::new(args.provider, &secrets, args.rotate)?;
    let mut payload = catalogue::verbatim(args.provider, read_body(&args.body)?, None);
    if let (Kind::Standard, Some(id)) = (args.provider, args.id) {
        payload.id = Some(id);
    }
    let attempt = Attempt {
        timestamp: args.timestamp.unwrap_or_else(send::unix_now),
        number: 1,
    };
    let headers = signer.headers(&payload, attempt);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let map: serde_json::Map<_, _> = headers
            .into_iter()
            .map(|(name, value)| (name, value.into()))
            .collect();
        writeln!(out, "{}", serde_json::Value::Object(map))
    } else {
        headers
            .iter()
            .try_for_each(|(name, value)| writeln!(out, "{name}: {value}"))
    };
    written.map_err(|e| Error::usage(format_args!("cannot write: {e}")))
}

async fn verify(args: VerifyArgs) -> Result<(), Error> {
    let secrets = args.secret.resolve(args.provider)?;
    let mut lines = args.header.clone();
    if let Some(path) = &args.headers {
        lines.extend(secret::read_file(path)?.lines().map(str::to_owned));
    }
    let headers = verify::parse_headers(lines.iter().map(String::as_str))?;
    let body = read_body(&args.body)?;
    let now = match args.now {
        Some(secs) => UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| Error::usage(format_args!("--now {secs}: out of range")))?,
        None => SystemTime::now(),
    };
    let verdict = verify::verify(args.provider, &secrets, headers, body.into(), now).await;
    match (&verdict, args.json) {
        (Ok(v), true) => println!(
            "{}",
            serde_json::json!({"valid": true, "event": v.event, "key": v.key, "typed": v.typed})
        ),
        (Ok(v), false) => println!(
            "valid: {} event {} (key {}, {})",
            args.provider.name(),
            v.event,
            v.key,
            if v.typed {
                "typed"
            } else {
                "untyped: unknown name or drifted payload"
            }
        ),
        (Err(e @ Error::Failed(_)), true) => {
            println!(
                "{}",
                serde_json::json!({"valid": false, "reason": e.to_string()})
            )
        }
        (Err(_), _) => {}
    }
    verdict.map(drop)
}

async fn send(args: SendArgs) -> Result<(), Error> {
    let secrets = args.secret.resolve(args.provider)?;
    let signer = Signer::new(args.provider, &secrets, args.rotate)?;
    let payload = match &args.body {
        Some(path) => catalogue::verbatim(args.provider, read_body(path)?, args.event.as_deref()),
        None => catalogue::fresh(
            args.provider,
            args.event
                .as_deref()
                .expect("clap requires EVENT without --body"),
            &args.set,
            SystemTime::now(),
        )?,
    };
    let plan = Plan {
        url: args.url.unwrap_or_else(|| args.provider.default_url()),
        repeat: args.repeat,
        concurrent: args.concurrent,
        timeout: Duration::from_secs(args.timeout),
    };
    let summary = send::send(signer, payload, plan).await?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer(&mut out, &summary)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        summary.print(&mut out)
    };
    written.map_err(|e| Error::usage(format_args!("cannot write: {e}")))?;
    summary.verdict()
}

fn events(provider: Option<Kind>) {
    let kinds = match provider {
        Some(kind) => vec![kind],
        None => vec![Kind::Zernio, Kind::Ayrshare, Kind::Standard],
    };
    for kind in kinds {
        let list = catalogue::catalogue(kind);
        if list.is_empty() {
            println!(
                "{}: any type (Standard Webhooks event types are yours)",
                kind.name()
            );
        }
        for fixture in list {
            println!("{} {}", kind.name(), fixture.name);
        }
    }
}
