//! The code every bundled kernel compiles to, for every ISA: a golden
//! snapshot per kernel and ISA of the implementation the macro emits (the
//! committed trace, else the `schedule { }` section, else the default
//! schedule). A refactoring of the compiler must leave these unchanged; a
//! change of the code generator or a retuned trace shows up here, to be
//! reviewed with `cargo insta review`.

use std::path::Path;

use kiln_ir::codegen::{emit_impl, pretty};
use kiln_ir::program::Sources;
use kiln_ir::target::{Isa, Target};

#[test]
fn every_bundled_kernel_and_isa() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let mut seen = 0;
    for (path, k) in kiln_ir::parse::kernels_in_crate(&root).kernels {
        let k = k.unwrap_or_else(|e| panic!("{}: {}", path.display(), e.error));
        let sources = Sources::of_kernel(&k, &root).unwrap();
        for isa in Isa::ALL {
            let program = sources.program(&Target::isa(isa)).unwrap();
            let name = proc_macro2::Ident::new(
                &format!("__kiln_{}_{}", k.func.name, isa.name()),
                proc_macro2::Span::call_site(),
            );
            let code = pretty(&emit_impl(&program.func, isa, &name));
            insta::assert_snapshot!(format!("{}_{}", k.func.name, isa.name()), code);
            seen += 1;
        }
    }
    assert!(seen >= 24, "only {seen} kernel variants found");
}
