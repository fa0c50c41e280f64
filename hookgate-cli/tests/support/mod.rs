//! Shared helpers: run the real `hookgate` binary, serve an axum app on 127.0.0.1.
#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, process::Output};

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// The binary, with a clean environment for the variables it reads.
pub fn hookgate() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookgate"));
    for var in [
        "ZERNIO_WEBHOOK_SECRET",
        "AYRSHARE_WEBHOOK_SECRET",
        "STANDARD_WEBHOOK_SECRET",
        "ZERNIO_API_KEY",
        "AYRSHARE_API_KEY",
        "AYRSHARE_PROFILE_KEY",
        "ZERNIO_API_URL",
        "AYRSHARE_API_URL",
    ] {
        command.env_remove(var);
    }
    command.kill_on_drop(true);
    command
}

/// Runs `hookgate args…` (with `stdin` as its standard input) and collects what it did.
pub async fn run(command: &mut tokio::process::Command, stdin: Option<&[u8]>) -> Run {
    use tokio::io::AsyncWriteExt;
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).await.unwrap();
    }
    drop(input);
    child.wait_with_output().await.unwrap().into()
}
