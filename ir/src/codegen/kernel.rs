//! The public face of a kernel: the safe functions the macro emits around the
//! per-ISA implementations, and the runtime dispatch between them.
//!
//! For `fn matmul(a: [f32; 128, 128], b: .., c: &mut [f32; 128, 128])`:
//! ```ignore
//! pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32]);                      // panics on wrong lengths
//! pub fn try_matmul(a: &[f32], b: &[f32], c: &mut [f32]) -> Result<(), kiln::Error>;
//! pub fn try_matmul_on(isa: kiln::Isa, a: &[f32], ..) -> Result<(), kiln::Error>; // one ISA's code
//! ```
//! The implementations are `unsafe fn`s over raw pointers, one per variant
//! (an ISA, or an ISA on one CPU class), each `#[target_feature]`-enabled so
//! that intrinsics inline; the safe function checks lengths, then calls the
//! variant chosen once for the running CPU (`__kiln_<kernel>_variant`): the
//! variant of its CPU class (`kiln::cpu::class`) with the best ISA it runs,
//! else the generic variant of the best ISA it runs (`kiln::runtime::isa`),
//! else the scalar one. `KILN_ISA` and `KILN_CPU` override the detection.
//!
//! When a variant packs an input parameter at its root (`crate::prepack`), the
//! kernel also gets a module of the same name with the layout rewrite done
//! ahead of time:
//! ```ignore
//! pub mod linear {
//!     pub struct PackedW { .. }                           // `w`, packed for this machine's variant
//!     pub fn pack_w(w: &[f32]) -> PackedW;                 // (try_pack_w returns a Result)
//!     pub fn with_packed_w(x: &[f32], w: &PackedW, b: &[f32], z: &mut [f32]); // (try_with_packed_w)
//! }
//! ```

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

use crate::ir::{Buffer, ParamKind, PrimFunc};

use super::emit::{elem_type, ident, Emitter};
use super::lower::lower;
use crate::target::Isa;

/// One implementation of a kernel: the scheduled function for an ISA, and,
/// for a trace entry of one CPU class (`x86_64-avx2@znver3`), that class.
#[derive(Clone, Debug)]
pub struct Variant {
    pub isa: Isa,
    pub cpu: Option<String>,
    pub func: PrimFunc,
}

impl Variant {
    /// The generic variant of `isa`.
    pub fn new(isa: Isa, func: PrimFunc) -> Variant {
        Variant { isa, cpu: None, func }
    }
}

/// The parameter list of an implementation: slices (so that LLVM knows
/// they do not alias), which the body turns into raw pointers.
fn impl_params(func: &PrimFunc) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let (params, mut to_ptrs): (Vec<TokenStream>, Vec<TokenStream>) = func
        .params
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
        .unzip();
    // The symbolic dimensions, from the first slice of each (the safe
    // function checked every length).
    let dims: Vec<TokenStream> = func
        .dims
        .iter()
        .filter_map(|d| {
            let p = func.params.iter().find(|p| d.buffers.iter().any(|b| **b == *p.buffer.name))?;
            let v = ident(&crate::codegen::symbolic::LDim::var_name(&d.name));
            let n = ident(&p.buffer.name);
            let per_row = Literal::usize_unsuffixed(per_row(&p.buffer, d.value) as usize);
            Some(quote!(let #v: isize = (#n.len() / #per_row) as isize;))
        })
        .collect();
    to_ptrs.splice(0..0, dims);
    (params, to_ptrs)
}

/// Elements per row of a buffer whose first dimension is symbolic (`value`
/// rows in the IR).
fn per_row(buf: &Buffer, value: i64) -> i64 {
    buf.numel() / value.max(1)
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

/// The name of kernel `kernel`'s generic implementation for `isa` in the
/// macro's expansion (`__kiln_matmul_avx2`); the tuner names its candidates
/// the same, so that what it builds is what the macro emits, name included.
pub fn impl_ident(kernel: &str, isa: Isa) -> Ident {
    variant_ident(kernel, isa, None)
}

/// The name of a variant's implementation: [`impl_ident`], with the CPU class
/// appended for a class's variant (`__kiln_matmul_avx512_znver4`).
pub fn variant_ident(kernel: &str, isa: Isa, cpu: Option<&str>) -> Ident {
    match cpu {
        None => format_ident!("__kiln_{}_{}", kernel, isa.name()),
        Some(c) => format_ident!("__kiln_{}_{}_{}", kernel, isa.name(), c.replace('-', "_")),
    }
}

/// The safe API of a kernel (see the module doc) over `variants`, which must
/// include a generic `Scalar` one.
pub fn emit_kernel(func: &PrimFunc, variants: &[Variant], vis: &TokenStream, attrs: &TokenStream) -> TokenStream {
    emit_kernel_with(func, variants, vis, attrs, &CodegenOptions::default())
}

/// The runtime's `kiln::Isa` variant of `isa`.
fn runtime_isa(isa: Isa) -> TokenStream {
    let v = format_ident!("{}", isa.runtime_variant());
    quote!(::kiln::Isa::#v)
}

/// `#[cfg(target_arch = "x86_64")]` for code that names an x86 implementation.
pub(super) fn arch_cfg(isa: Isa) -> TokenStream {
    if isa == Isa::Scalar {
        quote!()
    } else {
        quote!(#[cfg(target_arch = "x86_64")])
    }
}

/// The parameters of the safe functions (`a: &[f32]`, `c: &mut [f32]`) and
/// the length checks (those of the symbolic dimensions last).
fn safe_params(func: &PrimFunc) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut params = Vec::new();
    let mut checks = Vec::new();
    for p in &func.params {
        let n = ident(&p.buffer.name);
        let t = elem_type(p.buffer.dtype);
        params.push(if p.kind == ParamKind::Output { quote!(#n: &mut [#t]) } else { quote!(#n: &[#t]) });
        if func.sym_dim_of(&p.buffer.name).is_none() {
            checks.push(len_check(&func.name, &p.buffer));
        }
    }
    checks.push(dim_checks(func));
    (params, checks)
}

/// `::kiln::runtime::check_len(..)?;`: the check that the slice passed for
/// parameter `buf` of kernel `kernel` has the buffer's length (the error
/// names the buffer's type and shape).
pub(super) fn len_check(kernel: &str, buf: &Buffer) -> TokenStream {
    let n = ident(&buf.name);
    let name = buf.name.to_string();
    let len = Literal::usize_unsuffixed(buf.numel() as usize);
    let shape = format!("[{}; {}]", buf.dtype, buf.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    quote!(::kiln::runtime::check_len(#kernel, #name, #shape, #n.len(), #len)?;)
}

/// The length checks of the parameters with a symbolic first dimension: the
/// value read from the first such parameter (a multiple of its row, within
/// the range), the others checked against it.
pub(super) fn dim_checks(func: &PrimFunc) -> TokenStream {
    let kernel = func.name.as_str();
    let mut out = TokenStream::new();
    for d in &func.dims {
        let params: Vec<&Buffer> =
            func.params.iter().map(|p| &p.buffer).filter(|b| d.buffers.iter().any(|x| **x == *b.name)).collect();
        let Some(first) = params.first() else { continue };
        let declared = |b: &Buffer| {
            let rest: String = b.shape[1..].iter().map(|x| format!(", {x}")).collect();
            format!("[{}; {}{rest}]", b.dtype, d.name)
        };
        let v = format_ident!("__kiln_n_{}", d.name);
        let (dim, from, fdecl) = (d.name.as_str(), first.name.to_string(), declared(first));
        let f = ident(&first.name);
        let pr = Literal::usize_unsuffixed(per_row(first, d.value) as usize);
        let (min, max) = (Literal::usize_unsuffixed(d.min as usize), Literal::usize_unsuffixed(d.max as usize));
        out.extend(quote! {
            let #v = ::kiln::runtime::dim_from_len(#kernel, #dim, #from, #fdecl, #f.len(), #pr, #min, #max)?;
        });
        for b in &params[1..] {
            let (name, decl) = (b.name.to_string(), declared(b));
            let n = ident(&b.name);
            let pr = Literal::usize_unsuffixed(per_row(b, d.value) as usize);
            out.extend(quote! {
                ::kiln::runtime::check_rows(#kernel, #name, #decl, #dim, #v, #from, #n.len(), #pr)?;
            });
        }
    }
    out
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
    let chooser = format_ident!("__kiln_{}_variant", func.name);
    let vname = |v: &Variant| variant_ident(&func.name, v.isa, v.cpu.as_deref());
    let impls: Vec<TokenStream> = variants.iter().map(|v| emit_impl_with(&v.func, v.isa, &vname(v), opts)).collect();
    let generic = |isa: Isa| variants.iter().position(|v| v.isa == isa && v.cpu.is_none());
    let scalar = generic(Isa::Scalar).expect("a kernel needs a generic scalar implementation");

    let (safe_params, checks) = safe_params(func);
    let args: Vec<Ident> = func.params.iter().map(|p| ident(&p.buffer.name)).collect();
    let kname = func.name.as_str();
    let call = |k: usize| {
        let f = vname(&variants[k]);
        quote!(#f(#(#args),*))
    };
    // The choice: CPU-class variants (best ISA first), then generic ones.
    let mut order: Vec<usize> = (0..variants.len()).filter(|k| variants[*k].isa != Isa::Scalar).collect();
    order.sort_by_key(|k| (variants[*k].cpu.is_none(), std::cmp::Reverse(variants[*k].isa)));
    let rules: Vec<TokenStream> = order
        .iter()
        .map(|k| {
            let v = &variants[*k];
            let isa = runtime_isa(v.isa);
            match &v.cpu {
                Some(c) => quote!(if isa >= #isa && cpu == #c { return #k; }),
                None => quote!(if isa >= #isa { return #k; }),
            }
        })
        .collect();
    let arms: Vec<TokenStream> = (0..variants.len())
        .filter(|k| *k != scalar)
        .map(|k| {
            let cfg = arch_cfg(variants[k].isa);
            let c = call(k);
            quote!(#cfg #k => unsafe { #c },)
        })
        .collect();
    let scalar_call = call(scalar);
    let on_arms: Vec<TokenStream> = variants
        .iter()
        .enumerate()
        .filter(|(k, v)| v.cpu.is_none() && *k != scalar)
        .map(|(k, v)| {
            let c = call(k);
            let isa = runtime_isa(v.isa);
            quote! {
                #isa => {
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
    let packed = super::packed::emit_packed(func, variants, vis, &chooser, &safe_params, opts);
    quote! {
        #(#impls)*

        /// The variant of this kernel the running CPU uses (chosen once).
        #[doc(hidden)]
        #[allow(unused_variables, unreachable_code)]
        #vis fn #chooser() -> usize {
            static CHOSEN: ::core::sync::atomic::AtomicUsize = ::core::sync::atomic::AtomicUsize::new(usize::MAX);
            let k = CHOSEN.load(::core::sync::atomic::Ordering::Relaxed);
            if k != usize::MAX {
                return k;
            }
            let choose = || -> usize {
                #[cfg(target_arch = "x86_64")]
                {
                    let isa = ::kiln::runtime::isa();
                    let cpu = ::kiln::cpu::class();
                    #(#rules)*
                }
                #scalar
            };
            let k = choose();
            CHOSEN.store(k, ::core::sync::atomic::Ordering::Relaxed);
            k
        }

        #attrs
        #vis fn #name(#(#safe_params),*) {
            if let Err(e) = #try_name(#(#args),*) {
                panic!("{}", e);
            }
        }

        #[doc = #doc_try]
        #vis fn #try_name(#(#safe_params),*) -> ::core::result::Result<(), ::kiln::Error> {
            #(#checks)*
            match #chooser() {
                #(#arms)*
                _ => unsafe { #scalar_call },
            }
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

        #packed
    }
}
