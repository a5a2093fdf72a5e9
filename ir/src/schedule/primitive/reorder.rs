//! `reorder`: permutes loops along one chain of perfectly nested loops.
//!
//! ```text
//! for i, j, k in T.grid(..):        sch.reorder(k, i)
//!     ...                      ==>  for k, j, i in T.grid(..):
//! ```
//! The given loops take the positions the same loops occupied, in the given
//! order; loops between them that are not given stay where they are.

use super::RvMap;
use crate::ir::{For, IterKind, PrimFunc, Stmt, Var};
use crate::schedule::analysis::{blocks_with_loops, iter_kinds_bound_to, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{LoopRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { ReorderError, "reorder",
    /// The same loop twice.
    Duplicate { loop_: String } => "loop `{loop_}` is given twice",
    /// The loops are not on one path from the root.
    NotInOneChain { a: String, b: String } =>
        "`{a}` and `{b}` are not nested in one another, so they cannot be reordered",
    /// Something other than a single loop sits between two of the loops.
    NotPerfectlyNested { outer: String } =>
        "the body of `{outer}` is not a single loop, so the loops below it cannot move above it",
    /// Two loops that each drive both spatial and reduce variables of a reduction would swap.
    MixedLoops { block: String, a: String, b: String } =>
        "loops `{a}` and `{b}` both drive spatial and reduce variables of block \"{block}\" (pieces of a fused spatial and reduce loop); swapping them would visit a reduction's elements out of order, with its init no longer first",
}

/// Checks a reorder and returns the chain of loop variables it rewrites
/// (outermost first) and the new order of that chain.
///
/// Conditions: 1. no loop repeats; 2. all loops lie on one path from the root;
/// 3. from the outermost to the innermost given loop, every loop's body is
/// exactly one loop; 4. no two loops that swap places both drive spatial and
/// reduce variables of one block with an init (the init runs where the reduce
/// variables are 0, which must stay the first instance of each output
/// element). With fewer than two loops there is nothing to reorder and the
/// chain is the given loops.
pub fn check_reorder(func: &PrimFunc, vars: &[String]) -> Result<(Vec<String>, Vec<String>), ReorderError> {
    if vars.len() <= 1 {
        return Ok((vars.to_vec(), vars.to_vec()));
    }
    for (i, v) in vars.iter().enumerate() {
        if vars[..i].contains(v) {
            return Err(ReorderError::Duplicate { loop_: v.clone() });
        }
    }
    // Depth of each loop and its ancestors.
    let paths: Vec<Vec<String>> = vars
        .iter()
        .map(|v| {
            let mut p: Vec<String> =
                func.loops_above(v).expect("live loop").iter().map(|l| l.var.to_string()).collect();
            p.push(v.clone());
            p
        })
        .collect();
    let deepest = paths.iter().max_by_key(|p| p.len()).unwrap();
    for (v, p) in vars.iter().zip(&paths) {
        if !deepest.contains(v) {
            let other = deepest.last().unwrap().clone();
            return Err(ReorderError::NotInOneChain { a: v.clone(), b: other });
        }
        let _ = p;
    }
    let top = paths.iter().map(|p| p.len()).min().unwrap() - 1;
    let chain: Vec<String> = deepest[top..].to_vec();
    // Perfect nesting along the chain.
    let mut cur = func.find_loop(&chain[0]).unwrap();
    for next in &chain[1..] {
        match &cur.body {
            Stmt::For(l) if l.var.name() == next => cur = l,
            _ => return Err(ReorderError::NotPerfectlyNested { outer: cur.var.to_string() }),
        }
    }
    let mut order = chain.clone();
    let mut given = vars.iter();
    for slot in order.iter_mut() {
        if vars.contains(slot) {
            *slot = given.next().unwrap().clone();
        }
    }
    let inner = func.find_loop(chain.last().unwrap()).unwrap();
    for (br, _) in blocks_with_loops(&inner.body) {
        if br.block.init.is_none() {
            continue;
        }
        let mixed = |v: &String| {
            let kinds = iter_kinds_bound_to(br, &Var::new(v));
            kinds.contains(&IterKind::Reduce) && kinds.contains(&IterKind::Spatial)
        };
        let at = |v: &String| order.iter().position(|o| o == v).unwrap();
        for (i, a) in chain.iter().enumerate() {
            for b in &chain[i + 1..] {
                if at(a) > at(b) && mixed(a) && mixed(b) {
                    return Err(ReorderError::MixedLoops { block: br.block.name.clone(), a: a.clone(), b: b.clone() });
                }
            }
        }
    }
    Ok((chain, order))
}

/// Rebuilds the chain in the new order.
pub fn apply_reorder(func: &PrimFunc, chain: &[String], order: &[String]) -> PrimFunc {
    replace_loop(func, &chain[0], |top: For| {
        let mut loops: Vec<For> = Vec::new();
        let mut cur = top;
        for _ in 1..chain.len() {
            let body = std::mem::replace(&mut cur.body, Stmt::Seq(vec![]));
            loops.push(cur);
            cur = match body {
                Stmt::For(l) => *l,
                _ => unreachable!("checked perfectly nested"),
            };
        }
        let body = std::mem::replace(&mut cur.body, Stmt::Seq(vec![]));
        loops.push(cur);
        let mut stmt = body;
        for v in order.iter().rev() {
            let mut l = loops.iter().find(|l| l.var.name() == v).unwrap().clone();
            l.body = stmt;
            stmt = Stmt::For(Box::new(l));
        }
        stmt
    })
    .expect("the loop exists")
}

impl Schedule {
    /// Reorders loops of one perfectly nested chain into the given order.
    /// Fewer than two loops leave the IR as it is (as in TVM).
    pub fn reorder(&mut self, loops: &[LoopRV]) -> Result<(), ScheduleError> {
        let vars: Vec<String> = loops.iter().map(|l| self.loop_name(*l)).collect::<Result<_, _>>()?;
        if vars.len() > 1 {
            let (chain, order) = check_reorder(self.func(), &vars)?;
            let func = apply_reorder(self.func(), &chain, &order);
            self.commit(func, "reorder");
        }
        let mut inst = Instruction::new(InstKind::Reorder);
        for l in loops {
            inst = inst.arg("", Arg::Rv(l.rv()));
        }
        self.record(inst);
        Ok(())
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let loops = map.loops(&inst.positional().collect::<Vec<_>>())?;
    sch.reorder(&loops)?;
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use crate::schedule::testing::matmul;
    use crate::schedule::Schedule;

    /// Found by the property test: pieces of a fused reduce-and-spatial loop
    /// must keep their order, or an element's first visit is not its init.
    #[test]
    fn swapping_pieces_of_a_mixed_loop_is_refused() {
        let mut sch = Schedule::new(matmul(16, 16, 16), 0);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        sch.reorder(&[l[2], l[0], l[1]]).unwrap();
        let f = sch.fuse(&[l[2], l[0]]).unwrap();
        let p = sch.split(f, &[Some(58.into()), None, Some(58.into())]).unwrap();
        let before = sch.func().clone();
        let err = sch.reorder(&[p[2], p[0]]).unwrap_err();
        assert_eq!(err.kind(), "MixedLoops");
        assert_eq!(sch.func(), &before);
        // Mixed loops may still move past a spatial one, keeping their order.
        let j = sch.get_loops(c).unwrap()[3];
        sch.reorder(&[j, p[0], p[1], p[2]]).unwrap();
    }
}
