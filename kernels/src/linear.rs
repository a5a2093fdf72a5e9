//! A batched fully connected layer.

use kiln::tensor_func;

tensor_func! {
    /// Z = X·Wᵀ + B for a batch of 64: X 64×784, W 128×784, B 128.
    pub fn linear(x: [f32; 64, 784], w: [f32; 128, 784], b: [f32; 128], z: &mut [f32; 64, 128]) {
        let y = alloc([f32; 64, 128]);
        for (i, j, k) in grid(64, 128, 784) {
            block("Y") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(64, 128) {
            block("Z") {
                let (vi, vj) = axis::remap("SS", (i, j));
                z[vi, vj] = y[vi, vj] + b[vj];
            }
        }
    }
}
