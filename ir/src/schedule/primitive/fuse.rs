//! `fuse`: perfectly nested loops into one.
//!
//! ```text
//! for i, j in T.grid(64, 128):     l = sch.fuse(li, lj)
//!     B(vi = i, vj = j)       ==>  for i_j_fused in range(8192):
//!                                      B(vi = i_j_fused // 128, vj = i_j_fused % 128)
//! ```

use super::RvMap;
use crate::ir::{Expr, For, PrimFunc, Stmt, Var};
use crate::schedule::analysis::{normalize, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{LoopRV, RvValue, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { FuseError, "fuse",
    /// Fewer than two loops.
    TooFewLoops { count: usize } => "fuse needs at least two loops, got {count}",
    /// The loops are not each the only child of the previous one.
    NotPerfectlyNested { outer: String, inner: String } =>
        "`{inner}` is not the only statement directly inside `{outer}`, so they cannot be fused",
    /// The loops have different kinds.
    KindMismatch { outer: String, inner: String } =>
        "`{outer}` and `{inner}` are of different kinds (serial, parallel, vectorized, unrolled)",
    /// The same loop twice.
    Duplicate { loop_: String } => "loop `{loop_}` is given twice",
    /// The product of the extents does not fit in an `i64`.
    ExtentTooLarge { outer: String } =>
        "the loops fused from `{outer}` down have more than i64::MAX iterations in all",
}

/// Checks that `vars` (outermost first) can be fused and returns their extents.
///
/// Conditions: 1. at least two loops, no repeats; 2. each loop is the single
/// statement directly inside the previous one; 3. all loops have the same kind;
/// 4. the fused extent fits in an `i64`.
pub fn check_fuse(func: &PrimFunc, vars: &[String]) -> Result<Vec<i64>, FuseError> {
    if vars.len() < 2 {
        return Err(FuseError::TooFewLoops { count: vars.len() });
    }
    for (i, v) in vars.iter().enumerate() {
        if vars[..i].contains(v) {
            return Err(FuseError::Duplicate { loop_: v.clone() });
        }
    }
    let mut extents = Vec::new();
    let mut cur = func.find_loop(&vars[0]).expect("live loop");
    extents.push(cur.extent);
    for v in &vars[1..] {
        match &cur.body {
            Stmt::For(inner) if inner.var.name() == v => {
                if inner.kind != cur.kind {
                    return Err(FuseError::KindMismatch { outer: cur.var.to_string(), inner: v.clone() });
                }
                extents.push(inner.extent);
                cur = inner;
            }
            _ => return Err(FuseError::NotPerfectlyNested { outer: cur.var.to_string(), inner: v.clone() }),
        }
    }
    if extents.iter().try_fold(1i64, |p, e| p.checked_mul(*e)).is_none() {
        return Err(FuseError::ExtentTooLarge { outer: vars[0].clone() });
    }
    Ok(extents)
}

/// Fuses the checked loops `vars`; returns the new function and the fused variable.
pub fn apply_fuse(func: &PrimFunc, vars: &[String], extents: &[i64]) -> (PrimFunc, String) {
    let name = func.fresh_name(&format!("{}_fused", vars.join("_")));
    let fused = Var::new(&name);
    let total: i64 = extents.iter().product();
    let out = replace_loop(func, &vars[0], |outer: For| {
        let kind = outer.kind;
        let mut innermost = outer;
        for _ in 1..vars.len() {
            innermost = match innermost.body {
                Stmt::For(l) => *l,
                _ => unreachable!("checked perfectly nested"),
            };
        }
        // var_k = fused // (product of the extents inside it) % extent_k
        let mut subs: Vec<(Var, Expr)> = Vec::new();
        let mut inner_prod = 1;
        for (v, e) in vars.iter().zip(extents).rev() {
            let mut x = Expr::var(&fused);
            if inner_prod > 1 {
                x = x.floordiv(inner_prod);
            }
            if inner_prod * e < total {
                x = x.floormod(*e);
            }
            subs.push((Var::new(v), x));
            inner_prod *= e;
        }
        let body = innermost.body.map_blocks(&mut |mut br| {
            let sub = |v: &Var| subs.iter().find(|(x, _)| x == v).map(|(_, e)| e.clone());
            br.bindings = br.bindings.iter().map(|b| b.substitute(&sub)).collect();
            br.predicate = br.predicate.substitute(&sub);
            br
        });
        let mut l = For::new(fused.clone(), total, body);
        l.kind = kind;
        Stmt::For(Box::new(l))
    })
    .expect("the loop exists");
    (normalize(out), name)
}

impl Schedule {
    /// Fuses perfectly nested loops (outermost first) into one.
    pub fn fuse(&mut self, loops: &[LoopRV]) -> Result<LoopRV, ScheduleError> {
        let vars: Vec<String> = loops.iter().map(|l| self.loop_name(*l)).collect::<Result<_, _>>()?;
        let extents = check_fuse(self.func(), &vars)?;
        let (func, name) = apply_fuse(self.func(), &vars, &extents);
        self.commit(func, "fuse");
        let l = self.new_loop_rv(RvValue::Loop(name));
        let mut inst = Instruction::new(InstKind::Fuse);
        for x in loops {
            inst = inst.arg("", Arg::Rv(x.rv()));
        }
        inst = inst.arg("preserve_unit_iters", Arg::Bool(true));
        inst.outputs = vec![l.rv()];
        self.record(inst);
        Ok(l)
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let loops = map.loops(&inst.positional().collect::<Vec<_>>())?;
    Ok(vec![sch.fuse(&loops)?.rv()])
}
