//! The provider API commands, run as the real binary against a local HTTP server that records
//! the method, path, query, headers and body of each request, per the providers' documented API.

mod support;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
};
use serde_json::{Value, json};
use support::{Run, hookgate, run};

const API_KEY: &str = "api-key-never-printed";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Option<Value>,
}

#[derive(Clone, Default)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The next answer (status, body); 200 with `{"status":"success"}` by default.
    answer: Arc<Mutex<Option<(u16, String)>>>,
}

async fn record(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    server.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body: (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap()),
    });
    let (status, body) = server
        .answer
        .lock()
        .unwrap()
        .take()
        .unwrap_or((200, r#"{"status":"success"}"#.to_owned()));
    (StatusCode::from_u16(status).unwrap(), body)
}

async fn api() -> (SocketAddr, Server) {
    let server = Server::default();
    let app = Router::new().fallback(record).with_state(server.clone());
    (support::serve(app).await, server)
}

impl Server {
    fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).map(|v| v.to_str().unwrap())
}

/// The request must carry the API key as a bearer token, and the run must not print it.
#[track_caller]
fn authorized(seen: &Seen, run: &Run) {
    assert_eq!(
        header(seen, "authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert!(
        !run.stdout.contains(API_KEY) && !run.stderr.contains(API_KEY),
        "{run:?}"
    );
}

fn ayrshare(addr: SocketAddr) -> tokio::process::Command {
    let mut command = hookgate();
    command
        .env("AYRSHARE_API_KEY", API_KEY)
        .env("AYRSHARE_API_URL", format!("http://{addr}/api"))
        .args(["ayrshare", "webhook"]);
    command
}

fn zernio(addr: SocketAddr) -> tokio::process::Command {
    let mut command = hookgate();
    command
        .env("ZERNIO_API_KEY", API_KEY)
        .args(["zernio", "webhook"])
        .args(["--base-url", &format!("http://{addr}/api")]);
    command
}

#[tokio::test]
async fn ayrshare_webhook_commands() {
    let (addr, server) = api().await;

    *server.answer.lock().unwrap() = Some((
        200,
        r#"{"status":"success","action":"scheduled","url":"https://h.example/a","refId":"r1"}"#
            .into(),
    ));
    let register = run(
        ayrshare(addr)
            .args([
                "register",
                "--action",
                "scheduled",
                "--url",
                "https://h.example/a",
            ])
            .args(["--secret-from-env", "--profile-key", "profile-1"])
            .env("AYRSHARE_WEBHOOK_SECRET", "sig-new,sig-old"),
        None,
    )
    .await;
    assert_eq!(register.code, 0, "{register:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::POST, "/api/hook/webhook")
    );
    assert_eq!(
        seen.body,
        Some(json!({"action": "scheduled", "url": "https://h.example/a", "secret": "sig-new"}))
    );
    assert_eq!(header(&seen, "profile-key"), Some("profile-1"));
    assert_eq!(header(&seen, "content-type"), Some("application/json"));
    authorized(&seen, &register);
    let answer: Value = serde_json::from_str(&register.stdout).unwrap();
    assert_eq!(answer["refId"], "r1");

    // Without a secret option: unsigned, and said so.
    let unsigned = run(
        ayrshare(addr).args([
            "register",
            "--action",
            "social",
            "--url",
            "https://h.example/b",
        ]),
        None,
    )
    .await;
    assert_eq!(unsigned.code, 0, "{unsigned:?}");
    assert_eq!(
        server.last().body,
        Some(json!({"action": "social", "url": "https://h.example/b"}))
    );
    assert!(unsigned.stderr.contains("will not sign"), "{unsigned:?}");
    assert_eq!(header(&server.last(), "profile-key"), None);

    let list = run(ayrshare(addr).arg("list"), None).await;
    assert_eq!(list.code, 0, "{list:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str(), &seen.body),
        (&Method::GET, "/api/hook/webhook", &None)
    );
    authorized(&seen, &list);

    let unregister = run(
        ayrshare(addr).args(["unregister", "--action", "scheduled"]),
        None,
    )
    .await;
    assert_eq!(unregister.code, 0, "{unregister:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::DELETE, "/api/hook/webhook")
    );
    assert_eq!(seen.body, Some(json!({"action": "scheduled"})));

    let dir = std::env::temp_dir().join(format!("hookgate-cli-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, "rotated-secret\n").unwrap();
    let rotate = run(
        ayrshare(addr)
            .args(["rotate-secret", "--secret-file"])
            .arg(&file),
        None,
    )
    .await;
    assert_eq!(rotate.code, 0, "{rotate:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::POST, "/api/hook/webhook/secret")
    );
    assert_eq!(seen.body, Some(json!({"secret": "rotated-secret"})));
    assert!(!rotate.stdout.contains("rotated-secret"), "{rotate:?}");
    std::fs::remove_dir_all(&dir).unwrap();

    // rotate-secret needs the new secret: usage error, nothing sent.
    let before = server.seen.lock().unwrap().len();
    let missing = run(ayrshare(addr).arg("rotate-secret"), None).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert_eq!(server.seen.lock().unwrap().len(), before);
}

#[tokio::test]
async fn zernio_webhook_commands() {
    let (addr, server) = api().await;

    let create = run(
        zernio(addr)
            .args(["create", "--name", "prod", "--url", "https://h.example/z"])
            .args([
                "--events",
                "post.published,post.failed",
                "--events",
                "message.received",
            ])
            .args([
                "--secret",
                "zr-secret",
                "--inactive",
                "--header",
                "X-Env: prod",
            ]),
        None,
    )
    .await;
    assert_eq!(create.code, 0, "{create:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::POST, "/api/v1/webhooks/settings")
    );
    assert_eq!(
        seen.body,
        Some(json!({
            "name": "prod",
            "url": "https://h.example/z",
            "events": ["post.published", "post.failed", "message.received"],
            "secret": "zr-secret",
            "isActive": false,
            "customHeaders": {"X-Env": "prod"},
        }))
    );
    authorized(&seen, &create);

    let update = run(
        zernio(addr)
            .args([
                "update",
                "--id",
                "wh_1",
                "--active",
                "true",
                "--secret-from-env",
            ])
            .env("ZERNIO_WEBHOOK_SECRET", "zr-new,zr-old"),
        None,
    )
    .await;
    assert_eq!(update.code, 0, "{update:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::PUT, "/api/v1/webhooks/settings")
    );
    assert_eq!(
        seen.body,
        Some(json!({"_id": "wh_1", "secret": "zr-new", "isActive": true}))
    );
    let nothing = run(zernio(addr).args(["update", "--id", "wh_1"]), None).await;
    assert_eq!(nothing.code, 2, "{nothing:?}");

    let list = run(zernio(addr).arg("list"), None).await;
    assert_eq!(list.code, 0, "{list:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str(), &seen.body),
        (&Method::GET, "/api/v1/webhooks/settings", &None)
    );

    let test = run(zernio(addr).args(["test", "--id", "wh_1"]), None).await;
    assert_eq!(test.code, 0, "{test:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::POST, "/api/v1/webhooks/test")
    );
    assert_eq!(seen.body, Some(json!({"webhookId": "wh_1"})));

    let logs = run(
        zernio(addr).args([
            "logs",
            "--webhook-id",
            "wh_1",
            "--status",
            "failed",
            "--limit",
            "20",
        ]),
        None,
    )
    .await;
    assert_eq!(logs.code, 0, "{logs:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::GET, "/api/v1/webhooks/logs")
    );
    assert_eq!(
        seen.query.as_deref(),
        Some("webhookId=wh_1&status=failed&limit=20")
    );

    let redeliver = run(
        zernio(addr).args(["redeliver", "--webhook-id", "wh_1", "--event-id", "evt_9"]),
        None,
    )
    .await;
    assert_eq!(redeliver.code, 0, "{redeliver:?}");
    let seen = server.last();
    assert_eq!(
        (&seen.method, seen.path.as_str()),
        (&Method::POST, "/api/v1/webhooks/logs/redeliver")
    );
    assert_eq!(
        seen.body,
        Some(json!({"webhookId": "wh_1", "eventId": "evt_9"}))
    );
    authorized(&seen, &redeliver);
}

#[tokio::test]
async fn api_errors_show_status_and_message() {
    let (addr, server) = api().await;
    *server.answer.lock().unwrap() = Some((401, r#"{"error":"Unauthorized"}"#.into()));
    let refused = run(zernio(addr).arg("list"), None).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("GET http://") && refused.stderr.contains(": 401: Unauthorized"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());

    *server.answer.lock().unwrap() = Some((
        400,
        r#"{"action":"webhook","status":"error","code":101,"message":"Invalid action"}"#.into(),
    ));
    let bad = run(
        ayrshare(addr).args(["unregister", "--action", "nope"]),
        None,
    )
    .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr.contains(": 400: Invalid action"),
        "{}",
        bad.stderr
    );

    // No API key: usage, nothing sent. Nothing listening: network.
    let before = server.seen.lock().unwrap().len();
    let no_key = run(
        hookgate().args([
            "zernio",
            "webhook",
            "list",
            "--base-url",
            &format!("http://{addr}"),
        ]),
        None,
    )
    .await;
    assert_eq!(no_key.code, 2, "{no_key:?}");
    assert!(no_key.stderr.contains("ZERNIO_API_KEY"), "{no_key:?}");
    assert_eq!(server.seen.lock().unwrap().len(), before);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down = run(ayrshare(closed).arg("list"), None).await;
    assert_eq!(down.code, 3, "{down:?}");
}
