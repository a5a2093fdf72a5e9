//! The peers of `tuner bench --peers`: the Rust BLAS crates faer and
//! matrixmultiply, timed in the same runner process as kiln's variants of a
//! kernel that is a matrix product ([`product`]).
//!
//! A peer is a candidate like any other ([`Candidate::raw`]): a `run`
//! function with the kernel's signature, here calling the crate the way
//! `benches/kernels.rs` does, so it is checked against the interpreter's
//! output before it is timed, and a crash or a hang is contained. It is
//! compiled against a harness of its own ([`prepare_peers`]: the runtime plus
//! faer and matrixmultiply, at the versions the workspace's `Cargo.lock`
//! pins), which only `--peers` builds, so tuning never waits for faer.
//!
//! Threads: with one thread faer runs `Par::Seq` and matrixmultiply one
//! `sgemm` call (its own threading feature is off, as in the workspace);
//! with `t` threads faer runs `Par::rayon(t)` and matrixmultiply splits the
//! rows into `t` parts, one `sgemm` call each on its own scoped thread (as
//! the criterion group `matmul512_t2` does; the threads are started at every
//! call, and their cost is part of the time).
//!
//! Tolerance: peers are checked with the runner's tolerance, as every
//! candidate (`|got - want| <= 1e-4·max|want| + 1e-3·|want|`, see
//! `RunOptions`). faer and matrixmultiply sum over `k` in blocks and with
//! FMA, in another order than the interpreter's one-by-one `f32` sum; that
//! moves an output by rounding only: at most 1.0e-6 of the largest output
//! on the bundled shapes (inputs in [-1, 1], `k ≤ 784`; measured for both
//! crates), 1/500 of the tolerance, while a wrong layout or stride is off by
//! the size of the outputs themselves.

pub mod product;

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use kiln_ir::ir::{ParamKind, PrimFunc};

use crate::builder::{harness_dir, prepare_harness, Candidate, Toolchain};
use crate::error::Result;
use product::{Layout, MatProduct};

pub use product::matrix_product;

/// The peers, in the order they are listed.
pub const PEERS: [&str; 2] = ["faer", "matrixmultiply"];

/// The crates of the peers' harness, with the version requirements of the
/// workspace's dev-dependencies (the copied `Cargo.lock` picks the exact
/// versions `benches/kernels.rs` measures).
const PEER_CRATES: [(&str, &str); 2] = [("faer", "0.24"), ("matrixmultiply", "0.3")];

/// Builds (or reuses) the peers' harness: the runtime, faer and
/// matrixmultiply, next to the tuner's harness (`<harness>-peers`). The
/// first build compiles faer (about 3 minutes on 2 cores).
pub fn prepare_peers(work_dir: &Path) -> Result<Toolchain> {
    let h = harness_dir(work_dir);
    let name = format!("{}-peers", h.file_name().map_or("harness".into(), |n| n.to_string_lossy()));
    prepare_harness(&h.with_file_name(name), work_dir, &PEER_CRATES)
}

/// The peers of `func`, a matrix product `p`, on `threads` threads: `(name, candidate)`.
pub fn candidates(func: &PrimFunc, p: &MatProduct, threads: usize) -> Vec<(&'static str, Candidate)> {
    let threads = threads.max(1);
    vec![
        ("faer", Candidate::raw(faer_run(func, p, threads))),
        ("matrixmultiply", Candidate::raw(mm_run(func, p, threads))),
    ]
}

/// `pub unsafe fn run(p0: &[f32], .., pN: &mut [f32])` with `func`'s
/// parameters, binding `a`, `b`, `bias` and `c` to the product's operands
/// and the sizes to `M`, `N` and `K`, then `body`.
fn run_fn(func: &PrimFunc, p: &MatProduct, body: TokenStream) -> TokenStream {
    let params: Vec<TokenStream> = func
        .params
        .iter()
        .enumerate()
        .map(|(i, prm)| {
            let id = format_ident!("p{i}");
            if prm.kind == ParamKind::Output {
                quote!(#id: &mut [f32])
            } else {
                quote!(#id: &[f32])
            }
        })
        .collect();
    let (a, b, c) = (format_ident!("p{}", p.a), format_ident!("p{}", p.b), format_ident!("p{}", p.out));
    let bias = match p.bias {
        Some(i) => {
            let id = format_ident!("p{i}");
            quote!(Some(#id))
        }
        None => quote!(None),
    };
    let (m, n, k) = (p.m, p.n, p.k);
    quote! {
        #[allow(unused)]
        pub unsafe fn run(#(#params),*) {
            const M: usize = #m;
            const N: usize = #n;
            const K: usize = #k;
            let a: &[f32] = #a;
            let b: &[f32] = #b;
            let bias: Option<&[f32]> = #bias;
            let c: &mut [f32] = #c;
            #body
        }
    }
}

/// faer: the bias (if any) copied into every row of `c`, then
/// `c (+)= a·b` (`Accum::Add` after a bias, else `Replace`), as in `benches/kernels.rs`.
fn faer_run(func: &PrimFunc, p: &MatProduct, threads: usize) -> TokenStream {
    let b_view = match p.b_layout {
        Layout::KN => quote!(faer::MatRef::from_row_major_slice(b, K, N)),
        Layout::NK => quote!(faer::MatRef::from_row_major_slice(b, N, K).transpose()),
    };
    let par = if threads == 1 { quote!(faer::Par::Seq) } else { quote!(faer::Par::rayon(#threads)) };
    run_fn(
        func,
        p,
        quote! {
            let accum = match bias {
                Some(bias) => {
                    for row in c.chunks_exact_mut(N) {
                        row.copy_from_slice(bias);
                    }
                    faer::Accum::Add
                }
                None => faer::Accum::Replace,
            };
            let am = faer::MatRef::from_row_major_slice(a, M, K);
            let bm = #b_view;
            let cm = faer::MatMut::from_row_major_slice_mut(c, M, N);
            faer::linalg::matmul::matmul(cm, accum, am, bm, 1.0f32, #par);
        },
    )
}

/// matrixmultiply: `sgemm` on row-major strides (`B[n, k]` read transposed
/// through its strides), `beta = 1` on the copied bias, else 0; with more
/// than one thread, the rows in `threads` parts on scoped threads.
fn mm_run(func: &PrimFunc, p: &MatProduct, threads: usize) -> TokenStream {
    let (rsb, csb) = match p.b_layout {
        Layout::KN => (quote!(N as isize), quote!(1)),
        Layout::NK => (quote!(1), quote!(K as isize)),
    };
    run_fn(
        func,
        p,
        quote! {
            fn part(a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
                let rows = c.len() / N;
                let beta = match bias {
                    Some(bias) => {
                        for row in c.chunks_exact_mut(N) {
                            row.copy_from_slice(bias);
                        }
                        1.0
                    }
                    None => 0.0,
                };
                unsafe {
                    matrixmultiply::sgemm(
                        rows, K, N, 1.0,
                        a.as_ptr(), K as isize, 1,
                        b.as_ptr(), #rsb, #csb,
                        beta,
                        c.as_mut_ptr(), N as isize, 1,
                    )
                }
            }
            const THREADS: usize = #threads;
            let rows = M.div_ceil(THREADS).max(1);
            if THREADS == 1 || rows == M {
                part(a, b, bias, c);
            } else {
                std::thread::scope(|s| {
                    let mut parts: Vec<(&[f32], &mut [f32])> = a.chunks(rows * K).zip(c.chunks_mut(rows * N)).collect();
                    let (a_last, c_last) = parts.pop().unwrap();
                    for (a_part, c_part) in parts {
                        s.spawn(move || part(a_part, b, bias, c_part));
                    }
                    part(a_last, b, bias, c_last);
                });
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated code of both peers for a kernel, pretty-printed.
    fn code(src: &str, threads: usize) -> Vec<String> {
        let f = kiln_ir::schedule::testing::kernel(src);
        let p = matrix_product(&f).expect("a product");
        candidates(&f, &p, threads)
            .into_iter()
            .map(|(_, c)| match c.code {
                crate::builder::Code::Raw(ts) => kiln_ir::codegen::pretty(&ts),
                other => panic!("a peer is hand-written code: {other:?}"),
            })
            .collect()
    }

    /// `z = x·wᵀ + bias`, the parameters in another order than the operands.
    const LINEAR: &str = "pub fn f(bias: [f32; 3], x: [f32; 2, 4], z: &mut [f32; 2, 3], w: [f32; 3, 4]) {
        let y = alloc([f32; 2, 3]);
        for (i, j, k) in grid(2, 3, 4) {
            block(\"Y\") {
                let (vi, vj, vk) = axis::remap(\"SSR\", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(2, 3) {
            block(\"Z\") {
                let (vi, vj) = axis::remap(\"SS\", (i, j));
                z[vi, vj] = y[vi, vj] + bias[vj];
            }
        }
    }";

    /// `code` without whitespace, and `text` the same: `squash(code).contains(squash(text))`.
    fn has(code: &str, text: &str) -> bool {
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        squash(code).contains(&squash(text))
    }

    #[test]
    fn peers_call_the_crates_with_the_kernels_operands_layout_and_threads() {
        let [faer, mm] = <[String; 2]>::try_from(code(LINEAR, 2)).unwrap();
        for c in [&faer, &mm] {
            assert!(has(c, "pub unsafe fn run(p0: &[f32], p1: &[f32], p2: &mut [f32], p3: &[f32])"), "{c}");
            let operands = "let a: &[f32] = p1; let b: &[f32] = p3; let bias: Option<&[f32]> = Some(p0); \
                            let c: &mut [f32] = p2;";
            assert!(has(c, operands), "{c}");
        }
        // W read transposed, added to the copied bias, on two threads.
        assert!(has(&faer, "faer::MatRef::from_row_major_slice(b, N, K).transpose()"), "{faer}");
        assert!(has(&faer, "faer::Accum::Add") && has(&faer, "faer::Par::rayon(2usize)"), "{faer}");
        assert!(has(&mm, "b.as_ptr(), 1, K as isize, beta,"), "{mm}");
        assert!(has(&mm, "const THREADS: usize = 2usize;"), "{mm}");
        // One thread: faer sequential.
        assert!(has(&code(LINEAR, 1)[0], "faer::Par::Seq"));
    }
}
