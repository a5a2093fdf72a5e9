//! The schedule primitives, one family per file, and trace replay.
//!
//! | family | primitives |
//! |---|---|
//! | `get.rs` | `get_block`, `get_loops`, `get_producers`, `get_consumers` |
//! | `split.rs` | `split` |
//! | `fuse.rs` | `fuse` |
//! | `reorder.rs` | `reorder` |
//! | `for_kind.rs` | `parallel`, `vectorize`, `unroll` |
//! | `annotate.rs` | `annotate`, `unannotate` |
//! | `reduction.rs` | `decompose_reduction` |
//! | `rfactor.rs` | `rfactor` |
//! | `cache.rs` | `cache_read`, `cache_write`, `set_scope` |
//! | `layout.rs` | `transform_layout` |
//! | `compute_at/` | `compute_at`, `reverse_compute_at`, `sample_compute_location` |
//! | `compute_inline.rs` | `compute_inline`, `reverse_compute_inline` |
//! | `sampling.rs` | `sample_perfect_tile`, `sample_categorical` |
//!
//! Each file holds, in order: the family's error enum, its `check_*`
//! functions (each documenting its conditions), the transformation on the IR,
//! the `Schedule` methods (resolve handles, check, apply, record) and the
//! family's replay function. `compute_at/`, whose checks outgrew one file,
//! keeps its error enums and checks in `check.rs` and the rest in `mod.rs`.

pub mod annotate;
pub mod cache;
pub mod compute_at;
pub mod compute_inline;
pub mod for_kind;
pub mod fuse;
pub mod get;
pub mod layout;
pub mod reduction;
pub mod reorder;
pub mod rfactor;
pub mod sampling;
pub mod split;

use std::collections::HashMap;

use super::{BlockRV, ExprRV, LoopRV, ReplayError, Schedule, ScheduleError};
use crate::ir::PrimFunc;
use crate::trace::{print_inst_for_error, Arg, InstKind, Instruction, Rv, RvKind, Trace};

/// How replay treats the decisions recorded in a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionMode {
    /// Use every recorded decision; one that does not fit is an error.
    Strict,
    /// Use a recorded decision when it fits, sample a new one otherwise.
    Repair,
    /// Ignore recorded decisions and sample all of them.
    Resample,
}

/// Which buffer of a block an operation refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferSide {
    Read,
    Write,
}

/// Maps the handles of a trace being replayed to the new schedule's handles.
pub(crate) struct RvMap {
    map: HashMap<Rv, Rv>,
    inst: String,
}

/// How a handle kind is named in messages.
fn rv_kind_name(kind: RvKind) -> &'static str {
    match kind {
        RvKind::Block => "block",
        RvKind::Loop => "loop",
        RvKind::Expr => "value",
    }
}

impl RvMap {
    fn err(&self, what: impl Into<String>) -> ScheduleError {
        ScheduleError::BadInstruction { instruction: self.inst.clone(), what: what.into() }
    }

    fn rv(&self, a: &Arg, kind: RvKind) -> Result<u32, ScheduleError> {
        match a {
            Arg::Rv(r) if r.kind == kind => self
                .map
                .get(r)
                .map(|n| n.id)
                .ok_or_else(|| self.err(format!("handle `{r}` is used before it is defined"))),
            Arg::Rv(r) => Err(self.err(format!(
                "`{r}` is a {} handle, but a {} handle is expected here",
                rv_kind_name(r.kind),
                rv_kind_name(kind)
            ))),
            other => Err(self.err(format!("expected a {} handle, found `{other}`", rv_kind_name(kind)))),
        }
    }

    pub fn block(&self, a: &Arg) -> Result<BlockRV, ScheduleError> {
        self.rv(a, RvKind::Block).map(BlockRV)
    }

    pub fn loop_(&self, a: &Arg) -> Result<LoopRV, ScheduleError> {
        self.rv(a, RvKind::Loop).map(LoopRV)
    }

    pub fn expr(&self, a: &Arg) -> Result<ExprRV, ScheduleError> {
        self.rv(a, RvKind::Expr).map(ExprRV)
    }

    /// The named argument `name` of `inst`.
    pub fn arg<'a>(&self, inst: &'a Instruction, name: &str) -> Result<&'a Arg, ScheduleError> {
        inst.get(name).ok_or_else(|| self.err(format!("missing argument `{name}`")))
    }

    pub fn int(&self, inst: &Instruction, name: &str) -> Result<i64, ScheduleError> {
        self.arg(inst, name)?.as_int().ok_or_else(|| self.err(format!("`{name}` must be an integer")))
    }

    pub fn str_<'a>(&self, inst: &'a Instruction, name: &str) -> Result<&'a str, ScheduleError> {
        self.arg(inst, name)?.as_str().ok_or_else(|| self.err(format!("`{name}` must be a string")))
    }

    pub fn bool_(&self, inst: &Instruction, name: &str, default: bool) -> Result<bool, ScheduleError> {
        match inst.get(name) {
            None => Ok(default),
            Some(a) => a.as_bool().ok_or_else(|| self.err(format!("`{name}` must be True or False"))),
        }
    }

    #[allow(dead_code)] // for list-of-blocks arguments (cache_read's `consumer_blocks`)
    pub fn blocks(&self, a: &Arg) -> Result<Vec<BlockRV>, ScheduleError> {
        let items = a.as_list().ok_or_else(|| self.err("expected a list of block handles"))?;
        items.iter().map(|x| self.block(x)).collect()
    }

    pub fn loops(&self, args: &[&Arg]) -> Result<Vec<LoopRV>, ScheduleError> {
        args.iter().map(|x| self.loop_(x)).collect()
    }
}

impl Schedule {
    /// Replays `trace` onto a fresh schedule of `func`.
    ///
    /// With [`DecisionMode::Strict`] and a trace whose sampling instructions all
    /// carry decisions, the result is deterministic. On failure, says which
    /// step failed and why.
    pub fn replay(func: &PrimFunc, trace: &Trace, seed: u64, mode: DecisionMode) -> Result<Schedule, ReplayError> {
        let mut sch = Schedule::new(func.clone(), seed);
        sch.apply_trace(trace, mode)?;
        Ok(sch)
    }

    /// Applies every instruction of `trace` to this schedule. On failure,
    /// says which step failed and why, and the schedule is as the
    /// instructions before it left it.
    pub fn apply_trace(&mut self, trace: &Trace, mode: DecisionMode) -> Result<(), ReplayError> {
        let start = self.clone();
        let mut map = RvMap { map: HashMap::new(), inst: String::new() };
        for (n, inst) in trace.insts.iter().enumerate() {
            map.inst = print_inst_for_error(inst);
            let failed = |error| ReplayError { step: n + 1, instruction: map.inst.clone(), error: Box::new(error) };
            let outs = self.apply_inst(inst, &map, mode).map_err(failed)?;
            if outs.len() != inst.outputs.len() {
                // Known only once the instruction applied: undo it by
                // applying the instructions before it to the starting state
                // again (they succeeded, and replay is deterministic).
                let err =
                    map.err(format!("produces {} handles but the trace names {}", outs.len(), inst.outputs.len()));
                *self = start;
                let head = Trace { insts: trace.insts[..n].to_vec() };
                self.apply_trace(&head, mode).expect("the instructions before a failed one apply again");
                return Err(failed(err));
            }
            for (old, new) in inst.outputs.iter().zip(outs) {
                map.map.insert(*old, new);
            }
        }
        Ok(())
    }

    fn apply_inst(&mut self, inst: &Instruction, map: &RvMap, mode: DecisionMode) -> Result<Vec<Rv>, ScheduleError> {
        match inst.kind {
            InstKind::GetBlock | InstKind::GetLoops | InstKind::GetProducers | InstKind::GetConsumers => {
                get::replay(self, inst, map)
            }
            InstKind::Split => split::replay(self, inst, map),
            InstKind::Fuse => fuse::replay(self, inst, map),
            InstKind::Reorder => reorder::replay(self, inst, map),
            InstKind::Parallel | InstKind::Vectorize | InstKind::Unroll => for_kind::replay(self, inst, map),
            InstKind::Annotate | InstKind::Unannotate => annotate::replay(self, inst, map),
            InstKind::DecomposeReduction => reduction::replay(self, inst, map),
            InstKind::RFactor => rfactor::replay(self, inst, map),
            InstKind::CacheRead | InstKind::CacheWrite | InstKind::SetScope => cache::replay(self, inst, map),
            InstKind::TransformLayout => layout::replay(self, inst, map),
            InstKind::ComputeAt | InstKind::ReverseComputeAt | InstKind::SampleComputeLocation => {
                compute_at::replay(self, inst, map, mode)
            }
            InstKind::ComputeInline | InstKind::ReverseComputeInline => compute_inline::replay(self, inst, map),
            InstKind::SamplePerfectTile | InstKind::SampleCategorical => sampling::replay(self, inst, map, mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::schedule::testing::{matmul, replay_fails};
    use crate::trace::parse_trace_str;

    /// An instruction naming more or fewer outputs than it produces is found
    /// out only once it applied; the schedule must still be left as the
    /// instructions before it left it (IR, trace, handles, RNG).
    #[test]
    fn an_instruction_with_the_wrong_outputs_changes_nothing() {
        let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
        for line in [
            "sch.fuse(l1, l2, preserve_unit_iters=True)",
            "l4, l5, l6 = sch.split(loop=l2, factors=[None, 4], preserve_unit_iters=True)",
            "v4 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[4, 2])",
            "l4, l5 = sch.get_loops(block=b0)",
        ] {
            let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
            let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
            assert_eq!(n, 3, "{line}: {err}");
            assert!(err.to_string().contains("but the trace names"), "{err}");
        }
    }
}
