//! Kernels of shapes no bundled kernel has, whose default schedules take
//! paths of their own (`ir/src/space/`): a transposed read (row tiles; also
//! of a temporary, whose producer the samples may move into the tiles), a
//! column sum (a row of accumulators, no copy), a division by a power of two
//! (a product), a temporary of long rows (padded to whole vectors).
//! `codegen_isas.rs` runs their generated code against the interpreter on
//! every ISA, at sizes that do not divide the vector widths.

use kiln::tensor_func;

tensor_func! {
    pub fn transpose(x: [f32; 40, 48], y: &mut [f32; 48, 40]) {
        for (i, j) in grid(48, 40) {
            block("T") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vj, vi];
            }
        }
    }
}

tensor_func! {
    pub fn transpose_scaled(x: [f32; 40, 48], y: &mut [f32; 48, 40]) {
        let t = alloc([f32; 40, 48]);
        for (i, j) in grid(40, 48) {
            block("S") {
                let (vi, vj) = axis::remap("SS", (i, j));
                t[vi, vj] = x[vi, vj] * 2.0 + 1.0;
            }
        }
        for (i, j) in grid(48, 40) {
            block("T") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = t[vj, vi];
            }
        }
    }
}

tensor_func! {
    pub fn colsum(x: [f32; 24, 1000], y: &mut [f32; 1000]) {
        for (i, j) in grid(24, 1000) {
            block("S") {
                let (vi, vj) = axis::remap("RS", (i, j));
                init { y[vj] = 0.0; }
                y[vj] += x[vi, vj];
            }
        }
    }
}

tensor_func! {
    pub fn center(x: [f32; 16, 100], y: &mut [f32; 16, 100]) {
        let mean = alloc([f32; 100]);
        for (i, j) in grid(16, 100) {
            block("mean") {
                let (vi, vj) = axis::remap("RS", (i, j));
                init { mean[vj] = 0.0; }
                mean[vj] += x[vi, vj] / 16.0;
            }
        }
        for (i, j) in grid(16, 100) {
            block("c") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] - mean[vj];
            }
        }
    }
}

tensor_func! {
    /// A temporary of long rows (300 columns: 18 vectors of 16 and 12
    /// lanes) is stored with rows of 304: its producer's last vector of a
    /// row is a whole one whose switched-off lanes land in the padding, and
    /// the reduction and the division read it.
    pub fn long_rows(x: [f32; 40, 300], y: &mut [f32; 40, 300]) {
        let t = alloc([f32; 40, 300]);
        let s = alloc([f32; 40]);
        for (i, j) in grid(40, 300) {
            block("t") {
                let (vi, vj) = axis::remap("SS", (i, j));
                t[vi, vj] = (x[vi, vj] * 0.5).exp();
            }
        }
        for (i, j) in grid(40, 300) {
            block("s") {
                let (vi, vj) = axis::remap("SR", (i, j));
                init { s[vi] = 0.0; }
                s[vi] += t[vi, vj];
            }
        }
        for (i, j) in grid(40, 300) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = t[vi, vj] / s[vi];
            }
        }
    }
}
