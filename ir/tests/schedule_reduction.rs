//! `decompose_reduction` (primitive/reduction.rs): expected IR, trace round
//! trips, unchanged results (also under uneven splits of spatial and reduce
//! loops), handles after the rename, malformed trace instructions, and one
//! failure per condition of `check_decompose_reduction`.

use kiln_ir::ir::{
    Block, BlockRealize, Buffer, Const, DataType, Expr, For, ForKind, IterKind, IterVar, Load, Param, ParamKind,
    PrimFunc, Stmt, Store, Var,
};
use kiln_ir::schedule::analysis::replace_block;
use kiln_ir::schedule::testing::{
    assert_round_trips, assert_same_results, block_loops, fails, lit, matmul, replay_fails,
};
use kiln_ir::schedule::Schedule;
use kiln_ir::trace::parse_trace_str;

fn loop_names(sch: &Schedule, block: &str) -> Vec<String> {
    sch.func().loops_of_block(block).unwrap().iter().map(|l| l.var.to_string()).collect()
}

#[test]
fn decompose_at_the_reduce_loop() {
    let (mut sch, c, l) = block_loops(matmul(16, 8, 4), "C", 0);
    let init = sch.decompose_reduction(c, l[2]).unwrap();
    assert_eq!(sch.block_name(init).unwrap(), "C_init");
    assert_eq!(sch.block_name(c).unwrap(), "C_update", "the handle follows the renamed block");
    assert_eq!(loop_names(&sch, "C_init"), ["i", "j"]);
    insta::assert_snapshot!("decompose_at_k_ir", sch.func().to_string());
    insta::assert_snapshot!("decompose_at_k_trace", sch.trace().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    sch.decompose_reduction(c, l[2]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn decompose_at_the_outermost_loop() {
    let (mut sch, c, l) = block_loops(matmul(16, 8, 4), "C", 0);
    sch.decompose_reduction(c, l[0]).unwrap();
    assert_eq!(loop_names(&sch, "C_init"), ["i_init", "j_init"]);
    insta::assert_snapshot!("decompose_at_i_ir", sch.func().to_string());

    let func = matmul(6, 7, 5);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    sch.decompose_reduction(c, l[0]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn decompose_the_chapters_nest_with_an_uneven_split() {
    // j: 37 = 5 x 8 - 3: the init copies j_1 and keeps the predicate on it.
    let func = matmul(10, 37, 3);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    assert_eq!(loop_names(&sch, "C_init"), ["i", "j_0", "j_1_init"]);
    assert_eq!(sch.func().block("C_init").unwrap().predicate.to_string(), "j_0 * 8 + j_1_init < 37");
    insta::assert_snapshot!("decompose_uneven_ir", sch.func().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn decompose_drops_the_predicate_of_the_reduce_loops() {
    // k: 7 = 4 x 2 - 1 only guards the update; j: 37 = 5 x 8 - 3 guards both.
    let func = matmul(4, 37, 7);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    let ks = sch.split(l[2], &[None, lit(2)]).unwrap();
    sch.reorder(&[l[0], js[0], ks[0], ks[1], js[1]]).unwrap();
    sch.decompose_reduction(c, ks[0]).unwrap();
    assert_eq!(sch.func().block("C_update").unwrap().predicate.to_string(), "j_0 * 8 + j_1 < 37 and k_0 * 2 + k_1 < 7");
    assert_eq!(sch.func().block("C_init").unwrap().predicate.to_string(), "j_0 * 8 + j_1_init < 37");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn decompose_keeps_the_spatial_part_of_a_predicate_on_both_kinds_of_loops() {
    // j, k fused (37 x 3 = 111) and split unevenly (10 x 4 x 3 = 120): vj =
    // f_0 * 4 + f_1 and vk = f_2, and one conjunct bounds them together. The
    // init runs where the update ran its init: at f_2 = 0, so it keeps
    // `f_0 * 12 + f_1 * 3 < 111` (dropping the conjunct would write c[_, 37..40]).
    let func = matmul(10, 37, 3);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    let f = sch.fuse(&[l[1], l[2]]).unwrap();
    let fs = sch.split(f, &[lit(10), lit(4), lit(3)]).unwrap();
    let mut at_i = sch.clone();
    at_i.decompose_reduction(c, l[0]).unwrap();
    assert_eq!(
        at_i.func().block("C_init").unwrap().predicate.to_string(),
        "j_k_fused_0_init * 12 + j_k_fused_1_init * 3 < 111"
    );
    assert_same_results(&func, at_i.func());
    assert_round_trips(&func, &at_i);
    // At the reduce loop itself: nothing to copy, the spatial loops are outside.
    sch.decompose_reduction(c, fs[2]).unwrap();
    assert_eq!(sch.func().block("C_init").unwrap().predicate.to_string(), "j_k_fused_0 * 12 + j_k_fused_1 * 3 < 111");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn decompose_copies_the_kinds_of_the_spatial_loops() {
    let func = matmul(8, 16, 4);
    let (mut sch, c, l) = block_loops(func.clone(), "C", 0);
    let js = sch.split(l[1], &[None, lit(8)]).unwrap();
    sch.reorder(&[l[2], js[1]]).unwrap();
    sch.parallel(l[0]).unwrap();
    sch.vectorize(js[1]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    let j1_init = sch.func().find_loop("j_1_init").unwrap();
    assert_eq!(j1_init.kind, ForKind::Vectorized);
    assert_eq!(sch.func().find_loop("i").unwrap().kind, ForKind::Parallel);
    // The loop handles stay valid and name the update's loops.
    assert_eq!(sch.loop_name(l[2]).unwrap(), "k");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn init_names_avoid_names_in_use() {
    let func = rename_block(&matmul(4, 4, 4), "C", "C_init");
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C_init").unwrap();
    let l = sch.get_loops(c).unwrap();
    let init = sch.decompose_reduction(c, l[2]).unwrap();
    assert_eq!(sch.block_name(init).unwrap(), "C_init_init");
    assert_eq!(sch.block_name(c).unwrap(), "C_init_update");
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition of `check_decompose_reduction` ----

fn rename_block(func: &PrimFunc, from: &str, to: &str) -> PrimFunc {
    replace_block(func, from, |mut br| {
        br.block.name = to.into();
        Stmt::Block(Box::new(br))
    })
    .unwrap()
}

#[test]
fn rejects_a_block_that_is_not_a_reduction_with_init() {
    // Decomposed already: C_update has no init.
    let (mut sch, c, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.decompose_reduction(c, l[2]).unwrap();
    let err = fails(&mut sch, "NotReduction", |s| s.decompose_reduction(c, l[2]));
    assert_eq!(err.to_string(), "decompose_reduction: block \"C_update\" is not a reduction block with an init");
    // An init but no reduce iteration variable.
    let func = replace_block(&matmul(8, 8, 8), "C", |mut br| {
        br.block.iter_vars[2].kind = IterKind::Spatial;
        Stmt::Block(Box::new(br))
    })
    .unwrap();
    let (mut sch, c, l) = block_loops(func, "C", 0);
    fails(&mut sch, "NotReduction", |s| s.decompose_reduction(c, l[2]));
}

/// The matmul followed by `d[i, j] = c[i, j] * 2` (block "E", loops `i2`, `j2`).
fn matmul_then_scale(n: i64) -> PrimFunc {
    let mut func = matmul(n, n, n);
    let (vi, vj) = (Var::new("vi"), Var::new("vj"));
    let idx = vec![Expr::var(&vi), Expr::var(&vj)];
    let e = BlockRealize {
        bindings: vec![Expr::var(&Var::new("i2")), Expr::var(&Var::new("j2"))],
        predicate: Expr::true_(),
        block: Block {
            name: "E".into(),
            iter_vars: vec![
                IterVar { var: vi.clone(), extent: n, kind: IterKind::Spatial },
                IterVar { var: vj.clone(), extent: n, kind: IterKind::Spatial },
            ],
            init: None,
            body: Store {
                buffer: "d".into(),
                indices: idx.clone(),
                value: Expr::Load(Load { buffer: "c".into(), dtype: DataType::F32, indices: idx })
                    * Expr::Const(Const::F32(2.0)),
            },
            annotations: Default::default(),
        },
    };
    let nest = For::new(Var::new("i2"), n, Stmt::For(Box::new(For::new(Var::new("j2"), n, Stmt::Block(Box::new(e))))));
    func.body = Stmt::Seq(vec![func.body, Stmt::For(Box::new(nest))]);
    func.params.push(Param { buffer: Buffer::new("d", DataType::F32, vec![n, n]), kind: ParamKind::Output });
    func
}

#[test]
fn rejects_a_loop_that_does_not_enclose_the_block() {
    let mut sch = Schedule::new(matmul_then_scale(8), 0);
    let c = sch.get_block("C").unwrap();
    let e = sch.get_block("E").unwrap();
    let le = sch.get_loops(e).unwrap();
    let err = fails(&mut sch, "NotAnAncestor", |s| s.decompose_reduction(c, le[0]));
    assert_eq!(err.to_string(), "decompose_reduction: loop `i2` does not enclose block \"C\"");
    // The other block's loops work for it.
    let l = sch.get_loops(c).unwrap();
    let func = sch.func().clone();
    sch.decompose_reduction(c, l[1]).unwrap();
    assert_same_results(&func, sch.func());
}

#[test]
fn rejects_a_reduce_loop_outside_the_given_loop() {
    // The chapter's nest i, j_0, k, j_1: decomposing at j_1 would rerun the init for each k.
    let (mut sch, c, l) = block_loops(matmul(8, 16, 8), "C", 0);
    let js = sch.split(l[1], &[None, lit(4)]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    let err = fails(&mut sch, "ReduceLoopOutside", |s| s.decompose_reduction(c, js[1]));
    assert!(err.to_string().contains("loop `k` drives a reduce variable of block \"C\" but is outside `j_1`"));
    // k outermost.
    let (mut sch, c, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.reorder(&[l[2], l[0]]).unwrap();
    fails(&mut sch, "ReduceLoopOutside", |s| s.decompose_reduction(c, l[1]));
    sch.decompose_reduction(c, l[2]).unwrap();
}

#[test]
fn a_unit_reduce_loop_outside_is_no_obstacle() {
    // k split [1, 8] outside the row loop: the init can go right above k_1
    // (under i), since k_0 runs once.
    let (mut sch, c, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let ks = sch.split(l[2], &[lit(1), None]).unwrap();
    sch.reorder(&[ks[0], l[0], l[1], ks[1]]).unwrap();
    let func = sch.func().clone();
    sch.decompose_reduction(c, ks[1]).unwrap();
    assert_same_results(&func, sch.func());
    assert_eq!(loop_names(&sch, "C_init"), ["k_0", "i", "j"]);
}

#[test]
fn rejects_a_loop_driving_spatial_and_reduce_variables() {
    let (mut sch, c, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let f = sch.fuse(&[l[1], l[2]]).unwrap();
    let err = fails(&mut sch, "MixedLoop", |s| s.decompose_reduction(c, l[0]));
    assert_eq!(
        err.to_string(),
        "decompose_reduction: loop `j_k_fused` drives both spatial and reduce variables of block \"C\""
    );
    fails(&mut sch, "MixedLoop", |s| s.decompose_reduction(c, f));
}

// ---- handles and trace instructions ----

#[test]
fn a_split_loop_cannot_be_the_decomposition_point() {
    let (mut sch, c, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let ks = sch.split(l[2], &[None, lit(4)]).unwrap();
    fails(&mut sch, "StaleHandle", |s| s.decompose_reduction(c, l[2]));
    sch.decompose_reduction(c, ks[0]).unwrap();
}

#[test]
fn malformed_decompose_reduction_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in [
        "b4 = sch.decompose_reduction(block=l1, loop=l3)",
        "b4 = sch.decompose_reduction(block=b0, loop=b0)",
        "b4 = sch.decompose_reduction(block=b0, loop=v3)",
        "b4 = sch.decompose_reduction(block=b0)",
        "b4 = sch.decompose_reduction(loop=l3)",
        "b4, b5 = sch.decompose_reduction(block=b0, loop=l3)",
        "sch.decompose_reduction(block=b0, loop=l3)",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
    assert!(parse_trace_str(&format!("{prefix}l4 = sch.decompose_reduction(block=b0, loop=l3)")).is_err());
}
