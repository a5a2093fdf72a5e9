//! Expansion: parse → trace lookup → replay → generate, with spanned errors
//! and, on failure, a stub with the declared signature so that callers do not
//! report errors of their own.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use kiln_ir::codegen::{emit_kernel, Isa, Variant};
use kiln_ir::parse::{parse_kernel, Kernel, KernelSig, ParseFailure};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::space::default_schedule;
use kiln_ir::trace::parse_trace;
use kiln_ir::tracefile::{resolve, Source, TraceFile};

pub fn expand(input: TokenStream) -> TokenStream {
    // The macro must never panic, whatever the input: a bug becomes a compile error.
    match std::panic::catch_unwind(|| expand_inner(input)) {
        Ok(ts) => ts,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let msg = format!("kiln internal error (please report): {msg}");
            quote!(::core::compile_error!(#msg);)
        }
    }
}

fn expand_inner(input: TokenStream) -> TokenStream {
    match parse_kernel(input) {
        Err(ParseFailure { error, sig }) => {
            let mut out = error.to_compile_error();
            if let Some(sig) = sig {
                out.extend(stub(&sig));
            }
            out
        }
        Ok(kernel) => match generate(&kernel) {
            Ok(ts) => ts,
            Err(e) => {
                let mut out = e.to_compile_error();
                out.extend(stub(&kernel.sig));
                out
            }
        },
    }
}

/// The directory of the calling crate's traces: `$CARGO_MANIFEST_DIR/traces`.
fn traces_dir() -> Option<PathBuf> {
    std::env::var_os("CARGO_MANIFEST_DIR").map(|d| PathBuf::from(d).join("traces"))
}

fn strict() -> bool {
    std::env::var("KILN_STRICT_TRACES").is_ok_and(|v| v != "0" && !v.is_empty())
}

fn generate(k: &Kernel) -> Result<TokenStream, syn::Error> {
    let name_span = k.sig.name.span();
    let func = &k.func;
    // A `schedule { ... }` section replaces the default schedule.
    let hand = match &k.schedule {
        None => None,
        Some(ts) => {
            let (trace, spans) =
                parse_trace(ts.clone()).map_err(|e| syn::Error::new(e.span, format!("schedule: {}", e.message)))?;
            match Schedule::replay(func, &trace, 0, DecisionMode::Resample) {
                Ok(sch) => Some(sch.into_parts().0),
                Err((n, e)) => {
                    let span = spans.get(n).copied().unwrap_or(name_span);
                    return Err(syn::Error::new(span, format!("schedule step {} fails: {e}", n + 1)));
                }
            }
        }
    };
    let path = traces_dir().map(|d| d.join(format!("{}.json", func.name)));
    let file = match &path {
        Some(p) => TraceFile::read(p).map_err(|e| syn::Error::new(name_span, e.to_string()))?,
        None => None,
    };
    let mut variants = Vec::new();
    let mut warnings = Vec::new();
    for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
        let default = || hand.clone().unwrap_or_else(|| default_schedule(func, isa));
        let p = path.clone().unwrap_or_default();
        let (scheduled, source) =
            resolve(func, isa, file.as_ref(), &p, default).map_err(|e| syn::Error::new(name_span, e.to_string()))?;
        if let Source::Stale { file_workload, workload } = &source {
            let msg = format!(
                "kiln: the trace file {} was tuned for another version of `{}` (workload {} != {}); using the default schedule. Re-run `cargo run -p tuner -- tune --kernel {}`.",
                p.display(),
                func.name,
                file_workload,
                workload,
                func.name
            );
            if strict() {
                return Err(syn::Error::new(name_span, format!("{msg} (KILN_STRICT_TRACES is set)")));
            }
            if warnings.is_empty() {
                warnings.push(msg);
            }
        }
        variants.push(Variant { isa, func: scheduled });
    }
    let attrs = &k.sig.attrs;
    let vis = &k.sig.vis;
    let mut out = emit_kernel(func, &variants, &quote!(#vis), &quote!(#(#attrs)*));
    // Rebuild when the trace file changes.
    if let Some(p) = path.filter(|p| p.exists()) {
        let p = p.to_string_lossy().to_string();
        out.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#p);
        ));
    }
    for w in warnings {
        let id = format_ident!("__kiln_stale_trace_{}", func.name);
        out.extend(quote! {
            const _: () = {
                #[deprecated(note = #w)]
                #[allow(non_upper_case_globals)]
                const #id: () = ();
                #id
            };
        });
    }
    Ok(out)
}

/// The declared functions with bodies that only panic, emitted next to a
/// compile error so that callers type-check.
fn stub(sig: &KernelSig) -> TokenStream {
    let vis = &sig.vis;
    let attrs = &sig.attrs;
    let name = &sig.name;
    let try_name = format_ident!("try_{}", name);
    let on_name = format_ident!("try_{}_on", name);
    let params: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            let n = &p.name;
            let t = format_ident!("{}", p.dtype.rust_name(), span = Span::call_site());
            if p.output {
                quote!(#n: &mut [#t])
            } else {
                quote!(#n: &[#t])
            }
        })
        .collect();
    quote! {
        #(#attrs)*
        #[allow(unused_variables)]
        #vis fn #name(#(#params),*) { ::core::unreachable!("kernel failed to compile") }
        #[allow(unused_variables)]
        #vis fn #try_name(#(#params),*) -> ::core::result::Result<(), ::kiln::Error> {
            ::core::unreachable!("kernel failed to compile")
        }
        #[allow(unused_variables)]
        #vis fn #on_name(isa: ::kiln::Isa, #(#params),*) -> ::core::result::Result<(), ::kiln::Error> {
            ::core::unreachable!("kernel failed to compile")
        }
    }
}
