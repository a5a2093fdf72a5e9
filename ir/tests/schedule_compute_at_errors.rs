//! `compute_at` and `reverse_compute_at`: one failure per checked condition
//! (each leaves the schedule unchanged: `fails`).

mod common;

use common::build::*;
use kiln_ir::ir::{BinOp, Buffer, DataType, Expr, For, Load, Param, ParamKind, Stmt, Var};
use kiln_ir::schedule::testing::{assert_equivalent, fails};
use kiln_ir::schedule::Schedule;

// ---- compute_at failures, one per condition ----

#[test]
fn compute_at_fails_block_under_loop() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    fails(&mut sch, "BlockUnderLoop", |s| s.compute_at(y, ly[1], true, -1));
}

#[test]
fn compute_at_fails_output_block() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    fails(&mut sch, "OutputBlock", |s| s.compute_at(z, ly[0], true, -1));
}

#[test]
fn compute_at_fails_decomposed_reduction() {
    let f = reduce_then_add();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let lr = sch.get_loops(r).unwrap();
    sch.decompose_reduction(r, lr[1]).unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    fails(&mut sch, "NotCompleteOrReduction", |s| s.compute_at(r, lz[0], true, -1));
}

#[test]
fn compute_at_fails_not_sole_writer() {
    let f = two_writers();
    let mut sch = Schedule::new(f.clone(), 0);
    let y1 = sch.get_block("y1").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    fails(&mut sch, "NotSoleWriter", |s| s.compute_at(y1, lz[0], true, -1));
}

#[test]
fn compute_at_fails_store_not_plain() {
    let f = strided();
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    fails(&mut sch, "StoreNotPlain", |s| s.compute_at(y, lz[0], true, -1));
}

#[test]
fn compute_at_fails_no_consumer() {
    let f = dead();
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    fails(&mut sch, "NoConsumer", |s| s.compute_at(y, lz[0], true, -1));
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
    // Under the second consumer, the first runs before the new nest.
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z2 = sch.get_block("z2").unwrap();
    let l = sch.get_loops(z2).unwrap();
    fails(&mut sch, "ConsumerNotUnderLoop", |s| s.compute_at(y, l[0], true, -1));
    // Under the first, the second runs after the nest, which computes all of `y`.
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z1 = sch.get_block("z1").unwrap();
    let l = sch.get_loops(z1).unwrap();
    sch.compute_at(y, l[0], true, -1).unwrap();
    kiln_ir::schedule::testing::assert_same_results(&f, sch.func());
}

#[test]
fn compute_at_fails_consumer_before_block() {
    let f = reversed();
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    fails(&mut sch, "ConsumerBeforeBlock", |s| s.compute_at(y, lz[0], true, -1));
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
    fails(&mut sch, "InputOverwritten", |s| s.compute_at(y, lz[0], true, -1));
}

#[test]
fn compute_at_fails_bad_index() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let lz = sch.get_loops(z).unwrap();
    let js = sch.split(lz[1], &[None, Some(4.into())]).unwrap();
    for index in [1, -3] {
        fails(&mut sch, "BadIndex", |s| s.compute_at(y, js[0], true, index));
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
    fails(&mut sch, "RegionNotAffine", |s| s.compute_at(y, lz[0], true, -1));
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
    fails(&mut sch, "StaleHandle", |s| s.compute_at(y, ly[0], true, -1));
}

// ---- reverse_compute_at failures, one per condition ----

#[test]
fn reverse_compute_at_fails_block_under_loop() {
    let f = matmul_write_back(8, 8, 4);
    let mut sch = Schedule::new(f.clone(), 0);
    let wb = sch.get_block("C_local").unwrap();
    let l = sch.get_loops(wb).unwrap();
    fails(&mut sch, "BlockUnderLoop", |s| s.reverse_compute_at(wb, l[1], true, -1));
}

#[test]
fn reverse_compute_at_fails_decomposed_reduction() {
    let f = add_then_reduce();
    let mut sch = Schedule::new(f.clone(), 0);
    let r = sch.get_block("r").unwrap();
    let lr = sch.get_loops(r).unwrap();
    sch.decompose_reduction(r, lr[1]).unwrap();
    let y = sch.get_block("y").unwrap();
    let ly = sch.get_loops(y).unwrap();
    fails(&mut sch, "NotCompleteOrReduction", |s| s.reverse_compute_at(r, ly[0], true, -1));
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
    assert_equivalent(&f, &sch);
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
    fails(&mut sch, "NoProducerUnderLoop", |s| s.reverse_compute_at(z, lw[0], true, -1));
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
    fails(&mut sch, "SeveralProducedInputs", |s| s.reverse_compute_at(z, l[0], true, -1));
}

#[test]
fn reverse_compute_at_fails_producer_not_under_loop() {
    let f = halves();
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let lo = sch.get_block("y_lo").unwrap();
    let l = sch.get_loops(lo).unwrap();
    fails(&mut sch, "ProducerNotUnderLoop", |s| s.reverse_compute_at(z, l[0], true, -1));
}

#[test]
fn reverse_compute_at_fails_producer_after_block() {
    let f = reversed();
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    fails(&mut sch, "ProducerAfterBlock", |s| s.reverse_compute_at(z, ly[0], true, -1));
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
    fails(&mut sch, "LoadNotPlain", |s| s.reverse_compute_at(z, ly[0], true, -1));
}

#[test]
fn reverse_compute_at_fails_output_accessed() {
    // w reads z's output before z writes it; z moved under y would write it first.
    let f = early_reader();
    let mut sch = Schedule::new(f.clone(), 0);
    let y = sch.get_block("y").unwrap();
    let z = sch.get_block("z").unwrap();
    let ly = sch.get_loops(y).unwrap();
    fails(&mut sch, "OutputAccessed", |s| s.reverse_compute_at(z, ly[0], true, -1));
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
    fails(&mut sch, "InputOverwritten", |s| s.reverse_compute_at(z, ly[0], true, -1));
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
    fails(&mut sch, "BadIndex", |s| s.reverse_compute_at(wb, js[0], true, 0));
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
    fails(&mut sch, "ReductionSplit", |s| s.reverse_compute_at(r, js[0], true, -1));
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
    fails(&mut sch, "RegionNotAffine", |s| s.reverse_compute_at(z, ly[0], true, -1));
}
