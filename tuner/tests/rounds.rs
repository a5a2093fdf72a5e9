//! The runner's interleaved mode (what `tuner bench` times with): every good
//! candidate gets exactly one sample per round, and bad candidates are
//! contained as in tuning's mode — one that computes a wrong result is
//! rejected before the rounds, one that crashes or hangs in the middle of
//! the rounds is reported as such, and the others are still measured. And
//! `tuner bench --json` reads every row as memory traffic.

mod common;

use std::process::Command;
use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;

use kiln_ir::schedule::testing::matmul;
use kiln_ir::target::Isa;
use tuner::builder::{build_batch, prepare, Candidate};
use tuner::runner::run_rounds;
use tuner::runner::{write_data, Outcome, RunOptions};

/// A correct 64³ product taking at least 1 ms a call, which runs `fail` at
/// its `nth` call in the process: with one call to check, one to time and
/// three to warm up (1 ms each: one call per sample, 3 calls make the 2 ms
/// warm-up), then two calls per sample, the 9th call falls in the rounds.
fn slow_product(nth: usize, fail: TokenStream) -> Candidate {
    Candidate::raw(quote! {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        pub unsafe fn run(a: &[f32], b: &[f32], c: &mut [f32]) {
            if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == #nth {
                #fail
            }
            for i in 0..64 {
                for j in 0..64 {
                    let mut s = 0.0f32;
                    for k in 0..64 {
                        s += a[i * 64 + k] * b[k * 64 + j];
                    }
                    c[i * 64 + j] = s;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    })
}

#[test]
fn interleaved_rounds_sample_every_candidate_and_contain_bad_ones() {
    common::share_harness();
    let work = common::temp_dir("rounds");
    let tc = prepare(&work).expect("runtime builds");
    let func = matmul(64, 64, 64);
    let data = work.join("data");
    write_data(&func, &data, 7).unwrap();
    let cands = vec![
        Candidate::new(func.clone(), Isa::Scalar),
        slow_product(9, quote!(std::process::abort();)),
        slow_product(
            9,
            quote!(loop {
                std::hint::spin_loop();
            }),
        ),
        Candidate::raw(quote! {
            pub unsafe fn run(a: &[f32], b: &[f32], c: &mut [f32]) {
                c.iter_mut().for_each(|x| *x = 1.0);
            }
        }),
        slow_product(usize::MAX, quote!()),
    ];
    let built = build_batch(&tc, &func, &cands, "rounds_test");
    assert!(built.failed.is_empty(), "{:?}", built.failed);
    let opts = RunOptions { timeout: Duration::from_secs(3), min_sample_us: 200.0, ..RunOptions::default() };
    let ids: Vec<usize> = (0..cands.len()).collect();
    let out = run_rounds(&built.exe, &data, &ids, &opts, 4);
    let by_cand = |c: usize| &out[built.included.iter().position(|x| *x == c).unwrap()];
    for good in [0, 4] {
        let (_, o, samples) = by_cand(good);
        assert!(matches!(o, Outcome::Ok { .. }), "{o:?}");
        assert_eq!(samples.len(), 4, "one sample per round: {samples:?}");
        assert!(samples.iter().all(|s| *s > 0.0), "{samples:?}");
    }
    assert!(matches!(by_cand(1).1, Outcome::Crashed(_)), "{:?}", by_cand(1));
    assert!(matches!(by_cand(2).1, Outcome::Timeout), "{:?}", by_cand(2));
    assert!(matches!(by_cand(3).1, Outcome::Wrong(_)), "{:?}", by_cand(3));
    assert!(by_cand(3).2.is_empty());
    let _ = std::fs::remove_dir_all(&work);
}

/// `tuner bench --json` on relu (1×128 in, 1×128 out): ns per output
/// element, GB/s of its 1024 bytes, and their share of the L2 read bandwidth
/// of the work directory's `machine.json` (set to 50 GB/s here, so that the
/// share is checkable and the probe does not run).
#[test]
fn bench_rows_read_as_memory_traffic() {
    common::share_harness();
    let work = common::temp_dir("bench-traffic");
    let mut m = tuner::probe::Machine::quick(&work);
    m.read_gbs = vec![("L2".into(), 50.0)];
    std::fs::write(work.join("machine.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tuner"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "--json", "--rounds", "3", "--kernel", "relu"])
        .arg("--work-dir")
        .arg(&work)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("L2 read bandwidth, 50.0 GB/s (1 core"), "{stderr}");
    let rows: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["variant"] == "naive") && rows.iter().any(|r| r["variant"] == "default"));
    for r in &rows {
        assert_eq!((r["bytes_read"].as_u64(), r["bytes_written"].as_u64()), (Some(512), Some(512)), "{r}");
        assert_eq!((r["out_elements"].as_u64(), r["l2_gbs"].as_f64()), (Some(128), Some(50.0)), "{r}");
        let us = r["median_us"].as_f64().unwrap();
        let close = |key: &str, want: f64| {
            let got = r[key].as_f64().unwrap_or_else(|| panic!("no {key}: {r}"));
            assert!((got - want).abs() <= 1e-9 * want, "{key} {got}, want {want}: {r}");
        };
        close("ns_per_element", us * 1e3 / 128.0);
        close("gbs", 1024.0 / us / 1e3);
        close("pct_l2", 1024.0 / us / 1e3 / 50.0 * 100.0);
    }
    let _ = std::fs::remove_dir_all(&work);
}
