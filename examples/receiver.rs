//! The receiver: hookgate's main job, on localhost.
//!
//! ```text
//! ZERNIO_WEBHOOK_SECRET=dev-secret cargo run --example receiver
//! ```
//!
//! Environment (the interface other tools drive; keep it as it is):
//!
//! - `HOOKGATE_ADDR`: listen address, default `127.0.0.1:3000`.
//! - `ZERNIO_WEBHOOK_SECRET`, `AYRSHARE_WEBHOOK_SECRET`, `STANDARD_WEBHOOK_SECRET`: each a
//!   comma-separated list of secrets, current first (Standard Webhooks secrets as `whsec_…`).
//!   A provider whose variable is unset is not mounted; the receiver says so on stderr.
//! - Built-in senders, each mounted at `POST /webhooks/<name>` when its variable is set (a
//!   comma-separated list, current first): `GITHUB_WEBHOOK_SECRET` (github),
//!   `STRIPE_WEBHOOK_SECRET` (stripe), `SHOPIFY_WEBHOOK_SECRET` (shopify), `SLACK_SIGNING_SECRET`
//!   (slack), `PADDLE_WEBHOOK_SECRET` (paddle), `LINEAR_WEBHOOK_SECRET` (linear),
//!   `SQUARE_SIGNATURE_KEY` (square), `ZOOM_WEBHOOK_SECRET` (zoom), `DISCORD_PUBLIC_KEY` (discord,
//!   hex) and `TWILIO_AUTH_TOKEN` (twilio). Square and Twilio sign the URL they post to:
//!   `HOOKGATE_PUBLIC_URL` (e.g. `https://example.com`, the route's path is appended); unset, it
//!   is `http://` + `HOOKGATE_ADDR`.
//! - `HOOKGATE_REDIS_URL`: when set (build with `--features redis`), the dedup store is Redis,
//!   shared by every receiver pointing at it; otherwise an in-memory LRU.
//! - `HOOKGATE_QUIET=1`: no per-event lines.
//! - `HOOKGATE_INBOX`: unset, handlers run inline. `sqlite:PATH`: a durable inbox in the SQLite
//!   file PATH (created when absent; reopened with everything it held after a restart or a
//!   SIGKILL). `postgres://USER@HOST:PORT/DB`: the inbox lives in PostgreSQL, shared by every
//!   receiver pointing at it. Deliveries are answered 202 once stored (200 when already there),
//!   503 with `Retry-After` when the inbox is unreachable or full; workers handle them after.
//!   Build with `--all-features` (features `inbox-sqlite`, `inbox-postgres`).
//! - `HOOKGATE_FORWARD_URL`, `HOOKGATE_FORWARD_SECRET` (`whsec_…`): every event's handler
//!   forwards it (`POST`, raw body, Standard Webhooks headers signed with that secret,
//!   `webhook-id` = the dedup key, plus `hookgate-provider` and `hookgate-event`); only a 2xx
//!   answer is a success (feature `forward`).
//! - `HOOKGATE_HANDLER_TIMEOUT`: how long a handler (and a forward) may take, e.g. `2s` or
//!   `500ms` (units `ms`, `s`, `m`, `h`); default 30 s.
//! - `HOOKGATE_RETRY_DELAYS` (inbox only): delays before the 2nd, 3rd, ... attempt of a failed
//!   event, e.g. `200ms,1s,5s`, used exactly (no jitter): at most 1 + n attempts, then the
//!   event is dead (kept, never retried by itself). Default: 18 retries from 15 s doubling up
//!   to 4 h, ±20 % jitter, about 36 h in all.
//! - `HOOKGATE_WORKERS` (inbox only): how many events this process handles at once (default
//!   8). An event claimed by a process that died is taken over within the handler timeout plus
//!   10 s.
//!
//! Routes: `POST /webhooks/zernio`, `POST /webhooks/ayrshare`, `POST /webhooks/standard`,
//! `POST /webhooks/<sender>` for the built-in senders above, `GET /healthz`, and `GET /metrics` (Prometheus text) when built with feature `metrics`.
//! Every delivery that reaches a handler prints one JSON line on stdout:
//! `{"provider":"zernio","event":"post.published","key":"<dedup key>","typed":true}`; `typed`
//! is false when the event took the unknown path. The line is printed once each time a handler
//! succeeds (with forwarding: after the forward got a 2xx), never for a failed attempt. Logs go
//! to stderr (`RUST_LOG` filters them).
//!
//! Served with hyper's HTTP/1.1 connection builder rather than `axum::serve`, for one setting
//! `axum::serve` does not expose: a **header read timeout** (10 s, [`HEADER_READ_TIMEOUT`]), so
//! that a client sending its request headers byte by byte cannot hold a connection (and its
//! task) forever; hyper enforces it with `hyper_util::rt::TokioTimer`. The body has its own
//! read timeout in hookgate. Ctrl-C stops accepting and lets open connections finish (for at
//! most [`SHUTDOWN_GRACE`]). Needs hyper-util's `server`, `http1`, `service` and
//! `server-graceful` features.

use std::{future::Future, io::Write as _, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use hookgate::{
    Delivery, Dispatcher, Webhooks,
    dedup::{DedupStore, MemoryStore},
    event::UnknownEvent,
    provider::Provider,
};

/// Prints one JSON line per dispatched event (unless quiet), to stdout or, in tests, to a
/// buffer.
#[derive(Clone)]
struct Printer {
    quiet: bool,
    sink: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
}

impl Printer {
    fn print(&self, delivery: &Delivery, typed: bool) {
        if self.quiet {
            return;
        }
        let line = Line {
            provider: delivery.provider(),
            event: delivery.event(),
            key: delivery.key(),
            typed,
        };
        let mut text = serde_json::to_vec(&line).expect("a line serializes");
        text.push(b'\n');
        match &self.sink {
            Some(sink) => sink.lock().unwrap().extend_from_slice(&text),
            None => {
                let _ = std::io::stdout().lock().write_all(&text);
            }
        }
    }
}

/// One stdout line, fields in this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    provider: &'a str,
    event: &'a str,
    key: &'a str,
    typed: bool,
}

/// What every handler does: forward (when configured), then print the line.
#[derive(Clone)]
struct App {
    printer: Printer,
    forward: Option<Forwarder>,
}

impl App {
    async fn handle(self, delivery: Delivery, typed: bool) -> Result<(), hookgate::BoxError> {
        if let Some(forward) = &self.forward {
            // As `Forward`'s handler does: a header that cannot be sent is a permanent failure
            // (straight to dead), not one to retry for a day.
            forward.send(&delivery).await.map_err(|error| match error {
                #[cfg(feature = "forward")]
                error @ hookgate::inbox::ForwardError::InvalidHeader(_) => {
                    hookgate::inbox::Permanent::new(error).into()
                }
                error => hookgate::BoxError::from(error),
            })?;
        }
        self.printer.print(&delivery, typed);
        Ok(())
    }
}

#[cfg(feature = "forward")]
type Forwarder = hookgate::inbox::Forward;

/// Without the `forward` feature there is nothing to forward with (`forwarder` refuses).
#[cfg(not(feature = "forward"))]
#[derive(Clone)]
enum Forwarder {}

#[cfg(not(feature = "forward"))]
impl Forwarder {
    async fn send(&self, _: &Delivery) -> Result<(), hookgate::BoxError> {
        match *self {}
    }
}

/// The forwarding handler from `HOOKGATE_FORWARD_URL` / `HOOKGATE_FORWARD_SECRET`.
fn forwarder(timeout: Option<std::time::Duration>) -> Option<Forwarder> {
    let url = std::env::var("HOOKGATE_FORWARD_URL").ok()?;
    let Ok(secret) = std::env::var("HOOKGATE_FORWARD_SECRET") else {
        fail("HOOKGATE_FORWARD_URL is set without HOOKGATE_FORWARD_SECRET")
    };
    #[cfg(feature = "forward")]
    {
        let forward = hookgate::inbox::Forward::new(&url, &secret)
            .unwrap_or_else(|e| fail(format_args!("HOOKGATE_FORWARD_URL/SECRET: {e}")));
        eprintln!(
            "hookgate receiver: forwarding every event to {}",
            without_password(&url)
        );
        Some(match timeout {
            Some(timeout) => forward.timeout(timeout),
            None => forward,
        })
    }
    #[cfg(not(feature = "forward"))]
    {
        let _ = (url, secret, timeout);
        fail(
            "HOOKGATE_FORWARD_URL is set but this build has no forwarding: run with --all-features",
        )
    }
}

/// The settings every dispatcher shares.
#[derive(Clone)]
struct Settings {
    store: Arc<dyn DedupStore>,
    handler_timeout: Option<std::time::Duration>,
    inbox: inbox::Choice,
}

impl Settings {
    fn apply<P: Provider>(&self, webhooks: Webhooks<P, App>) -> Webhooks<P, App> {
        let mut webhooks = webhooks.store(self.store.clone());
        if let Some(timeout) = self.handler_timeout {
            // The claim outlasts the handler: at least the default lease, and 30 s more than a
            // longer timeout.
            let lease = hookgate::DEFAULT_LEASE.max(timeout + std::time::Duration::from_secs(30));
            webhooks = webhooks.handler_timeout(Some(timeout)).lease(lease);
        }
        self.inbox.apply(webhooks)
    }
}

/// Every event of the provider's catalogue goes to one typed handler; the rest (unknown names,
/// drifted payloads) to the fallback.
fn catalogue<P: Provider>(provider: P, settings: &Settings, app: App) -> Dispatcher<P, App> {
    settings
        .apply(Webhooks::with_state(provider, app))
        .on(|_: P::Event, delivery: Delivery, app: App| app.handle(delivery, true))
        .fallback(untyped)
        .build()
        .expect("one handler per event")
}

/// The fallback: unknown names and payloads that did not fit their model.
async fn untyped(_: UnknownEvent, delivery: Delivery, app: App) -> Result<(), hookgate::BoxError> {
    app.handle(delivery, false).await
}

#[cfg(feature = "forward")]
/// `url` without a password (`scheme://user:secret@host` → `scheme://user:***@host`), for
/// messages.
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

/// `2s`, `500ms`, `1m`, `1h`.
fn duration(var: &str, text: &str) -> std::time::Duration {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        fail(format_args!(
            "{var}: `{text}` is not a duration like 2s or 500ms"
        ))
    };
    let seconds = |per: u64| number.checked_mul(per).map(std::time::Duration::from_secs);
    let duration = match unit {
        "ms" => Some(std::time::Duration::from_millis(number)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => fail(format_args!(
            "{var}: `{text}` is not a duration like 2s or 500ms"
        )),
    };
    match duration {
        // A week at most: longer is a typo, and would overflow the clock's arithmetic.
        Some(duration) if duration <= MAX_DURATION => duration,
        _ => fail(format_args!("{var}: `{text}` is longer than a week")),
    }
}

/// The longest duration a variable takes.
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The built-in senders (`hookgate::generic::presets`), each at `POST /webhooks/<name>` when its
/// variable is set: `GITHUB_WEBHOOK_SECRET`, `STRIPE_WEBHOOK_SECRET`, `SHOPIFY_WEBHOOK_SECRET`,
/// `SLACK_SIGNING_SECRET`, `PADDLE_WEBHOOK_SECRET`, `LINEAR_WEBHOOK_SECRET`,
/// `SQUARE_SIGNATURE_KEY`, `ZOOM_WEBHOOK_SECRET`, `DISCORD_PUBLIC_KEY` (hex) and
/// `TWILIO_AUTH_TOKEN`, each a comma-separated list (current first). Square and Twilio sign the
/// URL they post to: `HOOKGATE_PUBLIC_URL` (e.g. `https://example.com`) + the route; unset, it
/// is `http://` + `HOOKGATE_ADDR` (what a local sender posts to), said on stderr.
mod presets {
    use axum::Router;
    use hookgate::{
        Delivery, Webhooks,
        generic::{self, Builder, Generic, Sender, presets},
    };

    use super::{App, Env, Settings, fail, inbox, secrets, untyped};

    /// Mounts every preset whose variable is set.
    pub(super) fn mount(
        router: Router,
        settings: &Settings,
        app: &App,
        pool: &mut inbox::Pool,
        env: Env<'_>,
    ) -> Router {
        let public = |route: &str| match env("HOOKGATE_PUBLIC_URL") {
            Some(base) => format!("{}{route}", base.trim_end_matches('/')),
            None => {
                let addr = env("HOOKGATE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
                let url = format!("http://{addr}{route}");
                eprintln!(
                    "hookgate receiver: HOOKGATE_PUBLIC_URL is not set; {route} verifies signatures over {url}"
                );
                url
            }
        };
        let mut mounter = Mounter {
            router,
            settings,
            app,
            pool,
            env,
        };
        mounter.add("GITHUB_WEBHOOK_SECRET", presets::github);
        mounter.add("STRIPE_WEBHOOK_SECRET", presets::stripe);
        mounter.add("SHOPIFY_WEBHOOK_SECRET", presets::shopify);
        mounter.add("SLACK_SIGNING_SECRET", presets::slack);
        mounter.add("PADDLE_WEBHOOK_SECRET", presets::paddle);
        mounter.add("LINEAR_WEBHOOK_SECRET", presets::linear);
        mounter.add("SQUARE_SIGNATURE_KEY", || {
            presets::square(&public("/webhooks/square"))
        });
        mounter.add("ZOOM_WEBHOOK_SECRET", presets::zoom);
        mounter.add("DISCORD_PUBLIC_KEY", presets::discord);
        mounter.add("TWILIO_AUTH_TOKEN", || {
            presets::twilio(&public("/webhooks/twilio"))
        });
        mounter.router
    }

    struct Mounter<'a> {
        router: Router,
        settings: &'a Settings,
        app: &'a App,
        pool: &'a mut inbox::Pool,
        env: Env<'a>,
    }

    impl Mounter<'_> {
        /// `POST /webhooks/<name>` for the sender `S` when `var` is set: every JSON body to one
        /// untyped handler (`typed: true`), other bodies (forms) to the fallback.
        fn add<S: Sender>(&mut self, var: &str, builder: impl FnOnce() -> Builder<S>) {
            let route = format!("/webhooks/{}", S::NAME);
            let Some(secrets) = secrets(self.env, var, &route) else {
                return;
            };
            let provider: Generic<S> = builder()
                .secrets(&secrets)
                .unwrap_or_else(|e| fail(format_args!("{var}: {e}")));
            let dispatcher = self
                .settings
                .apply(Webhooks::with_state(provider, self.app.clone()))
                .on_any(|_: generic::Event, delivery: Delivery, app: App| {
                    app.handle(delivery, true)
                })
                .fallback(untyped)
                .build()
                .expect("one catch-all handler");
            self.pool.add(&dispatcher);
            let router = std::mem::take(&mut self.router);
            self.router = router.route_service(&route, dispatcher);
        }
    }
}

/// The inbox from `HOOKGATE_INBOX`, its retry schedule and its workers.
mod inbox {
    use hookgate::{Webhooks, provider::Provider};

    use super::{App, fail};

    /// The inbox this receiver stores into, if any.
    #[derive(Clone)]
    pub(super) enum Choice {
        Inline,
        #[cfg(feature = "inbox-sqlite")]
        Sqlite(hookgate::inbox::SqliteInbox, hookgate::inbox::RetrySchedule),
        #[cfg(feature = "inbox-postgres")]
        Postgres(
            hookgate::inbox::PostgresInbox,
            hookgate::inbox::RetrySchedule,
        ),
    }

    impl Choice {
        pub(super) async fn from_env() -> Self {
            let Ok(url) = std::env::var("HOOKGATE_INBOX") else {
                return Self::Inline;
            };
            #[cfg(any(feature = "inbox-sqlite", feature = "inbox-postgres"))]
            let retry = match std::env::var("HOOKGATE_RETRY_DELAYS") {
                Ok(list) => hookgate::inbox::RetrySchedule::Fixed(
                    // Every entry a duration: an empty list or entry is a typo, not "no retry".
                    list.split(',')
                        .map(|s| super::duration("HOOKGATE_RETRY_DELAYS", s))
                        .collect(),
                ),
                Err(_) => hookgate::inbox::RetrySchedule::default(),
            };
            if url.starts_with("sqlite:") {
                #[cfg(feature = "inbox-sqlite")]
                {
                    let inbox = hookgate::inbox::SqliteInbox::open_url(&url)
                        .await
                        .unwrap_or_else(|e| fail(format_args!("HOOKGATE_INBOX: {e}")));
                    eprintln!("hookgate receiver: inbox is SQLite ({url})");
                    return Self::Sqlite(inbox, retry);
                }
                #[cfg(not(feature = "inbox-sqlite"))]
                fail(
                    "HOOKGATE_INBOX is sqlite: but this build has no SQLite inbox: run with --all-features",
                )
            }
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                #[cfg(feature = "inbox-postgres")]
                {
                    let inbox = hookgate::inbox::PostgresInbox::connect(&url)
                        .await
                        .unwrap_or_else(|e| fail(format_args!("HOOKGATE_INBOX: {e}")));
                    eprintln!("hookgate receiver: inbox is PostgreSQL");
                    return Self::Postgres(inbox, retry);
                }
                #[cfg(not(feature = "inbox-postgres"))]
                fail(
                    "HOOKGATE_INBOX is postgres:// but this build has no PostgreSQL inbox: run with --all-features",
                )
            }
            fail("HOOKGATE_INBOX must be sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }

        pub(super) fn apply<P: Provider>(&self, webhooks: Webhooks<P, App>) -> Webhooks<P, App> {
            match self {
                Self::Inline => webhooks,
                #[cfg(feature = "inbox-sqlite")]
                Self::Sqlite(inbox, retry) => {
                    webhooks.inbox(inbox.clone()).retry_schedule(retry.clone())
                }
                #[cfg(feature = "inbox-postgres")]
                Self::Postgres(inbox, retry) => {
                    webhooks.inbox(inbox.clone()).retry_schedule(retry.clone())
                }
            }
        }
    }

    /// One pool of workers for every mounted provider (`HOOKGATE_WORKERS` at once).
    #[derive(Default)]
    pub(super) struct Pool(Option<hookgate::inbox::Workers>);

    impl Pool {
        pub(super) fn add<P: Provider>(&mut self, dispatcher: &hookgate::Dispatcher<P, App>) {
            self.0 = match self.0.take() {
                None => dispatcher.workers(),
                Some(workers) => Some(workers.route(dispatcher)),
            };
        }

        pub(super) fn start(self) -> Option<hookgate::inbox::WorkersHandle> {
            let workers = match std::env::var("HOOKGATE_WORKERS") {
                Ok(n) => match n.trim().parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => fail(format_args!(
                        "HOOKGATE_WORKERS: `{n}` is not a positive number"
                    )),
                },
                Err(_) => hookgate::inbox::DEFAULT_CONCURRENCY,
            };
            Some(self.0?.concurrency(workers).start())
        }
    }
}

/// Reads a variable: the process environment, or a test's.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// The secrets in `var`, or `None` (with a note on stderr) when it is unset.
fn secrets(env: Env<'_>, var: &str, route: &str) -> Option<Vec<String>> {
    match env(var) {
        Some(value) => Some(value.split(',').map(|s| s.trim().to_owned()).collect()),
        None => {
            eprintln!("hookgate receiver: {var} is not set; {route} is not mounted");
            None
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("hookgate receiver: {message}");
    std::process::exit(2)
}

/// How long a client may take to send its request line and headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

async fn store() -> Arc<dyn DedupStore> {
    match std::env::var("HOOKGATE_REDIS_URL") {
        Ok(url) => redis_store(&url).await,
        Err(_) => Arc::new(MemoryStore::new()),
    }
}

#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Arc<dyn DedupStore> {
    match hookgate::dedup::RedisDedupStore::connect(url).await {
        Ok(store) => {
            eprintln!("hookgate receiver: dedup store is Redis");
            Arc::new(store)
        }
        Err(error) => fail(format_args!("cannot use HOOKGATE_REDIS_URL: {error}")),
    }
}

#[cfg(not(feature = "redis"))]
async fn redis_store(_: &str) -> Arc<dyn DedupStore> {
    fail("HOOKGATE_REDIS_URL is set but this build has no Redis support: run with --features redis")
}

/// The routes: `/healthz`, and one route per provider whose secret variable is set; each
/// dispatcher joins the inbox's worker pool (when there is an inbox).
fn router(settings: &Settings, app: App, pool: &mut inbox::Pool, env: Env<'_>) -> Router {
    let mut router = Router::new().route("/healthz", get(|| async { "ok" }));

    if let Some(secrets) = secrets(env, "ZERNIO_WEBHOOK_SECRET", "/webhooks/zernio") {
        // The error names the provider, the variable and the secret's position.
        let zernio = hookgate::zernio::Zernio::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("ZERNIO_WEBHOOK_SECRET")));
        let dispatcher = catalogue(zernio, settings, app.clone());
        pool.add(&dispatcher);
        router = router.route_service("/webhooks/zernio", dispatcher);
    }
    if let Some(secrets) = secrets(env, "AYRSHARE_WEBHOOK_SECRET", "/webhooks/ayrshare") {
        let ayrshare = hookgate::ayrshare::Ayrshare::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("AYRSHARE_WEBHOOK_SECRET")));
        let dispatcher = catalogue(ayrshare, settings, app.clone());
        pool.add(&dispatcher);
        router = router.route_service("/webhooks/ayrshare", dispatcher);
    }
    if let Some(secrets) = secrets(env, "STANDARD_WEBHOOK_SECRET", "/webhooks/standard") {
        let standard = hookgate::standard::Standard::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("STANDARD_WEBHOOK_SECRET")));
        // Standard Webhooks has no fixed catalogue: every well-formed envelope is typed.
        let dispatcher = settings
            .apply(Webhooks::with_state(standard, app.clone()))
            .on_any(
                |_: hookgate::standard::Event, delivery: Delivery, app: App| {
                    app.handle(delivery, true)
                },
            )
            .fallback(untyped)
            .build()
            .expect("one catch-all handler");
        pool.add(&dispatcher);
        router = router.route_service("/webhooks/standard", dispatcher);
    }
    presets::mount(router, settings, &app, pool, env)
}

/// With feature `metrics`: a Prometheus recorder, and `GET /metrics` serving its text.
///
/// The recorder keeps every histogram sample until its upkeep drains them into the summaries:
/// `install_recorder` spawns no upkeep, so a task runs it every 5 s (without it, memory grows
/// by every handler duration recorded until someone scrapes `/metrics`; the soak run of
/// `BENCHMARKS.md` showed it).
#[cfg(feature = "metrics")]
fn with_metrics(router: Router) -> Router {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap_or_else(|e| fail(format_args!("cannot install the metrics recorder: {e}")));
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    router.route("/metrics", get(move || std::future::ready(handle.render())))
}

#[cfg(not(feature = "metrics"))]
fn with_metrics(router: Router) -> Router {
    router
}

/// Serves `app` over HTTP/1.1 until `shutdown` completes, then lets open connections finish
/// (for at most [`SHUTDOWN_GRACE`]). Each connection must send its request headers within
/// `header_read_timeout`, or hyper closes it.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        server::graceful::GracefulShutdown,
        service::TowerToHyperService,
    };

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("hookgate receiver: connections still open after {SHUTDOWN_GRACE:?}; exiting");
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "hookgate=info".into()),
        )
        .init();

    let printer = Printer {
        quiet: std::env::var("HOOKGATE_QUIET").is_ok_and(|v| v == "1"),
        sink: None,
    };
    let handler_timeout = std::env::var("HOOKGATE_HANDLER_TIMEOUT").ok().map(|t| {
        let timeout = duration("HOOKGATE_HANDLER_TIMEOUT", &t);
        if timeout.is_zero() {
            fail("HOOKGATE_HANDLER_TIMEOUT: a zero timeout would cut every handler off at once");
        }
        timeout
    });
    let settings = Settings {
        store: store().await,
        handler_timeout,
        inbox: inbox::Choice::from_env().await,
    };
    let handlers = App {
        printer,
        forward: forwarder(handler_timeout),
    };
    let mut pool = inbox::Pool::default();
    let app = with_metrics(router(&settings, handlers, &mut pool, &process_env));

    let addr = std::env::var("HOOKGATE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| fail(format_args!("cannot listen on {addr}: {e}")));
    eprintln!(
        "hookgate receiver: listening on http://{}",
        listener.local_addr().unwrap()
    );
    let workers = pool.start();
    serve(listener, app, HEADER_READ_TIMEOUT, stopped()).await;
    if let Some(workers) = workers {
        // Events still running after this are taken over at the next start (their lease).
        workers.shutdown(Duration::from_secs(10)).await;
    }
}

/// Ctrl-C, or SIGTERM (how service managers and containers stop a process): either stops
/// the server gracefully and drains the inbox workers.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())
            .unwrap_or_else(|e| fail(format_args!("cannot listen for SIGTERM: {e}")));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[cfg(feature = "forward")]
    #[test]
    fn a_forward_url_is_printed_without_its_password() {
        assert_eq!(
            without_password("https://hook:s3cret@internal.example/in"),
            "https://hook:***@internal.example/in"
        );
        for url in ["http://127.0.0.1:9000/in", "https://internal.example/a@b"] {
            assert_eq!(without_password(url), url);
        }
    }

    async fn start(header_read_timeout: Duration) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/healthz", get(|| async { "ok" }));
        tokio::spawn(serve(
            listener,
            app,
            header_read_timeout,
            std::future::pending(),
        ));
        addr
    }

    /// Reads until the server closes the connection; `None` if it is still open after `wait`.
    async fn read_to_close(stream: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
        let mut buf = Vec::new();
        tokio::time::timeout(wait, async {
            let mut chunk = [0u8; 1024];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .ok()?;
        Some(String::from_utf8_lossy(&buf).into_owned())
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let addr = start(Duration::from_millis(200)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Half a request head, then silence: without a header read timeout this connection
        // stays open for as long as the client likes.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .await
            .unwrap();
        let closed = read_to_close(&mut stream, Duration::from_secs(20)).await;
        assert!(closed.is_some(), "the connection is still open");
        assert!(!closed.unwrap().contains("200 OK"));

        // A client that sends its request in time is served.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut stream, Duration::from_secs(20))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }
}

/// The real receiver (its routes, handlers and stdout line) with built-in senders mounted from
/// a test's environment, driven over HTTP.
#[cfg(all(test, feature = "testing"))]
mod preset_tests {
    use std::{collections::HashMap, sync::Mutex};

    use hookgate::{generic::presets, testing::signed_request};

    use super::*;

    async fn start(vars: HashMap<&'static str, &'static str>, sink: Arc<Mutex<Vec<u8>>>) -> String {
        let env = move |var: &str| vars.get(var).map(|v| (*v).to_owned());
        let settings = Settings {
            store: Arc::new(MemoryStore::new()),
            handler_timeout: None,
            inbox: inbox::Choice::Inline,
        };
        let app = App {
            printer: Printer {
                quiet: false,
                sink: Some(sink),
            },
            forward: None,
        };
        let router = router(&settings, app, &mut inbox::Pool::default(), &env);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            router,
            HEADER_READ_TIMEOUT,
            std::future::pending(),
        ));
        format!("http://{addr}")
    }

    /// Sends a request built by the testing kit (its headers and body) to `base` + its path,
    /// with `extra` headers; answers the status and the body.
    async fn send(
        base: &str,
        request: http::Request<http_body_util::Full<bytes::Bytes>>,
        extra: &[(&'static str, &'static str)],
    ) -> (u16, serde_json::Value) {
        use http_body_util::BodyExt as _;
        let (mut parts, body) = request.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        // The kit adds the headers its scheme names (a fresh delivery id): replace them.
        for (name, value) in extra {
            parts.headers.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        let mut builder = reqwest::Client::new()
            .post(format!("{base}{}", parts.uri))
            .body(body);
        for (name, value) in &parts.headers {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn built_in_senders_are_mounted_from_the_environment_and_print_their_line() {
        let vars = HashMap::from([
            ("GITHUB_WEBHOOK_SECRET", "gh-current, gh-previous"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_receiver_test"),
            ("TWILIO_AUTH_TOKEN", "twilio-token"),
            ("HOOKGATE_PUBLIC_URL", "https://hooks.example.com/"),
        ]);
        let sink = Arc::new(Mutex::new(Vec::new()));
        let base = start(vars, sink.clone()).await;

        // GitHub, signed with the previous secret of the list (rotation); then its redelivery.
        let github = presets::github().secrets(["gh-previous"]).unwrap();
        let body = r#"{"action":"opened","issue":{"number":1}}"#;
        let headers = [
            ("x-github-event", "issues"),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ];
        let (status, answer) = send(
            &base,
            signed_request(&github, "/webhooks/github", body),
            &headers,
        )
        .await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("handled")),
            "{answer}"
        );
        let (status, answer) = send(
            &base,
            signed_request(&github, "/webhooks/github", body),
            &headers,
        )
        .await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("duplicate"))
        );
        // Another secret: 401.
        let stranger = presets::github().secrets(["not-configured"]).unwrap();
        let (status, answer) = send(
            &base,
            signed_request(&stranger, "/webhooks/github", body),
            &headers,
        )
        .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some("invalid_signature"))
        );

        // Stripe.
        let stripe = presets::stripe().secrets(["whsec_receiver_test"]).unwrap();
        let body = r#"{"id":"evt_receiver_1","object":"event","type":"charge.succeeded"}"#;
        let (status, _) = send(
            &base,
            signed_request(&stripe, "/webhooks/stripe", body),
            &[],
        )
        .await;
        assert_eq!(status, 200);

        // Twilio: a form body, signed over HOOKGATE_PUBLIC_URL + the route.
        let twilio = presets::twilio("https://hooks.example.com/webhooks/twilio")
            .secrets(["twilio-token"])
            .unwrap();
        let form = "MessageSid=SM1&Body=Hello+there&From=%2B15558675310";
        let (status, answer) = send(
            &base,
            signed_request(&twilio, "/webhooks/twilio", form),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("handled")));

        // Unset variable: not mounted.
        let discord = reqwest::Client::new()
            .post(format!("{base}/webhooks/discord"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(discord.status().as_u16(), 404);

        let printed = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = printed
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        // Twilio signs the parameters, sorted, each name then value: the key is their hash.
        let mut params: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        params.sort();
        let signed: String = params.iter().map(|(n, v)| format!("{n}{v}")).collect();
        let twilio_key = const_hex::encode(<sha2::Sha256 as sha2::Digest>::digest(signed));
        assert_eq!(
            lines,
            [
                serde_json::json!({"provider":"github","event":"issues","key":"72d3162e-cc78-11e3-81ab-4c9367dc0958","typed":true}),
                serde_json::json!({"provider":"stripe","event":"charge.succeeded","key":"evt_receiver_1","typed":true}),
                serde_json::json!({"provider":"twilio","event":"request","key":twilio_key,"typed":false}),
            ]
        );
        // Field order as other tools read it.
        assert!(printed.starts_with(r#"{"provider":"github","event":"issues","key":"#));
    }
}
