//! The soak run: millions of distinct and duplicate signed deliveries through the receiver
//! example at a steady rate, with its resident memory and open file descriptors sampled over
//! time. A bounded receiver levels off: the in-memory dedup store stops growing at its capacity
//! (about a million keys), the inbox's pending events stay under its bound, buffers are reused,
//! and the keep-alive connections keep the descriptors flat.
//!
//! ```text
//! cargo run --release --example soak --all-features -- [--mode inline|sqlite|postgres|both|all]
//!     [--deliveries 2500000] [--rate 5000] [--duplicates 20] [--sample-secs 10]
//!     [--connections 16] [--workers 8] [--postgres postgres://postgres@127.0.0.1:5432/test]
//!     [--vacuum-secs 60] [--skip-build]
//! ```
//!
//! It builds `target/release/examples/receiver` (`--all-features`), then for each mode starts
//! it (`HOOKGATE_QUIET=1`, `RUST_LOG=hookgate=warn`):
//!
//! - `inline`: handlers run inline, dedup in the in-memory store (capacity 2^20 keys);
//! - `sqlite`: `HOOKGATE_INBOX=sqlite:<temp file>` (WAL, `synchronous = FULL`): every delivery is
//!   stored, answered, then handled by the receiver's workers; the inbox is the dedup;
//! - `postgres`: `HOOKGATE_INBOX=<--postgres URL's server>/hookgate_soak_<pid>`, a database
//!   created for the run (through the `--postgres` database) and dropped after it, so runs never
//!   see each other's events; otherwise as `sqlite`.
//!
//! `both` is `inline` then `sqlite` (the default), `all` is the three. `--workers` sets the
//! receiver's `HOOKGATE_WORKERS` (its default, 8, when absent). `--vacuum-secs` (PostgreSQL)
//! runs `VACUUM hookgate_inbox` that often from the driver, standing in for autovacuum on a
//! server that has it off (the driver prints the server's `autovacuum` setting): every claim
//! and completion leaves a dead row version, and a queue table nobody vacuums makes each claim
//! step over all of them.
//!
//! `--connections` keep-alive connections send `--deliveries` signed 1 KiB Zernio
//! `webhook.test` deliveries, paced to `--rate` per second overall (delivery `i` is sent no
//! earlier than `i / rate` seconds after the start). `--duplicates` percent of them (chosen by a
//! fixed hash of `i`) resend an earlier delivery byte for byte (100 to 1099 deliveries back, so
//! its first copy has been answered): the receiver must answer `duplicate`. Every
//! `--sample-secs` it prints the elapsed time, deliveries answered, the achieved rate, the
//! receiver's `VmRSS` (from `/proc/<pid>/status`) and open descriptors (the entries of
//! `/proc/<pid>/fd`); with an inbox also its size on disk (SQLite: the database, WAL and
//! shared-memory files; PostgreSQL: `pg_total_relation_size` of the table, its indexes and
//! TOAST), the receiver's pending and oldest-pending-age gauges (its `GET /metrics`) and the
//! rate the workers handled events at (accepted minus pending, per second between samples;
//! PostgreSQL: pending counted in the database, SQLite: the gauge, up to 10 s old).
//! At the end: a Markdown table of the
//! samples and whether memory and descriptors levelled off (the spread of the last third of
//! the samples against the whole run). Answers are judged per event id: each id must be
//! answered as new exactly once over its copies (a resend may overtake its first copy on a
//! stalled connection), `duplicate` only once a copy was; answers other than 2xx are counted
//! by status (a full inbox answers 503). Any of these makes the run exit 1.
//!
//! Linux only (`/proc`). It is an example, not a test: `cargo test` builds it and never runs it.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hookgate::keyring::Keyring;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SECRET: &str = "soak-secret";
const SIZE: usize = 1024;

struct Args {
    modes: Vec<&'static str>,
    deliveries: u64,
    rate: f64,
    duplicates: u64,
    sample: Duration,
    connections: usize,
    workers: Option<usize>,
    postgres: String,
    vacuum: Option<Duration>,
    skip_build: bool,
}

fn args() -> Args {
    let mut out = Args {
        modes: vec!["inline", "sqlite"],
        deliveries: 2_500_000,
        rate: 5000.0,
        duplicates: 20,
        sample: Duration::from_secs(10),
        connections: 16,
        workers: None,
        postgres: "postgres://postgres@127.0.0.1:5432/test".to_owned(),
        vacuum: None,
        skip_build: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--mode" => {
                out.modes = match value().as_str() {
                    "inline" => vec!["inline"],
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["inline", "sqlite"],
                    "all" => vec!["inline", "sqlite", "postgres"],
                    other => panic!("--mode inline|sqlite|postgres|both|all, not {other}"),
                }
            }
            "--deliveries" => out.deliveries = value().parse().expect("--deliveries"),
            "--rate" => out.rate = value().parse().expect("--rate"),
            "--duplicates" => out.duplicates = value().parse().expect("--duplicates"),
            "--sample-secs" => {
                out.sample = Duration::from_secs(value().parse().expect("--sample-secs"))
            }
            "--connections" => out.connections = value().parse().expect("--connections"),
            "--workers" => out.workers = Some(value().parse().expect("--workers")),
            "--postgres" => out.postgres = value(),
            "--vacuum-secs" => {
                out.vacuum = Some(Duration::from_secs(value().parse().expect("--vacuum-secs")))
            }
            "--skip-build" => out.skip_build = true,
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(out.rate > 0.0 && out.duplicates <= 100 && out.connections > 0);
    out
}

/// A fixed 64-bit mix (splitmix64's finalizer): which deliveries are duplicates, and of what.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Delivery `i` resends delivery `source(i)`'s body, or is new (`source(i) == i`).
fn source(i: u64, duplicates: u64) -> u64 {
    let h = mix(i);
    if i >= 1100 && h % 100 < duplicates {
        // An earlier delivery, 100 to 1099 back: at the paced rate its answer is long in.
        source(i - 100 - (h >> 32) % 1000, duplicates)
    } else {
        i
    }
}

/// The signed HTTP request of the delivery whose event id is `soak-{id}`.
fn request(keyring: &Keyring, run: u64, id: u64) -> Vec<u8> {
    let mut body = format!(
        r#"{{"id":"soak-{run}-{id:012}","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z","message":""#
    )
    .into_bytes();
    body.resize(SIZE - 2, b'x');
    body.extend_from_slice(b"\"}");
    let tag = keyring.sign(b"", &body).to_hex();
    let mut request = format!(
        "POST /webhooks/zernio HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         x-zernio-signature: {tag}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// Reads one response; returns its status and whether its body says `duplicate`.
async fn response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    let (status, body) = response_body(stream, buf).await?;
    Ok((status, body.windows(9).any(|w| w == b"duplicate")))
}

/// Reads one response; returns its status and body.
async fn response_body<'b>(
    stream: &mut TcpStream,
    buf: &'b mut Vec<u8>,
) -> std::io::Result<(u16, &'b [u8])> {
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, &buf[end + 4..end + 4 + length]));
        }
    }
}

/// What the client saw. Judged per event id (a delivery and its resends), so that a resend
/// overtaking its first copy (a stalled connection) is no error: each id must be answered as
/// new (`handled` / `accepted`) exactly once over all its copies, and `duplicate` only when one
/// of its copies was answered as new.
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    /// 2xx answers that were not `duplicate`: one per id when the receiver is right.
    new: AtomicU64,
    /// `duplicate` answers.
    duplicates: AtomicU64,
    /// An id answered as new a second time (the receiver forgot it).
    handled_twice: AtomicU64,
    /// Answers other than 2xx, by status.
    by_status: Vec<AtomicU64>,
    /// Bit `id`: some copy of `id` was answered as new.
    handled: Vec<AtomicU64>,
    /// Bit `id`: some copy of `id` was answered `duplicate`.
    duplicate_seen: Vec<AtomicU64>,
}

fn bits(n: u64) -> Vec<AtomicU64> {
    (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

/// Sets bit `i`; returns whether it was set before.
fn set(bits: &[AtomicU64], i: u64) -> bool {
    let bit = 1 << (i % 64);
    bits[(i / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit != 0
}

impl Tally {
    fn new(deliveries: u64) -> Self {
        Self {
            by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            handled: bits(deliveries),
            duplicate_seen: bits(deliveries),
            ..Self::default()
        }
    }

    fn record(&self, id: u64, status: u16, duplicate: bool) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        if !(200..300).contains(&status) {
            self.by_status[usize::from(status.min(599))].fetch_add(1, Ordering::Relaxed);
        } else if duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            set(&self.duplicate_seen, id);
        } else if set(&self.handled, id) {
            self.handled_twice.fetch_add(1, Ordering::Relaxed);
        } else {
            self.new.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn non_2xx(&self) -> u64 {
        self.by_status
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Ids answered `duplicate` that no copy of was ever answered as new.
    fn false_duplicates(&self) -> u64 {
        self.duplicate_seen
            .iter()
            .zip(&self.handled)
            .map(|(d, h)| (d.load(Ordering::Relaxed) & !h.load(Ordering::Relaxed)).count_ones())
            .map(u64::from)
            .sum()
    }
}

/// One sample of the receiver.
struct Sample {
    at: Duration,
    answered: u64,
    rate: f64,
    rss_kib: u64,
    fds: u64,
    /// The inbox's size on disk (SQLite files, or the PostgreSQL table with its indexes).
    db_bytes: Option<u64>,
    /// Events the workers handled since the start: accepted minus pending (PostgreSQL: counted
    /// in the database; SQLite: the receiver's gauge; `None` without either).
    handled: Option<u64>,
    /// Events handled per second since the previous sample that had the gauge.
    handled_rate: Option<f64>,
    /// The receiver's own gauges (its `GET /metrics`): inbox events pending, and the oldest
    /// pending age in seconds (sampled by its workers every 10 s).
    gauges: Option<(f64, f64)>,
}

/// Reads `hookgate_inbox_depth{state="pending"}` and `hookgate_inbox_oldest_pending_age` from
/// the receiver's `GET /metrics` (on a connection of its own).
async fn inbox_gauges(addr: SocketAddr) -> Option<(f64, f64)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .ok()?;
    let mut buf = Vec::new();
    let (_, body) = response_body(&mut stream, &mut buf).await.ok()?;
    let text = std::str::from_utf8(body).ok()?;
    let value = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    Some((
        value("hookgate_inbox_depth{state=\"pending\"}")?,
        value("hookgate_inbox_oldest_pending_age")?,
    ))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count() as u64)
}

/// The inbox of a run.
enum Store {
    /// A SQLite file in a directory of its own.
    Sqlite { dir: PathBuf, db: PathBuf },
    /// A PostgreSQL database created for the run: `admin` is a pool on the `--postgres`
    /// database (to drop it after), `pool` one on the run's database (to measure it).
    Postgres {
        admin: sqlx::PgPool,
        pool: sqlx::PgPool,
        name: String,
        url: String,
    },
}

impl Store {
    async fn create(mode: &str, postgres: &str) -> Option<Self> {
        match mode {
            "sqlite" => {
                let dir =
                    std::env::temp_dir().join(format!("hookgate-soak-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let db = dir.join("inbox.db");
                Some(Self::Sqlite { dir, db })
            }
            "postgres" => {
                let name = format!("hookgate_soak_{}", std::process::id());
                let admin = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(postgres)
                    .await
                    .expect("--postgres: cannot connect");
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                let base = postgres.rsplit_once('/').map_or(postgres, |(base, _)| base);
                let url = format!("{base}/{name}");
                let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
                    .fetch_one(&admin)
                    .await
                    .unwrap();
                eprintln!("soak: the PostgreSQL server has autovacuum = {autovacuum}");
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("cannot connect to the run's database");
                Some(Self::Postgres {
                    admin,
                    pool,
                    name,
                    url,
                })
            }
            _ => None,
        }
    }

    /// The receiver's `HOOKGATE_INBOX`.
    fn url(&self) -> String {
        match self {
            Self::Sqlite { db, .. } => format!("sqlite:{}", db.display()),
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// The inbox's size on disk, in bytes.
    async fn bytes(&self) -> Option<u64> {
        match self {
            Self::Sqlite { db, .. } => Some(db_bytes(db)),
            Self::Postgres { pool, .. } => {
                // 0 until the receiver's migration created the table.
                let bytes: Option<i64> = sqlx::query_scalar(
                    "SELECT pg_total_relation_size(to_regclass('public.hookgate_inbox'))",
                )
                .fetch_one(pool)
                .await
                .ok()?;
                Some(bytes.unwrap_or(0) as u64)
            }
        }
    }

    /// The events pending or running, counted in the database (PostgreSQL only: exact, where
    /// the receiver's gauge is up to 10 s old).
    async fn pending(&self) -> Option<u64> {
        match self {
            Self::Sqlite { .. } => None,
            Self::Postgres { pool, .. } => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM hookgate_inbox WHERE state = 0 OR state = 1",
                )
                .fetch_one(pool)
                .await
                .ok()?;
                Some(n as u64)
            }
        }
    }

    /// Runs `VACUUM` on the PostgreSQL inbox table every `every`, until the task is aborted.
    fn vacuum(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let Self::Postgres { pool, .. } = self else {
            return None;
        };
        let pool = pool.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let started = Instant::now();
                match sqlx::raw_sql("VACUUM hookgate_inbox").execute(&pool).await {
                    Ok(_) => {
                        eprintln!("soak: VACUUM took {:.1} s", started.elapsed().as_secs_f64())
                    }
                    Err(error) => eprintln!("soak: VACUUM failed: {error}"),
                }
            }
        }))
    }

    /// What the size column is called.
    fn size_label(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "inbox files (MiB)",
            Self::Postgres { .. } => "table + indexes (MiB)",
        }
    }

    async fn remove(self) {
        match self {
            Self::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres {
                admin, pool, name, ..
            } => {
                pool.close().await;
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
            }
        }
    }
}

/// The SQLite inbox's size on disk: the database, its WAL and shared memory.
fn db_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            std::fs::metadata(path).ok().map(|m| m.len())
        })
        .sum()
}

fn spawn_receiver(addr: SocketAddr, inbox: Option<String>, workers: Option<usize>) -> Child {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let exe = format!("{target}/release/examples/receiver");
    let mut command = Command::new(&exe);
    command
        .env("ZERNIO_WEBHOOK_SECRET", SECRET)
        .env("HOOKGATE_ADDR", addr.to_string())
        .env("HOOKGATE_QUIET", "1")
        .env("RUST_LOG", "hookgate=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = inbox {
        command.env("HOOKGATE_INBOX", url);
    }
    if let Some(workers) = workers {
        command.env("HOOKGATE_WORKERS", workers.to_string());
    }
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Sends the deliveries, paced; samples the receiver every `args.sample`.
/// Returns the samples and whether every answer was right.
async fn soak(
    args: &Args,
    mode: &str,
    pid: u32,
    addr: SocketAddr,
    store: Option<&Store>,
) -> (Vec<Sample>, bool) {
    let run = mix(u64::from(std::process::id()) ^ mode.len() as u64) % 1_000_000;
    let keyring = Arc::new(Keyring::new([SECRET]).unwrap());
    let tally = Arc::new(Tally::new(args.deliveries));
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (keyring, tally, next, stop) =
            (keyring.clone(), tally.clone(), next.clone(), stop.clone());
        let (total, rate, duplicates) = (args.deliveries, args.rate, args.duplicates);
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(4096);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || stop.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                let id = source(i, duplicates);
                stream
                    .write_all(&request(&keyring, run, id))
                    .await
                    .expect("write");
                let (status, duplicate) = response(&mut stream, &mut buf).await.expect("read");
                tally.record(id, status, duplicate);
            }
        }));
    }
    let mut samples = Vec::new();
    let mut last = (Duration::ZERO, 0u64);
    let mut last_handled: Option<(Duration, u64)> = None;
    let vacuum = store
        .zip(args.vacuum)
        .and_then(|(s, every)| s.vacuum(every));
    let mut ticker = tokio::time::interval(args.sample);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let at = start.elapsed();
        let answered = tally.answered.load(Ordering::Relaxed);
        let rate = (answered - last.1) as f64 / (at - last.0).as_secs_f64().max(1e-9);
        last = (at, answered);
        let accepted = tally.new.load(Ordering::Relaxed);
        let (gauges, db_bytes, counted) = match store {
            Some(store) => (
                inbox_gauges(addr).await,
                store.bytes().await,
                store.pending().await,
            ),
            None => (None, None, None),
        };
        let pending = counted.or(gauges.map(|(pending, _)| pending as u64));
        let handled = pending.map(|pending| accepted.saturating_sub(pending));
        let handled_rate = match (handled, last_handled) {
            (Some(now), Some((then_at, then))) => {
                Some(now.saturating_sub(then) as f64 / (at - then_at).as_secs_f64().max(1e-9))
            }
            _ => None,
        };
        if let Some(handled) = handled {
            last_handled = Some((at, handled));
        }
        let sample = Sample {
            at,
            answered,
            rate,
            rss_kib: rss_kib(pid),
            fds: fds(pid),
            db_bytes,
            handled,
            handled_rate,
            gauges,
        };
        eprintln!(
            "{mode} {:>6.0} s: {:>9} answered, {:>6.0}/s, RSS {:>7.1} MiB, {:>3} fds{}",
            at.as_secs_f64(),
            answered,
            rate,
            sample.rss_kib as f64 / 1024.0,
            sample.fds,
            sample
                .db_bytes
                .map(|b| format!(", inbox {:.0} MiB", b as f64 / 1048576.0))
                .unwrap_or_default()
                + &sample
                    .gauges
                    .map(|(p, a)| format!(", {p:.0} pending, oldest {a:.1} s"))
                    .unwrap_or_default()
                + &sample
                    .handled_rate
                    .map(|r| format!(", handled {r:.0}/s"))
                    .unwrap_or_default()
        );
        samples.push(sample);
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(vacuum) = vacuum {
        vacuum.abort();
    }
    for task in tasks {
        task.await.expect("a connection failed");
    }
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let refused: Vec<String> = tally
        .by_status
        .iter()
        .enumerate()
        .filter(|(_, c)| c.load(Ordering::Relaxed) > 0)
        .map(|(status, c)| format!("{} x {status}", c.load(Ordering::Relaxed)))
        .collect();
    let false_duplicates = tally.false_duplicates();
    println!(
        "\n{mode}: {} answered in {:.0} s ({:.0}/s): {} new, {} duplicate; {} ids handled twice, \
         {false_duplicates} ids answered duplicate but never handled, {} non-2xx ({})",
        n(&tally.answered),
        start.elapsed().as_secs_f64(),
        n(&tally.answered) as f64 / start.elapsed().as_secs_f64(),
        n(&tally.new),
        n(&tally.duplicates),
        n(&tally.handled_twice),
        tally.non_2xx(),
        refused.join(", "),
    );
    let right = n(&tally.handled_twice) + false_duplicates + tally.non_2xx() == 0;
    (samples, right)
}

/// The samples as a Markdown table (at most about 25 rows), and the levelling-off verdict.
fn report(mode: &str, samples: &[Sample], size_label: Option<&str>) {
    let step = samples.len().div_ceil(24).max(1);
    let inbox = size_label.is_some();
    println!(
        "\n| {mode}: time (s) | answered | rate (/s) | VmRSS (MiB) | open fds |{}",
        match size_label {
            Some(label) =>
                format!(" {label} | pending | oldest pending (s) | handled | handled (/s) |"),
            None => String::new(),
        }
    );
    println!(
        "| ---: | ---: | ---: | ---: | ---: |{}",
        if inbox {
            " ---: | ---: | ---: | ---: | ---: |"
        } else {
            ""
        }
    );
    for (k, s) in samples.iter().enumerate() {
        if k % step != 0 && k + 1 != samples.len() {
            continue;
        }
        println!(
            "| {:.0} | {} | {:.0} | {:.1} | {} |{}",
            s.at.as_secs_f64(),
            s.answered,
            s.rate,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            if inbox {
                let cell = |v: Option<String>| format!(" {} |", v.unwrap_or_default());
                cell(s.db_bytes.map(|b| format!("{:.1}", b as f64 / 1048576.0)))
                    + &cell(s.gauges.map(|(pending, _)| format!("{pending:.0}")))
                    + &cell(s.gauges.map(|(_, age)| format!("{age:.1}")))
                    + &cell(s.handled.map(|h| h.to_string()))
                    + &cell(s.handled_rate.map(|r| format!("{r:.0}")))
            } else {
                String::new()
            }
        );
    }
    let spread = |range: &[Sample], f: fn(&Sample) -> u64| {
        let min = range.iter().map(f).min().unwrap_or(0);
        let max = range.iter().map(f).max().unwrap_or(0);
        (min, max)
    };
    let tail = &samples[samples.len() * 2 / 3..];
    let (rss_min, rss_max) = spread(samples, |s| s.rss_kib);
    let (tail_min, tail_max) = spread(tail, |s| s.rss_kib);
    let (fd_min, fd_max) = spread(samples, |s| s.fds);
    println!(
        "\n{mode}: VmRSS {:.1} to {:.1} MiB over the run, {:.1} to {:.1} MiB over its last third \
         ({} samples, {:.0} s); open fds {fd_min} to {fd_max}",
        rss_min as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        tail_min as f64 / 1024.0,
        tail_max as f64 / 1024.0,
        tail.len(),
        tail.last().map_or(0.0, |s| s.at.as_secs_f64())
            - tail.first().map_or(0.0, |s| s.at.as_secs_f64()),
    );
}

fn main() {
    let args = args();
    if !args.skip_build {
        eprintln!("soak: building the receiver (release, all features)");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--example",
                "receiver",
                "--all-features",
            ])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building the receiver failed");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut wrong = false;
    for mode in &args.modes {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let store = runtime.block_on(Store::create(mode, &args.postgres));
        let mut child = spawn_receiver(addr, store.as_ref().map(Store::url), args.workers);
        eprintln!(
            "soak: {mode}: {} deliveries at {}/s, {}% duplicates, {} connections, receiver pid {}",
            args.deliveries,
            args.rate,
            args.duplicates,
            args.connections,
            child.id()
        );
        let (samples, right) =
            runtime.block_on(soak(&args, mode, child.id(), addr, store.as_ref()));
        wrong |= !right;
        let _ = child.kill();
        let _ = child.wait();
        report(mode, &samples, store.as_ref().map(Store::size_label));
        if let Some(store) = store {
            runtime.block_on(store.remove());
        }
    }
    if wrong {
        eprintln!("soak: wrong answers (see the counts above)");
        std::process::exit(1);
    }
}
