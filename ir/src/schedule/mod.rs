//! Schedules: semantics-preserving transformations of a function, recorded as
//! a trace.
//!
//! A [`Schedule`] owns the IR being transformed. Primitives take handles
//! ([`BlockRV`], [`LoopRV`], [`ExprRV`]) and either transform the IR and record
//! an instruction, or return a [`ScheduleError`] and change nothing. Sampling
//! primitives draw from a seeded RNG (or take a given decision) and record the
//! decision, so replaying a trace with its decisions is deterministic and
//! replaying it without them samples afresh.
//!
//! ```
//! use kiln_ir::schedule::Schedule;
//! # let func = kiln_ir::schedule::testing::matmul(16, 16, 16);
//! let mut sch = Schedule::new(func, 0);
//! let c = sch.get_block("C").unwrap();
//! let loops = sch.get_loops(c).unwrap();
//! let split = sch.split(loops[1], &[None, Some(4.into())]).unwrap();
//! sch.reorder(&[loops[0], split[0], loops[2], split[1]]).unwrap();
//! sch.decompose_reduction(c, loops[2]).unwrap();
//! assert_eq!(sch.trace().insts.len(), 5);
//! ```

pub mod analysis;
mod error;
pub mod index_map;
pub mod primitive;
pub mod testing;

pub use error::{ReplayError, ScheduleError};
pub use primitive::{BufferSide, DecisionMode};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ir::PrimFunc;
use crate::trace::{Instruction, Rv, RvKind, Trace};

/// A handle to a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRV(pub(crate) u32);
/// A handle to a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoopRV(pub(crate) u32);
/// A handle to a sampled integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExprRV(pub(crate) u32);

impl BlockRV {
    pub fn rv(self) -> Rv {
        Rv { id: self.0, kind: RvKind::Block }
    }
}

impl LoopRV {
    pub fn rv(self) -> Rv {
        Rv { id: self.0, kind: RvKind::Loop }
    }
}

impl ExprRV {
    pub fn rv(self) -> Rv {
        Rv { id: self.0, kind: RvKind::Expr }
    }
}

/// What a handle currently denotes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RvValue {
    Block(String),
    Loop(String),
    /// `sample_compute_location`'s "stay at the root" choice.
    Root,
    /// `sample_compute_location`'s "inline it" choice.
    Inline,
    Int(i64),
    /// The block or loop was removed by a later step.
    Removed(String),
}

/// A split factor: a literal, a sampled value, or `None` (inferred).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Int(i64),
    Rv(ExprRV),
}

impl From<i64> for Factor {
    fn from(v: i64) -> Factor {
        Factor::Int(v)
    }
}

impl From<ExprRV> for Factor {
    fn from(v: ExprRV) -> Factor {
        Factor::Rv(v)
    }
}

/// A function being scheduled, with its trace.
#[derive(Clone, Debug)]
pub struct Schedule {
    func: PrimFunc,
    trace: Trace,
    values: Vec<RvValue>,
    rng: ChaCha8Rng,
    verify: bool,
}

impl Schedule {
    /// Starts scheduling `func`; `seed` seeds the sampling primitives.
    pub fn new(func: PrimFunc, seed: u64) -> Schedule {
        Schedule {
            func,
            trace: Trace::default(),
            values: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            verify: cfg!(debug_assertions),
        }
    }

    /// Checks the IR invariants after every primitive (on by default in debug builds).
    pub fn set_verify(&mut self, on: bool) {
        self.verify = on;
    }

    /// The current IR.
    pub fn func(&self) -> &PrimFunc {
        &self.func
    }

    /// The recorded trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Consumes the schedule, returning the IR and the trace.
    pub fn into_parts(self) -> (PrimFunc, Trace) {
        (self.func, self.trace)
    }

    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The value of a sampled integer.
    pub fn get(&self, v: ExprRV) -> Result<i64, ScheduleError> {
        match self.values.get(v.0 as usize) {
            Some(RvValue::Int(x)) => Ok(*x),
            _ => Err(ScheduleError::BadHandle { handle: v.rv().to_string(), expected: "sampled integer" }),
        }
    }

    /// What `pick` makes of the value handle `rv` denotes; a handle to a
    /// removed block or loop is stale, one `pick` refuses is not an `expected`.
    fn resolve<'a, T>(
        &'a self,
        rv: Rv,
        expected: &'static str,
        pick: impl FnOnce(&'a RvValue) -> Option<T>,
    ) -> Result<T, ScheduleError> {
        let v = self.values.get(rv.id as usize);
        match v.and_then(pick) {
            Some(t) => Ok(t),
            None => match v {
                Some(RvValue::Removed(what)) => {
                    Err(ScheduleError::StaleHandle { handle: rv.to_string(), what: what.clone() })
                }
                _ => Err(ScheduleError::BadHandle { handle: rv.to_string(), expected }),
            },
        }
    }

    /// The name of the block a handle denotes.
    pub fn block_name(&self, b: BlockRV) -> Result<String, ScheduleError> {
        self.resolve(b.rv(), "block", |v| match v {
            RvValue::Block(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// The variable name of the loop a handle denotes.
    pub fn loop_name(&self, l: LoopRV) -> Result<String, ScheduleError> {
        self.resolve(l.rv(), "loop", |v| match v {
            RvValue::Loop(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// What a loop handle denotes: a loop, or a mark of `sample_compute_location`.
    pub(crate) fn loop_value(&self, l: LoopRV) -> Result<&RvValue, ScheduleError> {
        self.resolve(l.rv(), "loop", |v| matches!(v, RvValue::Loop(_) | RvValue::Root | RvValue::Inline).then_some(v))
    }

    /// Resolves a split factor to its value (`None` stays `None`).
    pub(crate) fn factor_value(&self, f: Option<Factor>) -> Result<Option<i64>, ScheduleError> {
        match f {
            None => Ok(None),
            Some(Factor::Int(v)) => Ok(Some(v)),
            Some(Factor::Rv(r)) => self.get(r).map(Some),
        }
    }

    pub(crate) fn new_block_rv(&mut self, name: String) -> BlockRV {
        self.values.push(RvValue::Block(name));
        BlockRV(self.values.len() as u32 - 1)
    }

    pub(crate) fn new_loop_rv(&mut self, value: RvValue) -> LoopRV {
        self.values.push(value);
        LoopRV(self.values.len() as u32 - 1)
    }

    pub(crate) fn new_expr_rv(&mut self, v: i64) -> ExprRV {
        self.values.push(RvValue::Int(v));
        ExprRV(self.values.len() as u32 - 1)
    }

    /// Installs a transformed function: verifies it (when enabled) and marks
    /// handles to removed blocks and loops as stale.
    pub(crate) fn commit(&mut self, func: PrimFunc, what: &str) {
        if self.verify {
            if let Err(errs) = crate::ir::verify::verify(&func) {
                panic!("bug: `{what}` produced invalid IR:\n{}\n{}", errs.join("\n"), func);
            }
        }
        self.func = func;
        let mut loops = std::collections::HashSet::new();
        let mut blocks = std::collections::HashSet::new();
        self.func.body.walk(&mut |s, _| match s {
            crate::ir::Stmt::For(f) => {
                loops.insert(f.var.name().to_string());
            }
            crate::ir::Stmt::Block(br) => {
                blocks.insert(br.block.name.clone());
            }
            crate::ir::Stmt::Seq(_) => {}
        });
        for v in &mut self.values {
            match v {
                RvValue::Block(n) if !blocks.contains(n.as_str()) => *v = RvValue::Removed(format!("block \"{n}\"")),
                RvValue::Loop(n) if !loops.contains(n.as_str()) => *v = RvValue::Removed(format!("loop `{n}`")),
                _ => {}
            }
        }
    }

    /// Commits `func` (as [`Schedule::commit`]) and records `inst` with a
    /// handle to the new block `block` as its output; returns the handle.
    pub(crate) fn commit_with_new_block(&mut self, func: PrimFunc, block: String, inst: Instruction) -> BlockRV {
        self.commit(func, inst.kind.name());
        let b = self.new_block_rv(block);
        self.record(Instruction { outputs: vec![b.rv()], ..inst });
        b
    }

    pub(crate) fn values_mut(&mut self) -> &mut [RvValue] {
        &mut self.values
    }

    pub(crate) fn record(&mut self, inst: Instruction) {
        self.trace.insts.push(inst);
    }
}
