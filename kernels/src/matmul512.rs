//! A matrix product bigger than the caches: every operand is 1 MiB, so the
//! schedule has to block for L1 and L2 (and may pack panels) to stay near
//! the machine's peak.

use kiln::tensor_func;

tensor_func! {
    /// C = A·B (512×512×512), tuned for one thread.
    pub fn matmul512(a: [f32; 512, 512], b: [f32; 512, 512], c: &mut [f32; 512, 512]) {
        for (i, j, k) in grid(512, 512, 512) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
            }
        }
    }
}
