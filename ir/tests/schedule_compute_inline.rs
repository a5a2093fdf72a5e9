//! `compute_inline` and `reverse_compute_inline`: the IR they produce, trace
//! round trips, unchanged results, and one failure per checked condition.

mod common;

use common::build::*;
use kiln_ir::ir::{BinOp, Block, BlockRealize, Expr, For, IterKind, IterVar, PrimFunc, Stmt, Var};
use kiln_ir::schedule::testing::{assert_equivalent, fails};
use kiln_ir::schedule::{Schedule, ScheduleError};

// ---- checks ----

/// `f` with `block` inlined into its consumers.
fn inline(f: &PrimFunc, block: &str) -> Schedule {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    sch.compute_inline(b).unwrap();
    sch
}

/// `f` with `block` inlined into its producer.
fn reverse_inline(f: &PrimFunc, block: &str) -> Schedule {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    sch.reverse_compute_inline(b).unwrap();
    sch
}

/// Inlining `block` of `f` into its consumers fails with `kind`.
fn inline_fails(f: &PrimFunc, block: &str, kind: &str) -> ScheduleError {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    fails(&mut sch, kind, |s| s.compute_inline(b))
}

/// Inlining `block` of `f` into its producer fails with `kind`.
fn reverse_inline_fails(f: &PrimFunc, block: &str, kind: &str) -> ScheduleError {
    let mut sch = Schedule::new(f.clone(), 0);
    let b = sch.get_block(block).unwrap();
    fails(&mut sch, kind, |s| s.reverse_compute_inline(b))
}

// ---- compute_inline ----

#[test]
fn compute_inline_elementwise() {
    let f = two_block(8, 8);
    let sch = inline(&f, "y");
    insta::assert_snapshot!("compute_inline_ir", sch.func().to_string());
    insta::assert_snapshot!("compute_inline_trace", sch.trace().to_string());
    assert!(sch.func().allocs.is_empty());
    assert_equivalent(&f, &sch);
}

#[test]
fn compute_inline_pad_into_conv() {
    let f = padded_conv1d(10);
    let sch = inline(&f, "pad");
    insta::assert_snapshot!("compute_inline_pad_ir", sch.func().to_string());
    assert_equivalent(&f, &sch);
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
    let sch = inline(&f, "y");
    let text = sch.func().to_string();
    assert!(text.contains("z1[vi] = a[vi] * T.float32(2.0) + a[vi + 1] * T.float32(2.0)"), "{text}");
    assert!(!text.contains("alloc_buffer"), "{text}");
    assert_equivalent(&f, &sch);
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
    let sch = inline(&f, "y");
    assert_eq!(sch.func().allocs.iter().map(|b| b.name.to_string()).collect::<Vec<_>>(), vec!["x"]);
    assert_equivalent(&f, &sch);
}

// ---- reverse_compute_inline ----

#[test]
fn reverse_compute_inline_elementwise() {
    let f = two_block(8, 8);
    let sch = reverse_inline(&f, "z");
    insta::assert_snapshot!("reverse_compute_inline_ir", sch.func().to_string());
    insta::assert_snapshot!("reverse_compute_inline_trace", sch.trace().to_string());
    assert!(sch.func().allocs.is_empty());
    assert_equivalent(&f, &sch);
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
    let sch = reverse_inline(&f, "z");
    insta::assert_snapshot!("reverse_compute_inline_transposed_ir", sch.func().to_string());
    assert_equivalent(&f, &sch);
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
    assert_equivalent(&f, &sch);
}

// ---- compute_inline failures, one per condition ----

#[test]
fn compute_inline_fails_not_complete() {
    let f = reduce_then_add();
    inline_fails(&f, "r", "NotComplete");
}

#[test]
fn compute_inline_fails_output_block() {
    let f = two_block(8, 8);
    inline_fails(&f, "z", "OutputBlock");
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
    inline_fails(&f, "y", "StoreNotPlain");
}

#[test]
fn compute_inline_fails_not_sole_writer() {
    let f = two_writers();
    inline_fails(&f, "y1", "NotSoleWriter");
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
    inline_fails(&f, "y", "ReadsOwnOutput");
}

#[test]
fn compute_inline_fails_no_consumer() {
    let f = dead();
    inline_fails(&f, "y", "NoConsumer");
}

#[test]
fn compute_inline_fails_consumer_before_block() {
    let f = reversed();
    inline_fails(&f, "y", "ConsumerBeforeBlock");
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
    inline_fails(&f, "y", "InputOverwritten");
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
    inline_fails(&f, "y", "InputOverwritten");
}

// ---- reverse_compute_inline failures, one per condition ----

#[test]
fn reverse_compute_inline_fails_not_complete() {
    let f = add_then_reduce();
    reverse_inline_fails(&f, "r", "NotComplete");
}

#[test]
fn reverse_compute_inline_fails_predicated() {
    let f = two_block(8, 8);
    let mut sch = Schedule::new(f.clone(), 0);
    let z = sch.get_block("z").unwrap();
    let l = sch.get_loops(z).unwrap();
    sch.split(l[1], &[None, Some(3.into())]).unwrap();
    fails(&mut sch, "Predicated", |s| s.reverse_compute_inline(z));
}

#[test]
fn reverse_compute_inline_fails_no_producer() {
    let f = func(
        "single",
        vec![input("a", &[8]), output("z", &[8])],
        vec![],
        vec![ew("z", "i", 8, "z", ld("a", vec![v("vi")]) + f32c(1.0))],
    );
    reverse_inline_fails(&f, "z", "NoProducer");
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
    reverse_inline_fails(&f, "z", "SeveralProducedInputs");
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
    reverse_inline_fails(&f, "z", "NotIntermediate");
}

#[test]
fn reverse_compute_inline_fails_not_single_producer() {
    let f = halves();
    reverse_inline_fails(&f, "z", "NotSingleProducer");
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
    reverse_inline_fails(&f, "z", "OtherReaders");
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
    reverse_inline_fails(&f, "z", "LoadNotPlain");
}

#[test]
fn reverse_compute_inline_fails_producer_not_complete() {
    let f = reduce_then_add();
    reverse_inline_fails(&f, "z", "ProducerNotComplete");
}

#[test]
fn reverse_compute_inline_fails_producer_store_not_plain() {
    let f = strided();
    reverse_inline_fails(&f, "z", "ProducerStoreNotPlain");
}

#[test]
fn reverse_compute_inline_fails_producer_after_block() {
    let f = reversed();
    reverse_inline_fails(&f, "z", "ProducerAfterBlock");
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
    reverse_inline_fails(&f, "z", "DomainMismatch");
}

#[test]
fn reverse_compute_inline_fails_output_accessed() {
    let f = early_reader();
    reverse_inline_fails(&f, "z", "OutputAccessed");
}
