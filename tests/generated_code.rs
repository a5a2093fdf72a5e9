//! The code every bundled kernel compiles to, for every ISA: a golden
//! snapshot per kernel and ISA of the implementation the macro emits (the
//! committed trace, else the `schedule { }` section, else the default
//! schedule). A refactoring of the compiler must leave these unchanged; a
//! change of the code generator or a retuned trace shows up here, to be
//! reviewed with `cargo insta review`.

use std::path::Path;

use kiln_ir::codegen::{emit_impl, pretty};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::space::default_schedule;
use kiln_ir::target::Isa;
use kiln_ir::trace::parse_trace;
use kiln_ir::tracefile::{resolve, TraceFile};

#[test]
fn every_bundled_kernel_and_isa() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let mut files: Vec<_> = std::fs::read_dir(root.join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let mut seen = 0;
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        for k in kiln_ir::parse::find_kernels_in_file(&src).unwrap() {
            let k = k.unwrap_or_else(|e| panic!("{}: {}", path.display(), e.error));
            let trace_path = root.join("traces").join(format!("{}.json", k.func.name));
            let file = TraceFile::read(&trace_path).unwrap();
            let hand = k.schedule.as_ref().map(|ts| {
                let (t, _) = parse_trace(ts.clone()).unwrap();
                Schedule::replay(&k.func, &t, 0, DecisionMode::Strict).unwrap().into_parts().0
            });
            for isa in Isa::ALL {
                let default = || hand.clone().unwrap_or_else(|| default_schedule(&k.func, isa));
                let (func, _) = resolve(&k.func, isa, file.as_ref(), &trace_path, default).unwrap();
                let name = proc_macro2::Ident::new(
                    &format!("__kiln_{}_{}", k.func.name, isa.name()),
                    proc_macro2::Span::call_site(),
                );
                let code = pretty(&emit_impl(&func, isa, &name));
                insta::assert_snapshot!(format!("{}_{}", k.func.name, isa.name()), code);
                seen += 1;
            }
        }
    }
    assert!(seen >= 24, "only {seen} kernel variants found");
}
