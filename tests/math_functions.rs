//! The math functions through `tensor_func!`, on every ISA this CPU runs:
//! the scalar code computes exactly what the interpreter computes (`tanh`,
//! `sigmoid`, `ln` of `f32` through `f64`, `rsqrt` as `1/sqrt`), the vector
//! code is within one ulp of it (`rsqrt` exactly), over arguments from −120
//! to 120 (the functions' slow paths, saturation, overflow, subnormal
//! results) on a shape no vector width divides.

use kiln::{tensor_func, Isa};

tensor_func! {
    /// One slice of `o` per function of `a`.
    pub fn math(a: [f32; 4, 75], o: &mut [f32; 5, 4, 75]) {
        for (i, j) in grid(4, 75) {
            block("T") {
                let (vi, vj) = axis::remap("SS", (i, j));
                o[0, vi, vj] = a[vi, vj].tanh();
            }
        }
        for (i, j) in grid(4, 75) {
            block("S") {
                let (vi, vj) = axis::remap("SS", (i, j));
                o[1, vi, vj] = a[vi, vj].sigmoid();
            }
        }
        for (i, j) in grid(4, 75) {
            block("L") {
                let (vi, vj) = axis::remap("SS", (i, j));
                o[2, vi, vj] = a[vi, vj].ln();
            }
        }
        for (i, j) in grid(4, 75) {
            block("R") {
                let (vi, vj) = axis::remap("SS", (i, j));
                o[3, vi, vj] = a[vi, vj].rsqrt();
            }
        }
        for (i, j) in grid(4, 75) {
            block("E") {
                let (vi, vj) = axis::remap("SS", (i, j));
                o[4, vi, vj] = a[vi, vj].exp();
            }
        }
    }
}

/// What the interpreter computes.
fn reference(a: &[f32]) -> Vec<f32> {
    let f64s: [fn(f64) -> f64; 3] = [f64::tanh, |x| 1.0 / (1.0 + (-x).exp()), f64::ln];
    let mut o: Vec<f32> = f64s.iter().flat_map(|f| a.iter().map(|x| f(*x as f64) as f32)).collect();
    o.extend(a.iter().map(|x| 1.0 / x.sqrt()));
    o.extend(a.iter().map(|x| x.exp()));
    o
}

/// Distance in representable floats (0 for equal values or two NaNs).
fn ulps(a: f32, b: f32) -> u32 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u32::MAX };
    }
    let key = |x: f32| if x.to_bits() >> 31 == 1 { -((x.to_bits() & 0x7fff_ffff) as i64) } else { x.to_bits() as i64 };
    (key(a) - key(b)).unsigned_abs() as u32
}

#[test]
fn every_isa_computes_the_interpreters_results() {
    let mut a: Vec<f32> = (0..300).map(|k| (k as f32 - 150.0) * 0.8 + 0.013 * k as f32).collect();
    a[..8].copy_from_slice(&[0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40, -1e-40, 88.7]);
    let want = reference(&a);
    for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
        let mut o = vec![0f32; 5 * 300];
        if try_math_on(isa, &a, &mut o).is_err() {
            continue;
        }
        for (k, (g, w)) in o.iter().zip(&want).enumerate() {
            let (f, x) = (["tanh", "sigmoid", "ln", "rsqrt", "exp"][k / 300], a[k % 300]);
            let allowed = if isa == Isa::Scalar || f == "rsqrt" { 0 } else { 1 };
            assert!(ulps(*g, *w) <= allowed, "{isa}: {f}({x:e}) = {g:e}, the interpreter gives {w:e}");
        }
    }
}
