//! A BLIS-blocked product (`kc` < `k`: the accumulators of a row block live
//! in memory between the blocks of `k`) whose register tile the code
//! generator keeps in a window of its own (`kiln_ir::codegen::registers`),
//! run against the interpreter on every ISA, with its accesses bounds-checked
//! too. The tile is 4 rows × 16 columns; `kc` = 8 of `k` = 40.

mod common;

use kiln_ir::schedule::testing::{kc_blocked_trace, matmul};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::Isa;
use tuner::builder::Candidate;
use tuner::runner::RunOptions;

#[test]
fn a_kc_blocked_product_matches_the_interpreter_on_every_isa() {
    common::share_harness();
    // 16×32 = 16×40 · 40×32: row blocks of 8 with 2 row tiles of 4 rows (a
    // serial loop), panels of 16 columns, kc = 8 of k = 40; the write-back
    // per row block and panel.
    let func = matmul(16, 32, 40);
    let trace = kiln_ir::trace::parse_trace_str(&kc_blocked_trace([2, 2, 4], [2, 2, 8], [5, 8])).unwrap();
    let scheduled = Schedule::replay(&func, &trace, 0, DecisionMode::Strict).unwrap().into_parts().0;
    // The window is there: 4 × 16 accumulators copied around `k_1`.
    let code =
        kiln_ir::codegen::pretty(&kiln_ir::codegen::emit_impl(&scheduled, Isa::Avx2, &quote::format_ident!("f")));
    assert!(code.contains("let mut __c_local_reg_storage: [f32; 64]"), "{code}");

    let native512 = std::arch::is_x86_feature_detected!("avx512f");
    let avx512 =
        if native512 { Candidate::new(scheduled.clone(), Isa::Avx512) } else { Candidate::emulated_avx512(&scheduled) };
    let cands = vec![
        Candidate::new(scheduled.clone(), Isa::Scalar),
        Candidate::new(scheduled.clone(), Isa::Avx2),
        avx512.clone(),
        Candidate::new(scheduled.clone(), Isa::Avx2).checked(),
        avx512.checked(),
    ];
    let labels: Vec<String> = ["scalar", "avx2", "avx512", "avx2 checked", "avx512 checked"].map(String::from).to_vec();
    let work = common::temp_dir("kiln-register-tiles");
    let (ok, wrong) = common::run_against_interpreter(
        &work,
        &func,
        &cands,
        &labels,
        "register_tiles",
        (RunOptions::default().rtol, RunOptions::default().atol_rel),
    );
    assert!(wrong.is_empty(), "{wrong:?}");
    let ran = ok.len();
    assert!(ran >= 3, "only {ran} candidates ran");
}
