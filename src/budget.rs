//! [`Budget`]: the bytes of request bodies one service buffers at once, across all of its
//! deliveries, so that many concurrent unauthenticated bodies cannot exhaust memory (each is
//! bounded by the body limit, but their number is not).
//!
//! An atomic counter rather than a `tokio::sync::Semaphore`: a delivery never waits for room
//! (it is answered 503 at once, and the sender retries), so all it needs is a checked add.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A cap on the bytes buffered at once, shared by every clone of a service.
#[derive(Debug)]
pub(crate) struct Budget {
    capacity: usize,
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            used: AtomicUsize::new(0),
        }
    }

    /// The cap, in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes `bytes` if they fit under the cap.
    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes)
                    .filter(|&total| total <= self.capacity)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The bytes one delivery holds from a [`Budget`]; given back when it drops.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    budget: &'a Budget,
    held: usize,
}

impl<'a> Reservation<'a> {
    pub(crate) fn new(budget: &'a Budget) -> Self {
        Self { budget, held: 0 }
    }

    /// Holds `bytes` in all (more or fewer than now); `false`, with nothing changed, when the
    /// budget has no room for the difference.
    pub(crate) fn resize(&mut self, bytes: usize) -> bool {
        if bytes > self.held {
            if !self.budget.try_take(bytes - self.held) {
                return false;
            }
        } else {
            self.budget.give_back(self.held - bytes);
        }
        self.held = bytes;
        true
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_cap_and_give_back_on_drop() {
        let budget = Budget::new(100);
        let mut a = Reservation::new(&budget);
        let mut b = Reservation::new(&budget);
        assert!(a.resize(60));
        assert!(!b.resize(41), "60 + 41 is over the cap");
        assert!(b.resize(40));
        assert!(!a.resize(61));
        assert!(a.resize(10), "shrinking always fits");
        assert!(b.resize(90));
        drop(a);
        drop(b);
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
        assert!(!Reservation::new(&budget).resize(usize::MAX));
        assert_eq!(budget.used.load(Ordering::Relaxed), 0);
    }
}
