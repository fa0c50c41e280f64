//! `RedisDedupStore` against a real `redis-server` on 127.0.0.1: each test spawns its own
//! (`--save '' --appendonly no`, on a free port, killed when the test ends).
//!
//! Without `redis-server` on the `PATH` the tests print a notice and pass, except in CI (`CI`
//! set), where they fail: `.ci/run` installs it.
#![cfg(all(feature = "redis", feature = "zernio"))]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write as _},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Body, http::Request};
use hookgate::{
    Delivery, Dispatcher, Webhooks,
    dedup::{Claim, DedupKey, DedupStore, Lease, RedisDedupStore},
    keyring::Keyring,
    zernio::{self, Zernio},
};
use tower::ServiceExt as _;

const SECRET: &str = "secret";
const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(3600);

/// A `redis-server` of this test, killed (by its PID) on drop.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
}

impl RedisServer {
    /// A fresh server on a free port, or `None` (after a notice) when `redis-server` is not
    /// installed and this is not CI.
    fn start(extra: &[&str]) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not on the PATH; CI must have it (see .ci/run)"
            );
            eprintln!("SKIPPED: redis-server is not on the PATH (apt-get install redis-server)");
            return None;
        }
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        // A free port can be taken between our check and the server's bind: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut server = Self {
                child: None,
                port,
                extra: extra.clone(),
            };
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("could not start redis-server on a free port");
    }

    /// Spawns the server on `self.port`; true once it answers PING.
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let mut child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return false; // exited: the port was taken
            }
            if let Ok(reply) = command(self.port, &["PING"])
                && (reply == "PONG" || reply.starts_with("-NOAUTH"))
            {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL to its PID): an outage, everything in memory lost.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port.
    fn restart(&mut self) {
        assert!(self.child.is_none());
        assert!(self.spawn(), "redis-server restarts on port {}", self.port);
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server's PID.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server must be resumed to die promptly; harmless otherwise.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// One command over plain RESP, for PING and for looking at keys directly: simple strings and
/// integers as text, bulk strings as their content, nil as `(nil)`, arrays as their elements
/// one per line, errors with their leading `-`.
fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    reply(&mut BufReader::new(stream))
}

fn reply(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end();
    Ok(match line.as_bytes().first() {
        Some(b'+' | b':') => line[1..].to_owned(),
        Some(b'$' | b'*') if line.ends_with("-1") => "(nil)".to_owned(),
        Some(b'$') => {
            let len: usize = line[1..].parse().unwrap();
            let mut value = vec![0; len + 2];
            reader.read_exact(&mut value)?;
            value.truncate(len);
            String::from_utf8(value).unwrap()
        }
        Some(b'*') => {
            let len: usize = line[1..].parse().unwrap();
            let items = (0..len)
                .map(|_| reply(reader))
                .collect::<std::io::Result<Vec<_>>>()?;
            items.join("\n")
        }
        _ => line.to_owned(),
    })
}

/// The values of all the keys in the server's database.
fn values(port: u16) -> Vec<String> {
    let keys = command(port, &["KEYS", "*"]).unwrap();
    keys.lines()
        .map(|key| command(port, &["GET", key]).unwrap())
        .collect()
}

/// Waits (up to 10 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn acquired(claim: Claim) -> Lease {
    match claim {
        Claim::Acquired(lease) => lease,
        other => panic!("expected Acquired, got {other:?}"),
    }
}

async fn store(server: &RedisServer) -> RedisDedupStore {
    RedisDedupStore::connect(&server.url()).await.unwrap()
}

/// Handler runs per delivery key, shared by the replicas of a test.
type Counts = Arc<Mutex<HashMap<String, usize>>>;

fn count(counts: &Counts, key: &str) -> usize {
    counts.lock().unwrap().get(key).copied().unwrap_or(0)
}

/// One replica: Zernio webhooks on `store`, counting `webhook.test` deliveries per key (each
/// handler takes a moment, so that concurrent copies find the key in flight).
fn replica(store: RedisDedupStore, counts: &Counts) -> Dispatcher<Zernio, ()> {
    let counts = counts.clone();
    Webhooks::new(Zernio::new([SECRET]).unwrap())
        .store(store)
        .on(move |_: zernio::WebhookTest, delivery: Delivery| {
            let counts = counts.clone();
            async move {
                *counts
                    .lock()
                    .unwrap()
                    .entry(delivery.key().to_owned())
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .build()
        .unwrap()
}

/// A signed `webhook.test` delivery with event id `id`.
fn delivery(id: &str) -> Request<Body> {
    let body = format!(
        r#"{{"id":"{id}","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    );
    let signature = Keyring::new([SECRET])
        .unwrap()
        .sign(b"", body.as_bytes())
        .to_hex();
    Request::post("/webhooks/zernio")
        .header("content-type", "application/json")
        .header("x-zernio-signature", signature)
        .body(Body::from(body))
        .unwrap()
}

/// Sends `delivery(id)` to `service`; the answer's status.
async fn send(service: &Dispatcher<Zernio, ()>, id: &str) -> u16 {
    service
        .clone()
        .oneshot(delivery(id))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_handle_every_key_once() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let counts = Counts::default();
    // Two replicas, each with its own store (and connection) to the one Redis.
    let replicas = [
        replica(store(&server).await, &counts),
        replica(store(&server).await, &counts),
    ];
    const KEYS: usize = 40;
    const COPIES: usize = 3;
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..COPIES {
        for key in 0..KEYS {
            for service in &replicas {
                let service = service.clone();
                sends.spawn(async move { send(&service, &format!("evt_{key}")).await });
            }
        }
    }
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    while let Some(result) = sends.join_next().await {
        *statuses.entry(result.unwrap()).or_default() += 1;
    }
    assert_eq!(
        statuses.values().sum::<usize>(),
        KEYS * COPIES * replicas.len()
    );
    assert!(
        statuses.keys().all(|s| *s == 200 || *s == 429),
        "only 200 (handled or duplicate) and 429 (in flight): {statuses:?}"
    );
    {
        let counts = counts.lock().unwrap();
        assert_eq!(counts.len(), KEYS, "every key was handled");
        assert!(
            counts.values().all(|&n| n == 1),
            "every key handled exactly once across both replicas: {counts:?}"
        );
    }
    // Retries after the fact, on either replica: acknowledged, never handled again.
    for key in 0..KEYS {
        for service in &replicas {
            assert_eq!(send(service, &format!("evt_{key}")).await, 200);
        }
    }
    assert!(counts.lock().unwrap().values().all(|&n| n == 1));
    eprintln!("answers: {statuses:?}");
}

#[tokio::test]
async fn claim_commit_release_and_the_keys_in_redis() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let store = store(&server).await;
    let key = DedupKey::new("zernio", None, "evt_1");
    let name = store.redis_key(&key);
    assert_eq!(name, format!("hookgate:zernio:{}", key.to_hex()));

    let lease = acquired(store.claim(&key, LEASE).await.unwrap());
    assert_eq!(
        command(server.port, &["GET", &name]).unwrap(),
        lease.token().to_string()
    );
    let pttl: u64 = command(server.port, &["PTTL", &name])
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pttl > 0 && pttl <= 60_000,
        "the lease is the key's expiry: {pttl}"
    );
    match store.claim(&key, LEASE).await.unwrap() {
        Claim::InFlight { retry_after } => {
            assert!(
                retry_after > Duration::ZERO && retry_after <= LEASE,
                "{retry_after:?}"
            )
        }
        other => panic!("expected InFlight, got {other:?}"),
    }

    assert!(store.release(&key, lease).await.unwrap());
    assert_eq!(command(server.port, &["EXISTS", &name]).unwrap(), "0");
    assert!(
        !store.release(&key, lease).await.unwrap(),
        "a released lease holds nothing"
    );
    assert!(
        !store.commit(&key, lease, TTL).await.unwrap(),
        "nor can it commit"
    );

    let lease = acquired(store.claim(&key, LEASE).await.unwrap());
    assert!(store.commit(&key, lease, TTL).await.unwrap());
    assert_eq!(
        command(server.port, &["GET", &name]).unwrap(),
        format!("done:{}", lease.token())
    );
    let pttl: u64 = command(server.port, &["PTTL", &name])
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pttl > 60_000 && pttl <= 3_600_000,
        "the TTL replaced the lease: {pttl}"
    );
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
    assert!(
        !store.release(&key, lease).await.unwrap(),
        "a committed key cannot be released"
    );
    assert!(
        store.commit(&key, lease, TTL).await.unwrap(),
        "a repeated commit by the holder is answered true (as by MemoryStore)"
    );
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);

    // Handled keys expire after their TTL.
    let short = DedupKey::new("zernio", None, "evt_short");
    let lease = acquired(store.claim(&short, LEASE).await.unwrap());
    assert!(
        store
            .commit(&short, lease, Duration::from_millis(50))
            .await
            .unwrap()
    );
    assert_eq!(store.claim(&short, LEASE).await.unwrap(), Claim::Done);
    tokio::time::sleep(Duration::from_millis(120)).await;
    acquired(store.claim(&short, LEASE).await.unwrap());

    // Another prefix is another namespace: an app sharing the Redis does not see these keys.
    let other = RedisDedupStore::connect(&server.url())
        .await
        .unwrap()
        .prefix("otherapp:");
    assert_eq!(
        other.redis_key(&key),
        format!("otherapp:zernio:{}", key.to_hex())
    );
    acquired(other.claim(&key, LEASE).await.unwrap());
}

#[tokio::test]
async fn a_dead_holders_claim_is_claimable_after_its_lease() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let lease = Duration::from_millis(200);
    let key = DedupKey::new("zernio", None, "evt_dies");
    let dying = store(&server).await;
    acquired(dying.claim(&key, lease).await.unwrap());
    // The holder's replica dies without committing or releasing.
    drop(dying);
    let survivor = store(&server).await;
    assert!(matches!(
        survivor.claim(&key, lease).await.unwrap(),
        Claim::InFlight { retry_after } if retry_after <= lease
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taken = acquired(survivor.claim(&key, lease).await.unwrap());
    assert!(survivor.commit(&key, taken, TTL).await.unwrap());
    assert_eq!(survivor.claim(&key, lease).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn a_stale_holder_cannot_commit_or_release_anothers_claim() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let short = Duration::from_millis(150);
    let key = DedupKey::new("zernio", None, "evt_stale");
    let (slow, fast) = (store(&server).await, store(&server).await);
    let stale = acquired(slow.claim(&key, short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    // The slow replica's lease ended; the fast one claims the key.
    let fresh = acquired(fast.claim(&key, LEASE).await.unwrap());
    assert_ne!(stale, fresh);
    assert!(
        !slow.commit(&key, stale, TTL).await.unwrap(),
        "stale commit refused"
    );
    assert!(
        !slow.release(&key, stale).await.unwrap(),
        "stale release refused"
    );
    assert!(
        matches!(
            slow.claim(&key, LEASE).await.unwrap(),
            Claim::InFlight { .. }
        ),
        "the fresh claim still holds"
    );
    assert!(fast.commit(&key, fresh, TTL).await.unwrap());
    assert!(!slow.release(&key, stale).await.unwrap());
    assert!(!slow.commit(&key, stale, TTL).await.unwrap());
    assert_eq!(slow.claim(&key, LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_503_then_the_same_store_recovers() {
    let Some(mut server) = RedisServer::start(&[]) else {
        return;
    };
    let counts = Counts::default();
    let service = replica(store(&server).await, &counts);
    assert_eq!(send(&service, "before").await, 200);
    assert_eq!(count(&counts, "before"), 1);

    server.stop();
    for _ in 0..2 {
        assert_eq!(send(&service, "during").await, 503, "fail closed");
    }
    assert_eq!(count(&counts, "during"), 0, "the handler was not called");
    // Long enough for the connection manager to give up its reconnection attempts: the first
    // delivery after the restart must bring the connection back by itself.
    tokio::time::sleep(Duration::from_millis(600)).await;

    server.restart();
    // The same service and store, no restart: the provider's retry is handled, once.
    assert_eq!(send(&service, "during").await, 200);
    assert_eq!(count(&counts, "during"), 1);
    assert_eq!(send(&service, "during").await, 200);
    assert_eq!(count(&counts, "during"), 1, "a duplicate after recovery");
    // That Redis kept nothing (no AOF): a retry of a delivery handled before the restart runs
    // the handler again (see "Persistence" in the docs).
    assert_eq!(send(&service, "before").await, 200);
    assert_eq!(count(&counts, "before"), 2);
}

#[tokio::test]
async fn a_hung_redis_times_out_then_recovers() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let store = store(&server).await.op_timeout(Duration::from_millis(200));
    // Scripts loaded: a stalled claim is then a complete command waiting in Redis's socket.
    let warm = DedupKey::new("zernio", None, "evt_warm");
    acquired(store.claim(&warm, LEASE).await.unwrap());

    let key = DedupKey::new("zernio", None, "evt_hung");
    server.signal("STOP");
    let error = store.claim(&key, LEASE).await.unwrap_err();
    assert!(error.to_string().contains("timed out"), "{error}");
    server.signal("CONT");
    // The stalled claim runs when Redis resumes, but nobody holds it: the store releases it,
    // so the key is claimable again long before its 60 s lease would end.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lease = loop {
        match store.claim(&key, LEASE).await {
            Ok(Claim::Acquired(lease)) => break lease,
            Ok(Claim::InFlight { .. }) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => panic!("expected the key back, got {other:?}"),
        }
    };
    assert!(store.commit(&key, lease, TTL).await.unwrap());
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn passwords_stay_out_of_debug_and_bad_targets_fail_fast() {
    let Some(server) = RedisServer::start(&["--requirepass", "hunter2-secret"]) else {
        return;
    };
    let url = format!("redis://:hunter2-secret@127.0.0.1:{}/0", server.port);
    let store = RedisDedupStore::connect(&url).await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains(&format!("127.0.0.1:{}", server.port)),
        "{debug}"
    );
    let key = DedupKey::new("zernio", None, "evt_auth");
    acquired(store.claim(&key, LEASE).await.unwrap());

    let wrong = format!("redis://:wrong-pass-xyz@127.0.0.1:{}/0", server.port);
    let error = RedisDedupStore::connect(&wrong).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("wrong-pass-xyz"), "{shown}");
    assert!(RedisDedupStore::connect("not a url").await.is_err());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(
        RedisDedupStore::connect(&format!("redis://127.0.0.1:{closed}/"))
            .await
            .is_err()
    );
}

/// A replica whose `webhook.test` handler counts its run, says it started, waits for a permit
/// of `go`, then succeeds (or fails, with `fail`).
fn gated_replica(
    store: RedisDedupStore,
    counts: &Counts,
    go: &Arc<tokio::sync::Semaphore>,
    fail: bool,
) -> (
    Dispatcher<Zernio, ()>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let (counts, go) = (counts.clone(), go.clone());
    let (started, running) = tokio::sync::mpsc::unbounded_channel();
    let service = Webhooks::new(Zernio::new([SECRET]).unwrap())
        .store(store)
        .on(move |_: zernio::WebhookTest, delivery: Delivery| {
            let (counts, go, started) = (counts.clone(), go.clone(), started.clone());
            async move {
                *counts
                    .lock()
                    .unwrap()
                    .entry(delivery.key().to_owned())
                    .or_default() += 1;
                started.send(()).unwrap();
                go.acquire().await.unwrap().forget();
                if fail { Err("handler failed") } else { Ok(()) }
            }
        })
        .build()
        .unwrap();
    (service, running)
}

/// Sends `delivery(id)` to `service`; the answer's status and body.
async fn send_for_body(service: &Dispatcher<Zernio, ()>, id: &str) -> (u16, String) {
    use http_body_util::BodyExt as _;
    let response = service.clone().oneshot(delivery(id)).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_lost_to_a_redis_restart_lands_after_it() {
    let Some(mut server) = RedisServer::start(&[]) else {
        return;
    };
    let counts = Counts::default();
    let go = Arc::new(tokio::sync::Semaphore::new(0));
    let (service, mut running) = gated_replica(store(&server).await, &counts, &go, false);

    // Redis dies while the handler runs, and comes back after the handler succeeded: the
    // commit fails, the delivery is answered 200 (handled), and the commit is retried.
    let first = tokio::spawn({
        let service = service.clone();
        async move { send(&service, "evt_after").await }
    });
    running.recv().await.unwrap();
    server.stop();
    go.add_permits(1);
    assert_eq!(first.await.unwrap(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    // Redis kept nothing: the retried commit takes the key again and marks it handled.
    eventually("the commit lands after the restart", || {
        values(server.port).iter().any(|v| v.starts_with("done:"))
    })
    .await;
    assert_eq!(
        send_for_body(&service, "evt_after").await,
        (200, r#"{"status":"duplicate"}"#.to_owned())
    );
    assert_eq!(
        count(&counts, "evt_after"),
        1,
        "the handler did not run again"
    );

    // Redis dies and comes back while the handler runs: the commit finds no key to commit.
    let second = tokio::spawn({
        let service = service.clone();
        async move { send(&service, "evt_during").await }
    });
    running.recv().await.unwrap();
    server.stop();
    server.restart();
    go.add_permits(1);
    assert_eq!(second.await.unwrap(), 200);
    eventually("the commit lands on the restarted Redis", || {
        let values = values(server.port);
        !values.is_empty() && values.iter().all(|v| v.starts_with("done:"))
    })
    .await;
    assert_eq!(
        send_for_body(&service, "evt_during").await,
        (200, r#"{"status":"duplicate"}"#.to_owned())
    );
    assert_eq!(
        count(&counts, "evt_during"),
        1,
        "the handler did not run again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_stalled_with_a_cold_script_cache_lands() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let counts = Counts::default();
    let go = Arc::new(tokio::sync::Semaphore::new(0));
    let store = store(&server).await.op_timeout(Duration::from_millis(200));
    let (service, mut running) = gated_replica(store, &counts, &go, false);

    let first = tokio::spawn({
        let service = service.clone();
        async move { send(&service, "evt_cold").await }
    });
    running.recv().await.unwrap();
    // Redis forgets its scripts, then hangs while the commit is sent: the commit times out,
    // and when Redis resumes, its `EVALSHA` only finds `NOSCRIPT`.
    assert_eq!(command(server.port, &["SCRIPT", "FLUSH"]).unwrap(), "OK");
    server.signal("STOP");
    go.add_permits(1);
    assert_eq!(first.await.unwrap(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("CONT");
    eventually("the commit lands", || {
        values(server.port).iter().any(|v| v.starts_with("done:"))
    })
    .await;
    assert_eq!(
        send_for_body(&service, "evt_cold").await,
        (200, r#"{"status":"duplicate"}"#.to_owned())
    );
    assert_eq!(count(&counts, "evt_cold"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_stalled_with_a_cold_script_cache_lands() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let counts = Counts::default();
    let go = Arc::new(tokio::sync::Semaphore::new(0));
    let store = store(&server).await.op_timeout(Duration::from_millis(200));
    let (service, mut running) = gated_replica(store, &counts, &go, true);

    let first = tokio::spawn({
        let service = service.clone();
        async move { send(&service, "evt_fails").await }
    });
    running.recv().await.unwrap();
    assert_eq!(command(server.port, &["SCRIPT", "FLUSH"]).unwrap(), "OK");
    server.signal("STOP");
    go.add_permits(1);
    assert_eq!(first.await.unwrap(), 500);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("CONT");
    // Released: the provider's retry is handled now, not after the 60 s lease.
    eventually("the release lands", || values(server.port).is_empty()).await;
    go.add_permits(1);
    assert_eq!(send(&service, "evt_fails").await, 500);
    assert_eq!(count(&counts, "evt_fails"), 2);
}

/// `number_of_cached_scripts` from `INFO memory`.
fn cached_scripts(port: u16) -> usize {
    let info = command(port, &["INFO", "memory"]).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("number_of_cached_scripts:"))
        .expect("INFO memory lists the cached scripts")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn scripts_are_loaded_at_connect_and_after_a_flush() {
    let Some(server) = RedisServer::start(&[]) else {
        return;
    };
    let store = store(&server).await;
    assert_eq!(cached_scripts(server.port), 3, "loaded at connect");
    let key = DedupKey::new("zernio", None, "evt_flush");
    let lease = acquired(store.claim(&key, LEASE).await.unwrap());
    assert_eq!(command(server.port, &["SCRIPT", "FLUSH"]).unwrap(), "OK");
    assert_eq!(cached_scripts(server.port), 0);
    assert!(store.commit(&key, lease, TTL).await.unwrap());
    assert_eq!(store.claim(&key, LEASE).await.unwrap(), Claim::Done);
    eventually("all three scripts are loaded again", || {
        cached_scripts(server.port) == 3
    })
    .await;
}
