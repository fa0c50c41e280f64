//! The in-memory dedup store: a sharded `lru::LruCache` of 16-byte key digests.

use std::{
    fmt,
    num::NonZeroUsize,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use lru::LruCache;

use super::{Claim, DedupError, DedupKey, DedupStore, Lease, StoreFuture};

/// Default capacity: one million keys (about 84 MB resident, measured by `benches/dedup_memory.rs`).
const DEFAULT_CAPACITY: usize = 1 << 20;
/// Default number of shards, each behind its own mutex.
const DEFAULT_SHARDS: usize = 16;
/// Bits of a slot that hold the lease token (the rest hold the deadline).
const TOKEN_BITS: u32 = 24;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;

/// An in-process dedup store: bounded by capacity (least recently used keys go first) and by a
/// TTL per entry, with leases that expire.
///
/// Keys are spread over shards, each an [`lru::LruCache`] behind its own mutex, so concurrent
/// deliveries rarely wait for each other. An entry is 8 bytes of state (deadline in
/// milliseconds and lease token, packed) next to the 16-byte key digest; 83.7 bytes per key
/// in all at one million keys (resident memory, `cargo bench --bench dedup_memory`).
///
/// It is per process: when the app runs on several machines, use `RedisDedupStore` (feature
/// `redis`) so that a retry landing on another replica is still recognised.
pub struct MemoryStore {
    shards: Box<[Shard]>,
    epoch: coarsetime::Instant,
}

/// One shard, alone on its cache lines so that threads working on different shards never
/// contend for the same line.
#[repr(align(128))]
struct Shard(Mutex<ShardInner>);

struct ShardInner {
    lru: LruCache<[u8; 16], Slot>,
    /// Lease tokens only need to differ per key, so each shard counts its own (no shared
    /// atomic for threads to fight over).
    next_token: u64,
}

impl ShardInner {
    fn new_token(&mut self) -> u64 {
        self.next_token = self.next_token.wrapping_add(1) & TOKEN_MASK;
        if self.next_token == 0 {
            self.next_token = 1;
        }
        self.next_token
    }
}

/// Packed entry state: deadline (ms since the store's epoch) in the high 40 bits, the lease
/// token in the low 24. Token 0 marks a committed ("done") key whose deadline is its TTL.
#[derive(Clone, Copy)]
struct Slot(u64);

impl Slot {
    fn new(deadline_ms: u64, token: u64) -> Self {
        Self((deadline_ms << TOKEN_BITS) | (token & TOKEN_MASK))
    }
    fn deadline_ms(self) -> u64 {
        self.0 >> TOKEN_BITS
    }
    fn token(self) -> u64 {
        self.0 & TOKEN_MASK
    }
}

impl MemoryStore {
    /// A store for one million keys in 16 shards.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store for `capacity` keys (at least one per shard).
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_shards(capacity, DEFAULT_SHARDS)
    }

    /// A store for `capacity` keys spread over `shards` mutexes (rounded up to a power of two).
    ///
    /// Each shard holds `capacity / shards` keys plus 2% (and 8) of headroom for uneven
    /// hashing, so the true bound is slightly above `capacity`.
    pub fn with_shards(capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1).next_power_of_two();
        // Keys hash unevenly over the shards: give each 2% (+8) headroom, so that `capacity`
        // keys all fit rather than the fullest shard evicting early.
        let base = capacity.div_ceil(shards).max(1);
        let per_shard = NonZeroUsize::new(base + base / 50 + 8).expect("at least one");
        Self {
            shards: (0..shards)
                .map(|_| {
                    Shard(Mutex::new(ShardInner {
                        lru: LruCache::new(per_shard),
                        next_token: 0,
                    }))
                })
                .collect(),
            epoch: coarsetime::Instant::now(),
        }
    }

    /// The number of keys held (claimed, committed, or expired but not yet evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.0).lru.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &DedupKey) -> MutexGuard<'_, ShardInner> {
        let d = key.digest();
        let index = u64::from_le_bytes(d[8..16].try_into().expect("8 bytes")) as usize;
        lock(&self.shards[index & (self.shards.len() - 1)].0)
    }

    /// Milliseconds since the store was made, from the coarse monotonic clock (a few
    /// milliseconds of resolution, a fraction of the cost of a precise read: leases and TTLs
    /// are seconds to days).
    fn now_ms(&self) -> u64 {
        coarsetime::Instant::now()
            .duration_since(self.epoch)
            .as_millis()
    }

    /// Claims `key` (the synchronous core of [`DedupStore::claim`]).
    pub fn claim_now(&self, key: &DedupKey, lease: Duration) -> Claim {
        let now = self.now_ms();
        let mut shard = self.shard(key);
        if let Some(slot) = shard.lru.get(key.digest()).copied()
            && slot.deadline_ms() > now
        {
            return if slot.token() == 0 {
                Claim::Done
            } else {
                Claim::InFlight {
                    retry_after: Duration::from_millis(slot.deadline_ms() - now),
                }
            };
        }
        let token = shard.new_token();
        shard.lru.put(
            *key.digest(),
            Slot::new(now + lease.as_millis() as u64, token),
        );
        Claim::Acquired(Lease::new(token))
    }

    /// Commits `key` (the synchronous core of [`DedupStore::commit`]).
    pub fn commit_now(&self, key: &DedupKey, lease: Lease, ttl: Duration) -> bool {
        let now = self.now_ms();
        let mut shard = self.shard(key);
        match shard.lru.peek_mut(key.digest()) {
            Some(slot) if slot.token() == lease.token() & TOKEN_MASK => {
                *slot = Slot::new(now + ttl.as_millis() as u64, 0);
                true
            }
            _ => false,
        }
    }

    /// Releases `key` (the synchronous core of [`DedupStore::release`]).
    pub fn release_now(&self, key: &DedupKey, lease: Lease) -> bool {
        let mut shard = self.shard(key);
        match shard.lru.peek(key.digest()) {
            Some(slot) if slot.token() == lease.token() & TOKEN_MASK => {
                shard.lru.pop(key.digest());
                true
            }
            _ => false,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard cannot leave a slot half-written: recover the guard.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.shards.len())
            .field(
                "capacity",
                &self
                    .shards
                    .iter()
                    .map(|s| lock(&s.0).lru.cap().get())
                    .sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

impl DedupStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>> {
        let claim = self.claim_now(key, lease);
        StoreFuture::ready(Ok(claim))
    }

    fn commit<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::ready(Ok(self.commit_now(key, lease, ttl)))
    }

    fn release<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        StoreFuture::ready(Ok(self.release_now(key, lease)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const LEASE: Duration = Duration::from_secs(60);
    const TTL: Duration = Duration::from_secs(3600);

    fn acquired(claim: Claim) -> Lease {
        match claim {
            Claim::Acquired(lease) => lease,
            other => panic!("expected Acquired, got {other:?}"),
        }
    }

    #[test]
    fn claim_commit_release() {
        let store = MemoryStore::new();
        let key = DedupKey::new("p", None, "a");
        let lease = acquired(store.claim_now(&key, LEASE));
        assert!(
            matches!(store.claim_now(&key, LEASE), Claim::InFlight { retry_after } if retry_after <= LEASE)
        );
        assert!(store.release_now(&key, lease));
        assert!(
            !store.release_now(&key, lease),
            "a released lease holds nothing"
        );
        let lease = acquired(store.claim_now(&key, LEASE));
        assert!(store.commit_now(&key, lease, TTL));
        assert_eq!(store.claim_now(&key, LEASE), Claim::Done);
        assert!(
            !store.release_now(&key, lease),
            "a committed key cannot be released"
        );
    }

    #[test]
    fn leases_and_ttls_expire() {
        let store = MemoryStore::new();
        let key = DedupKey::new("p", None, "a");
        let stale = acquired(store.claim_now(&key, Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(40));
        // The holder died: the key is claimable again, and the stale holder can no longer
        // commit or release the new holder's claim.
        let fresh = acquired(store.claim_now(&key, LEASE));
        assert!(!store.commit_now(&key, stale, TTL));
        assert!(!store.release_now(&key, stale));
        assert!(store.commit_now(&key, fresh, Duration::from_millis(20)));
        assert_eq!(store.claim_now(&key, LEASE), Claim::Done);
        std::thread::sleep(Duration::from_millis(40));
        acquired(store.claim_now(&key, LEASE));
    }

    #[test]
    fn capacity_bounds_the_store() {
        let store = MemoryStore::with_shards(64, 4);
        for i in 0..1000 {
            let key = DedupKey::new("p", None, &i.to_string());
            let lease = acquired(store.claim_now(&key, LEASE));
            store.commit_now(&key, lease, TTL);
        }
        // 4 shards of 16 + 0 + 8 keys each.
        assert_eq!(store.len(), 4 * 24);
    }

    #[test]
    fn concurrent_claims_acquire_once() {
        let store = Arc::new(MemoryStore::new());
        let key = DedupKey::new("p", None, "race");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || store.claim_now(&key, LEASE))
            })
            .collect();
        let acquired = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|c| matches!(c, Claim::Acquired(_)))
            .count();
        assert_eq!(acquired, 1);
    }
}
