//! The code generator's output: the expected intrinsics per ISA, and golden
//! snapshots of readable generated code.

use kiln_ir::codegen::{emit_impl, pretty};
use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::testing::kernel_in_file;
use kiln_ir::space::{default_trace, SpaceOptions};
use kiln_ir::target::Isa;
use quote::format_ident;

fn code(func: &PrimFunc, isa: Isa) -> String {
    pretty(&emit_impl(
        &default_trace(func, &SpaceOptions::new(isa)).unwrap().into_parts().0,
        isa,
        &format_ident!("kernel"),
    ))
}

#[test]
fn matmul_uses_the_isa_fma() {
    let f = kernel_in_file(include_str!("../../kernels/src/matmul.rs")).func;
    let avx512 = code(&f, Isa::Avx512);
    assert!(avx512.contains("_mm512_fmadd_ps"), "{avx512}");
    assert!(avx512.contains("#[target_feature(enable = \"avx512f,avx2,fma\")]"));
    let avx2 = code(&f, Isa::Avx2);
    assert!(avx2.contains("_mm256_fmadd_ps"), "{avx2}");
    assert!(avx2.contains("_mm256_broadcast_ss") || avx2.contains("_mm256_set1_ps"));
    assert!(!avx2.contains("_mm512"));
    let scalar = code(&f, Isa::Scalar);
    assert!(!scalar.contains("_mm"), "{scalar}");
}

#[test]
fn softmax_uses_the_vector_exp() {
    let f = kernel_in_file(include_str!("../../kernels/src/softmax.rs")).func;
    assert!(code(&f, Isa::Avx2).contains("::kiln::simd::exp_avx2"));
    assert!(code(&f, Isa::Avx512).contains("::kiln::simd::exp_avx512"));
}

#[test]
fn non_dividing_extents_get_masked_tails() {
    // 37 columns: four full vectors and a masked one of 5 lanes.
    let f = kernel_in_file(include_str!("../../kernels/src/matmul_odd.rs")).func;
    let avx2 = code(&f, Isa::Avx2);
    assert!(avx2.contains("_mm256_maskstore_ps") || avx2.contains("for j_1 in"), "{avx2}");
    let avx512 = code(&f, Isa::Avx512);
    assert!(avx512.contains("_mm512_mask_storeu_ps") || avx512.contains("for j_1 in"), "{avx512}");
}

#[test]
fn generated_code_snapshots() {
    let relu = kernel_in_file(include_str!("../../kernels/src/relu.rs")).func;
    insta::assert_snapshot!("relu_avx2", code(&relu, Isa::Avx2));
    insta::assert_snapshot!("relu_scalar", code(&relu, Isa::Scalar));
    let mm = kernel_in_file(include_str!("../../kernels/src/matmul.rs")).func;
    insta::assert_snapshot!("matmul_avx2", code(&mm, Isa::Avx2));
    let l0 = kernel_in_file(include_str!("../../kernels/src/linear0.rs")).func;
    insta::assert_snapshot!("linear0_avx512", code(&l0, Isa::Avx512));
}

#[test]
fn lane_predicates_give_masked_stores_to_parameters_only() {
    // 37 columns tiled as 5 vectors of 8 under a predicate `8·j0 + j1 < 37`:
    // the write-back to `c` is one masked vector with a runtime lane count;
    // the accumulator (a temporary, read back every k) stays lane by lane,
    // since a load cannot be forwarded from a masked store.
    let f = kernel_in_file(include_str!("../../kernels/src/matmul_odd.rs")).func;
    let trace = kiln_ir::trace::parse_trace_str(
        "b0 = sch.get_block(name=\"C\", func_name=\"main\")
l1, l2, l3 = sch.get_loops(block=b0)
l4, l5 = sch.split(loop=l2, factors=[None, 8], preserve_unit_iters=True)
sch.reorder(l1, l3, l4, l5)
b6 = sch.cache_write(block=b0, write_buffer_index=0, storage_scope=\"local\")
sch.reverse_compute_at(block=b6, loop=l1, preserve_unit_loops=True, index=-1)
sch.vectorize(loop=l5)
l7, l8, l9 = sch.get_loops(block=b6)
l10, l11 = sch.split(loop=l9, factors=[None, 8], preserve_unit_iters=True)
sch.vectorize(loop=l11)",
    )
    .unwrap();
    let sch = kiln_ir::schedule::Schedule::replay(&f, &trace, 0, kiln_ir::schedule::DecisionMode::Strict).unwrap();
    let code = pretty(&emit_impl(sch.func(), Isa::Avx2, &format_ident!("kernel")));
    let writeback = code.split("for k").last().unwrap();
    assert!(code.contains("avx2_lane_mask32(__lanes)"), "{code}");
    assert!(writeback.contains("_mm256_maskstore_ps(\n"), "{code}");
    let flat: String = code.split_whitespace().collect();
    assert!(!flat.contains("_mm256_maskstore_ps(c_local"), "{code}");
    assert!(flat.contains("_mm256_maskstore_ps(c.offset"), "{code}");
}
