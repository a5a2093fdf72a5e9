//! RMSNorm (LLaMA's normalization): a sum-of-squares reduction per row, then
//! an elementwise scale. Memory-bound: 8 FLOP per element, under 1 FLOP per byte it reads and writes.

use kiln::tensor_func;

tensor_func! {
    /// Y[i, j] = X[i, j] · (1 / √(mean_k X[i, k]² + 1e-6)) · w[j], over 32 rows of 4096: as LLaMA's
    /// reference writes it (`x * torch.rsqrt(x.pow(2).mean(-1) + eps) * weight`), one reciprocal
    /// square root per row and two products per element.
    pub fn rmsnorm(x: [f32; 32, 4096], w: [f32; 4096], y: &mut [f32; 32, 4096]) {
        let sumsq = alloc([f32; 32]);
        for (i, k) in grid(32, 4096) {
            block("sumsq") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { sumsq[vi] = 0.0; }
                sumsq[vi] += x[vi, vk] * x[vi, vk];
            }
        }
        for (i, j) in grid(32, 4096) {
            block("norm") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * (1.0 / (sumsq[vi] / 4096.0 + 1e-6).sqrt()) * w[vj];
            }
        }
    }
}
