//! `compute_inline` and `reverse_compute_inline`: the IR they produce, trace
//! round trips, unchanged results, and one failure per checked condition.

use kiln_ir::interp;
use kiln_ir::ir::{
    BinOp, Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind,
    PrimFunc, Stmt, Store, Var,
};
use kiln_ir::schedule::testing::random_args;
use kiln_ir::schedule::{DecisionMode, Schedule, ScheduleError};
use kiln_ir::trace::{parse_trace_str, Trace};

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

/// A loop nest whose k-th loop drives the k-th iteration variable
/// (`iters` are `(name, 'S' | 'R')`).
fn nest(name: &str, loops: &[(&str, i64)], iters: &[(&str, char)], init: Option<Store>, body: Store) -> Stmt {
    let iter_vars = iters
        .iter()
        .zip(loops)
        .map(|((n, k), (_, e))| IterVar {
            var: Var::new(n),
            extent: *e,
            kind: if *k == 'S' { IterKind::Spatial } else { IterKind::Reduce },
        })
        .collect();
    let block = Block { name: name.into(), iter_vars, init, body, annotations: Default::default() };
    let bindings = loops.iter().map(|(l, _)| v(l)).collect();
    let mut s = Stmt::Block(Box::new(BlockRealize { bindings, predicate: Expr::true_(), block }));
    for (l, e) in loops.iter().rev() {
        s = Stmt::For(Box::new(For::new(Var::new(l), *e, s)));
    }
    s
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

fn inline(f: &PrimFunc, block: &str) -> (Schedule, Result<(), ScheduleError>) {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    let r = sch.compute_inline(b);
    (sch, r)
}

fn reverse_inline(f: &PrimFunc, block: &str) -> (Schedule, Result<(), ScheduleError>) {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    let r = sch.reverse_compute_inline(b);
    (sch, r)
}

// ---- compute_inline ----

#[test]
fn compute_inline_elementwise() {
    let f = two_block(8, 8);
    let (sch, r) = inline(&f, "y");
    r.unwrap();
    insta::assert_snapshot!("compute_inline_ir", sch.func().to_string());
    insta::assert_snapshot!("compute_inline_trace", sch.trace().to_string());
    assert!(sch.func().allocs.is_empty());
    all_three(&f, &sch);
}

#[test]
fn compute_inline_pad_into_conv() {
    let f = padded_conv1d(10);
    let (sch, r) = inline(&f, "pad");
    r.unwrap();
    insta::assert_snapshot!("compute_inline_pad_ir", sch.func().to_string());
    all_three(&f, &sch);
}

#[test]
fn compute_inline_into_several_consumers_and_loads() {
    // z1 reads y twice at different offsets, z2 once; y is gone afterwards.
    let vi = || vec![v("vi")];
    let f = func(
        "fan_out",
        vec![input("a", &[8]), output("z1", &[7]), output("z2", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)),
            ew("z1", "i_1", 7, "z1", ld("y", vi()) + ld("y", vec![v("vi") + 1])),
            ew("z2", "i_2", 8, "z2", ld("y", vi()) * ld("a", vi())),
        ],
    );
    let (sch, r) = inline(&f, "y");
    r.unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("z1[vi] = a[vi] * T.float32(2.0) + a[vi + 1] * T.float32(2.0)"), "{text}");
    assert!(!text.contains("alloc_buffer"), "{text}");
    all_three(&f, &sch);
}

#[test]
fn compute_inline_keeps_a_buffer_still_used() {
    // Inlining y removes its buffer, but x stays: z still reads it.
    let vi = || vec![v("vi")];
    let f = func(
        "keep",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("x", &[8]), alloc("y", &[8])],
        vec![
            ew("x", "i", 8, "x", ld("a", vi()) + f32c(1.0)),
            ew("y", "i_1", 8, "y", ld("x", vi()) * f32c(2.0)),
            ew("z", "i_2", 8, "z", ld("y", vi()) + ld("x", vi())),
        ],
    );
    let (sch, r) = inline(&f, "y");
    r.unwrap();
    assert_eq!(sch.func().allocs.iter().map(|b| b.name.to_string()).collect::<Vec<_>>(), vec!["x"]);
    all_three(&f, &sch);
}

// ---- reverse_compute_inline ----

#[test]
fn reverse_compute_inline_elementwise() {
    let f = two_block(8, 8);
    let (sch, r) = reverse_inline(&f, "z");
    r.unwrap();
    insta::assert_snapshot!("reverse_compute_inline_ir", sch.func().to_string());
    insta::assert_snapshot!("reverse_compute_inline_trace", sch.trace().to_string());
    assert!(sch.func().allocs.is_empty());
    all_three(&f, &sch);
}

#[test]
fn reverse_compute_inline_bias_relu_into_transposed_producer() {
    // y[vj, vi] = a[vi, vj] * 2 (a transpose), then z[vi, vj] = max(y[vi, vj] + b[vj], 0).
    let relu = Expr::binary(BinOp::Max, ld("y", vec![v("vi"), v("vj")]) + ld("b", vec![v("vj")]), f32c(0.0));
    let f = func(
        "bias_relu",
        vec![input("a", &[4, 8]), input("b", &[4]), output("z", &[8, 4])],
        vec![alloc("y", &[8, 4])],
        vec![
            nest(
                "y",
                &[("i", 4), ("j", 8)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", vec![v("vj"), v("vi")], ld("a", vec![v("vi"), v("vj")]) * f32c(2.0)),
            ),
            nest(
                "z",
                &[("i_1", 8), ("j_1", 4)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("z", vec![v("vi"), v("vj")], relu),
            ),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    r.unwrap();
    insta::assert_snapshot!("reverse_compute_inline_transposed_ir", sch.func().to_string());
    all_three(&f, &sch);
}

#[test]
fn reverse_compute_inline_after_tiling_the_producer() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let l = sch.get_loops(y).unwrap();
    let js = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    sch.reorder(&[js[0], l[0], js[1]]).unwrap();
    sch.reverse_compute_inline(z).unwrap();
    let text = sch.func().to_string();
    assert!(text.contains("z[vi, vj] = a[vi, vj] * T.float32(2.0) + T.float32(1.0)"), "{text}");
    all_three(&f, &sch);
}

// ---- compute_inline failures, one per condition ----

#[test]
fn compute_inline_fails_not_complete() {
    let f = reduce_then_add();
    let (sch, r) = inline(&f, "r");
    fails(&sch, &f, r, "NotComplete");
}

#[test]
fn compute_inline_fails_output_block() {
    let f = two_block(8, 8);
    let (sch, r) = inline(&f, "z");
    fails(&sch, &f, r, "OutputBlock");
}

#[test]
fn compute_inline_fails_store_not_plain() {
    let f = func(
        "shifted",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[9])],
        vec![
            nest("y", &[("i", 8)], &[("vi", 'S')], None, st("y", vec![v("vi") + 1], ld("a", vec![v("vi")]))),
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi") + 1]) + f32c(1.0)),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "StoreNotPlain");
}

#[test]
fn compute_inline_fails_not_sole_writer() {
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
    let (sch, r) = inline(&f, "y1");
    fails(&sch, &f, r, "NotSoleWriter");
}

#[test]
fn compute_inline_fails_reads_own_output() {
    let f = func(
        "self_read",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("y", vec![v("vi")]) + ld("a", vec![v("vi")])),
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "ReadsOwnOutput");
}

#[test]
fn compute_inline_fails_no_consumer() {
    let f = func(
        "dead",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 8, "z", ld("a", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "NoConsumer");
}

#[test]
fn compute_inline_fails_consumer_before_block() {
    let f = func(
        "reversed",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "ConsumerBeforeBlock");
}

#[test]
fn compute_inline_fails_input_overwritten() {
    let vi = || vec![v("vi")];
    let f = func(
        "overwrite",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("x", &[8]), alloc("y", &[8])],
        vec![
            ew("x", "i", 8, "x", ld("a", vi()) + f32c(1.0)),
            ew("y", "i_1", 8, "y", ld("x", vi()) * f32c(2.0)),
            ew("x2", "i_2", 8, "x", ld("a", vi()) * f32c(3.0)),
            ew("z", "i_3", 8, "z", ld("y", vi()) + ld("x", vi())),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "InputOverwritten");
}

#[test]
fn compute_inline_fails_input_overwritten_in_a_later_iteration() {
    // for o: { z (reads y); x2 (rewrites x) }: z's second iteration would see x2's writes.
    let vi = || vec![v("vi")];
    let inner = |name: &str, out: &str, value: Expr| {
        let block = Block {
            name: name.into(),
            iter_vars: vec![IterVar { var: Var::new("vi"), extent: 8, kind: IterKind::Spatial }],
            init: None,
            body: st(out, vi(), value),
            annotations: Default::default(),
        };
        Stmt::Block(Box::new(BlockRealize { bindings: vec![v("o")], predicate: Expr::true_(), block }))
    };
    let f = func(
        "loop_carried",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("x", &[8]), alloc("y", &[8])],
        vec![
            ew("x", "i", 8, "x", ld("a", vi()) + f32c(1.0)),
            ew("y", "i_1", 8, "y", ld("x", vi()) * f32c(2.0)),
            Stmt::For(Box::new(For::new(
                Var::new("o"),
                8,
                Stmt::seq(vec![
                    inner("z", "z", ld("y", vi()) + f32c(1.0)),
                    inner("x2", "x", ld("a", vi()) * f32c(3.0)),
                ]),
            ))),
        ],
    );
    let (sch, r) = inline(&f, "y");
    fails(&sch, &f, r, "InputOverwritten");
}

// ---- reverse_compute_inline failures, one per condition ----

#[test]
fn reverse_compute_inline_fails_not_complete() {
    let f = func(
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
    );
    let (sch, r) = reverse_inline(&f, "r");
    fails(&sch, &f, r, "NotComplete");
}

#[test]
fn reverse_compute_inline_fails_predicated() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let l = sch.get_loops(z).unwrap();
    sch.split(l[1], &[None, Some(3.into())]).unwrap();
    let before = sch.func().clone();
    let r = sch.reverse_compute_inline(z);
    fails(&sch, &before, r, "Predicated");
}

#[test]
fn reverse_compute_inline_fails_no_producer() {
    let f = func(
        "single",
        vec![input("a", &[8]), output("z", &[8])],
        vec![],
        vec![ew("z", "i", 8, "z", ld("a", vec![v("vi")]) + f32c(1.0))],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "NoProducer");
}

#[test]
fn reverse_compute_inline_fails_several_produced_inputs() {
    let vi = || vec![v("vi")];
    let f = func(
        "two_inputs",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y1", &[8]), alloc("y2", &[8])],
        vec![
            ew("y1", "i", 8, "y1", ld("a", vi()) * f32c(2.0)),
            ew("y2", "i_1", 8, "y2", ld("a", vi()) * f32c(3.0)),
            ew("z", "i_2", 8, "z", ld("y1", vi()) + ld("y2", vi())),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "SeveralProducedInputs");
}

#[test]
fn reverse_compute_inline_fails_not_intermediate() {
    let vi = || vec![v("vi")];
    let f = func(
        "both_outputs",
        vec![input("a", &[8]), output("y", &[8]), output("z", &[8])],
        vec![],
        vec![ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)), ew("z", "i_1", 8, "z", ld("y", vi()) + f32c(1.0))],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "NotIntermediate");
}

#[test]
fn reverse_compute_inline_fails_not_single_producer() {
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
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "NotSingleProducer");
}

#[test]
fn reverse_compute_inline_fails_other_readers() {
    let vi = || vec![v("vi")];
    let f = func(
        "fan_out",
        vec![input("a", &[8]), output("z", &[8]), output("w", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)),
            ew("z", "i_1", 8, "z", ld("y", vi()) + f32c(1.0)),
            ew("w", "i_2", 8, "w", ld("y", vi()) * f32c(3.0)),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "OtherReaders");
}

#[test]
fn reverse_compute_inline_fails_load_not_plain() {
    let f = func(
        "shifted",
        vec![input("a", &[8]), output("z", &[7])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 7, "z", ld("y", vec![v("vi") + 1]) + f32c(1.0)),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "LoadNotPlain");
}

#[test]
fn reverse_compute_inline_fails_producer_not_complete() {
    let f = reduce_then_add();
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "ProducerNotComplete");
}

#[test]
fn reverse_compute_inline_fails_producer_store_not_plain() {
    let f = func(
        "strided",
        vec![input("a", &[8]), output("z", &[16])],
        vec![alloc("y", &[16])],
        vec![
            nest("y", &[("i", 8)], &[("vi", 'S')], None, st("y", vec![v("vi") * 2], ld("a", vec![v("vi")]))),
            ew("z", "i_1", 16, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "ProducerStoreNotPlain");
}

#[test]
fn reverse_compute_inline_fails_producer_after_block() {
    let f = func(
        "reversed",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "ProducerAfterBlock");
}

#[test]
fn reverse_compute_inline_fails_domain_mismatch() {
    let f = func(
        "prefix",
        vec![input("a", &[8]), output("z", &[6])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 6, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    );
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "DomainMismatch");
}

#[test]
fn reverse_compute_inline_fails_output_accessed() {
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
    let (sch, r) = reverse_inline(&f, "z");
    fails(&sch, &f, r, "OutputAccessed");
}
