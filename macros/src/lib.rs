//! The `tensor_func!` procedural macro of kiln.
//!
//! Thin by design: parse the kernel (`kiln_ir::parse`), find its committed
//! trace, replay it, generate the code (`kiln_ir::codegen`). Everything it
//! does lives in `kiln-ir`, shared with the tuner. See the `kiln` crate for
//! the language and the emitted API.

extern crate proc_macro;

mod expand;
mod fallback;

/// Defines a tensor kernel; see the `kiln` crate documentation.
#[proc_macro]
pub fn tensor_func(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::expand(input.into()).into()
}
