//! Sections 1–4 of the walkthrough (the MLC chapter "Automatic Program
//! Optimization"): the chapter's functions and what they print. Shared by
//! `examples/walkthrough.rs` and `tests/walkthrough.rs`, which snapshots the
//! output — it is deterministic (no timing).

use std::fmt::Write;

use kiln_ir::interp;
use kiln_ir::ir::PrimFunc;
use kiln_ir::parse::parse_kernel_str;
use kiln_ir::schedule::testing::random_args;
use kiln_ir::schedule::{ExprRV, Schedule};
use kiln_ir::trace::{Decision, Trace};

/// The chapter's `MyModule`, as the inside of a `tensor_func!`.
pub const MY_MODULE: &str = r#"
pub fn main(a: [f32; 128, 128], b: [f32; 128, 128], c: &mut [f32; 128, 128]) {
    for (i, j, k) in grid(128, 128, 128) {
        block("C") {
            let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
            init { c[vi, vj] = 0.0; }
            c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
        }
    }
}
"#;

/// `MyModule`, parsed the way `tensor_func!` parses it.
pub fn my_module() -> PrimFunc {
    parse_kernel_str(MY_MODULE).unwrap_or_else(|e| panic!("MyModule does not parse: {e}")).func
}

/// A section heading.
pub fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{}\n{title}\n{}", "=".repeat(title.chars().count()), "=".repeat(title.chars().count()));
}

/// The chapter's `schedule_mm(sch, jfactor=4)`.
pub fn schedule_mm(sch: &mut Schedule, jfactor: i64) {
    let block_c = sch.get_block("C").unwrap();
    let l = sch.get_loops(block_c).unwrap();
    let (i, j, k) = (l[0], l[1], l[2]);
    let js = sch.split(j, &[None, Some(jfactor.into())]).unwrap();
    sch.reorder(&[i, js[0], k, js[1]]).unwrap();
    sch.decompose_reduction(block_c, k).unwrap();
}

/// The chapter's `stochastic_schedule_mm(sch)`: j's factors are sampled.
pub fn stochastic_schedule_mm(sch: &mut Schedule) {
    let block_c = sch.get_block("C").unwrap();
    let l = sch.get_loops(block_c).unwrap();
    let (i, j, k) = (l[0], l[1], l[2]);
    let j_factors = sch.sample_perfect_tile(j, 2, 16, None).unwrap();
    let js = sch.split(j, &[Some(j_factors[0].into()), Some(j_factors[1].into())]).unwrap();
    sch.reorder(&[i, js[0], k, js[1]]).unwrap();
    sch.decompose_reduction(block_c, k).unwrap();
}

/// Whether `new` computes what `orig` computes (the interpreter, random
/// inputs), up to rounding: schedules that reassociate the reduction
/// (`rfactor`) round differently.
pub fn same_results(orig: &PrimFunc, new: &PrimFunc) -> bool {
    let mut want = random_args(orig, 1);
    interp::run(orig, &mut want).unwrap();
    let mut got = random_args(orig, 1);
    interp::run(new, &mut got).unwrap();
    want.iter().zip(&got).all(|(w, g)| {
        let scale = (0..w.len()).map(|i| w.get(i).abs()).fold(1.0, f64::max);
        w.len() == g.len() && (0..w.len()).all(|i| (w.get(i) - g.get(i)).abs() <= 1e-5 * scale)
    })
}

fn values(sch: &Schedule, vs: &[ExprRV]) -> Vec<i64> {
    vs.iter().map(|v| sch.get(*v).unwrap()).collect()
}

/// The decisions of a trace, printed (`[32, 4]`).
pub fn decisions(trace: &Trace) -> String {
    let ds: Vec<String> = trace
        .decisions()
        .into_iter()
        .map(|d| match d {
            None => "None".into(),
            Some(Decision::Int(v)) => v.to_string(),
            Some(Decision::Ints(v)) => format!("{v:?}"),
        })
        .collect();
    ds.join(", ")
}

/// Section 1: the program.
pub fn section1(out: &mut String, func: &PrimFunc) {
    heading(out, "1. MyModule");
    let src: Vec<String> = MY_MODULE.trim().lines().map(|l| format!("    {l}")).collect();
    let _ = writeln!(out, "kiln::tensor_func! {{\n{}\n}}\n", src.join("\n"));
    let _ = writeln!(out, "MyModule.show():\n{func}");
}

/// Section 2: `schedule_mm`, its IR and its trace; checked with the interpreter.
pub fn section2(out: &mut String, func: &PrimFunc) {
    heading(out, "2. schedule_mm(sch, jfactor=4)");
    let mut sch = Schedule::new(func.clone(), 0);
    schedule_mm(&mut sch, 4);
    let _ = writeln!(out, "sch.mod.show():\n{}", sch.func());
    let _ = writeln!(out, "print(sch.trace):\n{}", sch.trace());
    let ok = same_results(func, sch.func());
    let _ =
        writeln!(out, "interpreter: the scheduled function {} MyModule", if ok { "matches" } else { "DIFFERS FROM" });
}

/// Section 3: `stochastic_schedule_mm` with several seeds.
pub fn section3(out: &mut String, func: &PrimFunc, seeds: &[u64]) {
    heading(out, "3. stochastic_schedule_mm(sch)");
    for &seed in seeds {
        let mut sch = Schedule::new(func.clone(), seed);
        stochastic_schedule_mm(&mut sch);
        let _ = writeln!(out, "-- Schedule::new(MyModule, seed={seed}): decision {}", decisions(sch.trace()));
        let _ = writeln!(out, "{}", sch.trace());
    }
}

/// Section 4: the stochastic schedule step by step, the IR after each step.
pub fn section4(out: &mut String, func: &PrimFunc, seed: u64) {
    heading(out, "4. stochastic_schedule_mm, step by step");
    let mut sch = Schedule::new(func.clone(), seed);
    let block_c = sch.get_block("C").unwrap();
    let l = sch.get_loops(block_c).unwrap();
    let (i, j, k) = (l[0], l[1], l[2]);
    let _ = writeln!(out, ">>> block_C = sch.get_block(\"C\", \"main\")\n>>> i, j, k = sch.get_loops(block=block_C)");
    let j_factors = sch.sample_perfect_tile(j, 2, 16, None).unwrap();
    let _ = writeln!(out, ">>> j_factors = sch.sample_perfect_tile(loop=j, n=2, max_innermost_factor=16)");
    let _ = writeln!(out, ">>> [int(x) for x in j_factors]\n{:?}", values(&sch, &j_factors));
    let _ = writeln!(out, ">>> sch.mod.show()   # sampling does not change the program\n{}", sch.func());
    let js = sch.split(j, &[Some(j_factors[0].into()), Some(j_factors[1].into())]).unwrap();
    let _ = writeln!(out, ">>> j_0, j_1 = sch.split(loop=j, factors=j_factors)\n>>> sch.mod.show()\n{}", sch.func());
    sch.reorder(&[i, js[0], k, js[1]]).unwrap();
    let _ = writeln!(out, ">>> sch.reorder(i, j_0, k, j_1)\n>>> sch.mod.show()\n{}", sch.func());
    sch.decompose_reduction(block_c, k).unwrap();
    let _ = writeln!(out, ">>> sch.decompose_reduction(block_C, k)\n>>> sch.mod.show()\n{}", sch.func());
    let _ = writeln!(out, ">>> print(sch.trace)\n{}", sch.trace());
}

/// Sections 1–4.
pub fn sections_1_to_4(func: &PrimFunc) -> String {
    let mut out = String::new();
    section1(&mut out, func);
    section2(&mut out, func);
    section3(&mut out, func, &[0, 1, 2, 3, 4]);
    section4(&mut out, func, 1);
    out
}
