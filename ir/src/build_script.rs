//! What a kernel crate's `build.rs` does, so that the script itself is one
//! line (`kiln_ir::build_script::kernel_crate()`; see `kernels/build.rs`).
//!
//! `tensor_func!` reads `traces/<kernel>.json` while it expands a kernel. What
//! a proc macro cannot do on its own, the build script does:
//!
//! 1. makes cargo rebuild the crate when a trace file is added, changed or
//!    removed (`rerun-if-changed` on the `traces/` directory and on each file),
//!    when a source file changes (which may make a trace stale), and when
//!    `KILN_STRICT_TRACES` changes (stale traces are then errors);
//! 2. warns (`cargo:warning=`) about trace files that are
//!    - **stale**: the kernel changed since it was tuned (the build uses the
//!      default schedule; re-run the tuner),
//!    - **orphans**: no kernel of that name in `src/` (renamed or removed),
//!    - **misnamed**: the file is for another kernel than its name says,
//!    - **corrupt**: not a readable trace file (the kernel's expansion fails
//!      with the same message).
//!
//! Kernels are found as the tuner finds them ([`kernels_in_crate`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::parse::{files_with_extension, kernels_in_crate};
use crate::tracefile::{workload_hash, TraceFile};

/// The build script of a kernel crate: prints cargo's `rerun-if-changed`
/// lines and a warning per problem of [`check_traces`].
pub fn kernel_crate() {
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
    for f in files_with_extension(&traces, "json", false) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    for w in check_traces(&root) {
        // One line per warning: cargo reads the script's output line by line.
        println!("cargo:warning={}", w.replace(['\n', '\r'], " "));
    }
}

/// The problems of the trace files of the crate at `root` (see the module
/// doc), one message each.
pub fn check_traces(root: &Path) -> Vec<String> {
    let trace_files = files_with_extension(&root.join("traces"), "json", false);
    if trace_files.is_empty() {
        return vec![];
    }
    // Every kernel of the crate and its workload hash; `complete` is false when
    // some kernel could not be named (then no file is called an orphan).
    let found = kernels_in_crate(root);
    let mut complete = found.invalid.is_empty();
    let mut kernels: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (_, k) in found.kernels {
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
    let mut out = Vec::new();
    for path in &trace_files {
        let shown = path.strip_prefix(root).unwrap_or(path).display();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let file = match TraceFile::read(path) {
            Ok(Some(file)) => file,
            Ok(None) => continue,
            Err(e) => {
                out.push(format!("corrupt trace file {shown}: {}", e.message));
                continue;
            }
        };
        if file.kernel != stem {
            out.push(format!(
                "trace file {shown} is for kernel `{}`; name it traces/{}.json",
                file.kernel, file.kernel
            ));
            continue;
        }
        match kernels.get(&stem) {
            None if complete => out.push(format!("orphan trace file {shown}: no kernel `{stem}` in src/")),
            Some(Some(workload)) if *workload != file.workload => out.push(format!(
                "stale trace file {shown}: `{stem}` changed since it was tuned (workload {}, now {workload}); \
                 the default schedule is used until it is tuned again",
                file.workload
            )),
            _ => {}
        }
    }
    out
}
