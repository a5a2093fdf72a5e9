//! `compute_at`, `reverse_compute_at` and `sample_compute_location`: the IR
//! they produce, trace round trips and unchanged results (one failure per
//! checked condition: `schedule_compute_at_errors.rs`).

mod common;

use common::build::*;
use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::{BinOp, Expr, For, PrimFunc, Stmt, Var};
use kiln_ir::schedule::testing::{assert_equivalent, assert_same_results, fails, random_args, replay_fails};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::trace::{Decision, InstKind};

/// `y = a * 2` then a 3×3 stencil over `y` with implicit zero padding at the border.
fn stencil2d(n: i64) -> PrimFunc {
    let (vi, vj, di, dj) = (v("vi"), v("vj"), v("vdi"), v("vdj"));
    let r = vi.clone() + di.clone();
    let c = vj.clone() + dj.clone();
    let inside = Expr::binary(BinOp::Le, Expr::Int(1), r.clone())
        .and(r.clone().lt(n + 1))
        .and(Expr::binary(BinOp::Le, Expr::Int(1), c.clone()))
        .and(c.clone().lt(n + 1));
    let tap = Expr::select(inside, ld("y", vec![r - 1, c - 1]), f32c(0.0)) * ld("w", vec![di, dj]);
    let ij = vec![vi, vj];
    func(
        "stencil2d",
        vec![input("a", &[n, n]), input("w", &[3, 3]), output("z", &[n, n])],
        vec![alloc("y", &[n, n])],
        vec![
            nest(
                "y",
                &[("i", n), ("j", n)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", ij.clone(), ld("a", ij.clone()) * f32c(2.0)),
            ),
            nest(
                "z",
                &[("i_1", n), ("j_1", n), ("di", 3), ("dj", 3)],
                &[("vi", 'S'), ("vj", 'S'), ("vdi", 'R'), ("vdj", 'R')],
                Some(st("z", ij.clone(), f32c(0.0))),
                st("z", ij.clone(), ld("z", ij) + tap),
            ),
        ],
    )
}

// ---- checks ----

/// `y` computed at the outer part of `z`'s split inner loop.
fn split_and_compute_at(sch: &mut Schedule, preserve: bool) {
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let js = sch.split(lz[1], &[None, Some(4.into())]).unwrap();
    sch.compute_at(y, js[0], preserve, -1).unwrap();
}

// ---- compute_at ----

#[test]
fn compute_at_split_consumer() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    split_and_compute_at(&mut sch, true);
    insta::assert_snapshot!("compute_at_split_ir", sch.func().to_string());
    insta::assert_snapshot!("compute_at_split_trace", sch.trace().to_string());
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_drops_unit_loops() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    split_and_compute_at(&mut sch, false);
    insta::assert_snapshot!("compute_at_no_unit_loops_ir", sch.func().to_string());
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_explicit_index() {
    // Position 0 is the only legal one here, so -2, 0 and -1 agree.
    let f = two_block(8, 8);
    let mut want = Schedule::new(f.clone(), 0);
    split_and_compute_at(&mut want, true);
    for index in [0, -2] {
        let mut sch = Schedule::new(f.clone(), 0);
        let y = sch.get_block("y").unwrap();
        let z = sch.get_block("z").unwrap();
        let lz = sch.get_loops(z).unwrap();
        let js = sch.split(lz[1], &[None, Some(4.into())]).unwrap();
        sch.compute_at(y, js[0], true, index).unwrap();
        assert_eq!(sch.func(), want.func());
        assert_equivalent(&f, &sch);
    }
}

#[test]
fn compute_at_outer_loop_computes_a_row() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    sch.compute_at(y, lz[0], true, -1).unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("for ax0, ax1 in T.grid(1, 8):"), "{text}");
    assert!(text.contains("vi = T.axis.spatial(8, i_1 + ax0)"), "{text}");
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_padded_conv_adds_border_predicate() {
    let f = padded_conv1d(10);
    let mut sch = Schedule::new(f.clone(), 0);
    let pad = sch.get_block("pad").unwrap();
    let conv = sch.get_block("conv").unwrap();
    let l = sch.get_loops(conv).unwrap();
    let is = sch.split(l[0], &[None, Some(4.into())]).unwrap();
    sch.compute_at(pad, is[0], true, -1).unwrap();
    insta::assert_snapshot!("compute_at_padded_conv_ir", sch.func().to_string());
    assert!(sch.func().to_string().contains("T.where(i_1_0 * 4 + ax0 < 12)"));
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_stencil_guards_both_borders() {
    let f = stencil2d(8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let l = sch.get_loops(z).unwrap();
    sch.compute_at(y, l[1], true, -1).unwrap();
    insta::assert_snapshot!("compute_at_stencil_inner_ir", sch.func().to_string());
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_stencil_row_clamps_columns() {
    // At the row loop the column range (-1..9) covers the whole domain, so the
    // columns get a full loop and only the rows are guarded.
    let f = stencil2d(8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let l = sch.get_loops(z).unwrap();
    sch.compute_at(y, l[0], false, -1).unwrap();
    insta::assert_snapshot!("compute_at_stencil_row_ir", sch.func().to_string());
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_chain_of_two_producers() {
    // x = a + 1, y = x * 2, z = y + 1: y at z's loop, then x at the new loop of y.
    let f = func(
        "chain",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("x", &[8]), alloc("y", &[8])],
        vec![
            ew("x", "i", 8, "x", ld("a", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i_1", 8, "y", ld("x", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_2", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let (x, y, z) = (sch.get_block("x").unwrap(), sch.get_block("y").unwrap(), sch.get_block("z").unwrap());
    let lz = sch.get_loops(z).unwrap();
    sch.compute_at(y, lz[0], false, -1).unwrap();
    sch.compute_at(x, lz[0], false, -1).unwrap();
    let text = sch.func().to_string();
    let (px, py, pz) = (text.find("\"x\"").unwrap(), text.find("\"y\"").unwrap(), text.find("\"z\"").unwrap());
    assert!(px < py && py < pz, "{text}");
    assert_eq!(sch.func().body.as_for().map(|l| l.var.name()), Some("i_2"), "{text}");
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_at_reduction_producer() {
    let f = reduce_then_add();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    sch.compute_at(r, lz[0], true, -1).unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("for ax0, ax1 in T.grid(1, 4):"), "{text}");
    assert_equivalent(&f, &sch);
}

// ---- reverse_compute_at ----

/// Tiles C by 4×4, puts k outside the register tile, and moves the write-back under the tile.
fn tile_and_write_back(sch: &mut Schedule, index: i64) {
    let c = sch.get_block("C").unwrap();
    let wb = sch.get_block("C_local").unwrap();
    let l = sch.get_loops(c).unwrap();
    let is = sch.split(l[0], &[None, Some(4.into())]).unwrap();
    let js = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    sch.reorder(&[is[0], js[0], l[2], is[1], js[1]]).unwrap();
    sch.reverse_compute_at(wb, js[0], true, index).unwrap();
}

#[test]
fn reverse_compute_at_write_back_under_tile() {
    // 10 rows do not divide by 4: the last row tile guards the write-back.
    let f = matmul_write_back(10, 8, 6);
    let mut sch = Schedule::new(f.clone(), 0);
    tile_and_write_back(&mut sch, -1);
    insta::assert_snapshot!("reverse_compute_at_write_back_ir", sch.func().to_string());
    insta::assert_snapshot!("reverse_compute_at_write_back_trace", sch.trace().to_string());
    assert_equivalent(&f, &sch);
}

#[test]
fn reverse_compute_at_first_legal_position_is_after_the_producer() {
    let f = matmul_write_back(8, 8, 4);
    let mut last = Schedule::new(f.clone(), 0);
    tile_and_write_back(&mut last, -1);
    let mut first = Schedule::new(f.clone(), 0);
    tile_and_write_back(&mut first, -2);
    let mut one = Schedule::new(f.clone(), 0);
    tile_and_write_back(&mut one, 1);
    assert_eq!(first.func(), last.func());
    assert_eq!(one.func(), last.func());
    assert_equivalent(&f, &first);
    assert_equivalent(&f, &one);
}

#[test]
fn reverse_compute_at_elementwise_consumer() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    sch.reverse_compute_at(z, ly[0], false, -1).unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("        for ax0 in range(8):"), "{text}");
    assert!(text.contains("vi, vj = T.axis.remap(\"SS\", [i, ax0])"), "{text}");
    assert_equivalent(&f, &sch);
}

#[test]
fn reverse_compute_at_old_loop_handles_go_stale_despite_reused_names() {
    let f = matmul_write_back(8, 8, 4);
    let mut sch = Schedule::new(f.clone(), 0);
    let wb = sch.get_block("C_local").unwrap();
    let old = sch.get_loops(wb).unwrap();
    tile_and_write_back(&mut sch, -1);
    assert!(sch.func().find_loop("ax0").is_some(), "the new nest reuses `ax0`");
    fails(&mut sch, "StaleHandle", |s| s.parallel(old[0]));
    let new = sch.get_loops(wb).unwrap();
    sch.unroll(new[2]).unwrap();
    assert_same_results(&f, sch.func());
}

// ---- sample_compute_location ----

/// `z`'s loops after the split: i_1, j_1_0, j_1_1.
fn sampled(decision: Option<i64>) -> (PrimFunc, Schedule) {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 7);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    sch.split(lz[1], &[None, Some(4.into())]).unwrap();
    let loc = sch.sample_compute_location(y, decision).unwrap();
    sch.compute_at(y, loc, true, -1).unwrap();
    (f, sch)
}

#[test]
fn sample_compute_location_inline() {
    let (f, sch) = sampled(Some(-2));
    insta::assert_snapshot!("sample_compute_location_inline_trace", sch.trace().to_string());
    assert!(sch.func().block("y").is_none());
    assert!(sch.func().allocs.is_empty());
    let mut want = Schedule::new(f.clone(), 0);
    let y = want.get_block("y").unwrap();
    want.compute_inline(y).unwrap();
    let z = want.get_block("z").unwrap();
    let lz = want.get_loops(z).unwrap();
    want.split(lz[1], &[None, Some(4.into())]).unwrap();
    assert_eq!(sch.func(), want.func());
    assert_equivalent(&f, &sch);
}

#[test]
fn sample_compute_location_root_is_a_no_op() {
    let (f, sch) = sampled(Some(-1));
    let mut want = Schedule::new(f.clone(), 0);
    let z = want.get_block("z").unwrap();
    let lz = want.get_loops(z).unwrap();
    want.split(lz[1], &[None, Some(4.into())]).unwrap();
    assert_eq!(sch.func(), want.func());
    assert!(sch.trace().to_string().contains("sch.compute_at(block=b0, loop=l6, preserve_unit_loops=True, index=-1)"));
    assert_equivalent(&f, &sch);
}

#[test]
fn sample_compute_location_loops() {
    for (d, depth) in [(0, 0), (1, 1), (2, 2)] {
        let (f, sch) = sampled(Some(d));
        let mut want = Schedule::new(f.clone(), 0);
        let y = want.get_block("y").unwrap();
        let z = want.get_block("z").unwrap();
        let lz = want.get_loops(z).unwrap();
        let js = want.split(lz[1], &[None, Some(4.into())]).unwrap();
        let target = [lz[0], js[0], js[1]][depth];
        want.compute_at(y, target, true, -1).unwrap();
        assert_eq!(sch.func(), want.func(), "decision {d}");
        assert_equivalent(&f, &sch);
    }
    let (_, sch) = sampled(Some(1));
    insta::assert_snapshot!("sample_compute_location_loop_trace", sch.trace().to_string());
}

#[test]
fn sample_compute_location_draws_a_candidate() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let f = two_block(8, 8);
        let mut sch = Schedule::new(f.clone(), seed);
        let y = sch.get_block("y").unwrap();
        let z = sch.get_block("z").unwrap();
        let lz = sch.get_loops(z).unwrap();
        sch.split(lz[1], &[None, Some(4.into())]).unwrap();
        let loc = sch.sample_compute_location(y, None).unwrap();
        sch.compute_at(y, loc, true, -1).unwrap();
        let site = sch.trace().decision_sites()[0];
        let d = match sch.trace().insts[site].decision {
            Some(Decision::Int(d)) => d,
            ref other => panic!("{other:?}"),
        };
        seen.insert(d);
        assert_equivalent(&f, &sch);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![-2, -1, 0, 1, 2]);
}

#[test]
fn sample_compute_location_skips_reduce_loops() {
    // The conv's loops are i_1 (spatial) and k (reduce): candidates -2, -1, 0.
    let f = padded_conv1d(10);
    let mut sch = Schedule::new(f.clone(), 0);
    let pad = sch.get_block("pad").unwrap();
    let loc = sch.sample_compute_location(pad, Some(0)).unwrap();
    sch.compute_at(pad, loc, true, -1).unwrap();
    assert_equivalent(&f, &sch);
    let mut sch = Schedule::new(f.clone(), 0);
    let pad = sch.get_block("pad").unwrap();
    let err = sch.sample_compute_location(pad, Some(1)).unwrap_err();
    assert_eq!(err.kind(), "BadDecision", "{err}");
    assert!(err.to_string().contains("the candidates are -2, -1, 0"), "{err}");
}

#[test]
fn sample_compute_location_stale_decision_strict_and_repair() {
    let (f, sch) = sampled(Some(2));
    let site = sch.trace().insts.iter().position(|i| i.kind == InstKind::SampleComputeLocation).unwrap();
    let stale = sch.trace().with_decision(site, Some(Decision::Int(5)));
    let (at, _) = replay_fails(&f, &stale, "BadDecision");
    assert_eq!(at, site + 1);
    let repaired = Schedule::replay(&f, &stale, 0, DecisionMode::Repair).unwrap();
    let d = repaired.trace().insts[site].decision.clone();
    assert!(matches!(d, Some(Decision::Int(x)) if (-2..=2).contains(&x)), "{d:?}");
    assert_same_results(&f, repaired.func());
    let resampled = Schedule::replay(&f, &sch.trace().clone(), 3, DecisionMode::Resample).unwrap();
    assert_same_results(&f, resampled.func());
    // A repaired decision that still fits is kept.
    let kept = Schedule::replay(&f, sch.trace(), 0, DecisionMode::Repair).unwrap();
    assert_eq!(kept.func(), sch.func());
}

// ---- the oracle ----

#[test]
fn interpreter_sees_a_missing_region() {
    // The oracle is strong enough to catch a producer computing too little:
    // dropping the guard-free last tile of the padded conv leaves NaNs.
    let f = padded_conv1d(10);
    let mut sch = Schedule::new(f.clone(), 0);
    let pad = sch.get_block("pad").unwrap();
    let conv = sch.get_block("conv").unwrap();
    let l = sch.get_loops(conv).unwrap();
    let is = sch.split(l[0], &[None, Some(4.into())]).unwrap();
    sch.compute_at(pad, is[0], true, -1).unwrap();
    let mut broken = sch.func().clone();
    broken.body = broken.body.rewrite(&mut |s| match s {
        Stmt::For(mut l) if l.var.name() == "ax0" => {
            l.extent = 5;
            Ok(Stmt::For(l))
        }
        other => Err(other),
    });
    let mut args = random_args(&f, 0);
    interp::run(&broken, &mut args).unwrap();
    let out = &args[2];
    assert!(matches!(out, Tensor::F32(_)));
    assert!((0..out.len()).any(|i| out.get(i).is_nan()));
}

// ---- sweeps: every loop, several split factors ----

#[test]
fn compute_at_every_loop_keeps_results() {
    let two_consumers = func(
        "two_consumers",
        vec![input("a", &[8]), output("z1", &[7]), output("z2", &[7])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            Stmt::For(Box::new(For::new(
                Var::new("i_1"),
                7,
                Stmt::seq(vec![
                    nest_with(
                        "z1",
                        &[],
                        &[("vi", 7, 'S')],
                        vec![v("i_1")],
                        None,
                        st("z1", vec![v("vi")], ld("y", vec![v("vi")]) + f32c(1.0)),
                    ),
                    nest_with(
                        "z2",
                        &[],
                        &[("vi", 7, 'S')],
                        vec![v("i_1")],
                        None,
                        st("z2", vec![v("vi")], ld("y", vec![v("vi") + 1]) * f32c(2.0)),
                    ),
                ]),
            ))),
        ],
    );
    let cases = [
        (padded_conv1d(10), "pad", "conv"),
        (stencil2d(7), "y", "z"),
        (two_block(6, 8), "y", "z"),
        (two_consumers, "y", "z1"),
    ];
    let mut moved = 0;
    for (f, producer, consumer) in &cases {
        for factor in [2, 3, 4] {
            let mut base = Schedule::new(f.clone(), 0);
            let c = base.get_block(consumer).unwrap();
            let l = base.get_loops(c).unwrap();
            base.split(l[0], &[None, Some(factor.into())]).unwrap();
            let n = base.func().loops_of_block(consumer).unwrap().len();
            for depth in 0..n {
                for preserve in [true, false] {
                    let mut sch = base.clone();
                    let p = sch.get_block(producer).unwrap();
                    let loops = sch.get_loops(c).unwrap();
                    sch.compute_at(p, loops[depth], preserve, -1).unwrap();
                    assert_same_results(f, sch.func());
                    moved += 1;
                }
            }
        }
    }
    assert!(moved > 40);
}

#[test]
fn reverse_compute_at_every_loop_keeps_results() {
    for (m, n) in [(8, 8), (10, 7)] {
        for factor in [2, 3, 4] {
            let f = matmul_write_back(m, n, 5);
            let mut base = Schedule::new(f.clone(), 0);
            let c = base.get_block("C").unwrap();
            let wb = base.get_block("C_local").unwrap();
            let l = base.get_loops(c).unwrap();
            let is = base.split(l[0], &[None, Some(factor.into())]).unwrap();
            let js = base.split(l[1], &[None, Some(factor.into())]).unwrap();
            base.reorder(&[is[0], js[0], l[2], is[1], js[1]]).unwrap();
            let loops = [is[0], js[0], l[2], is[1], js[1]];
            for (depth, lp) in loops.iter().enumerate() {
                let mut sch = base.clone();
                sch.reverse_compute_at(wb, *lp, depth % 2 == 0, -1).unwrap();
                assert_same_results(&f, sch.func());
            }
        }
    }
}
