//! Kernel discovery: every `tensor_func!` in the `src/` of the workspace's
//! member crates, parsed with kiln's own parser.
//!
//! The workspace is the one `cargo metadata` reports for the current
//! directory (the tuner's own workspace when that fails), so `cargo run -p
//! tuner` run anywhere in a workspace tunes that workspace's kernels.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_ir::parse::{find_kernels_in_file, Kernel};

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

/// Asks cargo for the workspace of `dir` (or of the current directory).
pub fn metadata(dir: Option<&Path>) -> Result<Workspace, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["metadata", "--no-deps", "--format-version", "1", "--offline"]);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let root = PathBuf::from(v["workspace_root"].as_str().ok_or("no workspace_root")?);
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

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every kernel in the `src/` of the workspace's members (sorted by crate,
/// then file, then position), and the problems met on the way.
pub fn discover(ws: &Workspace) -> (Vec<Found>, Vec<Problem>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (name, dir) in &ws.members {
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let Ok(src) = std::fs::read_to_string(&file) else { continue };
            if !src.contains("tensor_func") {
                continue;
            }
            match find_kernels_in_file(&src) {
                Err(e) => problems.push(Problem { file: file.clone(), message: format!("not valid Rust: {e}") }),
                Ok(ks) => {
                    for k in ks {
                        match k {
                            Ok(kernel) => found.push(Found {
                                kernel,
                                crate_name: name.clone(),
                                crate_dir: dir.clone(),
                                file: file.clone(),
                            }),
                            Err(e) => problems.push(Problem { file: file.clone(), message: e.to_string() }),
                        }
                    }
                }
            }
        }
    }
    (found, problems)
}
