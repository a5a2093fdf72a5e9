//! The chapter's `schedule_mm` on `MyModule`, end to end through the trace.

use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, matmul};
use kiln_ir::schedule::Schedule;

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
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}
