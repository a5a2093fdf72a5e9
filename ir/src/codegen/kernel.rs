//! The public face of a kernel: the safe functions the macro emits around the
//! per-ISA implementations, and the runtime dispatch between them.
//!
//! For `fn matmul(a: [f32; 128, 128], b: .., c: &mut [f32; 128, 128])`:
//! ```ignore
//! pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32]);                      // panics on wrong lengths
//! pub fn try_matmul(a: &[f32], b: &[f32], c: &mut [f32]) -> Result<(), kiln::Error>;
//! pub fn try_matmul_on(isa: kiln::Isa, a: &[f32], ..) -> Result<(), kiln::Error>; // one ISA's code
//! ```
//! The implementations are `unsafe fn`s over raw pointers, one per ISA, each
//! `#[target_feature]`-enabled so that intrinsics inline; the safe function
//! checks lengths, then calls the best implementation the running CPU
//! supports (detected once and cached by the runtime; `KILN_ISA` can force a
//! lower one).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

use crate::ir::{ParamKind, PrimFunc};

use super::emit::{elem_type, ident, Emitter};
use super::lower::lower;
use crate::target::Isa;

/// One implementation of a kernel: the scheduled function for an ISA.
#[derive(Clone, Debug)]
pub struct Variant {
    pub isa: Isa,
    pub func: PrimFunc,
}

/// The parameter list of an implementation: slices (so that LLVM knows
/// they do not alias), which the body turns into raw pointers.
fn impl_params(func: &PrimFunc) -> (Vec<TokenStream>, Vec<TokenStream>) {
    func.params
        .iter()
        .map(|p| {
            let n = ident(&p.buffer.name);
            let t = elem_type(p.buffer.dtype);
            if p.kind == ParamKind::Output {
                (quote!(#n: &mut [#t]), quote!(let #n: *mut #t = #n.as_mut_ptr();))
            } else {
                (quote!(#n: &[#t]), quote!(let #n: *const #t = #n.as_ptr();))
            }
        })
        .unzip()
}

/// How code is generated. The default is what the macro emits; the other
/// settings serve tests and debugging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodegenOptions {
    /// Emit vector code against this module (a Rust path, e.g.
    /// `crate::emu512`) instead of `::core::arch::x86_64`: the implementation
    /// imports the module's items in place of the intrinsics, calls its
    /// helpers (`exp_avx512`, ...) in place of `::kiln::simd`'s and
    /// `::kiln::runtime`'s lane masks, and has no `#[cfg(target_arch)]` or
    /// `#[target_feature]`, so that it runs on any CPU (the tuner's portable
    /// AVX-512 emulation, `tuner/src/emu512.rs`). Scalar code is unaffected.
    pub emulate: Option<String>,
    /// A bounds-checked debug mode: every memory access, scalar and vector,
    /// goes through `::kiln::runtime`'s checked helpers (`checked`,
    /// `checked_mut`, and for vectors `checked_lanes`, `checked_lanes_mut`,
    /// which check every lane the access touches), also those the bounds
    /// prover (`bounds.rs`) proves in bounds. The code is otherwise the same:
    /// the same loops are vectorized.
    pub check_all_accesses: bool,
}

impl CodegenOptions {
    /// AVX-512 code running on the emulation module `module` (see `emulate`).
    pub fn emulated(module: &str) -> CodegenOptions {
        CodegenOptions { emulate: Some(module.to_string()), ..CodegenOptions::default() }
    }

    /// The bounds-checked debug mode (see `check_all_accesses`).
    pub fn checked() -> CodegenOptions {
        CodegenOptions { check_all_accesses: true, ..CodegenOptions::default() }
    }

    /// The emulation module as a path (panics if `emulate` is not one).
    pub(crate) fn emulation_path(&self) -> Option<TokenStream> {
        self.emulate.as_ref().map(|m| {
            let p: syn::Path = syn::parse_str(m).unwrap_or_else(|e| panic!("emulation module `{m}`: {e}"));
            p.into_token_stream()
        })
    }
}

/// The body of an implementation of `func` for `isa` (expects the parameters
/// as raw pointers named after the buffers, to at least as many elements as
/// the buffers have).
pub fn emit_body(func: &PrimFunc, isa: Isa) -> TokenStream {
    emit_body_with(func, isa, &CodegenOptions::default())
}

/// [`emit_body`] with `opts`.
pub fn emit_body_with(func: &PrimFunc, isa: Isa, opts: &CodegenOptions) -> TokenStream {
    let l = lower(func);
    let mut em = Emitter::new(isa, opts);
    em.func_body(&l)
}

/// An `unsafe fn name(<slices>)` implementing `func` for `isa`. The caller
/// guarantees the slices' lengths and that the CPU supports `isa`.
pub fn emit_impl(func: &PrimFunc, isa: Isa, name: &Ident) -> TokenStream {
    emit_impl_with(func, isa, name, &CodegenOptions::default())
}

/// [`emit_impl`] with `opts` (an emulated implementation needs no CPU
/// feature).
pub fn emit_impl_with(func: &PrimFunc, isa: Isa, name: &Ident, opts: &CodegenOptions) -> TokenStream {
    let (params, to_ptrs) = impl_params(func);
    let body = emit_body_with(func, isa, opts);
    let (attrs, imports) = match (isa.target_features(), opts.emulation_path()) {
        (Some(_), Some(m)) => (quote!(), quote!(use #m::*;)),
        (Some(f), None) => (
            quote!(#[cfg(target_arch = "x86_64")] #[target_feature(enable = #f)]),
            quote!(
                use ::core::arch::x86_64::*;
            ),
        ),
        (None, _) => (quote!(), quote!()),
    };
    quote! {
        #attrs
        #[allow(unused_unsafe, unused_mut, unused_variables, unused_parens, non_snake_case, clippy::all)]
        #[inline(never)]
        #[doc(hidden)]
        pub unsafe fn #name(#(#params),*) {
            #imports
            #(#to_ptrs)*
            #body
        }
    }
}

/// The name of kernel `kernel`'s implementation for `isa` in the macro's
/// expansion (`__kiln_matmul_avx2`); the tuner names its candidates the same,
/// so that what it builds is what the macro emits, name included.
pub fn impl_ident(kernel: &str, isa: Isa) -> Ident {
    format_ident!("__kiln_{}_{}", kernel, isa.name())
}

/// The safe API of a kernel (see the module doc) over `variants`, which must
/// include a `Scalar` one.
pub fn emit_kernel(func: &PrimFunc, variants: &[Variant], vis: &TokenStream, attrs: &TokenStream) -> TokenStream {
    emit_kernel_with(func, variants, vis, attrs, &CodegenOptions::default())
}

/// [`emit_kernel`] with `opts` for every implementation.
pub fn emit_kernel_with(
    func: &PrimFunc,
    variants: &[Variant],
    vis: &TokenStream,
    attrs: &TokenStream,
    opts: &CodegenOptions,
) -> TokenStream {
    let name = ident(&func.name);
    let try_name = format_ident!("try_{}", func.name);
    let on_name = format_ident!("try_{}_on", func.name);
    let impl_name = |isa: Isa| impl_ident(&func.name, isa);
    let impls: Vec<TokenStream> =
        variants.iter().map(|v| emit_impl_with(&v.func, v.isa, &impl_name(v.isa), opts)).collect();
    let has = |isa: Isa| variants.iter().any(|v| v.isa == isa);
    assert!(has(Isa::Scalar), "a kernel needs a scalar implementation");

    let safe_params: Vec<TokenStream> = func
        .params
        .iter()
        .map(|p| {
            let n = ident(&p.buffer.name);
            let t = elem_type(p.buffer.dtype);
            if p.kind == ParamKind::Output {
                quote!(#n: &mut [#t])
            } else {
                quote!(#n: &[#t])
            }
        })
        .collect();
    let args: Vec<Ident> = func.params.iter().map(|p| ident(&p.buffer.name)).collect();
    let kname = func.name.as_str();
    let checks: Vec<TokenStream> = func
        .params
        .iter()
        .map(|p| {
            let n = ident(&p.buffer.name);
            let pname = p.buffer.name.to_string();
            let len = Literal::usize_unsuffixed(p.buffer.numel() as usize);
            let shape = format!(
                "[{}; {}]",
                p.buffer.dtype,
                p.buffer.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            );
            quote!(::kiln::runtime::check_len(#kname, #pname, #shape, #n.len(), #len)?;)
        })
        .collect();
    let ptrs: Vec<TokenStream> = func.params.iter().map(|p| ident(&p.buffer.name).into_token_stream()).collect();
    // For each ISA the CPU may have, the best implementation at or below it.
    let pick =
        |cpu: Isa| -> Isa { [Isa::Avx512, Isa::Avx2, Isa::Scalar].into_iter().find(|i| *i <= cpu && has(*i)).unwrap() };
    let call = |isa: Isa| {
        let f = impl_name(isa);
        quote!(#f(#(#ptrs),*))
    };
    let x86_arms: Vec<TokenStream> = [Isa::Avx512, Isa::Avx2]
        .into_iter()
        .filter(|cpu| pick(*cpu) != Isa::Scalar)
        .map(|cpu| {
            let c = call(pick(cpu));
            let variant = format_ident!("{}", if cpu == Isa::Avx512 { "Avx512" } else { "Avx2" });
            quote!(::kiln::Isa::#variant => { unsafe { #c }; return Ok(()); })
        })
        .collect();
    let scalar_call = call(Isa::Scalar);
    let on_arms: Vec<TokenStream> = variants
        .iter()
        .filter(|v| v.isa != Isa::Scalar)
        .map(|v| {
            let c = call(v.isa);
            let variant = format_ident!("{}", if v.isa == Isa::Avx512 { "Avx512" } else { "Avx2" });
            quote! {
                ::kiln::Isa::#variant => {
                    #[cfg(target_arch = "x86_64")]
                    { unsafe { #c }; return Ok(()); }
                }
            }
        })
        .collect();
    // The ISA parameter of `try_NAME_on`: `isa`, unless a buffer has that name.
    let mut isa = String::from("isa");
    while func.params.iter().any(|p| *p.buffer.name == *isa) {
        isa.push('_');
    }
    let isa = ident(&isa);
    let doc_try =
        format!("Like [`{}`], but returns an error instead of panicking when a slice has the wrong length.", func.name);
    let doc_on = format!(
        "Runs the implementation of [`{}`] for `isa` (an error if this build has none for it or the CPU lacks it); for tests and benchmarks.",
        func.name
    );
    quote! {
        #(#impls)*

        #attrs
        #vis fn #name(#(#safe_params),*) {
            if let Err(e) = #try_name(#(#args),*) {
                panic!("{}", e);
            }
        }

        #[doc = #doc_try]
        #vis fn #try_name(#(#safe_params),*) -> ::core::result::Result<(), ::kiln::Error> {
            #(#checks)*
            #[cfg(target_arch = "x86_64")]
            {
                match ::kiln::runtime::isa() {
                    #(#x86_arms)*
                    _ => {}
                }
            }
            unsafe { #scalar_call };
            Ok(())
        }

        #[doc = #doc_on]
        #[allow(unreachable_code)]
        #vis fn #on_name(#isa: ::kiln::Isa, #(#safe_params),*) -> ::core::result::Result<(), ::kiln::Error> {
            #(#checks)*
            if !::kiln::runtime::supported(#isa) {
                return Err(::kiln::Error::UnsupportedIsa { kernel: #kname, isa: #isa });
            }
            match #isa {
                ::kiln::Isa::Scalar => { unsafe { #scalar_call }; return Ok(()); }
                #(#on_arms)*
                _ => {}
            }
            Err(::kiln::Error::NoImplementation { kernel: #kname, isa: #isa })
        }
    }
}
