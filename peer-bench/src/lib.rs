//! Nothing but a home for `benches/standard_verify.rs`, which compares hookgate's Standard
//! Webhooks verification with peer crates (svix, standardwebhooks, webhook-verify).
//!
//! It is a separate workspace member, outside the root's `default-members`, so the peers'
//! dependencies (svix alone pulls about a hundred crates) never reach hookgate's own test,
//! clippy or doc builds.
//!
//! `cargo bench -p hookgate-peer-bench`
