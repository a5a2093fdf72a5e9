//! Scratch memory for kernels: the temporaries too large for the stack
//! (packed panels of an operand, intermediate tensors) come from a per-thread
//! pool of buffers that are reused from call to call, so that a kernel
//! allocates on its first call on a thread and never again after it (as long
//! as it needs no more than it did then).
//!
//! ```ignore
//! let mut __w_packed = ::kiln::scratch::Scratch::<f32>::take(100_352);
//! let w_packed: *mut f32 = __w_packed.as_mut_ptr();
//! // … the kernel writes, then reads, w_packed …
//! // dropping the guard returns the buffer to this thread's pool
//! ```
//!
//! A buffer is zeroed when it is first allocated; a reused one holds what
//! its last user left (always initialized memory, never undefined). Kernels
//! write every element of a temporary before they read it, so the contents
//! never show. Buffers are 64-byte aligned. Each thread keeps at most
//! [`POOL_BUFFERS`] buffers; a kernel nested in another (or two temporaries
//! of one kernel) simply take two of them.

use std::cell::RefCell;
use std::marker::PhantomData;

/// Buffers a thread keeps for reuse.
pub const POOL_BUFFERS: usize = 8;

/// A 64-byte aligned unit of storage.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

thread_local! {
    static POOL: RefCell<Vec<Vec<Line>>> = const { RefCell::new(Vec::new()) };
}

/// A scratch buffer of `len` elements of `T`, returned to the thread's pool
/// when dropped.
pub struct Scratch<T: Copy> {
    lines: Vec<Line>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Copy> Scratch<T> {
    /// A buffer of at least `len` elements: the smallest pooled buffer that
    /// is large enough, else a new zeroed one.
    pub fn take(len: usize) -> Scratch<T> {
        let bytes = len.checked_mul(std::mem::size_of::<T>()).expect("scratch size overflows");
        let need = bytes.div_ceil(64).max(1);
        let reused = POOL.with(|p| {
            let mut pool = p.borrow_mut();
            let best =
                pool.iter().enumerate().filter(|(_, b)| b.len() >= need).min_by_key(|(_, b)| b.len()).map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i))
        });
        let lines = reused.unwrap_or_else(|| vec![Line([0; 64]); need]);
        Scratch { lines, len, _t: PhantomData }
    }

    /// [`Scratch::take`], with every element set to zero.
    pub fn take_zeroed(len: usize) -> Scratch<T> {
        let mut s = Scratch::take(len);
        // SAFETY: the buffer holds at least `len` elements of `T` (all-zero
        // bytes are a valid `f32`, `f64`, `i32`, ...: kernels' element types).
        unsafe { std::ptr::write_bytes(s.as_mut_ptr(), 0, len) };
        s
    }

    /// The buffer's first element.
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.lines.as_mut_ptr() as *mut T
    }

    /// Elements in the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Copy> Drop for Scratch<T> {
    fn drop(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        // `try_with`: a buffer dropped while the thread shuts down is freed.
        let _ = POOL.try_with(|p| {
            let mut pool = p.borrow_mut();
            pool.push(lines);
            if pool.len() > POOL_BUFFERS {
                // Keep the largest ones.
                pool.sort_by_key(|b| std::cmp::Reverse(b.len()));
                pool.truncate(POOL_BUFFERS);
            }
        });
    }
}

/// Buffers pooled on this thread, and their total size in bytes (for tests
/// and for checking that a kernel does not allocate after its first call).
pub fn pooled() -> (usize, usize) {
    POOL.with(|p| {
        let pool = p.borrow();
        (pool.len(), pool.iter().map(|b| b.len() * 64).sum())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused() {
        let (n0, _) = pooled();
        let p1 = {
            let mut a = Scratch::<f32>::take(100_000);
            assert_eq!(a.len(), 100_000);
            let p = a.as_mut_ptr();
            assert_eq!(p as usize % 64, 0, "64-byte aligned");
            // Zeroed when new.
            assert!((0..100_000).all(|i| unsafe { *p.add(i) } == 0.0));
            unsafe { *p.add(7) = 3.0 };
            p
        };
        assert_eq!(pooled().0, n0 + 1);
        // The same buffer comes back for a request it can hold.
        let mut b = Scratch::<f32>::take(50_000);
        assert_eq!(b.as_mut_ptr(), p1);
        // Two at once: the second is new.
        let mut c = Scratch::<f64>::take(10);
        assert_ne!(c.as_mut_ptr() as usize, p1 as usize);
        drop(b);
        drop(c);
        assert_eq!(pooled().0, n0 + 2);
    }

    #[test]
    fn the_pool_is_bounded() {
        let guards: Vec<_> = (0..2 * POOL_BUFFERS).map(|k| Scratch::<u8>::take(64 * (k + 1))).collect();
        drop(guards);
        let (n, bytes) = pooled();
        assert!(n <= POOL_BUFFERS);
        assert!(bytes >= 64 * (2 * POOL_BUFFERS), "the largest are kept: {bytes}");
    }
}
