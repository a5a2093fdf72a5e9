//! The builder: compiles candidates into runner executables.
//!
//! kiln's runtime is built once per work directory (a small cargo project,
//! `harness/`, that depends on the `kiln` crate with the workspace's release
//! settings). Each batch of candidates of one kernel becomes one Rust file —
//! a module per candidate with the exact code the macro would emit, plus a
//! runner `main` — compiled by one `rustc -C opt-level=3 -C codegen-units=1`
//! invocation linked against that prebuilt runtime, i.e. with the flags of
//! shipped code. Batches compile in parallel. A candidate whose code does not
//! compile is identified from the compiler's messages, rejected and reported;
//! the rest of its batch is rebuilt without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use proc_macro2::TokenStream;
use quote::quote;

use kiln_ir::codegen::{emit_impl_with, impl_ident, CodegenOptions};
use kiln_ir::ir::{DataType, ParamKind, PrimFunc};
use kiln_ir::target::Isa;

use crate::error::{Error, Result};

/// One thing to compile: a scheduled function for an ISA.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The ISA the code is generated for.
    pub isa: Isa,
    pub code: Code,
    /// How `Code::Func` is emitted (default: as the macro emits it).
    pub options: CodegenOptions,
}

/// A candidate's code.
#[derive(Clone, Debug)]
pub enum Code {
    /// A scheduled function, emitted by `kiln_ir::codegen` (what tuning builds).
    Func(PrimFunc),
    /// Hand-written items defining `pub unsafe fn run(..)` with the kernel's
    /// signature (for tests that inject crashing, hanging or wrong candidates).
    Raw(TokenStream),
}

impl Candidate {
    pub fn new(func: PrimFunc, isa: Isa) -> Candidate {
        Candidate::with_options(func, isa, CodegenOptions::default())
    }

    /// `func` for `isa`, emitted with `options`.
    pub fn with_options(func: PrimFunc, isa: Isa, options: CodegenOptions) -> Candidate {
        Candidate { isa, code: Code::Func(func), options }
    }

    /// Hand-written items (see [`Code::Raw`]), run as scalar code.
    pub fn raw(items: TokenStream) -> Candidate {
        Candidate { isa: Isa::Scalar, code: Code::Raw(items), options: CodegenOptions::default() }
    }

    /// The AVX-512 code of `func`, running on a portable emulation of the
    /// intrinsics (`emu512.rs`): checks the AVX-512 code generator on any
    /// machine. Only for correctness; its timings mean nothing.
    pub fn emulated_avx512(func: &PrimFunc) -> Candidate {
        Candidate::with_options(func.clone(), Isa::Avx512, CodegenOptions::emulated(EMU512_MODULE))
    }

    /// This candidate in the bounds-checked debug mode (every access checked).
    pub fn checked(mut self) -> Candidate {
        self.options.check_all_accesses = true;
        self
    }

    /// The ISA the CPU must have to run the candidate (none for an emulation).
    pub fn runs_on(&self) -> Isa {
        match (&self.code, &self.options.emulate) {
            (Code::Func(_), Some(_)) => Isa::Scalar,
            _ => self.isa,
        }
    }
}

/// The path of the AVX-512 emulation module in a batch.
pub const EMU512_MODULE: &str = "crate::emu512";

/// The AVX-512 emulation compiled into every batch.
pub const EMU512_SOURCE: &str = include_str!("emu512.rs");

/// The prebuilt runtime candidates link against.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// The `kiln-runtime` rlib, passed to rustc as the crate `kiln` (its
    /// module paths are `kiln`'s: the generated code is the same).
    pub kiln_rlib: PathBuf,
    pub deps_dir: PathBuf,
    pub work_dir: PathBuf,
    /// Further crates a batch may use, `(name, rlib)`: faer and
    /// matrixmultiply in the harness of `tuner bench --peers`, none for tuning.
    pub externs: Vec<(String, PathBuf)>,
    /// The runner's `main` and its measuring loops, prebuilt once (see
    /// [`build_runner`]): the crate `kiln_tune_runner`.
    pub runner_rlib: PathBuf,
}

/// A compiled batch.
#[derive(Clone, Debug)]
pub struct Built {
    pub exe: PathBuf,
    /// Indices (into the batch) of the candidates in the executable.
    pub included: Vec<usize>,
    /// Candidates that did not compile, with the compiler's message.
    pub failed: Vec<(usize, String)>,
}

fn workspace_root() -> PathBuf {
    // tuner/ is a member of the workspace whose root is the kiln package.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds (or reuses) the runtime (`kiln-runtime`: a few hundred
/// lines, no build script, no macro — seconds on a fresh work directory) in
/// `work_dir/harness` (or in `$KILN_TUNE_HARNESS_DIR`, which lets several work
/// directories — tests — share one build of the runtime).
///
/// A work directory without a harness first tries the runtime cargo already
/// built beside the tuner itself (`target/release/deps`, when the tuner runs
/// from a cargo build): a fresh clone's first tune then starts measuring
/// after one probe compilation instead of a build of the runtime.
pub fn prepare(work_dir: &Path) -> Result<Toolchain> {
    let h = harness_dir(work_dir);
    if !h.join("target").exists() {
        if let Some(tc) = cargo_built_runtime(work_dir) {
            return Ok(tc);
        }
    }
    prepare_harness(&h, work_dir, &[])
}

/// The `kiln-runtime` rlib of the cargo build the tuner runs from (the
/// newest in the `deps` directory beside the executable), if a probe program
/// compiles and links against it with this `rustc`.
fn cargo_built_runtime(work_dir: &Path) -> Option<Toolchain> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let deps = if dir.ends_with("deps") { dir.to_path_buf() } else { dir.join("deps") };
    let newest = |prefix: &str| {
        std::fs::read_dir(&deps)
            .ok()?
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.starts_with(prefix) && n.ends_with(".rlib")
            })
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    };
    let rlib = newest("libkiln_runtime-")?;
    let runner_rlib = newest(&format!("lib{RUNNER_CRATE}-"))?;
    let work = work_dir.join("build");
    std::fs::create_dir_all(&work).ok()?;
    let probe = work.join("runtime_probe.rs");
    std::fs::write(
        &probe,
        format!("fn main() {{ println!(\"{{}}\", kiln::cpu::class()); let _ = {RUNNER_CRATE}::runner::main; }}\n"),
    )
    .ok()?;
    let ok = Command::new("rustc")
        .args(["--edition", "2021", "--crate-type", "bin", "-C", "opt-level=0", "--error-format=short"])
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg("--extern")
        .arg(format!("kiln={}", rlib.display()))
        .arg("--extern")
        .arg(format!("{RUNNER_CRATE}={}", runner_rlib.display()))
        .arg(&probe)
        .arg("-o")
        .arg(work.join("runtime_probe"))
        .env_remove("RUSTFLAGS")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| Toolchain { kiln_rlib: rlib, deps_dir: deps, work_dir: work, externs: vec![], runner_rlib })
}

/// The crate name of the runner (`tuner/runner`): the measuring `main` every
/// batch executable links, built by cargo like the runtime (compiled into
/// each batch, it took about 1.3 s of every executable's build).
const RUNNER_CRATE: &str = "kiln_tune_runner";

/// The directory of the runtime's build: `work_dir/harness`, or
/// `$KILN_TUNE_HARNESS_DIR` when set.
pub fn harness_dir(work_dir: &Path) -> PathBuf {
    match std::env::var_os("KILN_TUNE_HARNESS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => work_dir.join("harness"),
    }
}

/// Builds (or reuses) a harness in `h`: the runtime plus the crates `extra`
/// (`(name, version requirement)`, compiled with the same release settings,
/// their rlibs returned as the toolchain's `externs`). A harness with extra
/// crates starts from a copy of the workspace's `Cargo.lock`, so that it
/// builds the versions the workspace pins, without the registry when they
/// are in cargo's cache.
pub fn prepare_harness(h: &Path, work_dir: &Path, extra: &[(&str, &str)]) -> Result<Toolchain> {
    std::fs::create_dir_all(h.join("src")).map_err(Error::io("create", h))?;
    let deps: String = extra.iter().map(|(name, req)| format!("{name} = {req:?}\n")).collect();
    let manifest = format!(
        "[package]\nname = \"kiln-harness\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nkiln-runtime = {{ path = {:?} }}\nkiln-tune-runner = {{ path = {:?} }}\n{deps}\n[workspace]\n\n\
         [profile.release]\nopt-level = 3\ncodegen-units = 1\ndebug = false\n",
        workspace_root().join("runtime").to_string_lossy(),
        workspace_root().join("tuner/runner").to_string_lossy()
    );
    write_if_changed(&h.join("Cargo.toml"), &manifest)?;
    let lib: String = ["kiln_runtime", RUNNER_CRATE]
        .into_iter()
        .chain(extra.iter().map(|(n, _)| *n))
        .map(|n| format!("pub use {n};\n"))
        .collect();
    write_if_changed(&h.join("src/lib.rs"), &lib)?;
    let lock = h.join("Cargo.lock");
    if !extra.is_empty() && !lock.exists() {
        let ws_lock = workspace_root().join("Cargo.lock");
        if ws_lock.exists() {
            std::fs::copy(&ws_lock, &lock).map_err(Error::io("copy", &ws_lock))?;
        }
    }
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--message-format=json"])
        .current_dir(h)
        .env("CARGO_TARGET_DIR", h.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(Error::spawn("cargo"))?;
    if !out.status.success() {
        return Err(Error::Toolchain(String::from_utf8_lossy(&out.stderr).to_string()));
    }
    let mut rlibs: Vec<(String, PathBuf)> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(name) = v["target"]["name"].as_str() else { continue };
        if name != "kiln_runtime" && name != RUNNER_CRATE && !extra.iter().any(|(n, _)| *n == name) {
            continue;
        }
        for f in v["filenames"].as_array().into_iter().flatten() {
            if let Some(s) = f.as_str().filter(|s| s.ends_with(".rlib")) {
                rlibs.retain(|(n, _)| n != name);
                rlibs.push((name.to_string(), PathBuf::from(s)));
            }
        }
    }
    let rlib = |name: &str| {
        rlibs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::Toolchain(format!("cargo did not report {name}'s rlib")))
    };
    let kiln_rlib = rlib("kiln_runtime")?;
    let runner_rlib = rlib(RUNNER_CRATE)?;
    let externs = extra.iter().map(|(n, _)| Ok((n.to_string(), rlib(n)?))).collect::<Result<Vec<_>>>()?;
    let deps_dir = kiln_rlib.parent().unwrap().to_path_buf();
    let work = work_dir.join("build");
    std::fs::create_dir_all(&work).map_err(Error::io("create", &work))?;
    Ok(Toolchain { kiln_rlib, deps_dir, work_dir: work, externs, runner_rlib })
}

fn write_if_changed(p: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(p).ok().as_deref() != Some(text) {
        std::fs::write(p, text).map_err(Error::io("write", p))?;
    }
    Ok(())
}

fn rust_type(dt: DataType) -> TokenStream {
    match dt {
        DataType::F32 => quote!(f32),
        DataType::F64 => quote!(f64),
        _ => quote!(i32),
    }
}

/// A batch's code as text (so that it can move to the compiling threads):
/// each candidate's module body, and the runner's table and `main` parts.
#[derive(Clone, Debug)]
pub struct BatchText {
    /// The items of each candidate's module (defining `run`).
    modules: Vec<String>,
    isas: Vec<&'static str>,
    /// `unsafe fn(&[f32], &mut [f32])`-style type of `run`.
    fn_type: String,
    /// The arguments of a call of candidate `i`.
    args: String,
    nparams: usize,
}

impl BatchText {
    /// Renders `cands` (all of `kernel`).
    pub fn new(kernel: &PrimFunc, cands: &[Candidate]) -> BatchText {
        let modules = cands
            .iter()
            .map(|c| {
                let body = match &c.code {
                    // The macro's implementation, under the macro's name, then `run`.
                    Code::Func(f) => {
                        let name = impl_ident(&f.name, c.isa);
                        let item = emit_impl_with(f, c.isa, &name, &c.options);
                        quote!(#item pub use self::#name as run;)
                    }
                    Code::Raw(ts) => ts.clone(),
                };
                kiln_ir::codegen::pretty(&body)
            })
            .collect();
        let params: Vec<TokenStream> = kernel
            .params
            .iter()
            .map(|p| {
                let t = rust_type(p.buffer.dtype);
                if p.kind == ParamKind::Output {
                    quote!(&mut [#t])
                } else {
                    quote!(&[#t])
                }
            })
            .collect();
        let args: Vec<TokenStream> = kernel
            .params
            .iter()
            .enumerate()
            .map(|(k, p)| match (p.buffer.dtype, p.kind) {
                (DataType::F32, ParamKind::Input) => quote!(bufs[#k].f32()),
                (DataType::F32, ParamKind::Output) => quote!(outs.f32_mut(#k)),
                (DataType::F64, ParamKind::Input) => quote!(bufs[#k].f64()),
                (DataType::F64, ParamKind::Output) => quote!(outs.f64_mut(#k)),
                (_, ParamKind::Input) => quote!(bufs[#k].i32()),
                (_, ParamKind::Output) => quote!(outs.i32_mut(#k)),
            })
            .collect();
        BatchText {
            modules,
            isas: cands.iter().map(|c| c.runs_on().name()).collect(),
            fn_type: quote!(unsafe fn(#(#params),*)).to_string(),
            args: quote!(#(#args),*).to_string(),
            nparams: kernel.params.len(),
        }
    }

    /// The source of the executable holding candidates `subset`, and the
    /// line range of each candidate's module in it.
    pub fn source(&self, subset: &[usize]) -> (String, Vec<(usize, usize)>) {
        let mut text = String::from("#![allow(warnings)]\nuse kiln_tune_runner::runner;\n");
        let mut lines = Vec::new();
        for (k, i) in subset.iter().enumerate() {
            let start = text.lines().count() + 1;
            text.push_str(&format!("pub mod c{k} {{\n{}\n}}\n", self.modules[*i]));
            lines.push((start, text.lines().count()));
        }
        let entries: Vec<String> = subset
            .iter()
            .enumerate()
            .map(|(k, i)| format!("({:?}, c{k}::run as {})", self.isas[*i], self.fn_type))
            .collect();
        text.push_str(&format!(
            "static CANDIDATES: &[(&str, {ty})] = &[{entries}];\nconst NPARAMS: usize = {n};\n\
             fn call(i: usize, bufs: &[runner::Buf], outs: &mut runner::Outs) {{\n    unsafe {{ (CANDIDATES[i].1)({args}) }}\n}}\n\
             fn main() {{\n    runner::main(CANDIDATES.len(), NPARAMS, |i| CANDIDATES[i].0, call);\n}}\n",
            ty = self.fn_type,
            entries = entries.join(", "),
            n = self.nparams,
            args = self.args,
        ));
        text.push_str(EMU512_SOURCE);
        (text, lines)
    }

    /// The candidates `idx` of this batch, as a batch of their own.
    pub fn subset(&self, idx: &[usize]) -> BatchText {
        BatchText {
            modules: idx.iter().map(|i| self.modules[*i].clone()).collect(),
            isas: idx.iter().map(|i| self.isas[*i]).collect(),
            ..self.clone()
        }
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

/// The Rust source of a batch: one module per candidate and the runner's main.
pub fn batch_source(kernel: &PrimFunc, cands: &[Candidate]) -> (String, Vec<(usize, usize)>) {
    let bt = BatchText::new(kernel, cands);
    bt.source(&(0..cands.len()).collect::<Vec<_>>())
}

/// Compiles `cands` (all of `kernel`) into one executable named `name`.
///
/// Batches are cached by the hash of their source: compiling the same
/// candidates again (a rerun, `bench` twice) reuses the executable.
pub fn build_batch(tc: &Toolchain, kernel: &PrimFunc, cands: &[Candidate], name: &str) -> Built {
    build_text(tc, &BatchText::new(kernel, cands), name)
}

/// [`build_batch`] on rendered text.
pub fn build_text(tc: &Toolchain, bt: &BatchText, name: &str) -> Built {
    let all: Vec<usize> = (0..bt.len()).collect();
    let (src0, _) = bt.source(&all);
    // The rlibs a batch links are part of what it is: cargo rebuilds them in
    // place (same file names) when kiln's runtime or the runner changes, and
    // an executable linked against the old ones must not be reused.
    let rlibs: Vec<String> = std::iter::once(&tc.kiln_rlib)
        .chain(std::iter::once(&tc.runner_rlib))
        .chain(tc.externs.iter().map(|(_, p)| p))
        .map(|p| format!("{}@{}", p.display(), rlib_stamp(p)))
        .collect();
    let hash = kiln_ir::tracefile::fnv1a64(&format!("{src0}\u{0}{}", rlibs.join("\u{0}")));
    let cached = tc.work_dir.join(format!("{name}-{hash:016x}.built.json"));
    if let Some(b) = std::fs::read_to_string(&cached).ok().and_then(|t| serde_json::from_str::<CachedBuilt>(&t).ok()) {
        let exe = PathBuf::from(&b.exe);
        if exe.exists() {
            return Built { exe, included: b.included, failed: b.failed };
        }
    }
    let built = build_uncached(tc, bt, &format!("{name}-{hash:016x}"));
    let c = CachedBuilt {
        exe: built.exe.to_string_lossy().to_string(),
        included: built.included.clone(),
        failed: built.failed.clone(),
    };
    if !built.included.is_empty() {
        let _ = std::fs::write(&cached, serde_json::to_string(&c).unwrap_or_default());
    }
    built
}

/// A file's length and modification time (nanoseconds), `-` when unknown.
fn rlib_stamp(p: &Path) -> String {
    std::fs::metadata(p)
        .ok()
        .and_then(|m| {
            let t = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
            Some(format!("{}:{}", m.len(), t.as_nanos()))
        })
        .unwrap_or_else(|| "-".into())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedBuilt {
    exe: String,
    included: Vec<usize>,
    failed: Vec<(usize, String)>,
}

/// Compiles `cands` split into `jobs` executables built in parallel (one
/// rustc each); returns them with indices into `cands`. The candidates are
/// rendered first and dealt to the executables by the size of
/// their code, largest first, each to the lightest executable so far: one
/// heavily unrolled candidate no longer leaves a core idle while its batch
/// compiles.
pub fn build_parallel(tc: &Toolchain, kernel: &PrimFunc, cands: &[Candidate], name: &str, jobs: usize) -> Vec<Built> {
    if cands.is_empty() {
        return vec![];
    }
    let all = BatchText::new(kernel, cands);
    let bins = balance(&all.modules.iter().map(String::len).collect::<Vec<_>>(), jobs);
    std::thread::scope(|s| {
        let handles: Vec<_> = bins
            .iter()
            .enumerate()
            .map(|(j, bin)| {
                let part = all.subset(bin);
                s.spawn(move || {
                    let mut b = build_text(tc, &part, &format!("{name}-{j}"));
                    b.included.iter_mut().for_each(|i| *i = bin[*i]);
                    b.failed.iter_mut().for_each(|(i, _)| *i = bin[*i]);
                    b
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("builder thread")).collect()
    })
}

/// Deals items of the given sizes into at most `bins` non-empty bins,
/// largest first, each to the lightest bin so far (LPT scheduling); each
/// bin's indices ascending, so that a batch keeps the candidates' order.
fn balance(sizes: &[usize], bins: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|i| (std::cmp::Reverse(sizes[*i]), *i));
    let mut out: Vec<(usize, Vec<usize>)> = vec![(0, vec![]); bins.clamp(1, sizes.len().max(1))];
    for i in order {
        let lightest = (0..out.len()).min_by_key(|b| (out[*b].0, *b)).unwrap_or(0);
        out[lightest].0 += sizes[i];
        out[lightest].1.push(i);
    }
    out.into_iter()
        .map(|(_, mut v)| {
            v.sort_unstable();
            v
        })
        .filter(|v| !v.is_empty())
        .collect()
}

fn build_uncached(tc: &Toolchain, bt: &BatchText, name: &str) -> Built {
    let mut included: Vec<usize> = (0..bt.len()).collect();
    let mut failed: Vec<(usize, String)> = Vec::new();
    for _round in 0..4 {
        let (src, ranges) = bt.source(&included);
        let src_path = tc.work_dir.join(format!("{name}.rs"));
        let exe = tc.work_dir.join(name);
        if let Err(e) = std::fs::write(&src_path, &src) {
            return Built { exe, included: vec![], failed: (0..bt.len()).map(|i| (i, e.to_string())).collect() };
        }
        let out = Command::new("rustc")
            .args(["--edition", "2021", "--crate-type", "bin", "-C", "opt-level=3", "-C", "codegen-units=1"])
            .args(["-C", "debuginfo=0", "--error-format=short", "--cap-lints", "allow"])
            .arg("-L")
            .arg(format!("dependency={}", tc.deps_dir.display()))
            .arg("--extern")
            .arg(format!("kiln={}", tc.kiln_rlib.display()))
            .args(tc.externs.iter().flat_map(|(n, p)| ["--extern".to_string(), format!("{n}={}", p.display())]))
            .arg("--extern")
            .arg(format!("{RUNNER_CRATE}={}", tc.runner_rlib.display()))
            .arg(&src_path)
            .arg("-o")
            .arg(&exe)
            .env_remove("RUSTFLAGS")
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return Built {
                    exe,
                    included: vec![],
                    failed: included.iter().map(|i| (*i, format!("cannot run rustc: {e}"))).collect(),
                }
            }
        };
        if out.status.success() {
            return Built { exe, included, failed };
        }
        // Find the candidates the errors point into.
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let mut bad: Vec<usize> = Vec::new();
        for line in stderr.lines().filter(|l| l.contains(": error")) {
            let Some(rest) = line.split(&format!("{name}.rs:")).nth(1) else { continue };
            let Some(ln) = rest.split(':').next().and_then(|s| s.parse::<usize>().ok()) else { continue };
            if let Some(k) = ranges.iter().position(|(a, b)| ln >= *a && ln <= *b) {
                if !bad.contains(&k) {
                    bad.push(k);
                }
            }
        }
        if bad.is_empty() {
            // Not attributable to a candidate: the whole batch fails.
            failed.extend(included.iter().map(|i| (*i, format!("the batch did not compile:\n{stderr}"))));
            return Built { exe, included: vec![], failed };
        }
        bad.sort_unstable_by(|a, b| b.cmp(a));
        for k in bad {
            let i = included.remove(k);
            failed.push((i, format!("generated code did not compile:\n{stderr}")));
        }
        if included.is_empty() {
            return Built { exe, included, failed };
        }
    }
    let exe = tc.work_dir.join(name);
    failed.extend(included.drain(..).map(|i| (i, "gave up after repeated compile errors".to_string())));
    Built { exe, included, failed }
}

#[cfg(test)]
mod tests {
    use super::{balance, rlib_stamp};

    /// A batch's cache key changes when an rlib it links is rebuilt in place
    /// (cargo keeps the file name): its stamp does.
    #[test]
    fn an_rlib_rebuilt_in_place_gets_a_new_stamp() {
        let dir = std::env::temp_dir().join(format!("kiln-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("libkiln_runtime-0123.rlib");
        std::fs::write(&p, b"old runtime").unwrap();
        let before = rlib_stamp(&p);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, b"new runtime, longer").unwrap();
        assert_ne!(before, rlib_stamp(&p));
        assert_eq!(rlib_stamp(&dir.join("missing.rlib")), "-");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn balance_deals_the_largest_first_to_the_lightest_bin() {
        // One heavy candidate gets a batch of its own; the rest share the other.
        assert_eq!(balance(&[10, 90, 20, 30], 2), vec![vec![1], vec![0, 2, 3]]);
        assert_eq!(balance(&[5, 5, 5, 5], 2), vec![vec![0, 2], vec![1, 3]]);
        // Never an empty batch, never a candidate lost.
        assert_eq!(balance(&[7], 4), vec![vec![0]]);
        assert_eq!(balance(&[], 2), Vec::<Vec<usize>>::new());
        let bins = balance(&[3, 1, 4, 1, 5, 9, 2, 6], 3);
        let mut all: Vec<usize> = bins.concat();
        all.sort_unstable();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        assert!(bins.iter().all(|b| b.windows(2).all(|w| w[0] < w[1])));
    }
}
