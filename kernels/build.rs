//! Build script of the bundled kernels — and the template for a kernel crate
//! of your own: copy this file next to your `Cargo.toml` and add
//!
//! ```toml
//! [build-dependencies]
//! kiln-ir = "…"   # the version of kiln you use
//! ```
//!
//! It makes cargo rebuild the crate when a trace file in `traces/` is added,
//! changed or removed, and warns about stale, orphan or corrupt trace files
//! (`kiln_ir::build_script` says what and why). Keep a `traces/` directory
//! even when it holds no trace yet (a `README.md` will do): cargo can only
//! notice files added to a directory that exists.

fn main() {
    kiln_ir::build_script::kernel_crate();
}
