//! `#[fast_math]` in the generated code: the bundled `softmax_fast` (the
//! `softmax` kernel with the attribute) calls the fast `exp` and multiplies
//! by one reciprocal per row, computed before the row's vector loop; the
//! exact `softmax` keeps the exact forms; the scalar code is the same for both.
//! (The results against the interpreter: `tuner/tests/fast_math_kernels.rs`.)

use kiln_ir::codegen::{emit_impl, pretty};
use kiln_ir::ir::PrimFunc;
use kiln_ir::parse::find_kernels_in_file;
use kiln_ir::space::{default_trace, SpaceOptions};
use kiln_ir::target::Isa;
use quote::format_ident;

fn kernel(src: &str) -> PrimFunc {
    find_kernels_in_file(src).unwrap().remove(0).unwrap().func
}

fn code(func: &PrimFunc, isa: Isa) -> String {
    let sch = default_trace(func, &SpaceOptions::new(isa)).unwrap();
    pretty(&emit_impl(sch.func(), isa, &format_ident!("kernel")))
}

#[test]
fn softmax_fast_uses_the_fast_forms() {
    let fast = kernel(include_str!("../../kernels/src/softmax_fast.rs"));
    assert!(fast.fast_math);
    for (isa, set1) in [(Isa::Avx2, "_mm256_set1_ps"), (Isa::Avx512, "_mm512_set1_ps")] {
        let c = code(&fast, isa);
        let flat: String = c.split_whitespace().collect();
        assert!(c.contains(&format!("::kiln::simd::exp_fast_{}(", isa.name())), "{isa:?}:\n{c}");
        assert!(!c.contains(&format!("::kiln::simd::exp_{}(", isa.name())), "{isa:?}:\n{c}");
        assert!(!c.contains("div_by_avx2") && !c.contains("_div_ps"), "{isa:?}:\n{c}");
        // One reciprocal per row, before the row's vector loop.
        let rcp = format!("let__rcp_0={set1}(1.0f32/(*expsum");
        let at = flat.find(&rcp).unwrap_or_else(|| panic!("{isa:?}:\n{c}"));
        let row_loop = &flat[at..];
        assert!(row_loop.starts_with(&format!("{rcp}.offset(i_3)));forj_1_0in0..")), "{isa:?}:\n{c}");
        assert!(row_loop.contains("_mul_ps(") && row_loop.contains("__rcp_0,"), "{isa:?}:\n{c}");
        assert_eq!(flat.matches("let__rcp_").count(), 1, "{isa:?}:\n{c}");
    }
}

#[test]
fn softmax_without_the_attribute_stays_exact() {
    let exact = kernel(include_str!("../../kernels/src/softmax.rs"));
    assert!(!exact.fast_math);
    let avx2 = code(&exact, Isa::Avx2);
    assert!(avx2.contains("::kiln::simd::exp_avx2(") && avx2.contains("::kiln::simd::div_by_avx2("), "{avx2}");
    assert!(!avx2.contains("_fast_") && !avx2.contains("__rcp_"), "{avx2}");
    let avx512 = code(&exact, Isa::Avx512);
    assert!(
        avx512.contains("::kiln::simd::exp_avx512(") && avx512.contains("::kiln::simd::div_by_avx512("),
        "{avx512}"
    );
    assert!(!avx512.contains("_fast_") && !avx512.contains("__rcp_"), "{avx512}");
    // The scalar code does not change under the attribute.
    let fast = kernel(include_str!("../../kernels/src/softmax_fast.rs"));
    assert_eq!(code(&fast, Isa::Scalar), code(&PrimFunc { fast_math: true, ..exact.clone() }, Isa::Scalar));
    assert_eq!(code(&exact, Isa::Scalar), code(&PrimFunc { fast_math: true, ..exact }, Isa::Scalar));
}
