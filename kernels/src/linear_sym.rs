//! `linear_sym`: `linear` over a batch of any size.

use kiln::tensor_func;

tensor_func! {
    /// Z = X·Wᵀ + B for a batch of `n` rows (1 to 4096, tuned at 64): X n×784,
    /// W 128×784, B 128. One kernel for every batch size: `n` is read from the
    /// length of `x` (a multiple of 784) and checked against `z`.
    pub fn linear_sym(x: [f32; n, 784], w: [f32; 128, 784], b: [f32; 128], z: &mut [f32; n, 128])
    where
        n: dim(1..=4096, tune = 64)
    {
        let y = alloc([f32; n, 128]);
        for (i, j, k) in grid(n, 128, 784) {
            block("Y") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(n, 128) {
            block("Z") {
                let (vi, vj) = axis::remap("SS", (i, j));
                z[vi, vj] = y[vi, vj] + b[vj];
            }
        }
    }
}
