//! `hookgate inbox …` against a SQLite inbox that a receiver (the library's dispatcher with
//! workers, on 127.0.0.1) fills: a dead event is listed, shown, retried and then handled.

mod support;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::Router;
use hookgate::{
    BoxError, Delivery, Webhooks,
    inbox::{Permanent, SqliteInbox},
    zernio::{self, Zernio},
};
use serde_json::Value;
use support::{hookgate, run};

const SECRET: &str = "inbox-cli-secret";

/// Fails for good on the first call, succeeds after: the retried dead event is handled.
async fn handle(
    _: zernio::PostPublished,
    _: Delivery,
    calls: Arc<AtomicU32>,
) -> Result<(), BoxError> {
    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(Permanent::new("downstream said no").into());
    }
    Ok(())
}

fn inbox_cli(db: &std::path::Path) -> tokio::process::Command {
    let mut command = hookgate();
    command.env("HOOKGATE_INBOX", format!("sqlite:{}", db.display()));
    command.arg("inbox");
    command
}

async fn stats(db: &std::path::Path) -> Value {
    let out = run(inbox_cli(db).args(["stats", "--json"]), None).await;
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

async fn until(db: &std::path::Path, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counts = stats(db).await;
        if check(&counts) {
            return;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {counts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_dead_event_is_listed_shown_retried_and_handled() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("hookgate-cli-inbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("inbox.db");
    let inbox = SqliteInbox::open(&db).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let service = Webhooks::with_state(Zernio::new([SECRET]).unwrap(), calls.clone())
        .inbox(inbox)
        .on(handle)
        .build()
        .unwrap();
    let workers = service.workers().unwrap().start();
    let addr = support::serve(Router::new().route_service("/webhooks/zernio", service)).await;

    // No such file: a usage error, and no empty inbox created by the typo.
    let missing = run(
        hookgate()
            .args(["inbox", "stats", "--inbox"])
            .arg(format!("sqlite:{}", dir.join("nope.db").display())),
        None,
    )
    .await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(!dir.join("nope.db").exists());
    // Another application's database: refused, and left as it was (no inbox tables in it).
    let app_db = dir.join("app.db");
    {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&app_db)
            .create_if_missing(true);
        let mut app = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE users (id INTEGER PRIMARY KEY)")
            .execute(&mut app)
            .await
            .unwrap();
        app.close().await.unwrap();
    }
    let other = run(
        hookgate()
            .args(["inbox", "stats", "--inbox"])
            .arg(format!("sqlite:{}", app_db.display())),
        None,
    )
    .await;
    assert_eq!(other.code, 2, "{other:?}");
    assert!(other.stderr.contains("not a hookgate inbox"), "{other:?}");
    {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&app_db);
        let mut app = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut app)
                .await
                .unwrap();
        assert_eq!(tables, ["users"]);
    }

    let sent = run(
        hookgate()
            .args([
                "send",
                "zernio",
                "post.published",
                "--secret",
                SECRET,
                "--json",
            ])
            .args(["--url", &format!("http://{addr}/webhooks/zernio")]),
        None,
    )
    .await;
    assert_eq!(sent.code, 0, "{sent:?}");
    let summary: Value = serde_json::from_str(&sent.stdout).unwrap();
    assert_eq!(
        summary["answers"]["202"]["{\"status\":\"accepted\"}"], 1,
        "{summary}"
    );
    let key = summary["key"].as_str().unwrap().to_owned();
    until(&db, "dead", |c| c["dead"] == 1).await;

    let listed = run(
        inbox_cli(&db).args(["list", "--state", "dead", "--json"]),
        None,
    )
    .await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let dead: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(dead.as_array().unwrap().len(), 1, "{dead}");
    assert_eq!(dead[0]["key"], key.as_str());
    assert_eq!(dead[0]["event"], "post.published");
    assert!(
        dead[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("downstream said no"),
        "{dead}"
    );
    let id = dead[0]["id"].as_i64().unwrap();
    let table = run(inbox_cli(&db).args(["list", "--state", "dead"]), None).await;
    assert!(
        table.stdout.contains(&key) && table.stdout.contains("dead"),
        "{table:?}"
    );

    let shown = run(
        inbox_cli(&db).args(["show", &id.to_string(), "--json"]),
        None,
    )
    .await;
    assert_eq!(shown.code, 0, "{shown:?}");
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["body"]["id"], key.as_str());
    assert_eq!(shown["body"]["event"], "post.published");
    assert_eq!(shown["headers"]["x-zernio-event"], "post.published");
    let signature = shown["headers"]["x-zernio-signature"]
        .as_str()
        .unwrap_or("");
    assert_ne!(
        signature.len(),
        64,
        "signatures are stored redacted: {shown}"
    );

    // Purging dead events: it died just now, so a week's age keeps it; no flag at all, or a
    // time that does not parse, is a usage error that deletes nothing (the deletion itself:
    // tests/inbox.rs and tests/inbox_postgres.rs).
    let kept = run(inbox_cli(&db).args(["purge", "--dead-before", "7d"]), None).await;
    assert_eq!(
        (kept.code, kept.stdout.as_str()),
        (0, "purged 0\n"),
        "{kept:?}"
    );
    let neither = run(inbox_cli(&db).arg("purge"), None).await;
    assert_eq!(neither.code, 2, "{neither:?}");
    let typo = run(
        inbox_cli(&db).args(["purge", "--done-before", "1h", "--dead-before", "soon"]),
        None,
    )
    .await;
    assert_eq!(typo.code, 2, "{typo:?}");
    assert_eq!(stats(&db).await["dead"], 1);

    let retried = run(inbox_cli(&db).args(["retry", &id.to_string()]), None).await;
    assert_eq!(
        (retried.code, retried.stdout.as_str()),
        (0, "retried 1\n"),
        "{retried:?}"
    );
    until(&db, "done", |c| c["done"] == 1 && c["dead"] == 0).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Only dead events are retried.
    let again = run(inbox_cli(&db).args(["retry", &id.to_string()]), None).await;
    assert_eq!(again.code, 1, "{again:?}");
    let all = run(inbox_cli(&db).args(["retry", "--all-dead", "--json"]), None).await;
    assert_eq!(all.stdout.trim(), r#"{"retried":0}"#);

    // Purge: not yet (settled just now); a time in the future is refused (it would purge
    // everything up to now); then everything settled before now (an age of zero).
    let kept = run(inbox_cli(&db).args(["purge", "--done-before", "1h"]), None).await;
    assert_eq!(kept.stdout, "purged 0\n", "{kept:?}");
    let later =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(5))
            .to_string();
    let future = run(
        inbox_cli(&db).args(["purge", "--done-before", &later]),
        None,
    )
    .await;
    assert_eq!(future.code, 2, "{future:?}");
    assert!(future.stderr.contains("in the future"), "{future:?}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let purged = run(inbox_cli(&db).args(["purge", "--done-before", "0s"]), None).await;
    assert_eq!(purged.stdout, "purged 1\n", "{purged:?}");
    assert_eq!(stats(&db).await["done"], 0);

    workers.shutdown(Duration::from_secs(1)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
