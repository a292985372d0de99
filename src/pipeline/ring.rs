//! A bounded single-producer single-consumer ring whose slots are used in place.
//!
//! The slots are allocated once (`Ring::with_slots`) and never move: the producer writes into
//! the next free slots and publishes them (`commit`), the consumer reads them where they lie
//! and hands them back (`release`). Nothing is copied through the ring and nothing is
//! allocated after construction, so it doubles as the frame pool. Lock-free: one atomic
//! index per side (head written only by the producer, tail only by the consumer), each on its
//! own cache line, plus a cached copy of the other side's index so that the shared lines are
//! touched only when the cached view says the ring is full (or empty).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// An index on its own cache line (128 bytes: the prefetcher pairs lines on x86 and some
/// Arm cores use 128-byte lines).
#[repr(align(128))]
struct Padded(AtomicUsize);

struct Shared<T> {
    slots: Box<[UnsafeCell<T>]>,
    mask: usize,
    /// Next slot the producer will publish (count of slots ever published).
    head: Padded,
    /// Next slot the consumer will release (count of slots ever released).
    tail: Padded,
}

// The producer only touches slots in [head, tail + cap), the consumer only [tail, head); the
// Release/Acquire pairs on head and tail order the slot writes with the index updates.
unsafe impl<T: Send> Sync for Shared<T> {}
unsafe impl<T: Send> Send for Shared<T> {}

/// The writing end.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
}

/// The reading end.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
}

unsafe impl<T: Send> Send for Producer<T> {}
unsafe impl<T: Send> Send for Consumer<T> {}

/// Builds a ring over `slots` (their number must be a power of two).
pub fn with_slots<T: Send>(slots: Vec<T>) -> (Producer<T>, Consumer<T>) {
    assert!(
        slots.len().is_power_of_two(),
        "ring size must be a power of two"
    );
    let mask = slots.len() - 1;
    let shared = Arc::new(Shared {
        slots: slots.into_iter().map(UnsafeCell::new).collect(),
        mask,
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
    });
    (
        Producer {
            shared: shared.clone(),
            head: 0,
            cached_tail: 0,
        },
        Consumer {
            shared,
            tail: 0,
            cached_head: 0,
        },
    )
}

/// Two slices covering `len` slots from `start`, split where the ring wraps.
///
/// # Safety
/// The caller owns the slots `[start, start + len)` (producer: free; consumer: published).
// The slots live in UnsafeCells: handing out `&mut` from `&Shared` is the point, and the
// indices make the two ends' spans disjoint.
#[allow(clippy::mut_from_ref)]
unsafe fn span<T>(shared: &Shared<T>, start: usize, len: usize) -> (&mut [T], &mut [T]) {
    let cap = shared.slots.len();
    let i = start & shared.mask;
    let first = len.min(cap - i);
    // UnsafeCell<T> has T's layout.
    let base = shared.slots.as_ptr() as *mut T;
    (
        std::slice::from_raw_parts_mut(base.add(i), first),
        std::slice::from_raw_parts_mut(base, len - first),
    )
}

impl<T> Producer<T> {
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// Free slots (may be more than this when the consumer has released since).
    pub fn free(&mut self) -> usize {
        let cap = self.capacity();
        if self.head - self.cached_tail == cap {
            self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
        }
        cap - (self.head - self.cached_tail)
    }

    /// Up to `n` free slots to write, in order (the second slice continues the first after
    /// the wrap). Their contents are whatever the consumer left there.
    pub fn reserve(&mut self, n: usize) -> (&mut [T], &mut [T]) {
        let mut free = self.free();
        if free < n {
            self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
            free = self.capacity() - (self.head - self.cached_tail);
        }
        let len = n.min(free);
        // SAFETY: the slots [head, head + len) are free: the consumer released them.
        unsafe { span(&self.shared, self.head, len) }
    }

    /// The next free slot, if there is one.
    pub fn next_slot(&mut self) -> Option<&mut T> {
        let (a, _) = self.reserve(1);
        a.first_mut()
    }

    /// Publishes the first `n` reserved slots to the consumer.
    pub fn commit(&mut self, n: usize) {
        let n = n.min(self.capacity() - (self.head - self.cached_tail));
        self.head += n;
        self.shared.head.0.store(self.head, Ordering::Release);
    }

    /// Slots published and not yet released by the consumer.
    pub fn in_flight(&self) -> usize {
        self.head - self.shared.tail.0.load(Ordering::Acquire)
    }
}

impl<T> Consumer<T> {
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// Published slots waiting to be read.
    pub fn available(&mut self) -> usize {
        if self.cached_head == self.tail {
            self.cached_head = self.shared.head.0.load(Ordering::Acquire);
        }
        self.cached_head - self.tail
    }

    /// Up to `n` published slots, in order.
    pub fn peek(&mut self, n: usize) -> (&mut [T], &mut [T]) {
        let mut avail = self.available();
        if avail < n {
            self.cached_head = self.shared.head.0.load(Ordering::Acquire);
            avail = self.cached_head - self.tail;
        }
        let len = n.min(avail);
        // SAFETY: the slots [tail, tail + len) were published by the producer.
        unsafe { span(&self.shared, self.tail, len) }
    }

    /// Hands the first `n` peeked slots back to the producer.
    pub fn release(&mut self, n: usize) {
        let n = n.min(self.cached_head - self.tail);
        self.tail += n;
        self.shared.tail.0.store(self.tail, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_wraps_and_reports_full() {
        let (mut p, mut c) = with_slots(vec![0u32; 4]);
        assert_eq!(p.free(), 4);
        {
            let (a, b) = p.reserve(3);
            assert_eq!((a.len(), b.len()), (3, 0));
            a.copy_from_slice(&[1, 2, 3]);
        }
        p.commit(3);
        assert_eq!(p.free(), 1);
        assert_eq!(c.available(), 3);
        {
            let (a, _) = c.peek(2);
            assert_eq!(a, &[1, 2]);
        }
        c.release(2);
        // wraps: slots 3, 0, 1 are free
        {
            let (a, b) = p.reserve(10);
            assert_eq!((a.len(), b.len()), (1, 2));
            a[0] = 4;
            b.copy_from_slice(&[5, 6]);
        }
        p.commit(3);
        assert_eq!(p.free(), 0);
        assert!(p.next_slot().is_none());
        let (a, b) = c.peek(10);
        assert_eq!((&*a, &*b), (&[3, 4][..], &[5, 6][..]));
        c.release(4);
        assert_eq!(c.available(), 0);
        assert_eq!(p.free(), 4);
    }

    #[test]
    fn commit_and_release_are_clamped() {
        let (mut p, mut c) = with_slots(vec![0u8; 2]);
        p.reserve(2);
        p.commit(5);
        assert_eq!(c.available(), 2);
        c.peek(2);
        c.release(9);
        assert_eq!(c.available(), 0);
        assert_eq!(p.free(), 2);
    }

    /// Two threads, a million sequence numbers through a small ring: every one arrives once,
    /// in order, and the producer never overwrites an unreleased slot.
    #[test]
    fn two_threads_keep_order_and_lose_nothing() {
        const N: u64 = 1_000_000;
        let (mut p, mut c) = with_slots(vec![0u64; 64]);
        let prod = std::thread::spawn(move || {
            let mut next = 0u64;
            let mut full = 0u64;
            while next < N {
                let want = ((N - next) as usize).min(7);
                let (a, b) = p.reserve(want);
                let k = a.len() + b.len();
                if k == 0 {
                    full += 1;
                    std::hint::spin_loop();
                    continue;
                }
                for s in a.iter_mut().chain(b.iter_mut()) {
                    *s = next;
                    next += 1;
                }
                p.commit(k);
            }
            full
        });
        let mut expect = 0u64;
        while expect < N {
            let (a, b) = c.peek(5);
            let k = a.len() + b.len();
            for s in a.iter_mut().chain(b.iter_mut()) {
                assert_eq!(*s, expect);
                *s = u64::MAX; // the producer must overwrite this before republishing
                expect += 1;
            }
            c.release(k);
        }
        prod.join().unwrap();
        assert_eq!(c.available(), 0);
    }
}
