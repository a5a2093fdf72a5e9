//! The runner: a separate process that checks and times candidates.
//!
//! Every batch executable links the runner (the crate `kiln-tune-runner`,
//! `tuner/runner`). It loads the
//! kernel's inputs and the interpreter's outputs from the data directory,
//! and for each candidate prints `BEGIN <id>`, runs it once on NaN-filled
//! outputs and compares with the reference (a wrong result is reported and
//! never timed), then times it (warm-up, samples of at least
//! `min_sample_us`, median; optionally flushing the caches between samples)
//! and prints `RESULT {...}`. The driver here watches that stream: a process
//! that dies is a crash of the candidate it had begun, a candidate that
//! prints nothing for `timeout` is a hang and the process is killed; either
//! way the remaining candidates run in a fresh process. `runner_cmd` prefixes
//! the command (e.g. `ssh host`) to measure elsewhere.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::{ParamKind, PrimFunc};
use kiln_ir::tracefile::workload_hash;

use crate::error::{Error, Result};

/// How candidates are checked and timed.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Relative tolerance of the check.
    pub rtol: f64,
    /// Absolute tolerance, as a fraction of the largest reference value.
    pub atol_rel: f64,
    /// Minimum length of one timing sample, in µs.
    pub min_sample_us: f64,
    /// Timing samples (the median is reported).
    pub repeats: usize,
    /// Evict the caches before every sample.
    pub flush: bool,
    /// How long a candidate may run before it counts as hung.
    pub timeout: Duration,
    /// A command prefix that starts the runner (e.g. `["ssh", "host"]`).
    pub runner_cmd: Vec<String>,
    /// A candidate whose first call takes longer than this many µs is
    /// timed with 3 samples only (the search needs no precise figure for a
    /// candidate several times slower than its best). `None`: every
    /// candidate gets `repeats`.
    pub cutoff_us: Option<f64>,
    /// A candidate whose first call takes this many times the best median
    /// measured so far in its runner process is also timed with 3 samples
    /// (the first batch of a search has no `cutoff_us` yet). `None`: no
    /// such cutoff.
    pub cutoff_ratio: Option<f64>,
    /// Sampling stops after 3 samples once they add up to this many µs (a
    /// search measurement only ranks, and the final round times the best
    /// again: three 7 ms samples of a 512³ product do), and a candidate over
    /// the cutoff is reported with its one timed call. `None`: always
    /// `repeats` samples (3 over the cutoff).
    pub budget_us: Option<f64>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            rtol: 1e-3,
            atol_rel: 1e-4,
            min_sample_us: 200.0,
            repeats: 11,
            flush: false,
            timeout: Duration::from_secs(20),
            runner_cmd: vec![],
            cutoff_us: None,
            cutoff_ratio: None,
            budget_us: None,
        }
    }
}

/// What happened to one candidate.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Correct; median time of one call.
    Ok { median_us: f64 },
    /// Ran but computed something else than the interpreter.
    Wrong(String),
    /// Its process died while it ran.
    Crashed(String),
    /// It ran longer than the timeout.
    Timeout,
    /// The CPU cannot run its ISA.
    Unsupported(String),
    /// Its code did not compile.
    BuildFailed(String),
}

impl Outcome {
    pub fn latency_us(&self) -> Option<f64> {
        match self {
            Outcome::Ok { median_us } => Some(*median_us),
            _ => None,
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok { median_us } => format!("{median_us:.2} µs"),
            Outcome::Wrong(m) => format!("wrong result ({m})"),
            Outcome::Crashed(m) => format!("crashed ({m})"),
            Outcome::Timeout => "timed out".into(),
            Outcome::Unsupported(m) => m.clone(),
            Outcome::BuildFailed(m) => format!("did not compile ({})", m.lines().next().unwrap_or("")),
        }
    }
}

/// Writes random inputs and the interpreter's outputs for `func` into `dir`.
pub fn write_data(func: &PrimFunc, dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let mut args = kiln_ir::schedule::testing::random_args(func, seed);
    interp::run(func, &mut args).map_err(|source| Error::Reference { kernel: func.name.clone(), source })?;
    let mut meta = String::new();
    for (k, (p, t)) in func.params.iter().zip(&args).enumerate() {
        let kind = if p.kind == ParamKind::Output { "out" } else { "in" };
        meta.push_str(&format!("{} {} {}\n", p.buffer.dtype, t.len(), kind));
        let bytes: Vec<u8> = match t {
            Tensor::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Tensor::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Tensor::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        };
        let name = if p.kind == ParamKind::Output { format!("want{k}.bin") } else { format!("p{k}.bin") };
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(Error::io("write", &path))?;
    }
    let path = dir.join("meta.txt");
    std::fs::write(&path, meta).map_err(Error::io("write", &path))
}

/// The data of `func` in `work_dir` (`data/<workload>`, seed 7): written the
/// first time, reused after (tuning, `bench` and reruns check against the
/// same reference). One caller at a time in a process: the tuner writes
/// every task's data on a thread of its own while the tasks start, and a task
/// that needs its data meanwhile waits for it, then finds it.
pub fn kernel_data(func: &PrimFunc, work_dir: &Path) -> Result<std::path::PathBuf> {
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = work_dir.join("data").join(workload_hash(func).replace(':', "-"));
    // `meta.txt` is written last: once it is there, the data is whole (and a
    // task whose data is written does not wait for another task's).
    if dir.join("meta.txt").exists() {
        return Ok(dir);
    }
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("meta.txt").exists() {
        write_data(func, &dir, 7)?;
    }
    Ok(dir)
}

enum Event {
    Line(String),
    /// The runner's stdout reached its end.
    StdoutClosed,
    /// Its stderr reached its end (the process exited), with what it said.
    Exited(String),
}

/// Runs candidates `ids` of executable `exe` against the data in `data_dir`.
/// Returns one outcome per id (in the order of `ids`).
pub fn run_batch(exe: &Path, data_dir: &Path, ids: &[usize], opts: &RunOptions) -> Vec<(usize, Outcome)> {
    run_batch_each(exe, data_dir, ids, opts, &mut |_, _| {})
}

/// [`run_batch`], calling `each` with every outcome as soon as it is known
/// (so that the caller can record it before the next candidate runs).
pub fn run_batch_each(
    exe: &Path,
    data_dir: &Path,
    ids: &[usize],
    opts: &RunOptions,
    each: &mut dyn FnMut(usize, &Outcome),
) -> Vec<(usize, Outcome)> {
    run_batch_lines(exe, data_dir, ids, opts, &[], each, &mut |_| {})
}

/// [`run_batch`] in the runner's interleaved mode: every
/// outcome with its samples (µs per call, in round order; none for a
/// candidate that was not timed).
pub fn run_rounds(
    exe: &Path,
    data_dir: &Path,
    ids: &[usize],
    opts: &RunOptions,
    rounds: usize,
) -> Vec<(usize, Outcome, Vec<f64>)> {
    let mut samples: HashMap<usize, Vec<f64>> = HashMap::new();
    let mut line = |l: &str| {
        let Some(v) = l.strip_prefix("RESULT ").and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()) else {
            return;
        };
        if let (Some(id), Some(s)) = (v["id"].as_u64(), v["samples_us"].as_array()) {
            samples.insert(id as usize, s.iter().filter_map(|x| x.as_f64()).collect());
        }
    };
    let flag = [format!("--rounds={rounds}")];
    let results = run_batch_lines(exe, data_dir, ids, opts, &flag, &mut |_, _| {}, &mut line);
    results.into_iter().map(|(id, o)| (id, o, samples.remove(&id).unwrap_or_default())).collect()
}

/// [`run_batch_each`] with `extra` runner arguments (flags passed among the
/// ids, such as `--rounds=R`, see the crate `kiln-tune-runner`), calling `line` with
/// every line the runner prints (for what a mode adds to its `RESULT`s).
pub fn run_batch_lines(
    exe: &Path,
    data_dir: &Path,
    ids: &[usize],
    opts: &RunOptions,
    extra: &[String],
    each: &mut dyn FnMut(usize, &Outcome),
    line: &mut dyn FnMut(&str),
) -> Vec<(usize, Outcome)> {
    let mut pending: Vec<usize> = ids.to_vec();
    let mut results: Vec<(usize, Outcome)> = Vec::new();
    while !pending.is_empty() {
        let mut cmd = if opts.runner_cmd.is_empty() {
            Command::new(exe)
        } else {
            let mut c = Command::new(&opts.runner_cmd[0]);
            c.args(&opts.runner_cmd[1..]).arg(exe);
            c
        };
        cmd.arg(data_dir)
            .arg(opts.rtol.to_string())
            .arg(opts.atol_rel.to_string())
            .arg(opts.min_sample_us.to_string())
            .arg(opts.repeats.to_string())
            .arg(if opts.flush { "1" } else { "0" })
            .arg(opts.cutoff_us.unwrap_or(0.0).to_string())
            .arg(opts.cutoff_ratio.unwrap_or(0.0).to_string())
            .arg(opts.budget_us.unwrap_or(0.0).to_string())
            .args(extra)
            .args(pending.iter().map(|i| i.to_string()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                results
                    .extend(pending.drain(..).map(|i| (i, Outcome::Crashed(format!("cannot start the runner: {e}")))));
                break;
            }
        };
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(Event::Line(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Event::StdoutClosed);
        });
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                s.push_str(&line);
                s.push('\n');
            }
            let _ = tx2.send(Event::Exited(s));
        });
        let mut current: Option<usize> = None;
        // The process has exited once both streams are closed; only then is
        // every result line read (the two arrive from separate threads).
        let mut stdout_open = true;
        let mut exited: Option<String> = None;
        loop {
            let event = match (stdout_open, exited.take()) {
                (false, Some(stderr)) => Ok(Event::Exited(stderr)),
                (_, e) => {
                    exited = e;
                    rx.recv_timeout(opts.timeout)
                }
            };
            let event = match event {
                Ok(Event::Exited(stderr)) if stdout_open => {
                    exited = Some(stderr);
                    continue;
                }
                other => other,
            };
            match event {
                Ok(Event::StdoutClosed) => stdout_open = false,
                Ok(Event::Line(l)) => {
                    line(&l);
                    if let Some(id) = l.strip_prefix("BEGIN ").and_then(|s| s.trim().parse().ok()) {
                        current = Some(id);
                    } else if let Some(json) = l.strip_prefix("RESULT ") {
                        if let Some((id, o)) = parse_result(json) {
                            pending.retain(|p| *p != id);
                            each(id, &o);
                            results.push((id, o));
                            current = None;
                        }
                    }
                }
                Ok(Event::Exited(stderr)) => {
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    if let Some(id) = current {
                        let msg = format!("{status}; {}", stderr.lines().last().unwrap_or("").trim());
                        pending.retain(|p| *p != id);
                        each(id, &Outcome::Crashed(msg.clone()));
                        results.push((id, Outcome::Crashed(msg)));
                    } else if !pending.is_empty() {
                        // Died before starting anything: give up on the rest.
                        let msg = format!("runner exited ({status}): {}", stderr.trim());
                        results.extend(pending.drain(..).map(|i| (i, Outcome::Crashed(msg.clone()))));
                    }
                    break;
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if let Some(id) = current {
                        pending.retain(|p| *p != id);
                        each(id, &Outcome::Timeout);
                        results.push((id, Outcome::Timeout));
                    } else {
                        results.extend(pending.drain(..).map(|i| (i, Outcome::Timeout)));
                    }
                    break;
                }
            }
        }
        let _ = err_thread.join();
        let _ = child.wait();
    }
    let order = |id: &usize| ids.iter().position(|x| x == id).unwrap_or(usize::MAX);
    results.sort_by_key(|(id, _)| order(id));
    results
}

fn parse_result(json: &str) -> Option<(usize, Outcome)> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let id = v["id"].as_u64()? as usize;
    if v["ok"].as_bool()? {
        return Some((id, Outcome::Ok { median_us: v["median_us"].as_f64()? }));
    }
    let e = v["error"].as_str().unwrap_or("").to_string();
    Some((id, if e.starts_with("unsupported") { Outcome::Unsupported(e) } else { Outcome::Wrong(e) }))
}
