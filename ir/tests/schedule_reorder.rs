//! `reorder` (primitive/reorder.rs): expected IR, trace round trips, unchanged
//! results (also under uneven splits), stale handles, malformed trace
//! instructions, and one failure per condition of `check_reorder`.

use kiln_ir::ir::ForKind;
use kiln_ir::schedule::primitive::annotate::{AnnArg, AnnTarget};
use kiln_ir::schedule::testing::{
    assert_round_trips, assert_same_results, block_loops, fails, lit, matmul, replay_fails,
};
use kiln_ir::schedule::Schedule;
use kiln_ir::trace::parse_trace_str;

/// The loop variables from the root down to block "C".
fn loop_names(sch: &Schedule) -> Vec<String> {
    sch.func().loops_of_block("C").unwrap().iter().map(|l| l.var.to_string()).collect()
}

#[test]
fn reorder_swaps_the_given_loops_in_place() {
    // TVM: the given loops take the positions they occupied, in the given order.
    let (mut sch, _, l) = block_loops(matmul(16, 8, 4), "C", 0);
    sch.reorder(&[l[2], l[0]]).unwrap();
    assert_eq!(loop_names(&sch), ["k", "j", "i"]);
    insta::assert_snapshot!("reorder_k_i_ir", sch.func().to_string());
    insta::assert_snapshot!("reorder_k_i_trace", sch.trace().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.reorder(&[l[2], l[0]]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn reorder_a_tiling() {
    // i, j split by 4 and 8, then reordered to i_0, j_0, i_1, j_1 (the tiling).
    let (mut sch, _, l) = block_loops(matmul(16, 32, 4), "C", 0);
    let is = sch.split(l[0], &[None, lit(4)]).unwrap();
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    sch.reorder(&[js[0], is[1]]).unwrap();
    assert_eq!(loop_names(&sch), ["i_0", "j_0", "i_1", "j_1", "k"]);
    insta::assert_snapshot!("reorder_tiling_ir", sch.func().to_string());

    // The same on uneven splits: i: 10 = 3 x 4 - 2, j: 37 = 5 x 8 - 3.
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[None, lit(4)]).unwrap();
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    sch.reorder(&[js[0], is[1]]).unwrap();
    assert_eq!(loop_names(&sch), ["i_0", "j_0", "i_1", "j_1", "k"]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn reorder_the_chapters_loops() {
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(4)]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    assert_eq!(loop_names(&sch), ["i", "j_0", "k", "j_1"]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn reorder_moves_kinds_and_annotations_with_their_loops() {
    let func = matmul(8, 12, 4);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.parallel(l[0]).unwrap();
    sch.annotate(AnnTarget::Loop(l[1]), "pragma_auto_unroll_max_step", AnnArg::Int(16)).unwrap();
    sch.reorder(&[l[1], l[0]]).unwrap();
    assert_eq!(loop_names(&sch), ["j", "i", "k"]);
    let outer = sch.func().find_loop("j").unwrap();
    assert_eq!((outer.kind, outer.annotations.len()), (ForKind::Serial, 1));
    assert_eq!(sch.func().find_loop("i").unwrap().kind, ForKind::Parallel);
    insta::assert_snapshot!("reorder_kinds_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn reorder_of_fewer_than_two_loops_changes_nothing() {
    // As in TVM: nothing to reorder, and the step is still recorded.
    let func = matmul(8, 8, 8);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.reorder(&[l[1]]).unwrap();
    sch.reorder(&[]).unwrap();
    assert_eq!(sch.func(), &func);
    let text = sch.trace().to_string();
    assert!(text.ends_with("sch.reorder(l2)\nsch.reorder()\n"), "{text}");
    assert_round_trips(&func, &sch);
    // A stale handle is still an error.
    let js = sch.split(l[1], &[None, lit(2)]).unwrap();
    fails(&mut sch, "StaleHandle", |s| s.reorder(&[l[1]]));
    sch.reorder(&[js[1]]).unwrap();
}

// ---- failures: one per condition of `check_reorder` ----

#[test]
fn rejects_a_repeated_loop() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let err = fails(&mut sch, "Duplicate", |s| s.reorder(&[l[2], l[0], l[2]]));
    assert_eq!(err.to_string(), "reorder: loop `k` is given twice");
}

#[test]
fn rejects_loops_in_different_branches() {
    // After decompose_reduction, `j_init` (the init's copy of j) and `k` are siblings under `i`.
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, l[1]).unwrap();
    let init = sch.get_block("C_init").unwrap();
    let li = sch.get_loops(init).unwrap();
    assert_eq!(sch.loop_name(li[1]).unwrap(), "j_init");
    let err = fails(&mut sch, "NotInOneChain", |s| s.reorder(&[li[1], l[2]]));
    assert!(err.to_string().contains("are not nested in one another"), "{err}");
    fails(&mut sch, "NotInOneChain", |s| s.reorder(&[l[1], li[1]]));
}

#[test]
fn rejects_loops_that_are_not_perfectly_nested() {
    // After decompose_reduction at k, `j` holds the init block and the `k` loop.
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    let err = fails(&mut sch, "NotPerfectlyNested", |s| s.reorder(&[l[2], l[0]]));
    assert_eq!(
        err.to_string(),
        "reorder: the body of `j` is not a single loop, so the loops below it cannot move above it"
    );
    // Loops above the branching point still reorder.
    sch.reorder(&[l[1], l[0]]).unwrap();
}

// ---- trace instructions ----

#[test]
fn malformed_reorder_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in ["sch.reorder(l3, b0)", "sch.reorder(l3, v1)", "sch.reorder(l3, [l1])", "sch.reorder(l3, l8)"] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
}
