//! Kernels using the math functions (`exp`, `tanh`, `sigmoid`, `ln`,
//! `rsqrt`), compiled for scalar, AVX2 and AVX-512 (emulated on a CPU without
//! it) and checked against the interpreter with a tolerance of about one ulp
//! (relative 1.2e-7, no absolute part; infinities and NaN must match), on a
//! shape that no vector width divides (8 × 37, one slice of the output
//! per function), with the default schedule and
//! sampled ones. The arguments are scaled so that the vectors meet the
//! functions' slow paths: `exp` overflowing to `+∞`, `sigmoid` beyond ±87,
//! `ln` of negative numbers (NaN). The arguments are scaled by powers of two
//! (exact: a `a·c + d` would be one FMA in vector code, rounded differently,
//! which the functions amplify), and subnormal results are left out (a
//! relative tolerance means nothing there; `kiln-runtime`'s tests measure
//! them in ulps).

mod common;

use kiln_ir::target::Isa;
use tuner::builder::Candidate;

const KERNEL: &str = r#"
fn math(a: [f32; 8, 37], o: &mut [f32; 6, 8, 37]) {
    for (i, j) in grid(8, 37) {
        block("E") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[0, vi, vj] = (a[vi, vj] * 128.0).max(-80.0).exp();
        }
    }
    for (i, j) in grid(8, 37) {
        block("T") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[1, vi, vj] = (a[vi, vj] * 8.0).tanh();
        }
    }
    for (i, j) in grid(8, 37) {
        block("S") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[2, vi, vj] = sigmoid((a[vi, vj] * 128.0).max(-80.0));
        }
    }
    for (i, j) in grid(8, 37) {
        block("L") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[3, vi, vj] = (a[vi, vj].abs() * 1024.0).ln();
        }
    }
    for (i, j) in grid(8, 37) {
        block("N") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[4, vi, vj] = (a[vi, vj] * 8.0).ln();
        }
    }
    for (i, j) in grid(8, 37) {
        block("R") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[5, vi, vj] = a[vi, vj].abs().rsqrt();
        }
    }
}
"#;

#[test]
fn math_kernels_match_the_interpreter_within_an_ulp() {
    let func = kiln_ir::parse::parse_kernel_str(KERNEL).unwrap().func;
    let work = std::env::temp_dir().join("kiln-math-kernels");
    let (mut cands, mut labels) = common::candidates_on_every_isa(&func, 2);
    // Every lane loop of two vectors (the functions' lockstep forms: `exp`,
    // `tanh`, `sigmoid` and `ln` on both ISAs), whatever the samples drew.
    for isa in [Isa::Avx2, Isa::Avx512] {
        let f = common::with_lane_loops_of(&func, isa, 2);
        let code = kiln_ir::codegen::emit_impl(&f, isa, &quote::format_ident!("k")).to_string().replace(' ', "");
        let calls: &[&str] = match isa {
            Isa::Avx2 => &["exp_avx2_n(", "tanh_avx2_n(", "sigmoid_avx2_n(", "ln_avx2_n("],
            _ => &["avx512_x2::exp(", "avx512_x2::tanh(", "avx512_x2::sigmoid(", "avx512_x2::ln("],
        };
        assert!(calls.iter().all(|c| code.contains(c)), "{isa}: {calls:?} not all in\n{code}");
        cands.push(if isa == Isa::Avx512 && !std::arch::is_x86_feature_detected!("avx512f") {
            Candidate::emulated_avx512(&f)
        } else {
            Candidate::new(f, isa)
        });
        labels.push(format!("{isa} lane loops of 2 vectors"));
    }
    let (ok, wrong) = common::run_against_interpreter(&work, &func, &cands, &labels, "math_kernels", (1.2e-7, 0.0));
    assert!(wrong.is_empty(), "{wrong:?}");
    let ran = ok.len();
    assert!(ran >= 3, "only {ran} candidates ran");
}
