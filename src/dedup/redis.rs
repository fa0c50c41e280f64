//! [`RedisDedupStore`]: the dedup store shared by several replicas, in Redis (feature `redis`).
//!
//! Built on the [`redis`] crate, the Redis project's own Rust client (maintained, tokio support),
//! and its [`ConnectionManager`]: a multiplexed connection that re-establishes itself after the
//! server went away, so the app never needs a restart after a Redis outage. Its features are
//! `tokio-comp` (the runtime), `connection-manager` and `script` (the scripts' SHA-1 for
//! `EVALSHA`); default features are off, so no TLS and no cluster client are built.
//!
//! The protocol, the failure semantics and what Redis persistence means for dedup are on the
//! type (this module is private).

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher as _, Hasher as _},
    sync::{
        Arc, LazyLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::time::error::Elapsed;

use redis::{
    Client, ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{Claim, DedupError, DedupKey, DedupStore, Lease, StoreFuture};

/// Default key prefix.
const DEFAULT_PREFIX: &str = "hookgate:";
/// Default bound on one operation: well under the providers' delivery timeouts (Zernio 5 s,
/// Ayrshare 10 s), so a slow Redis gives a quick 503 rather than a timed-out delivery.
const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on [`RedisDedupStore::connect`] as a whole.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest expiry sent to Redis (100 years in ms): Redis refuses expiries past `i64::MAX` ms.
const MAX_EXPIRY_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `KEYS[1]` the key, `ARGV[1]` the caller's token, `ARGV[2]` the lease in ms.
/// Returns `{0, 0}` acquired, `{1, 0}` done, `{2, pttl}` in flight.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, 0}
end
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  return {0, 0}
end
if string.sub(held, 1, 5) == 'done:' then
  return {1, 0}
end
return {2, redis.call('PTTL', KEYS[1])}
";

/// `KEYS[1]` the key, `ARGV[1]` the caller's token, `ARGV[2]` the TTL in ms.
/// Returns 1 when the caller held the key (now done), else 0.
const COMMIT: &str = r"
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
if held == 'done:' .. ARGV[1] then
  return 1
end
return 0
";

/// `KEYS[1]` the key, `ARGV[1]` the caller's token. Returns 1 when the caller held the key (now
/// deleted), else 0.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A Lua script: its source (for `EVAL` and `SCRIPT LOAD`) and its SHA-1 (for `EVALSHA`).
struct Lua {
    source: &'static str,
    script: Script,
}

impl Lua {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            script: Script::new(source),
        }
    }
}

/// The three scripts, hashed once per process.
struct Scripts {
    claim: Lua,
    commit: Lua,
    release: Lua,
}

impl Scripts {
    fn all(&self) -> [&Lua; 3] {
        [&self.claim, &self.commit, &self.release]
    }
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    claim: Lua::new(CLAIM),
    commit: Lua::new(COMMIT),
    release: Lua::new(RELEASE),
});

/// A [`DedupStore`] in Redis: the store to use when the app runs as several replicas behind a
/// load balancer, so that a retry or a duplicate landing on another replica than the first
/// attempt is still recognised and every delivery is handled once across all of them.
/// A single process is better served by the in-memory
/// [`MemoryStore`](crate::dedup::MemoryStore), which needs no server and no network round trip.
///
/// Every replica connects its own store to the same Redis (one primary; Redis Cluster is not
/// supported) with the same [`prefix`](Self::prefix).
///
/// # Protocol
///
/// Every operation is one round trip (an `EVALSHA` of a small Lua script) and atomic in Redis.
/// The scripts are loaded when the store connects (`SCRIPT LOAD`); when Redis lost them since
/// (a restart, `SCRIPT FLUSH`, a failover) and answers `NOSCRIPT`, the operation is sent again
/// with the script's source (`EVAL`: still one atomic step, so never half done) and the
/// scripts are loaded again in the background.
///
/// - **claim**: `SET key <token> NX PX <lease>`; when the key exists, the same script reads what
///   is there: the done marker ([`Claim::Done`]), or another holder's token and its remaining
///   `PTTL` ([`Claim::InFlight`], whose `retry_after` is that PTTL).
/// - **commit**: compare-and-set: only if the key still holds the caller's token does its value
///   become the done marker, with the long TTL (`PX <ttl>`).
/// - **release**: compare-and-delete: only if the key still holds the caller's token.
///
/// So a replica whose lease ran out, and whose key another replica has claimed since, can never
/// commit or release that other replica's claim: it gets `Ok(false)`. Tokens are random 64-bit
/// numbers, one per claim, never repeated by one store.
///
/// Keys are `<prefix><provider>:<32 hex digits of the key digest>` (see
/// [`redis_key`](Self::redis_key)), e.g. `hookgate:zernio:3f9a…`; the value is the holder's
/// token in decimal while in flight, `done:<token>` once handled.
///
/// # Failures
///
/// Redis unreachable, too slow (past [`op_timeout`](Self::op_timeout), 1 s by default) or
/// answering an error gives a [`DedupError`]: the pipeline answers 503 without calling the
/// handler (fail closed: the provider retries, nothing is lost). After a connection error the
/// operation is tried once more, within the same timeout, on the connection the manager is
/// re-establishing, so the first delivery after Redis came back is handled rather than refused,
/// without restarting the app. That second try is safe even when the first reached Redis and
/// only its answer was lost: a claim finding its own token is acquired, a commit finding its own
/// done marker succeeds. A claim that timed out may still reach a stalled Redis later and take
/// the key; the store then releases it in the background (by its token), so the key does not
/// stay in flight for a whole lease with nobody handling it.
///
/// A commit or release that fails after the handler ran is not dropped: the pipeline answers
/// the delivery (200 once the handler succeeded) and retries the commit or release in the
/// background until Redis answers (for about two minutes, with backoff). A commit that finds
/// its key gone (Redis restarted without persistence during the delivery) claims the key again
/// and commits it, so a retry of the delivery is answered 200 duplicate without running the
/// handler again. See [`DedupStore`]'s guarantees.
///
/// # Persistence
///
/// Dedup is only as durable as Redis is. A Redis restart without persistence (no AOF; or RDB
/// snapshots only, which lose the writes since the last snapshot) forgets the handled keys: a
/// provider retry or a replay of such a delivery after the restart runs its handler again. Run
/// Redis with `appendonly yes` (and `appendfsync everysec`, losing at most about a second) when
/// handling an event twice matters. Likewise, a failover to a replica can lose the last writes
/// (replication is asynchronous), and an eviction policy other than `noeviction` lets Redis drop
/// keys under memory pressure (with `noeviction`, a full Redis answers errors: 503, fail closed).
/// Keys expire by themselves: in-flight claims after their lease, handled keys after the dedup
/// TTL (the provider's retry horizon, 72 h for Zernio by default). A handled key takes about
/// 200 bytes of Redis memory (measured with Redis 7.0 and the default prefix): 10 000 deliveries
/// an hour kept for 72 h is about 150 MB.
///
/// # Example
///
/// The same code runs on every replica, all pointing at one Redis; a delivery that reaches
/// several of them (a retry, a duplicate) is handled by one. `examples/redis_replicas.rs` runs
/// two replicas against a local Redis and shows it.
///
/// ```no_run
/// use hookgate::{Delivery, Webhooks, dedup::RedisDedupStore, zernio};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisDedupStore::connect("redis://:my-password@10.0.0.5:6379/0")
///     .await?
///     .prefix("myapp:dedup:");
/// let webhooks = Webhooks::new(zernio::Zernio::new(["current-secret"])?)
///     .store(store)
///     .on(|event: zernio::PostPublished, delivery: Delivery| async move {
///         println!("{}: handled once across all replicas: {event:?}", delivery.key());
///     })
///     .build()?;
/// let app = axum::Router::new().route_service("/webhooks/zernio", webhooks);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisDedupStore {
    manager: ConnectionManager,
    prefix: String,
    op_timeout: Duration,
    tokens: Arc<Tokens>,
    /// Set while the scripts are being loaded again in the background (after a `NOSCRIPT`).
    reloading: Arc<AtomicBool>,
    /// Where the store connects, without credentials (for `Debug`).
    target: Option<String>,
}

impl RedisDedupStore {
    /// Connects to the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`, or
    /// `redis+unix:///path`; TLS is not built in) and checks that it answers.
    ///
    /// The [`ConnectionManager`] is set up to fail fast and recover by itself: each connection
    /// attempt times out after 500 ms, a command after 1 s, and a broken connection is
    /// re-established with two attempts 50–250 ms apart each time an operation needs it (not
    /// once and then never again). To tune these, build a manager yourself and use
    /// [`from_manager`](Self::from_manager).
    ///
    /// The scripts are loaded into Redis at once (`SCRIPT LOAD`), so that the first deliveries
    /// need one round trip each.
    ///
    /// Errors when the URL is invalid or Redis does not answer (within 3 s at most).
    pub async fn connect(url: &str) -> Result<Self, DedupError> {
        let client = Client::open(url)
            .map_err(|error| DedupError::with_source("invalid Redis URL", error))?;
        let target = describe(&client);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(DEFAULT_OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250));
        let connected = async {
            let manager = ConnectionManager::new_with_config(client, config).await?;
            let store = Self::from_manager(manager);
            store.load_scripts().await?;
            Ok::<_, RedisError>(store)
        };
        let mut store = tokio::time::timeout(CONNECT_TIMEOUT, connected)
            .await
            .map_err(|_| DedupError::new(format!("connecting to Redis at {target} timed out")))?
            .map_err(|error| {
                DedupError::with_source(format!("cannot connect to Redis at {target}"), error)
            })?;
        store.target = Some(target);
        Ok(store)
    }

    /// Loads the three scripts into Redis's script cache (`SCRIPT LOAD`, one round trip), so
    /// that every operation is a single `EVALSHA`.
    async fn load_scripts(&self) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        for lua in SCRIPTS.all() {
            pipe.cmd("SCRIPT").arg("LOAD").arg(lua.source);
        }
        let _: Vec<String> = pipe.query_async(&mut self.manager.clone()).await?;
        Ok(())
    }

    /// Loads the scripts again in the background (at most one such load at a time), within the
    /// connect timeout: Redis answered `NOSCRIPT`, so it lost its script cache (a restart, a
    /// `SCRIPT FLUSH`, a failover to a replica).
    fn reload_scripts(&self) {
        if self.reloading.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, store.load_scripts()).await {
                Ok(Ok(())) => tracing::debug!("Redis scripts loaded again"),
                Ok(Err(error)) => tracing::debug!(%error, "loading the Redis scripts failed"),
                Err(_) => tracing::debug!("loading the Redis scripts timed out"),
            }
            store.reloading.store(false, Ordering::Release);
        });
    }

    /// A store on a connection manager you configured (timeouts, retries, credentials). Keep
    /// its response timeout at or below [`op_timeout`](Self::op_timeout), and its number of
    /// reconnection retries small, so that an outage gives quick 503s. The scripts are loaded
    /// on first use (Redis answers the first `EVALSHA` with `NOSCRIPT`; see "Protocol").
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            manager,
            prefix: DEFAULT_PREFIX.to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            tokens: Arc::new(Tokens::new()),
            reloading: Arc::new(AtomicBool::new(false)),
            target: None,
        }
    }

    /// The prefix of every key (default `hookgate:`). Replicas that must see each other's
    /// deliveries use the same prefix; apps sharing one Redis use different ones.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one claim, commit or release may take, reconnection included (default 1 s);
    /// past it, the operation fails (a claim then answers 503). Keep it well under the
    /// providers' delivery timeouts (Zernio 5 s, Ayrshare 10 s).
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// The Redis key that holds `key`: `<prefix><provider>:<hex digest>`.
    pub fn redis_key(&self, key: &DedupKey) -> String {
        let mut name = String::with_capacity(self.prefix.len() + key.provider().len() + 33);
        name.push_str(&self.prefix);
        name.push_str(key.provider());
        name.push(':');
        name.push_str(&key.to_hex());
        name
    }

    /// Runs `lua` on `key` with `args`, within `timeout`, retried once after a connection
    /// error (the scripts are idempotent for the caller's token).
    async fn run<T: FromRedisValue>(
        &self,
        lua: &Lua,
        key: &DedupKey,
        args: [u64; 2],
        timeout: Duration,
    ) -> Result<RedisResult<T>, Elapsed> {
        let name = self.redis_key(key);
        let mut connection = self.manager.clone();
        let attempt = async {
            match self.eval(lua, &name, args, &mut connection).await {
                // The manager is re-establishing the connection: try once more on the new one.
                Err(error) if is_connection_error(&error) => {
                    tracing::debug!(%error, "Redis connection error; trying once more");
                    self.eval(lua, &name, args, &mut connection).await
                }
                result => result,
            }
        };
        tokio::time::timeout(timeout, attempt).await
    }

    /// `EVALSHA` of `lua`; when Redis lost its script cache (`NOSCRIPT`), the source itself
    /// with `EVAL`: one more round trip, but one atomic step, so an operation is never left
    /// half done between loading the script and running it (as a timeout could leave the
    /// `redis` crate's own fallback, `SCRIPT LOAD` then `EVALSHA`). The scripts are then loaded
    /// again in the background.
    async fn eval<T: FromRedisValue>(
        &self,
        lua: &Lua,
        name: &str,
        args: [u64; 2],
        connection: &mut ConnectionManager,
    ) -> RedisResult<T> {
        let command = |verb: &str, script: &str| {
            let mut command = redis::cmd(verb);
            command
                .arg(script)
                .arg(1)
                .arg(name)
                .arg(args[0])
                .arg(args[1]);
            command
        };
        match command("EVALSHA", lua.script.get_hash())
            .query_async(connection)
            .await
        {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                tracing::debug!("Redis lost its scripts; running the source");
                self.reload_scripts();
                command("EVAL", lua.source).query_async(connection).await
            }
            result => result,
        }
    }

    /// [`run`](Self::run) within the op timeout, failures as [`DedupError`]s.
    async fn op<T: FromRedisValue>(
        &self,
        op: &'static str,
        script: &Lua,
        key: &DedupKey,
        args: [u64; 2],
    ) -> Result<T, DedupError> {
        match self.run(script, key, args, self.op_timeout).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(failed(op, error)),
            Err(_) => Err(self.timed_out(op)),
        }
    }

    fn timed_out(&self, op: &str) -> DedupError {
        DedupError::new(format!("Redis {op} timed out after {:?}", self.op_timeout))
    }

    /// A claim that timed out may still reach Redis (a stalled server answers later) and take
    /// the key for a whole lease, though nobody holds it: release its token in the background
    /// (compare-and-delete, so nothing else is touched), giving up once the lease is over.
    fn abandon(&self, key: DedupKey, token: u64, lease: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            if let Ok(Ok(1)) = store
                .run::<i64>(&SCRIPTS.release, &key, [token, 0], lease)
                .await
            {
                tracing::debug!(?key, "released a claim whose answer came too late");
            }
        });
    }
}

fn failed(op: &str, error: RedisError) -> DedupError {
    DedupError::with_source(format!("Redis {op} failed"), error)
}

/// Errors after which the manager reconnects, and a second try may succeed.
fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}

/// Where `client` connects, without credentials.
fn describe(client: &Client) -> String {
    let info = client.get_connection_info();
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

/// A duration in whole milliseconds as Redis accepts it for `PX`: at least 1, at most 100 years.
fn expiry_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_EXPIRY_MS)
}

impl fmt::Debug for RedisDedupStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisDedupStore")
            .field("target", &self.target.as_deref().unwrap_or("(manager)"))
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

impl DedupStore for RedisDedupStore {
    fn claim<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>> {
        StoreFuture::boxed(async move {
            let token = self.tokens.next();
            let args = [token, expiry_ms(lease)];
            let (state, pttl): (i64, i64) =
                match self.run(&SCRIPTS.claim, key, args, self.op_timeout).await {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(error)) => return Err(failed("claim", error)),
                    Err(_) => {
                        self.abandon(*key, token, lease);
                        return Err(self.timed_out("claim"));
                    }
                };
            match state {
                0 => Ok(Claim::Acquired(Lease::new(token))),
                1 => Ok(Claim::Done),
                2 => Ok(Claim::InFlight {
                    // A key without expiry (not one of ours) cannot say: assume a whole lease.
                    retry_after: u64::try_from(pttl)
                        .ok()
                        .filter(|&ms| ms > 0)
                        .map_or(lease, Duration::from_millis),
                }),
                other => Err(DedupError::new(format!(
                    "Redis claim: unexpected answer {other}"
                ))),
            }
        })
    }

    fn commit<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::boxed(async move {
            let held: i64 = self
                .op(
                    "commit",
                    &SCRIPTS.commit,
                    key,
                    [lease.token(), expiry_ms(ttl)],
                )
                .await?;
            Ok(held == 1)
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::boxed(async move {
            let held: i64 = self
                .op("release", &SCRIPTS.release, key, [lease.token(), 0])
                .await?;
            Ok(held == 1)
        })
    }
}

/// Lease tokens: a random per-store seed (from the standard library's randomly keyed hasher, no
/// extra dependency) and a counter, mixed by SplitMix64. Within one store the tokens never
/// repeat (a bijection of distinct counter values); between replicas they differ with
/// overwhelming probability, and a token only has to differ from the other holders' of the
/// same key.
struct Tokens {
    seed: u64,
    counter: AtomicU64,
}

impl Tokens {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        Self {
            seed: hasher.finish(),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut z = self.seed.wrapping_add(n.wrapping_mul(Self::GAMMA));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_do_not_repeat_and_differ_between_stores() {
        let a = Tokens::new();
        let b = Tokens::new();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(a.next()));
            assert!(seen.insert(b.next()));
        }
    }

    #[test]
    fn expiries_fit_redis() {
        assert_eq!(expiry_ms(Duration::ZERO), 1);
        assert_eq!(expiry_ms(Duration::from_micros(1500)), 1);
        assert_eq!(expiry_ms(Duration::from_secs(2)), 2000);
        assert_eq!(expiry_ms(Duration::MAX), MAX_EXPIRY_MS);
    }
}
