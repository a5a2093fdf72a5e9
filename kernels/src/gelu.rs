//! GELU in its tanh form (GPT-2, BERT's `gelu_new`): an elementwise activation.
//! Memory-bound where `tanh` is cheap: one read and one write per element.

use kiln::tensor_func;

tensor_func! {
    /// Y = ½·X·(1 + tanh(√(2/π)·(X + 0.044715·X³))), over 64 rows of 3072.
    pub fn gelu(x: [f32; 64, 3072], y: &mut [f32; 64, 3072]) {
        for (i, j) in grid(64, 3072) {
            block("gelu") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = 0.5 * x[vi, vj]
                    * (1.0 + (0.7978846 * (x[vi, vj] + 0.044715 * x[vi, vj] * x[vi, vj] * x[vi, vj])).tanh());
            }
        }
    }
}
