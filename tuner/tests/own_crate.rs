//! The user's journey of `docs/own-crate.md`, end to end: a crate outside the
//! workspace (in `CARGO_TARGET_TMPDIR`) with a path dependency on kiln and a
//! kernel of its own; the tuner binary, run inside it, finds the kernel,
//! tunes it and writes `traces/`; `cargo build` uses the trace; the program
//! computes what a plain loop computes. Offline (the workspace's lock file).
//! Two kernels: one of fixed shape, and one over a symbolic batch `n`, run
//! at several batch sizes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KERNEL: &str = r#"
kiln::tensor_func! {
    /// y = x·W + b over 12 rows (a small dense layer; 37 columns: a vector tail).
    pub fn dense(x: [f32; 12, 40], w: [f32; 40, 37], b: [f32; 37], y: &mut [f32; 12, 37]) {
        for (i, j, k) in grid(12, 37, 40) {
            block("acc") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = b[vj]; }
                y[vi, vj] = y[vi, vj] + x[vi, vk] * w[vk, vj];
            }
        }
    }
}

kiln::tensor_func! {
    /// The same layer over any batch of 1 to 64 rows, tuned at 12.
    pub fn dense_any(x: [f32; n, 40], w: [f32; 40, 37], b: [f32; 37], y: &mut [f32; n, 37])
    where
        n: dim(1..=64, tune = 12)
    {
        for (i, j, k) in grid(n, 37, 40) {
            block("acc") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = b[vj]; }
                y[vi, vj] = y[vi, vj] + x[vi, vk] * w[vk, vj];
            }
        }
    }
}
"#;

const MAIN: &str = r#"
fn worst(x: &[f32], w: &[f32], b: &[f32], y: &[f32], rows: usize) -> f64 {
    let mut worst = 0f64;
    for i in 0..rows {
        for j in 0..37 {
            let mut want = b[j] as f64;
            for k in 0..40 {
                want += x[i * 40 + k] as f64 * w[k * 37 + j] as f64;
            }
            worst = worst.max((y[i * 37 + j] as f64 - want).abs());
        }
    }
    worst
}

fn main() {
    let x: Vec<f32> = (0..64 * 40).map(|k| ((k * 7) % 13) as f32 * 0.25 - 1.5).collect();
    let w: Vec<f32> = (0..40 * 37).map(|k| ((k * 5) % 11) as f32 * 0.125 - 0.6).collect();
    let b: Vec<f32> = (0..37).map(|k| k as f32 * 0.01).collect();
    let mut y = vec![0f32; 12 * 37];
    own_crate_probe::dense(&x[..12 * 40], &w, &b, &mut y);
    let e = worst(&x, &w, &b, &y, 12);
    println!("dense: max error {e:e}");
    assert!(e < 1e-4, "max error {e}");
    for n in [1, 5, 12, 13, 64] {
        let mut y = vec![f32::NAN; n * 37];
        own_crate_probe::dense_any(&x[..n * 40], &w, &b, &mut y);
        let e = worst(&x, &w, &b, &y, n);
        println!("dense_any, n = {n}: max error {e:e}");
        assert!(e < 1e-4, "n = {n}: max error {e}");
    }
    let mut y = vec![0f32; 3 * 37];
    let err = own_crate_probe::try_dense_any(&x[..2 * 40], &w, &b, &mut y).unwrap_err();
    println!("{err}");
    println!("result ok");
}
"#;

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("KILN_STRICT_TRACES")
        .env("CARGO_TERM_COLOR", "never");
    cmd
}

#[test]
fn a_crate_of_ones_own_is_tuned_built_and_run() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kiln-own-crate");
    let dir = root.join("own-crate-probe");
    let target = root.join("target");
    let kiln = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let _ = std::fs::remove_dir_all(dir.join("traces"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    let manifest = format!(
        "[package]\nname = \"own-crate-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nkiln = {{ path = {:?} }}\n\n[build-dependencies]\nkiln-ir = {{ path = {:?} }}\n\n[workspace]\n",
        kiln.display().to_string(),
        kiln.join("ir").display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("build.rs"), include_str!("../../kernels/build.rs")).unwrap();
    std::fs::write(dir.join("traces/README.md"), "Trace files of the probe crate.\n").unwrap();
    std::fs::write(dir.join("src/lib.rs"), KERNEL).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(kiln.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    }

    // The tuner, run inside the crate, finds its kernel...
    let tuner = env!("CARGO_BIN_EXE_tuner");
    let work = root.join("kiln-tune");
    let out = run(Command::new(tuner).current_dir(&dir).arg("list"), "tuner list");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("dense") && list.contains("dense_any") && list.contains("own-crate-probe"), "{list}");
    // ...tunes them (a few trials) and writes their trace files.
    for kernel in ["dense", "dense_any"] {
        let out = run(
            Command::new(tuner)
                .current_dir(&dir)
                .args(["tune", "--kernel", kernel, "--trials", "6", "--per-iter", "6", "--work-dir"])
                .arg(&work),
            "tuner tune",
        );
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        let trace = dir.join(format!("traces/{kernel}.json"));
        assert!(trace.exists(), "no trace written:\n{said}");
        let text = std::fs::read_to_string(&trace).unwrap();
        assert!(text.contains(&format!("\"kernel\": \"{kernel}\"")) && text.contains("sch.get_block"), "{text}");
    }

    // cargo build uses it (no stale-trace warning), and the program is right.
    let out = run(cargo(&dir).args(["build", "--offline", "--target-dir"]).arg(&target), "cargo build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("stale") && !stderr.contains("ignored"), "{stderr}");
    let exe = target.join("debug").join(format!("own-crate-probe{}", std::env::consts::EXE_SUFFIX));
    let out = run(&mut Command::new(&exe), "the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("result ok\n"), "{stdout}");
    assert!(stdout.contains("dense_any, n = 13: max error"), "{stdout}");
    assert!(
        stdout.contains("`y` has 111 elements but is declared [f32; n, 37], which needs 74 for `n` = 2"),
        "{stdout}"
    );
}
