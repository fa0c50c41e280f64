//! The providers' webhook management APIs: Ayrshare (`/hook/webhook…`) and Zernio
//! (`/v1/webhooks/…`). The API key comes from the environment only and is never printed.

use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{catalogue, error::Error, provider::Kind, secret::NewSecretArgs};

/// Error messages and bodies are shown up to this many characters.
const MESSAGE_SHOWN: usize = 300;

/// `hookgate ayrshare …`
#[derive(Args)]
#[command(after_help = concat!("\
The API key is read from AYRSHARE_API_KEY (the Primary Profile's key), never from the command \
line, and never printed. Answers print as JSON on stdout; an error shows its status and message \
(exit 1).

Endpoints (Ayrshare docs): POST /hook/webhook (register), POST /hook/webhook/secret (rotate).
Unconfirmed: the shape of GET /hook/webhook (list) and DELETE /hook/webhook {action} (unregister).

", exit_codes!()))]
pub(crate) struct AyrshareArgs {
    #[command(subcommand)]
    command: AyrshareCommand,
    /// The API's base URL.
    #[arg(
        long,
        global = true,
        env = "AYRSHARE_API_URL",
        default_value = "https://api.ayrshare.com/api"
    )]
    base_url: String,
    /// Act for this User Profile (sent as `Profile-Key`).
    #[arg(
        long,
        global = true,
        env = "AYRSHARE_PROFILE_KEY",
        hide_env_values = true
    )]
    profile_key: Option<String>,
}

#[derive(Subcommand)]
enum AyrshareCommand {
    /// Webhook registrations of the profile.
    #[command(subcommand)]
    Webhook(AyrshareWebhook),
}

#[derive(Subcommand)]
enum AyrshareWebhook {
    /// Register a URL for one action (`POST /hook/webhook`).
    #[command(after_help = "\
Example:
  AYRSHARE_API_KEY=… hookgate ayrshare webhook register --action scheduled \\
      --url https://hooks.example.com/webhooks/ayrshare --secret-from-env

Actions: scheduled, social, messages, feed, batch, comments, mentions, automations, suspended
(accountActivity until 2026-03-31). The URL must be https:// and final (no redirects). Without a
secret option the webhook is unsigned.")]
    Register {
        /// The action whose events go to URL.
        #[arg(long)]
        action: String,
        /// The receiver's public https URL.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        secret: NewSecretArgs,
    },
    /// List the registered webhooks (`GET /hook/webhook`).
    #[command(after_help = "Example:\n  AYRSHARE_API_KEY=… hookgate ayrshare webhook list")]
    List,
    /// Unregister the webhook of one action (`DELETE /hook/webhook`; unconfirmed).
    #[command(
        after_help = "Example:\n  AYRSHARE_API_KEY=… hookgate ayrshare webhook unregister --action scheduled"
    )]
    Unregister {
        /// The action.
        #[arg(long)]
        action: String,
    },
    /// Rotate the profile's signing secret (`POST /hook/webhook/secret`): for 24 hours every
    /// delivery is signed with the new and the old secret.
    #[command(after_help = "\
Example:
  AYRSHARE_WEBHOOK_SECRET=new-secret,old-secret AYRSHARE_API_KEY=… \\
      hookgate ayrshare webhook rotate-secret --secret-from-env

Give your receiver both secrets, new first, before rotating; drop the old one after 24 hours.")]
    RotateSecret {
        #[command(flatten)]
        secret: NewSecretArgs,
    },
}

/// `hookgate zernio …`
#[derive(Args)]
#[command(after_help = concat!("\
The API key is read from ZERNIO_API_KEY, never from the command line, and never printed.
Answers print as JSON on stdout; an error shows its status and message (exit 1).

Endpoints (Zernio SDK docs): /v1/webhooks/settings (GET list, POST create, PUT update),
POST /v1/webhooks/test, GET /v1/webhooks/logs, POST /v1/webhooks/logs/redeliver.
Unconfirmed: the body of `test` ({\"webhookId\"}) and the query names of `logs`.

", exit_codes!()))]
pub(crate) struct ZernioArgs {
    #[command(subcommand)]
    command: ZernioCommand,
    /// The API's base URL.
    #[arg(
        long,
        global = true,
        env = "ZERNIO_API_URL",
        default_value = "https://zernio.com/api"
    )]
    base_url: String,
}

#[derive(Subcommand)]
enum ZernioCommand {
    /// Webhook subscriptions (at most 10 per user).
    #[command(subcommand)]
    Webhook(ZernioWebhook),
}

#[derive(Subcommand)]
enum ZernioWebhook {
    /// Create a subscription (`POST /v1/webhooks/settings`).
    #[command(after_help = "\
Example:
  ZERNIO_API_KEY=… hookgate zernio webhook create --name prod \\
      --url https://hooks.example.com/webhooks/zernio \\
      --events post.published,post.failed,message.received --secret-from-env")]
    Create {
        /// A name, 1 to 50 characters.
        #[arg(long)]
        name: String,
        /// The receiver's URL.
        #[arg(long)]
        url: String,
        /// Event names (comma-separated or repeated; `hookgate events zernio`).
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[command(flatten)]
        secret: NewSecretArgs,
        /// Create it paused.
        #[arg(long)]
        inactive: bool,
        /// A custom header Zernio adds to every delivery, `Name: value` (repeatable).
        #[arg(long = "header", value_name = "HEADER")]
        headers: Vec<String>,
    },
    /// Change a subscription (`PUT /v1/webhooks/settings`): only the fields given.
    #[command(after_help = "\
Example:
  ZERNIO_WEBHOOK_SECRET=new-secret,old-secret ZERNIO_API_KEY=… \\
      hookgate zernio webhook update --id 6650f1… --secret-from-env

Zernio has no dual signing: retries queued before a secret change stay signed with the old
secret for up to ~51 hours. Keep both in your receiver's list (new first) for about 3 days.")]
    Update {
        /// The subscription's `_id`.
        #[arg(long)]
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        /// A new event list (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[command(flatten)]
        secret: NewSecretArgs,
        /// Pause (false) or resume (true).
        #[arg(long)]
        active: Option<bool>,
        /// Replace the custom headers, `Name: value` (repeatable).
        #[arg(long = "header", value_name = "HEADER")]
        headers: Vec<String>,
    },
    /// List the subscriptions (`GET /v1/webhooks/settings`).
    #[command(after_help = "Example:\n  ZERNIO_API_KEY=… hookgate zernio webhook list")]
    List,
    /// Have Zernio send one `webhook.test` (fresh id, no retries) (`POST /v1/webhooks/test`).
    #[command(
        after_help = "Example:\n  ZERNIO_API_KEY=… hookgate zernio webhook test --id 6650f1…"
    )]
    Test {
        /// The subscription to test (sent as `webhookId`; unconfirmed).
        #[arg(long)]
        id: Option<String>,
    },
    /// Delivery logs of the last 30 days (`GET /v1/webhooks/logs`).
    #[command(
        after_help = "Example:\n  ZERNIO_API_KEY=… hookgate zernio webhook logs --status failed --limit 20"
    )]
    Logs {
        /// Only this subscription's deliveries (`webhookId`).
        #[arg(long)]
        webhook_id: Option<String>,
        /// Only this event's deliveries (`eventId`).
        #[arg(long)]
        event_id: Option<String>,
        /// Only this status (`status`, e.g. success, failed).
        #[arg(long)]
        status: Option<String>,
        /// Only this event name (`event`).
        #[arg(long)]
        event: Option<String>,
        /// Page size (`limit`).
        #[arg(long)]
        limit: Option<u32>,
        /// Entries to skip (`offset`).
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Send a logged delivery again: the original payload, same `id`, one attempt
    /// (`POST /v1/webhooks/logs/redeliver`).
    #[command(
        after_help = "Example:\n  ZERNIO_API_KEY=… hookgate zernio webhook redeliver --webhook-id 6650f1… --event-id 3f1c2a9e-…"
    )]
    Redeliver {
        /// The subscription (`webhookId`).
        #[arg(long)]
        webhook_id: String,
        /// The event (`eventId`).
        #[arg(long)]
        event_id: String,
    },
}

/// One provider API: base URL, bearer key, extra headers.
struct Api {
    http: reqwest::Client,
    base: String,
    key: Zeroizing<String>,
    headers: Vec<(&'static str, Zeroizing<String>)>,
}

impl Api {
    fn new(base: &str, key_var: &str) -> Result<Self, Error> {
        let key = std::env::var(key_var)
            .ok()
            .filter(|key| !key.trim().is_empty())
            .ok_or_else(|| Error::usage(format_args!("set {key_var} to your API key")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("hookgate-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::network(&e))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key: Zeroizing::new(key.trim().to_owned()),
            headers: Vec::new(),
        })
    }

    /// Sends one request; a 2xx answer's JSON (or text) comes back, anything else is an error
    /// with the status and the API's message.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.key.as_str())
            .header("accept", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| Error::network(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Error::network(&e))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            return Ok(json.unwrap_or_else(|| Value::String(shorten(&bytes))));
        }
        Err(Error::Api {
            method: method.to_string(),
            url,
            status: status.as_u16(),
            message: json
                .as_ref()
                .and_then(message)
                .unwrap_or_else(|| shorten(&bytes)),
        })
    }
}

/// The message of an API error body: `error` (a string, or an object with `message`),
/// `message`, or `status` with `code`.
fn message(json: &Value) -> Option<String> {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    json.get("error")
        .and_then(|e| text(e).or_else(|| e.get("message").and_then(text)))
        .or_else(|| json.get("message").and_then(text))
        .map(|m| m.chars().take(MESSAGE_SHOWN).collect())
}

fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.trim().chars().take(MESSAGE_SHOWN).collect();
    if short.len() < text.trim().len() {
        short.push('…');
    }
    short
}

fn print(answer: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&redacted(answer.clone())).expect("JSON serializes")
    );
}

/// `answer` with the value of every `secret` field (any case, at any depth) replaced: an API
/// that echoes a webhook's signing secret must not have the CLI print it.
fn redacted(mut answer: Value) -> Value {
    match &mut answer {
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                *value = if name.to_ascii_lowercase().contains("secret") && !value.is_null() {
                    Value::String("[redacted]".to_owned())
                } else {
                    redacted(value.take())
                };
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = redacted(item.take());
            }
        }
        _ => {}
    }
    answer
}

/// `hookgate ayrshare …`
pub(crate) async fn ayrshare(args: AyrshareArgs) -> Result<(), Error> {
    let mut api = Api::new(&args.base_url, "AYRSHARE_API_KEY")?;
    if let Some(profile) = args.profile_key.filter(|p| !p.trim().is_empty()) {
        api.headers
            .push(("profile-key", Zeroizing::new(profile.trim().to_owned())));
    }
    let AyrshareCommand::Webhook(command) = args.command;
    let answer = match command {
        AyrshareWebhook::Register {
            action,
            url,
            secret,
        } => {
            let mut body = json!({ "action": action, "url": url });
            match secret.resolve(Kind::Ayrshare)? {
                Some(secret) => body["secret"] = Value::String(secret.to_string()),
                None => eprintln!(
                    "hookgate: no secret given: Ayrshare will not sign these deliveries \
                     (--secret-from-env, --secret-file)"
                ),
            }
            if !url.starts_with("https://") {
                eprintln!("hookgate: Ayrshare requires an https:// URL");
            }
            api.call(Method::POST, "/hook/webhook", &[], Some(body))
                .await?
        }
        AyrshareWebhook::List => api.call(Method::GET, "/hook/webhook", &[], None).await?,
        AyrshareWebhook::Unregister { action } => {
            api.call(
                Method::DELETE,
                "/hook/webhook",
                &[],
                Some(json!({ "action": action })),
            )
            .await?
        }
        AyrshareWebhook::RotateSecret { secret } => {
            let secret = secret.resolve(Kind::Ayrshare)?.ok_or_else(|| {
                Error::usage("the new secret: --secret-from-env, --secret-file FILE or --secret")
            })?;
            api.call(
                Method::POST,
                "/hook/webhook/secret",
                &[],
                Some(json!({ "secret": secret.as_str() })),
            )
            .await?
        }
    };
    print(&answer);
    Ok(())
}

/// `hookgate zernio …`
pub(crate) async fn zernio(args: ZernioArgs) -> Result<(), Error> {
    let api = Api::new(&args.base_url, "ZERNIO_API_KEY")?;
    let ZernioCommand::Webhook(command) = args.command;
    let answer = match command {
        ZernioWebhook::Create {
            name,
            url,
            events,
            secret,
            inactive,
            headers,
        } => {
            warn_unknown_events(&events);
            let mut body = Map::new();
            body.insert("name".into(), name.into());
            body.insert("url".into(), url.into());
            body.insert("events".into(), events.into());
            if let Some(secret) = secret.resolve(Kind::Zernio)? {
                body.insert("secret".into(), secret.as_str().into());
            }
            if inactive {
                body.insert("isActive".into(), false.into());
            }
            if !headers.is_empty() {
                body.insert("customHeaders".into(), custom_headers(&headers)?);
            }
            api.call(
                Method::POST,
                "/v1/webhooks/settings",
                &[],
                Some(body.into()),
            )
            .await?
        }
        ZernioWebhook::Update {
            id,
            name,
            url,
            events,
            secret,
            active,
            headers,
        } => {
            let mut body = Map::new();
            body.insert("_id".into(), id.into());
            if let Some(name) = name {
                body.insert("name".into(), name.into());
            }
            if let Some(url) = url {
                body.insert("url".into(), url.into());
            }
            if let Some(events) = events {
                warn_unknown_events(&events);
                body.insert("events".into(), events.into());
            }
            if let Some(secret) = secret.resolve(Kind::Zernio)? {
                body.insert("secret".into(), secret.as_str().into());
            }
            if let Some(active) = active {
                body.insert("isActive".into(), active.into());
            }
            if !headers.is_empty() {
                body.insert("customHeaders".into(), custom_headers(&headers)?);
            }
            if body.len() == 1 {
                return Err(Error::usage("nothing to update: give at least one field"));
            }
            api.call(Method::PUT, "/v1/webhooks/settings", &[], Some(body.into()))
                .await?
        }
        ZernioWebhook::List => {
            api.call(Method::GET, "/v1/webhooks/settings", &[], None)
                .await?
        }
        ZernioWebhook::Test { id } => {
            let body = match id {
                Some(id) => json!({ "webhookId": id }),
                None => json!({}),
            };
            api.call(Method::POST, "/v1/webhooks/test", &[], Some(body))
                .await?
        }
        ZernioWebhook::Logs {
            webhook_id,
            event_id,
            status,
            event,
            limit,
            offset,
        } => {
            let query: Vec<(&str, String)> = [
                ("webhookId", webhook_id),
                ("eventId", event_id),
                ("status", status),
                ("event", event),
                ("limit", limit.map(|n| n.to_string())),
                ("offset", offset.map(|n| n.to_string())),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
            api.call(Method::GET, "/v1/webhooks/logs", &query, None)
                .await?
        }
        ZernioWebhook::Redeliver {
            webhook_id,
            event_id,
        } => {
            api.call(
                Method::POST,
                "/v1/webhooks/logs/redeliver",
                &[],
                Some(json!({ "webhookId": webhook_id, "eventId": event_id })),
            )
            .await?
        }
    };
    print(&answer);
    Ok(())
}

/// A note on stderr for event names outside the catalogue (Zernio adds names; still sent).
fn warn_unknown_events(events: &[String]) {
    for event in events {
        if !catalogue::ZERNIO.iter().any(|f| f.name == event) {
            eprintln!(
                "hookgate: `{event}` is not in hookgate's Zernio catalogue; sending it anyway"
            );
        }
    }
}

/// `Name: value` lines as a JSON object of strings.
fn custom_headers(lines: &[String]) -> Result<Value, Error> {
    let mut map = Map::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Error::usage(format_args!("--header `{line}` is not `Name: value`")))?;
        map.insert(name.trim().to_owned(), value.trim().into());
    }
    Ok(map.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_answers_are_not_printed() {
        let answer = json!({
            "id": "wh_1",
            "secret": "whsec_abc",
            "webhooks": [{"url": "https://x", "signingSecret": "s3cret", "secretSet": null}],
        });
        assert_eq!(
            redacted(answer),
            json!({
                "id": "wh_1",
                "secret": "[redacted]",
                "webhooks": [{"url": "https://x", "signingSecret": "[redacted]", "secretSet": null}],
            })
        );
    }

    #[test]
    fn api_error_messages() {
        assert_eq!(
            message(&json!({"error": "Unauthorized"})).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(
            message(&json!({"error": {"message": "bad url", "code": 1}})).as_deref(),
            Some("bad url")
        );
        assert_eq!(
            message(&json!({"status": "error", "message": "no profile"})).as_deref(),
            Some("no profile")
        );
        assert_eq!(message(&json!({"status": "error"})), None);
        assert_eq!(
            shorten("x".repeat(400).as_bytes()).chars().count(),
            MESSAGE_SHOWN + 1
        );
    }
}
