//! The inbox load driver: acknowledgements per second and acknowledgement latency of the
//! receiver example with a SQLite inbox (and optionally PostgreSQL) whose handlers take
//! seconds, against the same receiver running its handlers inline (fast handlers), in the
//! same run, interleaved rounds.
//!
//! ```text
//! cargo run --release --example inbox_load --all-features -- [--rounds 3] [--seconds 4]
//!     [--connections 16] [--handler-ms 2000] [--postgres postgres://postgres@127.0.0.1:5432/test]
//!     [--skip-build]
//! ```
//!
//! It builds `target/release/examples/receiver` (`--all-features`) and, every round, starts it
//! twice (three times with `--postgres`), each pinned to CPU 0 with `taskset` when installed,
//! with `HOOKGATE_QUIET=1`, and stops it after its round (so every round starts from an empty
//! inbox: a backlog left by the previous round would reach the inbox's bound of 100 000
//! pending events and turn the next round's answers into 503s):
//!
//! - `inline`: no inbox; the handler prints nothing and returns (the fastest inline handler);
//! - `sqlite`: `HOOKGATE_INBOX=sqlite:<fresh temp file>` (WAL, `synchronous = FULL`), every handler
//!   forwarding to a target served here that answers after `--handler-ms` (default 2 s), with
//!   `HOOKGATE_WORKERS=8`: the handlers take seconds and fall far behind, the acknowledgements
//!   must not;
//! - `postgres` (with `--postgres`): the same with `HOOKGATE_INBOX=<url>/<fresh database>`.
//!
//! The client keeps `--connections` keep-alive connections busy with the realistic workload of
//! the benches (`benches/workload`: Zernio's 1 KiB `post.published` with every header Zernio
//! sends, signed, a fresh event id each: nothing is a duplicate) and records every answer's
//! latency. It
//! prints, per round and server, acknowledgements per second (2xx answers) and p50 / p99
//! latency, then the medians and the ratio inbox / inline.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[path = "../benches/workload/mod.rs"]
mod workload;

const FORWARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Args {
    rounds: usize,
    seconds: u64,
    connections: usize,
    handler_ms: u64,
    postgres: Option<String>,
    skip_build: bool,
}

fn args() -> Args {
    let mut out = Args {
        rounds: 3,
        seconds: 4,
        connections: 16,
        handler_ms: 2000,
        postgres: None,
        skip_build: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => out.rounds = value().parse().expect("--rounds"),
            "--seconds" => out.seconds = value().parse().expect("--seconds"),
            "--connections" => out.connections = value().parse().expect("--connections"),
            "--handler-ms" => out.handler_ms = value().parse().expect("--handler-ms"),
            "--postgres" => out.postgres = Some(value()),
            "--skip-build" => out.skip_build = true,
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Starts the receiver with `env`, pinned to CPU 0 when `taskset` exists; waits for it.
fn spawn_receiver(addr: SocketAddr, env: &[(&str, String)]) -> Child {
    let exe = "target/release/examples/receiver";
    let pinned = Command::new("taskset").arg("--version").output().is_ok();
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", exe]);
        c
    } else {
        Command::new(exe)
    };
    command
        .env("ZERNIO_WEBHOOK_SECRET", workload::SECRET)
        .env("HOOKGATE_ADDR", addr.to_string())
        .env("HOOKGATE_QUIET", "1")
        .env("RUST_LOG", "hookgate=error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("target/release/examples/receiver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Reads one response; returns its status.
async fn response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return head[9..12].parse().unwrap();
            }
        }
    }
}

struct Round {
    acks_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

async fn round(addr: SocketAddr, args: &Args, salt: u64) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let (stop, acks, refused, latencies) = (
            stop.clone(),
            acks.clone(),
            refused.clone(),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            let mut mine = Vec::new();
            let mut n = c as u64;
            while !stop.load(Ordering::Relaxed) {
                let bytes = workload::delivery(workload::Kind::Realistic, salt, n).http1();
                n += 1 << 20;
                let sent = Instant::now();
                stream.write_all(&bytes).await.unwrap();
                let status = response(&mut stream, &mut buf).await;
                mine.push(sent.elapsed());
                if (200..300).contains(&status) {
                    acks.fetch_add(1, Ordering::Relaxed);
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        task.await.unwrap();
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Round {
        acks_per_sec: acks.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50).as_secs_f64() * 1e3,
        p99_ms: pct(0.99).as_secs_f64() * 1e3,
        non_2xx: refused.load(Ordering::Relaxed),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = args();
    if !args.skip_build {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--example",
                "receiver",
                "--all-features",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }

    // The internal service the inbox forwards to: slow on purpose.
    let handler = Duration::from_millis(args.handler_ms);
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_addr = target.local_addr().unwrap();
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move || async move {
                tokio::time::sleep(handler).await;
                "ok"
            }),
        );
        axum::serve(target, app).await.unwrap();
    });

    let dir = std::env::temp_dir().join(format!("hookgate-inbox-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let inbox_env = |inbox: String| {
        vec![
            ("HOOKGATE_INBOX", inbox),
            ("HOOKGATE_FORWARD_URL", format!("http://{target_addr}/")),
            ("HOOKGATE_FORWARD_SECRET", FORWARD_SECRET.to_owned()),
            ("HOOKGATE_WORKERS", "8".to_owned()),
            ("HOOKGATE_HANDLER_TIMEOUT", "30s".to_owned()),
        ]
    };

    let admin = match &args.postgres {
        Some(url) => Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .expect("--postgres: cannot connect"),
        ),
        None => None,
    };
    let mut names = vec!["inline", "sqlite"];
    if admin.is_some() {
        names.push("postgres");
    }

    println!(
        "inbox_load: {} connections, {} s rounds, handlers of the inbox receivers take {} ms",
        args.connections, args.seconds, args.handler_ms
    );
    let mut results: Vec<Vec<Round>> = names.iter().map(|_| Vec::new()).collect();
    for r in 0..args.rounds {
        for (i, name) in names.iter().enumerate() {
            // A fresh receiver and an empty inbox for every round.
            let addr = free_addr();
            let mut database = None;
            let env = match *name {
                "inline" => Vec::new(),
                "sqlite" => {
                    let path = dir.join(format!("inbox-{r}.db"));
                    inbox_env(format!("sqlite:{}", path.display()))
                }
                _ => {
                    let (url, admin) = (args.postgres.as_deref().unwrap(), admin.as_ref().unwrap());
                    let db = format!("hookgate_load_{}_{r}", std::process::id());
                    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
                        .execute(admin)
                        .await
                        .unwrap();
                    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
                    database = Some(db.clone());
                    inbox_env(format!("{base}/{db}"))
                }
            };
            let mut child = spawn_receiver(addr, &env);
            let result = round(addr, &args, (r * 10 + i) as u64).await;
            let _ = child.kill();
            let _ = child.wait();
            if let (Some(db), Some(admin)) = (database, &admin) {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .execute(admin)
                    .await;
            }
            println!(
                "round {r} {name:>8}: {:>8.0} acks/s  p50 {:>6.2} ms  p99 {:>6.2} ms  non-2xx {}",
                result.acks_per_sec, result.p50_ms, result.p99_ms, result.non_2xx
            );
            results[i].push(result);
        }
    }
    let inline_rate = median(results[0].iter().map(|r| r.acks_per_sec).collect());
    for (i, name) in names.iter().enumerate() {
        let rate = median(results[i].iter().map(|r| r.acks_per_sec).collect());
        let p99 = median(results[i].iter().map(|r| r.p99_ms).collect());
        let p50 = median(results[i].iter().map(|r| r.p50_ms).collect());
        println!(
            "median {name:>8}: {rate:>8.0} acks/s ({:.3}x inline)  p50 {p50:.2} ms  p99 {p99:.2} ms",
            rate / inline_rate
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
