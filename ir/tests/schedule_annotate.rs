//! `annotate`, `unannotate` (primitive/annotate.rs): expected IR, trace round
//! trips, unchanged results, stale handles, malformed trace instructions, and
//! one failure per `AnnotateError` condition.

use kiln_ir::ir::AnnValue;
use kiln_ir::schedule::primitive::annotate::{AnnArg, AnnTarget};
use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, block_loops, fails, matmul, replay_fails};
use kiln_ir::schedule::{Factor, Schedule};
use kiln_ir::trace::parse_trace_str;

const UNROLL: &str = "pragma_auto_unroll_max_step";

#[test]
fn annotate_a_loop() {
    let (mut sch, _, l) = block_loops(matmul(16, 8, 4), "C", 0);
    sch.annotate(AnnTarget::Loop(l[0]), UNROLL, AnnArg::Int(64)).unwrap();
    sch.annotate(AnnTarget::Loop(l[0]), "pragma_unroll_explicit", AnnArg::Int(1)).unwrap();
    let i = sch.func().find_loop("i").unwrap();
    assert_eq!(i.annotations.get(UNROLL), Some(&AnnValue::Int(64)));
    insta::assert_snapshot!("annotate_loop_ir", sch.func().to_string());
    insta::assert_snapshot!("annotate_loop_trace", sch.trace().to_string());

    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.annotate(AnnTarget::Loop(l[1]), UNROLL, AnnArg::Int(-1)).unwrap();
    sch.annotate(AnnTarget::Loop(l[2]), "note", AnnArg::Str("k loop".into())).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn annotate_a_block_with_a_sampled_value() {
    // MetaSchedule's unroll rule: a sampled candidate becomes a block annotation.
    let func = matmul(10, 37, 3);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let v = sch.sample_categorical(&[0, 16, 64, 512], &[0.25, 0.25, 0.25, 0.25], Some(2)).unwrap();
    sch.annotate(AnnTarget::Block(c), "meta_schedule.unroll_explicit", AnnArg::Rv(v)).unwrap();
    sch.annotate(AnnTarget::Block(c), "schedule_rule", AnnArg::Str("None".into())).unwrap();
    let attrs = &sch.func().block("C").unwrap().block.annotations;
    assert_eq!(attrs.get("meta_schedule.unroll_explicit"), Some(&AnnValue::Int(64)));
    insta::assert_snapshot!("annotate_block_ir", sch.func().to_string());
    insta::assert_snapshot!("annotate_block_trace", sch.trace().to_string());
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn annotate_again_replaces_the_value() {
    let func = matmul(8, 8, 8);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    sch.annotate(AnnTarget::Loop(l[2]), UNROLL, AnnArg::Int(16)).unwrap();
    sch.annotate(AnnTarget::Loop(l[2]), UNROLL, AnnArg::Str("max".into())).unwrap();
    let k = sch.func().find_loop("k").unwrap();
    assert_eq!(k.annotations.len(), 1);
    assert_eq!(k.annotations.get(UNROLL), Some(&AnnValue::Str("max".into())));
    assert_round_trips(&func, &sch);
}

#[test]
fn annotation_strings_round_trip_through_the_trace() {
    let func = matmul(8, 8, 8);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let awkward = "a \"quoted\" back\\slash, comma) and unicode ✓";
    sch.annotate(AnnTarget::Loop(l[0]), "key with \"quotes\"", AnnArg::Str(awkward.into())).unwrap();
    let i = sch.func().find_loop("i").unwrap();
    assert_eq!(i.annotations.get("key with \"quotes\""), Some(&AnnValue::Str(awkward.into())));
    assert_round_trips(&func, &sch);
}

#[test]
fn unannotate_removes_the_key() {
    let func = matmul(16, 8, 4);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let c = sch.get_block("C").unwrap();
    sch.annotate(AnnTarget::Loop(l[1]), UNROLL, AnnArg::Int(16)).unwrap();
    sch.annotate(AnnTarget::Block(c), "meta_schedule.tiling_structure", AnnArg::Str("SSRSRS".into())).unwrap();
    sch.unannotate(AnnTarget::Loop(l[1]), UNROLL).unwrap();
    sch.unannotate(AnnTarget::Block(c), "meta_schedule.tiling_structure").unwrap();
    assert_eq!(sch.func(), &func, "annotate then unannotate gives back the function");
    insta::assert_snapshot!("unannotate_trace", sch.trace().to_string());
    assert_round_trips(&func, &sch);
}

#[test]
fn annotations_follow_a_renamed_block() {
    // decompose_reduction renames C to C_update; the handle follows it.
    let func = matmul(10, 37, 3);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let c = sch.get_block("C").unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    sch.annotate(AnnTarget::Block(c), "k", AnnArg::Int(1)).unwrap();
    assert!(sch.func().block("C_update").unwrap().block.annotations.contains_key("k"));
    sch.unannotate(AnnTarget::Block(c), "k").unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

// ---- failures: one per condition ----

#[test]
fn rejects_an_empty_key() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let c = sch.get_block("C").unwrap();
    let err = fails(&mut sch, "EmptyKey", |s| s.annotate(AnnTarget::Loop(l[0]), "", AnnArg::Int(1)));
    assert_eq!(err.to_string(), "annotate: the annotation key on loop `i` is empty");
    let err = fails(&mut sch, "EmptyKey", |s| s.annotate(AnnTarget::Block(c), "", AnnArg::Str("x".into())));
    assert_eq!(err.to_string(), "annotate: the annotation key on block \"C\" is empty");
}

#[test]
fn rejects_removing_a_missing_key() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    let c = sch.get_block("C").unwrap();
    let err = fails(&mut sch, "Missing", |s| s.unannotate(AnnTarget::Loop(l[0]), UNROLL));
    assert_eq!(err.to_string(), "annotate: loop `i` has no annotation \"pragma_auto_unroll_max_step\"");
    // The key on a loop is not on the block, nor on another loop.
    sch.annotate(AnnTarget::Loop(l[0]), UNROLL, AnnArg::Int(16)).unwrap();
    fails(&mut sch, "Missing", |s| s.unannotate(AnnTarget::Block(c), UNROLL));
    fails(&mut sch, "Missing", |s| s.unannotate(AnnTarget::Loop(l[1]), UNROLL));
    sch.unannotate(AnnTarget::Loop(l[0]), UNROLL).unwrap();
    fails(&mut sch, "Missing", |s| s.unannotate(AnnTarget::Loop(l[0]), UNROLL));
}

// ---- handles and trace instructions ----

#[test]
fn a_split_loop_cannot_be_annotated() {
    let (mut sch, _, l) = block_loops(matmul(8, 8, 8), "C", 0);
    sch.annotate(AnnTarget::Loop(l[1]), UNROLL, AnnArg::Int(16)).unwrap();
    sch.split(l[1], &[None, Some(Factor::Int(4))]).unwrap();
    fails(&mut sch, "StaleHandle", |s| s.annotate(AnnTarget::Loop(l[1]), UNROLL, AnnArg::Int(1)));
    fails(&mut sch, "StaleHandle", |s| s.unannotate(AnnTarget::Loop(l[1]), UNROLL));
}

#[test]
fn malformed_annotate_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n\
                  v4 = sch.sample_categorical(candidates=[1, 2], probs=[0.5, 0.5], decision=0)\n";
    for line in [
        "sch.annotate(block_or_loop=v4, ann_key=\"k\", ann_val=1)",
        "sch.annotate(block_or_loop=7, ann_key=\"k\", ann_val=1)",
        "sch.annotate(block_or_loop=l1, ann_key=1, ann_val=1)",
        "sch.annotate(block_or_loop=l1, ann_key=\"k\", ann_val=l2)",
        "sch.annotate(block_or_loop=l1, ann_key=\"k\", ann_val=[1])",
        "sch.annotate(block_or_loop=l1, ann_key=\"k\", ann_val=0.5)",
        "sch.annotate(block_or_loop=l1, ann_key=\"k\")",
        "sch.annotate(block_or_loop=b9, ann_key=\"k\", ann_val=1)",
        "sch.unannotate(block_or_loop=l1)",
        "sch.unannotate(block_or_loop=v4, ann_key=\"k\")",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 4, "{line}: {err}");
    }
}

#[test]
fn string_values_with_quotes_print_escaped_and_round_trip() {
    let func = matmul(8, 8, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    sch.annotate(AnnTarget::Loop(l[0]), "note", AnnArg::Str("say \"hi\" \\ ok".into())).unwrap();
    let printed = sch.func().to_string();
    assert!(printed.contains(r#""note": "say \"hi\" \\ ok""#), "{printed}");
    assert_round_trips(&func, &sch);
}
