//! Whether a loop the schedule marks vectorized can become SIMD code, and if
//! not, why ([`ScalarReason`]).
//!
//! A vectorized loop whose body fails a check is emitted as the scalar loop,
//! which is always correct; [`vectorization_report`] lists those loops with
//! the check that failed, so that a schedule that silently lost its vectors
//! can be told from one that has them (`tuner show` prints the list).
//!
//! The checks, in the order they run (`vector.rs` emits what passes):
//! 1. the body is blocks and unrolled loops (expanded) only;
//! 2. every block stores values of one float element type the ISA has;
//! 3. stores are contiguous in the lane variable and proven in bounds;
//! 4. the init condition is uniform across lanes, and every lane-varying
//!    conjunct of the predicate is a linear `<`, `<=`, `>`, `>=` comparison;
//! 5. loads are proven in bounds and linear in the lane variable;
//! 6. no lane reads or writes an element another lane of the same vector
//!    writes (a load or a second store of a written buffer at another index).
//!
//! Emission itself can still fail on an expression without a vector form
//! (a cast, an integer operator, `exp` of `f64`, ...), or, for a loop shorter
//! than one vector, on what a masked vector cannot do.

use std::fmt;

use crate::ir::{Analyzer, BinOp, DataType, Expr, ForKind, PrimFunc, Var};
use crate::target::Isa;

use super::bounds::{in_bounds, resolve};
use super::emit::Env;
use super::lir::{LBlock, LFunc, LStmt};

/// Why a loop marked vectorized is emitted as scalar code. `lane` is the
/// loop's variable; blocks, buffers and expressions are named as in the
/// lowered IR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScalarReason {
    /// The target has no vector instructions.
    ScalarIsa,
    /// The body holds a loop that is neither unrolled (at most 64
    /// iterations) nor of extent 1.
    InnerLoop { lane: String, inner: String, kind: ForKind, extent: i64 },
    /// The body declares a temporary.
    Allocation { lane: String, buffer: String },
    /// The body holds no block.
    NoBlocks { lane: String },
    /// A block computes values the ISA has no vectors of (integers, booleans).
    ElementType { lane: String, block: String, dtype: DataType },
    /// Blocks of the body compute values of different types.
    MixedTypes { lane: String, block: String, dtype: DataType, first: DataType },
    /// A store's index does not advance by one element per lane (`stride`
    /// `None`: the lane variable is inside a non-linear term).
    StoreNotContiguous { lane: String, block: String, buffer: String, stride: Option<i64> },
    /// An access the bounds prover (`bounds.rs`) cannot prove in bounds.
    NotInBounds { lane: String, block: String, access: String },
    /// A block's init runs for some lanes only.
    InitCondition { lane: String, block: String, cond: String },
    /// A lane-varying conjunct of a predicate is not a linear ordering.
    LaneCondition { lane: String, block: String, cond: String },
    /// A load's index is not linear in the lane variable.
    LoadNotLinear { lane: String, block: String, access: String },
    /// A lane loads an element another lane of the vector stores.
    LaneDependence { lane: String, block: String, buffer: String },
    /// Two stores to one buffer at different indices (lanes would overlap).
    StoreConflict { lane: String, buffer: String },
    /// An expression without a vector form on the ISA.
    NoVectorForm { lane: String, block: String, expr: String },
    /// The loop is shorter than a vector, and its one masked vector cannot
    /// do what the body needs.
    PartialVector { lane: String, block: String, what: String },
}

impl fmt::Display for ScalarReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ScalarReason::*;
        match self {
            ScalarIsa => write!(f, "the scalar target has no vector instructions"),
            InnerLoop { lane, inner, kind, extent } => write!(
                f,
                "inner {} loop `{inner}` (extent {extent}) in `{lane}`: only blocks and unrolled loops vectorize",
                kind.tvm_name()
            ),
            Allocation { lane, buffer } => write!(f, "temporary `{buffer}` is declared inside `{lane}`"),
            NoBlocks { lane } => write!(f, "the body of `{lane}` holds no block"),
            ElementType { block, dtype, .. } => {
                let kind = if *dtype == DataType::Bool { "boolean" } else { "integer" };
                write!(f, "block `{block}` computes {dtype} values ({kind} element type: no {dtype} vectors)")
            }
            MixedTypes { block, dtype, first, .. } => {
                write!(f, "block `{block}` computes {dtype} values, the loop's first block {first}")
            }
            StoreNotContiguous { lane, block, buffer, stride: Some(s) } => {
                write!(f, "store to `{buffer}` (block `{block}`) is not contiguous in `{lane}` (stride {s})")
            }
            StoreNotContiguous { lane, block, buffer, stride: None } => {
                write!(f, "store to `{buffer}` (block `{block}`) is not contiguous in `{lane}` (not linear in it)")
            }
            NotInBounds { block, access, .. } => {
                write!(f, "access `{access}` (block `{block}`) not proven in bounds")
            }
            InitCondition { lane, block, cond } => {
                write!(f, "the init condition `{cond}` of block `{block}` varies with `{lane}`")
            }
            LaneCondition { lane, block, cond } => {
                write!(f, "predicate `{cond}` of block `{block}` is not a linear <, <=, >, >= comparison in `{lane}`")
            }
            LoadNotLinear { lane, block, access } => {
                write!(f, "load `{access}` (block `{block}`) is not linear in `{lane}`")
            }
            LaneDependence { block, buffer, .. } => {
                write!(f, "block `{block}` loads `{buffer}` where other lanes store (a dependence across lanes)")
            }
            StoreConflict { buffer, .. } => {
                write!(f, "stores to `{buffer}` at different indices (lanes would overlap)")
            }
            NoVectorForm { block, expr, .. } => write!(f, "`{expr}` (block `{block}`) has no vector form"),
            PartialVector { lane, block, what } => {
                write!(f, "`{lane}` is shorter than a vector, and a masked vector cannot hold {what} (block `{block}`)")
            }
        }
    }
}

/// The loops of `func` (scheduled) marked vectorized that the code
/// generator emits as scalar code for `isa`, with the reason, in program
/// order (once per loop and reason, also when an unrolled loop around it
/// repeats it).
pub fn vectorization_report(func: &PrimFunc, isa: Isa) -> Vec<(Var, ScalarReason)> {
    report_lowered(&super::lower::lower(func), isa)
}

/// [`vectorization_report`] of a lowered function: what the emitter records
/// while it emits the function.
pub(crate) fn report_lowered(l: &LFunc, isa: Isa) -> Vec<(Var, ScalarReason)> {
    let mut em = super::emit::Emitter::new(isa, &super::CodegenOptions::default());
    em.func_body(l);
    let mut out: Vec<(Var, ScalarReason)> = Vec::new();
    for note in em.scalar_loops {
        if !out.contains(&note) {
            out.push(note);
        }
    }
    out
}

/// An access for messages: `a[index]`, the (flat) index as the block writes it.
pub(crate) fn access_text(buffer: &str, index: &Expr) -> String {
    format!("{buffer}[{index}]")
}

/// Expands unrolled loops; appends the blocks of the body to `out` with
/// unrolled variables substituted.
pub(crate) fn flatten_body(
    lane: &Var,
    body: &[LStmt],
    consts: &mut Vec<(Var, i64)>,
    out: &mut Vec<LBlock>,
) -> Result<(), ScalarReason> {
    for s in body {
        match s {
            LStmt::Block(b) => {
                let sub = |e: &Expr| e.substitute(&|v| consts.iter().find(|(x, _)| x == v).map(|(_, c)| Expr::Int(*c)));
                let mut b = (**b).clone();
                for l in &mut b.lets {
                    l.1 = sub(&l.1);
                }
                b.predicate = sub(&b.predicate);
                out.push(b);
            }
            LStmt::For { var, extent, kind: ForKind::Unrolled, body, .. } if *extent <= 64 => {
                for c in 0..*extent {
                    consts.push((var.clone(), c));
                    flatten_body(lane, body, consts, out)?;
                    consts.pop();
                }
            }
            LStmt::For { var, extent: 1, body, .. } => {
                consts.push((var.clone(), 0));
                flatten_body(lane, body, consts, out)?;
                consts.pop();
            }
            LStmt::For { var, extent, kind, .. } => {
                return Err(ScalarReason::InnerLoop {
                    lane: lane.to_string(),
                    inner: var.to_string(),
                    kind: *kind,
                    extent: *extent,
                })
            }
            LStmt::Alloc(buf) => {
                return Err(ScalarReason::Allocation { lane: lane.to_string(), buffer: buf.name.to_string() })
            }
        }
    }
    Ok(())
}

/// The element type of the body's blocks, when they share one the ISA has
/// vectors of (`supports`).
pub(crate) fn element_type(
    lane: &Var,
    blocks: &[LBlock],
    supports: impl Fn(DataType) -> bool,
) -> Result<DataType, ScalarReason> {
    let lane = lane.to_string();
    let first = blocks.first().ok_or_else(|| ScalarReason::NoBlocks { lane: lane.clone() })?;
    let dt = first.store.value.dtype();
    if !supports(dt) {
        return Err(ScalarReason::ElementType { lane, block: first.name.clone(), dtype: dt });
    }
    for b in blocks {
        let init = b.init.as_ref().map(|(_, s)| s.value.dtype()).filter(|t| *t != dt);
        let other = Some(b.store.value.dtype()).filter(|t| *t != dt).or(init);
        if let Some(t) = other {
            return Err(ScalarReason::MixedTypes { lane, block: b.name.clone(), dtype: t, first: dt });
        }
    }
    Ok(dt)
}

/// The coefficient of `x` in `e`, if `x` only appears linearly (not inside
/// a non-linear atom).
pub(crate) fn linear_in(an: &Analyzer, e: &Expr, x: &Var) -> Option<i64> {
    let lin = an.linear(e);
    if lin.terms.iter().any(|(atom, _)| atom.uses_var(x) && !matches!(atom, Expr::Var(v) if v == x)) {
        return None;
    }
    Some(lin.coef(x))
}

/// Checks 3–6 of the module doc on the (flattened) blocks of a loop over
/// `x`, with `x` bound in `env`.
pub(crate) fn check_blocks(blocks: &[LBlock], x: &Var, env: &Env) -> Result<(), ScalarReason> {
    let an = env.analyzer();
    let lane = || x.to_string();
    let mut written: Vec<(String, Expr)> = Vec::new();
    for b in blocks {
        let block = || b.name.clone();
        // Stores: contiguous in x.
        for st in b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store)) {
            let idx = resolve(b, &st.indices[0], env);
            let stride = linear_in(&an, &idx, x);
            if stride != Some(1) {
                return Err(ScalarReason::StoreNotContiguous {
                    lane: lane(),
                    block: block(),
                    buffer: st.buffer.to_string(),
                    stride,
                });
            }
            if !in_bounds(b, &st.buffer, &st.indices[0], env) {
                let access = access_text(&st.buffer, &st.indices[0]);
                return Err(ScalarReason::NotInBounds { lane: lane(), block: block(), access });
            }
            written.push((st.buffer.to_string(), idx));
        }
        // Conditions: uniform, or linear comparisons in x.
        let conds = resolve(b, &b.predicate, env).conjuncts();
        if let Some((c, _)) = &b.init {
            let c = resolve(b, c, env);
            if c.uses_var(x) {
                return Err(ScalarReason::InitCondition { lane: lane(), block: block(), cond: c.to_string() });
            }
        }
        for c in conds.iter().filter(|c| c.uses_var(x)) {
            let linear = match c {
                Expr::Binary(op, l, r) if op.is_compare() && *op != BinOp::Ne && *op != BinOp::Eq => {
                    linear_in(&an, &(*l.clone() - *r.clone()), x).is_some()
                }
                _ => false,
            };
            if !linear {
                return Err(ScalarReason::LaneCondition { lane: lane(), block: block(), cond: c.to_string() });
            }
        }
    }
    // Loads: in bounds; and no lane reads what another lane of the body writes.
    for b in blocks {
        let block = || b.name.clone();
        for st in b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store)) {
            for l in st.value.loads() {
                if !in_bounds(b, &l.buffer, &l.indices[0], env) {
                    let access = access_text(&l.buffer, &l.indices[0]);
                    return Err(ScalarReason::NotInBounds { lane: lane(), block: block(), access });
                }
                let idx = resolve(b, &l.indices[0], env);
                if super::periodic::periodic(&an, &idx, x, &l.buffer, env).is_some() {
                    // An input, read from its table (`periodic.rs`).
                    continue;
                }
                if linear_in(&an, &idx, x).is_none() {
                    let access = access_text(&l.buffer, &l.indices[0]);
                    return Err(ScalarReason::LoadNotLinear { lane: lane(), block: block(), access });
                }
                for (buf, w) in &written {
                    if buf.as_str() == &*l.buffer && an.linear(w) != an.linear(&idx) {
                        let buffer = buf.clone();
                        return Err(ScalarReason::LaneDependence { lane: lane(), block: block(), buffer });
                    }
                }
            }
        }
    }
    for (i, (buf, w)) in written.iter().enumerate() {
        for (buf2, w2) in &written[..i] {
            if buf == buf2 && an.linear(w) != an.linear(w2) {
                return Err(ScalarReason::StoreConflict { lane: lane(), buffer: buf.clone() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "legality_tests.rs"]
mod tests;
