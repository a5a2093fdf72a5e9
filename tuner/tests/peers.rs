//! `tuner bench --peers`: the bundled kernels that are a matrix product are
//! recognised as such (with their sizes and layouts) and the others are not;
//! and a run times faer and matrixmultiply beside kiln's variants, in one
//! process, every peer checked against the reference.

mod common;

use std::path::Path;
use std::process::Command;

use tuner::peers::matrix_product;
use tuner::peers::product::{Layout, MatProduct};

fn bundled() -> Vec<kiln_ir::ir::PrimFunc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("kernels");
    let found = kiln_ir::parse::kernels_in_crate(&dir);
    assert!(found.invalid.is_empty(), "{:?}", found.invalid);
    found.kernels.into_iter().map(|(f, k)| k.unwrap_or_else(|e| panic!("{}: {e:?}", f.display())).func).collect()
}

#[test]
fn bundled_matrix_products_are_recognised() {
    let product =
        |m, n, k, b_layout, bias| MatProduct { m, n, k, a: 0, b: 1, b_layout, bias, out: 2 + bias.map_or(0, |_| 1) };
    let want = |name: &str| match name {
        "matmul" => Some(product(128, 128, 128, Layout::KN, None)),
        "matmul_odd" => Some(product(100, 37, 300, Layout::KN, None)),
        "matmul512" | "matmul512_t2" => Some(product(512, 512, 512, Layout::KN, None)),
        "linear" | "linear_sym" => Some(product(64, 128, 784, Layout::NK, Some(2))),
        "linear0" => Some(product(1, 128, 784, Layout::NK, Some(2))),
        "linear1" => Some(product(1, 10, 128, Layout::NK, Some(2))),
        "softmax" | "softmax_fast" | "rmsnorm" | "layernorm" | "gelu" | "gelu_fast" | "bias_gelu" | "relu"
        | "conv2d" => None,
        other => panic!("a bundled kernel this test does not know: {other}"),
    };
    let funcs = bundled();
    assert!(funcs.len() >= 10, "{} kernels", funcs.len());
    for f in &funcs {
        assert_eq!(matrix_product(f), want(&f.name), "{}", f.name);
    }
    let linear = funcs.iter().find(|f| f.name == "linear").unwrap();
    assert_eq!(matrix_product(linear).unwrap().describe(linear), "z[64×128] = x[64×784]·w[128×784]ᵀ + b[128]");
}

/// The JSON rows of `tuner bench --peers --json` for `kernel` on `threads`.
fn bench_rows(work: &Path, kernel: &str, threads: &str) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tuner"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "--peers", "--json", "--rounds", "5", "--kernel", kernel, "--threads", threads])
        .arg("--work-dir")
        .arg(work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// Ignored by default: the first run builds the peers' harness, i.e. faer
/// (about 4 minutes on 2 cores; then kept in the tests' target directory,
/// `target/tmp/kiln-harness-peers`, beside the shared runtime harness), which
/// a CI run on a fresh target directory cannot afford: the full suite already
/// takes close to 30 minutes there. Warm, it takes about 10 s. Run it with
/// `cargo test --release -p tuner --test peers -- --ignored`.
#[test]
#[ignore = "builds faer the first time (about 4 minutes on 2 cores); run with --ignored"]
fn bench_peers_times_faer_and_matrixmultiply_beside_kiln() {
    common::share_harness();
    let work = common::temp_dir("bench-peers");
    // linear0: one row, X·Wᵀ + b, single-threaded; matmul_odd: A·B on two
    // threads (matrixmultiply on two halves of the rows, 50 and 50).
    for (kernel, threads) in [("linear0", "1"), ("matmul_odd", "2")] {
        let rows = bench_rows(&work, kernel, threads);
        let variants: Vec<&str> = rows.iter().map(|r| r["variant"].as_str().unwrap()).collect();
        for peer in ["faer", "matrixmultiply"] {
            let row =
                rows.iter().find(|r| r["variant"] == peer).unwrap_or_else(|| panic!("no {peer} row: {variants:?}"));
            assert_eq!(row["kernel"], kernel);
            assert!(row["error"].is_null(), "{row}");
            assert!(row["median_us"].as_f64().is_some_and(|us| us > 0.0), "{row}");
            assert!(row["spread_pct"].as_f64().is_some() && row["noisy"].is_boolean(), "{row}");
        }
        // kiln's variants ran in the same process.
        assert!(variants.contains(&"naive") && variants.contains(&"default"), "{variants:?}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn kernels_that_are_not_products_have_no_peers() {
    common::share_harness();
    let work = common::temp_dir("bench-no-peers");
    let out = Command::new(env!("CARGO_BIN_EXE_tuner"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "--peers", "--rounds", "3", "--kernel", "relu"])
        .arg("--work-dir")
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("relu         no peers for this kernel"), "{stdout}");
    assert!(!stdout.contains("faer") && stdout.contains("relu         naive"), "{stdout}");
    let _ = std::fs::remove_dir_all(&work);
}
