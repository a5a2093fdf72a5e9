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

/// The candidates of `func` on every ISA — the default schedule and the
/// first `samples` sampled points (AVX-512 through the emulated intrinsics on
/// a CPU without it) — with a label each (`avx2 sample 1`).
/// `func` under its default schedule for `isa`, with every lane loop that
/// the space could group (a `sample_categorical` over 1, 2, 4 vectors before
/// its split) holding `vectors` vectors instead.
#[allow(dead_code)]
pub fn with_lane_loops_of(
    func: &kiln_ir::ir::PrimFunc,
    isa: kiln_ir::target::Isa,
    vectors: i64,
) -> kiln_ir::ir::PrimFunc {
    use kiln_ir::space::{default_trace, SpaceOptions};
    let lanes = isa.lanes(kiln_ir::ir::DataType::F32) as i64;
    let text = default_trace(func, &SpaceOptions::new(isa)).unwrap().trace().to_string();
    let mut out = Vec::new();
    let mut grouped = false;
    for line in text.lines() {
        if line.contains("sample_categorical(candidates=[1, 2") {
            grouped = true;
        } else if grouped && line.contains(&format!("factors=[None, {lanes}]")) {
            out.push(
                line.replace(&format!("factors=[None, {lanes}]"), &format!("factors=[None, {}]", lanes * vectors)),
            );
            grouped = false;
            continue;
        }
        out.push(line.to_string());
    }
    let trace = kiln_ir::trace::parse_trace_str(&out.join("\n")).unwrap();
    let sch = kiln_ir::schedule::Schedule::replay(func, &trace, 0, kiln_ir::schedule::DecisionMode::Strict).unwrap();
    sch.into_parts().0
}

pub fn candidates_on_every_isa(
    func: &kiln_ir::ir::PrimFunc,
    samples: u64,
) -> (Vec<tuner::builder::Candidate>, Vec<String>) {
    use kiln_ir::space::{default_trace, sample, SpaceOptions};
    use kiln_ir::target::Isa;
    use tuner::builder::Candidate;
    let native512 = std::arch::is_x86_feature_detected!("avx512f");
    let (mut cands, mut labels) = (Vec::new(), Vec::new());
    for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
        let opts = SpaceOptions::new(isa);
        let mut funcs = vec![("default".to_string(), default_trace(func, &opts).unwrap().into_parts().0)];
        for seed in 0..samples {
            if let Ok(sch) = sample(func, &opts, seed) {
                funcs.push((format!("sample {seed}"), sch.into_parts().0));
            }
        }
        for (label, f) in funcs {
            let c =
                if isa == Isa::Avx512 && !native512 { Candidate::emulated_avx512(&f) } else { Candidate::new(f, isa) };
            cands.push(c);
            labels.push(format!("{isa} {label}"));
        }
    }
    (cands, labels)
}

/// Builds `cands` (of `func`, labelled `labels`) into one executable in
/// `work` and runs each once against the interpreter's outputs, within
/// `|got - want| <= atol_rel · max|want| + rtol · |want|`: the labels of the
/// candidates that ran right, and `label: why` for those that were wrong.
/// Candidates this CPU cannot run are skipped; a build failure or a crash
/// fails the test.
pub fn run_against_interpreter(
    work: &std::path::Path,
    func: &kiln_ir::ir::PrimFunc,
    cands: &[tuner::builder::Candidate],
    labels: &[String],
    name: &str,
    (rtol, atol_rel): (f64, f64),
) -> (Vec<String>, Vec<String>) {
    use tuner::runner::{run_batch, write_data, Outcome, RunOptions};
    let tc = tuner::builder::prepare(work).expect("runtime builds");
    let data = work.join("data").join(name);
    write_data(func, &data, 7).unwrap();
    let built = tuner::builder::build_batch(&tc, func, cands, name);
    let failed: Vec<_> = built.failed.iter().map(|(i, e)| (&labels[*i], e)).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let ids: Vec<usize> = (0..built.included.len()).collect();
    let opts = RunOptions { rtol, atol_rel, min_sample_us: 1.0, repeats: 1, ..RunOptions::default() };
    let (mut ok, mut wrong) = (Vec::new(), Vec::new());
    for (id, o) in run_batch(&built.exe, &data, &ids, &opts) {
        let label = labels[built.included[id]].clone();
        match o {
            Outcome::Ok { .. } => ok.push(label),
            Outcome::Unsupported(_) => {}
            Outcome::Wrong(why) => wrong.push(format!("{label}: {why}")),
            other => panic!("{name} {label}: {}", other.describe()),
        }
    }
    (ok, wrong)
}
