//! `decompose_reduction`: split a reduction block's `init` into its own block.
//!
//! ```text
//! for i, j, k in T.grid(..):            b = sch.decompose_reduction(block=C, loop=k)
//!     with T.block("C"):          ==>   for i, j in T.grid(..):
//!         with T.init(): C = 0              with T.block("C_init"): C[vi, vj] = 0
//!         C = C + A * B                     for k in range(..):
//!                                               with T.block("C_update"): C = C + A * B
//! ```
//! The init block is placed right before `loop`, under copies (`*_init`) of
//! the loops at or below `loop` that drive spatial iteration variables. The
//! original block loses its init and is renamed `<name>_update`; its handles
//! follow the rename. (`rfactor` lives in `rfactor.rs`.)

use super::RvMap;
use crate::ir::{Block, BlockRealize, Expr, For, IterKind, PrimFunc, Stmt, Var};
use crate::schedule::analysis::{flatten, normalize, replace_block, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{BlockRV, LoopRV, RvValue, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { DecomposeReductionError, "decompose_reduction",
    /// The block has no init (or no reduce iteration variable).
    NotReduction { block: String } => "block \"{block}\" is not a reduction block with an init",
    /// The loop does not enclose the block.
    NotAnAncestor { block: String, loop_: String } => "loop `{loop_}` does not enclose block \"{block}\"",
    /// A loop outside `loop` (of more than one iteration) drives a reduce
    /// variable, so init would run more than once.
    ReduceLoopOutside { block: String, loop_: String, outer: String } =>
        "loop `{outer}` drives a reduce variable of block \"{block}\" but is outside `{loop_}`; decompose at `{outer}` or above",
    /// A loop drives both spatial and reduce variables.
    MixedLoop { block: String, loop_: String } =>
        "loop `{loop_}` drives both spatial and reduce variables of block \"{block}\"",
    /// A loop at or below `loop` drives no variable of the block, so it repeats the whole reduction.
    RepeatingLoop { block: String, loop_: String, repeating: String } =>
        "loop `{repeating}` (at or below `{loop_}`) drives no iteration variable of block \"{block}\", so it runs the whole reduction again, each time from its init; with the init moved above it, the repeats would accumulate",
    /// The loops at or below `loop` run some instance more than once (or it cannot be shown they do not).
    RepeatedInstances { block: String, loop_: String } =>
        "the loops from `{loop_}` down may run an instance of block \"{block}\" more than once (a loop fused from its loop and another); each run starts over from its init, which decomposing would move out of the repeats",
}

/// Checks `decompose_reduction(block, loop)`; returns the loops from `loop`
/// down to the block.
///
/// Conditions: 1. the block has an init; 2. `loop` encloses it; 3. no loop
/// outside `loop` drives a reduce iteration variable; 4. no loop at or below
/// `loop` drives both spatial and reduce variables; 5. every loop at or below
/// `loop` of extent above 1 drives some iteration variable; 6. those loops
/// run each instance of the block once.
pub fn check_decompose_reduction(
    func: &PrimFunc,
    block: &str,
    loop_: &str,
) -> Result<Vec<For>, DecomposeReductionError> {
    let br = func.block(block).expect("live block");
    if br.block.init.is_none() || !br.block.is_reduction() {
        return Err(DecomposeReductionError::NotReduction { block: block.into() });
    }
    let loops = func.loops_of_block(block).unwrap();
    let Some(pos) = loops.iter().position(|l| l.var.name() == loop_) else {
        return Err(DecomposeReductionError::NotAnAncestor { block: block.into(), loop_: loop_.into() });
    };
    let drives = |v: &Var, kind: IterKind| {
        br.block.iter_vars.iter().zip(&br.bindings).any(|(iv, b)| iv.kind == kind && b.uses_var(v))
    };
    // A unit loop outside runs once: the init still runs once per output.
    for l in loops[..pos].iter().filter(|l| l.extent > 1) {
        if drives(&l.var, IterKind::Reduce) {
            return Err(DecomposeReductionError::ReduceLoopOutside {
                block: block.into(),
                loop_: loop_.into(),
                outer: l.var.to_string(),
            });
        }
    }
    for l in &loops[pos..] {
        if drives(&l.var, IterKind::Reduce) && drives(&l.var, IterKind::Spatial) {
            return Err(DecomposeReductionError::MixedLoop { block: block.into(), loop_: l.var.to_string() });
        }
    }
    if let Some(l) = loops[pos..].iter().find(|l| l.extent > 1 && br.bindings.iter().all(|b| !b.uses_var(&l.var))) {
        return Err(DecomposeReductionError::RepeatingLoop {
            block: block.into(),
            loop_: loop_.into(),
            repeating: l.var.to_string(),
        });
    }
    if !runs_each_instance_once(&loops, pos, br) {
        return Err(DecomposeReductionError::RepeatedInstances { block: block.into(), loop_: loop_.into() });
    }
    Ok(loops[pos..].iter().map(|l| (*l).clone()).collect())
}

/// Whether, for fixed loops above `loops[pos]`, the loops from there down
/// bind each instance of the block at most once (a loop fused from the
/// block's loop and another, `vi = f // 20`, repeats each instance; with the
/// init inside, each repeat starts over, but not once it is decomposed).
/// Each binding linear in the loops with coefficients that grow like a mixed
/// radix is injective; otherwise nests of up to 2^16 points are enumerated,
/// and larger ones refused.
fn runs_each_instance_once(loops: &[&For], pos: usize, br: &BlockRealize) -> bool {
    let inner = &loops[pos..];
    let an = crate::schedule::analysis::analyzer_for(loops);
    let mut seen: Vec<&Var> = Vec::new();
    let linear_ok = br.bindings.iter().all(|b| {
        let sum = an.linear(b);
        let mut steps: Vec<(i64, i64)> = Vec::new();
        for (atom, c) in &sum.terms {
            match atom.as_var() {
                Some(v) => match inner.iter().find(|l| &l.var == v) {
                    Some(l) if !seen.contains(&&l.var) => {
                        seen.push(&l.var);
                        steps.push((c.abs(), l.extent - 1));
                    }
                    Some(_) => return false,
                    None => {}
                },
                None if inner.iter().any(|l| atom.uses_var(&l.var)) => return false,
                None => {}
            }
        }
        steps.sort();
        let mut reach = 0;
        steps.iter().all(|(c, span)| {
            let ok = *span == 0 || *c > reach;
            reach += c * span;
            ok
        })
    });
    if linear_ok {
        return true;
    }
    let total = inner.iter().try_fold(1i64, |n, l| n.checked_mul(l.extent).filter(|n| *n <= 1 << 16));
    if total.is_none() {
        return false;
    }
    let mut instances = std::collections::HashSet::new();
    let mut point = vec![0i64; inner.len()];
    loop {
        let mut an = crate::ir::Analyzer::new();
        for (l, x) in inner.iter().zip(&point) {
            an.bind_range(&l.var, *x, *x);
        }
        let off = matches!(an.simplify(&br.predicate), crate::ir::Expr::Const(crate::ir::Const::Bool(false)));
        // The instance, as the bindings in the loops above (canonical forms).
        let at: Vec<String> = br.bindings.iter().map(|b| crate::ir::expr_to_string(&an.simplify(b))).collect();
        if !off && !instances.insert(at) {
            return false;
        }
        let mut d = inner.len();
        loop {
            if d == 0 {
                return true;
            }
            d -= 1;
            point[d] += 1;
            if point[d] < inner[d].extent {
                break;
            }
            point[d] = 0;
        }
    }
}

/// Builds the init block nest and rewrites the function; returns it with the
/// names of the init and update blocks.
pub fn apply_decompose_reduction(
    func: &PrimFunc,
    block: &str,
    loop_: &str,
    chain: &[For],
) -> (PrimFunc, String, String) {
    let br = func.block(block).unwrap().clone();
    let mut names = func.names();
    let init_name = crate::ir::fresh_in(&names, &format!("{block}_init"));
    names.insert(init_name.clone());
    let update_name = crate::ir::fresh_in(&names, &format!("{block}_update"));
    names.insert(update_name.clone());
    let spatial_only = |v: &Var| {
        let mut spatial = false;
        for (iv, b) in br.block.iter_vars.iter().zip(&br.bindings) {
            if b.uses_var(v) {
                if iv.kind == IterKind::Reduce {
                    return false;
                }
                spatial = true;
            }
        }
        spatial
    };
    // Copies of the spatial loops, renamed `<var>_init`.
    let mut copies: Vec<(Var, Var, For)> = Vec::new();
    for l in chain.iter().filter(|l| spatial_only(&l.var)) {
        let n = crate::ir::fresh_in(&names, &format!("{}_init", l.var));
        names.insert(n.clone());
        copies.push((l.var.clone(), Var::new(&n), l.clone()));
    }
    let sub = |v: &Var| copies.iter().find(|(o, _, _)| o == v).map(|(_, n, _)| Expr::var(n));
    let chain_vars: Vec<&Var> = chain.iter().map(|l| &l.var).collect();
    let iv_spatial: Vec<usize> =
        (0..br.block.iter_vars.len()).filter(|i| br.block.iter_vars[*i].kind == IterKind::Spatial).collect();
    // The init runs where the block ran its init: at the first iteration of
    // the loops it does not copy (where the reduce variables are 0). So the
    // predicate carries over with copied loops renamed and the others at 0;
    // conjuncts on those alone fold away (`k_0 * 4 + k_1 < 37`), and the rest
    // keeps bounding the spatial part (`f_0 * 12 + f_1 * 3 + f_2 < 111`).
    let first = |v: &Var| sub(v).or_else(|| chain_vars.contains(&v).then_some(Expr::Int(0)));
    let mut pred = Expr::true_();
    for c in br.predicate.conjuncts() {
        pred = pred.and(c.substitute(&first));
    }
    let init_block = BlockRealize {
        bindings: iv_spatial.iter().map(|i| br.bindings[*i].substitute(&sub)).collect(),
        predicate: pred,
        block: Block {
            name: init_name.clone(),
            iter_vars: iv_spatial.iter().map(|i| br.block.iter_vars[*i].clone()).collect(),
            init: None,
            body: br.block.init.clone().unwrap(),
            annotations: Default::default(),
        },
    };
    let mut nest = Stmt::Block(Box::new(init_block));
    for (_, n, l) in copies.iter().rev() {
        let mut c = For::new(n.clone(), l.extent, nest);
        c.kind = l.kind;
        c.annotations = l.annotations.clone();
        nest = Stmt::For(Box::new(c));
    }
    let f = replace_block(func, block, |mut br| {
        br.block.init = None;
        br.block.name = update_name.clone();
        Stmt::Block(Box::new(br))
    })
    .unwrap();
    let f = replace_loop(&f, loop_, |l| Stmt::Seq(vec![nest, Stmt::For(Box::new(l))])).unwrap();
    let f = PrimFunc { body: flatten(f.body), ..f };
    (normalize(f), init_name, update_name)
}

impl Schedule {
    /// Moves the init of reduction block `block` into a new block placed right
    /// before `loop_`; returns the init block. `block` is renamed `<name>_update`.
    pub fn decompose_reduction(&mut self, block: BlockRV, loop_: LoopRV) -> Result<BlockRV, ScheduleError> {
        let name = self.block_name(block)?;
        let var = self.loop_name(loop_)?;
        let chain = check_decompose_reduction(self.func(), &name, &var)?;
        let (func, init, update) = apply_decompose_reduction(self.func(), &name, &var, &chain);
        self.rename_block_handles(&name, &update);
        let inst = Instruction::new(InstKind::DecomposeReduction)
            .arg("block", Arg::Rv(block.rv()))
            .arg("loop", Arg::Rv(loop_.rv()));
        Ok(self.commit_with_new_block(func, init, inst))
    }

    /// Points every handle of block `old` at `new` (the block was renamed).
    pub(crate) fn rename_block_handles(&mut self, old: &str, new: &str) {
        for v in self.values_mut() {
            if matches!(v, RvValue::Block(n) if n == old) {
                *v = RvValue::Block(new.to_string());
            }
        }
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let b = map.block(map.arg(inst, "block")?)?;
    let l = map.loop_(map.arg(inst, "loop")?)?;
    Ok(vec![sch.decompose_reduction(b, l)?.rv()])
}

#[cfg(test)]
mod tests {
    use crate::schedule::testing::{kernel, matmul};
    use crate::schedule::Schedule;

    /// Found by the property test: a reduction moved under a loop that drives
    /// none of its variables runs again, from its init, per iteration;
    /// decomposing above that loop would accumulate the repeats.
    #[test]
    fn decomposing_above_a_repeating_loop_is_refused() {
        let mut sch = Schedule::new(matmul(4, 4, 4), 0);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        // Decomposing at a loop that drives a spatial variable is fine.
        let inner = sch.split(l[0], &[None, Some(1.into())]).unwrap();
        sch.decompose_reduction(c, inner[1]).unwrap();
        let mut sch = Schedule::new(
            kernel(
                "fn f(a: [f32; 4, 4], c: &mut [f32; 4]) {
                    for (r, i, k) in grid(3, 4, 4) {
                        block(\"C\") {
                            let (vi, vk) = axis::remap(\"SR\", (i, k));
                            init { c[vi] = 0.0; }
                            c[vi] += a[vi, vk];
                        }
                    }
                }",
            ),
            0,
        );
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let before = sch.func().clone();
        assert_eq!(sch.decompose_reduction(c, l[0]).unwrap_err().kind(), "RepeatingLoop");
        assert_eq!(sch.func(), &before);
        sch.decompose_reduction(c, l[2]).unwrap();
    }

    /// Also from the property test: a loop fused from the reduction's spatial
    /// loop and a consumer's loop (`vi = f // 4`) repeats each instance.
    #[test]
    fn decomposing_above_a_loop_repeating_instances_is_refused() {
        let mut sch = Schedule::new(
            kernel(
                "fn f(a: [f32; 4, 4], c: &mut [f32; 4]) {
                    for (f, k) in grid(16, 4) {
                        block(\"C\") {
                            let vi = axis::spatial(4, f / 4);
                            let vk = axis::reduce(4, k);
                            init { c[vi] = 0.0; }
                            c[vi] += a[vi, vk];
                        }
                    }
                }",
            ),
            0,
        );
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        assert_eq!(sch.decompose_reduction(c, l[0]).unwrap_err().kind(), "RepeatedInstances");
        sch.decompose_reduction(c, l[1]).unwrap();
    }
}
