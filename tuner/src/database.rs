//! The tuning database: two JSON-lines files in the work directory
//! (MetaSchedule's `JSONDatabase`).
//!
//! - `workloads.jsonl`: one line per kernel version, `{"kernel", "workload", "ir"}`;
//! - `records.jsonl`: one line per measured program, `{"workload", "kernel",
//!   "target", "threads", "role", "key", "trace", "median_us" | "error", "time"}`.
//!
//! Every line is appended with a single `write` of the whole line followed by
//! an `fsync`, so a tuner killed at any point (Ctrl-C, `kill -9`) leaves every
//! record it reported intact; at worst the last line is torn, and a torn or
//! otherwise unreadable line is skipped (and counted) on reading. A lock file
//! holding the owner's PID keeps two tuners off one work directory; a lock
//! left by a dead process is taken over.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use kiln_ir::ir::{func_to_string, PrimFunc};
use kiln_ir::trace::Trace;
use kiln_ir::tracefile::workload_hash;

use crate::error::{Error, Result};

/// Why a program is in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A candidate of the search (counts towards the trial budget).
    Search,
    /// The default schedule, measured as the baseline.
    Default,
    /// The trace committed before this run, measured to compare.
    Committed,
}

/// One measured program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub workload: String,
    pub kernel: String,
    /// The trace-file target key (`x86_64-avx2`).
    pub target: String,
    pub threads: usize,
    pub role: Role,
    /// The structural key of the scheduled program (see `task::program_key`).
    pub key: String,
    pub trace: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds since the Unix epoch.
    pub time: f64,
}

impl Record {
    /// The trace, if it reads.
    pub fn trace(&self) -> Option<Trace> {
        Trace::from_json(&self.trace).ok()
    }

    /// Whether the record is a correct, timed program.
    pub fn is_ok(&self) -> bool {
        self.median_us.is_some_and(|t| t.is_finite() && t > 0.0) && self.error.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct WorkloadLine {
    kernel: String,
    workload: String,
    ir: String,
}

/// The lock on a work directory, released on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without /proc, be conservative: a lock is only stale when removed by hand.
        true
    }
}

/// Takes the lock of `dir` (creating the directory), or says who holds it.
pub fn lock(dir: &Path) -> Result<Lock> {
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let path = dir.join("tuner.lock");
    for _ in 0..3 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(format!("{}\n", std::process::id()).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(Error::io("write", &path))?;
                return Ok(Lock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                match text.trim().parse::<u32>() {
                    Ok(pid) if pid != std::process::id() && process_alive(pid) => {
                        return Err(Error::Locked { pid, dir: dir.to_path_buf(), lock: path });
                    }
                    // A dead owner, or a lock torn while being written: take it over.
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(e) => return Err(Error::io("create", &path)(e)),
        }
    }
    Err(Error::Lock { path })
}

/// Appends one line with a single write, then syncs it to disk.
fn append_line(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut line = serde_json::to_string(value).map_err(|e| Error::Database {
        dir: path.parent().unwrap_or(path).to_path_buf(),
        message: format!("cannot serialize a line of {}: {e}", path.display()),
    })?;
    line.push('\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path).map_err(Error::io("open", path))?;
    f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(Error::io("append to", path))
}

/// Reads the parseable lines of a JSON-lines file; returns them and the
/// number of lines skipped (torn or corrupt).
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(Vec<T>, usize)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            Err(_) => skipped += 1,
        }
    }
    Ok((out, skipped))
}

/// Ends a file torn mid-line with a newline, so that the next line appended
/// does not glue itself to the torn one.
fn end_torn_line(path: &Path) -> Result<()> {
    if let Ok(b) = std::fs::read(path) {
        if b.last().is_some_and(|c| *c != b'\n') {
            let mut f = OpenOptions::new().append(true).open(path).map_err(Error::io("open", path))?;
            f.write_all(b"\n").and_then(|_| f.sync_data()).map_err(Error::io("append to", path))?;
        }
    }
    Ok(())
}

/// The database of one work directory.
#[derive(Debug)]
pub struct Database {
    dir: PathBuf,
    workloads: BTreeMap<String, String>,
    records: Vec<Record>,
    /// Lines that could not be read when opening (e.g. a torn last line).
    pub skipped: usize,
}

impl Database {
    /// Opens (or creates) the database in `dir`. The caller holds the lock.
    pub fn open(dir: &Path) -> Result<Database> {
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        let (wl, s1): (Vec<WorkloadLine>, usize) = read_lines(&dir.join("workloads.jsonl"))?;
        let (records, s2): (Vec<Record>, usize) = read_lines(&dir.join("records.jsonl"))?;
        end_torn_line(&dir.join("workloads.jsonl"))?;
        end_torn_line(&dir.join("records.jsonl"))?;
        let workloads = wl.into_iter().map(|w| (w.workload, w.kernel)).collect();
        Ok(Database { dir: dir.to_path_buf(), workloads, records, skipped: s1 + s2 })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Registers a kernel's workload (once).
    pub fn add_workload(&mut self, func: &PrimFunc) -> Result<String> {
        let hash = workload_hash(func);
        if !self.workloads.contains_key(&hash) {
            let line = WorkloadLine { kernel: func.name.clone(), workload: hash.clone(), ir: func_to_string(func) };
            append_line(&self.dir.join("workloads.jsonl"), &line)?;
            self.workloads.insert(hash.clone(), func.name.clone());
        }
        Ok(hash)
    }

    /// Appends a record (durably) and keeps it in memory.
    pub fn add(&mut self, rec: Record) -> Result<()> {
        append_line(&self.dir.join("records.jsonl"), &rec)?;
        self.records.push(rec);
        Ok(())
    }

    /// Every record, in the order written.
    pub fn all(&self) -> &[Record] {
        &self.records
    }

    /// The records of one workload, target and thread count.
    pub fn records<'a>(
        &'a self,
        workload: &'a str,
        target: &'a str,
        threads: usize,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.workload == workload && r.target == target && r.threads == threads)
    }

    /// Whether the workload is registered.
    pub fn has_workload(&self, hash: &str) -> bool {
        self.workloads.contains_key(hash)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
