//! Matrix multiplication, the chapter's running example.

use kiln::tensor_func;

tensor_func! {
    /// C = A·B (128×128).
    pub fn matmul(a: [f32; 128, 128], b: [f32; 128, 128], c: &mut [f32; 128, 128]) {
        for (i, j, k) in grid(128, 128, 128) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
            }
        }
    }
}
