//! `#[fast_math]` kernels against the interpreter, on scalar, AVX2 and AVX-512
//! (emulated on a CPU without it), with the default schedule and sampled
//! ones: a row softmax (`exp`, a division by the row's sum), `tanh`,
//! `sigmoid` and a division by a constant, on a shape no vector width divides
//! (8 × 37). Tolerance: relative 4.5e-7 (the fast functions' bounds, 3.50 ulp
//! at most, are below `3.5·2^-23 = 4.2e-7` of the result; the reciprocal's
//! 1.47 ulp and the softmax sum's reassociation stay well within it), no
//! absolute part. And a kernel of divisions alone (by a row's value, by a
//! constant): without the attribute bit for bit the interpreter's results on
//! every ISA (the exact `div_by_avx2`); with it the vector code's quotients
//! differ (the reciprocal is used), within 1.8e-7 (1.47 ulp).

mod common;

const KERNEL: &str = r#"
#[fast_math]
fn fast(a: [f32; 8, 37], o: &mut [f32; 4, 8, 37]) {
    let m = alloc([f32; 8]);
    let e = alloc([f32; 8, 37]);
    let s = alloc([f32; 8]);
    for (i, k) in grid(8, 37) {
        block("M") {
            let (vi, vk) = axis::remap("SR", (i, k));
            init { m[vi] = f32::NEG_INFINITY; }
            m[vi] = m[vi].max(a[vi, vk] * 64.0);
        }
    }
    for (i, j) in grid(8, 37) {
        block("E") {
            let (vi, vj) = axis::remap("SS", (i, j));
            e[vi, vj] = (a[vi, vj] * 64.0 - m[vi]).exp();
        }
    }
    for (i, k) in grid(8, 37) {
        block("S") {
            let (vi, vk) = axis::remap("SR", (i, k));
            init { s[vi] = 0.0; }
            s[vi] += e[vi, vk];
        }
    }
    for (i, j) in grid(8, 37) {
        block("Y") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[0, vi, vj] = e[vi, vj] / s[vi];
        }
    }
    for (i, j) in grid(8, 37) {
        block("T") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[1, vi, vj] = (a[vi, vj] * 8.0).tanh();
        }
    }
    for (i, j) in grid(8, 37) {
        block("G") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[2, vi, vj] = sigmoid((a[vi, vj] * 128.0).max(-80.0));
        }
    }
    for (i, j) in grid(8, 37) {
        block("D") {
            let (vi, vj) = axis::remap("SS", (i, j));
            o[3, vi, vj] = a[vi, vj] / 3.0;
        }
    }
}
"#;

/// `func`'s default and first `samples` sampled candidates on every ISA
/// against the interpreter with relative tolerance `rtol`.
fn run(func: &kiln_ir::ir::PrimFunc, name: &str, samples: u64, rtol: f64) -> (Vec<String>, Vec<String>) {
    let work = std::env::temp_dir().join("kiln-fast-math-kernels");
    let (cands, labels) = common::candidates_on_every_isa(func, samples);
    common::run_against_interpreter(&work, func, &cands, &labels, name, (rtol, 0.0))
}

#[test]
fn fast_math_kernels_match_the_interpreter_within_the_stated_bounds() {
    let func = kiln_ir::parse::parse_kernel_str(KERNEL).unwrap().func;
    assert!(func.fast_math);
    let (ok, wrong) = run(&func, "fast", 2, 4.5e-7);
    assert!(wrong.is_empty(), "outside the tolerance: {wrong:?}");
    assert!(ok.len() >= 6, "only {ok:?} ran");
}

/// Divisions by a divisor shared along a row and by a constant: exactly
/// the interpreter's bits without the attribute, not with it.
#[test]
fn without_the_attribute_divisions_stay_exact() {
    let src = r#"
        fn div(a: [f32; 8, 37], b: [f32; 8], o: &mut [f32; 2, 8, 37]) {
            for (i, j) in grid(8, 37) {
                block("Y") {
                    let (vi, vj) = axis::remap("SS", (i, j));
                    o[0, vi, vj] = a[vi, vj] / b[vi];
                }
            }
            for (i, j) in grid(8, 37) {
                block("D") {
                    let (vi, vj) = axis::remap("SS", (i, j));
                    o[1, vi, vj] = a[vi, vj] / 3.0;
                }
            }
        }
    "#;
    let exact = kiln_ir::parse::parse_kernel_str(src).unwrap().func;
    let (ok, wrong) = run(&exact, "exact_div", 0, 0.0);
    assert!(wrong.is_empty(), "not bit for bit: {wrong:?}");
    assert_eq!(ok.len(), 3, "{ok:?}");
    let fast = kiln_ir::ir::PrimFunc { fast_math: true, ..exact };
    let (ok, wrong) = run(&fast, "fast_div", 0, 0.0);
    // The scalar code stays exact; the vector code multiplies by reciprocals.
    assert_eq!(ok, ["scalar default"], "{wrong:?}");
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    let (ok, wrong) = run(&fast, "fast_div", 0, 1.8e-7);
    assert!(wrong.is_empty() && ok.len() == 3, "{ok:?} {wrong:?}");
}
