//! Matrix multiplication with sizes no vector width or tile divides.

use kiln::tensor_func;

tensor_func! {
    /// C = A·B with A 100×300 and B 300×37.
    pub fn matmul_odd(a: [f32; 100, 300], b: [f32; 300, 37], c: &mut [f32; 100, 37]) {
        for (i, j, k) in grid(100, 37, 300) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
}
