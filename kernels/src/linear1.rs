//! The second (last) layer of the FashionMNIST MLP.

use kiln::tensor_func;

tensor_func! {
    /// Z = X·Wᵀ + B, with X 1×128, W 10×128 and B 10.
    pub fn linear1(x: [f32; 1, 128], w: [f32; 10, 128], b: [f32; 10], z: &mut [f32; 1, 10]) {
        let y = alloc([f32; 1, 10]);
        for (i, j, k) in grid(1, 10, 128) {
            block("Y") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(1, 10) {
            block("Z") {
                let (vi, vj) = axis::remap("SS", (i, j));
                z[vi, vj] = y[vi, vj] + b[vj];
            }
        }
    }
}
