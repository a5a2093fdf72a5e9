//! The code generator's output: the expected intrinsics per ISA, and golden
//! snapshots of readable generated code.

use kiln_ir::codegen::{emit_impl, emit_impl_with, pretty, vectorization_report, CodegenOptions, ScalarReason};
use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::testing::kernel_in_file;
use kiln_ir::space::{default_trace, SpaceOptions};
use kiln_ir::target::Isa;
use quote::format_ident;

fn default_schedule(func: &PrimFunc, isa: Isa) -> PrimFunc {
    default_trace(func, &SpaceOptions::new(isa)).unwrap().into_parts().0
}

fn kernel(src: &str) -> PrimFunc {
    kernel_in_file(src).func
}

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

fn bundled() -> Vec<PrimFunc> {
    [
        include_str!("../../kernels/src/conv2d.rs"),
        include_str!("../../kernels/src/linear.rs"),
        include_str!("../../kernels/src/linear0.rs"),
        include_str!("../../kernels/src/linear1.rs"),
        include_str!("../../kernels/src/matmul.rs"),
        include_str!("../../kernels/src/matmul_odd.rs"),
        include_str!("../../kernels/src/relu.rs"),
        include_str!("../../kernels/src/rmsnorm.rs"),
        include_str!("../../kernels/src/layernorm.rs"),
        include_str!("../../kernels/src/gelu.rs"),
        include_str!("../../kernels/src/bias_gelu.rs"),
        include_str!("../../kernels/src/softmax.rs"),
        include_str!("../../kernels/src/softmax_fast.rs"),
        include_str!("../../kernels/src/gelu_fast.rs"),
    ]
    .into_iter()
    .map(kernel)
    .collect()
}

fn code_with(func: &PrimFunc, isa: Isa, opts: &CodegenOptions) -> String {
    pretty(&emit_impl_with(&default_schedule(func, isa), isa, &format_ident!("kernel"), opts))
}

#[test]
fn default_options_are_what_the_macro_emits() {
    for f in bundled() {
        for isa in Isa::ALL {
            assert_eq!(code_with(&f, isa, &CodegenOptions::default()), code(&f, isa), "{} {isa:?}", f.name);
        }
    }
}

#[test]
fn check_all_accesses_leaves_no_access_unchecked() {
    for f in bundled() {
        for isa in Isa::ALL {
            let checked = code_with(&f, isa, &CodegenOptions::checked());
            let plain = code(&f, isa);
            // Every `p.offset(i)` of the plain code is an unchecked access.
            assert!(plain.contains(".offset("), "{} {isa:?}", f.name);
            assert!(!checked.contains(".offset("), "{} {isa:?}:\n{checked}", f.name);
            let stores = |s: &str| s.matches(" = ").count() + s.matches("storeu_p").count();
            let checked_stores = |s: &str| s.matches("checked_mut(").count() + s.matches("checked_lanes_mut(").count();
            assert!(checked_stores(&checked) > 0 && checked_stores(&checked) <= stores(&plain), "{} {isa:?}", f.name);
            // Vector accesses check their lanes, masked ones their active lanes.
            let vector = ["loadu_p", "storeu_p", "maskload_p", "maskstore_p"].iter().any(|op| plain.contains(op));
            assert_eq!(vector, checked.contains("::kiln::runtime::checked_lanes"), "{} {isa:?}", f.name);
            // The same loops are vectorized (blocks transposed in registers,
            // a plain-mode path, load rows where the checked code gathers).
            let intrinsics = |s: &str| s.matches("_mm").count();
            if !plain.contains("::kiln::simd::transpose8") {
                assert_eq!(intrinsics(&plain), intrinsics(&checked), "{} {isa:?}", f.name);
            }
        }
    }
    let odd = kernel(include_str!("../../kernels/src/matmul_odd.rs"));
    let flat: String = code_with(&odd, Isa::Avx512, &CodegenOptions::checked()).split_whitespace().collect();
    // 37 columns: a masked store checks its active lanes.
    assert!(flat.contains("_mm512_mask_storeu_ps(::kiln::runtime::checked_lanes_mut(c,"), "{flat}");
    assert!(flat.contains(",__lanes,3700,\"c\""), "{flat}");
}

#[test]
fn emulated_code_runs_on_the_emulation_module() {
    let softmax = kernel(include_str!("../../kernels/src/softmax.rs"));
    let emu = CodegenOptions::emulated("crate::emu512");
    let c = code_with(&softmax, Isa::Avx512, &emu);
    assert!(c.contains("use crate::emu512::*;"), "{c}");
    assert!(c.contains("crate::emu512::exp_avx512("), "{c}");
    for absent in ["::core::arch", "::kiln::simd", "target_feature", "cfg(target_arch"] {
        assert!(!c.contains(absent), "{absent}:\n{c}");
    }
    // The same code otherwise.
    let native = code(&softmax, Isa::Avx512)
        .replace("#[cfg(target_arch = \"x86_64\")]", "")
        .replace("#[target_feature(enable = \"avx512f,avx2,fma\")]", "")
        .replace("::core::arch::x86_64", "crate::emu512")
        .replace("::kiln::simd", "crate::emu512");
    let flat = |s: &str| s.split_whitespace().collect::<String>();
    // Native code also keeps its frame 64-byte aligned (for its register spills).
    let frame = "#[repr(align(64))]struct__KilnFrameAlign([u8;64]);\
                 letmut__kiln_frame=::core::mem::MaybeUninit::<__KilnFrameAlign>::uninit();\
                 ::core::hint::black_box(&mut__kiln_frame);";
    assert!(flat(&native).contains(frame), "{native}");
    assert_eq!(flat(&native).replace(frame, ""), flat(&c));
    // AVX2's lane masks come from the module too; scalar code has nothing to emulate.
    let odd = kernel(include_str!("../../kernels/src/matmul_odd.rs"));
    let c = code_with(&odd, Isa::Avx2, &CodegenOptions::emulated("crate::emu256"));
    assert!(c.contains("crate::emu256::avx2_lane_mask32("), "{c}");
    assert!(!c.contains("::kiln::runtime::avx2_lane_mask32"), "{c}");
    assert_eq!(code_with(&odd, Isa::Scalar, &emu), code(&odd, Isa::Scalar));
}

fn scheduled(src: &str, trace: &str) -> PrimFunc {
    let f = kernel(src);
    let trace = kiln_ir::trace::parse_trace_str(trace).unwrap();
    let sch = kiln_ir::schedule::Schedule::replay(&f, &trace, 0, kiln_ir::schedule::DecisionMode::Strict).unwrap();
    sch.into_parts().0
}

const TRANSPOSE: &str = "tensor_func! {
    pub fn transpose(a: [f32; 8, 16], b: &mut [f32; 16, 8]) {
        for (i, j) in grid(8, 16) {
            block(\"T\") {
                let (vi, vj) = axis::remap(\"SS\", (i, j));
                b[vj, vi] = a[vi, vj];
            }
        }
    }
}";

const VECTORIZE_J: &str = "b0 = sch.get_block(name=\"T\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
sch.vectorize(loop=l2)";

#[test]
fn vectorization_report_explains_scalar_loops() {
    // A transposed store is strided in the vectorized loop.
    let t = scheduled(TRANSPOSE, VECTORIZE_J);
    let r = vectorization_report(&t, Isa::Avx2);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0.name(), "j");
    assert_eq!(r[0].1.to_string(), "store to `b` (block `T`) is not contiguous in `j` (stride 8)");
    assert!(!pretty(&emit_impl(&t, Isa::Avx2, &format_ident!("kernel"))).contains("_mm"));
    // On the scalar target, every vectorized loop is scalar.
    assert_eq!(vectorization_report(&t, Isa::Scalar), vec![(r[0].0.clone(), ScalarReason::ScalarIsa)]);
    // Integers have no vectors.
    let copy = TRANSPOSE.replace("f32", "i32").replace("b[vj, vi]", "b[vi, vj]").replace("16, 8]", "8, 16]");
    let r = vectorization_report(&scheduled(&copy, VECTORIZE_J), Isa::Avx512);
    assert!(matches!(&r[..], [(_, ScalarReason::ElementType { dtype: kiln_ir::ir::DataType::I32, .. })]), "{r:?}");
    // The transposed copy in f32 vectorizes, and so do the default schedules of
    // the bundled kernels, but for conv2d's padding, whose guarded load
    // `data[.. (v2 - 1) ..]` a vector would read on every lane.
    let copy = TRANSPOSE.replace("b[vj, vi]", "b[vi, vj]").replace("16, 8]", "8, 16]");
    assert_eq!(vectorization_report(&scheduled(&copy, VECTORIZE_J), Isa::Avx2), vec![]);
    for f in bundled() {
        for isa in [Isa::Avx2, Isa::Avx512] {
            let r = vectorization_report(&default_schedule(&f, isa), isa);
            if f.name == "conv2d" {
                assert!(
                    matches!(&r[..], [(v, ScalarReason::NotInBounds { block, .. })] if v.name() == "i3_1" && block == "pad"),
                    "{r:?}"
                );
            } else {
                assert_eq!(r, vec![], "{} {isa:?}", f.name);
            }
        }
    }
}

/// A softmax over `n` rows of 77 (`tuner/tests/shapes/rows.rs`): its
/// default schedule works for every `n` (its whole temporaries of `n` rows
/// keep unpadded rows, so they are sized at run time) and vectorizes every
/// loop marked so on both ISAs — the vectors' masked tails in the rows of the
/// parameters are proven in bounds by the column's predicate.
///
/// So do rows shorter than a vector (`tuner/tests/shapes/short_rows.rs`),
/// fixed or symbolic: over symbolic rows the rows are split by a lane loop's
/// worth and fused with their elements; the last step's guard
/// `16·i0 + f // 5 < n` becomes the prefix condition `f + 80·i0 − 5·n < 0`,
/// so its vectors are masked, not scalar.
#[test]
fn rows_of_any_length_vectorize_under_a_symbolic_dimension() {
    let files =
        [include_str!("../../tuner/tests/shapes/rows.rs"), include_str!("../../tuner/tests/shapes/short_rows.rs")];
    for src in files {
        for k in kiln_ir::parse::find_kernels_in_file(src).unwrap() {
            let f = k.unwrap().func;
            for isa in [Isa::Avx2, Isa::Avx512] {
                let sched = default_schedule(&f, isa);
                kiln_ir::space::check_program(&sched, isa).unwrap();
                assert_eq!(vectorization_report(&sched, isa), vec![], "{} {isa:?}", f.name);
            }
        }
    }
}

/// A per-column input read along a fused run of rows shorter than a vector
/// (`s[c]`, `b[c]` of an RGB image, `[.., 7, 3]`): each vector's lanes are one
/// unaligned load from a table of the input repeated (`periodic.rs`), built
/// once at the top of the function — `p + lanes − 1` elements, the load at
/// the run's index modulo `p` — not a scalar loop.
#[test]
fn a_column_input_along_a_fused_run_loads_from_its_table() {
    let src = include_str!("../../tuner/tests/shapes/short_rows.rs");
    let f = kiln_ir::parse::find_kernels_in_file(src)
        .unwrap()
        .into_iter()
        .map(|k| k.unwrap().func)
        .find(|f| f.name == "rgb_silu")
        .unwrap();
    for (isa, lanes, len) in [(Isa::Avx2, 8, 10), (Isa::Avx512, 16, 18)] {
        let c = code(&f, isa);
        let flat: String = c.split_whitespace().collect();
        for input in ["s", "b"] {
            let decl = format!("let__kiln_tab_{input}_{lanes}:[f32;{len}]=::core::array::from_fn(|__kiln_m|unsafe{{*{input}.add(__kiln_m%3)}});");
            assert!(flat.contains(&decl), "{isa:?}: {decl}\n{c}");
            assert!(flat.contains(&format!("__kiln_tab_{input}_{lanes}.as_ptr().offset(")), "{isa:?}\n{c}");
        }
        // Declared once, before the loops.
        assert!(flat.find("from_fn").unwrap() < flat.find("for").unwrap(), "{isa:?}\n{c}");
        assert_eq!(vectorization_report(&default_schedule(&f, isa), isa), vec![], "{isa:?}");
    }
}

/// A lane loop of four vectors that calls `exp` (softmax's default on AVX2)
/// runs its copies in lockstep: every copy's argument first, one call of the
/// lockstep form, then the stores; the last, partial group of a row of 1000
/// goes vector by vector. Without a math call the copies stay one by one.
#[test]
fn vectors_calling_exp_run_in_lockstep() {
    let f = kernel_in_file(include_str!("../../kernels/src/softmax.rs")).func;
    let avx2 = code(&f, Isa::Avx2);
    let flat: String = avx2.split_whitespace().collect();
    assert!(
        flat.contains("let[__k0_2,__k1_2,__k2_2,__k3_2]=::kiln::simd::exp_avx2_n([__k0_1,__k1_1,__k2_1,__k3_1"),
        "{avx2}"
    );
    let call = flat.find("exp_avx2_n(").unwrap();
    let (before, after) = flat.split_at(call);
    // (`expv` lives in the output `y`, `in_place.rs`.)
    assert!(before.contains("let__k3_1=") && !before.contains("_mm256_storeu_ps(y"), "{avx2}");
    assert!(after.contains("_mm256_storeu_ps(y"), "{avx2}");
    // The group that runs past the row's 1000 columns: one vector at a time.
    assert!(flat.contains("::kiln::simd::exp_avx2(_mm256_sub_ps("), "{avx2}");
    // AVX-512's default computes softmax's `exp` in the loop of its row sum,
    // one vector at a time; a lane loop of four vectors there calls
    // `avx512_x4::exp`.
    assert!(!code(&f, Isa::Avx512).contains("__k0_"));
    let four = scheduled(
        "tensor_func! {
            pub fn expk(a: [f32; 4, 128], b: &mut [f32; 4, 128]) {
                for (i, j) in grid(4, 128) {
                    block(\"E\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        b[vi, vj] = a[vi, vj].exp();
                    }
                }
            }
        }",
        "b0 = sch.get_block(name=\"E\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
l3, l4 = sch.split(loop=l2, factors=[None, 64], preserve_unit_iters=True)
sch.vectorize(loop=l4)",
    );
    let avx512 = pretty(&emit_impl(&four, Isa::Avx512, &format_ident!("k")));
    assert!(
        avx512.split_whitespace().collect::<String>().contains("::kiln::simd::avx512_x4::exp([__k0_0,"),
        "{avx512}"
    );

    let doubled = scheduled(
        "tensor_func! {
            pub fn doubled(a: [f32; 4, 32], b: &mut [f32; 4, 32]) {
                for (i, j) in grid(4, 32) {
                    block(\"D\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        b[vi, vj] = a[vi, vj] * 2.0;
                    }
                }
            }
        }",
        "b0 = sch.get_block(name=\"D\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
sch.vectorize(loop=l2)",
    );
    assert!(!pretty(&emit_impl(&doubled, Isa::Avx2, &format_ident!("k"))).contains("__k0_"));
}

/// A temporary computed under its consumer's row loop (`compute_at`) is a
/// row long, and every row overwrites it before reading it: it is declared
/// once before the loop, not zeroed again at every row; under a parallel
/// loop, once at the top of the parallel body (each thread its own). A
/// reduction's partial sums (not overwritten: their first stage accumulates)
/// stay declared, and zeroed, in the loop.
#[test]
fn temporaries_overwritten_in_a_loop_are_declared_once_outside_it() {
    let src = "tensor_func! {
        pub fn rows(a: [f32; 4, 32], c: &mut [f32; 4, 32]) {
            let t = alloc([f32; 4, 32]);
            let s = alloc([f32; 4]);
            for (i, j) in grid(4, 32) {
                block(\"T\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    t[vi, vj] = a[vi, vj] * 2.0;
                }
            }
            for (i, k) in grid(4, 32) {
                block(\"S\") {
                    let (vi, vk) = axis::remap(\"SR\", (i, k));
                    init { s[vi] = 0.0; }
                    s[vi] += t[vi, vk];
                }
            }
            for (i, j) in grid(4, 32) {
                block(\"C\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    c[vi, vj] = t[vi, vj] + s[vi];
                }
            }
        }
    }";
    let fused = "b0 = sch.get_block(name=\"C\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
l3, l4 = sch.split(loop=l1, factors=[2, 2], preserve_unit_iters=True)
b5 = sch.get_block(name=\"S\", func_name=\"main\")
sch.compute_at(block=b5, loop=l4, preserve_unit_loops=True, index=-1)
b6 = sch.get_block(name=\"T\", func_name=\"main\")
sch.compute_at(block=b6, loop=l4, preserve_unit_loops=True, index=-1)";
    for parallel in [false, true] {
        let trace = if parallel { format!("{fused}\nsch.parallel(loop=l3)") } else { fused.to_string() };
        let c = pretty(&emit_impl(&scheduled(src, &trace), Isa::Avx2, &format_ident!("k")));
        let flat: String = c.split_whitespace().collect();
        let at = |s: &str| flat.find(s).unwrap_or_else(|| panic!("no {s} in {c}"));
        let (t, s) = (at("letmut__t_storage:[f32;32]=[0.0f32;32];"), at("letmut__s_storage:[f32;1]="));
        assert_eq!(flat.matches("letmut__t_storage").count(), 1, "{c}");
        // The top of the function, or of the parallel body (each thread its own).
        let top = if parallel { at("parallel_for(") + "parallel_for(".len() } else { 0 };
        let rows = top + flat[top..].find("fori_").expect(&c);
        assert!(top < t && t < rows && rows < s, "{c}");
    }
}

/// A vector divided by a constant power of two is multiplied by its
/// reciprocal (the same bits: `Const::exact_reciprocal`), not sent through
/// the shared-divisor division; other constants still divide exactly.
#[test]
fn division_by_a_power_of_two_is_a_product() {
    let src = |d: &str| {
        format!(
            "tensor_func! {{
                pub fn scale(a: [f32; 4, 32], c: &mut [f32; 4, 32]) {{
                    for (i, j) in grid(4, 32) {{
                        block(\"C\") {{
                            let (vi, vj) = axis::remap(\"SS\", (i, j));
                            c[vi, vj] = a[vi, vj] / {d};
                        }}
                    }}
                }}
            }}"
        )
    };
    for isa in [Isa::Avx2, Isa::Avx512] {
        let quarter = code(&kernel(&src("4.0")), isa);
        assert!(quarter.contains("_mul_ps") && quarter.contains("0.25f32"), "{quarter}");
        assert!(!quarter.contains("div"), "{quarter}");
        let third = code(&kernel(&src("3.0")), isa);
        assert!(third.contains("div"), "{third}");
    }
}

/// A transposed read tiled by 8 unrolled rows (the AVX2 default) loads 8
/// contiguous vectors per 8×8 block and transposes them in registers
/// instead of gathering lanes (`codegen/transpose.rs`); not in the
/// bounds-checked mode, nor on AVX-512 (gathers there).
#[test]
fn a_transposed_read_is_transposed_in_registers() {
    let f = kernel(
        "tensor_func! {
            pub fn transpose(x: [f32; 40, 48], y: &mut [f32; 48, 40]) {
                for (i, j) in grid(48, 40) {
                    block(\"T\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        y[vi, vj] = x[vj, vi] * 2.0;
                    }
                }
            }
        }",
    );
    let avx2 = code(&f, Isa::Avx2);
    assert_eq!(avx2.matches("::kiln::simd::transpose8_avx2(").count(), 1, "{avx2}");
    assert!(!avx2.contains("_mm256_setr_ps"), "{avx2}");
    let checked = code_with(&f, Isa::Avx2, &CodegenOptions { check_all_accesses: true, ..Default::default() });
    assert!(!checked.contains("transpose8") && checked.contains("_mm256_setr_ps"), "{checked}");
    assert!(!code(&f, Isa::Avx512).contains("transpose8"));
}

/// A row reduction whose rows are not whole vectors (300 = 18·16 + 12 =
/// 37·8 + 4) finishes each row with a whole-vector update of its partial
/// sums, the switched-off lanes blended back to the values they held,
/// instead of lane by lane (`vector.rs::tail_in_bounds`).
#[test]
fn a_reduction_tail_updates_its_accumulators_blended() {
    let f = kernel(
        "tensor_func! {
            pub fn rowsum(x: [f32; 40, 300], y: &mut [f32; 40]) {
                for (i, j) in grid(40, 300) {
                    block(\"S\") {
                        let (vi, vj) = axis::remap(\"SR\", (i, j));
                        init { y[vi] = 0.0; }
                        y[vi] += x[vi, vj];
                    }
                }
            }
        }",
    );
    let avx512 = code(&f, Isa::Avx512);
    assert!(avx512.contains("_mm512_mask_blend_ps") && avx512.contains("_mm512_maskz_loadu_ps"), "{avx512}");
    // The row tiles and the vectors of a row: no loop over the tail's lanes.
    assert_eq!(avx512.matches("for ").count(), 2, "{avx512}");
    let avx2 = code(&f, Isa::Avx2);
    assert!(avx2.contains("_mm256_blendv_ps") && avx2.contains("avx2_lane_mask32"), "{avx2}");
}

/// The default schedule of a `Linear` layer (`x·Wᵀ`) packs `W` into panels
/// whose lanes run along its rows: the packing copy's loop over `W`'s
/// contiguous columns is unrolled by 8 and each 8-column block of the lanes'
/// rows is transposed in registers (AVX2: 8×8; AVX-512: 16×8 as two 8×8
/// halves) instead of gathering every lane (`space/packing.rs`,
/// `codegen/transpose.rs`).
#[test]
fn the_packing_copy_of_w_transposes_in_registers() {
    let f = kernel_in_file(include_str!("../../kernels/src/linear.rs")).func;
    let avx512 = code(&f, Isa::Avx512);
    assert!(avx512.contains("::kiln::simd::transpose8x16_avx512("), "{avx512}");
    let avx2 = code(&f, Isa::Avx2);
    assert!(avx2.contains("::kiln::simd::transpose8_avx2("), "{avx2}");
}

/// A lane loop annotated `kiln.divider = d` holds `d` vectors, and the last
/// of each `d` divides with the ISA's division instruction while the others
/// take `div_by`'s FMAs (`space::divider`); without the annotation every
/// vector takes `div_by`.
#[test]
fn the_divider_takes_one_vector_in_d() {
    let src = "tensor_func! {
        pub fn rows(x: [f32; 4, 100], s: [f32; 4], y: &mut [f32; 4, 100]) {
            for (i, j) in grid(4, 100) {
                block(\"Y\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    y[vi, vj] = x[vi, vj] / s[vi];
                }
            }
        }
    }";
    for (isa, lanes, div) in [(Isa::Avx2, 8, "_mm256_div_ps"), (Isa::Avx512, 16, "_mm512_div_ps")] {
        for d in [1, 2, 3] {
            let ann = if d > 1 {
                format!("\nsch.annotate(block_or_loop=l4, ann_key=\"kiln.divider\", ann_val={d})")
            } else {
                String::new()
            };
            let trace = format!(
                "b0 = sch.get_block(name=\"Y\", func_name=\"main\")
l1, l2 = sch.get_loops(block=b0)
l3, l4 = sch.split(loop=l2, factors=[None, {}], preserve_unit_iters=True)
sch.vectorize(loop=l4){ann}",
                lanes * d
            );
            let f = scheduled(src, &trace);
            let text = pretty(&emit_impl(&f, isa, &format_ident!("kernel")));
            let fma_form = text.matches(&format!("div_by_{}(", isa.name())).count();
            let divider = text.matches(div).count();
            // Each vector is emitted twice: whole, and masked where the row ends.
            let d = d as usize;
            let want = if d == 1 { (2, 0) } else { (2 * (d - 1), 2) };
            assert_eq!((fma_form, divider), want, "{isa} d = {d}:\n{text}");
        }
    }
}
