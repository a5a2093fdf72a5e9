//! `compute_at`, `reverse_compute_at` and `sample_compute_location`: move a
//! block under a loop of the blocks it feeds, or of the blocks that feed it.
//!
//! ```text
//! for i, j in T.grid(8, 8):                 sch.compute_at(block=y, loop=j_1_0, preserve_unit_loops=True, index=-1)
//!     y[vi, vj] = a[vi, vj] * 2.0     ==>   for i_1, j_1_0 in T.grid(8, 2):
//! for i_1, j_1_0, j_1_1 in T.grid(8, 2, 4):     for ax0, ax1 in T.grid(1, 4):
//!     z[vi, vj] = y[vi, vj] + 1.0                   y[vi = i_1 + ax0, vj = j_1_0 * 4 + ax1] = ...
//!                                               for j_1_1 in range(4):
//!                                                   z[...] = y[...] + 1.0
//! ```
//!
//! `compute_at(block, loop)` moves a producer under `loop`, which must enclose
//! all of its consumers. For one iteration of `loop` (the loops at and above it
//! fixed), the region of the producer's buffer that the consumers under `loop`
//! read is computed by relaxing the loops below `loop` over their ranges
//! ([`crate::ir::relax`]): every index is made affine in the loop variables
//! (`base + Σ cᵢ·xᵢ`), and a relaxed `xᵢ ∈ 0..eᵢ` widens it to
//! `min = base + Σ min(0, cᵢ·(eᵢ-1))`, `extent = Σ |cᵢ|·(eᵢ-1) + 1`. Accesses
//! of several consumers are united per dimension (exactly when they differ by
//! constants, otherwise by a constant hull). The block writes its buffer at `v + c` with distinct spatial
//! iteration variables `v`, so the region gives each such `v` a range
//! `min .. min + extent`; the block's other iteration variables (reduce ones,
//! and spatial ones its store does not index) keep their whole domain.
//!
//! A new loop `axK` (a fresh name) is created per iteration variable with the
//! binding `min + axK`; `preserve_unit_loops=False` drops the loops of extent
//! 1 (the binding is then `min`). A range as large as the domain becomes the
//! whole domain, a constant range is clipped to it, and where a range that
//! moves with the outer loops can leave the domain (a stencil at the border),
//! the predicate `lo <= binding` / `binding < extent` keeps the block inside it.
//!
//! The nest is inserted among the statements of `loop`'s body at `index`:
//! `-1` is the last legal position (right before the first statement holding
//! a consumer of the moved block; the end of the body when there is none),
//! `-2` the first legal one (right after the last statement holding a producer
//! of it; the start when there is none), and `k >= 0` the `k`-th statement
//! (it must lie between the two). The old nest is removed and loops it leaves
//! empty are pruned.
//!
//! `reverse_compute_at(block, loop)` is the mirror image for a consumer: it is
//! moved under the loop of its producers and computes, per iteration, the
//! region of its input that the producers under `loop` write (the write-back
//! of a `cache_write` placed under the tile loops of the block it caches). By
//! default (`-1`) it goes to the end of the body, right after its producers.
//!
//! Both keep results exact, which the checks below guard: instances of the
//! moved block may run more than once (the regions of consecutive iterations
//! overlap in a stencil), so it must be complete or a reduction with its init,
//! and a reduction is never split across iterations; no block between its old
//! and its new place may change what it reads or see what it writes. The new
//! loops' names are fresh after the old nest is removed (so `ax0` can come
//! back); handles to the removed loops go stale all the same.
//!
//! `sample_compute_location(block)` draws one of the places `block` may be
//! computed at: `-2` (inline it, when `compute_inline` is legal), `-1` (leave
//! it where it is) or `k`, the `k`-th loop (outermost first) around the first
//! consumer, as in TVM: loops are candidates down to the innermost loop common
//! to all consumers, unit loops are skipped, the walk stops at the first
//! data-parallel loop after a loop that is not data-parallel and at the
//! trailing loops that are not, and a candidate must pass `check_compute_at`.
//! The handle it returns is a loop, the root mark or the inline mark; given to
//! `compute_at`, the root mark is a no-op and the inline mark inlines the
//! block (both still recorded as `compute_at`, as TVM does).

use rand::Rng;

use super::compute_inline::{
    apply_compute_inline, apply_reverse_compute_inline, check_compute_inline, check_reverse_compute_inline,
};
use super::{DecisionMode, RvMap};
use crate::ir::{fresh_in, BinOp, BlockRealize, Expr, For, IterKind, PrimFunc, Stmt, Var};
use crate::schedule::analysis::{
    blocks_with_loops, consumers, iter_kinds_bound_to, normalize, prune_empty, replace_block, replace_loop,
};
use crate::schedule::{BlockRV, LoopRV, RvValue, Schedule, ScheduleError};
use crate::trace::{Arg, Decision, InstKind, Instruction, Rv};

mod check;

pub use check::{
    check_compute_at, check_reverse_compute_at, AxisPlan, ComputeAtError, LocationPlan, ReverseComputeAtError,
};

/// Whether loop `l` only drives spatial iteration variables of the blocks under it.
fn is_data_parallel(l: &For) -> bool {
    blocks_with_loops(&l.body).iter().all(|(br, _)| !iter_kinds_bound_to(br, &l.var).contains(&IterKind::Reduce))
}

/// The places `block` may be computed at, in TVM's order: `-2` (inline) when
/// legal, `-1` (root), then the legal loops around the first consumer, each
/// with its depth.
pub(crate) fn compute_locations(func: &PrimFunc, block: &str) -> Vec<(i64, RvValue)> {
    let mut out = Vec::new();
    if check_compute_inline(func, block).is_ok() {
        out.push((-2, RvValue::Inline));
    }
    out.push((-1, RvValue::Root));
    let cons = consumers(func, block);
    if cons.is_empty() {
        return out;
    }
    let chains: Vec<Vec<&For>> = cons.iter().map(|c| func.loops_of_block(c).unwrap()).collect();
    let first = &chains[0];
    let common = (0..first.len())
        .take_while(|&i| chains.iter().all(|c| c.get(i).is_some_and(|l| l.var == first[i].var)))
        .count();
    let datapar: Vec<bool> = first[..common].iter().map(|l| is_data_parallel(l)).collect();
    let last_datapar = datapar.iter().rposition(|d| *d);
    let mut visited_reduce = false;
    for (i, l) in first[..common].iter().enumerate() {
        if l.extent == 1 {
            continue;
        }
        if datapar[i] {
            if visited_reduce {
                break;
            }
        } else {
            visited_reduce = true;
            if last_datapar.is_none_or(|d| i > d) {
                break;
            }
        }
        if check_compute_at(func, block, l.var.name(), -1).is_ok() {
            out.push((i as i64, RvValue::Loop(l.var.to_string())));
        }
    }
    out
}

/// Builds the moved block's new nest: loops `axK`, bindings `min + axK`, and
/// the guards the plan asks for.
fn build_nest(func: &PrimFunc, br: &BlockRealize, plan: &LocationPlan, preserve_unit_loops: bool) -> Stmt {
    let axes = &plan.axes;
    let mut names = func.names();
    let mut loops: Vec<(Var, i64)> = Vec::new();
    let mut bindings = Vec::with_capacity(axes.len());
    let mut predicate = Expr::true_();
    for (iv, ax) in br.block.iter_vars.iter().zip(axes) {
        let mut bind = ax.min.clone();
        if preserve_unit_loops || ax.extent != 1 {
            let name = fresh_in(&names, &format!("ax{}", loops.len()));
            names.insert(name.clone());
            let v = Var::new(&name);
            bind.terms.push((Expr::var(&v), 1));
            loops.push((v, ax.extent));
        }
        let mut moving = bind.clone();
        moving.constant = 0;
        if ax.guard_low {
            predicate = predicate.and(Expr::binary(BinOp::Le, Expr::Int(-bind.constant), moving.to_expr()));
        }
        if ax.guard_high {
            predicate = predicate.and(moving.to_expr().lt(iv.extent - bind.constant));
        }
        bindings.push(bind.to_expr());
    }
    if !plan.predicate.is_true() {
        let iv = &br.block.iter_vars;
        let carried = plan.predicate.substitute(&|v| iv.iter().position(|x| &x.var == v).map(|k| bindings[k].clone()));
        predicate = predicate.and(carried);
    }
    let realize = BlockRealize { bindings, predicate, block: br.block.clone() };
    let mut nest = Stmt::Block(Box::new(realize));
    for (v, e) in loops.into_iter().rev() {
        nest = Stmt::For(Box::new(For::new(v, e, nest)));
    }
    nest
}

/// Moves the planned block: removes it (pruning loops left empty) and
/// inserts its new nest into the loop's body.
pub fn apply_location(func: &PrimFunc, plan: &LocationPlan, preserve_unit_loops: bool) -> PrimFunc {
    let br = func.block(&plan.block).expect("live block").clone();
    let removed = replace_block(func, &plan.block, |_| Stmt::Seq(vec![])).expect("live block");
    let removed = PrimFunc { body: prune_empty(removed.body.clone()), ..removed };
    // Fresh names are taken after the removal, so `ax0` can be reused.
    let nest = build_nest(&removed, &br, plan, preserve_unit_loops);
    let mut nest = Some(nest);
    let out = replace_loop(&removed, &plan.loop_, |mut l: For| {
        let mut stmts: Vec<Stmt> = match std::mem::replace(&mut l.body, Stmt::Seq(vec![])) {
            Stmt::Seq(v) => v,
            other => vec![other],
        };
        stmts.insert(plan.position, nest.take().unwrap());
        l.body = Stmt::seq(stmts);
        Stmt::For(Box::new(l))
    })
    .expect("the target loop survives the removal");
    normalize(out)
}

/// The loops around `block` that hold nothing else, which moving it removes.
fn loops_left_empty(func: &PrimFunc, block: &str) -> Vec<String> {
    let loops = func.loops_of_block(block).expect("live block");
    loops.iter().filter(|l| l.body.block_names() == [block]).map(|l| l.var.to_string()).collect()
}

impl Schedule {
    /// Moves producer `block` under `loop_`, computing there the part of its
    /// output that the consumers under `loop_` read (consumers after the nest
    /// around `loop_` then read the whole output it computed, see
    /// [`check_compute_at`]). `index` is the position in
    /// `loop_`'s body (-1: last legal, -2: first legal). A root-mark handle
    /// (from `sample_compute_location`) leaves the block in place; an inline
    /// mark inlines it.
    pub fn compute_at(
        &mut self,
        block: BlockRV,
        loop_: LoopRV,
        preserve_unit_loops: bool,
        index: i64,
    ) -> Result<(), ScheduleError> {
        self.move_block(InstKind::ComputeAt, block, loop_, preserve_unit_loops, index)
    }

    /// Moves consumer `block` under `loop_`, computing there the part of its
    /// output that depends on what the producers under `loop_` write. `index`
    /// as in [`Schedule::compute_at`]; a root mark is a no-op, an inline mark
    /// reverse-inlines the block.
    pub fn reverse_compute_at(
        &mut self,
        block: BlockRV,
        loop_: LoopRV,
        preserve_unit_loops: bool,
        index: i64,
    ) -> Result<(), ScheduleError> {
        self.move_block(InstKind::ReverseComputeAt, block, loop_, preserve_unit_loops, index)
    }

    /// `compute_at` (`kind` `ComputeAt`) or `reverse_compute_at`
    /// (`ReverseComputeAt`): resolve the handles, check, apply, record.
    fn move_block(
        &mut self,
        kind: InstKind,
        block: BlockRV,
        loop_: LoopRV,
        preserve_unit_loops: bool,
        index: i64,
    ) -> Result<(), ScheduleError> {
        let reverse = kind == InstKind::ReverseComputeAt;
        let name = self.block_name(block)?;
        match self.loop_value(loop_)?.clone() {
            RvValue::Root => {}
            RvValue::Inline => {
                let func = if reverse {
                    let producer = check_reverse_compute_inline(self.func(), &name)?;
                    apply_reverse_compute_inline(self.func(), &name, &producer)
                } else {
                    check_compute_inline(self.func(), &name)?;
                    apply_compute_inline(self.func(), &name)
                };
                self.commit(func, kind.name());
            }
            RvValue::Loop(var) => {
                let plan = if reverse {
                    check_reverse_compute_at(self.func(), &name, &var, index)?
                } else {
                    check_compute_at(self.func(), &name, &var, index)?
                };
                let func = apply_location(self.func(), &plan, preserve_unit_loops);
                let gone = loops_left_empty(self.func(), &name);
                self.commit(func, kind.name());
                self.forget_loops(&gone);
            }
            _ => unreachable!("loop_value returns loops and marks"),
        }
        self.record(location_inst(kind, block, loop_, preserve_unit_loops, index));
        Ok(())
    }

    /// Samples where `block` is computed (see the module doc), or takes
    /// `decision`: -2 inline, -1 root, `k` the `k`-th loop around its first consumer.
    pub fn sample_compute_location(&mut self, block: BlockRV, decision: Option<i64>) -> Result<LoopRV, ScheduleError> {
        self.sample_compute_location_mode(block, decision, DecisionMode::Strict)
    }

    /// Marks the handles of removed loops stale even when a new loop reuses
    /// the name (the new nest's `ax0` after the old nest's `ax0`).
    fn forget_loops(&mut self, names: &[String]) {
        for v in self.values_mut() {
            if matches!(v, RvValue::Loop(n) if names.contains(n)) {
                let RvValue::Loop(n) = std::mem::replace(v, RvValue::Root) else { unreachable!() };
                *v = RvValue::Removed(format!("loop `{n}`"));
            }
        }
    }

    pub(crate) fn sample_compute_location_mode(
        &mut self,
        block: BlockRV,
        decision: Option<i64>,
        mode: DecisionMode,
    ) -> Result<LoopRV, ScheduleError> {
        let name = self.block_name(block)?;
        let candidates = compute_locations(self.func(), &name);
        let mut inst = Instruction::new(InstKind::SampleComputeLocation).arg("block", Arg::Rv(block.rv()));
        let found = |d: i64| candidates.iter().position(|(k, _)| *k == d);
        let pick = match decision.filter(|_| mode != DecisionMode::Resample) {
            Some(d) => match found(d) {
                Some(p) => p,
                None if mode == DecisionMode::Strict => {
                    let legal: Vec<String> = candidates.iter().map(|(k, _)| k.to_string()).collect();
                    return Err(ScheduleError::BadDecision {
                        instruction: crate::trace::print_inst_for_error(&inst),
                        what: format!(
                            "{d} is not a compute location of block \"{name}\" (the candidates are {})",
                            legal.join(", ")
                        ),
                    });
                }
                None => self.rng().gen_range(0..candidates.len()),
            },
            None => self.rng().gen_range(0..candidates.len()),
        };
        let (d, value) = candidates[pick].clone();
        let l = self.new_loop_rv(value);
        inst.outputs = vec![l.rv()];
        inst.decision = Some(Decision::Int(d));
        self.record(inst);
        Ok(l)
    }
}

fn location_inst(kind: InstKind, block: BlockRV, loop_: LoopRV, preserve_unit_loops: bool, index: i64) -> Instruction {
    Instruction::new(kind)
        .arg("block", Arg::Rv(block.rv()))
        .arg("loop", Arg::Rv(loop_.rv()))
        .arg("preserve_unit_loops", Arg::Bool(preserve_unit_loops))
        .arg("index", Arg::Int(index))
}

pub(super) fn replay(
    sch: &mut Schedule,
    inst: &Instruction,
    map: &RvMap,
    mode: DecisionMode,
) -> Result<Vec<Rv>, ScheduleError> {
    let b = map.block(map.arg(inst, "block")?)?;
    if inst.kind == InstKind::SampleComputeLocation {
        let decision = match &inst.decision {
            None => None,
            Some(Decision::Int(v)) => Some(*v),
            Some(Decision::Ints(_)) => return Err(map.err("the decision of sample_compute_location is an integer")),
        };
        return Ok(vec![sch.sample_compute_location_mode(b, decision, mode)?.rv()]);
    }
    let l = map.loop_(map.arg(inst, "loop")?)?;
    let preserve = map.bool_(inst, "preserve_unit_loops", true)?;
    let index = if inst.get("index").is_some() { map.int(inst, "index")? } else { -1 };
    if inst.kind == InstKind::ComputeAt {
        sch.compute_at(b, l, preserve, index)?;
    } else {
        sch.reverse_compute_at(b, l, preserve, index)?;
    }
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use crate::interp;
    use crate::schedule::testing::{matmul, random_args};
    use crate::schedule::Schedule;

    /// Found by the property test: `rfactor` over an uneven split makes the
    /// split's pieces iteration variables of the rfactor block, whose predicate
    /// then limits them jointly; `compute_at` must keep it.
    #[test]
    fn moving_keeps_a_predicate_on_iteration_variables() {
        let func = matmul(10, 7, 15);
        let mut sch = Schedule::new(func.clone(), 0);
        sch.set_verify(true);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        let k = sch.split(l[2], &[None, Some(13.into()), Some(1.into())]).unwrap();
        let rf = sch.rfactor(k[2], 0).unwrap();
        let l = sch.get_loops(c).unwrap();
        sch.compute_at(rf, l[1], true, -1).unwrap();
        let br = sch.func().block("C_rf").unwrap();
        assert!(!br.predicate.is_true(), "the predicate is kept:\n{}", sch.func());
        let mut want = random_args(&func, 1);
        interp::run(&func, &mut want).unwrap();
        let mut got = random_args(&func, 1);
        interp::run(sch.func(), &mut got).unwrap();
        for (g, w) in got[2].as_f32().unwrap().iter().zip(want[2].as_f32().unwrap()) {
            assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    /// Found by the property test: the padding block of conv2d moved under
    /// the loop of the copy of its input is computed only where it reads the
    /// copy, never on its border; refused.
    #[test]
    fn reverse_compute_at_must_cover_the_domain() {
        let src = "fn f(a: [f32; 4], c: &mut [f32; 6]) {
            for i in 0..6 {
                block(\"pad\") {
                    let vi = axis::spatial(6, i);
                    c[vi] = if vi >= 1 && vi < 5 { a[vi - 1] } else { 0.0 };
                }
            }
        }";
        let mut sch = Schedule::new(crate::schedule::testing::kernel(src), 0);
        let pad = sch.get_block("pad").unwrap();
        let copy = sch.cache_read(pad, 0, "global").unwrap();
        let l = sch.get_loops(copy).unwrap();
        let before = sch.func().clone();
        assert_eq!(sch.reverse_compute_at(pad, l[0], true, -1).unwrap_err().kind(), "NotCovered");
        assert_eq!(sch.func(), &before);
    }

    /// A producer with a second consumer after the nest (softmax's `exp`,
    /// summed per row, then read again by the normalization) may move into
    /// the loop of the first when the nest computes all of it; the results
    /// stay the same; so may it when both consumers share the row loop and the
    /// second comes after the first's loop in it. A later consumer that the
    /// nest would leave without part of its input is refused.
    #[test]
    fn a_later_consumer_reads_what_the_whole_nest_computed() {
        let src = "fn f(a: [f32; 4, 10], c: &mut [f32; 4, 10]) {
            let e = alloc([f32; 4, 10]);
            let s = alloc([f32; 4]);
            for (i, j) in grid(4, 10) {
                block(\"E\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    e[vi, vj] = a[vi, vj].exp();
                }
            }
            for (i, k) in grid(4, 10) {
                block(\"S\") {
                    let (vi, vk) = axis::remap(\"SR\", (i, k));
                    init { s[vi] = 0.0; }
                    s[vi] += e[vi, vk];
                }
            }
            for (i, j) in grid(4, 10) {
                block(\"N\") {
                    let (vi, vj) = axis::remap(\"SS\", (i, j));
                    c[vi, vj] = e[vi, vj] / s[vi];
                }
            }
        }";
        let func = crate::schedule::testing::kernel(src);
        let mut sch = Schedule::new(func.clone(), 0);
        sch.set_verify(true);
        let (e, s) = (sch.get_block("E").unwrap(), sch.get_block("S").unwrap());
        let l = sch.get_loops(s).unwrap();
        let k = sch.split(l[1], &[None, Some(4.into())]).unwrap();
        sch.compute_at(e, k[0], true, -1).unwrap();
        assert!(!sch.func().block("E").unwrap().predicate.is_true(), "the last 4 of 10 are guarded:\n{}", sch.func());
        crate::schedule::testing::assert_same_results(&func, sch.func());

        // The sum moved under the row loop of the normalization: the
        // exponentials move into the sum's loop, and the normalization after
        // it in the same row loop reads what one row's nest computed (the row
        // in L1 between its passes).
        let mut sch = Schedule::new(func.clone(), 0);
        sch.set_verify(true);
        let (e, n) = (sch.get_block("E").unwrap(), sch.get_block("N").unwrap());
        let s = sch.get_block("S").unwrap();
        let ln = sch.get_loops(n).unwrap();
        sch.compute_at(s, ln[0], true, -1).unwrap();
        let ls = sch.get_loops(s).unwrap();
        sch.compute_at(e, ls[1], true, -1).unwrap();
        let outer = |f: &crate::ir::PrimFunc, b: &str| f.loops_of_block(b).unwrap()[0].var.clone();
        assert_eq!(outer(sch.func(), "E"), outer(sch.func(), "N"), "{}", sch.func());
        crate::schedule::testing::assert_same_results(&func, sch.func());

        // ... but not when the sum reads half of each row: the normalization
        // reads the other half too.
        let half = src.replace("for (i, k) in grid(4, 10) {", "for (i, k) in grid(4, 5) {");
        assert_ne!(half, src);
        let mut sch = Schedule::new(crate::schedule::testing::kernel(&half), 0);
        let (e, n) = (sch.get_block("E").unwrap(), sch.get_block("N").unwrap());
        let s = sch.get_block("S").unwrap();
        let ln = sch.get_loops(n).unwrap();
        sch.compute_at(s, ln[0], true, -1).unwrap();
        let ls = sch.get_loops(s).unwrap();
        assert_eq!(sch.compute_at(e, ls[1], true, -1).unwrap_err().kind(), "LaterConsumerNotCovered");
        // Nor under the normalization's own loop over the row (the sum, after
        // the nest there, would come before the block's new place).
        let mut sch = Schedule::new(func.clone(), 0);
        let (e, n) = (sch.get_block("E").unwrap(), sch.get_block("N").unwrap());
        let ln = sch.get_loops(n).unwrap();
        assert!(sch.compute_at(e, ln[1], true, -1).is_err());

        // A nest that computes part of the rows (the sum of row 0 only).
        let part = src.replace(
            "for (i, k) in grid(4, 10) {\n                block(\"S\") {\n                    let (vi, vk) = axis::remap(\"SR\", (i, k));",
            "for (i, k) in grid(1, 10) {\n                block(\"S\") {\n                    let vi = axis::spatial(4, i); let vk = axis::reduce(10, k);",
        );
        assert_ne!(part, src);
        let mut sch = Schedule::new(crate::schedule::testing::kernel(&part), 0);
        let (e, s) = (sch.get_block("E").unwrap(), sch.get_block("S").unwrap());
        let l = sch.get_loops(s).unwrap();
        assert_eq!(sch.compute_at(e, l[1], true, -1).unwrap_err().kind(), "LaterConsumerNotCovered");
    }
}
