//! Trace files on disk, end to end: a small kernel crate — `tensor_func!` in
//! `src/main.rs`, `traces/`, and `kernels/build.rs` as its build script (it is
//! the template for a user's kernel crate) — is built with `cargo build` while
//! its `traces/mm.json` goes through every case: absent, valid, stale, stale in
//! strict mode, corrupt, of an unknown format, failing to replay, for another
//! kernel, removed, and an orphan.
//!
//! The probe crate and its target directory live in `CARGO_TARGET_TMPDIR`, so
//! only the first run compiles kiln; each step then rebuilds the probe alone.
//! Its `main` prints where each ISA's schedule came from (the kernel's hidden
//! `__kiln_schedule_of_mm`) and checks the kernel's result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_ir::target::Isa;
use kiln_ir::trace::parse_trace_str;
use kiln_ir::tracefile::{TargetEntry, TraceFile};

const KERNEL: &str = r#"kiln::tensor_func! {
    pub fn mm(a: [f32; 16, 16], b: [f32; 16, 16], c: &mut [f32; 16, 16]) {
        for (i, j, k) in grid(16, 16, 16) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
}
"#;

const MAIN: &str = r#"
fn main() {
    // The variant this CPU runs (with KILN_CPU / KILN_ISA as the test sets them).
    if std::env::var_os("PROBE_CHOSEN").is_some() {
        println!("{}", __kiln_schedule_of_mm[__kiln_mm_variant()].0);
        return;
    }
    for (isa, source, _, _) in __kiln_schedule_of_mm {
        println!("{isa}: {source}");
    }
    let a: Vec<f32> = (0..256).map(|x| (x % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..256).map(|x| (x % 5) as f32 * 0.5).collect();
    let mut c = vec![0.0; 256];
    mm(&a, &b, &mut c);
    for i in 0..16 {
        for j in 0..16 {
            let want: f32 = (0..16).map(|k| a[i * 16 + k] * b[k * 16 + j]).sum();
            assert!((c[i * 16 + j] - want).abs() < 1e-3, "c[{i}, {j}] = {}, want {want}", c[i * 16 + j]);
        }
    }
    println!("result ok");
}
"#;

/// A hand-written schedule: `j` split by 8, the inner loop vectorized.
const GOOD_TRACE: &str = r#"b0 = sch.get_block(name="C", func_name="main")
l1, l2, l3 = sch.get_loops(block=b0)
l4, l5 = sch.split(loop=l2, factors=[None, 8], preserve_unit_iters=True)
sch.reorder(l1, l4, l3, l5)
b6 = sch.decompose_reduction(block=b0, loop=l3)
sch.vectorize(loop=l5)
"#;

struct Probe {
    dir: PathBuf,
    target: PathBuf,
    /// Bumped to make `src/main.rs` newer than the last build.
    edits: u32,
}

impl Probe {
    fn new() -> Probe {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kiln-trace-probe");
        let dir = root.join("probe");
        let kiln = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("traces")).unwrap();
        for f in std::fs::read_dir(dir.join("traces")).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
        let manifest = format!(
            "[package]\nname = \"kiln-trace-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nkiln = {{ path = {:?} }}\n\n[build-dependencies]\nkiln-ir = {{ path = {:?} }}\n\n[workspace]\n",
            kiln.display().to_string(),
            kiln.join("ir").display().to_string()
        );
        write_if_changed(&dir.join("Cargo.toml"), &manifest);
        write_if_changed(&dir.join("build.rs"), include_str!("../kernels/build.rs"));
        write_if_changed(&dir.join("traces/README.md"), "Trace files of the probe crate.\n");
        // The workspace's lock file: the same versions as kiln's own build, no network.
        if !dir.join("Cargo.lock").exists() {
            std::fs::copy(kiln.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        }
        let mut p = Probe { dir, target: root.join("target"), edits: 0 };
        p.touch();
        p
    }

    /// Rewrites `src/main.rs` (with a new comment), so that the next build
    /// expands the macro again, whatever the last run of the test left.
    fn touch(&mut self) {
        self.edits += 1;
        let src = format!("// edit {}\n{KERNEL}{MAIN}", self.edits);
        std::fs::write(self.dir.join("src/main.rs"), src).unwrap();
    }

    fn trace_path(&self, kernel: &str) -> PathBuf {
        self.dir.join("traces").join(format!("{kernel}.json"))
    }

    fn write_trace(&self, kernel: &str, text: &str) {
        std::fs::write(self.trace_path(kernel), text).unwrap();
    }

    fn build(&self, strict: bool) -> Output {
        let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cmd.current_dir(&self.dir)
            .args(["build", "--offline", "--target-dir"])
            .arg(&self.target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("KILN_STRICT_TRACES")
            .env("CARGO_TERM_COLOR", "never");
        if strict {
            cmd.env("KILN_STRICT_TRACES", "1");
        }
        cmd.output().expect("cargo runs")
    }

    /// Builds, requires success, runs the probe; returns (build stderr, run stdout).
    fn build_and_run(&self, step: &str) -> (String, String) {
        let out = self.build(false);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{step}: the build failed:\n{stderr}");
        let exe = self.target.join("debug").join(format!("kiln-trace-probe{}", std::env::consts::EXE_SUFFIX));
        let run = Command::new(exe).output().expect("the probe runs");
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(run.status.success(), "{step}: the probe failed:\n{stdout}{}", String::from_utf8_lossy(&run.stderr));
        assert!(stdout.ends_with("result ok\n"), "{step}: {stdout}");
        (stderr, stdout)
    }

    /// Runs the last build with `env` set; returns the key of the variant it chose.
    fn chosen(&self, env: &[(&str, &str)]) -> String {
        let exe = self.target.join("debug").join(format!("kiln-trace-probe{}", std::env::consts::EXE_SUFFIX));
        let mut cmd = Command::new(exe);
        cmd.env("PROBE_CHOSEN", "1").env_remove("KILN_CPU").env_remove("KILN_ISA");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let run = cmd.output().expect("the probe runs");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        String::from_utf8_lossy(&run.stdout).trim().to_string()
    }

    /// Builds, requires failure; returns the build's stderr.
    fn build_fails(&self, step: &str, strict: bool) -> String {
        let out = self.build(strict);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{step}: the build succeeded:\n{stderr}");
        stderr
    }
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

/// The probe's kernel, as the macro sees it.
fn kernel_ir() -> kiln_ir::ir::PrimFunc {
    let src = KERNEL.trim_start_matches("kiln::tensor_func! {").trim_end().trim_end_matches('}');
    kiln_ir::schedule::testing::kernel(src)
}

/// A trace file for `mm` with `trace` for AVX2 and scalar (none for AVX-512).
fn trace_file(trace: &str) -> TraceFile {
    let mut file = TraceFile::new(&kernel_ir());
    for isa in [Isa::Avx2, Isa::Scalar] {
        let entry = TargetEntry {
            trace: parse_trace_str(trace).unwrap(),
            latency_us: None,
            gflops: None,
            tuned: None,
            note: None,
        };
        file.targets.insert(isa.target_key().to_string(), entry);
    }
    file
}

/// No warning about the probe's traces (other crates of the path may warn).
fn assert_quiet(step: &str, stderr: &str) {
    assert!(!stderr.contains("kiln-trace-probe@") && !stderr.contains("kiln: "), "{step}: {stderr}");
}

fn assert_contains(step: &str, text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{step}: expected {p:?} in:\n{text}");
    }
}

#[test]
fn trace_files_end_to_end() {
    let probe = Probe::new();
    let shown = probe.trace_path("mm").display().to_string();

    // 1. No trace file: the default schedule, quietly.
    let (stderr, stdout) = probe.build_and_run("no trace");
    assert_quiet("no trace", &stderr);
    let none = format!("default schedule (no trace file {shown})");
    assert_eq!(stdout, format!("x86_64-avx512: {none}\nx86_64-avx2: {none}\ngeneric-scalar: {none}\nresult ok\n"));

    // 2. A valid trace file appears: cargo notices the new file (build.rs
    //    watches `traces/`) and the macro replays it.
    let good = trace_file(GOOD_TRACE);
    probe.write_trace("mm", &good.to_json_string());
    let (stderr, stdout) = probe.build_and_run("valid trace");
    assert_quiet("valid trace", &stderr);
    let from_file = format!("trace file {shown} (x86_64-avx2)");
    assert_eq!(
        stdout,
        format!(
            "x86_64-avx512: default schedule (the trace file has no x86_64-avx512 entry)\nx86_64-avx2: {from_file}\n\
             generic-scalar: trace file {shown} (generic-scalar)\nresult ok\n"
        )
    );

    // 3. Stale (tuned for another version of the kernel): a warning naming the
    //    file, from the macro and from build.rs; the default schedule.
    let mut stale = good.clone();
    stale.workload = "fnv1a64:0123456789abcdef".into();
    probe.write_trace("mm", &stale.to_json_string());
    let (stderr, stdout) = probe.build_and_run("stale");
    assert_contains(
        "stale",
        &stderr,
        &[
            &format!(
                "kiln: the trace file {shown} was tuned for another version of `mm` (workload fnv1a64:0123456789abcdef"
            ),
            "warning: kiln-trace-probe@0.0.0: stale trace file traces/mm.json: `mm` changed since it was tuned",
        ],
    );
    assert!(
        stdout.contains(
            "x86_64-avx2: default schedule (the trace file is stale: tuned for workload fnv1a64:0123456789abcdef, \
             the kernel is now fnv1a64:"
        ),
        "stale: {stdout}"
    );

    // 4. Stale in strict mode: an error (build.rs reruns when the variable
    //    changes, so the macro expands again).
    let stderr = probe.build_fails("strict", true);
    assert_contains("strict", &stderr, &["error: kiln: the trace file", &shown, "(KILN_STRICT_TRACES is set)"]);

    // 5. Corrupt JSON: an error naming the file and the reason.
    probe.write_trace("mm", "{ \"format\": 1, \"kernel\": ");
    let stderr = probe.build_fails("corrupt", false);
    assert_contains("corrupt", &stderr, &[&format!("error: trace file {shown}: not valid JSON: EOF while parsing")]);
    assert_contains("corrupt", &stderr, &["warning: kiln-trace-probe@0.0.0: corrupt trace file traces/mm.json"]);

    // 6. An unknown format version.
    let future = good.to_json_string().replacen("\"format\": 1", "\"format\": 99", 1);
    probe.write_trace("mm", &future);
    let stderr = probe.build_fails("unknown version", false);
    assert_contains(
        "unknown version",
        &stderr,
        &[&format!("error: trace file {shown}: format 99 is not supported (this kiln reads format 1)")],
    );

    // 7. A trace that does not replay: the file, the target and the instruction.
    let bad = trace_file("b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\nsch.vectorize(loop=l3)\n");
    probe.write_trace("mm", &bad.to_json_string());
    let stderr = probe.build_fails("invalid trace", false);
    assert_contains(
        "invalid trace",
        &stderr,
        &[&format!(
            "error: trace file {shown}: the x86_64-avx2 trace: step 3 (`sch.vectorize(loop=l3)`) fails: \
             for_kind: cannot vectorize `k`: it is bound to a reduce iteration variable of block \"C\""
        )],
    );

    // 8. A file holding another kernel's trace.
    let mut other = good.clone();
    other.kernel = "other".into();
    probe.write_trace("mm", &other.to_json_string());
    let stderr = probe.build_fails("other kernel", false);
    assert_contains("other kernel", &stderr, &[&format!("error: trace file {shown}: is for kernel `other`, not `mm`")]);

    // 9. Valid again; then the file is removed and an orphan appears: cargo
    //    notices both, the kernel is back to the default schedule, build.rs
    //    warns about the orphan.
    probe.write_trace("mm", &good.to_json_string());
    let (_, stdout) = probe.build_and_run("valid again");
    assert!(stdout.contains(&format!("x86_64-avx2: {from_file}\n")), "valid again: {stdout}");
    std::fs::remove_file(probe.trace_path("mm")).unwrap();
    probe.write_trace("other", &other.to_json_string());
    let (stderr, stdout) = probe.build_and_run("orphan");
    assert_contains(
        "orphan",
        &stderr,
        &["warning: kiln-trace-probe@0.0.0: orphan trace file traces/other.json: no kernel `other` in src/"],
    );
    assert!(stdout.starts_with(&format!("x86_64-avx512: {none}\nx86_64-avx2: {none}\n")), "orphan: {stdout}");
    std::fs::remove_file(probe.trace_path("other")).unwrap();

    // 10. Entries per CPU class: the running CPU's class entry wins (over a
    //     generic entry of a higher ISA too), else the ISA's generic entry, else
    //     the default; KILN_CPU and KILN_ISA override the detection.
    if !kiln::runtime::supported(kiln::Isa::Avx2) {
        return;
    }
    let here = kiln::cpu::detected_class();
    let mut classes = good.clone();
    let split4 = GOOD_TRACE.replace("factors=[None, 8]", "factors=[None, 4]");
    for key in [format!("x86_64-avx2@{here}"), "x86_64-avx2@other-cpu".to_string()] {
        let entry = TargetEntry {
            trace: parse_trace_str(&split4).unwrap(),
            latency_us: None,
            gflops: None,
            tuned: None,
            note: None,
        };
        classes.targets.insert(key, entry);
    }
    probe.write_trace("mm", &classes.to_json_string());
    let (stderr, stdout) = probe.build_and_run("cpu classes");
    assert_quiet("cpu classes", &stderr);
    assert!(stdout.contains(&format!("x86_64-avx2@{here}: trace file {shown} (x86_64-avx2@{here})")), "{stdout}");
    assert!(stdout.contains(&format!("x86_64-avx2@other-cpu: trace file {shown} (x86_64-avx2@other-cpu)")), "{stdout}");
    assert_eq!(probe.chosen(&[]), format!("x86_64-avx2@{here}"));
    assert_eq!(probe.chosen(&[("KILN_CPU", "other-cpu")]), "x86_64-avx2@other-cpu");
    let generic = if kiln::runtime::supported(kiln::Isa::Avx512) { "x86_64-avx512" } else { "x86_64-avx2" };
    assert_eq!(probe.chosen(&[("KILN_CPU", "unknown-cpu")]), generic);
    assert_eq!(probe.chosen(&[("KILN_ISA", "scalar")]), "generic-scalar");
    assert_eq!(probe.chosen(&[("KILN_CPU", "other-cpu"), ("KILN_ISA", "scalar")]), "generic-scalar");
}
