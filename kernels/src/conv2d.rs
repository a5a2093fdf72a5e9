//! 2-D convolution, NCHW, stride 1, padding 1, in two blocks as TVM's topi
//! writes it: a padding block into an intermediate, then the reduction.

use kiln::tensor_func;

tensor_func! {
    /// out = conv2d(data, weight): data 1×16×32×32, 32 filters of 16×3×3, out 1×32×32×32.
    pub fn conv2d(data: [f32; 1, 16, 32, 32], weight: [f32; 32, 16, 3, 3], out: &mut [f32; 1, 32, 32, 32]) {
        let pad = alloc([f32; 1, 16, 34, 34]);
        for (i0, i1, i2, i3) in grid(1, 16, 34, 34) {
            block("pad") {
                let (v0, v1, v2, v3) = axis::remap("SSSS", (i0, i1, i2, i3));
                pad[v0, v1, v2, v3] = if v2 >= 1 && v2 < 33 && v3 >= 1 && v3 < 33 {
                    data[v0, v1, v2 - 1, v3 - 1]
                } else {
                    0.0
                };
            }
        }
        for (nn, ff, yy, xx, rc, ry, rx) in grid(1, 32, 32, 32, 16, 3, 3) {
            block("conv") {
                let (vn, vf, vy, vx, vc, vry, vrx) = axis::remap("SSSSRRR", (nn, ff, yy, xx, rc, ry, rx));
                init { out[vn, vf, vy, vx] = 0.0; }
                out[vn, vf, vy, vx] += pad[vn, vc, vy + vry, vx + vrx] * weight[vf, vc, vry, vrx];
            }
        }
    }
}
