//! `compute_at`, `reverse_compute_at` and `sample_compute_location`: the IR
//! they produce, trace round trips, unchanged results, and one failure per
//! checked condition.

use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::{
    BinOp, Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind,
    PrimFunc, Scope, Stmt, Store, Var,
};
use kiln_ir::schedule::testing::random_args;
use kiln_ir::schedule::{DecisionMode, ReplayError, Schedule, ScheduleError};
use kiln_ir::trace::{parse_trace_str, Decision, InstKind, Trace};

// ---- IR builders ----

fn v(n: &str) -> Expr {
    Expr::Var(Var::new(n))
}

fn f32c(x: f32) -> Expr {
    Expr::Const(Const::F32(x))
}

fn ld(buf: &str, idx: Vec<Expr>) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx })
}

fn st(buf: &str, idx: Vec<Expr>, value: Expr) -> Store {
    Store { buffer: buf.into(), indices: idx, value }
}

fn input(name: &str, shape: &[i64]) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape.to_vec()), kind: ParamKind::Input }
}

fn output(name: &str, shape: &[i64]) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape.to_vec()), kind: ParamKind::Output }
}

fn alloc(name: &str, shape: &[i64]) -> Buffer {
    Buffer::new(name, DataType::F32, shape.to_vec())
}

/// A loop nest around one block with explicit bindings; `iters` are
/// `(name, extent, 'S' | 'R')`.
fn nest_with(
    name: &str,
    loops: &[(&str, i64)],
    iters: &[(&str, i64, char)],
    bindings: Vec<Expr>,
    init: Option<Store>,
    body: Store,
) -> Stmt {
    let iter_vars = iters
        .iter()
        .map(|(n, e, k)| IterVar {
            var: Var::new(n),
            extent: *e,
            kind: if *k == 'S' { IterKind::Spatial } else { IterKind::Reduce },
        })
        .collect();
    let block = Block { name: name.into(), iter_vars, init, body, annotations: Default::default() };
    let mut s = Stmt::Block(Box::new(BlockRealize { bindings, predicate: Expr::true_(), block }));
    for (l, e) in loops.iter().rev() {
        s = Stmt::For(Box::new(For::new(Var::new(l), *e, s)));
    }
    s
}

/// A loop nest whose k-th loop drives the k-th iteration variable.
fn nest(name: &str, loops: &[(&str, i64)], iters: &[(&str, char)], init: Option<Store>, body: Store) -> Stmt {
    let full: Vec<(&str, i64, char)> = iters.iter().zip(loops).map(|((n, k), (_, e))| (*n, *e, *k)).collect();
    let bindings = loops.iter().map(|(l, _)| v(l)).collect();
    nest_with(name, loops, &full, bindings, init, body)
}

/// `for <lv> in range(n): out[vi] = value`.
fn ew(name: &str, lv: &str, n: i64, out: &str, value: Expr) -> Stmt {
    nest(name, &[(lv, n)], &[("vi", 'S')], None, st(out, vec![v("vi")], value))
}

fn func(name: &str, params: Vec<Param>, allocs: Vec<Buffer>, stmts: Vec<Stmt>) -> PrimFunc {
    PrimFunc { name: name.into(), params, allocs, body: Stmt::seq(stmts) }
}

/// `y = a * 2` (intermediate), then `z = y + 1`.
fn two_block(n: i64, m: i64) -> PrimFunc {
    let ij = vec![v("vi"), v("vj")];
    func(
        "two_block",
        vec![input("a", &[n, m]), output("z", &[n, m])],
        vec![alloc("y", &[n, m])],
        vec![
            nest(
                "y",
                &[("i", n), ("j", m)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", ij.clone(), ld("a", ij.clone()) * f32c(2.0)),
            ),
            nest(
                "z",
                &[("i_1", n), ("j_1", m)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("z", ij.clone(), ld("y", ij) + f32c(1.0)),
            ),
        ],
    )
}

/// A 1-D convolution with explicit padding: `pad` (n + 2) then a 3-tap reduction.
fn padded_conv1d(n: i64) -> PrimFunc {
    let vi = v("vi");
    let inside = Expr::binary(BinOp::Le, Expr::Int(1), vi.clone()).and(vi.clone().lt(n + 1));
    let pad_value = Expr::select(inside, ld("a", vec![vi.clone() - 1]), f32c(0.0));
    let acc = ld("out", vec![vi.clone()]) + ld("pad", vec![vi.clone() + v("vk")]) * ld("w", vec![v("vk")]);
    func(
        "conv1d",
        vec![input("a", &[n]), input("w", &[3]), output("out", &[n])],
        vec![alloc("pad", &[n + 2])],
        vec![
            ew("pad", "i", n + 2, "pad", pad_value),
            nest(
                "conv",
                &[("i_1", n), ("k", 3)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("out", vec![vi.clone()], f32c(0.0))),
                st("out", vec![vi], acc),
            ),
        ],
    )
}

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

/// A matmul into a local accumulator `c_local` (block "C") and its write-back
/// to `c` (block "C_local"), the shape `cache_write(C, 0, "local")` leaves.
fn matmul_write_back(m: i64, n: i64, k: i64) -> PrimFunc {
    let ij = vec![v("vi"), v("vj")];
    let acc = ld("c_local", ij.clone()) + ld("a", vec![v("vi"), v("vk")]) * ld("b", vec![v("vk"), v("vj")]);
    let mut local = alloc("c_local", &[m, n]);
    local.scope = Scope::Local;
    func(
        "matmul",
        vec![input("a", &[m, k]), input("b", &[k, n]), output("c", &[m, n])],
        vec![local],
        vec![
            nest(
                "C",
                &[("i", m), ("j", n), ("k", k)],
                &[("vi", 'S'), ("vj", 'S'), ("vk", 'R')],
                Some(st("c_local", ij.clone(), f32c(0.0))),
                st("c_local", ij.clone(), acc),
            ),
            nest(
                "C_local",
                &[("ax0", m), ("ax1", n)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("c", ij.clone(), ld("c_local", ij)),
            ),
        ],
    )
}

// ---- checks ----

/// The interpreter computes the same outputs (all written, none NaN) before and after.
fn same_results(before: &PrimFunc, after: &PrimFunc) {
    for seed in 0..3 {
        let mut want = random_args(before, seed);
        interp::run(before, &mut want).unwrap();
        let mut got = random_args(before, seed);
        interp::run(after, &mut got).unwrap();
        for (p, t) in before.params.iter().zip(&want) {
            if p.kind == ParamKind::Output {
                assert!((0..t.len()).all(|i| t.get(i).is_finite()), "`{}` is not fully written", p.buffer.name);
            }
        }
        assert_eq!(want, got, "results differ (seed {seed})");
    }
}

/// The trace survives text and JSON and replays to the same IR and trace.
fn round_trips(orig: &PrimFunc, sch: &Schedule) {
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

fn all_three(orig: &PrimFunc, sch: &Schedule) {
    same_results(orig, sch.func());
    round_trips(orig, sch);
}

/// Asserts the error's variant and that the schedule did not change.
fn fails(sch: &Schedule, before: &PrimFunc, r: Result<(), ScheduleError>, kind: &str) {
    let err = r.expect_err("the primitive should fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(sch.func(), before, "a failed primitive changed the IR");
}

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
    all_three(&f, &sch);
}

#[test]
fn compute_at_drops_unit_loops() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    split_and_compute_at(&mut sch, false);
    insta::assert_snapshot!("compute_at_no_unit_loops_ir", sch.func().to_string());
    all_three(&f, &sch);
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
        all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    all_three(&f, &first);
    all_three(&f, &one);
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
    all_three(&f, &sch);
}

#[test]
fn reverse_compute_at_old_loop_handles_go_stale_despite_reused_names() {
    let f = matmul_write_back(8, 8, 4);
    let mut sch = Schedule::new(f.clone(), 0);
    let wb = sch.get_block("C_local").unwrap();
    let old = sch.get_loops(wb).unwrap();
    tile_and_write_back(&mut sch, -1);
    assert!(sch.func().find_loop("ax0").is_some(), "the new nest reuses `ax0`");
    let after = sch.func().clone();
    let r = sch.parallel(old[0]);
    fails(&sch, &after, r, "StaleHandle");
    let new = sch.get_loops(wb).unwrap();
    sch.unroll(new[2]).unwrap();
    same_results(&f, sch.func());
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
    all_three(&f, &sch);
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
    all_three(&f, &sch);
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
        all_three(&f, &sch);
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
        all_three(&f, &sch);
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
    all_three(&f, &sch);
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
    let ReplayError { step, error: err, .. } = Schedule::replay(&f, &stale, 0, DecisionMode::Strict).unwrap_err();
    assert_eq!((step, err.kind()), (site + 1, "BadDecision"), "{err}");
    let repaired = Schedule::replay(&f, &stale, 0, DecisionMode::Repair).unwrap();
    let d = repaired.trace().insts[site].decision.clone();
    assert!(matches!(d, Some(Decision::Int(x)) if (-2..=2).contains(&x)), "{d:?}");
    same_results(&f, repaired.func());
    let resampled = Schedule::replay(&f, &sch.trace().clone(), 3, DecisionMode::Resample).unwrap();
    same_results(&f, resampled.func());
    // A repaired decision that still fits is kept.
    let kept = Schedule::replay(&f, sch.trace(), 0, DecisionMode::Repair).unwrap();
    assert_eq!(kept.func(), sch.func());
}

// ---- compute_at failures, one per condition ----

#[test]
fn compute_at_fails_block_under_loop() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.compute_at(y, ly[1], true, -1);
    fails(&sch, &f, r, "BlockUnderLoop");
}

#[test]
fn compute_at_fails_output_block() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "OutputBlock");
}

/// `r[vi] = Σk a[vi, k]` (intermediate), then `z = r + 1`.
fn reduce_then_add() -> PrimFunc {
    let vi = || vec![v("vi")];
    func(
        "reduce_then_add",
        vec![input("a", &[8, 4]), output("z", &[8])],
        vec![alloc("r", &[8])],
        vec![
            nest(
                "r",
                &[("i", 8), ("k", 4)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("r", vi(), f32c(0.0))),
                st("r", vi(), ld("r", vi()) + ld("a", vec![v("vi"), v("vk")])),
            ),
            ew("z", "i_1", 8, "z", ld("r", vi()) + f32c(1.0)),
        ],
    )
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
    all_three(&f, &sch);
}

#[test]
fn compute_at_fails_decomposed_reduction() {
    let f = reduce_then_add();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let lr = sch.get_loops(r).unwrap();
    sch.decompose_reduction(r, lr[1]).unwrap();
    let before = sch.func().clone();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let res = sch.compute_at(r, lz[0], true, -1);
    fails(&sch, &before, res, "NotCompleteOrReduction");
}

#[test]
fn compute_at_fails_not_sole_writer() {
    let f = func(
        "two_writers",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y1", "i", 8, "y", ld("a", vec![v("vi")])),
            ew("y2", "i_1", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_2", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y1 = sch.get_block("y1").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y1, lz[0], true, -1);
    fails(&sch, &f, r, "NotSoleWriter");
}

#[test]
fn compute_at_fails_store_not_plain() {
    let f = func(
        "strided",
        vec![input("a", &[8]), output("z", &[16])],
        vec![alloc("y", &[16])],
        vec![
            nest("y", &[("i", 8)], &[("vi", 'S')], None, st("y", vec![v("vi") * 2], ld("a", vec![v("vi")]))),
            ew("z", "i_1", 16, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y, lz[0], true, -1);
    fails(&sch, &f, r, "StoreNotPlain");
}

#[test]
fn compute_at_fails_no_consumer() {
    let f = func(
        "dead",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 8, "z", ld("a", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y, lz[0], true, -1);
    fails(&sch, &f, r, "NoConsumer");
}

#[test]
fn compute_at_fails_consumer_not_under_loop() {
    let f = func(
        "two_consumers",
        vec![input("a", &[8]), output("z1", &[8]), output("z2", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z1", "i_1", 8, "z1", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("z2", "i_2", 8, "z2", ld("y", vec![v("vi")]) * f32c(3.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z1 = sch.get_block("z1").unwrap();
    let l = sch.get_loops(z1).unwrap();
    let r = sch.compute_at(y, l[0], true, -1);
    fails(&sch, &f, r, "ConsumerNotUnderLoop");
}

#[test]
fn compute_at_fails_consumer_before_block() {
    let f = func(
        "reversed",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y, lz[0], true, -1);
    fails(&sch, &f, r, "ConsumerBeforeBlock");
}

#[test]
fn compute_at_fails_input_overwritten() {
    // x is rewritten between y and z: y computed under z would read the new x.
    let f = func(
        "overwrite",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("x", &[8]), alloc("y", &[8])],
        vec![
            ew("x", "i", 8, "x", ld("a", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i_1", 8, "y", ld("x", vec![v("vi")]) * f32c(2.0)),
            ew("x2", "i_2", 8, "x", ld("a", vec![v("vi")]) * f32c(3.0)),
            ew("z", "i_3", 8, "z", ld("y", vec![v("vi")]) + ld("x", vec![v("vi")])),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y, lz[0], true, -1);
    fails(&sch, &f, r, "InputOverwritten");
}

#[test]
fn compute_at_fails_bad_index() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let js = sch.split(lz[1], &[None, Some(4.into())]).unwrap();
    let before = sch.func().clone();
    for index in [1, -3] {
        let r = sch.compute_at(y, js[0], true, index);
        fails(&sch, &before, r, "BadIndex");
    }
}

#[test]
fn compute_at_fails_region_not_affine() {
    // z[i] = y[idx[i]] + 1: the region of y depends on memory.
    let mut f = func(
        "gather",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew(
                "z",
                "i_1",
                8,
                "z",
                ld("y", vec![Expr::Load(Load { buffer: "idx".into(), dtype: DataType::I32, indices: vec![v("vi")] })])
                    + f32c(1.0),
            ),
        ],
    );
    f.params.insert(1, Param { buffer: Buffer::new("idx", DataType::I32, vec![8]), kind: ParamKind::Input });
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let r = sch.compute_at(y, lz[0], true, -1);
    fails(&sch, &f, r, "RegionNotAffine");
}

#[test]
fn compute_at_rejects_a_removed_loop_handle() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let lz = sch.get_loops(z).unwrap();
    sch.compute_at(y, lz[0], true, -1).unwrap();
    let after = sch.func().clone();
    let r = sch.compute_at(y, ly[0], true, -1);
    fails(&sch, &after, r, "StaleHandle");
}

// ---- reverse_compute_at failures, one per condition ----

#[test]
fn reverse_compute_at_fails_block_under_loop() {
    let f = matmul_write_back(8, 8, 4);
    let mut sch = Schedule::new(f.clone(), 0);
    let wb = sch.get_block("C_local").unwrap();
    let l = sch.get_loops(wb).unwrap();
    let r = sch.reverse_compute_at(wb, l[1], true, -1);
    fails(&sch, &f, r, "BlockUnderLoop");
}

/// `y = a * 2` (8×4, intermediate), then the row sums `r[vi] = Σk y[vi, k]`.
fn add_then_reduce() -> PrimFunc {
    func(
        "add_then_reduce",
        vec![input("a", &[8, 4]), output("r", &[8])],
        vec![alloc("y", &[8, 4])],
        vec![
            nest(
                "y",
                &[("i", 8), ("j", 4)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", vec![v("vi"), v("vj")], ld("a", vec![v("vi"), v("vj")]) * f32c(2.0)),
            ),
            nest(
                "r",
                &[("i_1", 8), ("k", 4)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("r", vec![v("vi")], f32c(0.0))),
                st("r", vec![v("vi")], ld("r", vec![v("vi")]) + ld("y", vec![v("vi"), v("vk")])),
            ),
        ],
    )
}

#[test]
fn reverse_compute_at_fails_decomposed_reduction() {
    let f = add_then_reduce();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let lr = sch.get_loops(r).unwrap();
    sch.decompose_reduction(r, lr[1]).unwrap();
    let before = sch.func().clone();
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let res = sch.reverse_compute_at(r, ly[0], true, -1);
    fails(&sch, &before, res, "NotCompleteOrReduction");
}

#[test]
fn reverse_compute_at_reduction_consumer() {
    // The row sum follows the rows of y: k covers all of a row.
    let f = add_then_reduce();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    sch.reverse_compute_at(r, ly[0], true, -1).unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("for ax0, ax1 in T.grid(1, 4):"), "{text}");
    all_three(&f, &sch);
}

#[test]
fn reverse_compute_at_fails_no_producer_under_loop() {
    let mut f = two_block(8, 8);
    f.params.push(output("w", &[8]));
    let mut stmts = match f.body {
        Stmt::Seq(v) => v,
        _ => unreachable!(),
    };
    stmts.push(ew("w", "i_2", 8, "w", ld("a", vec![v("vi"), Expr::Int(0)])));
    f.body = Stmt::seq(stmts);
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let w = sch.get_block("w").unwrap();
    let lw = sch.get_loops(w).unwrap();
    let r = sch.reverse_compute_at(z, lw[0], true, -1);
    fails(&sch, &f, r, "NoProducerUnderLoop");
}

#[test]
fn reverse_compute_at_fails_several_produced_inputs() {
    let vi = || vec![v("vi")];
    let both = Stmt::For(Box::new(For::new(
        Var::new("i"),
        8,
        Stmt::seq(vec![
            nest_with("y1", &[], &[("vi", 8, 'S')], vec![v("i")], None, st("y1", vi(), ld("a", vi()) * f32c(2.0))),
            nest_with("y2", &[], &[("vi", 8, 'S')], vec![v("i")], None, st("y2", vi(), ld("a", vi()) * f32c(3.0))),
        ]),
    )));
    let f = func(
        "two_inputs",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y1", &[8]), alloc("y2", &[8])],
        vec![both, ew("z", "i_1", 8, "z", ld("y1", vi()) + ld("y2", vi()))],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let y1 = sch.get_block("y1").unwrap();
    let l = sch.get_loops(y1).unwrap();
    let r = sch.reverse_compute_at(z, l[0], true, -1);
    fails(&sch, &f, r, "SeveralProducedInputs");
}

#[test]
fn reverse_compute_at_fails_producer_not_under_loop() {
    let f = func(
        "halves",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y_lo", "i", 4, "y", ld("a", vec![v("vi")])),
            nest("y_hi", &[("i_1", 4)], &[("vi", 'S')], None, st("y", vec![v("vi") + 4], ld("a", vec![v("vi") + 4]))),
            ew("z", "i_2", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let lo = sch.get_block("y_lo").unwrap();
    let l = sch.get_loops(lo).unwrap();
    let r = sch.reverse_compute_at(z, l[0], true, -1);
    fails(&sch, &f, r, "ProducerNotUnderLoop");
}

#[test]
fn reverse_compute_at_fails_producer_after_block() {
    let f = func(
        "reversed",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.reverse_compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "ProducerAfterBlock");
}

#[test]
fn reverse_compute_at_fails_load_not_plain() {
    let f = func(
        "shifted_twice",
        vec![input("a", &[8]), output("z", &[7])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 7, "z", ld("y", vec![v("vi")]) + ld("y", vec![v("vi") + 1])),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.reverse_compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "LoadNotPlain");
}

#[test]
fn reverse_compute_at_fails_output_accessed() {
    // w reads z's output before z writes it; z moved under y would write it first.
    let vi = || vec![v("vi")];
    let f = func(
        "early_reader",
        vec![input("a", &[8]), output("w", &[8]), output("out", &[8])],
        vec![alloc("y", &[8]), alloc("zb", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)),
            ew("w", "i_1", 8, "w", ld("zb", vi())),
            ew("z", "i_2", 8, "zb", ld("y", vi()) + f32c(1.0)),
            ew("fin", "i_3", 8, "out", ld("zb", vi())),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.reverse_compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "OutputAccessed");
}

#[test]
fn reverse_compute_at_fails_input_overwritten() {
    // bias is written after y's loop: z moved under y would read it unwritten.
    let vi = || vec![v("vi")];
    let f = func(
        "late_bias",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8]), alloc("bias", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)),
            ew("bias", "i_1", 8, "bias", ld("a", vi()) * f32c(3.0)),
            ew("z", "i_2", 8, "z", ld("y", vi()) + ld("bias", vi())),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.reverse_compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "InputOverwritten");
}

#[test]
fn reverse_compute_at_fails_bad_index() {
    // Under j_0 the body is [k-loop holding C]: the only legal position is 1.
    let f = matmul_write_back(8, 8, 4);
    let mut sch = Schedule::new(f.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let wb = sch.get_block("C_local").unwrap();
    let l = sch.get_loops(c).unwrap();
    let is = sch.split(l[0], &[None, Some(4.into())]).unwrap();
    let js = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    sch.reorder(&[is[0], js[0], l[2], is[1], js[1]]).unwrap();
    let before = sch.func().clone();
    let r = sch.reverse_compute_at(wb, js[0], true, 0);
    fails(&sch, &before, r, "BadIndex");
}

#[test]
fn reverse_compute_at_fails_reduction_split() {
    // Under j_0 only two of y's four columns exist: the sum over k would be split.
    let f = add_then_reduce();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let js = sch.split(ly[1], &[None, Some(2.into())]).unwrap();
    let before = sch.func().clone();
    let res = sch.reverse_compute_at(r, js[0], true, -1);
    fails(&sch, &before, res, "ReductionSplit");
}

#[test]
fn reverse_compute_at_fails_region_not_affine() {
    // y's row is i // (j + 1): not affine in the relaxed loop j.
    let divided = Expr::binary(BinOp::FloorDiv, v("i"), v("j") + 1);
    let f = func(
        "divided",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            nest_with(
                "y",
                &[("i", 8), ("j", 2)],
                &[("vi", 8, 'S')],
                vec![divided],
                None,
                st("y", vec![v("vi")], ld("a", vec![v("vi")]) * f32c(2.0)),
            ),
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    let r = sch.reverse_compute_at(z, ly[0], true, -1);
    fails(&sch, &f, r, "RegionNotAffine");
}

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
                    same_results(f, sch.func());
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
                same_results(&f, sch.func());
            }
        }
    }
}
