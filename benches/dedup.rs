//! In-memory dedup: claim + commit of fresh keys on 1 and 2 threads, against a single
//! `lru::LruCache` behind one mutex on one thread (same key pool, same nominal capacity, same
//! map work). The store does a little more: two coarse clock reads per delivery, deadline and
//! token checks, and it holds 2% (+8 per shard) more keys than asked for, as headroom.
//!
//! `cargo bench --bench dedup`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::{
    hint::black_box,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookgate::dedup::{Claim, DedupKey, Lease, MemoryStore};
use lru::LruCache;

const CAPACITY: usize = 1 << 20;
const LEASE: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(72 * 3600);

fn keys(n: usize) -> Arc<Vec<DedupKey>> {
    Arc::new(
        (0..n)
            .map(|i| DedupKey::new("zernio", None, &format!("evt-{i}")))
            .collect(),
    )
}

fn store_op(store: &MemoryStore, key: &DedupKey) {
    if let Ok(Claim::Acquired(lease)) = store.claim_now(key, LEASE) {
        black_box(store.commit_now(key, lease, TTL));
    }
}

/// The baseline: the same claim (get, then put) and commit (peek_mut) on one LRU, one mutex.
fn lru_op(lru: &Mutex<LruCache<[u8; 16], u64>>, key: &DedupKey, token: u64) {
    let mut cache = lru.lock().unwrap();
    if cache.get(key.digest()).is_none() {
        cache.put(*key.digest(), token);
    }
    drop(cache);
    let mut cache = lru.lock().unwrap();
    if let Some(slot) = cache.peek_mut(key.digest()) {
        *slot = 0;
    }
    black_box(Lease::new(token));
}

fn dedup(c: &mut Criterion) {
    let pool = keys(4 * CAPACITY);
    let mut group = c.benchmark_group("dedup_claim_commit");
    group.throughput(Throughput::Elements(1));

    let lru = Mutex::new(LruCache::new(NonZeroUsize::new(CAPACITY).unwrap()));
    let mut next = 0usize;
    group.bench_function("lru_one_mutex_1_thread", |b| {
        b.iter(|| {
            next = (next + 1) % pool.len();
            lru_op(&lru, &pool[next], next as u64 + 1);
        })
    });

    let store = Arc::new(MemoryStore::with_capacity(CAPACITY));
    let mut next = 0usize;
    group.bench_function("memory_store_1_thread", |b| {
        b.iter(|| {
            next = (next + 1) % pool.len();
            store_op(&store, &pool[next]);
        })
    });

    // Two threads share the work of `iters` operations; the time per operation is wall time
    // over the total, so 2x scaling shows as half the time per delivery.
    let offset = std::sync::atomic::AtomicUsize::new(0);
    group.bench_function("memory_store_2_threads", |b| {
        b.iter_custom(|iters| {
            let start_at = offset.fetch_add(iters as usize, std::sync::atomic::Ordering::Relaxed);
            let start = Instant::now();
            std::thread::scope(|scope| {
                for t in 0..2usize {
                    let (store, pool) = (&store, &pool);
                    scope.spawn(move || {
                        let mut i = t;
                        while i < iters as usize {
                            store_op(store, &pool[(start_at + i) % pool.len()]);
                            i += 2;
                        }
                    });
                }
            });
            start.elapsed()
        })
    });

    // The machine's own two-thread scaling on this kind of work: two independent LRUs (no
    // sharing at all), each doing the same claim + commit. No shared store can beat it.
    let lrus = [
        Mutex::new(LruCache::new(NonZeroUsize::new(CAPACITY / 2).unwrap())),
        Mutex::new(LruCache::new(NonZeroUsize::new(CAPACITY / 2).unwrap())),
    ];
    group.bench_function("two_independent_lrus_2_threads", |b| {
        b.iter_custom(|iters| {
            let start_at = offset.fetch_add(iters as usize, std::sync::atomic::Ordering::Relaxed);
            let start = Instant::now();
            std::thread::scope(|scope| {
                for (t, lru) in lrus.iter().enumerate() {
                    let pool = &pool;
                    scope.spawn(move || {
                        let mut i = t;
                        while i < iters as usize {
                            let n = (start_at + i) % pool.len();
                            lru_op(lru, &pool[n], n as u64 + 1);
                            i += 2;
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = dedup
}
criterion_main!(benches);
