//! `fuse` (primitive/fuse.rs): expected IR, trace round trips, unchanged
//! results (also of loops split unevenly), stale handles, malformed trace
//! instructions, and one failure per condition of `check_fuse`.

use kiln_ir::interp;
use kiln_ir::ir::{ForKind, PrimFunc};
use kiln_ir::schedule::testing::{matmul, random_args};
use kiln_ir::schedule::{DecisionMode, Factor, LoopRV, ReplayError, Schedule, ScheduleError};
use kiln_ir::trace::{parse_trace_str, Trace};

/// Replaying the printed and the JSON trace gives the same IR and trace.
fn assert_round_trips(orig: &PrimFunc, sch: &Schedule) {
    let text = sch.trace().to_string();
    let parsed = parse_trace_str(&text).unwrap();
    let again = Schedule::replay(orig, &parsed, 0, DecisionMode::Strict).unwrap();
    assert_eq!(again.func(), sch.func());
    assert_eq!(again.trace().to_string(), text);
    let json = serde_json::to_string(&sch.trace().to_json()).unwrap();
    let back = Trace::from_json(&serde_json::from_str(&json).unwrap()).unwrap();
    let again = Schedule::replay(orig, &back, 0, DecisionMode::Strict).unwrap();
    assert_eq!(again.func(), sch.func());
    assert_eq!(again.trace().to_string(), text);
}

/// The interpreter computes the same outputs before and after.
fn assert_same_results(orig: &PrimFunc, new: &PrimFunc) {
    let mut want = random_args(orig, 3);
    interp::run(orig, &mut want).unwrap();
    let mut got = random_args(orig, 3);
    interp::run(new, &mut got).unwrap();
    assert_eq!(want, got);
}

/// Runs a step that must fail, checks it changed nothing (IR, trace, handles,
/// RNG), returns the error.
fn fails<T>(sch: &mut Schedule, step: impl FnOnce(&mut Schedule) -> Result<T, ScheduleError>) -> ScheduleError {
    let (func, trace, state) = (sch.func().clone(), sch.trace().clone(), format!("{sch:?}"));
    let Err(err) = step(sch) else { panic!("the step succeeded") };
    assert_eq!(sch.func(), &func, "a failed step changed the IR");
    assert_eq!(sch.trace(), &trace, "a failed step changed the trace");
    assert_eq!(format!("{sch:?}"), state, "a failed step changed the schedule");
    err
}

/// The loops of block "C" of `func`, in a fresh schedule.
fn matmul_loops(func: PrimFunc) -> (Schedule, Vec<LoopRV>) {
    let mut sch = Schedule::new(func, 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    (sch, l)
}

fn lit(f: i64) -> Option<Factor> {
    Some(Factor::Int(f))
}

#[test]
fn fuse_two_loops() {
    let (mut sch, l) = matmul_loops(matmul(64, 128, 32));
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    assert_eq!(sch.loop_name(f).unwrap(), "i_j_fused");
    insta::assert_snapshot!("fuse_two_ir", sch.func().to_string());
    insta::assert_snapshot!("fuse_two_trace", sch.trace().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, l) = matmul_loops(func.clone());
    sch.fuse(&[l[0], l[1]]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_three_loops() {
    let (mut sch, l) = matmul_loops(matmul(16, 8, 4));
    let f = sch.fuse(&l).unwrap();
    assert_eq!(sch.func().find_loop(&sch.loop_name(f).unwrap()).unwrap().extent, 512);
    insta::assert_snapshot!("fuse_three_ir", sch.func().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, l) = matmul_loops(func.clone());
    sch.fuse(&l).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_the_loops_of_an_uneven_split() {
    // j: 37 = 5 x 8 - 3; fusing j_0 and j_1 gives one loop of 40 with the predicate.
    let func = matmul(10, 37, 3);
    let (mut sch, l) = matmul_loops(func.clone());
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    let f = sch.fuse(&js).unwrap();
    assert_eq!(sch.loop_name(f).unwrap(), "j_0_j_1_fused");
    insta::assert_snapshot!("fuse_uneven_split_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_then_split_again() {
    // The tiling of a fused loop: 10 x 37 = 370 = 24 x 16 - 14.
    let func = matmul(10, 37, 3);
    let (mut sch, l) = matmul_loops(func.clone());
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    sch.split(f, &[None, lit(16)]).unwrap();
    insta::assert_snapshot!("fuse_then_split_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // Into three, unevenly: 370 = 4 x 5 x 20 - 30.
    let (mut sch, l) = matmul_loops(func.clone());
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    sch.split(f, &[lit(4), None, lit(20)]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // The same where the loops have too many points to enumerate: 512 x 384 = 196608 = 197 x 1000 - 392.
    let (mut sch, l) = matmul_loops(matmul(512, 384, 1));
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    sch.split(f, &[None, lit(1000)]).unwrap();
    let c = sch.func().block("C").unwrap();
    assert_eq!(c.bindings[0].to_string(), "(i_j_fused_0 * 1000 + i_j_fused_1) // 384");
    assert_eq!(c.predicate.to_string(), "i_j_fused_0 * 1000 + i_j_fused_1 < 196608");
}

#[test]
fn split_a_loop_fusing_spatial_and_reduce_loops_unevenly() {
    // j, k fused (7 x 2 = 14) and split in three (4 x 4 x 5 = 80 > 14): vj
    // mixes a multiple of a loop and a quotient, bounded only where the
    // predicate holds.
    let func = matmul(1, 7, 2);
    let (mut sch, l) = matmul_loops(func.clone());
    let f = sch.fuse(&[l[1], l[2]]).unwrap();
    sch.split(f, &[lit(4), lit(4), lit(5)]).unwrap();
    assert_eq!(
        sch.func().block("C").unwrap().bindings[1].to_string(),
        "j_k_fused_0 * 10 + (j_k_fused_1 * 5 + j_k_fused_2) // 2"
    );
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_keeps_a_common_loop_kind() {
    let func = matmul(8, 12, 4);
    let (mut sch, l) = matmul_loops(func.clone());
    sch.parallel(l[0]).unwrap();
    sch.parallel(l[1]).unwrap();
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    assert_eq!(sch.func().find_loop(&sch.loop_name(f).unwrap()).unwrap().kind, ForKind::Parallel);
    assert!(sch.func().to_string().contains("for i_j_fused in T.parallel(96):"), "{}", sch.func());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition of `check_fuse` ----

#[test]
fn rejects_fewer_than_two_loops() {
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    let err = fails(&mut sch, |s| s.fuse(&[l[0]]));
    assert_eq!(err.kind(), "TooFewLoops");
    assert_eq!(err.to_string(), "fuse: fuse needs at least two loops, got 1");
    assert_eq!(fails(&mut sch, |s| s.fuse(&[])).kind(), "TooFewLoops");
}

#[test]
fn rejects_a_repeated_loop() {
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    let err = fails(&mut sch, |s| s.fuse(&[l[0], l[1], l[1]]));
    assert_eq!(err.kind(), "Duplicate");
    assert_eq!(err.to_string(), "fuse: loop `j` is given twice");
}

#[test]
fn rejects_loops_that_are_not_perfectly_nested() {
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    // Not adjacent, and inner before outer.
    let err = fails(&mut sch, |s| s.fuse(&[l[0], l[2]]));
    assert_eq!(err.kind(), "NotPerfectlyNested");
    assert_eq!(err.to_string(), "fuse: `k` is not the only statement directly inside `i`, so they cannot be fused");
    assert_eq!(fails(&mut sch, |s| s.fuse(&[l[1], l[0]])).kind(), "NotPerfectlyNested");
    // After decompose_reduction, `j` holds the init block and the `k` loop.
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    assert_eq!(fails(&mut sch, |s| s.fuse(&[l[1], l[2]])).kind(), "NotPerfectlyNested");
}

#[test]
fn rejects_loops_of_different_kinds() {
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    sch.parallel(l[0]).unwrap();
    let err = fails(&mut sch, |s| s.fuse(&[l[0], l[1]]));
    assert_eq!(err.kind(), "KindMismatch");
    assert!(err.to_string().contains("`i` and `j` are of different kinds"), "{err}");
}

#[test]
fn rejects_a_fused_extent_that_overflows() {
    // j_0 has extent 2^62, so i x j_0 does not fit in an i64.
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    let js = sch.split(l[1], &[lit(1 << 62), None]).unwrap();
    let err = fails(&mut sch, |s| s.fuse(&[l[0], js[0]]));
    assert_eq!(err.kind(), "ExtentTooLarge");
}

// ---- handles and trace instructions ----

#[test]
fn fused_loop_handles_are_stale() {
    let (mut sch, l) = matmul_loops(matmul(8, 8, 8));
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    let err = fails(&mut sch, |s| s.split(l[0], &[None, lit(2)]));
    assert_eq!(err.kind(), "StaleHandle");
    assert_eq!(fails(&mut sch, |s| s.fuse(&[l[1], l[2]])).kind(), "StaleHandle");
    sch.fuse(&[f, l[2]]).unwrap();
}

#[test]
fn malformed_fuse_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in [
        "l4 = sch.fuse(l1, b0, preserve_unit_iters=True)",
        "l4 = sch.fuse(l1, v2, preserve_unit_iters=True)",
        "l4 = sch.fuse(l1, 2, preserve_unit_iters=True)",
        "l4 = sch.fuse(l1, l7, preserve_unit_iters=True)",
        "sch.fuse(l1, l2, preserve_unit_iters=True)",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let Err(ReplayError { step: n, error: err, .. }) =
            Schedule::replay(&matmul(8, 8, 8), &t, 0, DecisionMode::Strict)
        else {
            panic!("`{line}` replayed")
        };
        assert_eq!((n, err.kind()), (3, "BadInstruction"), "{line}: {err}");
    }
}
