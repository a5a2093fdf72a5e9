//! The MLC course chapter "Automatic Program Optimization", in Rust: the
//! chapter's steps on kiln's schedules, traces and tuner, printing the traces
//! in the chapter's format.
//!
//! ```sh
//! cargo run --release --example walkthrough            # every section (about a minute)
//! cargo run --release --example walkthrough -- --quick # sections 1–4 only (no compiling, no timing)
//! KILN_WALKTHROUGH_TRIALS=32 cargo run --release --example walkthrough  # fewer tuning trials
//! ```
//!
//! 1. `MyModule`, the 128×128×128 matmul, and its IR;
//! 2. `schedule_mm(sch, jfactor=4)`: the IR and the trace, checked with the interpreter;
//! 3. `stochastic_schedule_mm(sch)` with several seeds: different decisions;
//! 4. the stochastic schedule step by step;
//! 5. `random_search(mod, num_trials=5)` over the space of `stochastic_schedule_mm`
//!    (`tuner::random_search_space`): every trial's decision and latency, the best;
//! 6. `ms.tune_tir(...)` over the default space (`tuner::tune_func`): the best
//!    trace, its IR and latency; then naive, default, random-search best and
//!    tuned best timed side by side;
//! 7. the chapter's last section: tuning the MLP's `linear0` (`kernels/src/linear0.rs`).
//!
//! Sections 1–4 are in `walkthrough/chapter.rs`, shared with
//! `tests/walkthrough.rs`, which snapshots their output. Sections 5–7 compile
//! and time candidates in a work directory under the target directory
//! (`target/release/walkthrough`), never in the source tree; each run starts
//! with an empty database there, so that it measures what it prints.

#[path = "walkthrough/chapter.rs"]
mod chapter;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use kiln_ir::ir::PrimFunc;
use kiln_ir::parse::find_kernels_in_file;
use kiln_ir::schedule::Schedule;
use kiln_ir::target::Isa;
use tuner::database::{Database, Role};
use tuner::task::{Program, Space, Task};
use tuner::TuneOptions;

use chapter::{decisions, heading, stochastic_schedule_mm};

/// The walkthrough's errors: the tuner's ([`tuner::Error`]) and the parser's.
type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The work directory: `<target>/<profile>/walkthrough`, next to `examples/`.
fn work_root() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let profile_dir = exe.as_deref().and_then(Path::parent).and_then(Path::parent);
    profile_dir.map_or_else(|| std::env::temp_dir().join("kiln-walkthrough"), |d| d.join("walkthrough"))
}

/// A work directory with an empty database (the runtime build and the data stay).
fn fresh_dir(root: &Path, name: &str) -> tuner::Result<PathBuf> {
    let dir = root.join(name);
    for f in ["records.jsonl", "workloads.jsonl"] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(tuner::Error::io("remove", &p))?;
        }
    }
    Ok(dir)
}

fn gflops(flops: u64, us: f64) -> f64 {
    flops as f64 / us / 1e3
}

/// Section 5: the chapter's `random_search`, sampling `stochastic_schedule_mm`.
fn section5(func: &PrimFunc, isa: Isa, root: &Path) -> tuner::Result<Schedule> {
    let mut out = String::new();
    heading(&mut out, "5. random_search(MyModule, num_trials=5)");
    let mut one = Schedule::new(func.clone(), 0);
    stochastic_schedule_mm(&mut one);
    let space = one.trace().without_decisions();
    let _ = writeln!(out, "the space: stochastic_schedule_mm's trace, its decisions left to sampling:\n{space}");
    print!("{out}");
    let dir = fresh_dir(root, "random_search")?;
    let t = Instant::now();
    let (best, best_us) = tuner::random_search_space(func, Space::Custom(space), isa, 5, 0, &dir)?;
    let secs = t.elapsed().as_secs_f64();
    let flops = kiln_ir::ir::flops(func);
    let db = Database::open(&dir)?;
    for (n, r) in db.all().iter().enumerate() {
        let decision = r.trace().map_or("?".into(), |t| decisions(&t));
        let what = match r.role {
            Role::Search => "trial",
            Role::Default => "baseline (seed 0)",
            Role::Committed => "committed",
        };
        let result = match (r.median_us, &r.error) {
            (Some(us), _) => format!("{us:9.2} µs  {:6.2} GFLOP/s", gflops(flops, us)),
            (None, e) => format!("failed: {}", e.as_deref().unwrap_or("?")),
        };
        println!("{what:>17} {n}: j_factors = {decision:<10} {result}");
    }
    println!(
        "\nbest of the search ({secs:.1} s, {}): {best_us:.2} µs, {:.2} GFLOP/s",
        isa.name(),
        gflops(flops, best_us)
    );
    println!("print(best_sch.trace):\n{}", best.trace());
    println!("best_sch.mod.show():\n{}", best.func());
    Ok(best)
}

/// Section 6: `ms.tune_tir` over the default space.
fn section6(func: &PrimFunc, isa: Isa, root: &Path, trials: usize) -> tuner::Result<Schedule> {
    let mut out = String::new();
    heading(&mut out, &format!("6. ms.tune_tir(MyModule, max_trials_global={trials}): the default space"));
    print!("{out}");
    let mut o = TuneOptions::new(fresh_dir(root, "tune")?);
    o.trials = trials;
    o.isas = vec![isa];
    let (sch, r) = tuner::tune_func(func, &o)?;
    println!("print(sch.trace):\n{}", sch.trace());
    println!("sch.mod.show():\n{}", sch.func());
    let us = |v: Option<f64>| v.map_or("—".into(), |u| format!("{u:.2} µs ({:.2} GFLOP/s)", gflops(r.flops, u)));
    println!(
        "tuned ({} trials, {} failed, {:.1} s, {}): best {}; default schedule {}; speed-up over the default {}",
        r.trials,
        r.failed,
        r.wall_seconds,
        isa.name(),
        us(r.best_us),
        us(r.default_us),
        r.speedup().map_or("—".into(), |s| format!("{s:.2}×"))
    );
    for n in &r.notes {
        println!("note: {n}");
    }
    Ok(sch)
}

/// The naive loop nest, the default schedule, the random search's best and
/// the tuned best, timed side by side in one runner process.
fn side_by_side(func: &PrimFunc, isa: Isa, root: &Path, others: &[(&str, &Schedule)]) -> tuner::Result<()> {
    let dir = root.join("tune");
    let task = Task::with_section(func, None, "", PathBuf::new());
    let tc = tuner::builder::prepare(&dir)?;
    let data = dir.join("data").join("side-by-side");
    if !data.join("meta.txt").exists() {
        tuner::runner::write_data(func, &data, 7)?;
    }
    let naive = task.naive_program(isa);
    let mut progs: Vec<(&str, Program)> = vec![("naive", naive), ("default schedule", task.default_program(isa, 1)?)];
    for (name, sch) in others {
        progs.push((name, task.replay(sch.trace(), isa, 1)?));
    }
    let all: Vec<Program> = progs.iter().map(|(_, p)| p.clone()).collect();
    let run = TuneOptions::new(&dir).run;
    let times = tuner::confirm::time_together(&tc, func, &all, isa, &data, &run, "walkthrough-side-by-side");
    println!("\ntimed side by side, in one process ({}; on a loaded machine these drift by tens of %):", isa.name());
    for (name, p) in &progs {
        match times.get(&p.key) {
            Some(us) => println!("  {name:<20} {us:10.2} µs  {:7.2} GFLOP/s", gflops(task.flops, *us)),
            None => println!("  {name:<20} failed"),
        }
    }
    Ok(())
}

/// Section 7: tuning the MLP's first layer, `linear0`.
fn section7(isa: Isa, root: &Path, trials: usize) -> Result<()> {
    let mut out = String::new();
    heading(&mut out, &format!("7. the MLP: tuning linear0 ({trials} trials)"));
    print!("{out}");
    let src = include_str!("../kernels/src/linear0.rs");
    let k = find_kernels_in_file(src)?.into_iter().next().ok_or("no kernel in linear0.rs")??;
    let mut o = TuneOptions::new(fresh_dir(root, "linear0")?);
    o.trials = trials;
    o.isas = vec![isa];
    let (sch, r) = tuner::tune_func(&k.func, &o)?;
    println!("print(sch.trace):\n{}", sch.trace());
    let ok = chapter::same_results(&k.func, sch.func());
    println!("interpreter: the tuned linear0 {} the original", if ok { "matches" } else { "DIFFERS FROM" });
    let f = |v: Option<f64>| v.map_or("—".into(), |u| format!("{u:.2} µs"));
    println!("linear0: tuned {}, default schedule {} ({:.1} s)", f(r.best_us), f(r.default_us), r.wall_seconds);
    println!(
        "Replacing linear0 in the model (the chapter's `mod_linear[\"linear0\"] = ...`) is, ahead of time, \
         committing the trace:\n  cargo run --release -p tuner -- tune --kernel linear0\nwrites \
         kernels/traces/linear0.json, which tensor_func! compiles at the next build; \
         `cargo run --release --example mlp` then runs the MLP on it."
    );
    Ok(())
}

/// Sections 5–7: what compiles and times candidates.
fn sections_5_to_7(func: &PrimFunc, isa: Isa, root: &Path, trials: usize) -> Result<()> {
    let best = section5(func, isa, root)?;
    let tuned = section6(func, isa, root, trials)?;
    side_by_side(func, isa, root, &[("random search best", &best), ("tuned best", &tuned)])?;
    section7(isa, root, (trials / 2).max(8))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick") || std::env::var("KILN_WALKTHROUGH_QUICK").is_ok_and(|v| v == "1");
    let trials: usize = std::env::var("KILN_WALKTHROUGH_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let start = Instant::now();
    let func = chapter::my_module();
    print!("{}", chapter::sections_1_to_4(&func));
    if quick {
        println!("\n(--quick: sections 5–7, which compile and time candidates, skipped)");
        return ExitCode::SUCCESS;
    }
    let isa = tuner::machine::best_isa();
    let root = work_root();
    // One build of kiln's runtime for every section's work directory.
    if std::env::var_os("KILN_TUNE_HARNESS_DIR").is_none() {
        std::env::set_var("KILN_TUNE_HARNESS_DIR", root.join("harness"));
    }
    let result = sections_5_to_7(&func, isa, &root, trials);
    println!("\n(walkthrough: {:.1} s; work directory {})", start.elapsed().as_secs_f64(), root.display());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
