//! The functions `tensor_func!` emits for a kernel `NAME`: `NAME` (panics on a
//! wrong slice length), `try_NAME` (returns the error) and `try_NAME_on(isa, ..)`
//! (one ISA's code; an error if this CPU cannot run it).

use kiln::{tensor_func, Error, Isa};

tensor_func! {
    /// C = A·B + D, with a 3×5 · 5×2 product (nothing divides the vector width).
    pub fn mm_add(a: [f32; 3, 5], b: [f32; 5, 2], d: [f32; 3, 2], c: &mut [f32; 3, 2]) {
        for (i, j, k) in grid(3, 2, 5) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = d[vi, vj]; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
}

fn inputs() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let a: Vec<f32> = (0..15).map(|x| x as f32 * 0.5 - 3.0).collect();
    let b: Vec<f32> = (0..10).map(|x| 1.0 - x as f32 * 0.25).collect();
    let d: Vec<f32> = (0..6).map(|x| x as f32).collect();
    (a, b, d)
}

fn reference(a: &[f32], b: &[f32], d: &[f32]) -> Vec<f32> {
    let mut c = d.to_vec();
    for i in 0..3 {
        for j in 0..2 {
            for k in 0..5 {
                c[i * 2 + j] += a[i * 5 + k] * b[k * 2 + j];
            }
        }
    }
    c
}

fn assert_close(got: &[f32], want: &[f32]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{got:?} != {want:?}");
    }
}

#[test]
fn name_computes() {
    let (a, b, d) = inputs();
    let mut c = vec![f32::NAN; 6];
    mm_add(&a, &b, &d, &mut c);
    assert_close(&c, &reference(&a, &b, &d));
}

#[test]
fn try_name_reports_the_parameter_and_the_expected_length() {
    let (a, b, d) = inputs();
    let mut c = vec![0.0; 6];
    let err = try_mm_add(&a, &b[..9], &d, &mut c).unwrap_err();
    assert_eq!(err, Error::Shape { kernel: "mm_add", param: "b", declared: "[f32; 5, 2]", expected: 10, actual: 9 });
    assert_eq!(err.to_string(), "mm_add: `b` has 9 elements but is declared [f32; 5, 2], which needs 10");
    // Too long is as wrong as too short, for outputs too; nothing is written.
    let mut long = vec![7.0; 7];
    let err = try_mm_add(&a, &b, &d, &mut long).unwrap_err();
    assert_eq!(err.to_string(), "mm_add: `c` has 7 elements but is declared [f32; 3, 2], which needs 6");
    assert!(long.iter().all(|x| *x == 7.0));
    // The first wrong parameter is the one reported.
    let err = try_mm_add(&[], &[], &d, &mut c).unwrap_err();
    assert!(matches!(err, Error::Shape { param: "a", expected: 15, actual: 0, .. }), "{err:?}");
    try_mm_add(&a, &b, &d, &mut c).unwrap();
    assert_close(&c, &reference(&a, &b, &d));
}

#[test]
fn name_panics_with_the_same_message() {
    let (a, b, d) = inputs();
    let mut c = vec![0.0; 6];
    let panic = std::panic::catch_unwind(move || mm_add(&a, &b, &d[..5], &mut c)).unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert_eq!(msg, "mm_add: `d` has 5 elements but is declared [f32; 3, 2], which needs 6");
}

#[test]
fn try_name_on_runs_each_supported_isa_and_refuses_the_others() {
    let (a, b, d) = inputs();
    let want = reference(&a, &b, &d);
    for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
        let mut c = vec![f32::NAN; 6];
        let r = try_mm_add_on(isa, &a, &b, &d, &mut c);
        if kiln::runtime::supported(isa) {
            r.unwrap_or_else(|e| panic!("{isa}: {e}"));
            assert_close(&c, &want);
        } else {
            let err = r.unwrap_err();
            assert_eq!(err, Error::UnsupportedIsa { kernel: "mm_add", isa });
            assert_eq!(err.to_string(), format!("mm_add: this CPU does not support {isa}"));
            assert!(c.iter().all(|x| x.is_nan()), "nothing is written");
        }
    }
    // Lengths are checked before the ISA.
    let err = try_mm_add_on(Isa::Avx512, &a, &b, &d, &mut [0.0; 5]).unwrap_err();
    assert!(matches!(err, Error::Shape { param: "c", .. }), "{err:?}");
}

// Names that the emitted code also uses must not clash with it: a parameter
// named `isa` (the first parameter of `try_NAME_on`), a kernel named like
// the runtime, parameters named like its locals.
mod awkward_names {
    use kiln::tensor_func;

    tensor_func! {
        pub fn kiln(isa: [f32; 4], e: [f32; 4], len: &mut [f32; 4]) {
            for i in 0..4 {
                block("Ok") {
                    let vi = axis::spatial(4, i);
                    len[vi] = isa[vi] * e[vi];
                }
            }
        }
    }

    #[test]
    fn compile_and_run() {
        let mut out = [0.0; 4];
        kiln(&[1.0, 2.0, 3.0, 4.0], &[2.0; 4], &mut out);
        assert_eq!(out, [2.0, 4.0, 6.0, 8.0]);
        try_kiln_on(::kiln::Isa::Scalar, &[1.0; 4], &[3.0; 4], &mut out).unwrap();
        assert_eq!(out, [3.0; 4]);
    }
}
