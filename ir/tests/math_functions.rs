//! The math functions `tanh`, `sigmoid`, `ln` and `rsqrt` through the layers
//! below the runtime: parsed (method and function forms), printed in
//! TVMScript's names, interpreted (the reference: `f32` through `f64` and one
//! rounding, `rsqrt` as `1/sqrt` in the operand's type), counted as FLOPs,
//! and emitted as scalar code (the interpreter's expressions) and vector code
//! (`kiln::simd`'s functions, `rsqrt` as a division of a square root).

use kiln_ir::codegen::{emit_impl, pretty, vectorization_report, ScalarReason};
use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::{flops, func_to_string, PrimFunc};
use kiln_ir::space::{default_trace, SpaceOptions};
use kiln_ir::target::Isa;
use quote::format_ident;

/// `c[i] = <f>(a[i])` over `n` elements of `dtype`.
fn kernel(f: &str, dtype: &str, n: usize) -> PrimFunc {
    let src = format!(
        "fn k(a: [{dtype}; {n}], c: &mut [{dtype}; {n}]) {{
            for i in 0..{n} {{
                block(\"C\") {{
                    let vi = axis::spatial({n}, i);
                    c[vi] = {f};
                }}
            }}
        }}"
    );
    kiln_ir::parse::parse_kernel_str(&src).unwrap_or_else(|e| panic!("{f}: {e}")).func
}

fn run_f32(f: &str, xs: &[f32]) -> Vec<f32> {
    let func = kernel(f, "f32", xs.len());
    let mut args = vec![Tensor::F32(xs.to_vec()), Tensor::F32(vec![0.0; xs.len()])];
    interp::run(&func, &mut args).unwrap();
    args[1].as_f32().unwrap().to_vec()
}

fn same(got: &[f32], want: &[f32]) {
    for (g, w) in got.iter().zip(want) {
        assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "got {got:?}, expected {want:?}");
    }
}

const XS: [f32; 10] = [0.0, -0.0, 0.3, -2.5, 17.0, -100.0, 100.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];

#[test]
fn the_interpreter_rounds_the_f64_result_once() {
    let each = |f: fn(f64) -> f64| XS.iter().map(|x| f(*x as f64) as f32).collect::<Vec<f32>>();
    same(&run_f32("a[vi].tanh()", &XS), &each(f64::tanh));
    same(&run_f32("tanh(a[vi])", &XS), &each(f64::tanh));
    same(&run_f32("f32::sigmoid(a[vi])", &XS), &each(|x| 1.0 / (1.0 + (-x).exp())));
    same(&run_f32("a[vi].ln()", &XS), &each(f64::ln));
    // rsqrt: two f32 roundings, not one.
    same(&run_f32("a[vi].rsqrt()", &XS), &XS.map(|x| 1.0 / x.sqrt()));
    let two_roundings = run_f32("a[vi].rsqrt()", &[3.0])[0];
    assert_eq!(two_roundings, 1.0 / 3.0f32.sqrt());
}

#[test]
fn special_values() {
    let s = run_f32("a[vi].sigmoid()", &[-100.0, 100.0, -200.0, 0.0]);
    assert!(s[0] > 0.0 && s[0] < 1e-43, "sigmoid(-100) = {}", s[0]);
    assert_eq!(&s[1..], &[1.0, 0.0, 0.5]);
    assert_eq!(run_f32("a[vi].tanh()", &[20.0, -20.0]), [1.0, -1.0]);
    let l = run_f32("a[vi].ln()", &[0.0, -1.0, 1.0, f32::INFINITY]);
    assert_eq!(l[0], f32::NEG_INFINITY);
    assert!(l[1].is_nan());
    assert_eq!(&l[2..], &[0.0, f32::INFINITY]);
    assert_eq!(run_f32("a[vi].rsqrt()", &[0.0, 4.0]), [f32::INFINITY, 0.5]);
}

#[test]
fn f64_operands_compute_in_f64() {
    let func =
        kernel("a[vi].tanh() + a[vi].sigmoid() + (a[vi].abs() + 1.0).ln() + (a[vi].abs() + 1.0).rsqrt()", "f64", 2);
    let mut args = vec![Tensor::F64(vec![0.5, -3.0]), Tensor::F64(vec![0.0; 2])];
    interp::run(&func, &mut args).unwrap();
    let want = |x: f64| x.tanh() + 1.0 / (1.0 + (-x).exp()) + (x.abs() + 1.0).ln() + 1.0 / (x.abs() + 1.0).sqrt();
    assert_eq!(args[1], Tensor::F64(vec![want(0.5), want(-3.0)]));
}

#[test]
fn printed_with_tvmscript_names_and_counted() {
    let func = kernel("a[vi].tanh() + a[vi].sigmoid() + a[vi].ln() * a[vi].rsqrt()", "f32", 4);
    let text = func_to_string(&func);
    for name in ["T.tanh(a[vi])", "T.sigmoid(a[vi])", "T.log(a[vi])", "T.rsqrt(a[vi])"] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    assert_eq!(flops(&func), 4 * 7);
}

fn scheduled(func: &PrimFunc, isa: Isa) -> PrimFunc {
    default_trace(func, &SpaceOptions::new(isa)).unwrap().into_parts().0
}

fn code(func: &PrimFunc, isa: Isa) -> String {
    pretty(&emit_impl(&scheduled(func, isa), isa, &format_ident!("k")))
}

#[test]
fn vector_code_calls_the_runtime_and_scalar_code_computes_as_the_interpreter() {
    for (f, avx2, avx512) in [
        ("a[vi].tanh()", "::kiln::simd::tanh_avx2(", "::kiln::simd::tanh_avx512("),
        ("a[vi].sigmoid()", "::kiln::simd::sigmoid_avx2(", "::kiln::simd::sigmoid_avx512("),
        ("a[vi].ln()", "::kiln::simd::ln_avx2(", "::kiln::simd::ln_avx512("),
        (
            "a[vi].rsqrt()",
            "_mm256_div_ps(_mm256_set1_ps(1.0), _mm256_sqrt_ps(",
            "_mm512_div_ps(_mm512_set1_ps(1.0), _mm512_sqrt_ps(",
        ),
    ] {
        // 37 elements: full vectors and a masked tail.
        let func = kernel(f, "f32", 37);
        let flat = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(");
        let (c2, c512) = (flat(code(&func, Isa::Avx2)), flat(code(&func, Isa::Avx512)));
        assert!(c2.contains(avx2), "{f}:\n{c2}");
        assert!(c512.contains(avx512), "{f}:\n{c512}");
        assert!(vectorization_report(&scheduled(&func, Isa::Avx2), Isa::Avx2).is_empty(), "{f}");
    }
    let scalar = code(&kernel("a[vi].tanh() + a[vi].sigmoid() + a[vi].ln() + a[vi].rsqrt()", "f32", 4), Isa::Scalar);
    for expr in ["as f64).tanh() as f32", "(1.0 / (1.0 + (-(", "as f64).ln() as f32", "(1.0 / "] {
        assert!(scalar.contains(expr), "{expr} in\n{scalar}");
    }
}

#[test]
fn f64_vectors_have_rsqrt_only() {
    let rsqrt = kernel("a[vi].rsqrt()", "f64", 16);
    assert!(vectorization_report(&scheduled(&rsqrt, Isa::Avx2), Isa::Avx2).is_empty());
    assert!(code(&rsqrt, Isa::Avx2).contains("_mm256_sqrt_pd"));
    for f in ["a[vi].tanh()", "a[vi].sigmoid()", "a[vi].ln()"] {
        let report = vectorization_report(&scheduled(&kernel(f, "f64", 16), Isa::Avx2), Isa::Avx2);
        assert!(matches!(report.as_slice(), [(_, ScalarReason::NoVectorForm { .. })]), "{f}: {report:?}");
    }
}
