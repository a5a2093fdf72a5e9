//! The runtime of kiln's generated kernels, re-exported by `kiln` (as
//! `kiln::runtime`, `kiln::scratch`, `kiln::simd`, `kiln::cpu`): ISA
//! detection ([`runtime::isa`]), the CPU class that picks per-CPU variants
//! ([`cpu::class`]), a parallel-for ([`runtime::parallel_for`] on the threads
//! of [`pool`]), per-thread scratch memory, bounds-checked
//! accessors for accesses the compiler could not prove in bounds, and vector
//! math ([`simd`]).
//!
//! A crate of its own, with no build script and no dependency, so
//! that the tuner's candidates link against exactly this code — the module
//! paths are those of `kiln`, so the tuner passes this crate as `kiln` —
//! without building the macro and its compiler in the tuner's work
//! directory (a fresh work directory is ready in seconds).

pub mod cpu;
pub mod pool;
pub mod runtime;
pub mod scratch;
pub mod simd;

pub use runtime::{Error, Isa};
