//! `parallel`, `vectorize`, `unroll` (primitive/for_kind.rs): expected IR,
//! trace round trips, unchanged results (also under uneven splits), stale
//! handles, malformed trace instructions, and one failure per condition of
//! `check_for_kind`.

use kiln_ir::ir::{For, ForKind, PrimFunc, Stmt, Var};
use kiln_ir::schedule::testing::{
    assert_round_trips, assert_same_results, block_loops, fails, lit, matmul, replay_fails,
};
use kiln_ir::schedule::{LoopRV, Schedule};
use kiln_ir::trace::parse_trace_str;

fn kind_of(sch: &Schedule, l: LoopRV) -> ForKind {
    sch.func().find_loop(&sch.loop_name(l).unwrap()).unwrap().kind
}

/// The chapter's loops i, j_0, k, j_1 (j split by `factor`).
fn chapter_loops(func: PrimFunc, factor: i64) -> (Schedule, [LoopRV; 4]) {
    let (mut sch, _, l) = block_loops(func, "C", 0);
    let js = sch.split(l[1], &[None, lit(factor)]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    (sch, [l[0], js[0], l[2], js[1]])
}

#[test]
fn parallel_an_outer_loop() {
    let (mut sch, _, l) = block_loops(matmul(16, 8, 4), "C", 0);
    sch.parallel(l[0]).unwrap();
    assert_eq!(kind_of(&sch, l[0]), ForKind::Parallel);
    insta::assert_snapshot!("parallel_ir", sch.func().to_string());
    assert_eq!(sch.trace().to_string().lines().last().unwrap(), "sch.parallel(loop=l1)");

    let func = matmul(6, 7, 5);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.parallel(l[0]).unwrap();
    sch.parallel(l[1]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn vectorize_the_inner_tile() {
    let (mut sch, [_, _, _, j1]) = chapter_loops(matmul(16, 16, 4), 8);
    sch.vectorize(j1).unwrap();
    assert_eq!(kind_of(&sch, j1), ForKind::Vectorized);
    insta::assert_snapshot!("vectorize_ir", sch.func().to_string());
    assert_eq!(sch.trace().to_string().lines().last().unwrap(), "sch.vectorize(loop=l5)");

    // j: 37 = 5 x 8 - 3, the last vector is partly masked by the predicate.
    let func = matmul(10, 37, 3);
    let (mut sch, [_, _, _, j1]) = chapter_loops(func.clone(), 8);
    sch.vectorize(j1).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn unroll_a_reduction_loop() {
    // unroll has no conditions: the reduce loop and a loop driving nothing can be unrolled.
    let (mut sch, [_, _, k, _]) = chapter_loops(matmul(16, 16, 4), 8);
    sch.unroll(k).unwrap();
    assert_eq!(kind_of(&sch, k), ForKind::Unrolled);
    insta::assert_snapshot!("unroll_ir", sch.func().to_string());
    assert_eq!(sch.trace().to_string().lines().last().unwrap(), "sch.unroll(loop=l3)");

    let func = repeated(&matmul(10, 37, 3));
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    sch.unroll(l[0]).unwrap();
    sch.unroll(l[3]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn all_three_on_one_nest() {
    let func = matmul(10, 37, 3);
    let (mut sch, [i, _, k, j1]) = chapter_loops(func.clone(), 8);
    sch.parallel(i).unwrap();
    sch.unroll(k).unwrap();
    sch.vectorize(j1).unwrap();
    insta::assert_snapshot!("all_three_ir", sch.func().to_string());
    insta::assert_snapshot!("all_three_trace", sch.trace().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn kinds_after_decompose_reduction() {
    // parallel over the loop enclosing both the init and the update block.
    let func = matmul(10, 37, 3);
    let (mut sch, [i, j0, k, j1]) = chapter_loops(func.clone(), 8);
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, k).unwrap();
    sch.parallel(i).unwrap();
    sch.parallel(j0).unwrap();
    sch.vectorize(j1).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition of `check_for_kind` ----

/// `func` computed twice, under a new outer loop `t` that drives nothing.
fn repeated(func: &PrimFunc) -> PrimFunc {
    PrimFunc { body: Stmt::For(Box::new(For::new(Var::new("t"), 2, func.body.clone()))), ..func.clone() }
}

#[test]
fn rejects_a_loop_bound_to_a_reduce_variable() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let err = fails(&mut sch, "BoundToReduce", |s| s.parallel(l[2]));
    assert_eq!(
        err.to_string(),
        "for_kind: cannot parallelize `k`: it is bound to a reduce iteration variable of block \"C\""
    );
    fails(&mut sch, "BoundToReduce", |s| s.vectorize(l[2]));
    // A fused loop driving both a spatial and a reduce variable.
    let f = sch.fuse(&[l[1], l[2]]).unwrap();
    fails(&mut sch, "BoundToReduce", |s| s.vectorize(f));
    sch.unroll(f).unwrap();
}

#[test]
fn rejects_a_loop_the_block_does_not_depend_on() {
    let mut sch = Schedule::new(repeated(&matmul(8, 8, 8)), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let err = fails(&mut sch, "WritesNotPartitioned", |s| s.parallel(l[0]));
    assert!(err.to_string().starts_with("for_kind: cannot parallelize `t`: block \"C\" does not depend on it"));
    fails(&mut sch, "WritesNotPartitioned", |s| s.vectorize(l[0]));
}

#[test]
fn rejects_a_parallel_or_vectorized_loop_inside_a_vectorized_loop() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.vectorize(l[0]).unwrap();
    let err = fails(&mut sch, "NestedInVectorized", |s| s.vectorize(l[1]));
    assert_eq!(
        err.to_string(),
        "for_kind: `j` is inside the vectorized loop `i`; only the innermost loop can be vectorized"
    );
    fails(&mut sch, "NestedInVectorized", |s| s.parallel(l[1]));

    // The same nest reached the other way round: vectorizing (or the inner
    // loop being parallel) first must not let the outer loop be vectorized.
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.vectorize(l[1]).unwrap();
    let err = fails(&mut sch, "NestedInVectorized", |s| s.vectorize(l[0]));
    assert!(err.to_string().starts_with("for_kind: `j` is inside the vectorized loop `i`"), "{err}");
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.parallel(l[1]).unwrap();
    fails(&mut sch, "NestedInVectorized", |s| s.vectorize(l[0]));
    // Parallel outside a vectorized loop is fine.
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.vectorize(l[1]).unwrap();
    sch.parallel(l[0]).unwrap();
}

// ---- handles and trace instructions ----

#[test]
fn a_split_loop_cannot_change_kind() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.split(l[1], &[None, lit(4)]).unwrap();
    for err in [
        fails(&mut sch, "StaleHandle", |s| s.parallel(l[1])),
        fails(&mut sch, "StaleHandle", |s| s.vectorize(l[1])),
        fails(&mut sch, "StaleHandle", |s| s.unroll(l[1])),
    ] {
        assert_eq!(err.to_string(), "l2 refers to loop `j`, which an earlier step removed");
    }
}

#[test]
fn malformed_for_kind_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in [
        "sch.parallel(loop=b0)",
        "sch.vectorize(loop=v1)",
        "sch.unroll(loop=3)",
        "sch.unroll()",
        "sch.parallel(block=l1)",
        "sch.vectorize(loop=l9)",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
}
