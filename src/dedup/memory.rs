//! The in-memory dedup store: sharded `schnellru::LruMap`s of 16-byte key digests.
//!
//! Why `schnellru` rather than `lru`: `lru` allocates a node per key (key, value, two
//! pointers: a 48-byte heap block) and indexes the nodes from a separate table of pointers, so a
//! claim of a fresh key that evicts touches the table twice, the evicted node and its neighbour,
//! each a cache (and, over a million keys, a TLB) miss of its own. `schnellru` keeps the same
//! exact LRU order but stores each entry inline in a single flat hash table (digest, slot and two
//! `u32` links: 32 bytes), with no allocation per key and no pointer to chase: about 70 bytes
//! per key at one million keys instead of 84. In `benches/dedup.rs` a claim and commit on one
//! thread, two coarse clock reads included, now cost no more than the bare `lru` baseline (which
//! reads no clock), where they cost 1.8 times as much before.

use std::{
    fmt,
    hash::{BuildHasher, Hash, Hasher},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use schnellru::{ByLength, LruMap};

use super::{Claim, DedupError, DedupKey, DedupStore, Lease, StoreFuture};

/// Default capacity: one million keys (about 70 MB resident, measured by `benches/dedup_memory.rs`).
const DEFAULT_CAPACITY: usize = 1 << 20;
/// Default number of shards, each behind its own mutex.
const DEFAULT_SHARDS: usize = 16;
/// Bits of a slot that hold the lease token; above them, the "done" bit, then the deadline.
const TOKEN_BITS: u32 = 24;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
/// Set once the key is committed: the deadline is then its TTL, and the token bits hold a
/// fingerprint of the lease that committed it (so that a repeated commit by the same holder is
/// answered `true`, as Redis answers it).
const DONE: u64 = 1 << TOKEN_BITS;
const DEADLINE_SHIFT: u32 = TOKEN_BITS + 1;
/// How many keys in flight a claim of a new key in a full shard may skip over, looking for a
/// handled or expired key to evict, before it refuses (see [`make_room`]).
const MAX_SKIPPED: usize = 64;
/// The latest deadline a slot can hold (39 bits of milliseconds: about 17 years).
const MAX_DEADLINE_MS: u64 = (1 << (64 - DEADLINE_SHIFT)) - 1;

/// An in-process dedup store: bounded by capacity (least recently used handled keys go first)
/// and by a TTL per entry, with leases that expire.
///
/// # Guarantees
///
/// - A key in flight (claimed, neither committed, released nor past its lease) is never
///   evicted: a duplicate of a delivery being handled gets [`Claim::InFlight`] until it ends,
///   and the holder's commit always finds its claim. When a shard has no room left but for
///   keys in flight, a claim of a new key is refused with a [`DedupError`] whose
///   [`is_full`](DedupError::is_full) is true (the pipeline answers 503 with `Retry-After`, so
///   the sender comes back once deliveries finished); keys already known still answer.
/// - Handled keys are evicted in least recently used order once the store is full, so a retry
///   arriving after more than `capacity` newer deliveries runs its handler again: size the
///   store for the deliveries of one provider retry horizon.
/// - Only the lease that claimed a key can commit or release it: a holder whose lease ran out
///   (and whose key was claimed again since) gets `false`. Lease tokens are 24-bit counters
///   per shard and wrap, but a [`Lease`] also carries its claim's deadline, which is later for
///   every new claim of a key, so a stale holder is told apart however many claims came in
///   between. (A committed key keeps 24 bits of its lease, so a stale holder's repeated commit
///   may, once in 2^24, be answered `true` for a key that is indeed handled.)
/// - Nothing survives the process: after a restart every key is new.
///
/// Keys are spread over shards, each an LRU map ([`schnellru::LruMap`]) behind its own mutex,
/// so concurrent deliveries rarely wait for each other. An entry is 32 bytes stored inline in
/// the shard's table: the 16-byte key digest, 8 bytes of state (deadline in milliseconds and
/// lease token, packed) and the two links of the LRU order; about 70 bytes per key in all at
/// one million keys (resident memory, `cargo bench --bench dedup_memory`).
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

type Map = LruMap<Digest, Slot, ByLength, DigestHasher>;

struct ShardInner {
    map: Map,
    /// Lease tokens only need to differ per key, so each shard counts its own (no shared
    /// atomic for threads to fight over). They are 24 bits and wrap, but a [`Lease`] is the
    /// whole claimed slot, deadline included: see [`Slot::held_by`].
    next_token: u64,
}

/// The next lease token of a shard: never 0, wrapping after 2^24 - 1.
fn new_token(next_token: &mut u64) -> u64 {
    *next_token = next_token.wrapping_add(1) & TOKEN_MASK;
    if *next_token == 0 {
        *next_token = 1;
    }
    *next_token
}

/// A key as stored: the 16-byte digest of a [`DedupKey`], hashed as its first 8 bytes.
///
/// The digest is a SHA-256 prefix, already uniformly distributed, so hashing it again would
/// only cost time: the table takes its first 8 bytes as they are (the shard is chosen by the
/// other 8). Keys come from signed content only, so nobody but a sender holding the secret
/// could grind digests that collide in a table.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Digest([u8; 16]);

impl Digest {
    fn of(key: &DedupKey) -> Self {
        Self(*key.digest())
    }
}

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (head, _) = self.0.split_first_chunk::<8>().expect("16 bytes");
        state.write_u64(u64::from_le_bytes(*head));
    }
}

/// Builds [`DigestHasher`]s.
#[derive(Clone, Copy, Default)]
struct DigestHasher;

/// Passes a [`Digest`]'s 8 bytes through as the hash.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `Digest` is hashed here, through `write_u64`; stay a valid hasher for any other
        // input all the same (FNV-1a).
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl BuildHasher for DigestHasher {
    type Hasher = PassThrough;

    fn build_hasher(&self) -> PassThrough {
        PassThrough(0xcbf2_9ce4_8422_2325)
    }
}

/// Packed entry state: deadline (ms since the store's epoch) in the high 39 bits, the done
/// bit, and in the low 24 the lease token (claimed; never 0) or a fingerprint of the lease
/// that committed (done; never 0).
#[derive(Clone, Copy)]
struct Slot(u64);

impl Slot {
    /// Claimed by `token` until `deadline_ms`.
    fn claimed(deadline_ms: u64, token: u64) -> Self {
        Self((deadline_ms.min(MAX_DEADLINE_MS) << DEADLINE_SHIFT) | (token & TOKEN_MASK))
    }
    /// Committed by `lease`, remembered until `deadline_ms`.
    fn done(deadline_ms: u64, lease: Lease) -> Self {
        Self(Self::claimed(deadline_ms, fingerprint(lease)).0 | DONE)
    }
    /// The lease of this claimed slot: the whole slot, deadline and token.
    fn lease(self) -> Lease {
        Lease::new(self.0)
    }
    fn deadline_ms(self) -> u64 {
        self.0 >> DEADLINE_SHIFT
    }
    fn is_done(self) -> bool {
        self.0 & DONE != 0
    }
    /// Whether `lease` holds this (claimed, not committed) entry: the lease is the slot as it
    /// was claimed, so the deadline must match as well as the 24-bit token. The token wraps,
    /// but a holder whose lease ran out has an earlier deadline than whoever claimed the key
    /// since (a claim is only granted at or after the previous one's deadline, and lasts at
    /// least a millisecond): a stale holder never passes for the current one, however many
    /// claims came in between.
    fn held_by(self, lease: Lease) -> bool {
        !self.is_done() && self.0 == lease.token()
    }
    /// Whether `lease` committed this entry (up to its 24-bit fingerprint).
    fn committed_by(self, lease: Lease) -> bool {
        self.is_done()
            && lease.token() & TOKEN_MASK != 0
            && self.0 & TOKEN_MASK == fingerprint(lease)
    }
}

/// 24 bits of a lease (deadline and token, mixed), never 0: what a committed slot keeps of the
/// lease that committed it.
fn fingerprint(lease: Lease) -> u64 {
    let mut z = lease.token().wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    match (z >> 40) & TOKEN_MASK {
        0 => 1,
        bits => bits,
    }
}

/// `now + duration` in milliseconds, saturating.
fn deadline(now_ms: u64, duration: Duration) -> u64 {
    now_ms.saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
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
    /// hashing, so the true bound is slightly above `capacity`. Memory is taken as keys arrive,
    /// not up front: a shard's table doubles as it fills (a rehash under that shard's lock).
    pub fn with_shards(capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1).next_power_of_two();
        // Keys hash unevenly over the shards: give each 2% (+8) headroom, so that `capacity`
        // keys all fit rather than the fullest shard evicting early.
        let base = capacity.div_ceil(shards).max(1);
        let per_shard =
            u32::try_from(base.saturating_add(base / 50).saturating_add(8)).unwrap_or(u32::MAX);
        Self {
            shards: (0..shards)
                .map(|_| {
                    Shard(Mutex::new(ShardInner {
                        map: LruMap::with_hasher(ByLength::new(per_shard), DigestHasher),
                        next_token: 0,
                    }))
                })
                .collect(),
            epoch: coarsetime::Instant::now(),
        }
    }

    /// The number of keys held (claimed, committed, or expired but not yet evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.0).map.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets every shard's token counter (to test the wrap).
    #[cfg(test)]
    fn set_next_token(&self, next: u64) {
        for shard in &self.shards {
            lock(&shard.0).next_token = next;
        }
    }

    fn shard(&self, key: &DedupKey) -> MutexGuard<'_, ShardInner> {
        let (_, tail) = key.digest().split_last_chunk::<8>().expect("16 bytes");
        let index = u64::from_le_bytes(*tail) as usize;
        lock(&self.shards[index & (self.shards.len() - 1)].0)
    }

    /// Milliseconds since the store was made, from the coarse monotonic clock (a few
    /// milliseconds of resolution, a fraction of the cost of a precise read: leases and TTLs
    /// are seconds to days). It does not update coarsetime's process-wide "recent" instant,
    /// which would be a store to one shared cache line from every thread on every call.
    fn now_ms(&self) -> u64 {
        coarsetime::Instant::now_without_cache_update()
            .duration_since(self.epoch)
            .as_millis()
    }

    /// Claims `key` (the synchronous core of [`DedupStore::claim`]).
    ///
    /// A new key in a full shard takes the place of the least recently used key that is
    /// handled or whose lease ran out; keys still in flight are never evicted. When the 64
    /// least recently used keys of the shard (or all, if fewer) are in flight, the claim is
    /// refused with a [`DedupError::is_full`] error (the pipeline answers 503 with
    /// `Retry-After`).
    pub fn claim_now(&self, key: &DedupKey, lease: Duration) -> Result<Claim, DedupError> {
        let now = self.now_ms();
        // At least a millisecond, so that every claim of a key ends later than the previous.
        let lease_deadline = deadline(now, lease).max(now + 1);
        let digest = Digest::of(key);
        let mut shard = self.shard(key);
        let ShardInner { map, next_token } = &mut *shard;
        // A known key is promoted and looked at.
        if let Some(slot) = map.get(&digest) {
            if slot.deadline_ms() > now {
                return Ok(if slot.is_done() {
                    Claim::Done
                } else {
                    Claim::InFlight {
                        retry_after: Duration::from_millis(slot.deadline_ms() - now),
                    }
                });
            }
            // The lease or the TTL ran out: the key is claimable again, under a new token.
            *slot = Slot::claimed(lease_deadline, new_token(next_token));
            return Ok(Claim::Acquired(slot.lease()));
        }
        // A new key: make room first if the shard is full, without evicting a key in flight.
        if map.len() >= map.limiter().max_length() as usize && !make_room(map, now) {
            return Err(full());
        }
        let slot = Slot::claimed(lease_deadline, new_token(next_token));
        if !map.insert(digest, slot) {
            return Err(full());
        }
        Ok(Claim::Acquired(slot.lease()))
    }

    /// Commits `key` (the synchronous core of [`DedupStore::commit`]). A repeated commit by the
    /// lease that committed the key answers `true` again (its TTL unchanged), as Redis does.
    pub fn commit_now(&self, key: &DedupKey, lease: Lease, ttl: Duration) -> bool {
        let now = self.now_ms();
        let mut shard = self.shard(key);
        match shard.map.peek_mut(&Digest::of(key)) {
            Some(slot) if slot.held_by(lease) => {
                *slot = Slot::done(deadline(now, ttl), lease);
                true
            }
            Some(slot) => slot.committed_by(lease) && slot.deadline_ms() > now,
            None => false,
        }
    }

    /// Releases `key` (the synchronous core of [`DedupStore::release`]).
    pub fn release_now(&self, key: &DedupKey, lease: Lease) -> bool {
        let digest = Digest::of(key);
        let mut shard = self.shard(key);
        match shard.map.peek(&digest) {
            Some(slot) if slot.held_by(lease) => {
                shard.map.remove(&digest);
                true
            }
            _ => false,
        }
    }
}

/// Makes room in a full shard for one more key by evicting its least recently used key, if
/// that key is handled or its lease ran out. A key still in flight is never evicted (a
/// duplicate of its delivery would then run while it is handled, and its commit be lost): it
/// is moved to the most recently used end instead, and the next oldest is looked at, at most
/// [`MAX_SKIPPED`] keys. False when none could go.
///
/// Moving a key in flight costs a few pointer writes, and it comes back to the oldest end only
/// after the whole shard was cycled through, so a claim skips keys only when the shard holds
/// more leases than it takes new keys during one lease: then it is nearly full of work.
fn make_room(map: &mut Map, now: u64) -> bool {
    for _ in 0..MAX_SKIPPED.min(map.len()) {
        let Some((&digest, &slot)) = map.peek_oldest() else {
            return true;
        };
        if slot.is_done() || slot.deadline_ms() <= now {
            map.pop_oldest();
            return true;
        }
        map.get(&digest);
    }
    false
}

/// The error of a claim refused by a shard full of keys in flight.
#[cold]
fn full() -> DedupError {
    DedupError::full("memory store full: its least recently used keys are all in flight")
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
                    .map(|s| lock(&s.0).map.limiter().max_length() as usize)
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
        StoreFuture::ready(self.claim_now(key, lease))
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

    /// `claim_now` of a claim that must not be refused.
    trait ClaimOk {
        fn claim_ok(&self, key: &DedupKey, lease: Duration) -> Claim;
    }

    impl ClaimOk for MemoryStore {
        fn claim_ok(&self, key: &DedupKey, lease: Duration) -> Claim {
            self.claim_now(key, lease).expect("claim refused")
        }
    }

    fn keys(n: usize) -> Vec<DedupKey> {
        (0..n)
            .map(|i| DedupKey::new("p", None, &i.to_string()))
            .collect()
    }

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
        let lease = acquired(store.claim_ok(&key, LEASE));
        assert!(
            matches!(store.claim_ok(&key, LEASE), Claim::InFlight { retry_after } if retry_after <= LEASE)
        );
        assert!(store.release_now(&key, lease));
        assert!(
            !store.release_now(&key, lease),
            "a released lease holds nothing"
        );
        let lease = acquired(store.claim_ok(&key, LEASE));
        assert!(store.commit_now(&key, lease, TTL));
        assert_eq!(store.claim_ok(&key, LEASE), Claim::Done);
        assert!(
            !store.release_now(&key, lease),
            "a committed key cannot be released"
        );
    }

    #[test]
    fn leases_and_ttls_expire() {
        let store = MemoryStore::new();
        let key = DedupKey::new("p", None, "a");
        let stale = acquired(store.claim_ok(&key, Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(40));
        // The holder died: the key is claimable again, and the stale holder can no longer
        // commit or release the new holder's claim.
        let fresh = acquired(store.claim_ok(&key, LEASE));
        assert!(!store.commit_now(&key, stale, TTL));
        assert!(!store.release_now(&key, stale));
        assert!(store.commit_now(&key, fresh, Duration::from_millis(20)));
        assert_eq!(store.claim_ok(&key, LEASE), Claim::Done);
        std::thread::sleep(Duration::from_millis(40));
        acquired(store.claim_ok(&key, LEASE));
    }

    #[test]
    fn capacity_bounds_the_store() {
        let store = MemoryStore::with_shards(64, 4);
        for i in 0..1000 {
            let key = DedupKey::new("p", None, &i.to_string());
            let lease = acquired(store.claim_ok(&key, LEASE));
            store.commit_now(&key, lease, TTL);
        }
        // 4 shards of 16 + 0 + 8 keys each.
        assert_eq!(store.len(), 4 * 24);
    }

    #[test]
    fn a_committed_key_answers_to_no_lease() {
        let store = MemoryStore::new();
        let key = DedupKey::new("p", None, "a");
        let lease = acquired(store.claim_ok(&key, LEASE));
        assert!(store.commit_now(&key, lease, TTL));
        // Token 0 is never issued: a lease that carries it (or a multiple of 2^24) holds
        // nothing, and neither does another lease.
        for forged in [
            Lease::new(0),
            Lease::new(1 << TOKEN_BITS),
            Lease::new(lease.token() + 1),
            // Same token, another deadline: a holder of an earlier claim.
            Lease::new(lease.token() - (1 << DEADLINE_SHIFT)),
        ] {
            assert!(!store.release_now(&key, forged));
            assert!(!store.commit_now(&key, forged, TTL));
        }
        // The committing lease may commit again (a retried commit whose answer was lost), as
        // with Redis, but cannot release what it committed.
        assert!(store.commit_now(&key, lease, TTL));
        assert!(!store.release_now(&key, lease));
        assert_eq!(store.claim_ok(&key, LEASE), Claim::Done);
    }

    #[test]
    fn a_wrapped_token_does_not_let_a_stale_holder_in() {
        let store = MemoryStore::with_shards(64, 1);
        let key = DedupKey::new("p", None, "a");
        store.set_next_token(TOKEN_MASK - 1);
        let stale = acquired(store.claim_ok(&key, Duration::from_millis(20)));
        assert_eq!(stale.token() & TOKEN_MASK, TOKEN_MASK);
        // The counter wraps to 1, never 0.
        let other = acquired(store.claim_ok(&DedupKey::new("p", None, "b"), LEASE));
        assert_eq!(other.token() & TOKEN_MASK, 1);
        std::thread::sleep(Duration::from_millis(40));
        // 2^24 - 1 claims later, the holder whose lease ran out has the same token as the one
        // who claims the key now.
        store.set_next_token(TOKEN_MASK - 1);
        let fresh = acquired(store.claim_ok(&key, LEASE));
        assert_eq!(fresh.token() & TOKEN_MASK, stale.token() & TOKEN_MASK);
        assert!(!store.commit_now(&key, stale, TTL), "stale commit refused");
        assert!(!store.release_now(&key, stale), "stale release refused");
        assert!(matches!(
            store.claim_ok(&key, LEASE),
            Claim::InFlight { .. }
        ));
        assert!(store.commit_now(&key, fresh, TTL));
        assert!(
            !store.commit_now(&key, stale, TTL),
            "nor does it pass for the committer"
        );
        assert!(
            store.commit_now(&key, fresh, TTL),
            "the committer may repeat"
        );
        assert_eq!(store.claim_ok(&key, LEASE), Claim::Done);
    }

    #[test]
    fn huge_durations_saturate() {
        let store = MemoryStore::new();
        let key = DedupKey::new("p", None, "a");
        let lease = acquired(store.claim_ok(&key, Duration::MAX));
        assert!(matches!(
            store.claim_ok(&key, LEASE),
            Claim::InFlight { retry_after } if retry_after > Duration::from_secs(3600 * 24 * 365)
        ));
        assert!(store.commit_now(&key, lease, Duration::MAX));
        assert_eq!(store.claim_ok(&key, LEASE), Claim::Done);
    }

    #[test]
    fn lru_order_keeps_recently_claimed_keys() {
        let store = MemoryStore::with_shards(1, 1); // one shard of 1 + 0 + 8 keys
        let keys = keys(10);
        for key in &keys[..9] {
            let lease = acquired(store.claim_ok(key, LEASE));
            assert!(store.commit_now(key, lease, TTL));
        }
        // Touch the oldest key: the next insert evicts the second oldest instead.
        assert_eq!(store.claim_ok(&keys[0], LEASE), Claim::Done);
        acquired(store.claim_ok(&keys[9], LEASE));
        assert_eq!(store.len(), 9);
        assert_eq!(store.claim_ok(&keys[0], LEASE), Claim::Done);
        acquired(store.claim_ok(&keys[1], LEASE));
    }

    #[test]
    fn keys_in_flight_are_never_evicted() {
        let store = MemoryStore::with_shards(1, 1); // one shard of 9 keys
        let keys = keys(12);
        let leases: Vec<Lease> = keys[..9]
            .iter()
            .map(|key| acquired(store.claim_ok(key, LEASE)))
            .collect();
        // Full of work: a new key is refused (503) rather than a running delivery forgotten.
        let error = store.claim_now(&keys[9], LEASE).unwrap_err();
        assert!(error.is_full(), "{error}");
        assert_eq!(store.len(), 9);
        for key in &keys[..9] {
            assert!(
                matches!(store.claim_ok(key, LEASE), Claim::InFlight { .. }),
                "a duplicate of a running delivery is still in flight"
            );
        }
        // One delivery done (not the oldest): its key makes room, the older ones in flight
        // are skipped over and kept.
        assert!(store.commit_now(&keys[4], leases[4], TTL));
        acquired(store.claim_ok(&keys[9], LEASE));
        assert!(store.claim_now(&keys[10], LEASE).unwrap_err().is_full());
        for (key, lease) in keys[..9].iter().zip(&leases) {
            if key != &keys[4] {
                assert!(matches!(store.claim_ok(key, LEASE), Claim::InFlight { .. }));
                assert!(store.commit_now(key, *lease, TTL), "the first commit lands");
            }
        }
        // Handled keys go in LRU order, as before.
        acquired(store.claim_ok(&keys[10], LEASE));
        acquired(store.claim_ok(&keys[11], LEASE));
        assert_eq!(store.len(), 9);
    }

    #[test]
    fn expired_leases_make_room() {
        let store = MemoryStore::with_shards(1, 1);
        let keys = keys(10);
        for key in &keys[..9] {
            acquired(store.claim_ok(key, Duration::from_millis(20)));
        }
        std::thread::sleep(Duration::from_millis(40));
        acquired(store.claim_ok(&keys[9], LEASE));
        assert_eq!(store.len(), 9);
    }

    /// Through the pipeline: a store full of work answers 503 with `Retry-After`, and the
    /// handler is not called; once the work is done, the delivery is handled.
    #[cfg(feature = "zernio")]
    #[tokio::test]
    async fn a_full_store_answers_503_with_retry_after() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tower::ServiceExt as _;

        use crate::{keyring::Keyring, zernio};

        let store = Arc::new(MemoryStore::with_shards(1, 1));
        let keys = keys(9);
        let leases: Vec<Lease> = keys
            .iter()
            .map(|key| acquired(store.claim_ok(key, LEASE)))
            .collect();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let webhooks = crate::Webhooks::new(zernio::Zernio::new(["secret"]).unwrap())
            .store(store.clone())
            .on(move |_: zernio::WebhookTest| {
                counter.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .build()
            .unwrap();
        let request = || {
            let body = r#"{"id":"evt_full","event":"webhook.test","message":"m","timestamp":"2026-09-01T12:00:00.000Z"}"#;
            let signature = Keyring::new(["secret"])
                .unwrap()
                .sign(b"", body.as_bytes())
                .to_hex();
            http::Request::post("/")
                .header("content-type", "application/json")
                .header("x-zernio-signature", signature)
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap()
        };
        let response = webhooks.clone().oneshot(request()).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "5");
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        for (key, lease) in keys.iter().zip(&leases) {
            assert!(store.commit_now(key, *lease, TTL));
        }
        let response = webhooks.oneshot(request()).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn debug_shows_shape_not_keys() {
        let store = MemoryStore::with_shards(64, 4);
        assert_eq!(
            format!("{store:?}"),
            "MemoryStore { shards: 4, capacity: 96, .. }"
        );
    }

    #[test]
    fn concurrent_claims_acquire_once() {
        let store = Arc::new(MemoryStore::new());
        let key = DedupKey::new("p", None, "race");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || store.claim_ok(&key, LEASE))
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
