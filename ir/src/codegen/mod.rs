//! Code generation: scheduled IR → Rust tokens with `std::arch` intrinsics.
//!
//! The pipeline (`lower.rs`) lowers blocks and compacts buffers; the emitter
//! (`emit.rs`, `vector.rs`) turns loops into Rust loops, unrolled loops into
//! straight-line code, parallel loops into the runtime's parallel-for and
//! vectorized loops into SIMD code for the ISA (`isa/`). `kernel.rs` wraps the
//! per-ISA implementations into the safe functions a kernel exports.

mod compact;
mod emit;
pub mod isa;
mod kernel;
pub mod lir;
pub mod lower;
mod vector;

pub use kernel::{emit_body, emit_impl, emit_kernel, Variant};

/// Formats tokens as readable Rust source (prettyplease).
pub fn pretty(tokens: &proc_macro2::TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}
