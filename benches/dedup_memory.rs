//! Bytes per key of the in-memory dedup store at one million keys (resident memory before and
//! after, read from `/proc/self/statm`), next to a plain `lru::LruCache<String, u64>` holding
//! the same keys as provider-prefixed strings.
//!
//! `cargo bench --bench dedup_memory`

use std::{num::NonZeroUsize, time::Duration};

use hookgate::dedup::{Claim, DedupKey, MemoryStore};

const KEYS: usize = 1_000_000;

/// Resident set size in bytes (Linux).
fn resident() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn report(name: &str, before: Option<usize>, after: Option<usize>) {
    match (before, after) {
        (Some(before), Some(after)) => {
            let per_key = (after - before) as f64 / KEYS as f64;
            println!(
                "{name}: {KEYS} keys, {} bytes resident, {per_key:.1} bytes/key",
                after - before
            );
        }
        _ => println!("{name}: resident memory not readable on this system"),
    }
}

fn main() {
    let ids: Vec<String> = (0..KEYS)
        .map(|i| format!("6b1e2f90-3a4c-4d8e-b7f1-{i:012}"))
        .collect();

    let before = resident();
    let store = MemoryStore::with_capacity(KEYS);
    for id in &ids {
        let key = DedupKey::new("zernio", None, id);
        if let Ok(Claim::Acquired(lease)) = store.claim_now(&key, Duration::from_secs(60)) {
            store.commit_now(&key, lease, Duration::from_secs(72 * 3600));
        }
    }
    assert_eq!(store.len(), KEYS);
    report("memory_store", before, resident());

    let before = resident();
    let mut lru = lru::LruCache::<String, u64>::new(NonZeroUsize::new(KEYS).unwrap());
    for id in &ids {
        lru.put(format!("zernio:{id}"), 0);
    }
    report("lru_string_keys (baseline)", before, resident());
    drop((store, lru));
}
