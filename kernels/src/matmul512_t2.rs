//! The same 512³ product as [`crate::matmul512`], with its trace tuned for two
//! threads (`tuner tune --kernel matmul512_t2 --threads 2`): the outer tile
//! loop runs on kiln's thread pool.

use kiln::tensor_func;

tensor_func! {
    /// C = A·B (512×512×512), tuned for two threads.
    pub fn matmul512_t2(a: [f32; 512, 512], b: [f32; 512, 512], c: &mut [f32; 512, 512]) {
        for (i, j, k) in grid(512, 512, 512) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
            }
        }
    }
}
