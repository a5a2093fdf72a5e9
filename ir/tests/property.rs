//! The random-schedule property test: random sequences of 1–8 primitive calls,
//! with random arguments and decisions (valid or not), over every bundled kernel.
//! Each call either succeeds or returns an error that leaves the schedule as it
//! was (never a panic); the scheduled function computes what the kernel
//! computes (per the interpreter); and the trace's text form replays to the
//! same function and trace.
//!
//! `KILN_PROPTEST_CASES=10000` runs the full count (the default is 300 cases);
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
use kiln_ir::schedule::testing::random_args;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::trace::{parse_trace_str, InstKind};
use property::gen::{Ctx, Stats};
use property::kernels::{bundled, instances, small, Subject, CHEAP};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DEFAULT_CASES: u64 = 300;
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

/// Compares outputs: bit-equal (NaN matching NaN), or within a relative tolerance.
fn compare(got: &[Tensor], want: &[Tensor], exact: bool) -> Result<(), String> {
    for (p, (g, w)) in got.iter().zip(want).enumerate() {
        let scale = (0..w.len()).map(|i| w.get(i).abs()).fold(0.0, f64::max).max(1e-6);
        for i in 0..w.len() {
            let (x, y) = (g.get(i), w.get(i));
            let same = x == y || (x.is_nan() && y.is_nan());
            let close = (x - y).abs() <= 1e-4 * scale + 1e-4 * y.abs();
            if !same && (exact || !close) {
                return Err(format!("parameter {p}, element {i}: got {x}, expected {y} (exact: {exact})"));
            }
        }
    }
    Ok(())
}

/// The checks after the steps: the trace round trip and the results (false:
/// too many iterations to interpret).
fn check_result(func: &PrimFunc, sch: &Schedule, want: &[Tensor], seed: u64) -> Result<bool, String> {
    let text = sch.trace().to_string();
    let parsed = parse_trace_str(&text).map_err(|e| format!("the printed trace does not parse: {e}"))?;
    let again = Schedule::replay(func, &parsed, 0, DecisionMode::Strict)
        .map_err(|(n, e)| format!("replaying the printed trace fails at instruction {n}: {e}"))?;
    if again.func() != sch.func() {
        return Err(format!("the replayed trace gives another function:\n{}", again.func()));
    }
    if again.trace().to_string() != text {
        return Err(format!("the replayed trace prints differently:\n{}", again.trace()));
    }
    // Wild split factors can multiply the iterations (predicated off); the
    // interpreter would take too long.
    if instances(sch.func()) > (8 * instances(func)).max(1 << 20) {
        return Ok(false);
    }
    let mut got = random_args(func, seed);
    interp::run(sch.func(), &mut got).map_err(|e| format!("the scheduled function does not run: {e}"))?;
    compare(&got, want, exact(sch)).map(|()| true)
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

/// The subject of case `case`: mostly a scaled-down kernel, every
/// `FULL_EVERY`-th case a full-size one (in a short run, only the cheap ones).
fn subject_of(case: u64, small: &[Subject], full: &[Subject], full_run: bool) -> Subject {
    if case % FULL_EVERY == FULL_EVERY - 1 {
        let pool: Vec<&Subject> = full.iter().filter(|s| full_run || instances(&s.func) <= CHEAP).collect();
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
        None => (0..count).collect(),
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
                let mut want = random_args(&subject.func, input_seed);
                interp::run(&subject.func, &mut want).unwrap();
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
