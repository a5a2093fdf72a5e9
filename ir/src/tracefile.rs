//! Trace files on disk: `kernels/traces/<kernel>.json`, one per kernel.
//!
//! ```json
//! { "format": 1, "kernel": "matmul", "workload": "fnv1a64:…",
//!   "targets": {
//!     "x86_64-avx512": { "trace": ["b0 = sch.get_block(name=\"C\", func_name=\"main\")", …],
//!                        "latency_us": 36.1, "gflops": 116.2,
//!                        "tuned": {"trials": 64, "seed": 0, "cpu": "…", "date": "…"} },
//!     "x86_64-avx2": { … } } }
//! ```
//! A trace is stored as the lines of its text form (what `print(sch.trace)`
//! shows, so that a committed trace reads and diffs like the chapter's), or,
//! equivalently, as the versioned JSON form of `Trace::to_json`.
//!
//! The workload is a hash of the kernel's printed IR: when the kernel changes,
//! its trace is stale and the build falls back to the default schedule (with
//! a warning, or an error in strict mode). A file that does not parse, has an
//! unknown format, or whose trace does not replay is an error naming the file
//! and the problem — never wrong code.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ir::{func_to_string, PrimFunc};
use crate::target::Target;
use crate::trace::Trace;

/// The current trace-file format version.
pub const TRACE_FILE_FORMAT: u32 = 1;

/// How a trace was obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub trials: u64,
    pub seed: u64,
    pub cpu: String,
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// kiln's CPU class of the tuning machine (`znver3`, `sapphirerapids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_class: Option<String>,
    /// Its measured fp32 FMA peak for the entry's ISA, GFLOP/s, one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_gflops: Option<f64>,
    /// Its cache sizes, KiB: L1d, L2, L3 (the bounds of the cache blocking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_kib: Option<[u64; 3]>,
}

/// The committed schedule of one kernel for one target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetEntry {
    pub trace: Trace,
    pub latency_us: Option<f64>,
    pub gflops: Option<f64>,
    /// Absent for a hand-written trace.
    pub tuned: Option<Provenance>,
    /// Free text, e.g. why a hand-written trace looks the way it does.
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TargetJson {
    trace: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latency_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gflops: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tuned: Option<Provenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FileJson {
    format: u32,
    kernel: String,
    workload: String,
    targets: BTreeMap<String, TargetJson>,
}

/// A kernel's trace file.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFile {
    pub kernel: String,
    pub workload: String,
    /// By target key (`Target::key`: `x86_64-avx2`, `x86_64-avx2@znver3`).
    pub targets: BTreeMap<String, TargetEntry>,
}

/// What is wrong with a trace file.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFileError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for TraceFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace file {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for TraceFileError {}

/// FNV-1a 64 of a string (stable across builds and platforms).
pub fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The structural hash of a kernel: FNV-1a 64 of its printed IR.
pub fn workload_hash(func: &PrimFunc) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(&func_to_string(func)))
}

impl TraceFile {
    pub fn new(func: &PrimFunc) -> TraceFile {
        TraceFile { kernel: func.name.clone(), workload: workload_hash(func), targets: BTreeMap::new() }
    }

    /// Parses a trace file's text (`path` is only used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<TraceFile, TraceFileError> {
        let err = |m: String| TraceFileError { path: path.to_path_buf(), message: m };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        match v.get("format").and_then(|f| f.as_u64()) {
            Some(f) if f == TRACE_FILE_FORMAT as u64 => {}
            Some(f) => {
                return Err(err(format!("format {f} is not supported (this kiln reads format {TRACE_FILE_FORMAT})")))
            }
            None => return Err(err("missing the numeric \"format\" field".into())),
        }
        let fj: FileJson = serde_json::from_value(v).map_err(|e| err(format!("malformed: {e}")))?;
        let mut targets = BTreeMap::new();
        for (key, t) in fj.targets {
            if Target::parse(&key).is_none() {
                return Err(err(format!(
                    "unknown target \"{key}\" (expected x86_64-avx512, x86_64-avx2 or generic-scalar, \
                     optionally with a CPU class: x86_64-avx2@znver3)"
                )));
            }
            let trace = match &t.trace {
                serde_json::Value::Array(lines) => {
                    let text: Option<Vec<&str>> = lines.iter().map(|l| l.as_str()).collect();
                    let text = text.ok_or_else(|| err(format!("target \"{key}\": trace lines must be strings")))?;
                    crate::trace::parse_trace_str(&text.join("\n"))
                        .map_err(|e| err(format!("target \"{key}\": {e}")))?
                }
                other => Trace::from_json(other).map_err(|e| err(format!("target \"{key}\": {e}")))?,
            };
            targets.insert(
                key,
                TargetEntry { trace, latency_us: t.latency_us, gflops: t.gflops, tuned: t.tuned, note: t.note },
            );
        }
        Ok(TraceFile { kernel: fj.kernel, workload: fj.workload, targets })
    }

    /// Reads `path`; `Ok(None)` if there is no such file.
    pub fn read(path: &Path) -> Result<Option<TraceFile>, TraceFileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => TraceFile::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TraceFileError { path: path.to_path_buf(), message: format!("cannot be read: {e}") }),
        }
    }

    /// The file's text: pretty JSON with a stable key order and a final newline.
    pub fn to_json_string(&self) -> String {
        let fj = FileJson {
            format: TRACE_FILE_FORMAT,
            kernel: self.kernel.clone(),
            workload: self.workload.clone(),
            targets: self
                .targets
                .iter()
                .map(|(k, t)| {
                    (
                        k.clone(),
                        TargetJson {
                            trace: serde_json::Value::Array(
                                t.trace.to_string().lines().map(|l| serde_json::Value::String(l.into())).collect(),
                            ),
                            latency_us: t.latency_us,
                            gflops: t.gflops,
                            tuned: t.tuned.clone(),
                            note: t.note.clone(),
                        },
                    )
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&fj).expect("serializable");
        s.push('\n');
        s
    }

    /// Writes the file atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json_string())?;
        std::fs::rename(&tmp, path)
    }

    /// The entry for exactly `target` (no fallback from a CPU class to its
    /// ISA: `program::Sources::entry` does that).
    pub fn entry(&self, target: &Target) -> Option<&TargetEntry> {
        self.targets.get(&target.key())
    }
}
