//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`).
//!
//! hookgate records; your application chooses the exporter (Prometheus with
//! `metrics-exporter-prometheus`, OpenTelemetry with `metrics-exporter-opentelemetry`, ...).
//! With no recorder installed every call is a no-op; without the feature they compile to nothing.
//! (`metrics-exporter-prometheus`'s `install_recorder` keeps histogram samples until a scrape or
//! an upkeep: run `PrometheusHandle::run_upkeep` every few seconds, as the receiver example
//! does.)
//!
//! Names and units follow OpenTelemetry's semantic conventions (dotted names, units in the
//! metric's description and histogram values in seconds); a Prometheus exporter turns the dots
//! into underscores (`hookgate_deliveries_total`).
//!
//! | name | kind | unit | labels | what |
//! | --- | --- | --- | --- | --- |
//! | `hookgate.deliveries` | counter | `{delivery}` | `provider`, `event`, `outcome` | every delivery, by how it ended: `handled`, `duplicate`, `ignored`, `accepted` (stored in the inbox), or the refusal's code (`invalid_signature`, `payload_too_large`, `in_flight`, `store_unavailable`, `overloaded`, `handler_error`, `handler_timeout`, ...; behind `WebhookLayer`, `handler_refused` when the inner service answered non-2xx) |
//! | `hookgate.verification.failures` | counter | `{delivery}` | `provider`, `reason` | signature refusals by reason (`missing_signature`, `malformed_signature`, `ambiguous_signature`, `invalid_signature`, `timestamp_too_old`, ...): the first sign of a rotation gone wrong or an attack |
//! | `hookgate.handler.duration` | histogram | `s` | `provider`, `event`, `outcome` | how long handlers ran to their answer (inline and inbox), `outcome` = `ok` or `error` (panics and timeouts are counted by `hookgate.deliveries` / `hookgate.inbox.attempts`) |
//! | `hookgate.deliveries.in_flight` | gauge | `{delivery}` | `provider` | deliveries between the first byte and the answer |
//! | `hookgate.inbox.attempts` | counter | `{attempt}` | `provider`, `event`, `outcome` | inbox handler attempts: `done`, `retry`, `dead` |
//! | `hookgate.inbox.dead` | counter | `{event}` | `provider`, `event` | events that went dead (kept, replayable) |
//! | `hookgate.inbox.depth` | gauge | `{event}` | `state` | events `pending`, `running` and `dead`, sampled by the workers every 10 s |
//! | `hookgate.inbox.oldest_pending.age` | gauge | `s` | | how long the longest-waiting claimable event has waited for a worker since it fell due (stored, retry due, or lease of a dead worker expired); 0 when nothing is due; sampled with the depth: how far behind the workers are |
//! | `hookgate.dedup.errors` | counter | `{error}` | `provider`, `operation` | dedup store failures (`claim`, `commit`, `release`) |
//! | `hookgate.inbox.errors` | counter | `{error}` | `operation` | inbox storage failures (`insert`, `claim`, `complete`, ...) |
//!
//! No label takes an unbounded value: `event` is a name of the provider's catalogue, `_other`
//! for any other name (a sender-chosen name never becomes a new series), and `_none` before the
//! body was verified (and for a delivery whose provider or dedup store panicked); keys, ids and
//! tenants are never labels.

#[cfg(feature = "metrics")]
mod on {
    use std::time::Duration;

    pub(crate) const DELIVERIES: &str = "hookgate.deliveries";
    pub(crate) const VERIFICATION_FAILURES: &str = "hookgate.verification.failures";
    pub(crate) const HANDLER_DURATION: &str = "hookgate.handler.duration";
    pub(crate) const IN_FLIGHT: &str = "hookgate.deliveries.in_flight";
    pub(crate) const INBOX_ATTEMPTS: &str = "hookgate.inbox.attempts";
    pub(crate) const INBOX_DEAD: &str = "hookgate.inbox.dead";
    pub(crate) const INBOX_DEPTH: &str = "hookgate.inbox.depth";
    pub(crate) const INBOX_OLDEST_AGE: &str = "hookgate.inbox.oldest_pending.age";
    pub(crate) const DEDUP_ERRORS: &str = "hookgate.dedup.errors";
    pub(crate) const INBOX_ERRORS: &str = "hookgate.inbox.errors";

    /// Describes every metric once (units and help text), the first time anything is recorded.
    fn describe() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
            describe_counter!(DELIVERIES, Unit::Count, "Webhook deliveries, by outcome");
            describe_counter!(
                VERIFICATION_FAILURES,
                Unit::Count,
                "Deliveries refused at signature verification, by reason"
            );
            describe_histogram!(HANDLER_DURATION, Unit::Seconds, "Handler run time");
            describe_gauge!(IN_FLIGHT, Unit::Count, "Deliveries being processed");
            describe_counter!(INBOX_ATTEMPTS, Unit::Count, "Inbox handler attempts");
            describe_counter!(INBOX_DEAD, Unit::Count, "Inbox events that went dead");
            describe_gauge!(INBOX_DEPTH, Unit::Count, "Inbox events by state");
            describe_gauge!(
                INBOX_OLDEST_AGE,
                Unit::Seconds,
                "How long the longest-waiting due inbox event has waited for a worker"
            );
            describe_counter!(DEDUP_ERRORS, Unit::Count, "Dedup store failures");
            describe_counter!(INBOX_ERRORS, Unit::Count, "Inbox storage failures");
        });
    }

    pub(crate) fn delivery(provider: &'static str, event: &'static str, outcome: &'static str) {
        describe();
        metrics::counter!(DELIVERIES, "provider" => provider, "event" => event, "outcome" => outcome)
            .increment(1);
    }

    pub(crate) fn verification_failure(provider: &'static str, reason: &'static str) {
        describe();
        metrics::counter!(VERIFICATION_FAILURES, "provider" => provider, "reason" => reason)
            .increment(1);
    }

    pub(crate) fn handler_duration(
        provider: &'static str,
        event: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        describe();
        metrics::histogram!(HANDLER_DURATION, "provider" => provider, "event" => event, "outcome" => outcome)
            .record(took.as_secs_f64());
    }

    pub(crate) fn in_flight(provider: &'static str, delta: f64) {
        describe();
        metrics::gauge!(IN_FLIGHT, "provider" => provider).increment(delta);
    }

    pub(crate) fn inbox_attempt(
        provider: &'static str,
        event: &'static str,
        outcome: &'static str,
    ) {
        describe();
        metrics::counter!(INBOX_ATTEMPTS, "provider" => provider, "event" => event, "outcome" => outcome)
            .increment(1);
        if outcome == "dead" {
            metrics::counter!(INBOX_DEAD, "provider" => provider, "event" => event).increment(1);
        }
    }

    pub(crate) fn inbox_backlog(pending: u64, running: u64, dead: u64, oldest_age: Duration) {
        describe();
        metrics::gauge!(INBOX_DEPTH, "state" => "pending").set(pending as f64);
        metrics::gauge!(INBOX_DEPTH, "state" => "running").set(running as f64);
        metrics::gauge!(INBOX_DEPTH, "state" => "dead").set(dead as f64);
        metrics::gauge!(INBOX_OLDEST_AGE).set(oldest_age.as_secs_f64());
    }

    pub(crate) fn dedup_error(provider: &'static str, operation: &'static str) {
        describe();
        metrics::counter!(DEDUP_ERRORS, "provider" => provider, "operation" => operation)
            .increment(1);
    }

    pub(crate) fn inbox_error(operation: &'static str) {
        describe();
        metrics::counter!(INBOX_ERRORS, "operation" => operation).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn)]
mod on {
    use std::time::Duration;

    pub(crate) fn delivery(_: &'static str, _: &'static str, _: &'static str) {}
    pub(crate) fn verification_failure(_: &'static str, _: &'static str) {}
    pub(crate) fn handler_duration(_: &'static str, _: &'static str, _: &'static str, _: Duration) {
    }
    pub(crate) fn in_flight(_: &'static str, _: f64) {}
    pub(crate) fn inbox_attempt(_: &'static str, _: &'static str, _: &'static str) {}
    pub(crate) fn inbox_backlog(_: u64, _: u64, _: u64, _: Duration) {}
    pub(crate) fn dedup_error(_: &'static str, _: &'static str) {}
    pub(crate) fn inbox_error(_: &'static str) {}
}

#[allow(unused_imports)]
pub(crate) use on::*;

/// Whether metrics are recorded at all (feature `metrics`): lets callers skip work that only
/// feeds a label.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

/// The `event` label for `name`: the catalogue's own `&'static str` when `E` names it, else
/// `_other` (a name the sender chose never becomes a series of its own).
pub(crate) fn event_label<E: crate::event::Event>(name: &str) -> &'static str {
    E::NAMES
        .iter()
        .find(|known| **known == name)
        .copied()
        .unwrap_or("_other")
}

/// Counts a delivery as in flight until dropped.
pub(crate) struct InFlight(&'static str);

impl InFlight {
    pub(crate) fn new(provider: &'static str) -> Self {
        in_flight(provider, 1.0);
        Self(provider)
    }

    /// The provider it counts.
    pub(crate) fn provider(&self) -> &'static str {
        self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        in_flight(self.0, -1.0);
    }
}
