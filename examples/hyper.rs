//! hookgate on bare hyper, no axum: the `Webhooks` dispatcher is a tower service, served per
//! connection through `hyper_util`.
//!
//! ```text
//! ZERNIO_WEBHOOK_SECRET=dev-secret cargo run --example hyper
//! ```
//!
//! Dependencies this needs in your own `Cargo.toml` (`TowerToHyperService` is behind
//! hyper-util's `service` feature, which is not on by default):
//!
//! ```toml
//! hyper-util = { version = "0.1", features = ["tokio", "server", "http1", "service"] }
//! tokio = { version = "1", features = ["macros", "net", "rt-multi-thread"] }
//! ```
//!
//! `auto::Builder` serves HTTP/1.1 with the `http1` feature; add `http2` (or use
//! `server-auto`) for HTTP/2 as well.

use hookgate::{Delivery, Webhooks, event::UnknownEvent, zernio};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let secret = std::env::var("ZERNIO_WEBHOOK_SECRET").unwrap_or_else(|_| "dev-secret".to_owned());
    let webhooks = Webhooks::new(zernio::Zernio::new([secret])?)
        .on(
            |event: zernio::WebhookTest, delivery: Delivery| async move {
                println!("test fire {} (key {})", event.id, delivery.key());
            },
        )
        .fallback(|event: UnknownEvent| async move {
            println!(
                "{} went to the fallback: {:?}",
                event.name(),
                event.reason()
            );
        })
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    eprintln!(
        "listening on http://{} (every path is the webhook route)",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(webhooks.clone());
        tokio::spawn(async move {
            if let Err(error) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {error}");
            }
        });
    }
}
