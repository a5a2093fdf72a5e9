//! `parallel`, `vectorize`, `unroll`: change how a loop executes.
//!
//! The IR semantics do not change (the interpreter runs every loop serially);
//! the code generator emits a parallel-for, SIMD instructions or straight-line
//! code. Parallel and vectorized loops must be safe to run out of order.

use super::RvMap;
use crate::ir::{ForKind, IterKind, PrimFunc};
use crate::schedule::analysis::{blocks_with_loops, iter_kinds_bound_to, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{LoopRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { ForKindError, "for_kind",
    /// The loop drives a reduce iteration variable.
    BoundToReduce { loop_: String, block: String, kind: String } =>
        "cannot {kind} `{loop_}`: it is bound to a reduce iteration variable of block \"{block}\"",
    /// Every iteration of the loop writes the same elements of a block.
    WritesNotPartitioned { loop_: String, block: String, kind: String } =>
        "cannot {kind} `{loop_}`: block \"{block}\" does not depend on it, so every iteration would write the same elements",
    /// A parallel or vectorized loop inside a vectorized loop.
    NestedInVectorized { loop_: String, outer: String } =>
        "`{loop_}` is inside the vectorized loop `{outer}`; only the innermost loop can be vectorized",
}

fn verb(kind: ForKind) -> &'static str {
    match kind {
        ForKind::Parallel => "parallelize",
        ForKind::Vectorized => "vectorize",
        ForKind::Unrolled => "unroll",
        ForKind::Serial => "serialize",
    }
}

/// Checks that loop `var` may become `kind`.
///
/// Conditions for `parallel` and `vectorize`: 1. in every block under the
/// loop, the loop variable only feeds spatial iteration variables; 2. every
/// block under the loop depends on it (else its iterations all write the same
/// elements); 3. the loop is not inside a vectorized loop, and a loop to
/// vectorize has no parallel or vectorized loop inside it. `unroll` has no
/// conditions.
pub fn check_for_kind(func: &PrimFunc, var: &str, kind: ForKind) -> Result<(), ForKindError> {
    if kind == ForKind::Unrolled || kind == ForKind::Serial {
        return Ok(());
    }
    let what = verb(kind).to_string();
    if let Some(outer) = func.loops_above(var).unwrap().iter().find(|l| l.kind == ForKind::Vectorized) {
        return Err(ForKindError::NestedInVectorized { loop_: var.into(), outer: outer.var.to_string() });
    }
    let l = func.find_loop(var).unwrap();
    if kind == ForKind::Vectorized {
        let mut inner = None;
        l.body.walk(&mut |s, _| match s {
            crate::ir::Stmt::For(f) if inner.is_none() && matches!(f.kind, ForKind::Parallel | ForKind::Vectorized) => {
                inner = Some(f.var.to_string())
            }
            _ => {}
        });
        if let Some(inner) = inner {
            return Err(ForKindError::NestedInVectorized { loop_: inner, outer: var.into() });
        }
    }
    for (br, _) in blocks_with_loops(&l.body) {
        let kinds = iter_kinds_bound_to(br, &l.var);
        if kinds.contains(&IterKind::Reduce) {
            return Err(ForKindError::BoundToReduce { loop_: var.into(), block: br.block.name.clone(), kind: what });
        }
        if kinds.is_empty() {
            return Err(ForKindError::WritesNotPartitioned {
                loop_: var.into(),
                block: br.block.name.clone(),
                kind: what,
            });
        }
    }
    Ok(())
}

/// Sets the kind of loop `var`.
pub fn apply_for_kind(func: &PrimFunc, var: &str, kind: ForKind) -> PrimFunc {
    replace_loop(func, var, |mut l| {
        l.kind = kind;
        crate::ir::Stmt::For(Box::new(l))
    })
    .expect("the loop exists")
}

impl Schedule {
    fn set_for_kind(&mut self, l: LoopRV, kind: ForKind, inst: InstKind) -> Result<(), ScheduleError> {
        let var = self.loop_name(l)?;
        check_for_kind(self.func(), &var, kind)?;
        let func = apply_for_kind(self.func(), &var, kind);
        self.commit(func, inst.name());
        self.record(Instruction::new(inst).arg("loop", Arg::Rv(l.rv())));
        Ok(())
    }

    /// Runs the iterations of `l` in parallel (through the runtime's parallel-for).
    pub fn parallel(&mut self, l: LoopRV) -> Result<(), ScheduleError> {
        self.set_for_kind(l, ForKind::Parallel, InstKind::Parallel)
    }

    /// Maps the iterations of `l` to SIMD lanes.
    pub fn vectorize(&mut self, l: LoopRV) -> Result<(), ScheduleError> {
        self.set_for_kind(l, ForKind::Vectorized, InstKind::Vectorize)
    }

    /// Unrolls `l` into straight-line code.
    pub fn unroll(&mut self, l: LoopRV) -> Result<(), ScheduleError> {
        self.set_for_kind(l, ForKind::Unrolled, InstKind::Unroll)
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let l = map.loop_(map.arg(inst, "loop")?)?;
    match inst.kind {
        InstKind::Parallel => sch.parallel(l)?,
        InstKind::Vectorize => sch.vectorize(l)?,
        _ => sch.unroll(l)?,
    }
    Ok(vec![])
}
