//! LayerNorm as PyTorch defines it (`torch.nn.LayerNorm(768)`), written as a
//! user would: a row sum, the row's squared deviations from its mean, then
//! the normalization with the biased variance.

use kiln::tensor_func;

tensor_func! {
    /// Y[i, j] = (X[i, j] − μᵢ) / √(σᵢ² + 1e-5) · γ[j] + β[j], with μᵢ = Σ_k X[i, k] / 768 and
    /// σᵢ² = Σ_k (X[i, k] − μᵢ)² / 768, over 64 rows of 768 (BERT-base's hidden size).
    pub fn layernorm(x: [f32; 64, 768], gamma: [f32; 768], beta: [f32; 768], y: &mut [f32; 64, 768]) {
        let sum = alloc([f32; 64]);
        let sqdev = alloc([f32; 64]);
        for (i, k) in grid(64, 768) {
            block("sum") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { sum[vi] = 0.0; }
                sum[vi] += x[vi, vk];
            }
        }
        for (i, k) in grid(64, 768) {
            block("sqdev") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { sqdev[vi] = 0.0; }
                sqdev[vi] += (x[vi, vk] - sum[vi] / 768.0) * (x[vi, vk] - sum[vi] / 768.0);
            }
        }
        for (i, j) in grid(64, 768) {
            block("norm") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = (x[vi, vj] - sum[vi] / 768.0) / (sqdev[vi] / 768.0 + 1e-5).sqrt() * gamma[vj] + beta[vj];
            }
        }
    }
}
