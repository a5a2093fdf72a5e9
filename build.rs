//! Build script of the `kiln` package (for its benches, examples and tests;
//! the library itself needs nothing from it):
//!
//! 1. compiles the naive C reference loops (`benches/c/kernels.c`) with
//!    `-O3 -march=native`, the C baseline of the benchmarks;
//! 2. generates `$OUT_DIR/variants.rs`: every bundled kernel of
//!    `kernels/src/` again, as `naive::<kernel>` (the unscheduled loop nest)
//!    and `default::<kernel>` (the default schedule, per ISA), with the same
//!    safe API as the macro's (`try_<kernel>_on`, ...), so that benchmarks and
//!    the MLP example can compare them with the committed traces.

use std::fmt::Write;
use std::path::Path;

use kiln_ir::codegen::{emit_kernel, Variant};
use kiln_ir::program::Sources;
use kiln_ir::target::{Isa, Target};

fn main() {
    println!("cargo:rerun-if-changed=benches/c/kernels.c");
    println!("cargo:rerun-if-changed=kernels/src");
    cc::Build::new()
        .file("benches/c/kernels.c")
        .opt_level(3)
        .flag_if_supported("-march=native")
        .flag_if_supported("-ffp-contract=fast")
        .warnings(false)
        .compile("kiln_c_reference");

    let mut naive = String::new();
    let mut default = String::new();
    let found = kiln_ir::parse::kernels_in_crate(Path::new("kernels"));
    for (path, k) in found.kernels {
        println!("cargo:rerun-if-changed={}", path.display());
        let Ok(k) = k else { continue };
        let f = &k.func;
        let scalar = Variant::new(Isa::Scalar, f.clone());
        let vis = quote::quote!(pub);
        let none = proc_macro2::TokenStream::new();
        writeln!(naive, "{}", emit_kernel(f, &[scalar], &vis, &none)).unwrap();
        // What the kernel compiles to without a trace (its schedule section, else the default rules).
        let sources = Sources::without_file(&k).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        // A bundled kernel named `*_t<N>` is tuned for N threads
        // (`matmul512_t2`): its default is the N-thread default.
        let threads = f.name.rsplit_once("_t").and_then(|(_, n)| n.parse::<usize>().ok()).unwrap_or(1);
        let variants: Vec<Variant> = Isa::ALL
            .iter()
            .map(|isa| {
                let p = sources.untuned(&Target::isa(*isa), threads).unwrap_or_else(|e| panic!("{}: {e}", f.name));
                Variant::new(*isa, p.func)
            })
            .collect();
        writeln!(default, "{}", emit_kernel(f, &variants, &vis, &none)).unwrap();
    }
    let out = format!(
        "/// The bundled kernels without any schedule.\n#[allow(clippy::all, unused)]\npub mod naive {{ {naive} }}\n\
         /// The bundled kernels with the default schedule (what a kernel gets without a trace).\n\
         #[allow(clippy::all, unused)]\npub mod default {{ {default} }}\n"
    );
    let dir = std::env::var("OUT_DIR").unwrap();
    std::fs::write(Path::new(&dir).join("variants.rs"), out).unwrap();
}
