//! A counting global allocator: tracemalloc cannot see Rust's heap, so the extension
//! counts its own bytes (current, peak, allocation and deallocation counts).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

pub struct CountingAllocator;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static DEALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[inline]
fn grew(size: usize) {
    let now = CURRENT.fetch_add(size, Relaxed) + size;
    // A plain load first: the read-modify-write is needed only for a new peak, which is
    // rare, and it is the expensive part on every allocation otherwise.
    if now > PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so the
// `GlobalAlloc` contract (valid layouts, pointers returned by this allocator, no
// unwinding) is the system allocator's, which upholds it. The counters are atomics that
// never allocate, so counting cannot re-enter the allocator, and it never touches the
// memory it counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` comes from our caller, who guarantees a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: our caller guarantees `ptr` came from this allocator with `layout`, and
        // this allocator's blocks are `System`'s blocks.
        unsafe { System.dealloc(ptr, layout) };
        DEALLOCATIONS.fetch_add(1, Relaxed);
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: our caller guarantees `ptr`/`layout` describe a block of this allocator
        // (a `System` block) and a valid non-zero `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // A realloc is one allocation replacing another: count it as such. Its bytes
            // count as their change, also when the block moved (both copies existed for a
            // moment): tracemalloc counts the Python heap's reallocs the same way (it
            // replaces the old trace with the new one), so both heaps are measured alike.
            ALLOCATIONS.fetch_add(1, Relaxed);
            DEALLOCATIONS.fetch_add(1, Relaxed);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

pub struct Stats {
    pub current: usize,
    pub peak: usize,
    pub allocations: u64,
    pub deallocations: u64,
}

pub fn stats() -> Stats {
    Stats {
        current: CURRENT.load(Relaxed),
        peak: PEAK.load(Relaxed),
        allocations: ALLOCATIONS.load(Relaxed),
        deallocations: DEALLOCATIONS.load(Relaxed),
    }
}

/// Peak := current, so the next peak reading covers only what follows.
pub fn reset_peak() {
    PEAK.store(CURRENT.load(Relaxed), Relaxed);
}
