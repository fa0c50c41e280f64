//! `send`: one delivery, or the same delivery again and again (retries) or at once (concurrent
//! duplicates), with a summary of the answers.

use std::{
    collections::BTreeMap,
    io::{IsTerminal as _, Write as _},
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::{
    catalogue::Payload,
    error::Error,
    sign::{Attempt, Signer},
};

/// Up to this many answers are printed one by one (beyond, only the summary).
const LISTED: u32 = 10;
/// Distinct answer bodies kept per status in the summary; the rest are counted together.
const BODIES_PER_STATUS: usize = 8;
/// Answer bodies are kept up to this many bytes.
const BODY_SHOWN: usize = 300;
/// Distinct transport errors kept.
const ERRORS_KEPT: usize = 5;

/// How to send.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Where to.
    pub(crate) url: String,
    /// How many times the same delivery is sent.
    pub(crate) repeat: u32,
    /// How many at once.
    pub(crate) concurrent: u32,
    /// Per-request timeout.
    pub(crate) timeout: Duration,
}

/// One answer.
#[derive(Debug, Serialize)]
pub(crate) struct Answer {
    /// 1-based attempt number.
    pub(crate) attempt: u32,
    /// The status, or none when no answer came.
    pub(crate) status: Option<u16>,
    /// The answer's body (its start), or the transport error.
    pub(crate) body: String,
    /// Time to the whole answer, in milliseconds.
    pub(crate) ms: f64,
}

/// Everything a run saw, bounded.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    /// The event sent.
    pub(crate) event: String,
    /// The delivery key in the body (Zernio `id`, Ayrshare `hookId`, `webhook-id`).
    pub(crate) key: Option<String>,
    /// Where it went.
    pub(crate) url: String,
    /// Deliveries sent.
    pub(crate) sent: u32,
    /// Answers by status, then by body: counts.
    pub(crate) answers: BTreeMap<u16, BTreeMap<String, u32>>,
    /// Deliveries without an answer.
    pub(crate) no_answer: u32,
    /// The first distinct transport errors.
    pub(crate) errors: Vec<String>,
    /// Latency of the answered deliveries, in milliseconds: p50, p99, max.
    pub(crate) latency_ms: Option<Latency>,
    /// The answers one by one, when there are few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) each: Vec<Answer>,
}

/// Latency percentiles (nearest rank), in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// Slowest.
    pub(crate) max: f64,
}

impl Summary {
    /// Answers outside 2xx.
    pub(crate) fn not_2xx(&self) -> u32 {
        self.answers
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(_, bodies)| bodies.values().sum::<u32>())
            .sum()
    }

    /// The exit verdict: network errors first, then non-2xx answers.
    pub(crate) fn verdict(&self) -> Result<(), Error> {
        if self.no_answer > 0 {
            return Err(Error::Network(format!(
                "{} of {} deliveries got no answer: {}",
                self.no_answer,
                self.sent,
                self.errors.first().map_or("", String::as_str)
            )));
        }
        match self.not_2xx() {
            0 => Ok(()),
            bad => Err(Error::Failed(format!(
                "{bad} of {} answers were not 2xx",
                self.sent
            ))),
        }
    }

    /// The human-readable report.
    pub(crate) fn print(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for answer in &self.each {
            match answer.status {
                Some(status) => writeln!(
                    out,
                    "{status} {} in {:.1} ms: {}",
                    reason(status),
                    answer.ms,
                    answer.body
                )?,
                None => writeln!(out, "no answer after {:.1} ms: {}", answer.ms, answer.body)?,
            }
        }
        if self.sent == 1 {
            return Ok(());
        }
        writeln!(
            out,
            "\n{} deliveries of {} (key {}) to {}",
            self.sent,
            self.event,
            self.key.as_deref().unwrap_or("-"),
            self.url
        )?;
        writeln!(out, "{:<8} {:>8}  answer", "status", "count")?;
        for (status, bodies) in &self.answers {
            for (body, count) in bodies {
                writeln!(out, "{status:<8} {count:>8}  {body}")?;
            }
        }
        if self.no_answer > 0 {
            writeln!(out, "{:<8} {:>8}  no answer", "-", self.no_answer)?;
            for error in &self.errors {
                writeln!(out, "{:<8} {:>8}  {error}", "", "")?;
            }
        }
        if let Some(latency) = &self.latency_ms {
            writeln!(
                out,
                "latency  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                latency.p50, latency.p99, latency.max
            )?;
        }
        Ok(())
    }
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Sends `payload` as `plan` says, each attempt signed afresh (its own timestamp and attempt
/// number; the body and its key stay the same: a retry).
pub(crate) async fn send(signer: Signer, payload: Payload, plan: Plan) -> Result<Summary, Error> {
    let client = reqwest::Client::builder()
        .timeout(plan.timeout)
        .build()
        .map_err(|e| Error::network(&e))?;
    let signer = Arc::new(signer);
    let body = Bytes::from(payload.body.clone());
    let total = plan.repeat;
    let concurrent = plan.concurrent.clamp(1, total.max(1));

    let done = Arc::new(AtomicU32::new(0));
    let progress = (total > 1).then(|| tokio::spawn(progress(done.clone(), total)));

    let mut summary = Summary {
        event: payload.event.clone(),
        key: payload.id.clone(),
        url: plan.url.clone(),
        sent: 0,
        answers: BTreeMap::new(),
        no_answer: 0,
        errors: Vec::new(),
        latency_ms: None,
        each: Vec::new(),
    };
    let payload = Arc::new(payload);
    let mut latencies = Vec::with_capacity(total as usize);
    let mut running = JoinSet::new();
    let mut next = 1;
    while next <= total || !running.is_empty() {
        while next <= total && running.len() < concurrent as usize {
            let (client, signer, payload, body, url) = (
                client.clone(),
                signer.clone(),
                payload.clone(),
                body.clone(),
                plan.url.clone(),
            );
            running.spawn(async move {
                let attempt = Attempt {
                    timestamp: unix_now(),
                    number: next,
                };
                let mut request = client.post(&url).body(body);
                for (name, value) in signer.headers(&payload, attempt) {
                    request = request.header(name, value);
                }
                let started = Instant::now();
                let result = match request.send().await {
                    Ok(mut response) => {
                        let status = response.status().as_u16();
                        // The answer is shown cut at BODY_SHOWN bytes: read no more than that
                        // (and one byte to know it was cut), whatever the receiver sends.
                        let mut kept = Vec::new();
                        let read = loop {
                            match response.chunk().await {
                                Ok(Some(chunk)) => {
                                    let room = (BODY_SHOWN + 1).saturating_sub(kept.len());
                                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                                    if kept.len() > BODY_SHOWN {
                                        break Ok(());
                                    }
                                }
                                Ok(None) => break Ok(()),
                                Err(error) => break Err(Error::network(&error)),
                            }
                        };
                        read.map(|()| (status, Bytes::from(kept)))
                    }
                    Err(error) => Err(Error::network(&error)),
                };
                (next, started.elapsed(), result)
            });
            next += 1;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (attempt, elapsed, result) = joined.expect("a send task does not panic");
        done.fetch_add(1, Ordering::Relaxed);
        summary.sent += 1;
        let ms = elapsed.as_secs_f64() * 1000.0;
        let (status, text) = match result {
            Ok((status, bytes)) => {
                latencies.push(elapsed);
                let text = shown(&bytes);
                let bodies = summary.answers.entry(status).or_default();
                let slot = if bodies.contains_key(&text) || bodies.len() < BODIES_PER_STATUS {
                    text.clone()
                } else {
                    "(other bodies)".to_owned()
                };
                *bodies.entry(slot).or_default() += 1;
                (Some(status), text)
            }
            Err(error) => {
                summary.no_answer += 1;
                let text = error.to_string();
                if summary.errors.len() < ERRORS_KEPT && !summary.errors.contains(&text) {
                    summary.errors.push(text.clone());
                }
                (None, text)
            }
        };
        if total <= LISTED {
            summary.each.push(Answer {
                attempt,
                status,
                body: text,
                ms,
            });
        }
    }
    if let Some(progress) = progress {
        progress.abort();
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
    summary.each.sort_by_key(|answer| answer.attempt);
    summary.latency_ms = latency(&mut latencies);
    Ok(summary)
}

/// A line on stderr every second while a long run goes on.
async fn progress(done: Arc<AtomicU32>, total: u32) {
    let terminal = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = done.load(Ordering::Relaxed);
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r{done}/{total} sent")
        } else {
            writeln!(err, "{done}/{total} sent")
        };
        let _ = err.flush();
    }
}

fn shown(bytes: &[u8]) -> String {
    let cut = bytes.len().min(BODY_SHOWN);
    let mut text = String::from_utf8_lossy(&bytes[..cut]).trim().to_owned();
    if cut < bytes.len() {
        text.push('…');
    }
    text
}

fn latency(latencies: &mut [Duration]) -> Option<Latency> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let rank = |p: f64| {
        let index = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    Some(Latency {
        p50: rank(0.50),
        p99: rank(0.99),
        max: rank(1.0),
    })
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut values: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let latency = latency(&mut values).unwrap();
        assert_eq!((latency.p50, latency.p99, latency.max), (50.0, 99.0, 100.0));
        let mut one = [Duration::from_millis(7)];
        assert_eq!(super::latency(&mut one).unwrap().p99, 7.0);
        assert!(super::latency(&mut []).is_none());
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(1000);
        let text = shown(long.as_bytes());
        assert_eq!(text.chars().count(), BODY_SHOWN + 1);
        assert!(text.ends_with('…'));
    }
}
