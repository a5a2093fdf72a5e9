//! One test per [`ScalarReason`]: a lowered loop `x` marked vectorized whose
//! body fails exactly that check, its message, and (where it helps) the
//! nearest body that does vectorize.

use super::{report_lowered, ScalarReason};
use crate::codegen::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt, LStore};
use crate::ir::{BinOp, DataType, Expr, ForKind, Load, Scope, UnOp, Var};
use crate::target::Isa;

fn x() -> Expr {
    Expr::var(&Var::new("x"))
}

fn load(buffer: &str, dtype: DataType, index: Expr) -> Expr {
    Expr::Load(Load { buffer: buffer.into(), dtype, indices: vec![index] })
}

fn f32_load(buffer: &str, index: Expr) -> Expr {
    load(buffer, DataType::F32, index)
}

fn block(name: &str, predicate: Expr, buffer: &str, index: Expr, value: Expr) -> LStmt {
    LStmt::Block(Box::new(LBlock {
        name: name.into(),
        lets: vec![],
        predicate,
        init: None,
        store: LStore { buffer: buffer.into(), indices: vec![index], value },
    }))
}

/// `out[index] = value` with no predicate.
fn store(index: Expr, value: Expr) -> LStmt {
    block("B", Expr::true_(), "out", index, value)
}

fn param(name: &str, dtype: DataType, size: i64, kind: LBufferKind) -> LBuffer {
    LBuffer { name: name.into(), dtype, shape: vec![size], scope: Scope::Global, kind, row: None }
}

fn for_(var: &str, extent: i64, kind: ForKind, body: Vec<LStmt>) -> LStmt {
    LStmt::For { var: Var::new(var), extent, kind, annotations: Default::default(), body }
}

/// `for x in 0..extent (vectorized) { body }` over inputs `a`, `b` and an
/// output `out` of `size` elements of `dtype`.
fn func(dtype: DataType, size: i64, extent: i64, body: Vec<LStmt>) -> LFunc {
    LFunc {
        name: "f".into(),
        params: vec![
            param("a", dtype, size, LBufferKind::Input),
            param("b", dtype, size, LBufferKind::Input),
            param("out", dtype, size, LBufferKind::Output),
        ],
        body: vec![for_("x", extent, ForKind::Vectorized, body)],
        dims: vec![],
        fast_math: false,
    }
}

/// The one reason the loop `x` of `f` is scalar on AVX2 (None: it vectorizes).
fn reason(f: &LFunc) -> Option<ScalarReason> {
    let mut r = report_lowered(f, Isa::Avx2);
    assert!(r.len() <= 1, "{r:?}");
    r.pop().map(|(v, why)| {
        assert_eq!(v.name(), "x");
        why
    })
}

fn copy(size: i64, extent: i64) -> LFunc {
    func(DataType::F32, size, extent, vec![store(x(), f32_load("a", x()))])
}

fn lane() -> String {
    "x".into()
}

#[test]
fn scalar_isa() {
    let f = copy(16, 16);
    assert_eq!(reason(&f), None);
    let r = report_lowered(&f, Isa::Scalar);
    assert_eq!(r, vec![(Var::new("x"), ScalarReason::ScalarIsa)]);
    assert_eq!(r[0].1.to_string(), "the scalar target has no vector instructions");
}

#[test]
fn inner_loop() {
    let inner = for_("k", 4, ForKind::Serial, vec![store(x(), f32_load("a", x()))]);
    let why = reason(&func(DataType::F32, 16, 16, vec![inner])).unwrap();
    let want = ScalarReason::InnerLoop { lane: lane(), inner: "k".into(), kind: ForKind::Serial, extent: 4 };
    assert_eq!(why, want);
    assert_eq!(why.to_string(), "inner serial loop `k` (extent 4) in `x`: only blocks and unrolled loops vectorize");
    // Unrolled loops are expanded, up to 64 iterations.
    let unrolled = |n| for_("u", n, ForKind::Unrolled, vec![store(x(), f32_load("a", x()))]);
    assert_eq!(reason(&func(DataType::F32, 16, 16, vec![unrolled(64)])), None);
    let why = reason(&func(DataType::F32, 16, 16, vec![unrolled(65)])).unwrap();
    assert!(matches!(why, ScalarReason::InnerLoop { kind: ForKind::Unrolled, extent: 65, .. }), "{why:?}");
}

#[test]
fn allocation() {
    let t = LBuffer {
        name: "t".into(),
        dtype: DataType::F32,
        shape: vec![1],
        scope: Scope::Local,
        kind: LBufferKind::Temp { zeroed: true },
        row: None,
    };
    let why = reason(&func(DataType::F32, 16, 16, vec![LStmt::Alloc(t), store(x(), f32_load("a", x()))])).unwrap();
    assert_eq!(why, ScalarReason::Allocation { lane: lane(), buffer: "t".into() });
    assert_eq!(why.to_string(), "temporary `t` is declared inside `x`");
}

#[test]
fn no_blocks() {
    let why = reason(&func(DataType::F32, 16, 16, vec![for_("u", 1, ForKind::Serial, vec![])])).unwrap();
    assert_eq!(why, ScalarReason::NoBlocks { lane: lane() });
    assert_eq!(why.to_string(), "the body of `x` holds no block");
}

#[test]
fn integer_element_type() {
    let f = func(DataType::I32, 16, 16, vec![store(x(), load("a", DataType::I32, x()))]);
    let why = reason(&f).unwrap();
    assert_eq!(why, ScalarReason::ElementType { lane: lane(), block: "B".into(), dtype: DataType::I32 });
    assert_eq!(why.to_string(), "block `B` computes i32 values (integer element type: no i32 vectors)");
}

#[test]
fn mixed_element_types() {
    let wide = Expr::Cast(DataType::F64, Box::new(f32_load("a", x())));
    let f =
        func(DataType::F32, 16, 16, vec![store(x(), f32_load("a", x())), block("W", Expr::true_(), "out", x(), wide)]);
    let why = reason(&f).unwrap();
    let want = ScalarReason::MixedTypes { lane: lane(), block: "W".into(), dtype: DataType::F64, first: DataType::F32 };
    assert_eq!(why, want);
    assert_eq!(why.to_string(), "block `W` computes f64 values, the loop's first block f32");
}

#[test]
fn store_not_contiguous() {
    let why = reason(&func(DataType::F32, 32, 16, vec![store(x() * 2, f32_load("a", x()))])).unwrap();
    let want =
        ScalarReason::StoreNotContiguous { lane: lane(), block: "B".into(), buffer: "out".into(), stride: Some(2) };
    assert_eq!(why, want);
    assert_eq!(why.to_string(), "store to `out` (block `B`) is not contiguous in `x` (stride 2)");
    let why = reason(&func(DataType::F32, 32, 16, vec![store(x().floormod(4), f32_load("a", x()))])).unwrap();
    assert!(matches!(why, ScalarReason::StoreNotContiguous { stride: None, .. }), "{why:?}");
    assert!(why.to_string().ends_with("is not contiguous in `x` (not linear in it)"), "{why}");
}

#[test]
fn not_in_bounds() {
    let why = reason(&func(DataType::F32, 16, 16, vec![store(x(), f32_load("a", x() + 1))])).unwrap();
    let want = ScalarReason::NotInBounds { lane: lane(), block: "B".into(), access: "a[x + 1]".into() };
    assert_eq!(why, want);
    assert_eq!(why.to_string(), "access `a[x + 1]` (block `B`) not proven in bounds");
    // Stores too.
    let why = reason(&func(DataType::F32, 16, 16, vec![store(x() + 1, f32_load("a", x()))])).unwrap();
    assert!(matches!(&why, ScalarReason::NotInBounds { access, .. } if access == "out[x + 1]"), "{why:?}");
    // One element more and both are proven.
    assert_eq!(reason(&func(DataType::F32, 17, 16, vec![store(x() + 1, f32_load("a", x() + 1))])), None);
}

#[test]
fn init_condition() {
    let init_cond = Expr::binary(BinOp::Eq, x(), Expr::Int(0));
    let st = LStore { buffer: "out".into(), indices: vec![x()], value: f32_load("a", x()) };
    let b = LBlock {
        name: "B".into(),
        lets: vec![],
        predicate: Expr::true_(),
        init: Some((init_cond, st.clone())),
        store: st,
    };
    let why = reason(&func(DataType::F32, 16, 16, vec![LStmt::Block(Box::new(b))])).unwrap();
    assert_eq!(why, ScalarReason::InitCondition { lane: lane(), block: "B".into(), cond: "x == 0".into() });
    assert_eq!(why.to_string(), "the init condition `x == 0` of block `B` varies with `x`");
}

#[test]
fn lane_condition() {
    let pred = Expr::binary(BinOp::Ne, x(), Expr::Int(3));
    let why = reason(&func(DataType::F32, 16, 16, vec![block("B", pred, "out", x(), f32_load("a", x()))])).unwrap();
    assert_eq!(why, ScalarReason::LaneCondition { lane: lane(), block: "B".into(), cond: "x != 3".into() });
    assert_eq!(why.to_string(), "predicate `x != 3` of block `B` is not a linear <, <=, >, >= comparison in `x`");
    // A linear ordering vectorizes (checked at both ends of each vector).
    let pred = Expr::binary(BinOp::Lt, x(), Expr::Int(13));
    assert_eq!(reason(&func(DataType::F32, 16, 16, vec![block("B", pred, "out", x(), f32_load("a", x()))])), None);
}

#[test]
fn load_not_linear() {
    let why = reason(&func(DataType::F32, 16, 16, vec![store(x(), f32_load("a", x().floormod(4)))])).unwrap();
    assert_eq!(why, ScalarReason::LoadNotLinear { lane: lane(), block: "B".into(), access: "a[x % 4]".into() });
    assert_eq!(why.to_string(), "load `a[x % 4]` (block `B`) is not linear in `x`");
}

#[test]
fn lane_dependence() {
    let why = reason(&func(DataType::F32, 17, 16, vec![store(x(), f32_load("out", x() + 1))])).unwrap();
    assert_eq!(why, ScalarReason::LaneDependence { lane: lane(), block: "B".into(), buffer: "out".into() });
    assert_eq!(why.to_string(), "block `B` loads `out` where other lanes store (a dependence across lanes)");
    // Reading the element the lane itself writes is fine (an update in place).
    assert_eq!(reason(&func(DataType::F32, 17, 16, vec![store(x(), f32_load("out", x()))])), None);
}

#[test]
fn store_conflict() {
    let body = vec![store(x(), f32_load("a", x())), block("C", Expr::true_(), "out", x() + 16, f32_load("b", x()))];
    let why = reason(&func(DataType::F32, 32, 16, body)).unwrap();
    assert_eq!(why, ScalarReason::StoreConflict { lane: lane(), buffer: "out".into() });
    assert_eq!(why.to_string(), "stores to `out` at different indices (lanes would overlap)");
}

#[test]
fn no_vector_form() {
    let rem = Expr::binary(BinOp::Rem, f32_load("a", x()), f32_load("b", x()));
    let why = reason(&func(DataType::F32, 16, 16, vec![store(x(), rem)])).unwrap();
    let want = ScalarReason::NoVectorForm { lane: lane(), block: "B".into(), expr: "T.truncmod(a[x], b[x])".into() };
    assert_eq!(why, want);
    assert_eq!(why.to_string(), "`T.truncmod(a[x], b[x])` (block `B`) has no vector form");
    // `exp` has one for f32, not for f64 on AVX2.
    let exp = |dt| Expr::unary(UnOp::Exp, load("a", dt, x()));
    assert_eq!(reason(&func(DataType::F32, 16, 16, vec![store(x(), exp(DataType::F32))])), None);
    let why = reason(&func(DataType::F64, 16, 16, vec![store(x(), exp(DataType::F64))])).unwrap();
    assert!(matches!(why, ScalarReason::NoVectorForm { .. }), "{why:?}");
}

#[test]
fn partial_vector() {
    // 4 lanes of 8: one masked vector, which cannot gather a strided load...
    let why = reason(&func(DataType::F32, 16, 4, vec![store(x(), f32_load("a", x() * 2))])).unwrap();
    let want =
        ScalarReason::PartialVector { lane: lane(), block: "B".into(), what: "the strided load `a[x * 2]`".into() };
    assert_eq!(why, want);
    assert_eq!(
        why.to_string(),
        "`x` is shorter than a vector, and a masked vector cannot hold the strided load `a[x * 2]` (block `B`)"
    );
    // ...nor check a lane predicate.
    let pred = Expr::binary(BinOp::Lt, x(), Expr::Int(3));
    let why = reason(&func(DataType::F32, 16, 4, vec![block("B", pred, "out", x(), f32_load("a", x()))])).unwrap();
    assert!(
        matches!(&why, ScalarReason::PartialVector { what, .. } if what == "the lane predicate `x < 3`"),
        "{why:?}"
    );
    // With one full vector, the strided load is gathered and only the tail is scalar: no note.
    assert_eq!(reason(&func(DataType::F32, 32, 12, vec![store(x(), f32_load("a", x() * 2))])), None);
    assert_eq!(reason(&copy(16, 4)), None);
}
