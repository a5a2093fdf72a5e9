//! Kernel discovery: every `tensor_func!` in the `src/` of the workspace's
//! member crates (`kiln_ir::parse::kernels_in_crate`, kiln's own parser),
//! and the tuning tasks they make.
//!
//! The workspace is the one `cargo metadata` reports for the current
//! directory (the tuner's own workspace when that fails), so `cargo run -p
//! tuner` run anywhere in a workspace tunes that workspace's kernels.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_ir::parse::{kernels_in_crate, Kernel};

use crate::error::{Error, Result};
use crate::task::Task;

/// A workspace: its root and its member packages.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    /// `(package name, package directory)`, in the order cargo lists them.
    pub members: Vec<(String, PathBuf)>,
}

/// A kernel found in a crate.
#[derive(Clone, Debug)]
pub struct Found {
    pub kernel: Kernel,
    /// The package name.
    pub crate_name: String,
    /// The package directory (its `traces/` holds the trace files).
    pub crate_dir: PathBuf,
    pub file: PathBuf,
}

/// A kernel that did not parse, or a file that is not valid Rust.
#[derive(Clone, Debug)]
pub struct Problem {
    pub file: PathBuf,
    pub message: String,
}

/// The workspace containing the current directory.
pub fn workspace() -> Workspace {
    metadata(None).unwrap_or_else(|_| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        metadata(Some(&root))
            .unwrap_or(Workspace { root: root.clone(), members: vec![("kernels".into(), root.join("kernels"))] })
    })
}

impl Workspace {
    /// The work directory: `dir` if given, else `target/kiln-tune` under the root.
    pub fn work_dir(&self, dir: Option<&Path>) -> PathBuf {
        dir.map_or_else(|| self.root.join("target").join("kiln-tune"), Path::to_path_buf)
    }
}

/// Asks cargo for the workspace of `dir` (or of the current directory).
pub fn metadata(dir: Option<&Path>) -> Result<Workspace> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["metadata", "--no-deps", "--format-version", "1", "--offline"]);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().map_err(Error::spawn("cargo metadata"))?;
    let failed = |message: String| Error::Workspace { message };
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).to_string()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| failed(e.to_string()))?;
    let root = PathBuf::from(v["workspace_root"].as_str().ok_or_else(|| failed("no workspace_root".into()))?);
    let members: Vec<String> =
        v["workspace_members"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(String::from)).collect();
    let mut pkgs = Vec::new();
    for p in v["packages"].as_array().into_iter().flatten() {
        let id = p["id"].as_str().unwrap_or("");
        if !members.iter().any(|m| m == id) {
            continue;
        }
        let (Some(name), Some(manifest)) = (p["name"].as_str(), p["manifest_path"].as_str()) else { continue };
        pkgs.push((name.to_string(), Path::new(manifest).parent().unwrap().to_path_buf()));
    }
    Ok(Workspace { root, members: pkgs })
}

/// Every kernel in the `src/` of the workspace's members (sorted by crate,
/// then file, then position), and the problems met on the way (in the same
/// order).
pub fn discover(ws: &Workspace) -> (Vec<Found>, Vec<Problem>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (name, dir) in &ws.members {
        let crate_kernels = kernels_in_crate(dir);
        let mut in_crate = Vec::new();
        for (file, kernel) in crate_kernels.kernels {
            match kernel {
                Ok(kernel) => found.push(Found { kernel, crate_name: name.clone(), crate_dir: dir.clone(), file }),
                Err(e) => in_crate.push(Problem { file, message: e.to_string() }),
            }
        }
        for (file, e) in crate_kernels.invalid {
            in_crate.push(Problem { file, message: format!("not valid Rust: {e}") });
        }
        in_crate.sort_by(|a, b| a.file.cmp(&b.file));
        problems.extend(in_crate);
    }
    (found, problems)
}

/// The tasks of the workspace (or just the kernel `only`); the kernels that
/// do not parse are warned about.
pub fn tasks(ws: &Workspace, only: Option<&str>) -> Result<Vec<Task>> {
    let (found, problems) = discover(ws);
    for p in &problems {
        eprintln!("warning: {}: {}", p.file.display(), p.message.lines().next().unwrap_or(""));
    }
    let mut out = Vec::new();
    for f in found.iter().filter(|f| only.is_none_or(|k| f.kernel.func.name == k)) {
        out.push(Task::from_kernel(&f.kernel, &f.crate_name, &f.crate_dir)?);
    }
    if out.is_empty() {
        return Err(match only {
            Some(k) => Error::NoSuchKernel {
                name: k.to_string(),
                known: found.iter().map(|f| f.kernel.func.name.clone()).collect(),
            },
            None => Error::NoKernels { root: ws.root.clone() },
        });
    }
    Ok(out)
}
