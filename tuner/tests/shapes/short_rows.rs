//! Rows shorter than a vector, whose default schedule fuses a row's loop
//! with the rows' loop into one run (`ir/src/space/elementwise.rs`): SiLU of
//! 300 rows of 5 (a math call in lockstep over the run), and a scale of
//! 6×4×5 (the two inner loops fused, 20 elements) and of 50×3×2 (all three
//! fused: 6 elements a row); the same over a symbolic number of rows
//! (`silu_n`, `affine_n`, `pairs_n` of `[n, 3, 2]`: the rows split by a lane
//! loop's worth, whose part inside a step is fused with the row's elements;
//! the last, partial step masked). Rows that end in a partial vector are
//! fused too: a batch normalization of 28×28 maps (`h, w` fused, 784
//! elements; `c` kept apart by `s[c]`), SiLU of rows of 20 (one run of 600),
//! a ReLU of 7×7 maps (`c, h, w` fused, 245). A per-column input read along
//! the run (`s[c]` of an RGB image) comes from a table of it repeated
//! (`ir/src/codegen/periodic.rs`): `rgb_silu` (`h, w, c` fused), `bias_rows`
//! (period 5), `rgb_n` (symbolic rows). `codegen_isas.rs` runs their
//! generated code against the interpreter on every ISA, the symbolic ones at
//! several `n`.

use kiln::tensor_func;

tensor_func! {
    pub fn silu_rows(x: [f32; 300, 5], y: &mut [f32; 300, 5]) {
        for (i, j) in grid(300, 5) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * x[vi, vj].sigmoid();
            }
        }
    }
}

tensor_func! {
    pub fn scale_rows(x: [f32; 6, 4, 5], y: &mut [f32; 6, 4, 5]) {
        for (i, j, k) in grid(6, 4, 5) {
            block("y") {
                let (vi, vj, vk) = axis::remap("SSS", (i, j, k));
                y[vi, vj, vk] = x[vi, vj, vk] * 3.0 + 1.0;
            }
        }
    }
}

tensor_func! {
    pub fn silu_n(x: [f32; n, 5], y: &mut [f32; n, 5])
    where
        n: dim(1..=1000, tune = 40)
    {
        for (i, j) in grid(n, 5) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * x[vi, vj].sigmoid();
            }
        }
    }
}

tensor_func! {
    pub fn affine_n(x: [f32; n, 3], y: &mut [f32; n, 3])
    where
        n: dim(1..=1000, tune = 9)
    {
        for (i, j) in grid(n, 3) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * 3.0 - 1.0;
            }
        }
    }
}

tensor_func! {
    pub fn scale3(x: [f32; 50, 3, 2], y: &mut [f32; 50, 3, 2]) {
        for (i, j, k) in grid(50, 3, 2) {
            block("y") {
                let (vi, vj, vk) = axis::remap("SSS", (i, j, k));
                y[vi, vj, vk] = x[vi, vj, vk] * 3.0 + 1.0;
            }
        }
    }
}

tensor_func! {
    pub fn pairs_n(x: [f32; n, 3, 2], y: &mut [f32; n, 3, 2])
    where
        n: dim(1..=1000, tune = 11)
    {
        for (i, j, k) in grid(n, 3, 2) {
            block("y") {
                let (vi, vj, vk) = axis::remap("SSS", (i, j, k));
                y[vi, vj, vk] = x[vi, vj, vk].abs() - 0.5;
            }
        }
    }
}

tensor_func! {
    pub fn bn_maps(x: [f32; 2, 3, 28, 28], s: [f32; 3], b: [f32; 3], y: &mut [f32; 2, 3, 28, 28]) {
        for (n, c, h, w) in grid(2, 3, 28, 28) {
            block("y") {
                let (vn, vc, vh, vw) = axis::remap("SSSS", (n, c, h, w));
                y[vn, vc, vh, vw] = (x[vn, vc, vh, vw] * s[vc] + b[vc]).max(0.0);
            }
        }
    }
}

tensor_func! {
    pub fn silu20(x: [f32; 30, 20], y: &mut [f32; 30, 20]) {
        for (i, j) in grid(30, 20) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * x[vi, vj].sigmoid();
            }
        }
    }
}

tensor_func! {
    pub fn relu_maps(x: [f32; 2, 5, 7, 7], r: [f32; 2, 5, 7, 7], y: &mut [f32; 2, 5, 7, 7]) {
        for (n, c, h, w) in grid(2, 5, 7, 7) {
            block("y") {
                let (vn, vc, vh, vw) = axis::remap("SSSS", (n, c, h, w));
                y[vn, vc, vh, vw] = (x[vn, vc, vh, vw] + r[vn, vc, vh, vw]).max(0.0);
            }
        }
    }
}

tensor_func! {
    pub fn rgb_silu(x: [f32; 20, 7, 3], s: [f32; 3], b: [f32; 3], y: &mut [f32; 20, 7, 3]) {
        for (h, w, c) in grid(20, 7, 3) {
            block("y") {
                let (vh, vw, vc) = axis::remap("SSS", (h, w, c));
                y[vh, vw, vc] = (x[vh, vw, vc] * s[vc] + b[vc]).sigmoid() * x[vh, vw, vc];
            }
        }
    }
}

tensor_func! {
    pub fn bias_rows(x: [f32; 300, 5], b: [f32; 5], y: &mut [f32; 300, 5]) {
        for (i, j) in grid(300, 5) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] + b[vj];
            }
        }
    }
}

tensor_func! {
    pub fn rgb_n(x: [f32; n, 3], m: [f32; 3], s: [f32; 3], y: &mut [f32; n, 3])
    where
        n: dim(1..=1000, tune = 37)
    {
        for (i, c) in grid(n, 3) {
            block("y") {
                let (vi, vc) = axis::remap("SS", (i, c));
                y[vi, vc] = (x[vi, vc] - m[vc]) / s[vc];
            }
        }
    }
}
