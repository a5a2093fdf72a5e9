//! `rfactor` (primitive/rfactor.rs): expected IR, trace round trips,
//! unchanged results (within 1e-4 relative: sums are reassociated), and one
//! failure per check.

use kiln_ir::ir::{
    BinOp, Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind,
    PrimFunc, Stmt, Store, Var,
};
use kiln_ir::schedule::analysis::{replace_block, replace_loop};
use kiln_ir::schedule::testing::{assert_close_results, assert_round_trips, fails};
use kiln_ir::schedule::{Schedule, ScheduleError};

fn v(n: &str) -> Var {
    Var::new(n)
}

fn e(n: &str) -> Expr {
    Expr::var(&v(n))
}

fn load(buf: &str, idx: &[&str]) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx.iter().map(|n| e(n)).collect() })
}

fn f32c(x: f32) -> Expr {
    Expr::Const(Const::F32(x))
}

fn iv(name: &str, extent: i64, kind: IterKind) -> IterVar {
    IterVar { var: v(name), extent, kind }
}

fn param(name: &str, shape: Vec<i64>, kind: ParamKind) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape), kind }
}

fn nest(loops: &[(&str, i64)], body: Stmt) -> Stmt {
    loops.iter().rev().fold(body, |s, (n, ext)| Stmt::For(Box::new(For::new(v(n), *ext, s))))
}

/// The reduction block `out[vi] = op(out[vi], rhs)` over `vi = i`, `vk = k`.
fn reduce_block(name: &str, out: &str, (n, r): (i64, i64), init: f32, op: BinOp, rhs: Expr) -> Stmt {
    Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e("i"), e("k")],
        predicate: Expr::true_(),
        block: Block {
            name: name.into(),
            iter_vars: vec![iv("vi", n, IterKind::Spatial), iv("vk", r, IterKind::Reduce)],
            init: Some(Store { buffer: out.into(), indices: vec![e("vi")], value: f32c(init) }),
            body: Store {
                buffer: out.into(),
                indices: vec![e("vi")],
                value: Expr::binary(op, load(out, &["vi"]), rhs),
            },
            annotations: Default::default(),
        },
    }))
}

/// `y[j] = Σk x[k] · w[j, k]` (block "y").
fn gemv(n: i64, k: i64) -> PrimFunc {
    let block = Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e("j"), e("k")],
        predicate: Expr::true_(),
        block: Block {
            name: "y".into(),
            iter_vars: vec![iv("vj", n, IterKind::Spatial), iv("vk", k, IterKind::Reduce)],
            init: Some(Store { buffer: "y".into(), indices: vec![e("vj")], value: f32c(0.0) }),
            body: Store {
                buffer: "y".into(),
                indices: vec![e("vj")],
                value: load("y", &["vj"]) + load("x", &["vk"]) * load("w", &["vj", "vk"]),
            },
            annotations: Default::default(),
        },
    }));
    PrimFunc {
        name: "gemv".into(),
        params: vec![
            param("x", vec![k], ParamKind::Input),
            param("w", vec![n, k], ParamKind::Input),
            param("y", vec![n], ParamKind::Output),
        ],
        allocs: vec![],
        dims: vec![],
        body: nest(&[("j", n), ("k", k)], block),
        fast_math: false,
    }
}

/// `m[i] = op over k of a[i, k]` starting from `init` (block "R").
fn row_reduce(n: i64, r: i64, init: f32, op: BinOp) -> PrimFunc {
    PrimFunc {
        name: "row_reduce".into(),
        params: vec![param("a", vec![n, r], ParamKind::Input), param("m", vec![n], ParamKind::Output)],
        allocs: vec![],
        dims: vec![],
        body: nest(&[("i", n), ("k", r)], reduce_block("R", "m", (n, r), init, op, load("a", &["vi", "vk"]))),
        fast_math: false,
    }
}

fn row_sum(n: i64, r: i64) -> PrimFunc {
    row_reduce(n, r, 0.0, BinOp::Add)
}

/// Edits block `name` in place.
fn edit_block(func: &PrimFunc, name: &str, f: impl FnOnce(&mut BlockRealize)) -> PrimFunc {
    replace_block(func, name, |mut br| {
        f(&mut br);
        Stmt::Block(Box::new(br))
    })
    .unwrap()
}

/// The chapter's GEMV schedule: split k by 8, rfactor the 8 lanes to the
/// last axis, vectorize the partial sums and keep them in registers.
fn gemv_schedule(sch: &mut Schedule) {
    let y = sch.get_block("y").unwrap();
    let l = sch.get_loops(y).unwrap();
    let ks = sch.split(l[1], &[None, Some(8.into())]).unwrap();
    let rf = sch.rfactor(ks[1], 1).unwrap();
    sch.decompose_reduction(rf, ks[0]).unwrap();
    sch.vectorize(ks[1]).unwrap();
    sch.set_scope(rf, 0, "local").unwrap();
}

#[test]
fn rfactor_a_row_sum() {
    let func = row_sum(16, 256);
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let rf = sch.rfactor(l[1], 0).unwrap();
    assert_eq!(sch.block_name(rf).unwrap(), "R_rf");
    assert_eq!(sch.block_name(r).unwrap(), "R", "the original handle names the write-back block");
    insta::assert_snapshot!("row_sum_rfactor_ir", sch.func().to_string());
    assert_eq!(sch.func().buffer("m_rf").unwrap().shape, [256, 16]);
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_gemv_for_vector_partial_sums() {
    let func = gemv(128, 784);
    let mut sch = Schedule::new(func.clone(), 0);
    gemv_schedule(&mut sch);
    insta::assert_snapshot!("gemv_rfactor_ir", sch.func().to_string());
    insta::assert_snapshot!("gemv_rfactor_trace", sch.trace().to_string());
    let rf = sch.func().buffer("y_rf").unwrap();
    assert_eq!((rf.shape.clone(), rf.scope), (vec![128, 8], kiln_ir::ir::Scope::Local));
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_keeps_the_write_back_loops_usable() {
    let func = gemv(32, 64);
    let mut sch = Schedule::new(func.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let l = sch.get_loops(y).unwrap();
    let ks = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    sch.rfactor(ks[1], -1).unwrap();
    // The write-back loops are fresh copies of j and k_1.
    let wb = sch.get_loops(y).unwrap();
    let names: Vec<String> = wb.iter().map(|l| sch.loop_name(*l).unwrap()).collect();
    assert_eq!(names, ["j_1", "k_1_1"]);
    sch.parallel(wb[0]).unwrap();
    sch.decompose_reduction(y, wb[1]).unwrap();
    assert_eq!(sch.func().buffer("y_rf").unwrap().shape, [32, 4]);
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_a_row_max() {
    let func = row_reduce(64, 96, f32::NEG_INFINITY, BinOp::Max);
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let ks = sch.split(l[1], &[None, Some(16.into())]).unwrap();
    let rf = sch.rfactor(ks[1], 0).unwrap();
    let rl = sch.get_loops(rf).unwrap();
    sch.reorder(&[rl[1], rl[0]]).unwrap();
    insta::assert_snapshot!("row_max_rfactor_ir", sch.func().to_string());
    assert_eq!(sch.func().buffer("m_rf").unwrap().shape, [16, 64]);
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_keeps_predicates_of_uneven_splits() {
    // i: 10 = 4 x 3 - 2, k: 100 = 13 x 8 - 4.
    let func = row_sum(10, 100);
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    sch.split(l[0], &[None, Some(3.into())]).unwrap();
    let ks = sch.split(l[1], &[None, Some(8.into())]).unwrap();
    sch.rfactor(ks[1], 1).unwrap();
    let wb = sch.func().block("R").unwrap();
    assert_eq!(wb.predicate.to_string(), "i_0_1 * 3 + i_1_1 < 10");
    let rf = sch.func().block("R_rf").unwrap();
    assert_eq!(rf.predicate.to_string(), "i_0 * 3 + i_1 < 10 and k_0 * 8 + k_1 < 100");
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_of_a_loop_whose_split_leaves_one_lane() {
    // k: 100 split [None, 128] gives k_0 of extent 1; the write-back keeps `k_1 < 100`.
    let func = row_sum(4, 100);
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let ks = sch.split(l[1], &[None, Some(128.into())]).unwrap();
    sch.rfactor(ks[1], 0).unwrap();
    assert_eq!(sch.func().block("R").unwrap().predicate.to_string(), "k_1_1 < 100");
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

/// `c[b] = Σ(i, j) a[b, i, j]²` (TVM's square sum, block "C").
fn square_sum(nb: i64, ni: i64, nj: i64) -> PrimFunc {
    let block = Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e("b0"), e("i0"), e("j0")],
        predicate: Expr::true_(),
        block: Block {
            name: "C".into(),
            iter_vars: vec![
                iv("b", nb, IterKind::Spatial),
                iv("i", ni, IterKind::Reduce),
                iv("j", nj, IterKind::Reduce),
            ],
            init: Some(Store { buffer: "c".into(), indices: vec![e("b")], value: f32c(0.0) }),
            body: Store {
                buffer: "c".into(),
                indices: vec![e("b")],
                value: load("c", &["b"]) + load("a", &["b", "i", "j"]) * load("a", &["b", "i", "j"]),
            },
            annotations: Default::default(),
        },
    }));
    PrimFunc {
        name: "square_sum".into(),
        params: vec![param("a", vec![nb, ni, nj], ParamKind::Input), param("c", vec![nb], ParamKind::Output)],
        allocs: vec![],
        dims: vec![],
        body: nest(&[("b0", nb), ("i0", ni), ("j0", nj)], block),
        fast_math: false,
    }
}

#[test]
fn rfactor_a_loop_feeding_two_reduce_variables() {
    // i0 and j0 fused then split: the inner loop feeds both `i` and `j`.
    let func = square_sum(4, 8, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let f = sch.fuse(&l[1..]).unwrap();
    let fs = sch.split(f, &[None, Some(4.into())]).unwrap();
    // The outer part feeds `i = f_0 // 2` and `j = f_0 % 2 * 4 + f_1`.
    sch.rfactor(fs[0], -1).unwrap();
    insta::assert_snapshot!("square_sum_rfactor_ir", sch.func().to_string());
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition of `check_rfactor` ----

/// Rfactors loop `loop_index` of the last block of `func`, which must fail with `kind`.
fn fail_rfactor(func: PrimFunc, loop_index: usize, factor_axis: i64, kind: &str) -> ScheduleError {
    let block = func.blocks().last().unwrap().block.name.clone();
    let mut sch = Schedule::new(func, 0);
    let b = sch.get_block(&block).unwrap();
    let l = sch.get_loops(b).unwrap();
    fails(&mut sch, kind, |s| s.rfactor(l[loop_index], factor_axis))
}

/// `for i: [S: s[vi] = a[vi, 0] * 2] for k: R(m[vi] += a[vi, vk] * s[vi]) [S]`.
fn with_sibling(first: bool) -> PrimFunc {
    let s = Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e("i")],
        predicate: Expr::true_(),
        block: Block {
            name: "S".into(),
            iter_vars: vec![iv("vi", 8, IterKind::Spatial)],
            init: None,
            body: Store {
                buffer: "s".into(),
                indices: vec![e("vi")],
                value: Expr::Load(Load {
                    buffer: "a".into(),
                    dtype: DataType::F32,
                    indices: vec![e("vi"), Expr::Int(0)],
                }) * f32c(2.0),
            },
            annotations: Default::default(),
        },
    }));
    let r = nest(
        &[("k", 16)],
        reduce_block("R", "m", (8, 16), 0.0, BinOp::Add, load("a", &["vi", "vk"]) * load("s", &["vi"])),
    );
    let body = if first { vec![s, r] } else { vec![r, s] };
    PrimFunc {
        dims: vec![],
        name: "with_sibling".into(),
        params: vec![param("a", vec![8, 16], ParamKind::Input), param("m", vec![8], ParamKind::Output)],
        allocs: vec![Buffer::new("s", DataType::F32, vec![8])],
        body: nest(&[("i", 8)], Stmt::Seq(body)),
        fast_math: false,
    }
}

#[test]
fn rejects_a_loop_with_several_blocks() {
    let mut sch = Schedule::new(with_sibling(true), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let err = fails(&mut sch, "NotSingleBlock", |s| s.rfactor(l[0], 0));
    assert!(err.to_string().contains("loop `i` contains 2 blocks"), "{err}");
}

#[test]
fn rejects_a_block_without_init() {
    let func = edit_block(&row_sum(8, 16), "R", |br| br.block.init = None);
    fail_rfactor(func, 1, 0, "NotReduction");
}

#[test]
fn rejects_a_write_depending_on_a_reduce_variable() {
    let func = edit_block(&row_sum(16, 16), "R", |br| {
        let b = &mut br.block;
        b.body.indices = vec![e("vk")];
        b.body.value = load("m", &["vk"]) + load("a", &["vi", "vk"]);
        b.init.as_mut().unwrap().indices = vec![e("vk")];
    });
    fail_rfactor(func, 1, 0, "WriteNotSpatial");
}

/// `m[vi] = m[vi] * 2` (block "E") over `i2` in a nest of its own, or, with
/// `shared`, under the row sum's own row loop `i`.
fn with_second_writer(shared: bool) -> PrimFunc {
    let mut func = row_sum(8, 16);
    let i = if shared { "i" } else { "i2" };
    let double = Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e(i)],
        predicate: Expr::true_(),
        block: Block {
            name: "E".into(),
            iter_vars: vec![iv("vi", 8, IterKind::Spatial)],
            init: None,
            body: Store { buffer: "m".into(), indices: vec![e("vi")], value: load("m", &["vi"]) * f32c(2.0) },
            annotations: Default::default(),
        },
    }));
    let sum = reduce_block("R", "m", (8, 16), 0.0, BinOp::Add, load("a", &["vi", "vk"]));
    func.body = if shared {
        nest(&[("i", 8)], Stmt::Seq(vec![nest(&[("k", 16)], sum), double]))
    } else {
        Stmt::Seq(vec![func.body, nest(&[("i2", 8)], double)])
    };
    func
}

/// A second writer of the output in a nest of its own (the sum rescaled in
/// place afterwards) keeps its place after the two new nests: the same
/// results. Under the block's own loops it is refused.
#[test]
fn a_second_writer_of_the_output_only_outside_the_block_loops() {
    let func = with_second_writer(false);
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    sch.rfactor(l[1], 0).unwrap();
    let order: Vec<String> = sch.func().blocks().iter().map(|b| b.block.name.clone()).collect();
    assert_eq!(order, ["R_rf", "R", "E"]);
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);

    let mut sch = Schedule::new(with_second_writer(true), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let err = fails(&mut sch, "NotSingleWriter", |s| s.rfactor(l[1], 0));
    assert!(err.to_string().contains("`m` is written by \"R\", \"E\""), "{err}");
}

#[test]
fn rejects_a_binding_that_is_not_affine() {
    let func = edit_block(&row_sum(8, 128), "R", |br| br.bindings[1] = (e("k") * e("k")).floordiv(128));
    let err = fail_rfactor(func, 1, 0, "NotAffine");
    assert!(err.to_string().contains("`k * k // 128` of `vk`"), "{err}");
}

#[test]
fn rejects_an_update_that_is_not_a_reduction() {
    // `e − out` (the output negated at every step) is no reduction.
    let func = edit_block(&row_sum(8, 16), "R", |br| {
        br.block.body.value = Expr::binary(BinOp::Sub, load("a", &["vi", "vk"]), load("m", &["vi"]))
    });
    fail_rfactor(func, 1, 0, "UnknownCombiner");
    let func = edit_block(&row_sum(8, 16), "R", |br| {
        br.block.body.value = Expr::binary(BinOp::Div, load("m", &["vi"]), load("a", &["vi", "vk"]))
    });
    fail_rfactor(func, 1, 0, "UnknownCombiner");
    let func = edit_block(&row_sum(8, 16), "R", |br| {
        br.block.body.value = load("m", &["vi"]) + load("m", &["vi"]) * load("a", &["vi", "vk"])
    });
    fail_rfactor(func, 1, 0, "UnknownCombiner");
}

/// An init that is not the identity of the reduction (`max` from 0, a sum
/// from 1, a sum from a bias `b[vi]`): the partial results start from the
/// identity, the write-back block from the init, so the result is
/// `init ⊕ (⊕ partials)` — the same value. A subtraction (`m = m − a`, from
/// 0 and from 1) is a sum of negated terms: its partial results subtract
/// from 0 and the write-back adds them.
#[test]
fn an_init_that_is_not_the_identity_starts_the_write_back() {
    let bias = edit_block(&row_sum(8, 16), "R", |br| {
        br.block.init.as_mut().unwrap().value = load("a", &["vi", "vi"]);
    });
    for (func, rf_init, wb_init) in [
        (row_reduce(8, 16, 1.0, BinOp::Add), "m_rf[vk_1, vi] = T.float32(0.0)", "m[vi] = T.float32(1.0)"),
        (row_reduce(8, 16, 0.0, BinOp::Max), "m_rf[vk_1, vi] = T.float32(\"-inf\")", "m[vi] = T.float32(0.0)"),
        (bias, "m_rf[vk_1, vi] = T.float32(0.0)", "m[vi] = a[vi, vi]"),
        (row_reduce(8, 16, 0.0, BinOp::Sub), "m_rf[vk_1, vi] = m_rf[vk_1, vi] - a[", "m[vi] = m[vi] + m_rf["),
        (row_reduce(8, 16, 1.0, BinOp::Sub), "m_rf[vk_1, vi] = T.float32(0.0)", "m[vi] = T.float32(1.0)"),
    ] {
        let mut sch = Schedule::new(func.clone(), 0);
        let r = sch.get_block("R").unwrap();
        let l = sch.get_loops(r).unwrap();
        let ks = sch.split(l[1], &[None, Some(4.into())]).unwrap();
        sch.rfactor(ks[1], 0).unwrap();
        let ir = sch.func().to_string();
        assert!(ir.contains(rf_init) && ir.contains(wb_init), "{ir}");
        assert_close_results(&func, sch.func(), 1e-4);
        assert_round_trips(&func, &sch);
    }
}

#[test]
fn rejects_a_loop_that_is_not_serial() {
    let mut sch = Schedule::new(row_sum(8, 16), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    sch.unroll(l[1]).unwrap();
    fails(&mut sch, "NotSerial", |s| s.rfactor(l[1], 0));
}

#[test]
fn rejects_a_loop_feeding_both_kinds() {
    let mut sch = Schedule::new(row_sum(8, 16), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let f = sch.fuse(&l).unwrap();
    let err = fails(&mut sch, "MixedLoop", |s| s.rfactor(f, 0));
    assert!(err.to_string().contains("loop `i_k_fused` feeds both"), "{err}");
}

#[test]
fn rejects_a_spatial_loop() {
    fail_rfactor(row_sum(8, 16), 0, 0, "SpatialLoop");
}

#[test]
fn rejects_a_loop_feeding_nothing() {
    let mut func = row_sum(8, 16);
    func.body = nest(&[("t", 2)], func.body);
    fail_rfactor(func, 0, 0, "NotReduceLoop");
}

#[test]
fn rejects_a_reduction_loop_with_other_blocks() {
    let mut sch = Schedule::new(row_sum(8, 16), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let ks = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    let (func, _) = sch.into_parts();
    let sibling = Stmt::Block(Box::new(BlockRealize {
        bindings: vec![e("i")],
        predicate: Expr::true_(),
        block: Block {
            name: "S".into(),
            iter_vars: vec![iv("vi", 8, IterKind::Spatial)],
            init: None,
            body: Store { buffer: "s".into(), indices: vec![e("vi")], value: f32c(1.0) },
            annotations: Default::default(),
        },
    }));
    let mut func = replace_loop(&func, "k_0", |mut l| {
        l.body = Stmt::Seq(vec![l.body, sibling]);
        Stmt::For(Box::new(l))
    })
    .unwrap();
    func.allocs.push(Buffer::new("s", DataType::F32, vec![8]));
    let mut sch = Schedule::new(func, 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let _ = ks;
    let err = fails(&mut sch, "ReduceLoopHasSiblings", |s| s.rfactor(l[2], 0));
    assert!(err.to_string().contains("reduction loop `k_0`"), "{err}");
}

#[test]
fn rejects_an_unbound_loop_under_a_reduction_loop() {
    let func = replace_block(&row_sum(8, 16), "R", |br| nest(&[("t", 2)], Stmt::Block(Box::new(br)))).unwrap();
    let err = fail_rfactor(func, 1, 0, "UnboundLoopUnderReduction");
    assert!(err.to_string().contains("loop `t` feeds no iteration variable"), "{err}");
}

/// Under a loop it shares with other blocks (a row loop after `compute_at`),
/// the block's nest becomes the rfactor nest and the write-back nest in its
/// place: the shared loop stays one loop, its other blocks where they were.
fn rfactor_under_a_shared_loop(first: bool) {
    let func = if first { with_sibling(true) } else { with_consumer() };
    let mut sch = Schedule::new(func.clone(), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    let ks = sch.split(l[1], &[None, Some(4.into())]).unwrap();
    let rf = sch.rfactor(ks[1], 1).unwrap();
    let f = sch.func();
    let outer: Vec<String> = f.loops_of_block("R_rf").unwrap().iter().map(|l| l.var.to_string()).collect();
    assert_eq!(outer[0], "i", "{f}");
    assert_eq!(f.loops_of_block("S").unwrap()[0].var.name(), "i", "{f}");
    assert_eq!(f.loops_of_block("R").unwrap()[0].var.name(), "i", "{f}");
    let order: Vec<String> = f.blocks().iter().map(|b| b.block.name.clone()).collect();
    let expected = if first { ["S", "R_rf", "R"] } else { ["R_rf", "R", "S"] };
    assert_eq!(order, expected, "{f}");
    assert_eq!(f.buffer("m_rf").unwrap().shape, [8, 4]);
    let rl = sch.get_loops(rf).unwrap();
    sch.vectorize(*rl.last().unwrap()).unwrap();
    assert_close_results(&func, sch.func(), 1e-4);
    assert_round_trips(&func, &sch);
}

#[test]
fn rfactor_after_a_producer_in_a_shared_loop() {
    rfactor_under_a_shared_loop(true);
}

#[test]
fn rfactor_before_a_consumer_in_a_shared_loop() {
    rfactor_under_a_shared_loop(false);
}

/// `with_sibling(false)` with `S` reading `m` (a consumer) instead of
/// writing what `R` reads.
fn with_consumer() -> PrimFunc {
    let mut f = with_sibling(false);
    let m_vi = Expr::Load(Load { buffer: "m".into(), dtype: DataType::F32, indices: vec![e("vi")] });
    f = edit_block(&f, "S", |br| br.block.body.value = m_vi * f32c(2.0));
    f = edit_block(&f, "R", |br| br.block.body.value = load("m", &["vi"]) + load("a", &["vi", "vk"]));
    f.allocs.clear();
    f.params.push(param("s", vec![8], ParamKind::Output));
    f
}

#[test]
fn rejects_a_factor_axis_out_of_range() {
    let err = fail_rfactor(row_sum(8, 16), 1, 2, "FactorAxisOutOfRange");
    assert!(err.to_string().contains("factor_axis must lie in -2..=1, not 2"), "{err}");
    fail_rfactor(row_sum(8, 16), 1, -3, "FactorAxisOutOfRange");
}

#[test]
fn rejects_a_predicate_that_can_skip_the_partial_init() {
    let mut sch = Schedule::new(row_sum(8, 64), 0);
    let r = sch.get_block("R").unwrap();
    let l = sch.get_loops(r).unwrap();
    sch.split(l[1], &[None, Some(8.into())]).unwrap();
    let func = edit_block(sch.func(), "R", |br| {
        br.predicate = Expr::binary(BinOp::Ge, e("k_0") * 8 + e("k_1"), Expr::Int(4));
    });
    let err = fail_rfactor(func, 2, 0, "PredicateNotSupported");
    assert!(err.to_string().contains("`k_0 * 8 + k_1 >= 4`"), "{err}");
}
