//! The random-schedule property test: random sequences of 1–8 primitive calls,
//! with random arguments and decisions (valid or not), over every bundled kernel.
//! Each call either succeeds or returns an error that leaves the schedule as it
//! was (never a panic); the scheduled function computes what the kernel
//! computes (per the interpreter); and the trace's text and JSON forms replay
//! to the same function and trace.
//!
//! `KILN_PROPTEST_CASES=10000` runs the full count (the default is 1000 cases;
//! with 10,000 or more, the expensive full-size kernels run too);
//! `KILN_PROPTEST_FIRST=N` starts at case `N` instead of 0;
//! `KILN_PROPTEST_SEED=N` runs case `N` alone and prints what it did. A failure
//! names its case number, so it reruns with `KILN_PROPTEST_SEED`.

mod property {
    pub mod gen;
    pub mod kernels;
}

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::testing::{check_round_trip, compare, random_args, replay_fails, run_random};
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::trace::{parse_trace_str, InstKind};
use property::gen::{Ctx, Stats};
use property::kernels::{bundled, instances, small, Subject, CHEAP};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DEFAULT_CASES: u64 = 1000;
/// Every `FULL_EVERY`-th case schedules a bundled kernel at full size.
const FULL_EVERY: u64 = 16;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// A panic payload's message.
fn message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// Whether outputs must match exactly: the steps kept every reduction's order
/// of accumulation (rfactor and reorder can change it).
fn exact(sch: &Schedule) -> bool {
    !sch.trace().insts.iter().any(|i| matches!(i.kind, InstKind::RFactor | InstKind::Reorder))
}

/// The checks after the steps: the trace round trip and the results (false:
/// too many iterations to interpret).
fn check_result(func: &PrimFunc, sch: &Schedule, want: &[Tensor], seed: u64) -> Result<bool, String> {
    check_round_trip(func, sch)?;
    // Wild split factors can multiply the iterations (predicated off); the
    // interpreter would take too long.
    if instances(sch.func()) > (8 * instances(func)).max(1 << 20) {
        return Ok(false);
    }
    let mut got = random_args(func, seed);
    interp::run(sch.func(), &mut got).map_err(|e| format!("the scheduled function does not run: {e}"))?;
    compare(&got, want, (!exact(sch)).then_some(1e-4)).map(|()| true)
}

/// What one case did.
struct Outcome {
    stats: Stats,
    steps: usize,
    log: Vec<String>,
    failure: Option<String>,
    /// Whether the interpreter ran the scheduled function.
    ran: bool,
}

/// Runs case `case` on `subject`, whose outputs on `random_args(func, input_seed)` are `want`.
fn run_case(case: u64, input_seed: u64, subject: &Subject, want: &[Tensor]) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(case);
    let steps = rng.gen_range(1..=8);
    let mut sch = Schedule::new(subject.func.clone(), case);
    sch.set_verify(true);
    let mut ctx = Ctx::new(sch, rng);
    let (mut failure, mut ran) = (None, false);
    for _ in 0..steps {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| ctx.step())) {
            failure = Some(format!("the last call panicked: {}", message(&*p)));
            break;
        }
    }
    if failure.is_none() {
        failure = match catch_unwind(AssertUnwindSafe(|| check_result(&subject.func, &ctx.sch, want, input_seed))) {
            Ok(Ok(r)) => {
                ran = r;
                None
            }
            Ok(Err(e)) => Some(e),
            Err(p) => Some(format!("checking the result panicked: {}", message(&*p))),
        };
    }
    let failure = failure.map(|f| {
        format!(
            "case {case} (KILN_PROPTEST_SEED={case}) on {}: {f}\ncalls:\n  {}\ntrace:\n{}\nfunction:\n{}",
            subject.label,
            ctx.log.join("\n  "),
            ctx.sch.trace(),
            ctx.sch.func()
        )
    });
    Outcome { stats: ctx.stats, steps, log: ctx.log, failure, ran }
}

/// Full-size kernels with more block instances than this (the 512³ products:
/// 134M, minutes per case in the interpreter) run scaled down only.
const FULL_SIZE_LIMIT: u64 = 20_000_000;

/// The subject of case `case`: mostly a scaled-down kernel, every
/// `FULL_EVERY`-th case a full-size one (in a short run, only the cheap ones).
fn subject_of(case: u64, small: &[Subject], full: &[Subject], full_run: bool) -> Subject {
    if case % FULL_EVERY == FULL_EVERY - 1 {
        let pool: Vec<&Subject> =
            full.iter().filter(|s| instances(&s.func) <= if full_run { FULL_SIZE_LIMIT } else { CHEAP }).collect();
        pool[(case / FULL_EVERY) as usize % pool.len()].clone()
    } else {
        small[case as usize % small.len()].clone()
    }
}

#[test]
fn random_schedules_keep_results_and_never_panic() {
    let full = bundled();
    let small = small(&full);
    let count = env_u64("KILN_PROPTEST_CASES").unwrap_or(DEFAULT_CASES);
    let only = env_u64("KILN_PROPTEST_SEED");
    let full_run = count >= 10_000;
    let cases: Vec<u64> = match only {
        Some(s) => vec![s],
        None => {
            let first = env_u64("KILN_PROPTEST_FIRST").unwrap_or(0);
            (first..first + count).collect()
        }
    };
    let start = Instant::now();
    let verbose = std::env::var_os("KILN_PROPTEST_VERBOSE").is_some();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let (mut steps, mut skipped) = (0, 0);
    let mut want_cache: HashMap<String, Vec<Tensor>> = HashMap::new();
    for &case in &cases {
        let subject = subject_of(case, &small, &full, full_run || only.is_some());
        // Full-size kernels reuse one input (their reference run is slow).
        let is_small = small.iter().any(|s| s.label == subject.label);
        let input_seed = if is_small { case } else { 0 };
        let want = match want_cache.get(&subject.label) {
            Some(w) if !is_small => w.clone(),
            _ => {
                let want = run_random(&subject.func, input_seed);
                if !is_small {
                    want_cache.insert(subject.label.clone(), want.clone());
                }
                want
            }
        };
        let t = Instant::now();
        let out = run_case(case, input_seed, &subject, &want);
        if verbose && t.elapsed().as_secs_f64() > 0.5 {
            println!("  case {case} on {} took {:.1?}", subject.label, t.elapsed());
        }
        stats.merge(&out.stats);
        steps += out.steps;
        skipped += u64::from(!out.ran && out.failure.is_none());
        if only.is_some() {
            println!("case {case} on {}:\n  {}", subject.label, out.log.join("\n  "));
        }
        if let Some(f) = out.failure {
            eprintln!("{f}\n");
            failures.push(case);
        }
    }
    let (acc, rej) = stats.totals();
    let per: Vec<String> = stats.per_primitive.iter().map(|(k, (a, r))| format!("{k} {a}/{r}")).collect();
    println!(
        "property: {} cases ({skipped} too large to interpret), {steps} steps, {} primitive calls: {acc} accepted, \
         {rej} rejected, in {:.1?}; per primitive (accepted/rejected): {}",
        cases.len(),
        acc + rej,
        start.elapsed(),
        per.join(", ")
    );
    if verbose {
        for ((p, k), n) in &stats.reasons {
            println!("  {p} rejected {n}× with {k}");
        }
    }
    assert!(failures.is_empty(), "{} failing cases: {failures:?}", failures.len());
}

/// A scaled-down bundled kernel or odd matmul by its label.
fn subject(label: &str) -> PrimFunc {
    small(&bundled()).into_iter().find(|s| s.label == label).unwrap_or_else(|| panic!("no subject {label}")).func
}

/// Replays `trace` on `func`, with the IR verified after every step: every
/// step succeeds, except the last when `rejected` names the error kind it must
/// fail with (changing nothing). Then runs the checks of a random case;
/// returns whether the interpreter ran.
fn regression(func: PrimFunc, trace: &str, rejected: Option<&str>) -> bool {
    let t = parse_trace_str(trace).unwrap();
    let sch = match rejected {
        None => {
            let mut sch = Schedule::new(func.clone(), 0);
            sch.set_verify(true);
            sch.apply_trace(&t, DecisionMode::Strict).unwrap_or_else(|e| panic!("{e}"));
            sch
        }
        Some(kind) => {
            let (n, e) = replay_fails(&func, &t, kind);
            assert_eq!(n, t.insts.len(), "{e}");
            let head = kiln_ir::trace::Trace { insts: t.insts[..n - 1].to_vec() };
            Schedule::replay(&func, &head, 0, DecisionMode::Strict).unwrap()
        }
    };
    let want = run_random(&func, 0);
    check_result(&func, &sch, &want, 0).unwrap_or_else(|e| panic!("{e}\n{}", sch.func()))
}

/// Case 1724: a split whose factors overshoot the loop by far; the verifier
/// gave up on the predicated bindings and the primitive panicked.
#[test]
fn regression_split_far_beyond_the_extent() {
    let trace = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        l4 = sch.fuse(l1, l2, l3, preserve_unit_iters=True)
        l5, l6, l7, l8 = sch.split(loop=l4, factors=[185, 315, 63, 15], preserve_unit_iters=True)
    "#;
    regression(kiln_ir::schedule::testing::matmul(7, 5, 9), trace, None);
}

/// Cases 1325 and 2189: fusing back an uneven split (`%` of one value had an
/// inexact range), and a predicate over loops the binding does not use.
#[test]
fn regression_uneven_splits_fused_back() {
    let trace = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        l4 = sch.fuse(l2, l3, preserve_unit_iters=True)
        l5, l6, l7 = sch.split(loop=l4, factors=[5, 15, None], preserve_unit_iters=True)
        l8 = sch.fuse(l5, l6, l7, preserve_unit_iters=True)
    "#;
    assert!(regression(subject("matmul_odd (scaled down)"), trace, None));
    let trace = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        l4 = sch.fuse(l2, l3, preserve_unit_iters=True)
        l5, l6, l7 = sch.split(loop=l4, factors=[5, 21, 3], preserve_unit_iters=True)
        l8, l9, l10, l11 = sch.split(loop=l1, factors=[5, 10, 10, 1], preserve_unit_iters=True)
    "#;
    assert!(regression(subject("matmul_odd (scaled down)"), trace, None));
}

/// Cases 5477 and 8031: `compute_at` of an rfactor block over an uneven split
/// dropped the block's predicate (out-of-bounds reads, wrong sums).
#[test]
fn regression_compute_at_keeps_the_predicate() {
    let trace = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        l4, l5, l6 = sch.split(loop=l3, factors=[None, 13, 1], preserve_unit_iters=True)
        b7 = sch.rfactor(loop=l6, factor_axis=0)
        l8, l9, l10 = sch.get_loops(block=b0)
        sch.compute_at(block=b7, loop=l9, preserve_unit_loops=True, index=-1)
    "#;
    assert!(regression(subject("matmul_odd (scaled down)"), trace, None));
}

/// Case 7948: swapping pieces of a fused reduce-and-spatial loop ran the
/// init after some updates (wrong results); now refused.
#[test]
fn regression_reorder_of_mixed_loop_pieces() {
    let trace = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        sch.reorder(l3, l1, l2)
        l4 = sch.fuse(l3, l1, preserve_unit_iters=True)
        l5, l6, l7 = sch.split(loop=l4, factors=[58, None, 58], preserve_unit_iters=True)
        sch.reorder(l7, l5)
    "#;
    assert!(regression(subject("matmul (scaled down)"), trace, Some("MixedLoops")));
}

/// Case 5210: decomposing a reduction above a loop that repeats it (the
/// reduction had been computed at a loop inside its old reduce loop) summed
/// the repeats; now refused.
#[test]
fn regression_decompose_above_a_repeating_loop() {
    let trace = r#"
        b0 = sch.get_block(name="Z", func_name="main")
        l1, l2 = sch.get_loops(block=b0)
        l3, l4 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)
        b5 = sch.get_block(name="Y", func_name="main")
        l6, l7, l8 = sch.get_loops(block=b5)
        sch.reverse_compute_at(block=b0, loop=l8, preserve_unit_loops=True, index=-1)
        l9, l10, l11, l12, l13 = sch.get_loops(block=b0)
        sch.compute_at(block=b5, loop=l12, preserve_unit_loops=False, index=-1)
        l14, l15, l16, l17, l18 = sch.get_loops(block=b5)
        b19 = sch.decompose_reduction(block=b5, loop=l16)
    "#;
    assert!(regression(subject("linear0 (scaled down)"), trace, Some("RepeatingLoop")));
}

/// Cases 34992, 49896, 55152 and 62808: conv2d's padding block moved under the
/// loop of the copy of its input was never computed on its border (NaN
/// outputs); now refused.
#[test]
fn regression_reverse_compute_at_of_padding() {
    let trace = r#"
        b0 = sch.get_block(name="pad", func_name="main")
        b1 = sch.cache_read(block=b0, read_buffer_index=0, storage_scope="global")
        l2, l3, l4, l5 = sch.get_loops(block=b1)
        sch.reverse_compute_at(block=b0, loop=l5, preserve_unit_loops=True, index=-1)
    "#;
    assert!(regression(subject("conv2d (scaled down)"), trace, Some("NotCovered")));
}

/// Cases 29047 and 47335: softmax's `expsum` computed at the column loop of
/// `norm`, whose loops were then fused: the fused loop repeats each `expsum`
/// instance, and decomposing above it summed the repeats; now refused.
#[test]
fn regression_decompose_above_repeated_instances() {
    let trace = r#"
        b0 = sch.get_block(name="expsum", func_name="main")
        b1 = sch.get_block(name="norm", func_name="main")
        l2, l3 = sch.get_loops(block=b1)
        sch.compute_at(block=b0, loop=l3, preserve_unit_loops=False, index=-1)
        l4 = sch.fuse(l2, l3, preserve_unit_iters=True)
        l5, l6 = sch.get_loops(block=b0)
        b7 = sch.decompose_reduction(block=b0, loop=l5)
    "#;
    assert!(regression(subject("softmax (scaled down)"), trace, Some("RepeatedInstances")));
}

/// Case 975: the full-size `gelu` (64×3072) fused and split unevenly; the
/// quotient `i_j_fused_0 // 1536` of the row binding is bounded only through
/// the predicate on its numerator, which the verifier did not see.
#[test]
fn regression_quotient_bounded_by_the_predicate_on_its_numerator() {
    let trace = r#"
        b0 = sch.get_block(name="gelu", func_name="main")
        l1, l2 = sch.get_loops(block=b0)
        l3 = sch.fuse(l1, l2, preserve_unit_iters=True)
        l4, l5 = sch.split(loop=l3, factors=[118059, None], preserve_unit_iters=True)
    "#;
    let gelu = bundled().into_iter().find(|s| s.label == "gelu").expect("gelu is bundled").func;
    regression(gelu, trace, None);
}
