//! Expansion: parse → choose each ISA's schedule → generate, with spanned
//! errors and, on failure, stubs with the declared signature (`fallback.rs`).
//!
//! The program of each ISA variant is `kiln_ir::program::Sources::program`'s
//! (the trace file `$CARGO_MANIFEST_DIR/traces/<kernel>.json`, else the
//! kernel's `schedule { .. }` section, else the default schedule): the same
//! answer the tuner and the build scripts get.
//!
//! A trace file for another version of the kernel (stale) is a warning, or an
//! error with `KILN_STRICT_TRACES=1`; a trace file that cannot be read, parsed
//! or replayed is an error naming the file and the problem.
//!
//! Besides the kernel's functions, the expansion holds a hidden constant
//! `__kiln_schedule_of_<kernel>`: for each ISA (best first) the source of its
//! schedule, the trace and the scheduled IR, as text. Tests use it to check
//! what the macro did; it costs nothing unless referenced.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use kiln_ir::codegen::{emit_kernel, Variant};
use kiln_ir::ir::func_to_string;
use kiln_ir::parse::{parse_kernel, Kernel, ParseFailure};
use kiln_ir::program::{trace_path, NoTrace, Origin, Program, ProgramError, Sources};
use kiln_ir::target::{Isa, Target};
use kiln_ir::trace::parse_trace;

use crate::fallback::{loose_stub, stub};

/// The macro's whole output for `input`. Never panics: a bug in the compiler
/// becomes a compile error.
pub fn expand(input: TokenStream) -> TokenStream {
    let copy = input.clone();
    match std::panic::catch_unwind(move || expand_inner(input)) {
        Ok(ts) => ts,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let msg = format!("kiln internal error (please report): {msg}");
            let mut out = quote!(::core::compile_error!(#msg););
            out.extend(loose_stub(copy));
            out
        }
    }
}

fn expand_inner(input: TokenStream) -> TokenStream {
    let copy = input.clone();
    match parse_kernel(input) {
        Err(ParseFailure { error, sig }) => {
            let mut out = error.to_compile_error();
            out.extend(match sig {
                Some(sig) => Some(stub(&sig)),
                None => loose_stub(copy),
            });
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

fn strict() -> bool {
    std::env::var("KILN_STRICT_TRACES").is_ok_and(|v| v != "0" && !v.is_empty())
}

/// An error spanning the tokens from `start` to `end`.
fn error_between(start: Span, end: Span, msg: impl std::fmt::Display) -> syn::Error {
    let mut a = proc_macro2::Punct::new('#', proc_macro2::Spacing::Alone);
    a.set_span(start);
    let mut b = proc_macro2::Punct::new('#', proc_macro2::Spacing::Alone);
    b.set_span(end);
    syn::Error::new_spanned(quote!(#a #b), msg)
}

/// One variant's program: an ISA's, or an ISA's on one CPU class.
struct Chosen {
    target: Target,
    program: Program,
}

/// The program of each ISA (best first), then of each CPU-class entry of the
/// trace file; and the stale-trace warning, if any.
fn choose(k: &Kernel, crate_dir: Option<&Path>) -> Result<(Vec<Chosen>, Option<String>), syn::Error> {
    let func = &k.func;
    let name_span = k.sig.name.span();
    let (section, spans) = match &k.schedule {
        None => (None, vec![]),
        Some(ts) => {
            let (t, spans) =
                parse_trace(ts.clone()).map_err(|e| syn::Error::new(e.span, format!("schedule: {}", e.message)))?;
            (Some(t), spans)
        }
    };
    let path = match crate_dir {
        Some(d) => trace_path(d, &func.name),
        None => PathBuf::from(format!("traces/{}.json", func.name)),
    };
    let sources = match crate_dir {
        Some(_) => Sources::read(func.clone(), section, path),
        None => Ok(Sources { func: func.clone(), section, trace_path: path, file: None }),
    }
    .map_err(|e| syn::Error::new(name_span, e.to_string()))?;
    let mut warning = None;
    let mut chosen = Vec::new();
    // The CPU-class entries of a current trace file, in key order.
    let classes: Vec<Target> = match sources.current_file() {
        Ok(Some(file)) => file.targets.keys().filter_map(|k| Target::parse(k)).filter(|t| t.cpu.is_some()).collect(),
        _ => vec![],
    };
    let targets = Isa::ALL.iter().map(|isa| Target::isa(*isa)).chain(classes);
    for target in targets {
        let program = sources.program(&target).map_err(|e| match e {
            // A failing step of the section points at the step.
            ProgramError::Section(r) => {
                let (start, end) = spans.get(r.step - 1).copied().unwrap_or((name_span, name_span));
                error_between(start, end, format!("schedule step {} fails: {}", r.step, r.error))
            }
            e => syn::Error::new(name_span, e.to_string()),
        })?;
        if let Some(NoTrace::Stale { file_workload, workload }) = program.origin.why_not_trace() {
            let msg = format!(
                "kiln: the trace file {} was tuned for another version of `{}` (workload {file_workload}, now {workload}); \
                 it is ignored. Tune the kernel again (`cargo run -p tuner`), or delete the file.",
                sources.trace_path.display(),
                func.name
            );
            if strict() {
                return Err(syn::Error::new(name_span, format!("{msg} (KILN_STRICT_TRACES is set)")));
            }
            warning = Some(msg);
        }
        if let (Origin::Partial { failed, .. }, None) = (&program.origin, &warning) {
            let (block, why) = &failed[0];
            warning = Some(format!(
                "kiln: the default schedule of `{}` leaves block \"{block}\" unscheduled for {} (its rule fails: {why}); \
                 the kernel is correct but slow there. `cargo run -p tuner` may find a schedule; please report it.",
                func.name,
                target.key()
            ));
        }
        chosen.push(Chosen { target, program });
    }
    Ok((chosen, warning))
}

fn generate(k: &Kernel) -> Result<TokenStream, syn::Error> {
    let func = &k.func;
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let (chosen, warning) = choose(k, crate_dir.as_deref())?;
    let path = crate_dir.map(|d| trace_path(&d, &func.name));
    let variants: Vec<Variant> = chosen
        .iter()
        .map(|c| Variant { isa: c.target.isa, cpu: c.target.cpu.clone(), func: c.program.func.clone() })
        .collect();
    let attrs = &k.sig.attrs;
    let vis = &k.sig.vis;
    let mut out = emit_kernel(func, &variants, &quote!(#vis), &quote!(#(#attrs)*));

    // What each variant was built from (see the module doc).
    let rows = chosen.iter().map(|c| {
        let (isa, source) = (c.target.key(), c.program.origin.label());
        let (trace, ir) = (c.program.trace.to_string(), func_to_string(&c.program.func));
        quote!((#isa, #source, #trace, #ir))
    });
    let n = chosen.len();
    let info = format_ident!("__kiln_schedule_of_{}", func.name);
    out.extend(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        #vis const #info: [(&str, &str, &str, &str); #n] = [#(#rows),*];
    });

    // Rebuild when the trace file changes (or disappears). A path that is not
    // UTF-8 cannot be written in `include_bytes!`; the kernel crate's
    // `build.rs` still tracks the directory.
    if let Some(p) = path.as_ref().filter(|p| p.is_file()).and_then(|p| p.to_str()) {
        out.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#p);
        ));
    }
    // A warning from a proc macro on stable Rust: the use of a deprecated item.
    if let Some(w) = warning {
        let id = format_ident!("__kiln_warning_{}", func.name);
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

#[cfg(test)]
mod tests {
    use super::expand;
    use proc_macro2::TokenStream;

    const KERNEL: &str = r#"
        /// C = A·B.
        pub fn mm(a: [f32; 8, 12], b: [f32; 12, 16], c: &mut [f32; 8, 16]) {
            for (i, j, k) in grid(8, 16, 12) {
                block("C") {
                    let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                    init { c[vi, vj] = 0.0; }
                    c[vi, vj] += a[vi, vk] * b[vk, vj];
                }
            }
        }
        schedule {
            b0 = sch.get_block(name="C", func_name="main")
            l1, l2, l3 = sch.get_loops(block=b0)
            v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=8)
            l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)
            sch.reorder(l1, l6, l3, l7)
            b8 = sch.decompose_reduction(block=b0, loop=l3)
            sch.vectorize(loop=l7)
        }
    "#;

    /// Expands `src`; checks that it did not panic and that the output is Rust items.
    /// Held by every expansion in these tests: one of them points
    /// `CARGO_MANIFEST_DIR` (process-wide) at a crate of its own, and an
    /// expansion running meanwhile would read that crate's traces.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn expand_str(src: &str) -> Option<String> {
        let tokens: TokenStream = src.parse().ok()?;
        let out = {
            let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
            expand(tokens)
        };
        let text = out.to_string();
        assert!(!text.contains("kiln internal error"), "the macro panicked on:\n{src}\n{text}");
        if let Err(e) = syn::parse2::<syn::File>(out) {
            panic!("the expansion of\n{src}\nis not Rust items ({e}):\n{text}");
        }
        Some(text)
    }

    #[test]
    fn valid_kernel_expands_deterministically() {
        let first = expand_str(KERNEL).unwrap();
        assert!(!first.contains("compile_error"), "{first}");
        assert!(first.contains("fn try_mm_on"), "{first}");
        assert_eq!(expand_str(KERNEL).unwrap(), first);
    }

    /// A block the default rules fail on (`rfactor` of a reduction by
    /// subtraction) is left unscheduled, the rest is scheduled, and the
    /// expansion warns, naming the kernel and the block.
    #[test]
    fn a_block_the_rules_fail_on_is_a_warning() {
        let text = expand_str(
            r#"pub fn sub(x: [f32; 8, 100], y: &mut [f32; 8], z: &mut [f32; 8, 100]) {
                for (i, k) in grid(8, 100) {
                    block("z") {
                        let (vi, vk) = axis::remap("SS", (i, k));
                        z[vi, vk] = x[vi, vk] * 2.0;
                    }
                }
                for (i, k) in grid(8, 100) {
                    block("s") {
                        let (vi, vk) = axis::remap("SR", (i, k));
                        init { y[vi] = 0.0; }
                        y[vi] = y[vi] / x[vi, vk];
                    }
                }
            }"#,
        )
        .unwrap();
        assert!(!text.contains("compile_error"), "{text}");
        assert!(text.contains("deprecated"), "{text}");
        assert!(text.contains("the default schedule of `sub` leaves block \\\"s\\\" unscheduled"), "{text}");
        // The other blocks are vectorized (AVX2 stores of `z`).
        assert!(text.contains("_mm256_storeu_ps"), "{text}");
    }

    /// Every truncation of a kernel, and every version with one word removed,
    /// expands to Rust items (errors and stubs), never to a panic.
    #[test]
    fn garbage_never_panics() {
        let words: Vec<&str> = KERNEL.split_whitespace().collect();
        let mut expanded = 0;
        for n in 0..words.len() {
            let truncated = words[..n].join(" ");
            let without = words.iter().enumerate().filter(|(k, _)| *k != n).map(|(_, w)| *w).collect::<Vec<_>>();
            for src in [truncated, without.join(" ")] {
                expanded += usize::from(expand_str(&src).is_some());
            }
        }
        for src in [
            "",
            ";",
            "fn",
            "fn fn",
            "pub fn x",
            "fn x(",
            "fn x() {}",
            "fn match() {}",
            "@ # $ 1e999 'a",
            "pub unsafe extern \"C\" fn x(a: [f16; 2]) {}",
            "pub(crate) async fn y(, ,) {}",
        ] {
            expand_str(src);
        }
        assert!(expanded > words.len(), "most variants tokenize ({expanded})");
    }

    /// The implementation functions (`__kiln_<kernel>_<isa>`, as
    /// [`kiln_ir::codegen::impl_ident`] names them) in generated code, by name,
    /// pretty-printed; the variant chooser and other helpers are left out.
    fn impl_fns(code: &str) -> std::collections::BTreeMap<String, String> {
        fn collect(items: &[syn::Item], out: &mut std::collections::BTreeMap<String, String>) {
            for item in items {
                match item {
                    syn::Item::Fn(f) if is_impl(&f.sig.ident.to_string()) => {
                        let file = syn::File { shebang: None, attrs: vec![], items: vec![item.clone()] };
                        out.insert(f.sig.ident.to_string(), kiln_ir::codegen::pretty(&quote::quote!(#file)));
                    }
                    syn::Item::Mod(m) => collect(m.content.as_ref().map_or(&[][..], |c| &c.1[..]), out),
                    _ => {}
                }
            }
        }
        fn is_impl(name: &str) -> bool {
            name.starts_with("__kiln_")
                && kiln_ir::target::Isa::ALL.iter().any(|isa| name.ends_with(&format!("_{}", isa.name())))
        }
        let mut out = std::collections::BTreeMap::new();
        collect(&syn::parse_file(code).expect("Rust").items, &mut out);
        out
    }

    /// What the tuner builds for a trace is what the macro emits for it: for
    /// a kernel whose trace file has an AVX2 entry and whose other ISAs use
    /// its `schedule { }` section, every implementation the macro emits is,
    /// token for token, the tuner's candidate for that ISA's program.
    #[test]
    fn the_tuner_builds_what_the_macro_emits() {
        use kiln_ir::program::Sources;
        use kiln_ir::target::{Isa, Target};
        use tuner::builder::{batch_source, Candidate};

        let src = KERNEL.replace("fn mm(", "fn same_code_mm(");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("traces")).unwrap();
        let kernel = kiln_ir::parse::parse_kernel(src.parse().unwrap()).unwrap();
        // An AVX2 entry different from the section: j split by 8, vectorized.
        let trace = kiln_ir::trace::parse_trace_str(
            "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n\
             l4, l5 = sch.split(loop=l2, factors=[None, 8], preserve_unit_iters=True)\nsch.reorder(l1, l4, l3, l5)\n\
             b6 = sch.decompose_reduction(block=b0, loop=l3)\nsch.vectorize(loop=l5)",
        )
        .unwrap();
        let mut file = kiln_ir::tracefile::TraceFile::new(&kernel.func);
        let entry = kiln_ir::tracefile::TargetEntry { trace, latency_us: None, gflops: None, tuned: None, note: None };
        file.targets.insert(Target::isa(Isa::Avx2).key(), entry);
        file.write(&dir.path().join("traces/same_code_mm.json")).unwrap();

        // The macro, as cargo runs it for a crate at `dir`.
        let env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var("CARGO_MANIFEST_DIR", dir.path());
        let expanded = expand(src.parse().unwrap()).to_string();
        std::env::remove_var("CARGO_MANIFEST_DIR");
        drop(env);
        let macro_fns = impl_fns(&expanded);
        assert_eq!(macro_fns.len(), 3, "{expanded}");

        // The tuner's candidate for each ISA's program.
        let sources = Sources::of_kernel(&kernel, dir.path()).unwrap();
        for isa in Isa::ALL {
            let program = sources.program(&Target::isa(isa)).unwrap();
            assert_eq!(program.origin.is_trace(), isa == Isa::Avx2, "{isa}: {}", program.origin.label());
            let (batch, _) = batch_source(&kernel.func, &[Candidate::new(program.func, isa)]);
            let tuner_fns = impl_fns(&batch);
            let name = format!("__kiln_same_code_mm_{}", isa.name());
            assert!(tuner_fns.contains_key(&name), "{isa}: no {name} in the tuner's batch:\n{batch}");
            assert_eq!(tuner_fns.get(&name), macro_fns.get(&name), "{isa}: the tuner builds other code");
        }
    }
}
