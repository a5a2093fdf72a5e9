//! Finding the `tensor_func!` invocations of a Rust source file (the tuner's
//! view of a kernel crate).

use std::path::{Path, PathBuf};

use super::{parse_kernel, Kernel, ParseFailure};

/// The kernels of one crate: every `tensor_func!` of its `src/**/*.rs`
/// (sorted by file, then position), and the files that are not valid Rust.
#[derive(Debug, Default)]
pub struct CrateKernels {
    /// `(file, the kernel or why it does not parse)`.
    pub kernels: Vec<(PathBuf, Result<Kernel, ParseFailure>)>,
    /// Files that are not valid Rust (rustc reports them).
    pub invalid: Vec<(PathBuf, syn::Error)>,
}

/// The kernels of the crate whose `Cargo.toml` is in `crate_dir` (the files
/// under `src/`; files that do not mention `tensor_func` are not parsed).
pub fn kernels_in_crate(crate_dir: &Path) -> CrateKernels {
    let mut out = CrateKernels::default();
    for file in rust_files(&crate_dir.join("src")) {
        let Ok(src) = std::fs::read_to_string(&file) else { continue };
        if !src.contains("tensor_func") {
            continue;
        }
        match find_kernels_in_file(&src) {
            Ok(ks) => out.kernels.extend(ks.into_iter().map(|k| (file.clone(), k))),
            Err(e) => out.invalid.push((file, e)),
        }
    }
    out
}

/// The `*.rs` files under `dir`, recursively, sorted (none if it does not exist).
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    files_with_extension(dir, "rs", true)
}

/// The files under `dir` (recursively if `deep`) whose extension is `ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str, deep: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.path()) {
            if p.is_dir() {
                if deep {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every `tensor_func! { .. }` invocation in a Rust source file, in order, with
/// its parse result. Invocations at item level are found, also inside inline
/// `mod m { .. }`; invocations inside function bodies are not. The macro may be
/// named by a path (`kiln::tensor_func!`). The error is for a file that is not
/// valid Rust.
pub fn find_kernels_in_file(src: &str) -> Result<Vec<Result<Kernel, ParseFailure>>, syn::Error> {
    let file = syn::parse_file(src)?;
    let mut out = Vec::new();
    collect(&file.items, &mut out);
    Ok(out)
}

fn collect(items: &[syn::Item], out: &mut Vec<Result<Kernel, ParseFailure>>) {
    for item in items {
        match item {
            syn::Item::Macro(m) if is_tensor_func(&m.mac.path) => out.push(parse_kernel(m.mac.tokens.clone())),
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, out);
                }
            }
            _ => {}
        }
    }
}

fn is_tensor_func(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "tensor_func" && s.arguments.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"//! A kernel crate.
use kiln::tensor_func;

pub struct Unrelated;

tensor_func! {
    /// Doubles.
    pub fn first(a: [f32; 4], c: &mut [f32; 4]) {
        for i in 0..4 { block("C") { let vi = axis::spatial(4, i); c[vi] = a[vi] * 2.0; } }
    }
}

fn helper() -> u32 {
    tensor_func! { not looked at }
    3
}

mod inner {
    kiln::tensor_func! {
        fn second(c: &mut [f32; 2]) {
            for i in 0..2 { block("C") { let vi = axis::spatial(2, i); c[vi] = 1.0; } }
        }
    }

    tensor_func! {
        fn broken(c: &mut [f32; 2]) {}
    }
}

macro_rules! other { () => {} }
other!();
"#;

    #[test]
    fn finds_every_item_level_invocation_in_order() {
        let found = find_kernels_in_file(FILE).unwrap();
        assert_eq!(found.len(), 3);
        let first = found[0].as_ref().unwrap();
        assert_eq!(first.func.name, "first");
        assert_eq!(first.sig.attrs.len(), 1);
        assert_eq!(found[1].as_ref().unwrap().func.name, "second");
        let broken = found[2].as_ref().unwrap_err();
        assert_eq!(broken.error.to_string(), "output `c` is never written");
        assert_eq!(broken.sig.as_ref().unwrap().name, "broken");
        // Spans point into the file, so the tuner can say where.
        let at = broken.error.span().start();
        assert_eq!((at.line, at.column), (26, 18));
    }

    #[test]
    fn invalid_rust_is_an_error() {
        assert!(find_kernels_in_file("fn (").is_err());
        assert!(find_kernels_in_file("").unwrap().is_empty());
    }
}
