//! A softmax over a symbolic number of rows whose length divides no vector
//! width (77: 9·8 + 5, 4·16 + 13): its row reductions and elementwise steps
//! read and write a parameter of `n` rows in vectors with masked tails, which
//! the bounds prover must show stay in their row. `codegen_isas.rs` runs its
//! generated code against the interpreter at several `n` on every ISA;
//! `tests/symbolic.rs` runs the macro's code at more.

use kiln::tensor_func;

tensor_func! {
    pub fn softmax_rows(x: [f32; n, 77], y: &mut [f32; n, 77])
    where
        n: dim(1..=512, tune = 16)
    {
        let m = alloc([f32; n]);
        let e = alloc([f32; n, 77]);
        let s = alloc([f32; n]);
        for (i, k) in grid(n, 77) {
            block("m") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { m[vi] = f32::NEG_INFINITY; }
                m[vi] = m[vi].max(x[vi, vk]);
            }
        }
        for (i, j) in grid(n, 77) {
            block("e") {
                let (vi, vj) = axis::remap("SS", (i, j));
                e[vi, vj] = (x[vi, vj] - m[vi]).exp();
            }
        }
        for (i, k) in grid(n, 77) {
            block("s") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { s[vi] = 0.0; }
                s[vi] = s[vi] + e[vi, vk];
            }
        }
        for (i, j) in grid(n, 77) {
            block("y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = e[vi, vj] / s[vi];
            }
        }
    }
}
