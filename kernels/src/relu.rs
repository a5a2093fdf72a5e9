//! The MLP's activation.

use kiln::tensor_func;

tensor_func! {
    /// Y = max(X, 0), elementwise over 1×128.
    pub fn relu(x: [f32; 1, 128], y: &mut [f32; 1, 128]) {
        for (i, j) in grid(1, 128) {
            block("Y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = max(x[vi, vj], 0.0);
            }
        }
    }
}
