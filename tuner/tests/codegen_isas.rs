//! Every bundled kernel's generated code against the interpreter, per ISA
//! (and the kernels of `tests/shapes/`, shapes no bundled kernel has):
//! the default schedule and random points of the design space, for AVX2 and
//! scalar on this CPU, and for AVX-512 through the emulated intrinsics when
//! the CPU lacks AVX-512 (natively otherwise). The default schedule and the
//! first `KILN_CODEGEN_CHECKED` samples (default 4) are also built in the
//! bounds-checked debug mode (`CodegenOptions::check_all_accesses`): every
//! access, scalar and vector, checked against its buffer, so that an access
//! the bounds prover wrongly proved in bounds panics (a crash) rather than go
//! unnoticed. `KILN_CODEGEN_SAMPLES` sets the number of random schedules per
//! kernel and ISA (default 4; the acceptance run used 200);
//! `KILN_CODEGEN_KERNELS=a,b` limits the kernels; `KILN_EMULATE_AVX512=1`
//! runs AVX-512 through the emulation on an AVX-512 CPU too.
//! Some points of the space are very slow (a producer recomputed inside its
//! consumer's innermost loop, in scalar code): each candidate gets minutes,
//! not the tuner's 20 s, so that only a real hang fails the test.

use kiln_ir::space::{default_trace, sample, SpaceOptions};
use kiln_ir::target::Isa;
use tuner::builder::{build_batch, prepare, Candidate};
use tuner::runner::{run_batch, write_data, Outcome, RunOptions};

fn kernels() -> Vec<kiln_ir::parse::Kernel> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = ["../kernels/src", "tests/shapes"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().filter_map(|e| e.ok().map(|e| e.path())))
        .collect();
    names.sort();
    names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .flat_map(|p| {
            let src = std::fs::read_to_string(p).unwrap();
            // The 512³ products are 134M block instances: too many to
            // interpret; 40³ has the same schedules' structure (and tails).
            let src = if p.file_name().unwrap().to_string_lossy().starts_with("matmul512") {
                src.replace("512", "40")
            } else {
                src
            };
            kiln_ir::parse::find_kernels_in_file(&src).unwrap()
        })
        .map(|k| k.unwrap())
        .collect()
}

/// A kernel with a symbolic dimension runs at its tune value and at these
/// (1, primes, around and beyond the tune value; the range's maximum is the tuner's
/// check, too slow to interpret here for `linear_sym`).
const SYM_SIZES: [i64; 5] = [1, 7, 63, 100, 257];

#[test]
fn generated_code_matches_the_interpreter_on_every_isa() {
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let samples = env("KILN_CODEGEN_SAMPLES", 4);
    let checked_samples = env("KILN_CODEGEN_CHECKED", 4);
    let work = std::env::temp_dir().join("kiln-codegen-isas");
    let tc = prepare(&work).expect("runtime builds");
    // `KILN_EMULATE_AVX512=1` checks the emulation on an AVX-512 machine too.
    let native512 = std::arch::is_x86_feature_detected!("avx512f") && std::env::var_os("KILN_EMULATE_AVX512").is_none();
    let only: Option<Vec<String>> =
        std::env::var("KILN_CODEGEN_KERNELS").ok().map(|s| s.split(',').map(str::to_string).collect());
    let mut total = 0;
    for kernel in kernels().into_iter().filter(|k| only.as_ref().is_none_or(|o| o.contains(&k.func.name))) {
        let func = kernel.func.clone();
        let data = work.join("data").join(&func.name);
        write_data(&func, &data, 5).unwrap();
        let mut datas = vec![("".to_string(), data)];
        for d in &func.dims {
            for v in SYM_SIZES.into_iter().filter(|v| *v >= d.min && *v <= d.max && *v != d.value) {
                let inst = kernel.instantiate(&[(&d.name, v)]).unwrap();
                let dir = work.join("data").join(format!("{}-{}{v}", func.name, d.name));
                write_data(&inst, &dir, 5).unwrap();
                datas.push((format!(" at {} = {v}", d.name), dir));
            }
        }
        let mut cands = Vec::new();
        let mut labels = Vec::new();
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            let default = default_trace(&func, &SpaceOptions::new(isa)).unwrap().into_parts().0;
            let mut funcs = vec![("default".to_string(), default, true)];
            for seed in 0..samples {
                if let Ok(sch) = sample(&func, &SpaceOptions::new(isa), seed) {
                    funcs.push((format!("sample {seed}"), sch.into_parts().0, seed < checked_samples));
                }
            }
            for (label, f, checked) in funcs {
                let c = if isa == Isa::Avx512 && !native512 {
                    Candidate::emulated_avx512(&f)
                } else {
                    Candidate::new(f, isa)
                };
                if checked {
                    cands.push(c.clone().checked());
                    labels.push(format!("{} {isa} {label} (checked)", func.name));
                }
                cands.push(c);
                labels.push(format!("{} {isa} {label}", func.name));
            }
        }
        // Batches of at most 64 candidates (one rustc invocation each).
        for (chunk, (cands, labels)) in cands.chunks(64).zip(labels.chunks(64)).enumerate() {
            let built = build_batch(&tc, &func, cands, &format!("isas_{}_{chunk}", func.name));
            let failed: Vec<_> = built.failed.iter().map(|(i, e)| (&labels[*i], e)).collect();
            assert!(failed.is_empty(), "{failed:?}");
            let ids: Vec<usize> = (0..built.included.len()).collect();
            let opts = RunOptions {
                min_sample_us: 1.0,
                repeats: 1,
                timeout: std::time::Duration::from_secs(300),
                ..RunOptions::default()
            };
            for (at, data) in &datas {
                for (id, o) in run_batch(&built.exe, data, &ids, &opts) {
                    let label = &labels[built.included[id]];
                    match o {
                        Outcome::Ok { .. } => total += 1,
                        Outcome::Unsupported(_) => {}
                        other => panic!("{label}{at}: {}", other.describe()),
                    }
                }
            }
        }
    }
    eprintln!("{total} generated kernels matched the interpreter");
}
