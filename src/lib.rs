//! # kiln: ahead-of-time tuned tensor kernels
//!
//! Write a tensor computation with [`tensor_func!`]; kiln's tuner searches
//! schedules for it offline and commits the best as a trace; a plain
//! `cargo build` then emits fixed SIMD code (AVX-512, AVX2+FMA, or portable
//! scalar), picked at run time for the CPU it runs on.
//!
//! ```ignore
//! kiln::tensor_func! {
//!     pub fn matmul(a: [f32; 128, 128], b: [f32; 128, 128], c: &mut [f32; 128, 128]) {
//!         for (i, j, k) in grid(128, 128, 128) {
//!             block("C") {
//!                 let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
//!                 init { c[vi, vj] = 0.0; }
//!                 c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
//!             }
//!         }
//!     }
//! }
//! // matmul(&a, &b, &mut c) — panics on wrong lengths; try_matmul returns a Result.
//! ```
//!
//! Beside the macro, this crate re-exports the small runtime the generated
//! code calls (the `kiln-runtime` crate): ISA detection ([`runtime::isa`]),
//! the CPU class ([`cpu::class`]), a parallel-for, per-thread scratch memory
//! ([`scratch`]), bounds-checked accessors for accesses the compiler could
//! not prove in bounds, and vector math ([`simd`]).

pub use kiln_macros::tensor_func;

pub use kiln_runtime::{cpu, runtime, scratch, simd, Error, Isa};
