//! [`gelu`](crate::gelu) under `#[fast_math]`: the fast `tanh`.

use kiln::tensor_func;

tensor_func! {
    /// Y = ½·X·(1 + tanh(√(2/π)·(X + 0.044715·X³))), over 64 rows of 3072, with `#[fast_math]`
    /// (`tanh` within 2.87 ulp: `kiln::simd::fast`).
    #[fast_math]
    pub fn gelu_fast(x: [f32; 64, 3072], y: &mut [f32; 64, 3072]) {
        for (i, j) in grid(64, 3072) {
            block("gelu") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = 0.5 * x[vi, vj]
                    * (1.0 + (0.7978846 * (x[vi, vj] + 0.044715 * x[vi, vj] * x[vi, vj] * x[vi, vj])).tanh());
            }
        }
    }
}
