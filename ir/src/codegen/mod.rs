//! Code generation: scheduled IR → Rust tokens with `std::arch` intrinsics.
//!
//! The pipeline (`lower.rs`) lowers blocks and compacts buffers; the emitter
//! (`emit.rs`, `vector.rs`) turns loops into Rust loops, unrolled loops into
//! straight-line code, parallel loops into the runtime's parallel-for and
//! vectorized loops into SIMD code for the ISA (`isa/`) when `legality.rs`
//! allows it. Every access is emitted unchecked only when `bounds.rs` proves
//! it in bounds. `kernel.rs` wraps the per-ISA implementations into the safe
//! functions a kernel exports. `fast_math.rs` holds what `#[fast_math]`
//! allows. `registers.rs` keeps a register tile's accumulators in
//! registers across its reduction loop when they live in a larger temporary.
//! `lockstep.rs` interleaves the vectors of a short vectorized loop that
//! calls vector math.

mod bounds;
mod compact;
mod emit;
mod emit_rows;
pub mod fast_math;
mod in_place;
pub mod isa;
mod kernel;
mod legality;
pub mod lir;
mod lockstep;
pub mod lower;
mod packed;
pub mod periodic;
pub mod registers;
pub mod symbolic;
mod transpose;
mod vector;

pub use kernel::{
    emit_body, emit_body_with, emit_impl, emit_impl_with, emit_kernel, emit_kernel_with, impl_ident, variant_ident,
    CodegenOptions, Variant,
};
pub use legality::{vectorization_report, ScalarReason};
pub use lockstep::{default_group, default_group_for, has_lockstep_form};
pub use vector::{has_div_by, DIVIDER};

/// Formats tokens as readable Rust source (prettyplease).
pub fn pretty(tokens: &proc_macro2::TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}
