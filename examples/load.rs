//! The load driver: the receiver example against two same-run baselines, a bare axum handler
//! that only reads the body and the hand-written receiver (`benches/workload/handwritten.rs`:
//! an axum handler taking `HeaderMap` and `Bytes`, pre-keyed HMAC, constant-time compare, one
//! typed `serde_json` decode, `lru` behind a `Mutex`, a `match` on the event name), over real
//! HTTP on loopback, one server core each, several interleaved rounds.
//!
//! ```text
//! cargo run --release --example load -- [--workload realistic|mix|trivial] [--rounds 5]
//!     [--seconds 3] [--connections 16] [--mode both|sleep|poll] [--log hookgate=info]
//!     [--skip-build] [--only bare|handwritten|receiver|redis (to profile one)]
//!     [--redis (also the receiver with a Redis dedup store, against a redis-server it starts)]
//! ```
//!
//! Workloads (`benches/workload`): `realistic` (the default, every claim is made on it): Zernio's
//! ~1 KiB `post.published` with every header Zernio sends; `mix`: that and other Zernio events,
//! an Ayrshare action and a Standard Webhooks message, in turn (bare and receiver only: the
//! hand-written receiver knows Zernio alone); `trivial`, labelled: the old `webhook.test` with
//! one 920-byte ASCII string and two headers. Every delivery has a fresh id (dedup never
//! short-circuits).
//!
//! It builds and starts `target/release/examples/receiver` (with `HOOKGATE_QUIET=1`: printing a
//! line per event would measure the terminal; logging as the receiver does by default,
//! `RUST_LOG=hookgate=info`), and serves the baselines itself (`--serve bare|handwritten
//! ADDR`), each server pinned to CPU 0 with `taskset` when it is installed (tokio then runs one
//! worker), while the client runs on the other cores. The client writes pre-serialized requests
//! on keep-alive connections and reads the answers with a minimal parser, so it costs less per
//! request than any server.
//!
//! **Client modes**, both measured by default, each with its own rounds and ratios:
//!
//! - `sleep`: the client sleeps in `epoll_wait` between responses, as real clients do. Every
//!   response the server writes then wakes it, and the kernel charges that wakeup (an
//!   inter-processor interrupt, costly in a VM) to the server's core: measured at 0.45 µs per
//!   request under the bare handler and 0.9 µs under the receiver. This is the mode of the
//!   targets.
//! - `poll`: the client keeps its worker busy (a task that only yields), so it polls for
//!   readiness and a server's write never has to wake it. With `--redis` the client always
//!   sleeps: redis-server runs on the client's CPU, and a client that never sleeps would
//!   starve it.
//!
//! **Stalls.** The machine may be shared: a round in which a server served far below its own
//! median (the bare handler under 0.85x, any other under 0.75x) is reported and **refused**
//! (left out of the medians and ratios), as the host stalled rather than the server.
//! Per-round ratios are printed with their spread.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
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

use workload::Kind;

struct Args {
    workload: Kind,
    redis: bool,
    only: Option<String>,
    skip_build: bool,
    log: String,
    rounds: usize,
    seconds: u64,
    connections: usize,
    modes: Vec<bool>,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        workload: Kind::Realistic,
        redis: false,
        only: None,
        skip_build: false,
        log: "hookgate=info".to_owned(),
        rounds: 5,
        seconds: 3,
        connections: 16,
        modes: vec![false, true],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--workload" => {
                let name = value()?;
                out.workload = Kind::parse(&name).ok_or(format!("--workload {name}?"))?
            }
            "--rounds" => out.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--seconds" => out.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--connections" => {
                out.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            "--skip-build" => out.skip_build = true,
            "--mode" => {
                out.modes = match value()?.as_str() {
                    "both" => vec![false, true],
                    "sleep" => vec![false],
                    "poll" => vec![true],
                    other => return Err(format!("--mode {other}? (both, sleep, poll)")),
                }
            }
            // The old flag: the polling client alone was the default.
            "--no-spin" => out.modes = vec![false],
            "--only" => out.only = Some(value()?),
            "--redis" => out.redis = true,
            "--log" => out.log = value()?,
            "--bench" => {} // passed by `cargo bench`-style runners; ignore
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(out)
}

/// Serves a baseline: `bare` (an axum handler that reads the body and answers 200) or
/// `handwritten` (the hand-written Zernio receiver behind an axum handler).
async fn serve(which: String, addr: String) {
    use axum::{
        Router,
        extract::State,
        http::HeaderMap,
        routing::{get, post},
    };
    let app = match which.as_str() {
        "bare" => {
            let read = post(|body: bytes::Bytes| async move { body.len().to_string() });
            Router::new()
                .route("/webhooks/zernio", read.clone())
                .route("/webhooks/ayrshare", read.clone())
                .route("/webhooks/standard", read)
        }
        "handwritten" => Router::new()
            .route(
                "/webhooks/zernio",
                post(
                    |State(receiver): State<Arc<workload::handwritten::Receiver>>,
                     headers: HeaderMap,
                     body: bytes::Bytes| async move {
                        receiver.handle(&headers, &body)
                    },
                ),
            )
            .with_state(Arc::new(workload::handwritten::Receiver::new(
                workload::SECRET,
            ))),
        other => panic!("--serve {other}?"),
    };
    let app = app.route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program args` pinned to CPU 0 when `taskset` exists.
fn spawn_pinned(program: &str, args: &[&str], envs: &[(&str, String)]) -> Child {
    let pinned = Command::new("taskset").arg("--version").output().is_ok();
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", program]).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    };
    command
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

async fn wait_healthy(addr: SocketAddr) {
    for _ in 0..200 {
        if let Ok(mut stream) = TcpStream::connect(addr).await {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                .await;
            let mut buf = [0u8; 64];
            if matches!(stream.read(&mut buf).await, Ok(n) if n > 12 && &buf[9..12] == b"200") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on {addr} did not become healthy");
}

/// `count` pre-serialized, distinct, signed deliveries of `kind` (built on every core).
fn requests(kind: Kind, round: u64, count: usize) -> Arc<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = count.div_ceil(threads);
    let parts: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(count))
                        .map(|i| workload::delivery(kind, round, i as u64).http1())
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Arc::new(parts.into_iter().flatten().collect())
}

/// Reads one response (status line, headers, `content-length` body); returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
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
            return Ok(status);
        }
    }
}

/// Drives `addr` for `seconds` with `connections` keep-alive connections; requests per second.
async fn drive(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    seconds: u64,
    spin: bool,
) -> (f64, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    if spin {
        // Keep the client's worker busy, so that it polls for readiness instead of sleeping in
        // `epoll_wait`: a server's write then never has to wake (IPI) the client's CPU, a
        // cost the kernel charges to the server's core.
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
            }
        });
    }
    let non_200 = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (requests, next, stop, non_200) = (
            requests.clone(),
            next.clone(),
            stop.clone(),
            non_200.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(4096);
            let mut done = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(request) = requests.get(i) else {
                    break;
                };
                stream.write_all(request).await.unwrap();
                if read_response(&mut stream, &mut buf).await.unwrap() != 200 {
                    non_200.fetch_add(1, Ordering::Relaxed);
                }
                done += 1;
            }
            done
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    (
        total as f64 / start.elapsed().as_secs_f64(),
        non_200.load(Ordering::Relaxed),
    )
}

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn spread(values: &[f64]) -> (f64, f64) {
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = values.iter().cloned().fold(0.0, f64::max);
    (min, max)
}

/// Per mode, the servers' rates, one row per round (`NaN` where a server did not run).
struct Rounds {
    servers: Vec<&'static str>,
    rows: Vec<Vec<f64>>,
}

impl Rounds {
    fn column(&self, server: &str, rows: &[usize]) -> Vec<f64> {
        let Some(col) = self.servers.iter().position(|s| *s == server) else {
            return Vec::new();
        };
        rows.iter()
            .map(|&r| self.rows[r][col])
            .filter(|v| v.is_finite())
            .collect()
    }

    /// The rounds in which no server served far below its own median (a host stall).
    fn kept(&self) -> (Vec<usize>, Vec<(usize, String)>) {
        let all: Vec<usize> = (0..self.rows.len()).collect();
        let medians: Vec<f64> = self
            .servers
            .iter()
            .map(|s| median(&self.column(s, &all)))
            .collect();
        let (mut kept, mut refused) = (Vec::new(), Vec::new());
        for (r, row) in self.rows.iter().enumerate() {
            let stalled: Vec<String> = self
                .servers
                .iter()
                .zip(row)
                .zip(&medians)
                .filter(|((server, rps), median)| {
                    let floor = if **server == "bare" { 0.85 } else { 0.75 };
                    rps.is_finite() && **rps < floor * **median
                })
                .map(|((server, rps), median)| {
                    format!("{server} {:.0} req/s, {:.2}x its median", rps, rps / median)
                })
                .collect();
            if stalled.is_empty() {
                kept.push(r);
            } else {
                refused.push((r, stalled.join("; ")));
            }
        }
        (kept, refused)
    }

    /// `a / b` per kept round.
    fn ratios(&self, a: &str, b: &str, rows: &[usize]) -> Vec<f64> {
        let (a, b) = (self.column(a, rows), self.column(b, rows));
        if a.len() != b.len() {
            return Vec::new();
        }
        a.iter().zip(&b).map(|(a, b)| a / b).collect()
    }
}

fn report(mode: &str, rounds: &Rounds) {
    let (kept, refused) = rounds.kept();
    println!(
        "== client {mode}: {} rounds, {} kept",
        rounds.rows.len(),
        kept.len()
    );
    for (r, why) in &refused {
        println!("   round {r} refused (host stall?): {why}");
    }
    for server in &rounds.servers {
        let values = rounds.column(server, &kept);
        if values.is_empty() {
            continue;
        }
        let (min, max) = spread(&values);
        println!(
            "{server:>12}: median {:>7.0} req/s (min {min:.0}, max {max:.0})",
            median(&values)
        );
    }
    for (a, b) in [
        ("receiver", "bare"),
        ("handwritten", "bare"),
        ("receiver", "handwritten"),
        ("redis", "receiver"),
    ] {
        let ratios = rounds.ratios(a, b, &kept);
        if ratios.is_empty() {
            continue;
        }
        let (min, max) = spread(&ratios);
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "ratio {a}/{b} per round: median {:.3} (min {min:.3}, max {max:.3}) [{}]",
            median(&ratios),
            each.join(" ")
        );
    }
}

fn main() {
    let mut argv = std::env::args().skip_while(|a| a != "--serve").skip(1);
    if let (Some(which), Some(addr)) = (argv.next(), argv.next()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(serve(which, addr));
        return;
    }
    // Keep the client off CPU 0, where the servers run.
    if std::env::var_os("HOOKGATE_LOAD_CLIENT").is_none()
        && Command::new("taskset").arg("--version").output().is_ok()
    {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let status = Command::new("taskset")
            .args(["-c", &format!("1-{}", cpus.max(2) - 1)])
            .arg(std::env::current_exe().unwrap())
            .args(std::env::args().skip(1))
            .env("HOOKGATE_LOAD_CLIENT", "1")
            .status()
            .expect("taskset");
        std::process::exit(status.code().unwrap_or(1));
    }
    let args = args().unwrap_or_else(|e| {
        eprintln!("load: {e}");
        std::process::exit(2)
    });
    if !args.skip_build {
        eprintln!("load: building the receiver (release)");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--example", "receiver"])
            .args(if args.redis {
                &["--features", "redis"][..]
            } else {
                &[]
            })
            .status()
            .expect("cargo build");
        assert!(status.success(), "building the receiver failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let receiver = format!("{target}/release/examples/receiver");
    let me = std::env::current_exe().unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // With --redis, another server: the receiver with its dedup store in a redis-server of its
    // own (persistence off), started here.
    let redis = args.redis.then(|| {
        let port = free_port();
        // On the client's CPU, away from the server under test.
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
        let mut command = Command::new(if pinned { "taskset" } else { "redis-server" });
        if pinned {
            command.args(["-c", "1", "redis-server"]);
        }
        let child = command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("--redis needs redis-server on the PATH");
        std::thread::sleep(Duration::from_millis(300));
        (child, format!("redis://127.0.0.1:{port}/"))
    });
    let mut servers = vec!["bare"];
    if args.workload != Kind::Mix {
        servers.push("handwritten");
    }
    servers.push("receiver");
    if redis.is_some() {
        servers.push("redis");
    }
    servers.retain(|s| args.only.as_deref().is_none_or(|only| only == *s));
    // redis-server shares the client's CPU: a client that never sleeps would starve it.
    let mut modes = args.modes.clone();
    if redis.is_some() && modes.contains(&true) {
        eprintln!("load: --redis: the client sleeps in epoll_wait in every round");
        modes = vec![false];
    }
    let mut results: Vec<Rounds> = modes
        .iter()
        .map(|_| Rounds {
            servers: servers.clone(),
            rows: Vec::new(),
        })
        .collect();
    // Enough distinct deliveries that no server runs out within the round (checked below: a
    // round that used them all would measure the driver, not the server).
    let per_round = (args.seconds as usize * 220_000).max(10_000);
    let mut sequence = 0u64;
    for round in 0..args.rounds {
        for (m, &spin) in modes.iter().enumerate() {
            let mode = if spin { "poll" } else { "sleep" };
            let mut order = servers.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut row = vec![f64::NAN; servers.len()];
            // One set of deliveries for the servers of this round (each starts with an empty
            // store); the Redis store outlives its server, so it gets fresh ids of its own.
            sequence += 1;
            let shared = requests(args.workload, sequence, per_round);
            for which in order {
                let port = free_port();
                let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
                let mut child = match which {
                    "bare" | "handwritten" => spawn_pinned(
                        me.to_str().unwrap(),
                        &["--serve", which, &addr.to_string()],
                        &[],
                    ),
                    _ => {
                        let mut envs = vec![
                            ("HOOKGATE_ADDR", addr.to_string()),
                            ("ZERNIO_WEBHOOK_SECRET", workload::SECRET.to_owned()),
                            ("AYRSHARE_WEBHOOK_SECRET", workload::SECRET.to_owned()),
                            (
                                "STANDARD_WEBHOOK_SECRET",
                                workload::STANDARD_SECRET.to_owned(),
                            ),
                            ("HOOKGATE_QUIET", "1".to_owned()),
                            ("RUST_LOG", args.log.clone()),
                        ];
                        if which == "redis" {
                            envs.push(("HOOKGATE_REDIS_URL", redis.as_ref().unwrap().1.clone()));
                        }
                        spawn_pinned(&receiver, &[], &envs)
                    }
                };
                let requests = if which == "redis" {
                    sequence += 1;
                    requests(args.workload, sequence, per_round)
                } else {
                    shared.clone()
                };
                let (rps, non_200) = runtime.block_on(async {
                    wait_healthy(addr).await;
                    drive(addr, requests, args.connections, args.seconds, spin).await
                });
                let _ = child.kill();
                let _ = child.wait();
                eprintln!(
                    "round {round} {mode:>5} {which:>11}: {rps:>9.0} req/s ({non_200} non-200)"
                );
                assert!(
                    rps * (args.seconds as f64) < per_round as f64 * 0.95,
                    "{which} nearly used up the pre-built deliveries: raise per_round"
                );
                assert_eq!(non_200, 0, "{which} answered non-200");
                row[servers.iter().position(|s| *s == which).unwrap()] = rps;
            }
            results[m].rows.push(row);
        }
    }
    if let Some((mut child, _)) = redis {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "workload {}, {} connections, {} s per round, one server core",
        args.workload.name(),
        args.connections,
        args.seconds
    );
    for (m, &spin) in modes.iter().enumerate() {
        report(if spin { "polling" } else { "sleeping" }, &results[m]);
    }
}
