//! Reductions whose init is not the identity of their operator, which
//! `rfactor` splits into partial results starting from the identity and a
//! write-back starting from the init: the largest magnitude of a matrix
//! (`max` from 0, over both axes) and a matrix-vector product plus a bias
//! written as the init; a row sum rescaled in place by a second block
//! (two writers of the output, the second in a nest of its own); and a
//! residual `b − A·x` written as a reduction by subtraction from `b` (a sum
//! of negated terms for `rfactor`).
//! `codegen_isas.rs` runs their generated code against the interpreter on
//! every ISA.

use kiln::tensor_func;

tensor_func! {
    pub fn max_abs(x: [f32; 24, 100], y: &mut [f32; 1]) {
        for (i, k) in grid(24, 100) {
            block("m") {
                let (vi, vk) = axis::remap("RR", (i, k));
                init { y[0] = 0.0; }
                y[0] = y[0].max(x[vi, vk].abs());
            }
        }
    }
}

tensor_func! {
    pub fn gemv_bias(w: [f32; 30, 100], x: [f32; 100], b: [f32; 30], y: &mut [f32; 30]) {
        for (i, k) in grid(30, 100) {
            block("y") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { y[vi] = b[vi]; }
                y[vi] = y[vi] + w[vi, vk] * x[vk];
            }
        }
    }
}

tensor_func! {
    pub fn mean_rows(x: [f32; 12, 100], y: &mut [f32; 12]) {
        for (i, k) in grid(12, 100) {
            block("s") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { y[vi] = 0.0; }
                y[vi] = y[vi] + x[vi, vk];
            }
        }
        for i in grid(12) {
            block("mean") {
                let vi = axis::spatial(12, i);
                y[vi] = y[vi] / 100.0;
            }
        }
    }
}

tensor_func! {
    pub fn residual(a: [f32; 30, 100], x: [f32; 100], b: [f32; 30], r: &mut [f32; 30]) {
        for (i, k) in grid(30, 100) {
            block("r") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { r[vi] = b[vi]; }
                r[vi] = r[vi] - a[vi, vk] * x[vk];
            }
        }
    }
}
