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
//! - `HOOKGATE_REDIS_URL`: when set (build with `--features redis`), the dedup store is Redis,
//!   shared by every receiver pointing at it; otherwise an in-memory LRU.
//! - `HOOKGATE_QUIET=1`: no per-event lines.
//!
//! Routes: `POST /webhooks/zernio`, `POST /webhooks/ayrshare`, `POST /webhooks/standard`,
//! `GET /healthz`. Every delivery that reaches a handler prints one JSON line on stdout:
//! `{"provider":"zernio","event":"post.published","key":"<dedup key>","typed":true}`; `typed`
//! is false when the event took the unknown path. Logs go to stderr (`RUST_LOG` filters them).
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

/// Prints one JSON line per dispatched event (unless quiet).
#[derive(Clone, Copy)]
struct Printer {
    quiet: bool,
}

impl Printer {
    fn print(self, delivery: &Delivery, typed: bool) {
        if self.quiet {
            return;
        }
        let line = Line {
            provider: delivery.provider(),
            event: delivery.event(),
            key: delivery.key(),
            typed,
        };
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, &line);
        let _ = out.write_all(b"\n");
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

/// Every event of the provider's catalogue goes to one typed handler; the rest (unknown names,
/// drifted payloads) to the fallback.
fn catalogue<P: Provider>(
    provider: P,
    store: Arc<dyn DedupStore>,
    printer: Printer,
) -> Dispatcher<P, Printer> {
    Webhooks::with_state(provider, printer)
        .store(store)
        .on(
            |_: P::Event, delivery: Delivery, printer: Printer| async move {
                printer.print(&delivery, true)
            },
        )
        .fallback(untyped)
        .build()
        .expect("one handler per event")
}

/// The fallback: unknown names and payloads that did not fit their model.
async fn untyped(_: UnknownEvent, delivery: Delivery, printer: Printer) {
    printer.print(&delivery, false)
}

/// The secrets in `var`, or `None` (with a note on stderr) when it is unset.
fn secrets(var: &str, route: &str) -> Option<Vec<String>> {
    match std::env::var(var) {
        Ok(value) => Some(value.split(',').map(|s| s.trim().to_owned()).collect()),
        Err(_) => {
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

/// The routes: `/healthz`, and one route per provider whose secret variable is set.
fn router(store: Arc<dyn DedupStore>, printer: Printer) -> Router {
    let mut app = Router::new().route("/healthz", get(|| async { "ok" }));

    if let Some(secrets) = secrets("ZERNIO_WEBHOOK_SECRET", "/webhooks/zernio") {
        // The error names the provider, the variable and the secret's position.
        let zernio = hookgate::zernio::Zernio::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("ZERNIO_WEBHOOK_SECRET")));
        app = app.route_service(
            "/webhooks/zernio",
            catalogue(zernio, store.clone(), printer),
        );
    }
    if let Some(secrets) = secrets("AYRSHARE_WEBHOOK_SECRET", "/webhooks/ayrshare") {
        // The error names the provider, the variable and the secret's position.
        let ayrshare = hookgate::ayrshare::Ayrshare::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("AYRSHARE_WEBHOOK_SECRET")));
        app = app.route_service(
            "/webhooks/ayrshare",
            catalogue(ayrshare, store.clone(), printer),
        );
    }
    if let Some(secrets) = secrets("STANDARD_WEBHOOK_SECRET", "/webhooks/standard") {
        // The error names the provider, the variable and the secret's position.
        let standard = hookgate::standard::Standard::new(&secrets)
            .unwrap_or_else(|e| fail(e.in_variable("STANDARD_WEBHOOK_SECRET")));
        // Standard Webhooks has no fixed catalogue: every well-formed envelope is typed.
        let dispatcher = Webhooks::with_state(standard, printer)
            .store(store.clone())
            .on_any(
                |_: hookgate::standard::Event, delivery: Delivery, printer: Printer| async move {
                    printer.print(&delivery, true)
                },
            )
            .fallback(untyped)
            .build()
            .expect("one catch-all handler");
        app = app.route_service("/webhooks/standard", dispatcher);
    }
    app
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
    };
    let app = router(store().await, printer);

    let addr = std::env::var("HOOKGATE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| fail(format_args!("cannot listen on {addr}: {e}")));
    eprintln!(
        "hookgate receiver: listening on http://{}",
        listener.local_addr().unwrap()
    );
    serve(listener, app, HEADER_READ_TIMEOUT, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

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
