//! The fuzz binaries' allocator: the system one, with the live total capped.
//!
//! libFuzzer's `-malloc_limit_mb` needs a sanitizer's malloc hooks, and the
//! targets are built without one (Rust code needs none for memory safety,
//! and it halves the executions per second). This allocator makes an
//! allocation that would take the live heap past [`ALLOC_CAP`] abort with a
//! message, which libFuzzer records as a crash with its input: the
//! "allocation sized by an unchecked field" bug class, caught even when the
//! allocation would have succeeded on a big machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The most live heap bytes a fuzz run may hold: 2 GiB, the cap.
pub const ALLOC_CAP: usize = 2 << 30;

/// Set while the cap's report is written, so its own allocations pass.
static REPORTING: AtomicBool = AtomicBool::new(false);

/// [`System`] with the live total capped at [`ALLOC_CAP`].
#[derive(Debug)]
pub struct CappedAlloc {
    live: AtomicUsize,
}

impl CappedAlloc {
    /// A new allocator with nothing allocated.
    pub const fn new() -> Self {
        CappedAlloc { live: AtomicUsize::new(0) }
    }

    fn take(&self, size: usize) {
        let before = self.live.fetch_add(size, Ordering::Relaxed);
        if before.saturating_add(size) > ALLOC_CAP && !REPORTING.swap(true, Ordering::SeqCst) {
            // The report allocates (the backtrace): `REPORTING` lets those
            // allocations through. An allocator must not unwind, so abort.
            let msg = b"\n==fuzz-harness== allocation past the 2 GiB cap, at:\n";
            // SAFETY: writes a static buffer to stderr.
            unsafe { libc_write(2, msg.as_ptr(), msg.len()) };
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
            std::process::abort();
        }
    }
}

impl CappedAlloc {
    fn undo_if_null(&self, p: *mut u8, size: usize) {
        if p.is_null() {
            self.live.fetch_sub(size, Ordering::Relaxed);
        }
    }
}

impl Default for CappedAlloc {
    fn default() -> Self {
        Self::new()
    }
}

unsafe extern "C" {
    #[link_name = "write"]
    fn libc_write(fd: i32, buf: *const u8, count: usize) -> isize;
}

// SAFETY: every call is forwarded to `System` with the same arguments; the
// counter only decides whether to abort first.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.take(layout.size());
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc(layout) };
        self.undo_if_null(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.take(layout.size());
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc_zeroed(layout) };
        self.undo_if_null(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grow = new_size.saturating_sub(layout.size());
        self.take(grow);
        // SAFETY: forwarded as received.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block is still live at its old size.
            self.live.fetch_sub(grow, Ordering::Relaxed);
        } else {
            self.live.fetch_sub(layout.size().saturating_sub(new_size), Ordering::Relaxed);
        }
        p
    }
}
