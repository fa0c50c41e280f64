//! The load driver: the receiver example against a bare axum handler that only reads the body,
//! over real HTTP on loopback, one server core each, 1 KiB distinct signed Zernio deliveries
//! (a fresh id every time, so dedup never short-circuits), several interleaved rounds.
//!
//! ```text
//! cargo run --release --example load -- [--rounds 5] [--seconds 4] [--connections 16]
//!     [--log hookgate=info] [--skip-build] [--only bare|receiver|redis (to profile one)]
//!     [--redis (also the receiver with a Redis dedup store, against a redis-server it starts)]
//!     [--no-spin (let the client sleep in epoll_wait; see below; implied by --redis)]
//! ```
//!
//! It builds and starts `target/release/examples/receiver` (with `HOOKGATE_QUIET=1`: printing a
//! line per event would measure the terminal; logging as the receiver does by default,
//! `RUST_LOG=hookgate=info`), and serves the bare handler itself (`--bare ADDR`), each server
//! pinned to CPU 0 with `taskset` when it is installed (tokio then runs one worker), while the
//! client runs on the other cores. The client writes pre-serialized requests on keep-alive
//! connections and reads the answers with a minimal parser, so it costs less per request than
//! either server. It prints requests per second per round, the median and spread, and the
//! ratio receiver / bare.
//!
//! The client keeps its worker busy (a task that only yields), so it polls for readiness
//! instead of sleeping in `epoll_wait`. A sleeping client makes every response the server
//! writes wake it, and the kernel charges that wakeup (an inter-processor interrupt, costly in
//! a VM) to the server's core: measured at 0.45 µs per request under the bare handler and
//! 0.9 µs under the receiver, whose slower answers leave the client idle more often. That
//! cost belongs to the client, and it would skew the ratio; `--no-spin` measures with it.
//! With `--redis` the client does not spin: redis-server runs on the client's CPU, and a
//! client that never sleeps would starve it.

use std::{
    net::SocketAddr,
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

const SECRET: &str = "load-secret";
const SIZE: usize = 1024;

struct Args {
    redis: bool,
    only: Option<String>,
    skip_build: bool,
    log: String,
    rounds: usize,
    seconds: u64,
    connections: usize,
    spin: bool,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        redis: false,
        only: None,
        skip_build: false,
        log: "hookgate=info".to_owned(),
        rounds: 5,
        seconds: 4,
        connections: 16,
        spin: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => out.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--seconds" => out.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--connections" => {
                out.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            "--skip-build" => out.skip_build = true,
            "--no-spin" => out.spin = false,
            "--only" => out.only = Some(value()?),
            "--redis" => out.redis = true,
            "--log" => out.log = value()?,
            "--bench" => {} // passed by `cargo bench`-style runners; ignore
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(out)
}

/// Serves the baseline: a bare axum handler that reads the body and answers 200.
async fn bare(addr: String) {
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/webhooks/zernio",
            axum::routing::post(|body: bytes::Bytes| async move { body.len().to_string() }),
        );
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

/// `count` pre-serialized, distinct, signed 1 KiB deliveries.
fn requests(round: usize, count: usize) -> Arc<Vec<Vec<u8>>> {
    let keyring = Keyring::new([SECRET]).unwrap();
    Arc::new(
        (0..count)
            .map(|i| {
                let mut body = format!(
                    r#"{{"id":"load-{round}-{i:012}","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z","message":""#
                )
                .into_bytes();
                body.resize(SIZE - 2, b'x');
                body.extend_from_slice(b"\"}");
                let tag = keyring.sign(b"", &body).to_hex();
                let mut request = format!(
                    "POST /webhooks/zernio HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nuser-agent: Zernio-Webhooks/1.0\r\nx-zernio-event: webhook.test\r\nx-zernio-signature: {tag}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                request.extend_from_slice(&body);
                request
            })
            .collect(),
    )
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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() {
    if let Some(addr) = std::env::args().skip_while(|a| a != "--bare").nth(1) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(bare(addr));
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
    let (mut bare_rps, mut receiver_rps, mut redis_rps) = (Vec::new(), Vec::new(), Vec::new());
    // With --redis, a third server: the receiver with its dedup store in a redis-server of its
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
    // Enough distinct deliveries that no server runs out within the round (checked below: a
    // round that used them all would measure the driver, not the server).
    let per_round = (args.seconds as usize * 300_000).max(10_000);
    // redis-server shares the client's CPU: a client that never sleeps would starve it.
    let spin = args.spin && redis.is_none();
    if args.spin && !spin {
        eprintln!(
            "load: --redis: the client sleeps in epoll_wait (as with --no-spin) in every round"
        );
    }
    for round in 0..args.rounds {
        let mut order = vec!["bare", "receiver"];
        if redis.is_some() {
            order.push("redis");
        }
        if round % 2 == 1 {
            order.reverse();
        }
        for which in order {
            if args.only.as_deref().is_some_and(|only| only != which) {
                continue;
            }
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let mut child = if which == "bare" {
                spawn_pinned(me.to_str().unwrap(), &["--bare", &addr.to_string()], &[])
            } else {
                let mut envs = vec![
                    ("HOOKGATE_ADDR", addr.to_string()),
                    ("ZERNIO_WEBHOOK_SECRET", SECRET.to_owned()),
                    ("HOOKGATE_QUIET", "1".to_owned()),
                    ("RUST_LOG", args.log.clone()),
                ];
                if which == "redis" {
                    envs.push(("HOOKGATE_REDIS_URL", redis.as_ref().unwrap().1.clone()));
                }
                spawn_pinned(&receiver, &[], &envs)
            };
            let requests = requests(round, per_round);
            let (rps, non_200) = runtime.block_on(async {
                wait_healthy(addr).await;
                drive(addr, requests, args.connections, args.seconds, spin).await
            });
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("round {round} {which:>8}: {rps:>9.0} req/s ({non_200} non-200)");
            assert!(
                rps * (args.seconds as f64) < per_round as f64 * 0.95,
                "{which} nearly used up the pre-built deliveries: raise per_round"
            );
            assert_eq!(non_200, 0, "{which} answered non-200");
            if which == "redis" {
                redis_rps.push(rps)
            } else if which == "bare" {
                bare_rps.push(rps)
            } else {
                receiver_rps.push(rps)
            }
        }
    }
    if let Some((mut child, _)) = redis {
        let _ = child.kill();
        let _ = child.wait();
    }
    if bare_rps.is_empty() || receiver_rps.is_empty() {
        return; // --only: the per-round lines above are the result
    }
    let ratios: Vec<f64> = receiver_rps
        .iter()
        .zip(&bare_rps)
        .map(|(r, b)| r / b)
        .collect();
    let spread = |v: &[f64]| {
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        (min, max)
    };
    let (bmin, bmax) = spread(&bare_rps);
    let (rmin, rmax) = spread(&receiver_rps);
    let (qmin, qmax) = spread(&ratios);
    println!(
        "bare axum handler: median {:.0} req/s (min {bmin:.0}, max {bmax:.0})",
        median(&mut bare_rps.clone())
    );
    println!(
        "hookgate receiver: median {:.0} req/s (min {rmin:.0}, max {rmax:.0})",
        median(&mut receiver_rps.clone())
    );
    println!(
        "ratio receiver/bare per round: median {:.3} (min {qmin:.3}, max {qmax:.3})",
        median(&mut ratios.clone())
    );
    if !redis_rps.is_empty() {
        let ratios: Vec<f64> = redis_rps
            .iter()
            .zip(&receiver_rps)
            .map(|(r, m)| r / m)
            .collect();
        let (dmin, dmax) = spread(&redis_rps);
        let (qmin, qmax) = spread(&ratios);
        println!(
            "hookgate receiver, Redis dedup: median {:.0} req/s (min {dmin:.0}, max {dmax:.0})",
            median(&mut redis_rps.clone())
        );
        println!(
            "ratio Redis/in-memory per round: median {:.3} (min {qmin:.3}, max {qmax:.3})",
            median(&mut ratios.clone())
        );
    }
}
