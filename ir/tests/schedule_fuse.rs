//! `fuse` (primitive/fuse.rs): expected IR, trace round trips, unchanged
//! results (also of loops split unevenly), stale handles, malformed trace
//! instructions, and one failure per condition of `check_fuse`.

use kiln_ir::ir::ForKind;
use kiln_ir::schedule::testing::{
    assert_round_trips, assert_same_results, block_loops, fails, lit, matmul, replay_fails,
};
use kiln_ir::trace::parse_trace_str;

#[test]
fn fuse_two_loops() {
    let (mut sch, _, l) = block_loops(matmul(64, 128, 32), "C", 0);
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    assert_eq!(sch.loop_name(f).unwrap(), "i_j_fused");
    insta::assert_snapshot!("fuse_two_ir", sch.func().to_string());
    insta::assert_snapshot!("fuse_two_trace", sch.trace().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.fuse(&[l[0], l[1]]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_three_loops() {
    let (mut sch, _, l) = block_loops(matmul(16, 8, 4), "C", 0);
    let f = sch.fuse(&l).unwrap();
    assert_eq!(sch.func().find_loop(&sch.loop_name(f).unwrap()).unwrap().extent, 512);
    insta::assert_snapshot!("fuse_three_ir", sch.func().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.fuse(&l).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn fuse_the_loops_of_an_uneven_split() {
    // j: 37 = 5 x 8 - 3; fusing j_0 and j_1 gives one loop of 40 with the predicate.
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
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
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    sch.split(f, &[None, lit(16)]).unwrap();
    insta::assert_snapshot!("fuse_then_split_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // Into three, unevenly: 370 = 4 x 5 x 20 - 30.
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    sch.split(f, &[lit(4), None, lit(20)]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // The same where the loops have too many points to enumerate: 512 x 384 = 196608 = 197 x 1000 - 392.
    let (mut sch, _, l) = block_loops(matmul(512, 384, 1), "C", 0);
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
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
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
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
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
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let err = fails(&mut sch, "TooFewLoops", |s| s.fuse(&[l[0]]));
    assert_eq!(err.to_string(), "fuse: fuse needs at least two loops, got 1");
    fails(&mut sch, "TooFewLoops", |s| s.fuse(&[]));
}

#[test]
fn rejects_a_repeated_loop() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let err = fails(&mut sch, "Duplicate", |s| s.fuse(&[l[0], l[1], l[1]]));
    assert_eq!(err.to_string(), "fuse: loop `j` is given twice");
}

#[test]
fn rejects_loops_that_are_not_perfectly_nested() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    // Not adjacent, and inner before outer.
    let err = fails(&mut sch, "NotPerfectlyNested", |s| s.fuse(&[l[0], l[2]]));
    assert_eq!(err.to_string(), "fuse: `k` is not the only statement directly inside `i`, so they cannot be fused");
    fails(&mut sch, "NotPerfectlyNested", |s| s.fuse(&[l[1], l[0]]));
    // After decompose_reduction, `j` holds the init block and the `k` loop.
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    fails(&mut sch, "NotPerfectlyNested", |s| s.fuse(&[l[1], l[2]]));
}

#[test]
fn rejects_loops_of_different_kinds() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.parallel(l[0]).unwrap();
    let err = fails(&mut sch, "KindMismatch", |s| s.fuse(&[l[0], l[1]]));
    assert!(err.to_string().contains("`i` and `j` are of different kinds"), "{err}");
}

#[test]
fn rejects_a_fused_extent_that_overflows() {
    // j_0 has extent 2^62, so i x j_0 does not fit in an i64.
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let js = sch.split(l[1], &[lit(1 << 62), None]).unwrap();
    fails(&mut sch, "ExtentTooLarge", |s| s.fuse(&[l[0], js[0]]));
}

// ---- handles and trace instructions ----

#[test]
fn fused_loop_handles_are_stale() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let f = sch.fuse(&[l[0], l[1]]).unwrap();
    fails(&mut sch, "StaleHandle", |s| s.split(l[0], &[None, lit(2)]));
    fails(&mut sch, "StaleHandle", |s| s.fuse(&[l[1], l[2]]));
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
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
}
