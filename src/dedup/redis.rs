//! `RedisDedupStore` (in progress).

/// A dedup store in Redis, shared by several replicas (in progress).
#[derive(Debug)]
pub struct RedisDedupStore;
