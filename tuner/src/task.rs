//! Tuning tasks: one kernel, its design space, and the programs of that space.
//!
//! A task's space is the kernel's own `schedule { }` section when it has one
//! (a trace whose sampling steps carry no decisions: replayed with
//! [`DecisionMode::Resample`], as the chapter's `stochastic_schedule_mm`), or
//! the default rules of `kiln_ir::space`. Either way a point of the space is
//! a trace with every decision filled in, and replaying it with
//! [`DecisionMode::Strict`] gives the same program. Programs are identified
//! by a structural key: a hash of the printed scheduled IR (and of the code
//! generator's sources, [`CODEGEN_FINGERPRINT`]), the ISA and the
//! thread count, so two traces that schedule to the same code are one
//! program.

use std::path::PathBuf;

use kiln_ir::ir::{func_to_string, ParamKind, PrimFunc};
use kiln_ir::parse::Kernel;
use kiln_ir::program::{ProgramError, Sources};
use kiln_ir::schedule::{DecisionMode, ReplayError, Schedule};
use kiln_ir::space::{self, check_program, SpaceError, SpaceOptions};
use kiln_ir::target::{Isa, Target};
use kiln_ir::trace::Trace;
use kiln_ir::tracefile::{fnv1a64, workload_hash};

use crate::error::{Error, Result};

/// Where a task's candidates come from.
#[derive(Clone, Debug)]
pub enum Space {
    /// The default rules (`kiln_ir::space::sample`).
    Rules,
    /// A custom space: the kernel's `schedule { }` trace, resampled.
    Custom(Trace),
}

/// One kernel to tune.
#[derive(Clone, Debug)]
pub struct Task {
    pub name: String,
    pub crate_name: String,
    /// Where the kernel's trace file goes: `<crate>/traces/<kernel>.json`.
    pub trace_path: PathBuf,
    pub func: PrimFunc,
    /// The kernel's `schedule { }` section, as written (what it compiles to untuned).
    pub section: Option<Trace>,
    pub space: Space,
    pub workload: String,
    pub flops: u64,
    pub traffic: Traffic,
    /// For a kernel with symbolic dimensions (tuned at `func`, its instance at
    /// the tune values): its instances at other values, each of which a
    /// candidate must compute right before it may win — the smallest value, a
    /// prime, and the largest ([`check_sizes`]).
    pub checks: Vec<(String, PrimFunc)>,
}

/// The values a kernel's symbolic dimension is checked at besides its tune
/// value: the smallest, a prime that divides no power-of-two tile, and the
/// largest of its range.
pub fn check_sizes(d: &kiln_ir::ir::SymDim) -> Vec<i64> {
    let prime = [7, 13, 31, 97, 251].into_iter().find(|p| *p > d.min && *p < d.max && *p != d.value);
    let mut out: Vec<i64> = [Some(d.min), prime, Some(d.max)].into_iter().flatten().collect();
    out.retain(|v| *v != d.value);
    out.dedup();
    out
}

/// The memory traffic a call of a kernel cannot avoid: every element of its
/// input buffers read once and every element of its output buffers written
/// once. Intermediates (`alloc`) are not counted (a schedule may keep them in
/// registers or in L1), nor the reads of an output that accumulates, nor a
/// second read of an input: this is the floor of what a call moves, which is
/// what a memory-bound kernel is measured against (`tuner bench`'s GB/s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes of the input buffers.
    pub read: u64,
    /// Bytes of the output buffers.
    pub written: u64,
    /// Elements of the output buffers (what `tuner bench`'s ns/element divides by).
    pub out_elements: u64,
}

impl Traffic {
    /// The traffic of a call of `func`.
    pub fn of(func: &PrimFunc) -> Traffic {
        let mut t = Traffic::default();
        for p in &func.params {
            let elements = p.buffer.numel().max(0) as u64;
            let bytes = elements * p.buffer.dtype.bytes() as u64;
            match p.kind {
                ParamKind::Output => {
                    t.written += bytes;
                    t.out_elements += elements;
                }
                _ => t.read += bytes,
            }
        }
        t
    }

    /// Bytes read plus bytes written.
    pub fn bytes(&self) -> u64 {
        self.read + self.written
    }

    /// GB/s (10⁹ bytes per second) of a call taking `us` µs.
    pub fn gbs(&self, us: f64) -> f64 {
        self.bytes() as f64 / us / 1e3
    }

    /// Nanoseconds per output element of a call taking `us` µs.
    pub fn ns_per_element(&self, us: f64) -> f64 {
        us * 1e3 / self.out_elements.max(1) as f64
    }
}

/// A program of a task's space: a trace with all its decisions and the
/// scheduled function it gives.
#[derive(Clone, Debug)]
pub struct Program {
    pub trace: Trace,
    pub func: PrimFunc,
    pub key: String,
}

/// The options of the search space on this machine: its L1 and L2 sizes
/// (read from the OS once) bound the cache-blocking plan's samples.
pub fn space_options(isa: Isa, threads: usize) -> SpaceOptions {
    use kiln_ir::space::cache_blocking::{NOMINAL_L1_BYTES, NOMINAL_L2_BYTES};
    static CACHES: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();
    let (l1, l2) = *CACHES.get_or_init(|| {
        let (l1, l2, _) = crate::probe::cache_sizes();
        let or = |n: u64, nominal: i64| if n == 0 { nominal } else { n as i64 };
        (or(l1, NOMINAL_L1_BYTES), or(l2, NOMINAL_L2_BYTES))
    });
    SpaceOptions { l1_bytes: l1, l2_bytes: l2, ..SpaceOptions::threads(isa, threads) }
}

/// Throughput in GFLOP/s of `flops` FLOP done in `us` µs.
pub fn gflops(flops: u64, us: f64) -> f64 {
    flops as f64 / us / 1e3
}

/// A hash of the code generator's sources (`build.rs`): keys include it, so a
/// measurement is reused only by the code generator that made the code timed.
pub const CODEGEN_FINGERPRINT: &str = env!("KILN_CODEGEN_FINGERPRINT");

/// The structural key of a scheduled function for an ISA and thread count,
/// under this code generator ([`CODEGEN_FINGERPRINT`]).
pub fn program_key(func: &PrimFunc, isa: Isa, threads: usize) -> String {
    let text = func_to_string(func);
    // Two independent 64-bit hashes: collisions are not a practical concern.
    let h2 = fnv1a64(&format!("{}\u{0}{CODEGEN_FINGERPRINT}\u{0}{text}", text.len()));
    format!("{:016x}{:016x}-{}-t{}", fnv1a64(&text), h2, isa.name(), threads)
}

impl Task {
    /// A task for a kernel of the crate `crate_name` at `crate_dir`.
    pub fn from_kernel(kernel: &Kernel, crate_name: &str, crate_dir: &std::path::Path) -> Result<Task, ProgramError> {
        let sources = Sources::without_file(kernel)?;
        let trace_path = kiln_ir::program::trace_path(crate_dir, &kernel.func.name);
        let mut checks = Vec::new();
        for d in &kernel.func.dims {
            for v in check_sizes(d) {
                // (A value of the declared range always instantiates.)
                if let Ok(f) = kernel.instantiate(&[(&d.name, v)]) {
                    checks.push((format!("{} = {v}", d.name), f));
                }
            }
        }
        Ok(Task { checks, ..Task::with_section(&kernel.func, sources.section, crate_name, trace_path) })
    }

    /// A task for `func` with an optional `schedule { }` section, whose
    /// trace file is `trace_path`.
    pub fn with_section(func: &PrimFunc, section: Option<Trace>, crate_name: &str, trace_path: PathBuf) -> Task {
        let space = match &section {
            None => Space::Rules,
            Some(t) => Space::Custom(t.clone()),
        };
        Task { section, ..Task::with_space(func, space, crate_name, trace_path) }
    }

    /// A task for `func` with a given space (and no `schedule { }` section).
    /// A custom space's decisions are dropped: e.g. the trace of one run of
    /// the chapter's `stochastic_schedule_mm` stands for the whole space it
    /// samples.
    pub fn with_space(func: &PrimFunc, space: Space, crate_name: &str, trace_path: PathBuf) -> Task {
        let space = match space {
            Space::Rules => Space::Rules,
            Space::Custom(t) => Space::Custom(t.without_decisions()),
        };
        Task {
            name: func.name.clone(),
            crate_name: crate_name.to_string(),
            trace_path,
            func: func.clone(),
            section: None,
            space,
            workload: workload_hash(func),
            flops: kiln_ir::ir::flops(func),
            traffic: Traffic::of(func),
            checks: Vec::new(),
        }
    }

    /// What decides the kernel's programs, with its trace file as it is on
    /// disk now (the tuner rewrites it).
    pub fn sources(&self) -> Result<Sources, ProgramError> {
        Ok(Sources::read(self.func.clone(), self.section.clone(), self.trace_path.clone())?)
    }

    /// The program of a schedule of this task's kernel (its key: the lowered
    /// function, the ISA and the threads).
    pub fn program(&self, sch: Schedule, isa: Isa, threads: usize) -> Program {
        let (func, trace) = sch.into_parts();
        let key = program_key(&func, isa, threads);
        Program { trace, func, key }
    }

    /// Samples a fresh point of the space. Samples the rules reject (e.g. a
    /// register tile that would spill) are errors.
    pub fn sample(&self, isa: Isa, threads: usize, seed: u64) -> Result<Program, SpaceError> {
        let sch = match &self.space {
            Space::Rules => space::sample(&self.func, &space_options(isa, threads), seed)?,
            Space::Custom(t) => space::sample_trace(&self.func, t, seed)?,
        };
        let p = self.program(sch, isa, threads);
        check_program(&p.func, isa)?;
        Ok(p)
    }

    /// The untuned program: what the kernel compiles to without a trace (its
    /// `schedule { }` section, else the default rules), as
    /// `kiln_ir::program` decides it for the macro.
    pub fn default_program(&self, isa: Isa, threads: usize) -> Result<Program, ProgramError> {
        let sources =
            Sources { func: self.func.clone(), section: self.section.clone(), trace_path: PathBuf::new(), file: None };
        let p = sources.untuned(&Target::isa(isa), threads)?;
        let key = program_key(&p.func, isa, threads);
        Ok(Program { trace: p.trace, func: p.func, key })
    }

    /// The program of the committed trace entry `cargo build` would use for
    /// `isa`, or why there is none (no file, no entry, stale, a step that fails).
    pub fn committed_program(&self, target: &Target, threads: usize) -> Result<Program> {
        let isa = target.isa;
        let p = self.sources()?.program(target)?;
        match p.origin.why_not_trace() {
            None => {
                let key = program_key(&p.func, isa, threads);
                Ok(Program { trace: p.trace, func: p.func, key })
            }
            Some(why) => Err(Error::NoTrace { path: self.trace_path.clone(), why: why.clone() }),
        }
    }

    /// Replays a complete trace (every decision given); an invalid one is an error.
    pub fn replay(&self, trace: &Trace, isa: Isa, threads: usize) -> Result<Program, ReplayError> {
        let sch = Schedule::replay(&self.func, trace, 0, DecisionMode::Strict)?;
        Ok(self.program(sch, isa, threads))
    }

    /// The unscheduled function as a program (the naive loop nest).
    pub fn naive_program(&self, isa: Isa) -> Program {
        Program { trace: Trace::default(), func: self.func.clone(), key: program_key(&self.func, isa, 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_ir::schedule::testing::{kernel, kernel_in_file};

    fn traffic(src: &str) -> Traffic {
        Traffic::of(&kernel_in_file(src).func)
    }

    #[test]
    fn traffic_counts_the_parameter_buffers_once() {
        // 64×1000 f32 in, 64×1000 out; the three intermediates do not count.
        let softmax = traffic(include_str!("../../kernels/src/softmax.rs"));
        assert_eq!(softmax, Traffic { read: 256_000, written: 256_000, out_elements: 64_000 });
        assert_eq!(softmax.bytes(), 512_000);
        // X (32×4096) and w (4096) in, Y out; not the row sums.
        let rmsnorm = traffic(include_str!("../../kernels/src/rmsnorm.rs"));
        assert_eq!(rmsnorm, Traffic { read: 4 * (32 * 4096 + 4096), written: 4 * 32 * 4096, out_elements: 32 * 4096 });
        // Z = X·Wᵀ + B, 64×784 → 64×128: each input once, however often the product reads it.
        let linear = traffic(include_str!("../../kernels/src/linear.rs"));
        assert_eq!(linear.read, 4 * (64 * 784 + 128 * 784 + 128));
        assert_eq!((linear.written, linear.out_elements), (4 * 64 * 128, 64 * 128));
    }

    #[test]
    fn traffic_counts_each_dtype_at_its_size() {
        let mixed = Traffic::of(&kernel(
            "fn mixed(a: [f64; 8, 4], n: [i32; 4], c: &mut [f32; 8], d: &mut [f64; 8]) {
                for (i, k) in grid(8, 4) {
                    block(\"C\") {
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init { c[vi] = 0.0; }
                        c[vi] += (a[vi, vk] as f32) * (n[vk] as f32);
                    }
                }
                for i in grid(8) {
                    block(\"D\") {
                        let vi = axis::remap(\"S\", i);
                        d[vi] = c[vi] as f64;
                    }
                }
            }",
        ));
        assert_eq!(mixed, Traffic { read: 8 * 32 + 4 * 4, written: 4 * 8 + 8 * 8, out_elements: 16 });
    }

    #[test]
    fn rates_of_a_call() {
        // 512 000 bytes in 10 µs: 51.2 GB/s; 64 000 elements: 0.15625 ns each.
        let t = Traffic { read: 256_000, written: 256_000, out_elements: 64_000 };
        assert!((t.gbs(10.0) - 51.2).abs() < 1e-9);
        assert!((t.ns_per_element(10.0) - 0.15625).abs() < 1e-12);
    }
}
