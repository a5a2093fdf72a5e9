//! Test support, not part of kiln's interface: one copy of the fixtures and
//! checks that the tests of every crate of the workspace share (it is
//! compiled into the library so that `ir/tests`, the workspace tests and the
//! tuner's tests can all use it).
//!
//! - Fixtures: [`matmul`], built directly as IR (for tests that must not
//!   depend on the language parser); [`kernel`] and [`kernel_in_file`], parsed
//!   from `tensor_func!` source; [`block_loops`] (a schedule and the handles
//!   of a block and its loops) and [`lit`] (a split factor).
//! - Data: [`random_args`] and [`run_random`] (the interpreter on them).
//! - The checks of a schedule step (STYLE rule 5, TVM's
//!   `verify_trace_roundtrip`): [`assert_round_trips`] (text and JSON trace
//!   replay, verified, to the same IR and printed trace);
//!   [`assert_same_results`] (exactly equal results on random inputs;
//!   [`assert_close_results`] for primitives that reassociate a reduction;
//!   [`assert_equivalent`] for both checks);
//!   [`fails`] (the expected error, and the schedule unchanged) and
//!   [`replay_fails`] (the same for a trace instruction). [`check_round_trip`],
//!   [`check_same_results`], [`compare`] and [`try_step`] return the failure
//!   instead of panicking, for tests that report failures themselves.

use super::{BlockRV, DecisionMode, Factor, LoopRV, ReplayError, Schedule, ScheduleError};
use crate::interp::{self, Tensor};
use crate::ir::verify::verify;
use crate::ir::{
    Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind, PrimFunc, Stmt,
    Store, Var,
};
use crate::parse::Kernel;
use crate::trace::{parse_trace_str, Trace};

fn load(buf: &str, idx: &[&Var]) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx.iter().map(|v| Expr::var(v)).collect() })
}

fn param(name: &str, shape: Vec<i64>, kind: ParamKind) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape), kind }
}

/// `Y = X·Wᵀ` (`x: [m, k]`, `w: [n, k]`, `y: [m, n]`, one block "Y"): the
/// layout of a `Linear` layer, whose `w` is strided along the output's rows.
pub fn linear_xwt(m: i64, n: i64, k: i64) -> PrimFunc {
    kernel(&format!(
        "fn lin(x: [f32; {m}, {k}], w: [f32; {n}, {k}], y: &mut [f32; {m}, {n}]) {{
            for (i, j, k) in grid({m}, {n}, {k}) {{
                block(\"Y\") {{
                    let (vi, vj, vk) = axis::remap(\"SSR\", (i, j, k));
                    init {{ y[vi, vj] = 0.0; }}
                    y[vi, vj] += x[vi, vk] * w[vj, vk];
                }}
            }}
        }}"
    ))
}

/// The trace of a BLIS-blocked [`matmul`]: `i` split `rows` (row blocks,
/// row tiles — a serial loop — and the register tile's rows), `j` split
/// `cols` (panels, vectors, lanes), `k` split `reduce` (`k/kc`, `kc`), in
/// the order `i0 j0 k0 i1 k1 i2 j1 j2`; the accumulators in a local buffer
/// written back per panel, the reduction's init above `k0`: with `kc < k`
/// the accumulators of a row block live in memory between the blocks of `k`
/// (`codegen/registers.rs`).
pub fn kc_blocked_trace(rows: [i64; 3], cols: [i64; 3], reduce: [i64; 2]) -> String {
    format!(
        r#"b0 = sch.get_block(name="C", func_name="main")
l1, l2, l3 = sch.get_loops(block=b0)
l4, l5, l6 = sch.split(loop=l1, factors={rows:?}, preserve_unit_iters=True)
l7, l8, l9 = sch.split(loop=l2, factors={cols:?}, preserve_unit_iters=True)
l10, l11 = sch.split(loop=l3, factors={reduce:?}, preserve_unit_iters=True)
sch.reorder(l4, l7, l10, l5, l11, l6, l8, l9)
b12 = sch.cache_write(block=b0, write_buffer_index=0, storage_scope="local")
sch.reverse_compute_at(block=b12, loop=l7, preserve_unit_loops=True, index=-1)
b13 = sch.decompose_reduction(block=b0, loop=l10)
sch.unroll(loop=l6)
sch.unroll(loop=l8)
sch.vectorize(loop=l9)
"#
    )
}

/// `c[m, n] = Σk a[m, k] · b[k, n]`, the chapter's `MyModule` (block "C").
pub fn matmul(m: i64, n: i64, k: i64) -> PrimFunc {
    let (i, j, kk) = (Var::new("i"), Var::new("j"), Var::new("k"));
    let (vi, vj, vk) = (Var::new("vi"), Var::new("vj"), Var::new("vk"));
    let block = Block {
        name: "C".into(),
        iter_vars: vec![
            IterVar { var: vi.clone(), extent: m, kind: IterKind::Spatial },
            IterVar { var: vj.clone(), extent: n, kind: IterKind::Spatial },
            IterVar { var: vk.clone(), extent: k, kind: IterKind::Reduce },
        ],
        init: Some(Store {
            buffer: "c".into(),
            indices: vec![Expr::var(&vi), Expr::var(&vj)],
            value: Expr::Const(Const::F32(0.0)),
        }),
        body: Store {
            buffer: "c".into(),
            indices: vec![Expr::var(&vi), Expr::var(&vj)],
            value: load("c", &[&vi, &vj]) + load("a", &[&vi, &vk]) * load("b", &[&vk, &vj]),
        },
        annotations: Default::default(),
    };
    let realize =
        BlockRealize { bindings: vec![Expr::var(&i), Expr::var(&j), Expr::var(&kk)], predicate: Expr::true_(), block };
    let body = Stmt::For(Box::new(For::new(
        i,
        m,
        Stmt::For(Box::new(For::new(j, n, Stmt::For(Box::new(For::new(kk, k, Stmt::Block(Box::new(realize)))))))),
    )));
    PrimFunc {
        name: "matmul".into(),
        params: vec![
            param("a", vec![m, k], ParamKind::Input),
            param("b", vec![k, n], ParamKind::Input),
            param("c", vec![m, n], ParamKind::Output),
        ],
        allocs: vec![],
        body,
        dims: vec![],
        fast_math: false,
    }
}

/// A fresh schedule of `func` (its sampling seeded with `seed`) with the
/// handles of the block `block` and of that block's loops.
pub fn block_loops(func: PrimFunc, block: &str, seed: u64) -> (Schedule, BlockRV, Vec<LoopRV>) {
    let mut sch = Schedule::new(func, seed);
    let b = sch.get_block(block).unwrap();
    let loops = sch.get_loops(b).unwrap();
    (sch, b, loops)
}

/// A literal split factor.
pub fn lit(f: i64) -> Option<Factor> {
    Some(Factor::Int(f))
}

/// The function of a kernel given as `tensor_func!` source (panics on errors).
pub fn kernel(src: &str) -> PrimFunc {
    crate::parse::parse_kernel_str(src).unwrap_or_else(|f| panic!("the kernel does not parse:\n{f}")).func
}

/// The one `tensor_func!` kernel of a Rust source file (such as the bundled
/// `kernels/src/*.rs`); panics if the file has none, several, or one that
/// does not parse.
pub fn kernel_in_file(src: &str) -> Kernel {
    let mut found = crate::parse::find_kernels_in_file(src).unwrap_or_else(|e| panic!("not valid Rust: {e}"));
    assert_eq!(found.len(), 1, "expected one tensor_func! in the file");
    found.remove(0).unwrap_or_else(|f| panic!("the kernel does not parse:\n{f}"))
}

/// Random inputs and NaN-filled outputs for `func`'s parameters.
pub fn random_args(func: &PrimFunc, seed: u64) -> Vec<Tensor> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    func.params
        .iter()
        .map(|p| {
            let n = p.buffer.numel() as usize;
            match (p.kind, p.buffer.dtype) {
                (ParamKind::Output, dt) => Tensor::filled(dt, n, f64::NAN),
                (_, DataType::F32) => Tensor::F32((0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()),
                (_, DataType::F64) => Tensor::F64((0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()),
                (_, _) => Tensor::I32((0..n).map(|_| rng.gen_range(-100..100)).collect()),
            }
        })
        .collect()
}

/// `func`'s arguments after running it on [`random_args`]`(func, seed)`
/// (panics if the interpreter fails).
pub fn run_random(func: &PrimFunc, seed: u64) -> Vec<Tensor> {
    try_run_random(func, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn try_run_random(func: &PrimFunc, seed: u64) -> Result<Vec<Tensor>, String> {
    let mut args = random_args(func, seed);
    interp::run(func, &mut args).map_err(|e| format!("`{}` does not run: {e}\n{func}", func.name))?;
    Ok(args)
}

/// Compares arguments after a run: equal (a NaN matching a NaN) when
/// `tolerance` is `None`; else each element within `tolerance · (max|want| +
/// |want|)` of the tensor's expected value.
pub fn compare(got: &[Tensor], want: &[Tensor], tolerance: Option<f64>) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} arguments, expected {}", got.len(), want.len()));
    }
    for (p, (g, w)) in got.iter().zip(want).enumerate() {
        if g.len() != w.len() {
            return Err(format!("argument {p} has {} elements, expected {}", g.len(), w.len()));
        }
        let scale = (0..w.len()).map(|i| w.get(i).abs()).fold(0.0, f64::max).max(1e-6);
        for i in 0..w.len() {
            let (x, y) = (g.get(i), w.get(i));
            let ok = match tolerance {
                _ if x == y || (x.is_nan() && y.is_nan()) => true,
                None => false,
                Some(tol) => (x - y).abs() <= tol * (scale + y.abs()),
            };
            if !ok {
                return Err(format!("argument {p}, element {i}: got {x}, expected {y} (tolerance {tolerance:?})"));
            }
        }
    }
    Ok(())
}

/// Whether `new` computes what `orig` computes (see [`assert_same_results`]),
/// within `tolerance` (`None`: exactly).
pub fn check_same_results(orig: &PrimFunc, new: &PrimFunc, tolerance: Option<f64>) -> Result<(), String> {
    if new.params != orig.params {
        return Err("the parameters changed".into());
    }
    for seed in 0..3 {
        let want = try_run_random(orig, seed)?;
        for (p, t) in orig.params.iter().zip(&want) {
            if p.kind == ParamKind::Output && (0..t.len()).any(|i| t.get(i).is_nan()) {
                return Err(format!("`{}` is not fully written (seed {seed})", p.buffer.name));
            }
        }
        let got = try_run_random(new, seed)?;
        compare(&got, &want, tolerance).map_err(|e| format!("results differ (seed {seed}): {e}"))?;
    }
    Ok(())
}

/// The interpreter computes exactly the same arguments with `new` as with
/// `orig`, on three sets of random inputs; `orig` writes every output element,
/// and the parameters are unchanged.
pub fn assert_same_results(orig: &PrimFunc, new: &PrimFunc) {
    check_same_results(orig, new, None).unwrap_or_else(|e| panic!("{e}\n{new}"));
}

/// [`assert_same_results`] within a relative `tolerance` (see [`compare`]),
/// for schedules that reassociate a reduction (`rfactor`, a reorder of reduce
/// loops).
pub fn assert_close_results(orig: &PrimFunc, new: &PrimFunc, tolerance: f64) {
    check_same_results(orig, new, Some(tolerance)).unwrap_or_else(|e| panic!("{e}\n{new}"));
}

/// What a step that keeps results exactly must pass: [`assert_same_results`]
/// and [`assert_round_trips`].
pub fn assert_equivalent(orig: &PrimFunc, sch: &Schedule) {
    assert_same_results(orig, sch.func());
    assert_round_trips(orig, sch);
}

/// Whether `sch`'s trace survives its text form and its JSON form: each
/// replays on `orig`, verified after every step, to the same IR and the same
/// printed trace.
pub fn check_round_trip(orig: &PrimFunc, sch: &Schedule) -> Result<(), String> {
    let text = sch.trace().to_string();
    let parsed = parse_trace_str(&text).map_err(|e| format!("the printed trace does not parse: {e}\n{text}"))?;
    check_replay(orig, sch, &parsed, "printed")?;
    let json = serde_json::to_string(&sch.trace().to_json()).map_err(|e| e.to_string())?;
    let value = serde_json::from_str(&json).map_err(|e| format!("the JSON trace does not load: {e}"))?;
    let back = Trace::from_json(&value).map_err(|e| format!("the JSON trace does not load: {e}"))?;
    check_replay(orig, sch, &back, "JSON")
}

fn check_replay(orig: &PrimFunc, sch: &Schedule, trace: &Trace, form: &str) -> Result<(), String> {
    let mut again = Schedule::new(orig.clone(), 0);
    again.set_verify(true);
    again.apply_trace(trace, DecisionMode::Strict).map_err(|e| format!("replaying the {form} trace fails: {e}"))?;
    verify(again.func()).map_err(|errs| format!("the {form} trace replays to invalid IR: {}", errs.join("; ")))?;
    if again.func() != sch.func() {
        return Err(format!("the {form} trace replays to another function:\n{}", again.func()));
    }
    let text = sch.trace().to_string();
    if again.trace().to_string() != text {
        return Err(format!("the {form} trace replays to another trace:\n{}", again.trace()));
    }
    Ok(())
}

/// Asserts [`check_round_trip`].
pub fn assert_round_trips(orig: &PrimFunc, sch: &Schedule) {
    check_round_trip(orig, sch).unwrap_or_else(|e| panic!("{e}\ntrace:\n{}", sch.trace()));
}

/// Runs a schedule step; a step that fails must leave the schedule as it
/// was — IR, trace, handles and RNG (panics otherwise).
pub fn try_step<T>(
    sch: &mut Schedule,
    step: impl FnOnce(&mut Schedule) -> Result<T, ScheduleError>,
) -> Result<T, ScheduleError> {
    let before = sch.clone();
    let out = step(sch);
    if let Err(e) = &out {
        assert_unchanged(&before, sch, e);
    }
    out
}

/// Panics unless `after` (where a step failed with `e`) is in the state of `before`.
fn assert_unchanged(before: &Schedule, after: &Schedule, e: &ScheduleError) {
    assert!(after.func == before.func, "a failed step ({e}) changed the IR:\n{}", after.func);
    assert!(after.trace == before.trace, "a failed step ({e}) changed the trace:\n{}", after.trace);
    assert!(after.values == before.values, "a failed step ({e}) changed the handles");
    assert!(after.rng == before.rng, "a failed step ({e}) drew from the RNG");
}

/// Replays `trace` on `func` (decisions strict, verified), which must fail
/// with the `ScheduleError` of kind `kind`; the failing instruction must
/// leave the schedule as the instructions before it left it. Returns the
/// failing step (numbered from 1, as [`ReplayError`] numbers it) and the error.
pub fn replay_fails(func: &PrimFunc, trace: &Trace, kind: &str) -> (usize, ScheduleError) {
    let mut sch = Schedule::new(func.clone(), 0);
    sch.set_verify(true);
    let Err(ReplayError { step, error, .. }) = sch.apply_trace(trace, DecisionMode::Strict) else {
        panic!("the trace replayed; expected {kind}:\n{trace}")
    };
    assert_eq!(error.kind(), kind, "unexpected error at step {step}: {error}");
    let mut head = Schedule::new(func.clone(), 0);
    head.apply_trace(&Trace { insts: trace.insts[..step - 1].to_vec() }, DecisionMode::Strict)
        .unwrap_or_else(|e| panic!("the instructions before step {step} fail: {e}"));
    assert_unchanged(&head, &sch, &error);
    (step, *error)
}

/// Runs a step that must fail with the `ScheduleError` of kind `kind` (see
/// [`ScheduleError::kind`]) and leave the schedule unchanged ([`try_step`]);
/// returns the error, for its message.
pub fn fails<T>(
    sch: &mut Schedule,
    kind: &str,
    step: impl FnOnce(&mut Schedule) -> Result<T, ScheduleError>,
) -> ScheduleError {
    match try_step(sch, step) {
        Ok(_) => panic!("the step succeeded; expected {kind}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "unexpected error: {e}");
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_is_exact_unless_given_a_tolerance() {
        let want = [Tensor::F32(vec![1.0, f32::NAN])];
        assert!(compare(&want, &want, None).is_ok(), "NaN matches NaN");
        let got = [Tensor::F32(vec![1.00001, f32::NAN])];
        assert!(compare(&got, &want, None).is_err());
        assert!(compare(&got, &want, Some(1e-4)).is_ok());
        assert!(compare(&got, &want, Some(1e-6)).is_err());
        assert!(compare(&[Tensor::F32(vec![1.0])], &want, Some(1.0)).is_err(), "lengths differ");
    }

    #[test]
    fn same_results_need_every_output_written() {
        let f = matmul(4, 4, 4);
        assert!(check_same_results(&f, &f, None).is_ok());
        let mut g = f.clone();
        let mut n = 0;
        g.body = g.body.rewrite(&mut |s| match s {
            Stmt::For(mut l) if n == 0 => {
                n += 1;
                l.extent = 3;
                Ok(Stmt::For(l))
            }
            other => Err(other),
        });
        let e = check_same_results(&f, &g, Some(1.0)).unwrap_err();
        assert!(e.contains("results differ"), "{e}");
        let e = check_same_results(&g, &f, None).unwrap_err();
        assert_eq!(e, "`c` is not fully written (seed 0)");
    }

    #[test]
    fn round_trips_replay_both_forms() {
        let f = matmul(8, 8, 8);
        let mut sch = Schedule::new(f.clone(), 0);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let t = sch.sample_perfect_tile(l[1], 2, 4, None).unwrap();
        sch.split(l[1], &[Some(t[0].into()), Some(t[1].into())]).unwrap();
        assert_round_trips(&f, &sch);
        let e = check_round_trip(&matmul(8, 8, 16), &sch).unwrap_err();
        assert!(e.contains("the printed trace replays to another function"), "{e}");
    }

    #[test]
    fn fails_checks_the_kind() {
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        let e = fails(&mut sch, "UnknownBlock", |s| s.get_block("D"));
        assert_eq!(e.to_string(), "no block is named \"D\"");
    }

    #[test]
    #[should_panic(expected = "unexpected error")]
    fn fails_refuses_another_kind() {
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        fails(&mut sch, "StaleHandle", |s| s.get_block("D"));
    }

    #[test]
    #[should_panic(expected = "the step succeeded")]
    fn fails_refuses_a_success() {
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        fails(&mut sch, "UnknownBlock", |s| s.get_block("C"));
    }

    #[test]
    #[should_panic(expected = "changed the IR")]
    fn a_failed_step_must_not_change_the_ir() {
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        fails(&mut sch, "UnknownBlock", |s| {
            s.split(l[0], &[None, Some(2.into())])?;
            s.get_block("D")
        });
    }

    #[test]
    #[should_panic(expected = "changed the handles")]
    fn a_failed_step_must_not_create_handles() {
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        let c = sch.get_block("C").unwrap();
        try_step(&mut sch, |s| {
            let trace = s.trace.clone();
            let l = s.get_loops(c)?;
            s.trace = trace;
            s.get_block("D").map(|_| l)
        })
        .unwrap_err();
    }

    #[test]
    #[should_panic(expected = "drew from the RNG")]
    fn a_failed_step_must_not_draw() {
        use rand::Rng;
        let mut sch = Schedule::new(matmul(8, 8, 8), 0);
        try_step(&mut sch, |s| {
            let _: u32 = s.rng().gen();
            s.get_block("D")
        })
        .unwrap_err();
    }
}
