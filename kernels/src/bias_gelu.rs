//! A bias add, then GELU (tanh form): two elementwise blocks as a user
//! writes them; the default schedule inlines the bias into the activation
//! (one pass over the data).

use kiln::tensor_func;

tensor_func! {
    /// T = X + b (per column), Y = ½·T·(1 + tanh(√(2/π)·(T + 0.044715·T³))), over 64 rows of 3072.
    pub fn bias_gelu(x: [f32; 64, 3072], b: [f32; 3072], y: &mut [f32; 64, 3072]) {
        let t = alloc([f32; 64, 3072]);
        for (i, j) in grid(64, 3072) {
            block("bias") {
                let (vi, vj) = axis::remap("SS", (i, j));
                t[vi, vj] = x[vi, vj] + b[vj];
            }
        }
        for (i, j) in grid(64, 3072) {
            block("gelu") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = 0.5 * t[vi, vj]
                    * (1.0 + (0.7978846 * (t[vi, vj] + 0.044715 * t[vi, vj] * t[vi, vj] * t[vi, vj])).tanh());
            }
        }
    }
}
