//! The walkthrough example (`examples/walkthrough.rs`, the MLC chapter
//! "Automatic Program Optimization"): sections 1–4 print what the chapter
//! prints — the traces line for line — and their whole output is stable
//! (an insta snapshot). Sections 5–7 time candidates and are not checked here
//! (`cargo test` builds the example, which checks that it compiles).

#[path = "../examples/walkthrough/chapter.rs"]
mod chapter;

use kiln_ir::schedule::Schedule;

use chapter::{my_module, schedule_mm, stochastic_schedule_mm};

#[test]
fn my_module_is_the_chapters_matmul() {
    let func = my_module();
    let mut want = kiln_ir::schedule::testing::matmul(128, 128, 128);
    want.name = "main".into();
    assert_eq!(func.to_string(), want.to_string());
}

#[test]
fn schedule_mm_trace_is_the_chapters() {
    let mut sch = Schedule::new(my_module(), 0);
    schedule_mm(&mut sch, 4);
    let want = [
        r#"b0 = sch.get_block(name="C", func_name="main")"#,
        r#"l1, l2, l3 = sch.get_loops(block=b0)"#,
        r#"l4, l5 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)"#,
        r#"sch.reorder(l1, l4, l3, l5)"#,
        r#"b6 = sch.decompose_reduction(block=b0, loop=l3)"#,
    ];
    let text = sch.trace().to_string();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
}

#[test]
fn stochastic_schedule_mm_trace_is_the_chapters() {
    let mut sch = Schedule::new(my_module(), 1);
    stochastic_schedule_mm(&mut sch);
    let text = sch.trace().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], r#"b0 = sch.get_block(name="C", func_name="main")"#);
    assert_eq!(lines[1], "l1, l2, l3 = sch.get_loops(block=b0)");
    let d = chapter::decisions(sch.trace());
    assert_eq!(
        lines[2],
        format!("v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision={d})")
    );
    assert_eq!(lines[3], "l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)");
    assert_eq!(lines[4], "sch.reorder(l1, l6, l3, l7)");
    assert_eq!(lines[5], "b8 = sch.decompose_reduction(block=b0, loop=l3)");
    // Different seeds, different decisions (the chapter runs it several times).
    let ds: std::collections::BTreeSet<String> = (0..5)
        .map(|seed| {
            let mut sch = Schedule::new(my_module(), seed);
            stochastic_schedule_mm(&mut sch);
            chapter::decisions(sch.trace())
        })
        .collect();
    assert!(ds.len() > 1, "{ds:?}");
}

#[test]
fn sections_1_to_4_are_stable() {
    insta::assert_snapshot!("sections_1_to_4", chapter::sections_1_to_4(&my_module()));
}
