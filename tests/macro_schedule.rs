//! `tensor_func!` with a `schedule { .. }` section: the trace text is replayed
//! at compile time, for every ISA, instead of the default schedule.
//!
//! Each kernel's hidden `__kiln_schedule_of_<kernel>` constant says, per ISA
//! (best first), where its schedule came from, the trace (with the decisions
//! taken) and the scheduled IR, as text.

use kiln::{tensor_func, Isa};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::trace::parse_trace_str;

// The chapter's `schedule_mm`, copied from `print(sch.trace)`.
const SCHEDULE_MM: &str = r#"b0 = sch.get_block(name="C", func_name="main")
l1, l2, l3 = sch.get_loops(block=b0)
l4, l5 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)
sch.reorder(l1, l4, l3, l5)
b6 = sch.decompose_reduction(block=b0, loop=l3)
"#;

tensor_func! {
    pub fn mm(a: [f32; 128, 128], b: [f32; 128, 128], c: &mut [f32; 128, 128]) {
        for (i, j, k) in grid(128, 128, 128) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        l4, l5 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)
        sch.reorder(l1, l4, l3, l5)
        b6 = sch.decompose_reduction(block=b0, loop=l3)
    }
}

/// The chapter's IR after `schedule_mm` (its `sch.mod.show()`).
const SCHEDULED_MM_BODY: &str = r#"    for i, j_0 in T.grid(128, 32):
        for j_1_init in range(4):
            with T.block("C_init"):
                vi = T.axis.spatial(128, i)
                vj = T.axis.spatial(128, j_0 * 4 + j_1_init)
                T.reads()
                T.writes(c[vi, vj])
                c[vi, vj] = T.float32(0.0)
        for k, j_1 in T.grid(128, 4):
            with T.block("C_update"):
                vi = T.axis.spatial(128, i)
                vj = T.axis.spatial(128, j_0 * 4 + j_1)
                vk = T.axis.reduce(128, k)
                T.reads(c[vi, vj], a[vi, vk], b[vk, vj])
                T.writes(c[vi, vj])
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj]
"#;

fn matmul_ref(a: &[f32], b: &[f32], n: usize, k: usize, m: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; n * m];
    for i in 0..n {
        for kk in 0..k {
            for j in 0..m {
                c[i * m + j] += a[i * k + kk] * b[kk * m + j];
            }
        }
    }
    c
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32).map(|x| ((x.wrapping_mul(2654435761).wrapping_add(seed) >> 16) % 17) as f32 / 8.0 - 1.0).collect()
}

type Run = fn(Isa, &[f32], &[f32], &mut [f32]) -> Result<(), kiln::Error>;

/// Runs `run` on every ISA this CPU supports and compares with the reference.
fn check_matmul(run: Run, n: usize, k: usize, m: usize) {
    let (a, b) = (data(n * k, 1), data(k * m, 2));
    let want = matmul_ref(&a, &b, n, k, m);
    for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| kiln::runtime::supported(*i)) {
        let mut c = vec![f32::NAN; n * m];
        run(isa, &a, &b, &mut c).unwrap();
        for (x, (g, w)) in c.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{isa}: c[{x}] = {g}, want {w}");
        }
    }
}

#[test]
fn schedule_section_gives_the_scheduled_loop_nest() {
    assert_eq!(__kiln_schedule_of_mm.len(), 3);
    for (isa, source, trace, ir) in __kiln_schedule_of_mm {
        assert!(source.starts_with("schedule section ("), "{isa}: {source}");
        // Replaying the printed trace prints the same trace.
        assert_eq!(trace, SCHEDULE_MM, "{isa}");
        let body = ir.split_once("# with T.block(\"root\"):\n").map(|(_, b)| b).unwrap_or(ir);
        assert_eq!(body, SCHEDULED_MM_BODY, "{isa}:\n{ir}");
    }
}

#[test]
fn schedule_section_computes_the_product() {
    check_matmul(try_mm_on, 128, 128, 128);
}

// The chapter's `stochastic_schedule_mm`: a design space (sampling, no
// decision). The macro draws the decisions from a fixed seed.
tensor_func! {
    pub fn mm_sampled(a: [f32; 64, 48], b: [f32; 48, 96], c: &mut [f32; 64, 96]) {
        for (i, j, k) in grid(64, 96, 48) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16)
        l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)
        sch.reorder(l1, l6, l3, l7)
        b8 = sch.decompose_reduction(block=b0, loop=l3)
        sch.vectorize(loop=l7)
    }
}

// The same kernel under another name: the same decisions.
tensor_func! {
    pub fn mm_sampled_again(a: [f32; 64, 48], b: [f32; 48, 96], c: &mut [f32; 64, 96]) {
        for (i, j, k) in grid(64, 96, 48) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16)
        l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)
        sch.reorder(l1, l6, l3, l7)
        b8 = sch.decompose_reduction(block=b0, loop=l3)
        sch.vectorize(loop=l7)
    }
}

/// The decision of the `sample_perfect_tile` line of a printed trace.
fn tile_decision(trace: &str) -> Vec<i64> {
    let line = trace.lines().find(|l| l.contains("sample_perfect_tile")).expect("a sampling step");
    let list = line.split("decision=[").nth(1).and_then(|r| r.split(']').next()).expect("a decision");
    list.split(',').map(|x| x.trim().parse().unwrap()).collect()
}

#[test]
fn sampling_without_decisions_is_deterministic() {
    let first = tile_decision(__kiln_schedule_of_mm_sampled[0].2);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0] * first[1], 96, "{first:?}");
    assert!(first[1] <= 16, "{first:?}");
    for (isa, source, trace, _) in __kiln_schedule_of_mm_sampled.iter().chain(&__kiln_schedule_of_mm_sampled_again) {
        assert!(source.starts_with("schedule section ("), "{source}");
        assert_eq!(tile_decision(trace), first, "{isa}");
    }
    // What the macro does is `Schedule::replay` with seed 0: replaying the
    // section's text that way again takes the same decision.
    let src = include_str!("macro_schedule.rs");
    let kernel = kiln_ir::parse::find_kernels_in_file(src)
        .unwrap()
        .into_iter()
        .flatten()
        .find(|k| k.func.name == "mm_sampled")
        .unwrap();
    let space = kiln_ir::trace::parse_trace(kernel.schedule.unwrap()).unwrap().0;
    let sch = Schedule::replay(&kernel.func, &space, 0, DecisionMode::Strict).unwrap();
    assert_eq!(sch.trace().to_string(), __kiln_schedule_of_mm_sampled[0].2);
    assert_eq!(kiln_ir::ir::func_to_string(sch.func()), __kiln_schedule_of_mm_sampled[0].3);
}

#[test]
fn sampled_schedule_computes_the_product() {
    check_matmul(try_mm_sampled_on, 64, 48, 96);
}

// A trace printed with decisions replays those decisions.
tensor_func! {
    pub fn mm_decided(a: [f32; 64, 48], b: [f32; 48, 96], c: &mut [f32; 64, 96]) {
        for (i, j, k) in grid(64, 96, 48) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[12, 8])
        l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)
        sch.reorder(l1, l6, l3, l7)
        b8 = sch.decompose_reduction(block=b0, loop=l3)
        sch.vectorize(loop=l7)
        sch.parallel(loop=l1)
    }
}

#[test]
fn recorded_decisions_are_used() {
    for (isa, source, trace, ir) in __kiln_schedule_of_mm_decided {
        assert!(source.starts_with("schedule section ("), "{source}");
        assert_eq!(tile_decision(trace), [12, 8], "{isa}");
        assert!(ir.contains("for j_1 in T.vectorized(8):"), "{isa}:\n{ir}");
        assert!(ir.contains("for i in T.parallel(64):"), "{isa}:\n{ir}");
    }
    // The text of the section, once parsed, is the printed trace.
    let printed = __kiln_schedule_of_mm_decided[0].2;
    assert_eq!(parse_trace_str(printed).unwrap().to_string(), printed);
    check_matmul(try_mm_decided_on, 64, 48, 96);
}

// Without a section (and without a trace file), every ISA gets the default schedule.
tensor_func! {
    fn mm_default(a: [f32; 16, 16], b: [f32; 16, 16], c: &mut [f32; 16, 16]) {
        for (i, j, k) in grid(16, 16, 16) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
}

#[test]
fn no_section_means_the_default_schedule() {
    let isas: Vec<&str> = __kiln_schedule_of_mm_default.iter().map(|r| r.0).collect();
    assert_eq!(isas, ["x86_64-avx512", "x86_64-avx2", "generic-scalar"]);
    for (isa, source, trace, _) in __kiln_schedule_of_mm_default {
        assert!(source.starts_with("default schedule ("), "{isa}: {source}");
        assert!(trace.starts_with("b0 = sch.get_block(name=\"C\""), "{isa}: {trace}");
    }
    check_matmul(try_mm_default_on, 16, 16, 16);
}
