//! Fingerprints the code generator: a hash of the sources that decide what
//! code a scheduled function becomes (`kiln-ir`'s `codegen/` and
//! `target.rs`, and the runtime the code calls). The tuner's program keys
//! include it, so measurements taken with another code generator are never
//! reused for this one (they time other code).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let sources = [root.join("ir/src/codegen"), root.join("ir/src/target.rs"), root.join("runtime/src")];
    let mut files = Vec::new();
    for s in &sources {
        println!("cargo:rerun-if-changed={}", s.display());
        if s.is_dir() {
            rust_files(s, &mut files);
        } else {
            files.push(s.clone());
        }
    }
    files.sort();
    // FNV-1a 64 over (relative path, contents) of every file.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f).to_string_lossy().replace('\\', "/");
        let text = std::fs::read(f).unwrap_or_default();
        for b in rel.as_bytes().iter().chain([0u8].iter()).chain(text.iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=KILN_CODEGEN_FINGERPRINT={h:016x}");
}
