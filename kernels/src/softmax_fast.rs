//! [`softmax`](crate::softmax) under `#[fast_math]`: the fast `exp`, and one
//! reciprocal of each row's sum instead of a division per element.

use kiln::tensor_func;

tensor_func! {
    /// Y[i, j] = exp(X[i, j] - max_k X[i, k]) / Σ_k exp(X[i, k] - max_k X[i, k]), over 64 rows of 1000,
    /// with `#[fast_math]`: the fast `exp` (2.02 ulp) and one reciprocal per row (1.47 ulp; `kiln_ir::codegen::fast_math`).
    #[fast_math]
    pub fn softmax_fast(x: [f32; 64, 1000], y: &mut [f32; 64, 1000]) {
        let maxelem = alloc([f32; 64]);
        let expv = alloc([f32; 64, 1000]);
        let expsum = alloc([f32; 64]);
        for (i, k) in grid(64, 1000) {
            block("maxelem") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { maxelem[vi] = f32::NEG_INFINITY; }
                maxelem[vi] = maxelem[vi].max(x[vi, vk]);
            }
        }
        for (i, j) in grid(64, 1000) {
            block("exp") {
                let (vi, vj) = axis::remap("SS", (i, j));
                expv[vi, vj] = (x[vi, vj] - maxelem[vi]).exp();
            }
        }
        for (i, k) in grid(64, 1000) {
            block("expsum") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { expsum[vi] = 0.0; }
                expsum[vi] += expv[vi, vk];
            }
        }
        for (i, j) in grid(64, 1000) {
            block("norm") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = expv[vi, vj] / expsum[vi];
            }
        }
    }
}
