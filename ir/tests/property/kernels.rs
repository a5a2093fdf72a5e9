//! The kernels the property test schedules: every bundled kernel (each `tensor_func!`
//! under `kernels/src/`), at full size and scaled down, plus a few odd-sized matmuls.

use std::path::{Path, PathBuf};

use kiln_ir::ir::PrimFunc;
use kiln_ir::parse::find_kernels_in_file;
use kiln_ir::schedule::testing;

/// A kernel to schedule.
#[derive(Clone)]
pub struct Subject {
    /// What failures call it (`conv2d`, `conv2d (scaled down)`).
    pub label: String,
    pub func: PrimFunc,
}

/// How to scale a bundled kernel down: whole-number literals of its source to
/// replace. The interpreter is slow on the full sizes (conv2d is 4.7M block
/// instances), so most cases run these; a kernel missing here runs at full size.
const SCALE_DOWN: &[(&str, &[(&str, &str)])] = &[
    ("matmul", &[("128", "16")]),
    ("matmul512", &[("512", "24")]),
    ("matmul512_t2", &[("512", "24")]),
    ("matmul_odd", &[("100", "10"), ("300", "15"), ("37", "7")]),
    ("linear0", &[("784", "28"), ("128", "12")]),
    ("linear1", &[("128", "16"), ("10", "5")]),
    ("linear", &[("64", "4"), ("128", "8"), ("784", "12")]),
    ("softmax", &[("64", "4"), ("1000", "20")]),
    ("softmax_fast", &[("64", "4"), ("1000", "20")]),
    ("rmsnorm", &[("32", "4"), ("4096", "20")]),
    ("layernorm", &[("64", "4"), ("768", "20")]),
    ("gelu", &[("64", "3"), ("3072", "21")]),
    ("gelu_fast", &[("64", "3"), ("3072", "21")]),
    ("bias_gelu", &[("64", "3"), ("3072", "21")]),
    // data 1×3×6×6, padded to 8×8 (rows 1..7 hold data), 6 filters.
    ("conv2d", &[("16", "3"), ("32", "6"), ("34", "8"), ("33", "7")]),
];

/// Kernels with at most this many block instances also run at full size in the
/// default (short) run; larger ones only in the full run.
pub const CHEAP: u64 = 300_000;

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `tensor_func!` in `src` (they must all parse).
fn parse_all(src: &str, what: &str) -> Vec<PrimFunc> {
    let found = find_kernels_in_file(src).unwrap_or_else(|e| panic!("{what} is not valid Rust: {e}"));
    found.into_iter().map(|k| k.unwrap_or_else(|f| panic!("a kernel in {what} does not parse:\n{f}")).func).collect()
}

/// `src` with each whole-number literal `from` replaced by `to`.
fn replace_numbers(src: &str, map: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        if b[i].is_ascii_digit() && (i == 0 || !word(b[i - 1])) {
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let lit = &src[i..j];
            let whole = j == b.len() || !word(b[j]);
            out.push_str(map.iter().find(|(f, _)| whole && *f == lit).map_or(lit, |(_, t)| t));
            i = j;
        } else {
            let c = src[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The number of block instances `func` executes (its interpretation cost).
pub fn instances(func: &PrimFunc) -> u64 {
    let mut n = 0u64;
    func.body.walk(&mut |s, loops| {
        if let kiln_ir::ir::Stmt::Block(_) = s {
            n += loops.iter().map(|l| l.extent as u64).product::<u64>();
        }
    });
    n
}

/// The bundled kernels at full size, by file.
pub fn bundled() -> Vec<Subject> {
    let mut files = Vec::new();
    rust_files(&kernels_dir(), &mut files);
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for func in parse_all(&src, &f.display().to_string()) {
            out.push(Subject { label: func.name.clone(), func });
        }
    }
    assert!(out.len() >= 8, "expected the bundled kernels under {}", kernels_dir().display());
    out
}

/// The subjects most cases run: each bundled kernel scaled down (or at full
/// size when it has no scaled-down form), then odd-sized matmuls.
pub fn small(bundled: &[Subject]) -> Vec<Subject> {
    let mut files = Vec::new();
    rust_files(&kernels_dir(), &mut files);
    let mut out = Vec::new();
    for k in bundled {
        match SCALE_DOWN.iter().find(|(n, _)| *n == k.func.name) {
            Some((name, map)) => {
                let file = files
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap())
                    .find(|s| parse_all(s, "kernel").iter().any(|f| &f.name == name))
                    .unwrap();
                let scaled = parse_all(&replace_numbers(&file, map), "scaled-down kernel");
                let func = scaled.into_iter().find(|f| &f.name == name).unwrap();
                assert!(instances(&func) < instances(&k.func), "{name} scales down");
                out.push(Subject { label: format!("{name} (scaled down)"), func });
            }
            None => out.push(k.clone()),
        }
    }
    for (m, n, k) in [(7, 5, 9), (6, 10, 4), (1, 13, 3), (12, 1, 8)] {
        out.push(Subject { label: format!("testing::matmul({m}, {n}, {k})"), func: testing::matmul(m, n, k) });
    }
    out
}
