//! `tuner bench`: every kernel's variants timed side by side — the naive
//! loop nest, the default schedule and the committed trace for every ISA
//! this machine runs, and with `--peers` faer and matrixmultiply for the
//! kernels that are a matrix product — compiled into one executable per
//! kernel and measured in one runner process, so that the figures are
//! comparable.
//!
//! The variants are timed in interleaved rounds (the runner's `--rounds=R`
//! mode): round r takes one sample of every variant, so that a drift of the
//! machine's speed during the run hits all of them alike. Each row reports
//! the median of its R samples and their spread, the interquartile range as
//! a percentage of the median ([`spread_pct`]); a spread above
//! [`NOISY_SPREAD_PCT`] marks the row as untrustworthy (`!` in the table,
//! `"noisy": true` in JSON), and the run ends by saying so.
//!
//! Every row also reads its median as memory traffic: ns per output element,
//! and GB/s of the bytes the kernel's parameter buffers must move
//! ([`Traffic`]: inputs read once, outputs written once), as a percentage of
//! this machine's L2 read bandwidth ([`l2_read_gbs`]). For every kernel, not
//! only for those under some FLOP-per-byte threshold: the figures cost
//! nothing and keep one table and one JSON schema, and the IR's FLOP count
//! (an `exp`, a `sqrt` or a division counts 1, like an add) would put such a
//! threshold in the wrong place: on Zen 1 the ridge point (FMA peak ÷ L2
//! bandwidth) is about 0.55 FLOP/byte, which would call rmsnorm (0.86)
//! compute-bound. A matrix product reads a few % of the bandwidth there,
//! which says as much.

use std::path::{Path, PathBuf};

use kiln_ir::target::{Isa, Target};

use crate::builder::{build_parallel, prepare, Candidate, Toolchain};
use crate::error::Result;
use crate::peers::{self, matrix_product};
use crate::runner::{kernel_data, run_rounds, Outcome, RunOptions};
use crate::task::{gflops, Task, Traffic};

/// How to bench.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub work_dir: PathBuf,
    /// The runner settings (the samples are made longer).
    pub run: RunOptions,
    /// Threads the kernels (and the peers) may use.
    pub threads: usize,
    /// One JSON object per line instead of a table.
    pub json: bool,
    /// Also time faer and matrixmultiply on the kernels that are a matrix product.
    pub peers: bool,
    /// Interleaved rounds: samples per variant.
    pub rounds: usize,
}

/// The default number of rounds: 21 samples per variant, enough for their
/// quartiles to mean something.
pub const DEFAULT_ROUNDS: usize = 21;

/// The spread (interquartile range of a variant's samples, in % of their
/// median) above which its median is not to be trusted. On a quiet machine
/// the bundled kernels' samples spread by about 1%; a busy machine (another
/// build, another benchmark) spreads them by 5% to 50%. The interquartile
/// range, not the full range, because the median it qualifies ignores a
/// few interrupted samples as well.
pub const NOISY_SPREAD_PCT: f64 = 5.0;

/// The `q`-quantile (0 ≤ q ≤ 1) of `sorted`, interpolated linearly between
/// the closest ranks (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The spread of timing samples: their interquartile range in % of their
/// median; `None` without samples.
pub fn spread_pct(samples: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let median = quantile(&s, 0.5);
    (median > 0.0).then(|| (quantile(&s, 0.75) - quantile(&s, 0.25)) / median * 100.0)
}

/// The yardstick of the GB/s column: this machine's L2 read bandwidth, one
/// core, as `tuner machine` measures it (cached in the work directory's
/// `machine.json`; when there is none, the probe runs here, in under a
/// second), times the threads the kernels may use (L2 is per core). `None`
/// with a runner command: the kernels run on another machine.
pub fn l2_read_gbs(args: &BenchOptions) -> Option<f64> {
    if !args.run.runner_cmd.is_empty() {
        return None;
    }
    let l2 = crate::probe::Machine::get(&args.work_dir).bandwidth("L2")?;
    Some(l2 * args.threads.max(1) as f64)
}

/// Whether a spread marks a timing as untrustworthy.
pub fn is_noisy(spread_pct: Option<f64>) -> bool {
    spread_pct.is_some_and(|s| s > NOISY_SPREAD_PCT)
}

struct Variant {
    name: &'static str,
    /// The ISA of kiln's code; `None` for a peer (which picks its own at run time).
    isa: Option<Isa>,
    cand: Candidate,
}

/// One timed variant.
struct Row<'a> {
    task: &'a Task,
    variant: &'a Variant,
    outcome: Outcome,
    spread_pct: Option<f64>,
}

impl Row<'_> {
    fn noisy(&self) -> bool {
        self.outcome.latency_us().is_some() && is_noisy(self.spread_pct)
    }
}

/// Runs the benchmark of `tasks` and prints a table (or JSON lines).
pub fn bench(tasks: &[Task], args: &BenchOptions) -> Result<()> {
    let dir = &args.work_dir;
    let _lock = crate::database::lock(dir)?;
    let tc = prepare(dir)?;
    // The peers' harness (faer: minutes the first time) only when a kernel needs it.
    let peers_tc = if args.peers && tasks.iter().any(|t| matrix_product(&t.func).is_some()) {
        Some(peers::prepare_peers(dir)?)
    } else {
        None
    };
    let mut opts = args.run.clone();
    opts.min_sample_us = 200.0;
    // The naive 512³ products take 0.6 s a call, and several calls pass
    // between two lines of the runner (the check, the calibration): on a
    // busy machine that came close to tuning's 20 s (a naive variant timed
    // out once here). bench measures programs that tuning already ran.
    opts.timeout = opts.timeout.max(std::time::Duration::from_secs(60));
    let rounds = args.rounds.max(1);
    let isas = if opts.runner_cmd.is_empty() {
        crate::machine::supported_isas()
    } else {
        vec![Isa::Avx512, Isa::Avx2, Isa::Scalar]
    };
    // Notes go to stderr with --json, which prints only rows on stdout.
    let say = |line: &str| if args.json { eprintln!("{line}") } else { println!("{line}") };
    let l2 = l2_read_gbs(args);
    match l2 {
        Some(g) => say(&format!(
            "% L2: GB/s in % of the L2 read bandwidth, {g:.1} GB/s ({} core{}, `tuner machine`, cached in {})",
            args.threads.max(1),
            if args.threads > 1 { "s" } else { "" },
            dir.join("machine.json").display()
        )),
        None => say("% L2: not compared (the kernels run on another machine: --runner-cmd)"),
    }
    if !args.json {
        println!(
            "{:<12} {:<14} {:<7} {:>12} {:>10} {:>9} {:>8} {:>6} {:>8}",
            "kernel", "variant", "isa", "median µs", "GFLOP/s", "ns/elem", "GB/s", "% L2", "spread"
        );
    }
    let (mut timed, mut noisy) = (0, 0);
    for task in tasks {
        let mut vars = variants(task, &isas, args.threads)?;
        let mut tc = &tc;
        let mut no_peers = false;
        if args.peers {
            match (matrix_product(&task.func), &peers_tc) {
                (Some(p), Some(ptc)) => {
                    let peer_vars = peers::candidates(&task.func, &p, args.threads);
                    vars.extend(peer_vars.into_iter().map(|(name, cand)| Variant { name, isa: None, cand }));
                    tc = ptc;
                }
                _ => no_peers = true,
            }
        }
        let rows = time_variants(tc, task, &vars, dir, &opts, rounds)?;
        for row in &rows {
            timed += usize::from(row.outcome.latency_us().is_some());
            noisy += usize::from(row.noisy());
            print_row(row, l2, args.json);
        }
        if no_peers {
            say(&format!("{:<12} no peers for this kernel (not a matrix product)", task.name));
        }
    }
    if noisy > 0 {
        say(&format!(
            "! {noisy} of {timed} timings spread more than {NOISY_SPREAD_PCT}% (interquartile range of {rounds} \
             interleaved samples, in % of their median)"
        ));
        say("too noisy to trust: the machine was busy while these ran; re-run `tuner bench` when it is quieter \
             (or with more --rounds)");
    }
    Ok(())
}

/// Builds `vars` into one executable (so that one runner process measures
/// every variant) and times them in `rounds` interleaved rounds.
fn time_variants<'a>(
    tc: &Toolchain,
    task: &'a Task,
    vars: &'a [Variant],
    dir: &Path,
    opts: &RunOptions,
    rounds: usize,
) -> Result<Vec<Row<'a>>> {
    let data = kernel_data(&task.func, dir)?;
    let cands: Vec<Candidate> = vars.iter().map(|v| v.cand.clone()).collect();
    let built = build_parallel(tc, &task.func, &cands, &format!("bench-{}", task.name), 1).remove(0);
    let ids: Vec<usize> = (0..built.included.len()).collect();
    let mut rows: Vec<Row> = vars
        .iter()
        .map(|v| Row { task, variant: v, outcome: Outcome::BuildFailed("not built".into()), spread_pct: None })
        .collect();
    for (i, msg) in &built.failed {
        rows[*i].outcome = Outcome::BuildFailed(msg.clone());
    }
    // The naive loop nest runs in rounds of its own: interleaved, its
    // half-second single-threaded calls left the other core idle, and the
    // parallel variant after it ran at one core's speed in about half of
    // the rounds (spreads of 25–65 % with --threads 2 on a Zen 1 VM; 1.5 %
    // without the naive variant). It is a reference point, not a contender.
    let (naive, others): (Vec<usize>, Vec<usize>) =
        ids.iter().partition(|id| vars[built.included[**id]].name == "naive");
    for part in [others, naive].iter().filter(|p| !p.is_empty()) {
        for (id, o, samples) in run_rounds(&built.exe, &data, part, opts, rounds) {
            let row = &mut rows[built.included[id]];
            row.spread_pct = o.latency_us().and_then(|_| spread_pct(&samples));
            row.outcome = o;
        }
    }
    Ok(rows)
}

/// The naive loop nest, then the default schedule and the committed trace
/// (if any) of every ISA but scalar.
fn variants(task: &Task, isas: &[Isa], threads: usize) -> Result<Vec<Variant>> {
    let naive = Candidate::new(task.func.clone(), Isa::Scalar);
    let mut vars = vec![Variant { name: "naive", isa: Some(Isa::Scalar), cand: naive }];
    for isa in isas.iter().copied().filter(|i| *i != Isa::Scalar) {
        let d = task.default_program(isa, threads)?;
        vars.push(Variant { name: "default", isa: Some(isa), cand: Candidate::new(d.func, isa) });
        if let Ok(c) = task.committed_program(&Target::cpu(isa, kiln::cpu::class()), threads) {
            vars.push(Variant { name: "committed", isa: Some(isa), cand: Candidate::new(c.func, isa) });
        }
    }
    Ok(vars)
}

/// A timed call read as memory traffic.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TrafficRates {
    ns_per_element: f64,
    gbs: f64,
    /// `gbs` in % of the L2 read bandwidth, when known.
    pct_l2: Option<f64>,
}

impl TrafficRates {
    fn new(t: &Traffic, us: f64, l2_gbs: Option<f64>) -> TrafficRates {
        let gbs = t.gbs(us);
        TrafficRates { ns_per_element: t.ns_per_element(us), gbs, pct_l2: l2_gbs.map(|l2| 100.0 * gbs / l2) }
    }
}

fn print_row(row: &Row, l2_gbs: Option<f64>, json: bool) {
    let (task, v, o) = (row.task, row.variant, &row.outcome);
    let us = o.latency_us();
    let g = us.map(|u| gflops(task.flops, u));
    let rates = us.map(|u| TrafficRates::new(&task.traffic, u, l2_gbs));
    let isa = v.isa.map_or("auto", Isa::name);
    if json {
        let obj = serde_json::json!({
            "kernel": task.name, "variant": v.name, "isa": isa,
            "median_us": us, "gflops": g,
            "ns_per_element": rates.map(|r| r.ns_per_element), "gbs": rates.map(|r| r.gbs),
            "pct_l2": rates.and_then(|r| r.pct_l2), "l2_gbs": l2_gbs,
            "bytes_read": task.traffic.read, "bytes_written": task.traffic.written,
            "out_elements": task.traffic.out_elements,
            "spread_pct": row.spread_pct, "noisy": row.noisy(),
            "error": if us.is_none() { Some(o.describe()) } else { None },
        });
        println!("{obj}");
    } else {
        let cells = match (us, g, rates) {
            (Some(u), Some(g), Some(r)) => {
                // Rounded up, so that a flagged spread never reads as the threshold or below.
                let s = row.spread_pct.map_or("?".into(), |s| format!("{:.1}%", (s * 10.0).ceil() / 10.0));
                let pct = r.pct_l2.map_or("—".into(), |p| format!("{p:.0}%"));
                [
                    format!("{u:.2}"),
                    format!("{g:.1}"),
                    format!("{:.3}", r.ns_per_element),
                    format!("{:.1}", r.gbs),
                    pct,
                    s,
                ]
            }
            _ => [o.describe(), String::new(), String::new(), String::new(), String::new(), String::new()],
        };
        let mark = if row.noisy() { " !" } else { "" };
        let [a, b, n, gb, pct, s] = cells;
        println!(
            "{:<12} {:<14} {:<7} {:>12} {:>10} {:>9} {:>8} {:>6} {:>8}{mark}",
            task.name, v.name, isa, a, b, n, gb, pct, s
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_interquartile_range_in_percent_of_the_median() {
        // Sorted: 9, 10, 10, 10, 11 → quartiles 10 and 10 (median 10): no spread,
        // whatever the extremes (an interrupted sample does not make a run noisy).
        assert_eq!(spread_pct(&[10.0, 11.0, 9.0, 10.0, 10.0]), Some(0.0));
        assert_eq!(spread_pct(&[10.0, 10.0, 10.0, 10.0, 50.0]), Some(0.0));
        // 1..=9: quartiles 3 and 7, median 5 → 80%.
        let s: Vec<f64> = (1..=9).map(f64::from).collect();
        assert!((spread_pct(&s).unwrap() - 80.0).abs() < 1e-9);
        // Interpolated quartiles: 100, 102, 104, 106 → 101.5 and 104.5, median 103.
        let p = spread_pct(&[106.0, 100.0, 104.0, 102.0]).unwrap();
        assert!((p - 3.0 / 103.0 * 100.0).abs() < 1e-9, "{p}");
        assert_eq!(spread_pct(&[]), None);
        assert_eq!(spread_pct(&[7.0]), Some(0.0));
    }

    #[test]
    fn a_call_read_as_memory_traffic() {
        // softmax 64×1000: 512 000 bytes in 10 µs is 51.2 GB/s, 0.156 ns per
        // output element, 80% of a 64 GB/s L2.
        let t = Traffic { read: 256_000, written: 256_000, out_elements: 64_000 };
        let r = TrafficRates::new(&t, 10.0, Some(64.0));
        assert!((r.gbs - 51.2).abs() < 1e-9 && (r.ns_per_element - 0.15625).abs() < 1e-12, "{r:?}");
        assert!((r.pct_l2.unwrap() - 80.0).abs() < 1e-9, "{r:?}");
        assert_eq!(TrafficRates::new(&t, 10.0, None).pct_l2, None);
    }

    #[test]
    fn a_spread_above_the_threshold_is_noisy() {
        assert!(!is_noisy(None));
        assert!(!is_noisy(Some(0.4)));
        assert!(!is_noisy(Some(NOISY_SPREAD_PCT)));
        assert!(is_noisy(Some(NOISY_SPREAD_PCT + 0.1)));
        // Quartiles 3% of the median apart: trusted; 25% apart: noisy.
        let quiet = [100.0, 98.0, 102.0, 99.0, 101.0, 97.0, 103.0];
        assert!(!is_noisy(spread_pct(&quiet)), "{:?}", spread_pct(&quiet));
        let busy = [100.0, 80.0, 120.0, 90.0, 110.0, 85.0, 115.0];
        assert!(is_noisy(spread_pct(&busy)), "{:?}", spread_pct(&busy));
    }
}
