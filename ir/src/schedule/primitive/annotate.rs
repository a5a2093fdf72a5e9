//! `annotate` / `unannotate`: attach a key and a value to a block or loop.
//!
//! Annotations guide code generation (for example `pragma_auto_unroll_max_step`
//! on a loop) and never change what the function computes.

use super::RvMap;
use crate::ir::{AnnValue, PrimFunc, Stmt};
use crate::schedule::analysis::{replace_block, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{BlockRV, ExprRV, LoopRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { AnnotateError, "annotate",
    /// An empty key.
    EmptyKey { target: String } => "the annotation key on {target} is empty",
    /// The key to remove is not there.
    Missing { target: String, key: String } => "{target} has no annotation \"{key}\"",
}

/// What an annotation is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnTarget {
    Block(BlockRV),
    Loop(LoopRV),
}

/// An annotation value: a literal or a sampled integer.
#[derive(Clone, Debug, PartialEq)]
pub enum AnnArg {
    Int(i64),
    Str(String),
    Rv(ExprRV),
}

fn set(func: &PrimFunc, target: &(bool, String), key: &str, value: Option<AnnValue>) -> PrimFunc {
    let edit = |anns: &mut crate::ir::Annotations| match &value {
        Some(v) => {
            anns.insert(key.to_string(), v.clone());
        }
        None => {
            anns.remove(key);
        }
    };
    if target.0 {
        replace_block(func, &target.1, |mut br| {
            edit(&mut br.block.annotations);
            Stmt::Block(Box::new(br))
        })
    } else {
        replace_loop(func, &target.1, |mut l| {
            edit(&mut l.annotations);
            Stmt::For(Box::new(l))
        })
    }
    .expect("live target")
}

impl Schedule {
    fn ann_target(&self, t: AnnTarget) -> Result<((bool, String), Arg, String), ScheduleError> {
        Ok(match t {
            AnnTarget::Block(b) => {
                let n = self.block_name(b)?;
                ((true, n.clone()), Arg::Rv(b.rv()), format!("block \"{n}\""))
            }
            AnnTarget::Loop(l) => {
                let n = self.loop_name(l)?;
                ((false, n.clone()), Arg::Rv(l.rv()), format!("loop `{n}`"))
            }
        })
    }

    /// Annotates a block or loop with `key = value`.
    pub fn annotate(&mut self, target: AnnTarget, key: &str, value: AnnArg) -> Result<(), ScheduleError> {
        let (t, arg, desc) = self.ann_target(target)?;
        if key.is_empty() {
            return Err(AnnotateError::EmptyKey { target: desc }.into());
        }
        let (v, varg) = match &value {
            AnnArg::Int(i) => (AnnValue::Int(*i), Arg::Int(*i)),
            AnnArg::Str(s) => (AnnValue::Str(s.clone()), Arg::Str(s.clone())),
            AnnArg::Rv(r) => (AnnValue::Int(self.get(*r)?), Arg::Rv(r.rv())),
        };
        let func = set(self.func(), &t, key, Some(v));
        self.commit(func, "annotate");
        self.record(
            Instruction::new(InstKind::Annotate)
                .arg("block_or_loop", arg)
                .arg("ann_key", Arg::Str(key.to_string()))
                .arg("ann_val", varg),
        );
        Ok(())
    }

    /// Removes annotation `key` from a block or loop.
    pub fn unannotate(&mut self, target: AnnTarget, key: &str) -> Result<(), ScheduleError> {
        let (t, arg, desc) = self.ann_target(target)?;
        let present = if t.0 {
            self.func().block(&t.1).is_some_and(|b| b.block.annotations.contains_key(key))
        } else {
            self.func().find_loop(&t.1).is_some_and(|l| l.annotations.contains_key(key))
        };
        if !present {
            return Err(AnnotateError::Missing { target: desc, key: key.to_string() }.into());
        }
        let func = set(self.func(), &t, key, None);
        self.commit(func, "unannotate");
        self.record(
            Instruction::new(InstKind::Unannotate).arg("block_or_loop", arg).arg("ann_key", Arg::Str(key.to_string())),
        );
        Ok(())
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let target = match map.arg(inst, "block_or_loop")? {
        a @ Arg::Rv(r) if r.kind == crate::trace::RvKind::Block => AnnTarget::Block(map.block(a)?),
        a => AnnTarget::Loop(map.loop_(a)?),
    };
    let key = map.str_(inst, "ann_key")?.to_string();
    if inst.kind == InstKind::Unannotate {
        sch.unannotate(target, &key)?;
        return Ok(vec![]);
    }
    let value = match map.arg(inst, "ann_val")? {
        Arg::Int(i) => AnnArg::Int(*i),
        Arg::Str(s) => AnnArg::Str(s.clone()),
        a @ Arg::Rv(_) => AnnArg::Rv(map.expr(a)?),
        _ => return Err(map.err("`ann_val` must be an integer, a string or a sampled value")),
    };
    sch.annotate(target, &key, value)?;
    Ok(vec![])
}
