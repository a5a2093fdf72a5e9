//! `split` (primitive/split.rs): expected IR, trace round trips, unchanged
//! results (dividing and non-dividing factors), stale handles, malformed trace
//! instructions, and one failure per condition of `check_split`.

use kiln_ir::ir::{Expr, PrimFunc, Stmt, Var};
use kiln_ir::schedule::testing::{
    assert_round_trips, assert_same_results, block_loops, fails, lit, matmul, replay_fails,
};
use kiln_ir::schedule::{LoopRV, Schedule, ScheduleError};
use kiln_ir::trace::parse_trace_str;

#[test]
fn split_with_an_inferred_outer_factor() {
    let (mut sch, _, l) = block_loops(matmul(128, 128, 128), "C", 0);
    let js = sch.split(l[1], &[None, lit(4)]).unwrap();
    assert_eq!(js.iter().map(|l| sch.loop_name(*l).unwrap()).collect::<Vec<_>>(), ["j_0", "j_1"]);
    insta::assert_snapshot!("split_inferred_outer_ir", sch.func().to_string());
    insta::assert_snapshot!("split_inferred_outer_trace", sch.trace().to_string());

    let func = matmul(16, 24, 8);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.split(l[1], &[None, lit(4)]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_non_dividing_adds_a_predicate() {
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    let extents: Vec<i64> =
        js.iter().map(|l| sch.func().find_loop(&sch.loop_name(*l).unwrap()).unwrap().extent).collect();
    assert_eq!(extents, [5, 8]);
    assert_eq!(sch.func().block("C").unwrap().predicate.to_string(), "j_0 * 8 + j_1 < 37");
    insta::assert_snapshot!("split_non_dividing_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_into_three_with_an_inferred_middle_factor() {
    let (mut sch, _, l) = block_loops(matmul(128, 64, 32), "C", 0);
    sch.split(l[0], &[lit(2), None, lit(16)]).unwrap();
    insta::assert_snapshot!("split_three_ir", sch.func().to_string());
    assert_eq!(
        sch.trace().to_string().lines().last().unwrap(),
        "l4, l5, l6 = sch.split(loop=l1, factors=[2, None, 16], preserve_unit_iters=True)"
    );

    // 100 = 2 x 7 x 8 - 12: the inferred factor is the ceiling, and a predicate guards the rest.
    let func = matmul(100, 6, 5);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[lit(2), None, lit(8)]).unwrap();
    assert_eq!(sch.func().find_loop(&sch.loop_name(is[1]).unwrap()).unwrap().extent, 7);
    assert_eq!(sch.func().block("C").unwrap().predicate.to_string(), "i_0 * 56 + i_1 * 8 + i_2 < 100");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_by_sampled_factors() {
    let func = matmul(64, 48, 32);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let v = sch.sample_perfect_tile(l[1], 3, 8, Some(vec![2, 3, 8])).unwrap();
    let js = sch.split(l[1], &[Some(v[0].into()), Some(v[1].into()), Some(v[2].into())]).unwrap();
    assert_eq!(js.len(), 3);
    insta::assert_snapshot!("split_sampled_trace", sch.trace().to_string());
    assert_eq!(sch.func().find_loop("j_1").unwrap().extent, 3);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_twice_keeps_both_predicates() {
    // j: 37 = 5 x 8 - 3, then j_0: 5 = 3 x 2 - 1.
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    sch.split(js[0], &[None, lit(2)]).unwrap();
    insta::assert_snapshot!("split_twice_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_an_evenly_split_loop_unevenly() {
    // i: 10 = 5 x 2, then i_0: 5 = 3 x 2 - 1. The predicate bounds i_0's part
    // of vi only: vi = i_0_0 * 4 + i_0_1 * 2 + i_1 where i_0_0 * 2 + i_0_1 < 5.
    let func = matmul(10, 6, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[None, lit(2)]).unwrap();
    sch.split(is[0], &[None, lit(2)]).unwrap();
    let c = sch.func().block("C").unwrap();
    assert_eq!(c.bindings[0].to_string(), "i_0_0 * 4 + i_0_1 * 2 + i_1");
    assert_eq!(c.predicate.to_string(), "i_0_0 * 2 + i_0_1 < 5");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // The same where the loops have too many points to enumerate:
    // i: 196608 = 24576 x 8, then i_0: 24576 = 4916 x 5 - 4.
    let (mut sch, _, l) = block_loops(matmul(196608, 1, 1), "C", 0);
    let is = sch.split(l[0], &[None, lit(8)]).unwrap();
    sch.split(is[0], &[None, lit(5)]).unwrap();
    assert_eq!(sch.func().block("C").unwrap().predicate.to_string(), "i_0_0 * 5 + i_0_1 < 24576");
}

#[test]
fn split_both_parts_of_an_even_split_unevenly() {
    // i: 100 = 10 x 10, then i_0: 10 = 4 x 3 - 2 and i_1: 10 = 3 x 4 - 2;
    // vi is bounded by the two predicates together.
    let func = matmul(100, 3, 2);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[None, lit(10)]).unwrap();
    sch.split(is[0], &[None, lit(3)]).unwrap();
    sch.split(is[1], &[None, lit(4)]).unwrap();
    let c = sch.func().block("C").unwrap();
    assert_eq!(c.bindings[0].to_string(), "i_0_0 * 30 + i_0_1 * 10 + i_1_0 * 4 + i_1_1");
    assert_eq!(c.predicate.to_string(), "i_0_0 * 3 + i_0_1 < 10 and i_1_0 * 4 + i_1_1 < 10");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // The same where the loops have too many points to enumerate.
    let (mut sch, _, l) = block_loops(matmul(1_000_000, 1, 1), "C", 0);
    let is = sch.split(l[0], &[None, lit(1000)]).unwrap();
    sch.split(is[0], &[None, lit(7)]).unwrap();
    sch.split(is[1], &[None, lit(9)]).unwrap();
    let c = sch.func().block("C").unwrap();
    assert_eq!(c.predicate.to_string(), "i_0_0 * 7 + i_0_1 < 1000 and i_1_0 * 9 + i_1_1 < 1000");
}

#[test]
fn split_keeps_unit_loops() {
    // preserve_unit_iters=True: a factor of 1 gives a loop of extent 1, and a
    // factor larger than the extent gives an outer loop of extent 1.
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[lit(1), None]).unwrap();
    let js = sch.split(l[1], &[None, lit(64)]).unwrap();
    let extent = |sch: &Schedule, l: LoopRV| sch.func().find_loop(&sch.loop_name(l).unwrap()).unwrap().extent;
    assert_eq!((extent(&sch, is[0]), extent(&sch, is[1])), (1, 10));
    assert_eq!((extent(&sch, js[0]), extent(&sch, js[1])), (1, 64));
    insta::assert_snapshot!("split_unit_loops_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_a_reduction_loop_non_dividing() {
    // The init runs at vk == 0, the first iteration of k_0, k_1 whatever the split.
    let func = matmul(4, 5, 37);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.split(l[2], &[None, lit(4)]).unwrap();
    assert_eq!(sch.func().block("C").unwrap().predicate.to_string(), "k_0 * 4 + k_1 < 37");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn split_names_avoid_names_in_use() {
    // Nested splits append to the name; a name already taken gets a suffix.
    let func = matmul(16, 16, 16);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let is = sch.split(l[0], &[None, lit(4)]).unwrap();
    let is0 = sch.split(is[0], &[None, lit(2)]).unwrap();
    assert_eq!(is0.iter().map(|l| sch.loop_name(*l).unwrap()).collect::<Vec<_>>(), ["i_0_0", "i_0_1"]);
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);

    // `k` renamed `j_0`: splitting `j` cannot call its outer loop `j_0`.
    let func = rename_loop(&matmul(8, 12, 4), "k", "j_0");
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let js = sch.split(l[1], &[None, lit(4)]).unwrap();
    assert_eq!(js.iter().map(|l| sch.loop_name(*l).unwrap()).collect::<Vec<_>>(), ["j_0_1", "j_1"]);
    assert_eq!(sch.loop_name(l[2]).unwrap(), "j_0");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

/// `func` with loop `from` renamed `to`.
fn rename_loop(func: &PrimFunc, from: &str, to: &str) -> PrimFunc {
    let (old, new) = (Var::new(from), Var::new(to));
    let body = func.body.clone().rewrite(&mut |s| match s {
        Stmt::For(mut l) if l.var == old => {
            l.var = new.clone();
            let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
            l.body = body.map_blocks(&mut |mut br| {
                br.bindings =
                    br.bindings.iter().map(|b| b.substitute(&|v| (v == &old).then(|| Expr::var(&new)))).collect();
                br
            });
            Ok(Stmt::For(l))
        }
        other => Err(other),
    });
    PrimFunc { body, ..func.clone() }
}

// ---- failures: one per condition of `check_split` ----

#[test]
fn rejects_fewer_than_two_factors() {
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    let err = fails(&mut sch, "TooFewFactors", |s| s.split(l[0], &[lit(16)]));
    assert_eq!(err.to_string(), "split: splitting `i` needs at least two factors");
    fails(&mut sch, "TooFewFactors", |s| s.split(l[0], &[]));
}

#[test]
fn rejects_several_inferred_factors() {
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    let err = fails(&mut sch, "SeveralInferred", |s| s.split(l[1], &[None, lit(2), None]));
    assert!(err.to_string().contains("`j`"), "{err}");
}

#[test]
fn rejects_a_non_positive_factor() {
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    let err = fails(&mut sch, "NonPositiveFactor", |s| s.split(l[1], &[None, lit(0)]));
    assert_eq!(err.to_string(), "split: factor 0 of the split of `j` is not positive");
    fails(&mut sch, "NonPositiveFactor", |s| s.split(l[1], &[lit(-4), lit(-4)]));
}

#[test]
fn rejects_factors_that_do_not_cover_the_loop() {
    let (mut sch, _, l) = block_loops(matmul(10, 37, 3), "C", 0);
    let err = fails(&mut sch, "ProductTooSmall", |s| s.split(l[1], &[lit(4), lit(9)]));
    assert_eq!(err.to_string(), "split: the factors of the split of `j` multiply to 36, less than its extent 37");
}

#[test]
fn rejects_factors_whose_product_overflows() {
    // The product does not fit in an i64: an error, never a panic or a wrapped extent.
    let (mut sch, _, l) = block_loops(matmul(10, 37, 3), "C", 0);
    fails(&mut sch, "ProductTooLarge", |s| s.split(l[1], &[lit(i64::MAX), lit(2)]));
    fails(&mut sch, "ProductTooLarge", |s| s.split(l[1], &[lit(1 << 32), None, lit(1 << 32)]));
}

// ---- handles ----

#[test]
fn a_split_loop_handle_is_stale() {
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    sch.split(l[1], &[None, lit(4)]).unwrap();
    for err in [
        fails(&mut sch, "StaleHandle", |s| s.split(l[1], &[None, lit(2)])),
        fails(&mut sch, "StaleHandle", |s| s.fuse(&[l[0], l[1]])),
        fails(&mut sch, "StaleHandle", |s| s.reorder(&[l[2], l[1]])),
        fails(&mut sch, "StaleHandle", |s| s.parallel(l[1])),
        fails(&mut sch, "StaleHandle", |s| s.sample_perfect_tile(l[1], 2, 0, None)),
        fails(&mut sch, "StaleHandle", |s| s.loop_name(l[1])),
    ] {
        assert_eq!(err.to_string(), "l2 refers to loop `j`, which an earlier step removed");
    }
    // The other loops are still usable.
    sch.split(l[2], &[None, lit(4)]).unwrap();
}

#[test]
fn a_factor_that_is_not_a_sampled_value_is_a_bad_handle() {
    // A handle from another schedule: there it is a sampled value, here it is a loop.
    let (mut other, _, ol) = block_loops(matmul(16, 16, 16), "C", 0);
    let v = other.sample_perfect_tile(ol[0], 2, 0, Some(vec![4, 4])).unwrap();
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    let c = sch.get_block("C").unwrap();
    sch.get_loops(c).unwrap();
    fails(&mut sch, "BadHandle", |s| s.split(l[0], &[Some(v[0].into()), None]));
}

// ---- malformed trace instructions ----

const PREFIX: &str = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";

/// Replays `PREFIX` + `line`, which must fail with `kind`; returns the
/// failing step (from 1) and the error.
fn replay_err(line: &str, kind: &str) -> (usize, ScheduleError) {
    replay_fails(&matmul(16, 16, 16), &parse_trace_str(&format!("{PREFIX}{line}")).unwrap(), kind)
}

#[test]
fn malformed_split_instructions_are_bad_instructions() {
    for line in [
        "l4, l5 = sch.split(loop=b0, factors=[None, 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l2, factors=[l1, 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l2, factors=[b0, 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l2, factors=[\"a\", 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l2, factors=4, preserve_unit_iters=True)",
        "l4, l5 = sch.split(factors=[None, 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l9, factors=[None, 4], preserve_unit_iters=True)",
        "l4, l5 = sch.split(loop=l2, factors=[v9, 4], preserve_unit_iters=True)",
        "l4, l5, l6 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)",
    ] {
        let (n, err) = replay_err(line, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
    // A well-formed instruction whose check fails reports the check.
    let (n, _) =
        replay_err("l4, l5 = sch.split(loop=l2, factors=[None, None], preserve_unit_iters=True)", "SeveralInferred");
    assert_eq!(n, 3);
}
