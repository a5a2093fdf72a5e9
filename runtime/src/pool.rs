//! The threads of kiln's parallel loops ([`crate::runtime::parallel_for`]).
//!
//! A parallel loop of a kernel is short: a few to a few hundred µs. Handed to
//! rayon's global pool from the calling thread, its overhead was that of two
//! sleeping threads woken up — the pool's worker, then the caller, which
//! waits on a lock — measured on a 2-vCPU VM (AMD EPYC family 23 model 1) at
//! 10–20 µs for an empty `parallel_for(2)`: more than half of rmsnorm's 34
//! µs, so that its two-thread schedules ran slower than one thread.
//!
//! Here the calling thread takes part in its own loop, and the pool's
//! `threads − 1` workers poll for the next loop for [`SPIN`] after their last
//! one before they sleep, as OpenMP runtimes do: a kernel called again and
//! again finds them awake. A call offers its loop to every worker; each
//! iteration is taken by whichever thread asks next (one atomic counter);
//! when the caller runs out of iterations it withdraws the offers no worker
//! took and waits (polling) for the workers that took one. So a worker that
//! is asleep or descheduled never delays the call: the caller does its share.
//!
//! The pool has `KILN_NUM_THREADS` threads (the caller included), else the
//! machine's available parallelism; with one, loops run serially. A loop
//! started while another runs (from another thread, or nested inside an
//! iteration) runs serially on its caller. A panic in an iteration is
//! re-raised in the caller once every thread has left the loop.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a worker polls for the next loop before it sleeps.
pub const SPIN: Duration = Duration::from_micros(100);

/// The most threads a loop runs on (the caller included).
const MAX_THREADS: usize = 64;

/// One parallel loop: `f(0..n)`, cut into `parts` contiguous parts, one per
/// thread it is offered to (the caller's is part 0, worker `j`'s part `j + 1`).
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    n: usize,
    parts: usize,
    /// The next iteration to take in each part.
    next: [AtomicUsize; MAX_THREADS],
    /// Workers that took the loop and have left it.
    finished: AtomicUsize,
    /// The first panic of an iteration.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    fn new(f: &(dyn Fn(usize) + Sync), n: usize, parts: usize) -> Job<'_> {
        Job {
            f,
            n,
            parts,
            next: std::array::from_fn(|k| AtomicUsize::new(k * n / parts)),
            finished: AtomicUsize::new(0),
            panic: Mutex::new(None),
        }
    }

    /// Runs the iterations of part `me`, then whatever is left of the others
    /// (a thread that is late or asleep has its part taken over). Each thread
    /// starting with its own part gives every loop of a kernel over the same
    /// rows the same rows per thread: the rows one loop of a thread leaves in
    /// its core's caches are the rows its next loop reads. (Iterations taken
    /// in any order moved the rows between the cores from loop to loop:
    /// softmax's default 2-thread schedule, four loops over 64 rows, took
    /// 92.9 µs so and 46.2 µs with the parts, on Zen 1.)
    fn work(&self, me: usize) {
        for k in (0..self.parts).map(|d| (me + d) % self.parts) {
            let end = (k + 1) * self.n / self.parts;
            loop {
                let i = self.next[k].fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| (self.f)(i))) {
                    self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(p);
                }
            }
        }
    }
}

/// A worker's mailbox: null (nothing offered), an offered [`Job`], or
/// [`taken`] while the worker runs the job it took.
struct Worker {
    slot: AtomicPtr<()>,
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

struct Pool {
    workers: Box<[Worker]>,
    /// A loop is running (another one runs serially).
    busy: AtomicBool,
}

thread_local! {
    /// This thread is one of the pool's workers.
    static IN_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// The marker of a taken job (no job lives at a static's address).
fn taken() -> *mut () {
    static MARK: u8 = 0;
    &MARK as *const u8 as *mut ()
}

/// Threads of the pool, the caller included.
fn threads() -> usize {
    std::env::var("KILN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = (1..threads().min(MAX_THREADS))
            .map(|_| Worker {
                slot: AtomicPtr::new(null_mut()),
                sleeping: AtomicBool::new(false),
                thread: OnceLock::new(),
            })
            .collect();
        let pool: &'static Pool = Box::leak(Box::new(Pool { workers, busy: AtomicBool::new(false) }));
        for (i, w) in pool.workers.iter().enumerate() {
            let spawned =
                std::thread::Builder::new().name(format!("kiln-worker-{i}")).spawn(move || worker_main(w, i + 1));
            // A worker that could not be started never takes its offers:
            // the caller withdraws them and runs the iterations.
            if let Ok(h) = spawned {
                let _ = w.thread.set(h.thread().clone());
            }
        }
        pool
    })
}

fn worker_main(w: &'static Worker, part: usize) {
    IN_WORKER.with(|c| c.set(true));
    loop {
        let deadline = Instant::now() + SPIN;
        let mut polls = 0u32;
        let offered = loop {
            let p = w.slot.load(Ordering::Acquire);
            if !p.is_null() && p != taken() {
                break Some(p);
            }
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(64) && Instant::now() > deadline {
                break None;
            }
            std::hint::spin_loop();
        };
        let Some(p) = offered else {
            // Sleep: with `sleeping` set before the last look at the slot
            // (and the caller storing the slot before it reads `sleeping`),
            // either this look sees the offer or the caller unparks.
            w.sleeping.store(true, Ordering::SeqCst);
            if w.slot.load(Ordering::SeqCst).is_null() {
                std::thread::park();
            }
            w.sleeping.store(false, Ordering::SeqCst);
            continue;
        };
        // Taking fails if the caller withdrew the offer meanwhile (the job
        // may be gone: it is only read once taken). A new job at the same
        // address is the one offered now, so taking it is right.
        if w.slot.compare_exchange(p, taken(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: the caller waits for `finished` to count this worker
            // before the job goes out of scope.
            let job = unsafe { &*(p as *const Job<'static>) };
            job.work(part);
            // Empty the slot before counting out: the caller's next offer
            // (after it has seen the count) must not be overwritten.
            w.slot.store(null_mut(), Ordering::Release);
            job.finished.fetch_add(1, Ordering::Release);
        }
    }
}

/// Runs `f(0..n)` on the calling thread and the pool's workers.
pub(crate) fn run(n: usize, f: &(dyn Fn(usize) + Sync)) {
    if n <= 1 || IN_WORKER.with(|c| c.get()) {
        return (0..n).for_each(f);
    }
    let pool = pool();
    if pool.workers.is_empty() || pool.busy.swap(true, Ordering::Acquire) {
        return (0..n).for_each(f);
    }
    let offered = &pool.workers[..pool.workers.len().min(n - 1)];
    let job = Job::new(f, n, offered.len() + 1);
    let p = &job as *const Job as *mut ();
    for w in offered {
        w.slot.store(p, Ordering::SeqCst);
        if w.sleeping.load(Ordering::SeqCst) {
            if let Some(t) = w.thread.get() {
                t.unpark();
            }
        }
    }
    job.work(0);
    let took = offered
        .iter()
        .filter(|w| w.slot.compare_exchange(p, null_mut(), Ordering::AcqRel, Ordering::Acquire).is_err())
        .count();
    let mut polls = 0u32;
    while job.finished.load(Ordering::Acquire) < took {
        polls = polls.wrapping_add(1);
        if polls < 1 << 16 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    pool.busy.store(false, Ordering::Release);
    if let Some(p) = job.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
        resume_unwind(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// Every iteration runs exactly once, loop after loop, with gaps that let
    /// the workers fall asleep between some of them.
    #[test]
    fn every_iteration_runs_once() {
        for round in 0..2000usize {
            let n = 1 + round % 37;
            let hits: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
            run(n, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "round {round}");
            if round % 500 == 499 {
                std::thread::sleep(SPIN * 3);
            }
        }
    }

    /// Loops started from several threads at once, and loops nested in an
    /// iteration, run (serially where the pool is taken) and complete.
    #[test]
    fn concurrent_and_nested_loops_complete() {
        let total = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..300 {
                        run(8, &|i| {
                            run(3, &|j| {
                                total.fetch_add((i * 3 + j) as u64, Ordering::Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 300 * (0..24).sum::<u64>());
    }

    /// A panicking iteration reaches the caller; the pool keeps working after
    /// it.
    #[test]
    fn a_panic_reaches_the_caller() {
        let r = catch_unwind(AssertUnwindSafe(|| {
            run(16, &|i| {
                if i == 5 {
                    panic!("iteration 5");
                }
            })
        }));
        let msg = r.expect_err("the panic is re-raised").downcast::<&str>().map(|s| *s).unwrap_or("?");
        assert_eq!(msg, "iteration 5");
        let sum = AtomicU64::new(0);
        run(10, &|i| {
            sum.fetch_add(i as u64, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }
}
