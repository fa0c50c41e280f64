//! `WebhookLayer` on an ordinary axum route, with the `Verified` extractor (feature `axum`).
//!
//! ```text
//! ZERNIO_WEBHOOK_SECRET=dev-secret cargo run --example axum_layer --features axum
//! ```

use axum::{Router, http::StatusCode, routing::post};
use hookgate::{Verified, WebhookLayer, zernio};

async fn zernio_hook(Verified { event, delivery }: Verified<zernio::Event>) -> StatusCode {
    match event {
        zernio::Event::WebhookTest(test) => println!("test fire {}", test.id),
        zernio::Event::Unknown(unknown) => {
            println!(
                "unknown {} ({} raw bytes kept)",
                unknown.name(),
                unknown.raw().len()
            )
        }
        _ => println!("{} {}", delivery.event(), delivery.key()),
    }
    // 2xx commits the dedup key; a 5xx here would release it so Zernio's retry is handled.
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("ZERNIO_WEBHOOK_SECRET").unwrap_or_else(|_| "dev-secret".to_owned());
    let layer = WebhookLayer::new(zernio::Zernio::new([secret])?).body_limit(256 * 1024);
    let app = Router::new().route("/webhooks/zernio", post(zernio_hook).layer(layer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
