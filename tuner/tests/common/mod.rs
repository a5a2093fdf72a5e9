//! Shared helpers of the tuner's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// One build of kiln's runtime for every test (building it takes minutes).
pub fn share_harness() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kiln-harness");
    // SAFETY: set before any test of this binary spawns a thread that reads the environment.
    std::env::set_var("KILN_TUNE_HARNESS_DIR", dir);
}

/// A fresh, empty temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small matmul, parsed from the language as a user would write it.
pub const SMALL_MATMUL: &str = r#"
    pub fn mm(a: [f32; 32, 48], b: [f32; 48, 40], c: &mut [f32; 32, 40]) {
        for (i, j, k) in grid(32, 40, 48) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
            }
        }
    }
"#;

pub fn small_matmul() -> kiln_ir::ir::PrimFunc {
    kiln_ir::schedule::testing::kernel(SMALL_MATMUL)
}
