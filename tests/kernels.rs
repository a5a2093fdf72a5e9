//! Every bundled kernel, as the macro emits it, computes what the reference
//! interpreter computes from the kernel's IR — for every ISA this machine
//! runs (the others are skipped) — and the layers also match the plain-Rust
//! references of `kernels::mlp`.
//!
//! Tolerance: |got − want| ≤ 1e-4·(max|want| + |want|) (`testing::compare`;
//! FMA contraction and vector partial sums reassociate floating-point
//! arithmetic).

use kiln::Isa;
use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::ParamKind;
use kiln_ir::schedule::testing::{compare, kernel_in_file, random_args};

const TOLERANCE: f64 = 1e-4;

/// `got`, computed by the generated code of `name` on `isa`, is close to `want`.
fn check_close(name: &str, isa: Isa, got: &[f32], want: &[f32]) {
    compare(&[Tensor::F32(got.to_vec())], &[Tensor::F32(want.to_vec())], Some(TOLERANCE))
        .unwrap_or_else(|e| panic!("{name} on {isa}: {e}"));
}

fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| kiln::runtime::supported(*i)).collect()
}

type Run = fn(Isa, &mut [Vec<f32>]) -> Result<(), kiln::Error>;

fn check_kernel(src: &str, run: Run) {
    let func = kernel_in_file(src).func;
    let mut want = random_args(&func, 11);
    let inputs: Vec<Vec<f32>> = want.iter().map(|t| t.as_f32().unwrap().to_vec()).collect();
    interp::run(&func, &mut want).unwrap();
    for isa in isas() {
        let mut args = inputs.clone();
        run(isa, &mut args).unwrap_or_else(|e| panic!("{}: {e}", func.name));
        for (k, p) in func.params.iter().enumerate() {
            if p.kind == ParamKind::Output {
                let Tensor::F32(w) = &want[k] else { unreachable!() };
                check_close(&func.name, isa, &args[k], w);
            }
        }
    }
}

macro_rules! kernel_test {
    ($name:ident, $file:literal, |$isa:ident, $a:ident| $call:expr) => {
        #[test]
        fn $name() {
            check_kernel(include_str!($file), |$isa, $a| $call);
        }
    };
}

kernel_test!(matmul, "../kernels/src/matmul.rs", |isa, a| {
    let (x, y) = a.split_at_mut(2);
    kernels::try_matmul_on(isa, &x[0], &x[1], &mut y[0])
});
kernel_test!(matmul_odd, "../kernels/src/matmul_odd.rs", |isa, a| {
    let (x, y) = a.split_at_mut(2);
    kernels::try_matmul_odd_on(isa, &x[0], &x[1], &mut y[0])
});
kernel_test!(linear0, "../kernels/src/linear0.rs", |isa, a| {
    let (x, y) = a.split_at_mut(3);
    kernels::try_linear0_on(isa, &x[0], &x[1], &x[2], &mut y[0])
});
kernel_test!(linear1, "../kernels/src/linear1.rs", |isa, a| {
    let (x, y) = a.split_at_mut(3);
    kernels::try_linear1_on(isa, &x[0], &x[1], &x[2], &mut y[0])
});
kernel_test!(linear, "../kernels/src/linear.rs", |isa, a| {
    let (x, y) = a.split_at_mut(3);
    kernels::try_linear_on(isa, &x[0], &x[1], &x[2], &mut y[0])
});
kernel_test!(relu, "../kernels/src/relu.rs", |isa, a| {
    let (x, y) = a.split_at_mut(1);
    kernels::try_relu_on(isa, &x[0], &mut y[0])
});
kernel_test!(softmax, "../kernels/src/softmax.rs", |isa, a| {
    let (x, y) = a.split_at_mut(1);
    kernels::try_softmax_on(isa, &x[0], &mut y[0])
});
kernel_test!(softmax_fast, "../kernels/src/softmax_fast.rs", |isa, a| {
    let (x, y) = a.split_at_mut(1);
    kernels::try_softmax_fast_on(isa, &x[0], &mut y[0])
});
kernel_test!(rmsnorm, "../kernels/src/rmsnorm.rs", |isa, a| {
    let (x, y) = a.split_at_mut(2);
    kernels::try_rmsnorm_on(isa, &x[0], &x[1], &mut y[0])
});
kernel_test!(layernorm, "../kernels/src/layernorm.rs", |isa, a| {
    let (x, y) = a.split_at_mut(3);
    kernels::try_layernorm_on(isa, &x[0], &x[1], &x[2], &mut y[0])
});
kernel_test!(gelu, "../kernels/src/gelu.rs", |isa, a| {
    let (x, y) = a.split_at_mut(1);
    kernels::try_gelu_on(isa, &x[0], &mut y[0])
});
kernel_test!(gelu_fast, "../kernels/src/gelu_fast.rs", |isa, a| {
    let (x, y) = a.split_at_mut(1);
    kernels::try_gelu_fast_on(isa, &x[0], &mut y[0])
});
kernel_test!(bias_gelu, "../kernels/src/bias_gelu.rs", |isa, a| {
    let (x, y) = a.split_at_mut(2);
    kernels::try_bias_gelu_on(isa, &x[0], &x[1], &mut y[0])
});
kernel_test!(conv2d, "../kernels/src/conv2d.rs", |isa, a| {
    let (x, y) = a.split_at_mut(2);
    kernels::try_conv2d_on(isa, &x[0], &x[1], &mut y[0])
});

/// `matmul512` and `matmul512_t2` (134M multiply-adds each: too many for the
/// interpreter) against a plain f64 product, on every ISA.
#[test]
fn matmul512_matches_an_f64_product() {
    const N: usize = 512;
    let a: Vec<f32> = (0..N * N).map(|i| ((i * 7919) % 211) as f32 / 211.0 - 0.5).collect();
    let b: Vec<f32> = (0..N * N).map(|i| ((i * 104729) % 197) as f32 / 197.0 - 0.5).collect();
    let mut want = vec![0f64; N * N];
    for i in 0..N {
        for k in 0..N {
            let aik = f64::from(a[i * N + k]);
            for j in 0..N {
                want[i * N + j] += aik * f64::from(b[k * N + j]);
            }
        }
    }
    let want: Vec<f32> = want.into_iter().map(|x| x as f32).collect();
    type Mm = fn(Isa, &[f32], &[f32], &mut [f32]) -> Result<(), kiln::Error>;
    for (name, run) in [("matmul512", kernels::try_matmul512_on as Mm), ("matmul512_t2", kernels::try_matmul512_t2_on)]
    {
        for isa in isas() {
            let mut c = vec![f32::NAN; N * N];
            run(isa, &a, &b, &mut c).unwrap();
            check_close(name, isa, &c, &want);
        }
    }
}

/// `rmsnorm` against a plain f64 reference, on every ISA, with rows whose
/// scale spans 2⁻⁶..2⁶ (the normalization must undo it).
///
/// Tolerance: |got − want| ≤ 1e-5·|want| per element. Every output is
/// x·w times its row's 1/√(mean x² + ε), so its error is relative: f32
/// rounding of the product and quotient (a few ulp), plus half the relative
/// error of the f32 sum of 4096 squares (≤ 4096·2⁻²⁴ ≈ 2.4e-4 in the worst
/// case of one sequential sum, about 1e-6 in practice; the vector code sums
/// in 8 or 16 lanes). The largest errors seen on Zen 1: 5.5e-7 (scalar),
/// 2.4e-7 (AVX2).
#[test]
fn rmsnorm_matches_an_f64_reference() {
    const ROWS: usize = 32;
    const COLS: usize = 4096;
    let x: Vec<f32> = (0..ROWS * COLS)
        .map(|i| {
            let scale = 2f32.powi((i / COLS) as i32 % 13 - 6);
            (((i * 7919) % 211) as f32 / 105.0 - 1.0) * scale
        })
        .collect();
    let w: Vec<f32> = (0..COLS).map(|j| ((j * 104729) % 197) as f32 / 49.0 - 2.0).collect();
    let mut want = vec![0f64; ROWS * COLS];
    for i in 0..ROWS {
        let row = &x[i * COLS..(i + 1) * COLS];
        let mean = row.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / COLS as f64;
        let scale = 1.0 / (mean + 1e-6).sqrt();
        for j in 0..COLS {
            want[i * COLS + j] = f64::from(row[j]) * f64::from(w[j]) * scale;
        }
    }
    for isa in isas() {
        let mut y = vec![f32::NAN; ROWS * COLS];
        kernels::try_rmsnorm_on(isa, &x, &w, &mut y).unwrap();
        let worst =
            y.iter().zip(&want).map(|(g, w)| (f64::from(*g) - w).abs() / w.abs().max(1e-30)).fold(0.0, f64::max);
        println!("rmsnorm on {isa}: largest relative error {worst:.2e}");
        for (k, (g, w)) in y.iter().zip(&want).enumerate() {
            assert!((f64::from(*g) - w).abs() <= 1e-5 * w.abs(), "rmsnorm on {isa}: y[{k}] = {g}, want {w}");
        }
    }
}

/// `layernorm` against a plain f64 reference, on every ISA, with rows whose
/// scale spans 2⁻⁶..2⁶ and whose mean lies up to three standard deviations
/// away from zero (the normalization must remove both).
///
/// Tolerance: |got − want| ≤ 1e-5·(1 + |want|) per element (γ within [0.5,
/// 1.5], β within [−1, 1]). The normalized value `z = (x − μ)/σ` is of order
/// 1 and carries an absolute error: the f32 mean's (a few ulp of |μ|, and
/// |μ|/σ reaches 5 here), the variance's and the quotient's; then ·γ + β
/// rounds once more. The largest errors seen on Zen 1 are printed.
#[test]
fn layernorm_matches_an_f64_reference() {
    const ROWS: usize = 64;
    const COLS: usize = 768;
    let x: Vec<f32> = (0..ROWS * COLS)
        .map(|i| {
            let row = i / COLS;
            let scale = 2f32.powi(row as i32 % 13 - 6);
            let offset = (row % 7) as f32 - 3.0;
            ((((i * 7919) % 211) as f32 / 105.0 - 1.0) + offset) * scale
        })
        .collect();
    let gamma: Vec<f32> = (0..COLS).map(|j| ((j * 104729) % 101) as f32 / 100.0 + 0.5).collect();
    let beta: Vec<f32> = (0..COLS).map(|j| ((j * 7907) % 199) as f32 / 99.0 - 1.0).collect();
    let mut want = vec![0f64; ROWS * COLS];
    for i in 0..ROWS {
        let row = &x[i * COLS..(i + 1) * COLS];
        let mean = row.iter().map(|v| f64::from(*v)).sum::<f64>() / COLS as f64;
        let var = row.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / COLS as f64;
        for j in 0..COLS {
            want[i * COLS + j] =
                (f64::from(row[j]) - mean) / (var + 1e-5).sqrt() * f64::from(gamma[j]) + f64::from(beta[j]);
        }
    }
    for isa in isas() {
        let mut y = vec![f32::NAN; ROWS * COLS];
        kernels::try_layernorm_on(isa, &x, &gamma, &beta, &mut y).unwrap();
        let bound = |k: usize| 1e-5 * (1.0 + want[k].abs());
        let worst = (0..y.len()).map(|k| (f64::from(y[k]) - want[k]).abs() / bound(k)).fold(0.0, f64::max);
        println!("layernorm on {isa}: largest error {worst:.3} of the bound");
        for (k, g) in y.iter().enumerate() {
            assert!((f64::from(*g) - want[k]).abs() <= bound(k), "layernorm on {isa}: y[{k}] = {g}, want {}", want[k]);
        }
    }
}

#[test]
fn linear0_matches_the_plain_rust_reference() {
    let x: Vec<f32> = (0..784).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
    let w: Vec<f32> = (0..128 * 784).map(|i| ((i * 53) % 97) as f32 / 97.0 - 0.5).collect();
    let b: Vec<f32> = (0..128).map(|i| i as f32 / 128.0).collect();
    let mut want = vec![0f32; 128];
    kernels::mlp::linear_reference(&x, &w, &b, &mut want);
    for isa in isas() {
        let mut z = vec![0f32; 128];
        kernels::try_linear0_on(isa, &x, &w, &b, &mut z).unwrap();
        check_close("linear0", isa, &z, &want);
    }
}

#[test]
fn wrong_lengths_are_reported_not_read() {
    let a = vec![0f32; 100];
    let b = vec![0f32; 128 * 128];
    let mut c = vec![0f32; 128 * 128];
    let e = kernels::try_matmul(&a, &b, &mut c).unwrap_err();
    assert_eq!(e.to_string(), "matmul: `a` has 100 elements but is declared [f32; 128, 128], which needs 16384");
    let r = std::panic::catch_unwind(move || kernels::matmul(&a, &b, &mut c));
    assert!(r.is_err());
}

/// `W` of `linear`, packed ahead of time for each ISA's implementation
/// (`linear::try_pack_w_on`), then used by `linear::try_with_packed_w`:
/// the same results as the interpreter, and as the ordinary entry.
#[test]
fn linear_with_packed_weights() {
    let func = kernel_in_file(include_str!("../kernels/src/linear.rs")).func;
    let mut want = random_args(&func, 11);
    let inputs: Vec<Vec<f32>> = want.iter().map(|t| t.as_f32().unwrap().to_vec()).collect();
    interp::run(&func, &mut want).unwrap();
    let Tensor::F32(want_z) = &want[3] else { unreachable!() };
    for isa in isas() {
        let packed = kernels::linear::try_pack_w_on(isa, &inputs[1]).unwrap();
        let mut z = vec![f32::NAN; 64 * 128];
        kernels::linear::try_with_packed_w(&inputs[0], &packed, &inputs[2], &mut z).unwrap();
        check_close("linear (packed w)", isa, &z, want_z);
        let mut again = vec![f32::NAN; 64 * 128];
        kernels::try_linear_on(isa, &inputs[0], &inputs[1], &inputs[2], &mut again).unwrap();
        assert_eq!(z, again, "{isa}: the packed entry computes what the ordinary one computes");
    }
    // The machine's own choice, through the panicking entries.
    let packed = kernels::linear::pack_w(&inputs[1]);
    let mut z = vec![f32::NAN; 64 * 128];
    kernels::linear::with_packed_w(&inputs[0], &packed, &inputs[2], &mut z);
    check_close("linear (packed w)", kiln::runtime::isa(), &z, want_z);
    // Wrong lengths are errors, for the weights and for the other arguments.
    let e = kernels::linear::try_pack_w(&inputs[1][1..]).unwrap_err();
    assert_eq!(e.to_string(), "linear: `w` has 100351 elements but is declared [f32; 128, 784], which needs 100352");
    let e = kernels::linear::try_with_packed_w(&inputs[0][1..], &packed, &inputs[2], &mut z).unwrap_err();
    assert!(e.to_string().starts_with("linear: `x` has 50175 elements"), "{e}");
}
