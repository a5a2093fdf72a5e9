//! The ahead-of-time packing API of a kernel (TVM's layout rewrite, done
//! once by the caller): for every input parameter that some variant packs at
//! its root (`crate::prepack`), a module named after the kernel holds
//!
//! ```ignore
//! pub struct PackedW { .. }        // `w` in the layout of the variant this CPU runs
//! pub fn pack_w(w: &[f32]) -> PackedW;
//! pub fn try_pack_w(w: &[f32]) -> Result<PackedW, kiln::Error>;
//! pub fn with_packed_w(x: &[f32], w: &PackedW, b: &[f32], z: &mut [f32]);
//! pub fn try_with_packed_w(..) -> Result<(), kiln::Error>;
//! ```
//!
//! `pack_w` runs the chosen variant's packing stage alone; `with_packed_w`
//! runs that variant without it, on the packed buffer. A variant that does
//! not pack `w` keeps `w` as it is (its "packed" value is a copy) and runs
//! its ordinary implementation. The packed value remembers its variant, so
//! it is always read in the layout it was written in; a value of another
//! kernel has another type.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{ParamKind, PrimFunc};
use crate::prepack::{split, Packing};
use crate::target::Isa;

use super::emit::{elem_type, ident};
use super::kernel::{arch_cfg, emit_impl_with, len_check, variant_ident, CodegenOptions, Variant};

/// `w_in` → `PackedWIn`.
fn packed_type(param: &str) -> Ident {
    let camel: String = param
        .split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect();
    format_ident!("Packed{}", camel)
}

/// The packing module of a kernel, or nothing when no variant packs a parameter.
pub(super) fn emit_packed(
    func: &PrimFunc,
    variants: &[Variant],
    vis: &TokenStream,
    chooser: &Ident,
    safe_params: &[TokenStream],
    opts: &CodegenOptions,
) -> TokenStream {
    let splits: Vec<Vec<Packing>> = variants.iter().map(|v| split(&v.func)).collect();
    let packed_params: Vec<&crate::ir::Param> = func
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Input && splits.iter().flatten().any(|pk| pk.param == *p.buffer.name))
        .collect();
    if packed_params.is_empty() {
        return quote!();
    }
    let kernel = &func.name;
    let module = ident(kernel);
    let vname = |k: usize| variant_ident(kernel, variants[k].isa, variants[k].cpu.as_deref());
    let pack_name = |k: usize, p: &str| format_ident!("{}_pack_{}", vname(k), p);
    let with_name = |k: usize, p: &str| format_ident!("{}_with_{}", vname(k), p);
    let scalar = variants.iter().position(|v| v.isa == Isa::Scalar && v.cpu.is_none()).expect("a scalar variant");
    let mut impls = TokenStream::new();
    for (k, (v, packs)) in variants.iter().zip(&splits).enumerate() {
        for pk in packs {
            impls.extend(emit_impl_with(&pk.pack, v.isa, &pack_name(k, &pk.param), opts));
            impls.extend(emit_impl_with(&pk.with_packed, v.isa, &with_name(k, &pk.param), opts));
        }
    }
    let mut items = TokenStream::new();
    for p in packed_params {
        let pname = p.buffer.name.to_string();
        let pid = ident(&pname);
        let ty = packed_type(&pname);
        let t = elem_type(p.buffer.dtype);
        let check = len_check(kernel, &p.buffer);
        let pack_fn = format_ident!("pack_{}", pname);
        let try_pack_fn = format_ident!("try_pack_{}", pname);
        let with_fn = format_ident!("with_packed_{}", pname);
        let try_with_fn = format_ident!("try_with_packed_{}", pname);
        let packing = |k: usize| splits[k].iter().find(|pk| pk.param == pname);
        // Packing: the chosen variant's stage, or a copy.
        let pack_arms: Vec<TokenStream> = (0..variants.len())
            .filter_map(|k| {
                let pk = packing(k)?;
                let n = Literal::usize_unsuffixed(pk.pack.params[1].buffer.numel() as usize);
                let f = pack_name(k, &pname);
                let cfg = arch_cfg(variants[k].isa);
                Some(quote!(#cfg #k => {
                    let mut data = ::std::vec![<#t>::default(); #n];
                    unsafe { super::#f(#pid, &mut data) };
                    data
                }))
            })
            .collect();
        // Running: the variant's implementation without its stage, or the
        // ordinary one on the copy.
        let args: Vec<TokenStream> = func
            .params
            .iter()
            .map(|q| {
                let n = ident(&q.buffer.name);
                if *q.buffer.name == *pname {
                    quote!(&#n.data)
                } else {
                    quote!(#n)
                }
            })
            .collect();
        let run = |k: usize| {
            let f = if packing(k).is_some() { with_name(k, &pname) } else { vname(k) };
            quote!(super::#f(#(#args),*))
        };
        let run_arms: Vec<TokenStream> = (0..variants.len())
            .filter(|k| *k != scalar)
            .map(|k| {
                let cfg = quote!(#[cfg(target_arch = "x86_64")]);
                let c = run(k);
                quote!(#cfg #k => unsafe { #c },)
            })
            .collect();
        let run_scalar = run(scalar);
        let with_params: Vec<TokenStream> = func
            .params
            .iter()
            .zip(safe_params)
            .map(|(q, sp)| if *q.buffer.name == *pname { quote!(#pid: &#ty) } else { sp.clone() })
            .collect();
        let mut checks: Vec<TokenStream> = func
            .params
            .iter()
            .filter(|q| *q.buffer.name != *pname && func.sym_dim_of(&q.buffer.name).is_none())
            .map(|q| len_check(kernel, &q.buffer))
            .collect();
        checks.push(super::kernel::dim_checks(func));
        let call_args: Vec<Ident> = func.params.iter().map(|q| ident(&q.buffer.name)).collect();
        let doc_ty = format!(
            "`{pname}` of [`{kernel}`](super::{kernel}), packed by [`pack_{pname}`] for the implementation this CPU runs."
        );
        let doc_pack = format!(
            "Packs `{pname}` once, ahead of the calls (a layer's constant weights): \
             [`with_packed_{pname}`] then skips the packing [`{kernel}`](super::{kernel}) does on every call. Panics if `{pname}` has the wrong length."
        );
        let doc_try_pack = format!("Like [`pack_{pname}`], but returns an error when `{pname}` has the wrong length.");
        let doc_with = format!(
            "[`{kernel}`](super::{kernel}) with `{pname}` packed ahead of time by [`pack_{pname}`]: the same results, without packing it on every call."
        );
        let doc_try_with =
            format!("Like [`with_packed_{pname}`], but returns an error when a slice has the wrong length.");
        let doc_on = format!(
            "Packs `{pname}` for the implementation of `isa` (an error if this build has none for it or the CPU lacks it); for tests and benchmarks."
        );
        let try_pack_on = format_ident!("try_pack_{}_on", pname);
        // The generic variant of each ISA, for `try_pack_<p>_on`.
        let on_arms: Vec<TokenStream> = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| v.cpu.is_none())
            .map(|(k, v)| {
                let isa = format_ident!("{}", v.isa.runtime_variant());
                quote!(::kiln::Isa::#isa => #k,)
            })
            .collect();
        items.extend(quote! {
            #[doc = #doc_ty]
            #[derive(Clone)]
            pub struct #ty {
                variant: usize,
                data: ::std::vec::Vec<#t>,
            }

            impl #ty {
                /// Elements of the packed buffer.
                pub fn len(&self) -> usize {
                    self.data.len()
                }

                /// Whether the packed buffer is empty (never, for a kernel's parameter).
                pub fn is_empty(&self) -> bool {
                    self.data.is_empty()
                }
            }

            impl ::core::fmt::Debug for #ty {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(stringify!(#ty)).field("variant", &self.variant).field("len", &self.data.len()).finish()
                }
            }

            #[doc = #doc_pack]
            pub fn #pack_fn(#pid: &[#t]) -> #ty {
                match #try_pack_fn(#pid) {
                    Ok(p) => p,
                    Err(e) => panic!("{}", e),
                }
            }

            #[doc = #doc_try_pack]
            #[allow(unreachable_code, unreachable_patterns)]
            pub fn #try_pack_fn(#pid: &[#t]) -> ::core::result::Result<#ty, ::kiln::Error> {
                #check
                let variant = super::#chooser();
                let data = match variant {
                    #(#pack_arms)*
                    _ => #pid.to_vec(),
                };
                Ok(#ty { variant, data })
            }

            #[doc = #doc_on]
            #[allow(unreachable_code, unreachable_patterns)]
            pub fn #try_pack_on(isa: ::kiln::Isa, #pid: &[#t]) -> ::core::result::Result<#ty, ::kiln::Error> {
                #check
                if !::kiln::runtime::supported(isa) {
                    return Err(::kiln::Error::UnsupportedIsa { kernel: #kernel, isa });
                }
                let variant = match isa {
                    #(#on_arms)*
                    _ => return Err(::kiln::Error::NoImplementation { kernel: #kernel, isa }),
                };
                let data = match variant {
                    #(#pack_arms)*
                    _ => #pid.to_vec(),
                };
                Ok(#ty { variant, data })
            }

            #[doc = #doc_with]
            pub fn #with_fn(#(#with_params),*) {
                if let Err(e) = #try_with_fn(#(#call_args),*) {
                    panic!("{}", e);
                }
            }

            #[doc = #doc_try_with]
            #[allow(unreachable_patterns)]
            pub fn #try_with_fn(#(#with_params),*) -> ::core::result::Result<(), ::kiln::Error> {
                #(#checks)*
                match #pid.variant {
                    #(#run_arms)*
                    _ => unsafe { #run_scalar },
                }
                Ok(())
            }
        });
    }
    let doc =
        format!("[`{kernel}`] with parameters packed ahead of time (the layout rewrite, done once by the caller).");
    quote! {
        #impls

        #[doc = #doc]
        #vis mod #module {
            #items
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn packed_type_names() {
        assert_eq!(super::packed_type("w").to_string(), "PackedW");
        assert_eq!(super::packed_type("w_in").to_string(), "PackedWIn");
        assert_eq!(super::packed_type("weight0").to_string(), "PackedWeight0");
    }
}
