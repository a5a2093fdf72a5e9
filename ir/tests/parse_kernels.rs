//! The bundled kernels (the sources in `kernels/src/`): each parses, prints as
//! expected (insta snapshots), verifies, and computes what a hand-written Rust
//! reference computes when run by the interpreter.

use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::{flops, func_to_string, verify::verify};
use kiln_ir::parse::Kernel;
use kiln_ir::schedule::testing::kernel_in_file;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// Runs `k` on random inputs; returns the inputs and the outputs.
fn run(k: &Kernel) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut args: Vec<Tensor> = k
        .func
        .params
        .iter()
        .enumerate()
        .map(|(p, param)| Tensor::F32(random(param.buffer.numel() as usize, 42 + p as u64)))
        .collect();
    let inputs: Vec<Vec<f32>> = args.iter().map(|t| t.as_f32().unwrap().to_vec()).collect();
    interp::run(&k.func, &mut args).expect("interpretation succeeds");
    (inputs, args.iter().map(|t| t.as_f32().unwrap().to_vec()).collect())
}

fn assert_close(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-4 * w.abs().max(1.0);
        assert!(((*g as f64) - w).abs() <= tol, "element {i}: got {g}, expected {w}");
    }
}

/// Parses the fixture, snapshots its IR, verifies it; returns it.
fn check(name: &str, src: &str) -> Kernel {
    let k = kernel_in_file(src);
    assert_eq!(k.func.name, name);
    assert_eq!(k.sig.name, name);
    if let Err(errs) = verify(&k.func) {
        panic!("{name} does not verify: {errs:?}");
    }
    insta::assert_snapshot!(name, func_to_string(&k.func));
    k
}

/// C[m×n] = A[m×k]·B[k×n].
fn matmul_ref(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| a[i * k + l] as f64 * b[l * n + j] as f64).sum();
        }
    }
    c
}

/// Z[m×n] = X[m×k]·W[n×k]ᵀ + B[n].
fn linear_ref(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut z = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|l| x[i * k + l] as f64 * w[j * k + l] as f64).sum();
            z[i * n + j] = dot + b[j] as f64;
        }
    }
    z
}

#[test]
fn matmul() {
    let k = check("matmul", include_str!("../../kernels/src/matmul.rs"));
    assert_eq!(flops(&k.func), 2 * 128 * 128 * 128);
    let (inp, out) = run(&k);
    assert_close(&out[2], &matmul_ref(&inp[0], &inp[1], 128, 128, 128));
}

#[test]
fn matmul_odd() {
    let k = check("matmul_odd", include_str!("../../kernels/src/matmul_odd.rs"));
    assert_eq!(flops(&k.func), 2 * 100 * 37 * 300);
    let (inp, out) = run(&k);
    assert_close(&out[2], &matmul_ref(&inp[0], &inp[1], 100, 37, 300));
}

#[test]
fn linear0() {
    let k = check("linear0", include_str!("../../kernels/src/linear0.rs"));
    assert_eq!(flops(&k.func), 2 * 128 * 784 + 128);
    let (inp, out) = run(&k);
    assert_close(&out[3], &linear_ref(&inp[0], &inp[1], &inp[2], 1, 128, 784));
}

#[test]
fn linear1() {
    let k = check("linear1", include_str!("../../kernels/src/linear1.rs"));
    let (inp, out) = run(&k);
    assert_close(&out[3], &linear_ref(&inp[0], &inp[1], &inp[2], 1, 10, 128));
}

#[test]
fn linear() {
    let k = check("linear", include_str!("../../kernels/src/linear.rs"));
    let (inp, out) = run(&k);
    assert_close(&out[3], &linear_ref(&inp[0], &inp[1], &inp[2], 64, 128, 784));
}

#[test]
fn relu() {
    let k = check("relu", include_str!("../../kernels/src/relu.rs"));
    assert_eq!(flops(&k.func), 128);
    let (inp, out) = run(&k);
    let want: Vec<f64> = inp[0].iter().map(|v| (*v as f64).max(0.0)).collect();
    assert_close(&out[1], &want);
}

#[test]
fn softmax() {
    let k = check("softmax", include_str!("../../kernels/src/softmax.rs"));
    let (inp, out) = run(&k);
    let (rows, cols) = (64, 1000);
    let mut want = vec![0.0; rows * cols];
    for i in 0..rows {
        let row = &inp[0][i * cols..(i + 1) * cols];
        let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v as f64));
        let sum: f64 = row.iter().map(|v| (*v as f64 - max).exp()).sum();
        for j in 0..cols {
            want[i * cols + j] = (row[j] as f64 - max).exp() / sum;
        }
    }
    assert_close(&out[1], &want);
}

#[test]
fn rmsnorm() {
    let k = check("rmsnorm", include_str!("../../kernels/src/rmsnorm.rs"));
    // Per element: x·x and + in the reduction; /4096, +eps, sqrt, 1/, and two products in the
    // scale (the row's factor counted per element, as the block computes it).
    assert_eq!(flops(&k.func), 8 * 32 * 4096);
    let (inp, out) = run(&k);
    let (rows, cols) = (32, 4096);
    let mut want = vec![0.0; rows * cols];
    for i in 0..rows {
        let row = &inp[0][i * cols..(i + 1) * cols];
        let mean: f64 = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / cols as f64;
        let scale = 1.0 / (mean + 1e-6).sqrt();
        for j in 0..cols {
            want[i * cols + j] = row[j] as f64 * inp[1][j] as f64 * scale;
        }
    }
    assert_close(&out[2], &want);
}

#[test]
fn layernorm() {
    let k = check("layernorm", include_str!("../../kernels/src/layernorm.rs"));
    // Per element: + in the sum; /768, −, −, /768, ·, + in the squared deviations;
    // /768, −, /768, +eps, sqrt, /, ·γ, +β in the normalization.
    assert_eq!(flops(&k.func), 15 * 64 * 768);
    let (inp, out) = run(&k);
    let (rows, cols) = (64, 768);
    let mut want = vec![0.0; rows * cols];
    for i in 0..rows {
        let row = &inp[0][i * cols..(i + 1) * cols];
        let mean = row.iter().map(|v| *v as f64).sum::<f64>() / cols as f64;
        let var = row.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
        for j in 0..cols {
            want[i * cols + j] = (row[j] as f64 - mean) / (var + 1e-5).sqrt() * inp[1][j] as f64 + inp[2][j] as f64;
        }
    }
    assert_close(&out[3], &want);
}

#[test]
fn conv2d() {
    let k = check("conv2d", include_str!("../../kernels/src/conv2d.rs"));
    assert_eq!(flops(&k.func), 2 * 32 * 32 * 32 * 16 * 3 * 3);
    let (inp, out) = run(&k);
    let (data, weight) = (&inp[0], &inp[1]);
    let (c_in, hw, f_out) = (16usize, 32usize, 32usize);
    let mut want = vec![0.0; f_out * hw * hw];
    for f in 0..f_out {
        for y in 0..hw {
            for x in 0..hw {
                let mut acc = 0.0f64;
                for c in 0..c_in {
                    for ry in 0..3 {
                        for rx in 0..3 {
                            let (iy, ix) = (y + ry, x + rx);
                            if iy < 1 || iy > hw || ix < 1 || ix > hw {
                                continue;
                            }
                            let d = data[(c * hw + iy - 1) * hw + ix - 1] as f64;
                            acc += d * weight[((f * c_in + c) * 3 + ry) * 3 + rx] as f64;
                        }
                    }
                }
                want[(f * hw + y) * hw + x] = acc;
            }
        }
    }
    assert_close(&out[2], &want);
}
