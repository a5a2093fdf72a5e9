//! The design space and the default schedule on every bundled kernel: the
//! rules apply, and what they produce computes what the kernel computes.

use kiln_ir::interp::Tensor;
use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::testing::{compare, kernel_in_file, run_random};
use kiln_ir::space::{default_trace, default_trace_partial, sample, SpaceError, SpaceOptions};
use kiln_ir::target::Isa;

const KERNELS: &[(&str, &str)] = &[
    ("matmul", include_str!("../../kernels/src/matmul.rs")),
    ("matmul_odd", include_str!("../../kernels/src/matmul_odd.rs")),
    ("linear0", include_str!("../../kernels/src/linear0.rs")),
    ("linear1", include_str!("../../kernels/src/linear1.rs")),
    ("linear", include_str!("../../kernels/src/linear.rs")),
    ("relu", include_str!("../../kernels/src/relu.rs")),
    ("softmax", include_str!("../../kernels/src/softmax.rs")),
    ("rmsnorm", include_str!("../../kernels/src/rmsnorm.rs")),
    ("layernorm", include_str!("../../kernels/src/layernorm.rs")),
    ("gelu", include_str!("../../kernels/src/gelu.rs")),
    ("bias_gelu", include_str!("../../kernels/src/bias_gelu.rs")),
    ("conv2d", include_str!("../../kernels/src/conv2d.rs")),
];

/// The schedules reassociate reductions (rfactor, register tiles).
const TOLERANCE: f64 = 1e-4;

/// `scheduled` computes `want`, the outputs of `func` on `run_random(func, 3)`.
fn check(func: &PrimFunc, scheduled: &PrimFunc, want: &[Tensor]) {
    let got = run_random(scheduled, 3);
    compare(&got, want, Some(TOLERANCE)).unwrap_or_else(|e| panic!("{}: {e}\n{scheduled}", func.name));
}

#[test]
fn default_schedules_apply_and_keep_results() {
    for (name, src) in KERNELS {
        let func = kernel_in_file(src).func;
        let want = run_random(&func, 3);
        for isa in [Isa::Avx2, Isa::Avx512, Isa::Scalar] {
            let sch = default_trace(&func, &SpaceOptions::new(isa)).unwrap_or_else(|e| panic!("{name} {isa}: {e}"));
            check(&func, sch.func(), &want);
            if std::env::var_os("KILN_SHOW").is_some() {
                println!("== {name} {isa}\n{}\n{}", sch.trace(), sch.func());
            }
        }
    }
}

#[test]
fn sampled_schedules_keep_results() {
    for (name, src) in KERNELS {
        let func = kernel_in_file(src).func;
        let want = run_random(&func, 3);
        for seed in 0..4 {
            match sample(&func, &SpaceOptions::new(Isa::Avx2), seed) {
                Ok(sch) => check(&func, sch.func(), &want),
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{name} seed {seed}: {e}"),
            }
        }
    }
}

/// A row normalization: a sum of squares and a scale per row.
const ROW_NORM: &str = r#"
tensor_func! {
    fn row_norm(x: [f32; 6, 64], y: &mut [f32; 6, 64]) {
        let ss = alloc([f32; 6]);
        for (i, k) in grid(6, 64) {
            block("ss") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { ss[vi] = 0.0; }
                ss[vi] += x[vi, vk] * x[vi, vk];
            }
        }
        for (i, j) in grid(6, 64) {
            block("norm") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * (1.0 / (ss[vi] + 1.0).sqrt());
            }
        }
    }
}
"#;

/// softmax at 6 rows of 40: the same schedules' structure, interpreted quickly.
fn small_softmax() -> String {
    let (_, src) = KERNELS.iter().find(|(n, _)| *n == "softmax").unwrap();
    src.replace("64", "6").replace("1000", "40")
}

/// Whether `block` sits under a loop of its consumer's row other than the
/// row loop itself (its reduction recomputed per vector of the row).
fn recomputed(f: &PrimFunc, block: &str) -> bool {
    let norm: Vec<_> = f.loops_of_block("norm").unwrap().iter().map(|l| l.var.clone()).collect();
    f.loops_of_block(block).unwrap().iter().filter(|l| norm.contains(&l.var)).count() > 1
}

/// Whether `a` and `b` share their outermost loop.
fn share_outer_loop(f: &PrimFunc, a: &str, b: &str) -> bool {
    let outer = |n: &str| f.loops_of_block(n).and_then(|l| l.first().map(|l| l.var.clone()));
    outer(a).is_some() && outer(a) == outer(b)
}

/// The kinds of `block`'s loops, outermost first.
fn loop_kinds(f: &PrimFunc, block: &str) -> Vec<kiln_ir::ir::ForKind> {
    f.loops_of_block(block).unwrap().iter().map(|l| l.kind).collect()
}

/// Row fusion: when the compute-location rule moves a row reduction (and an
/// elementwise producer) under its consumer's row loop, the rules still give
/// them vector code there — partial sums in `chains × lanes` vectors, the
/// producer's row vectorized — and the results stay right.
#[test]
fn reductions_and_producers_moved_into_the_row_loop_stay_vectorized() {
    use kiln_ir::ir::ForKind;
    for (name, src, reduction, producer) in
        [("row_norm", ROW_NORM.to_string(), "ss", None), ("softmax", small_softmax(), "expsum", Some("exp"))]
    {
        let func = kernel_in_file(&src).func;
        let want = run_random(&func, 3);
        let mut fused = 0;
        let mut chains = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let Ok(sch) = sample(&func, &SpaceOptions::new(Isa::Avx2), seed) else { continue };
            let f = sch.func();
            let rf = format!("{reduction}_rf_update");
            if f.block(&rf).is_none() || !share_outer_loop(f, &rf, "norm") {
                continue;
            }
            // Some places recompute the row's reduction per vector of the row.
            if recomputed(f, &rf) {
                continue;
            }
            fused += 1;
            let kinds = loop_kinds(f, &rf);
            assert_eq!(kinds.last(), Some(&ForKind::Vectorized), "{name} seed {seed}:\n{f}");
            let rf_buf = f.buffer(&format!("{}_rf", f.block(reduction).unwrap().block.body.buffer)).unwrap();
            chains.insert(rf_buf.shape.last().unwrap() / 8);
            if let Some(p) = producer.filter(|p| share_outer_loop(f, p, "norm")) {
                assert!(loop_kinds(f, p).contains(&ForKind::Vectorized), "{name} seed {seed}: {p} scalar\n{f}");
            }
            check(&func, f, &want);
        }
        assert!(fused >= 3, "{name}: only {fused} of 200 samples put {reduction} in the row loop");
        assert!(chains.len() >= 2, "{name}: chain counts sampled {chains:?}");
    }
}

/// A bias add, then an activation: two elementwise blocks.
const BIAS_RELU: &str = r#"
tensor_func! {
    fn bias_relu(x: [f32; 5, 37], b: [f32; 37], y: &mut [f32; 5, 37]) {
        let t = alloc([f32; 5, 37]);
        for (i, j) in grid(5, 37) {
            block("bias") {
                let (vi, vj) = axis::remap("SS", (i, j));
                t[vi, vj] = x[vi, vj] + b[vj];
            }
        }
        for (i, j) in grid(5, 37) {
            block("act") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = t[vi, vj].max(0.0);
            }
        }
    }
}
"#;

/// The default inlines an elementwise step into its elementwise consumer
/// (one vectorized pass), but not a block with two consumers (softmax's
/// `exp`) nor one whose consumer is a reduction.
#[test]
fn the_default_fuses_an_elementwise_chain() {
    let func = kernel_in_file(BIAS_RELU).func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512, Isa::Scalar] {
        let sch = default_trace(&func, &SpaceOptions::new(isa)).unwrap();
        let f = sch.func();
        let names: Vec<String> = f.blocks().iter().map(|b| b.block.name.clone()).collect();
        assert_eq!(names, ["act"], "{isa}:\n{f}");
        if isa != Isa::Scalar {
            assert!(loop_kinds(f, "act").contains(&kiln_ir::ir::ForKind::Vectorized), "{isa}:\n{f}");
        }
        check(&func, f, &want);
    }
    let softmax = kernel_in_file(&small_softmax()).func;
    let sch = default_trace(&softmax, &SpaceOptions::new(Isa::Avx2)).unwrap();
    assert!(sch.func().block("exp").is_some(), "{}", sch.func());
}

/// With threads, the default moves a row's steps (softmax's max, exp and sum,
/// rmsnorm's sum of squares) under the parallel row loop of their consumer:
/// one parallel region per call, each row in L1 between its steps. A product
/// (linear's `X·Wᵀ`) and a producer the parallel loop does not cut into rows
/// (conv2d's padding) stay at the root, as on one thread.
#[test]
fn with_threads_the_default_computes_a_row_under_the_parallel_row_loop() {
    let kernel = |name: &str| kernel_in_file(KERNELS.iter().find(|(n, _)| *n == name).unwrap().1).func;
    // (On the scalar ISA the elementwise rule, which parallelizes the row
    // loop, does not apply: there is no parallel loop to move under.)
    for isa in [Isa::Avx2, Isa::Avx512] {
        for (name, blocks) in [("softmax", &["maxelem", "exp", "expsum"][..]), ("rmsnorm", &["sumsq"][..])] {
            let func = kernel(name);
            let one = default_trace(&func, &SpaceOptions::new(isa)).unwrap();
            assert!(!share_outer_loop(one.func(), blocks[0], "norm"), "{name} {isa}, 1 thread:\n{}", one.func());
            let sch = default_trace(&func, &SpaceOptions::threads(isa, 2)).unwrap();
            let f = sch.func();
            for b in blocks {
                assert!(share_outer_loop(f, b, "norm"), "{name} {isa}: {b}\n{f}");
            }
            assert_eq!(loop_kinds(f, "norm")[0], kiln_ir::ir::ForKind::Parallel, "{name} {isa}:\n{f}");
            check(&func, f, &run_random(&func, 3));
        }
        for name in ["linear", "conv2d"] {
            let sch = default_trace(&kernel(name), &SpaceOptions::threads(isa, 2)).unwrap();
            let trace = sch.trace().to_string();
            assert!(
                trace.lines().filter(|l| l.contains("sample_compute_location")).all(|l| !l.ends_with("decision=0)")),
                "{name} {isa}:\n{trace}"
            );
        }
    }
}

/// A reduction that also reads a value of its row the reduce loop does not
/// change (layernorm's `Σ (x − μ)²` reads the row's sum) is a row reduction:
/// the rfactor rule gives it partial sums along the row. (Before, the row
/// value, contiguous along the rows, made it look like a product whose lanes
/// run over rows: it was tiled over a transposed copy of `x` that the
/// normalization then read with a stride; 2.1× slower on Zen 1.)
#[test]
fn a_row_value_read_in_a_reduction_keeps_it_a_row_reduction() {
    let func = kernel_in_file(KERNELS.iter().find(|(n, _)| *n == "layernorm").unwrap().1).func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512] {
        for threads in [1, 2] {
            let sch = default_trace(&func, &SpaceOptions::threads(isa, threads)).unwrap();
            let trace = sch.trace().to_string();
            // Two row reductions, each rfactored (and again when its chains
            // are combined as vectors).
            assert!(trace.matches("sch.rfactor(").count() >= 2, "{isa} {threads}:\n{trace}");
            assert!(!trace.contains("cache_read"), "{isa} {threads}:\n{trace}");
            check(&func, sch.func(), &want);
        }
        for seed in 0..8 {
            match sample(&func, &SpaceOptions::new(isa), seed) {
                Ok(sch) => assert!(!sch.trace().to_string().contains("cache_read"), "{isa} seed {seed}"),
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{isa} seed {seed}: {e}"),
            }
        }
    }
}

/// A reduction over rows into a row of columns (a column sum): no row shares
/// the lane operand, so the default tile is one row of as many vectors as
/// the registers hold — independent accumulator chains — and the operand,
/// which every iteration reads once, is never packed (a copy would add a
/// pass over it). Before: one vector per tile (125 vectors of 8 have no
/// divisor up to 3) over a packed copy of `x`, 2.3× slower than the
/// unscheduled loop on Zen 1.
#[test]
fn a_column_sum_gets_a_row_of_accumulators_and_no_copy() {
    let src = "tensor_func! {
        pub fn colsum(x: [f32; 24, 1000], y: &mut [f32; 1000]) {
            for (i, j) in grid(24, 1000) {
                block(\"S\") {
                    let (vi, vj) = axis::remap(\"RS\", (i, j));
                    init { y[vj] = 0.0; }
                    y[vj] += x[vi, vj];
                }
            }
        }
    }";
    let func = kernel_in_file(src).func;
    let want = run_random(&func, 3);
    // 125 vectors of 8 (AVX2), 63 of 16 (AVX-512, the last partial).
    for (isa, vectors) in [(Isa::Avx2, "1, 5]"), (Isa::Avx512, "1, 7]")] {
        let sch = default_trace(&func, &SpaceOptions::new(isa)).unwrap();
        let trace = sch.trace().to_string();
        assert!(!trace.contains("cache_read"), "{isa}:\n{trace}");
        let tile = trace.lines().find(|l| l.contains("n=4")).unwrap();
        assert!(tile.ends_with(&format!("{vectors})")), "{isa}: {tile}");
        check(&func, sch.func(), &want);
        for seed in 0..8 {
            match sample(&func, &SpaceOptions::new(isa), seed) {
                Ok(sch) => {
                    assert!(!sch.trace().to_string().contains("cache_read"), "{isa} seed {seed}");
                    check(&func, sch.func(), &want);
                }
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{isa} seed {seed}: {e}"),
            }
        }
    }
}

/// A transposed read (`y[i, j] = x[j, i]`): the default tiles the store's
/// rows (AVX2: 8, unrolled, for the code generator's transpose in registers;
/// else a cache line of elements) just outside the lane loop, so the
/// lines one vector gathers serve the next rows while in L1 (before: every
/// gathered line left L1 before its next element was read, 9× slower on
/// Zen 1); the tile is sampled, and with threads the outer row loop is
/// parallel. Results stay the interpreter's.
#[test]
fn a_transposed_read_gets_row_tiles() {
    let src = "tensor_func! {
        pub fn transpose(x: [f32; 48, 64], y: &mut [f32; 64, 48]) {
            for (i, j) in grid(64, 48) {
                block(\"T\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    y[vi, vj] = x[vj, vi];
                }
            }
        }
    }";
    let func = kernel_in_file(src).func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512] {
        for threads in [1, 2] {
            let sch = default_trace(&func, &SpaceOptions::threads(isa, threads)).unwrap();
            let trace = sch.trace().to_string();
            // AVX2: 8 rows, unrolled (transposed in registers); AVX-512: a cache line.
            let rows = if isa == Isa::Avx2 { "decision=1)" } else { "decision=2)" };
            let split = if isa == Isa::Avx2 { "factors=[None, 8]" } else { "factors=[None, 16]" };
            assert!(trace.contains(rows) && trace.contains(split), "{isa}:\n{trace}");
            assert_eq!(trace.contains("sch.unroll("), isa == Isa::Avx2, "{isa}:\n{trace}");
            let kinds = loop_kinds(sch.func(), "T");
            assert_eq!(kinds.len(), 4, "{isa}:\n{}", sch.func());
            assert_eq!(kinds[0] == kiln_ir::ir::ForKind::Parallel, threads == 2, "{isa}:\n{}", sch.func());
            check(&func, sch.func(), &want);
        }
        for seed in 0..8 {
            match sample(&func, &SpaceOptions::new(isa), seed) {
                Ok(sch) => check(&func, sch.func(), &want),
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{isa} seed {seed}: {e}"),
            }
        }
    }
    // A read along the lanes is not tiled (softmax's steps, relu).
    let relu = kernel_in_file(include_str!("../../kernels/src/relu.rs")).func;
    assert!(!default_trace(&relu, &SpaceOptions::new(Isa::Avx2)).unwrap().trace().to_string().contains("categorical"));
}

/// Rows shorter than a vector (`[f32; 1000, 5]`): the default fuses the
/// loops of a row's elements with the rows' loop into one run and
/// vectorizes it (before: no vector at all); in three dimensions as few
/// inner loops as make a vector, and more while the run ends in a partial
/// vector, one loop left outside and parallel with threads; over
/// symbolic rows, a lane loop's worth of rows at a time. A broadcast row of
/// an input (`b[j]`) is read periodically along the run (from a table,
/// `codegen/periodic.rs`); a row of another shape (`b[j, 0]` of `[5, 1]`)
/// or of a temporary keeps the loops apart. Results stay the interpreter's.
#[test]
fn rows_shorter_than_a_vector_run_as_one_loop() {
    let kernel = |sig: &str, grid: &str, idx: &str, value: &str| {
        kernel_in_file(&format!(
            "tensor_func! {{
                pub fn f({sig}) {{
                    for ({idx}) in grid({grid}) {{
                        block(\"y\") {{
                            let ({}) = axis::remap(\"{}\", ({idx}));
                            {value}
                        }}
                    }}
                }}
            }}",
            idx.split(", ").map(|v| format!("v{v}")).collect::<Vec<_>>().join(", "),
            "S".repeat(idx.split(',').count())
        ))
        .func
    };
    let silu = kernel(
        "x: [f32; 1000, 5], y: &mut [f32; 1000, 5]",
        "1000, 5",
        "i, j",
        "y[vi, vj] = x[vi, vj] * x[vi, vj].sigmoid();",
    );
    let deep = kernel(
        "x: [f32; 8, 4, 5], y: &mut [f32; 8, 4, 5]",
        "8, 4, 5",
        "i, j, k",
        "y[vi, vj, vk] = x[vi, vj, vk] * 2.0;",
    );
    let bias = kernel(
        "x: [f32; 1000, 5], b: [f32; 5], y: &mut [f32; 1000, 5]",
        "1000, 5",
        "i, j",
        "y[vi, vj] = x[vi, vj] + b[vj];",
    );
    let column = kernel(
        "x: [f32; 1000, 5], b: [f32; 5, 1], y: &mut [f32; 1000, 5]",
        "1000, 5",
        "i, j",
        "y[vi, vj] = x[vi, vj] + b[vj, 0];",
    );
    let sym = kiln_ir::parse::find_kernels_in_file(
        "tensor_func! {
            pub fn f(x: [f32; n, 5], y: &mut [f32; n, 5]) where n: dim(1..=4096, tune = 64) {
                for (i, j) in grid(n, 5) {
                    block(\"y\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        y[vi, vj] = x[vi, vj] * 2.0;
                    }
                }
            }
        }",
    )
    .unwrap()
    .remove(0)
    .unwrap()
    .func;
    for isa in [Isa::Avx2, Isa::Avx512] {
        for threads in [1, 2] {
            let opts = SpaceOptions::threads(isa, threads);
            for (f, fused) in [(&silu, true), (&deep, true), (&bias, true), (&column, false), (&sym, true)] {
                let sch = default_trace(f, &opts).unwrap();
                let trace = sch.trace().to_string();
                assert_eq!(trace.contains("sch.fuse(") && trace.contains("sch.vectorize("), fused, "{isa}:\n{trace}");
                check(f, sch.func(), &run_random(f, 3));
            }
            // Symbolic rows: split by a lane loop's worth of rows first (16 or 8
            // of 5, times the lockstep group), and the result works at every `n`.
            let sch = default_trace(&sym, &opts).unwrap();
            let lanes = if isa == Isa::Avx512 { 16 } else { 8 };
            let trace = sch.trace().to_string();
            assert!(trace.contains(&format!("sch.split(loop=l1, factors=[None, {lanes}]")), "{isa}:\n{trace}");
            kiln_ir::space::check_program(sch.func(), isa).unwrap();
            // `deep`: `j` and `k` fused (20 elements, a vector and a part),
            // then `i` too (160, whole vectors); with threads `i` stays
            // apart, parallel.
            let sch = default_trace(&deep, &opts).unwrap();
            let kinds = loop_kinds(sch.func(), "y");
            assert_eq!(kinds.len(), if threads == 2 { 3 } else { 2 }, "{isa}:\n{}", sch.func());
            assert_eq!(kinds[0] == kiln_ir::ir::ForKind::Parallel, threads == 2, "{isa}:\n{}", sch.func());
        }
    }
}

/// Rows that end in a partial vector (`[.., 28, 28]`: 3 AVX2 vectors and 4
/// lanes, a masked store per row) are fused with the loops outside them
/// that every access reads as one run: `h, w` of a batch normalization (784
/// elements, whole vectors), not `c`, which `s[c]` reads apart; rows of 20
/// with their rows' loop (one loop, or the rows' loop kept parallel with
/// threads), also with a bias of 20 read along the run (from a table, not
/// with a bias of 100: longer than `MAX_PERIOD`, so its table would be
/// long). Rows of whole vectors keep their loops. Samples take the same
/// loops. Results stay the interpreter's.
#[test]
fn rows_that_end_in_a_partial_vector_run_as_one_loop() {
    let bn = kernel_in_file(
        "tensor_func! {
            pub fn bn(x: [f32; 2, 3, 28, 28], s: [f32; 3], b: [f32; 3], y: &mut [f32; 2, 3, 28, 28]) {
                for (n, c, h, w) in grid(2, 3, 28, 28) {
                    block(\"y\") {
                        let (vn, vc, vh, vw) = axis::remap(\"SSSS\", (n, c, h, w));
                        y[vn, vc, vh, vw] = (x[vn, vc, vh, vw] * s[vc] + b[vc]).max(0.0);
                    }
                }
            }
        }",
    )
    .func;
    let rows = |cols: i64| {
        kernel_in_file(&format!(
            "tensor_func! {{
                pub fn silu(x: [f32; 50, {cols}], y: &mut [f32; 50, {cols}]) {{
                    for (i, j) in grid(50, {cols}) {{
                        block(\"y\") {{
                            let (vi, vj) = axis::remap(\"SS\", (i, j));
                            y[vi, vj] = x[vi, vj] * x[vi, vj].sigmoid();
                        }}
                    }}
                }}
            }}"
        ))
        .func
    };
    let (rows20, rows32) = (rows(20), rows(32));
    let bias = |cols: i64| {
        kernel_in_file(&format!(
            "tensor_func! {{
                pub fn bias(x: [f32; 50, {cols}], b: [f32; {cols}], y: &mut [f32; 50, {cols}]) {{
                    for (i, j) in grid(50, {cols}) {{
                        block(\"y\") {{
                            let (vi, vj) = axis::remap(\"SS\", (i, j));
                            y[vi, vj] = x[vi, vj] + b[vj];
                        }}
                    }}
                }}
            }}"
        ))
        .func
    };
    let (bias20, bias100) = (bias(20), bias(100));
    for isa in [Isa::Avx2, Isa::Avx512] {
        for threads in [1, 2] {
            let opts = SpaceOptions::threads(isa, threads);
            let sch = default_trace(&bn, &opts).unwrap();
            let trace = sch.trace().to_string();
            assert!(trace.contains("sch.fuse(l3, l4,"), "{isa}:\n{trace}");
            assert_eq!(loop_kinds(sch.func(), "y").len(), 4, "{isa}:\n{}", sch.func());
            check(&bn, sch.func(), &run_random(&bn, 3));
            let sch = default_trace(&rows20, &opts).unwrap();
            assert_eq!(sch.trace().to_string().contains("sch.fuse("), threads == 1, "{isa}:\n{}", sch.trace());
            check(&rows20, sch.func(), &run_random(&rows20, 3));
            let sch = default_trace(&rows32, &opts).unwrap();
            assert!(!sch.trace().to_string().contains("sch.fuse("), "{isa}:\n{}", sch.trace());
            let sch = default_trace(&bias20, &opts).unwrap();
            assert_eq!(sch.trace().to_string().contains("sch.fuse("), threads == 1, "{isa}:\n{}", sch.trace());
            check(&bias20, sch.func(), &run_random(&bias20, 3));
            let sch = default_trace(&bias100, &opts).unwrap();
            assert!(!sch.trace().to_string().contains("sch.fuse("), "{isa}:\n{}", sch.trace());
        }
        for seed in 0..20 {
            let sch = sample(&bn, &SpaceOptions::new(isa), seed).unwrap();
            assert!(sch.trace().to_string().contains("sch.fuse(l3, l4,"), "{isa}:\n{}", sch.trace());
            check(&bn, sch.func(), &run_random(&bn, 3));
        }
    }
}

/// Where a rule fails on a block (here `rfactor` of a reduction by
/// division, `y = y / x`, which it does not split), the default that a
/// kernel compiles to leaves that block with its loops and still schedules
/// the others (`program.rs` names the block; the macro warns); the strict
/// form the tests use reports the failure. Results stay the interpreter's.
#[test]
fn a_block_the_rules_fail_on_keeps_its_loops_and_the_others_are_scheduled() {
    let func = kernel_in_file(
        "tensor_func! {
            pub fn sub(x: [f32; 8, 100], y: &mut [f32; 8], z: &mut [f32; 8, 100]) {
                for (i, k) in grid(8, 100) {
                    block(\"z\") {
                        let (vi, vk) = axis::remap(\"SS\", (i, k));
                        z[vi, vk] = x[vi, vk] * 2.0;
                    }
                }
                for (i, k) in grid(8, 100) {
                    block(\"s\") {
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init { y[vi] = 0.0; }
                        y[vi] = y[vi] / x[vi, vk];
                    }
                }
            }
        }",
    )
    .func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512] {
        let opts = SpaceOptions::new(isa);
        let err = default_trace(&func, &opts).expect_err("rfactor of a division fails");
        assert!(err.to_string().contains("is not `out + e`"), "{err}");
        let (sch, failed) = default_trace_partial(&func, &opts);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, "s");
        assert!(loop_kinds(sch.func(), "z").contains(&kiln_ir::ir::ForKind::Vectorized), "{}", sch.func());
        assert!(!loop_kinds(sch.func(), "s").contains(&kiln_ir::ir::ForKind::Vectorized), "{}", sch.func());
        check(&func, sch.func(), &want);
    }
}

/// The divider rule (`space/divider.rs`): softmax's normalization samples the
/// divider's share of its vectors (1 by default: no annotation), and a
/// sampled share of `d` makes a lane loop of `d` vectors annotated
/// `kiln.divider = d`; a `#[fast_math]` kernel (a product by the reciprocal)
/// and a division by a value of the lane are left alone. Results stay the
/// interpreter's.
#[test]
fn the_divider_share_is_sampled_where_a_divisor_is_shared() {
    let src = small_softmax().replace("40", "100");
    let func = kernel_in_file(&src).func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512] {
        let trace = default_trace(&func, &SpaceOptions::new(isa)).unwrap().trace().to_string();
        assert!(trace.contains("candidates=[1, 2, 3, 4]") && !trace.contains("kiln.divider"), "{isa}:\n{trace}");
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let Ok(sch) = sample(&func, &SpaceOptions::new(isa), seed) else { continue };
            let trace = sch.trace().to_string();
            // The normalization's lane loop: `d` vectors, annotated `d`.
            let lane = sch.func().loops_of_block("norm").unwrap().last().copied().unwrap().clone();
            if let Some(ann) = lane.annotations.get(kiln_ir::codegen::DIVIDER) {
                let kiln_ir::ir::AnnValue::Int(d) = *ann else { panic!("{isa}: {ann:?}\n{trace}") };
                let lanes = if isa == Isa::Avx512 { 16 } else { 8 };
                assert_eq!(lane.kind, kiln_ir::ir::ForKind::Vectorized, "{isa}:\n{trace}");
                assert_eq!(lane.extent, d * lanes, "{isa}:\n{trace}");
                seen.insert(d);
                check(&func, sch.func(), &want);
            }
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [2, 3, 4], "{isa}");
    }
    let fast = kernel_in_file(&src.replace("tensor_func! {", "tensor_func! {\n    #[fast_math]")).func;
    assert!(fast.fast_math);
    let lane_divisor = kernel_in_file(
        "tensor_func! {
            pub fn f(x: [f32; 4, 64], y: &mut [f32; 4, 64]) {
                for (i, j) in grid(4, 64) {
                    block(\"y\") {
                        let (vi, vj) = axis::remap(\"SS\", (i, j));
                        y[vi, vj] = 1.0 / x[vi, vj];
                    }
                }
            }
        }",
    )
    .func;
    for f in [&fast, &lane_divisor] {
        for seed in 0..20 {
            if let Ok(sch) = sample(f, &SpaceOptions::new(Isa::Avx512), seed) {
                let trace = sch.trace().to_string();
                assert!(!trace.contains("candidates=[1, 2, 3, 4]"), "{}:\n{trace}", f.name);
            }
        }
    }
}

/// A reduction by subtraction (`r = b − A·x`, the residual of an iterative
/// solver, its init the right-hand side): `rfactor` splits it as a sum of
/// negated terms, so the default vectorizes it like GEMV, and the results
/// stay the interpreter's (within the reassociation's tolerance).
#[test]
fn a_reduction_by_subtraction_is_vectorized() {
    let func = kernel_in_file(
        "tensor_func! {
            pub fn residual(a: [f32; 30, 100], x: [f32; 100], b: [f32; 30], r: &mut [f32; 30]) {
                for (i, k) in grid(30, 100) {
                    block(\"r\") {
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init { r[vi] = b[vi]; }
                        r[vi] = r[vi] - a[vi, vk] * x[vk];
                    }
                }
            }
        }",
    )
    .func;
    let want = run_random(&func, 3);
    for isa in [Isa::Avx2, Isa::Avx512] {
        let sch = default_trace(&func, &SpaceOptions::new(isa)).unwrap();
        assert!(sch.trace().to_string().contains("sch.rfactor("), "{isa}:\n{}", sch.trace());
        assert!(loop_kinds(sch.func(), "r_rf_update").contains(&kiln_ir::ir::ForKind::Vectorized), "{}", sch.func());
        check(&func, sch.func(), &want);
    }
}
