//! The chapter's `schedule_mm` on `MyModule`, end to end through the trace.

use kiln_ir::interp;
use kiln_ir::schedule::testing::{matmul, random_args};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::trace::{parse_trace_str, Trace};

fn schedule_mm(sch: &mut Schedule, jfactor: i64) {
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let (i, j, k) = (l[0], l[1], l[2]);
    let js = sch.split(j, &[None, Some(jfactor.into())]).unwrap();
    sch.reorder(&[i, js[0], k, js[1]]).unwrap();
    sch.decompose_reduction(c, k).unwrap();
}

#[test]
fn schedule_mm_prints_like_the_chapter() {
    let mut sch = Schedule::new(matmul(128, 128, 128), 0);
    schedule_mm(&mut sch, 4);
    insta::assert_snapshot!("schedule_mm_ir", sch.func().to_string());
    insta::assert_snapshot!("schedule_mm_trace", sch.trace().to_string());
}

#[test]
fn schedule_mm_keeps_results_and_round_trips() {
    let func = matmul(32, 24, 16);
    let mut sch = Schedule::new(func.clone(), 0);
    schedule_mm(&mut sch, 4);
    let mut want = random_args(&func, 1);
    interp::run(&func, &mut want).unwrap();
    let mut got = random_args(&func, 1);
    interp::run(sch.func(), &mut got).unwrap();
    assert_eq!(want, got);

    let text = sch.trace().to_string();
    let parsed = parse_trace_str(&text).unwrap();
    let again = Schedule::replay(&func, &parsed, 0, DecisionMode::Strict).unwrap();
    assert_eq!(again.func(), sch.func());
    assert_eq!(again.trace().to_string(), text);

    let json = serde_json::to_string(&sch.trace().to_json()).unwrap();
    let back = Trace::from_json(&serde_json::from_str(&json).unwrap()).unwrap();
    let again = Schedule::replay(&func, &back, 0, DecisionMode::Strict).unwrap();
    assert_eq!(again.func(), sch.func());
    assert_eq!(again.trace().to_string(), text);
}
