//! Build script of the bundled kernels — and the template for a kernel crate
//! of your own: copy this file next to your `Cargo.toml` and add
//!
//! ```toml
//! [build-dependencies]
//! kiln-ir = "…"   # the version of kiln you use
//! ```
//!
//! `tensor_func!` reads `traces/<kernel>.json` while it expands a kernel. What
//! a proc macro cannot do on its own, this script does:
//!
//! 1. makes cargo rebuild the crate when a trace file is added, changed or
//!    removed (`rerun-if-changed` on the `traces/` directory and on each file),
//!    when a source file changes (which may make a trace stale), and when
//!    `KILN_STRICT_TRACES` changes (stale traces are then errors);
//! 2. warns (`cargo:warning=`) about trace files that are
//!    - **stale**: the kernel changed since it was tuned (the build uses the
//!      default schedule; re-run the tuner),
//!    - **orphans**: no kernel of that name in `src/` (renamed or removed),
//!    - **corrupt**: not a readable trace file (the kernel's expansion fails
//!      with the same message).
//!
//! Keep a `traces/` directory even when it holds no trace yet (a `README.md`
//! will do): cargo can only notice files added to a directory that exists.
//! Kernels are found as the tuner finds them (`find_kernels_in_file`):
//! item-level `tensor_func!`s of `src/**/*.rs`, also in inline modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_ir::parse::find_kernels_in_file;
use kiln_ir::tracefile::{workload_hash, TraceFile};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    // Read by the macro, which cargo cannot see: rerunning this script
    // recompiles the crate, so switching strict mode re-expands the kernels.
    println!("cargo:rerun-if-env-changed=KILN_STRICT_TRACES");
    let traces = root.join("traces");
    if traces.is_dir() {
        println!("cargo:rerun-if-changed=traces");
    }
    let trace_files = json_files(&traces);
    for f in &trace_files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    if trace_files.is_empty() {
        return;
    }

    // Every kernel of the crate and its workload hash; `complete` is false when
    // some kernel could not be named (then no file is called an orphan).
    let mut kernels: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut complete = true;
    for src in rs_files(&root.join("src")) {
        let Ok(text) = std::fs::read_to_string(&src) else { continue };
        let Ok(found) = find_kernels_in_file(&text) else {
            complete = false; // not valid Rust: rustc reports it
            continue;
        };
        for k in found {
            match k {
                Ok(k) => {
                    kernels.insert(k.func.name.clone(), Some(workload_hash(&k.func)));
                }
                // The kernel does not compile; its expansion reports why.
                Err(f) => match f.sig {
                    Some(sig) => {
                        kernels.insert(sig.name.to_string(), None);
                    }
                    None => complete = false,
                },
            }
        }
    }

    for path in &trace_files {
        let shown = path.strip_prefix(&root).unwrap_or(path).display();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let file = match TraceFile::read(path) {
            Ok(Some(file)) => file,
            Ok(None) => continue,
            Err(e) => {
                warn(&format!("corrupt trace file {shown}: {}", e.message));
                continue;
            }
        };
        if file.kernel != stem {
            warn(&format!("trace file {shown} is for kernel `{}`; name it traces/{}.json", file.kernel, file.kernel));
            continue;
        }
        match kernels.get(&stem) {
            None if complete => warn(&format!("orphan trace file {shown}: no kernel `{stem}` in src/")),
            Some(Some(workload)) if *workload != file.workload => warn(&format!(
                "stale trace file {shown}: `{stem}` changed since it was tuned (workload {}, now {workload}); \
                 the default schedule is used until it is tuned again",
                file.workload
            )),
            _ => {}
        }
    }
}

fn warn(msg: &str) {
    // One line per warning: cargo reads the build script's output line by line.
    println!("cargo:warning={}", msg.replace(['\n', '\r'], " "));
}

/// The `*.json` files of `dir`, sorted (none if it does not exist).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

/// The `*.rs` files under `dir`, recursively, sorted.
fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
