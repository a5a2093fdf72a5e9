//! The first layer of the FashionMNIST MLP, without its activation, written the
//! way the MLC chapter writes it: a matmul block `Y` into an intermediate
//! buffer, then a bias block `Z`.

use kiln::tensor_func;

tensor_func! {
    /// Z = X·Wᵀ + B, with X 1×784, W 128×784 and B 128.
    pub fn linear0(x: [f32; 1, 784], w: [f32; 128, 784], b: [f32; 128], z: &mut [f32; 1, 128]) {
        let y = alloc([f32; 1, 128]);
        for (i, j, k) in grid(1, 128, 784) {
            block("Y") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(1, 128) {
            block("Z") {
                let (vi, vj) = axis::remap("SS", (i, j));
                z[vi, vj] = y[vi, vj] + b[vj];
            }
        }
    }
}
