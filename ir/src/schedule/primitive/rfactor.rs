//! `rfactor`: factor a reduction over one of its loops into partial results.
//!
//! ```text
//! for j, k_0, k_1 in T.grid(128, 98, 8):      b1 = sch.rfactor(loop=l3, factor_axis=1)
//!     with T.block("y"):                 ==>  y_rf = T.alloc_buffer((128, 8))
//!         vj = j; vk = k_0 * 8 + k_1          for j, k_0, k_1 in T.grid(128, 98, 8):
//!         init: y[vj] = 0                         with T.block("y_rf"):
//!         y[vj] = y[vj] + x[vk] * w[vj, vk]           vk_1 = k_1 (spatial); vj = j; vk_0 = k_0 (reduce)
//!                                                     init: y_rf[vj, vk_1] = 0
//!                                                     y_rf[vj, vk_1] += x[vk_0 * 8 + vk_1] * w[vj, vk_0 * 8 + vk_1]
//!                                             for j_1, k_1_1 in T.grid(128, 8):
//!                                                 with T.block("y"):
//!                                                     vk_1 = k_1_1 (reduce); vj = j_1
//!                                                     init: y[vj] = 0
//!                                                     y[vj] = y[vj] + y_rf[vj, vk_1]
//! ```
//! As in TVM, the rfactor block `<block>_rf` takes the block's place under
//! its loops: the loop's values become a new spatial iteration variable
//! `v<loop>` (a new dimension of `<out>_rf` at `factor_axis`), and each reduce
//! iteration variable the loop fed is replaced by new reduce variables, one
//! per other loop in its binding. The write-back block keeps the block's name
//! (so its handles stay valid) and reduces `<out>_rf` over `v<loop>` under
//! fresh copies (`<loop>_1`) of the loops that feed spatial variables or no
//! variable, and of the rfactor loop. The rfactor nest keeps the original
//! loops, so loop handles now denote the rfactor nest: the partial sums can be
//! vectorized along the rfactor loop. Outer loops that hold other blocks too
//! (the block was moved under its consumer's row loop by `compute_at`) stay
//! where they are, around both nests, which take the place of the block's own
//! loops: a row's partial sums are computed beside the row's other blocks.
//! Sums are reassociated: floating-point
//! results may differ in the last bits.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::RvMap;
use crate::ir::{
    expr_to_string, fresh_in, simplify, Analyzer, BinOp, Block, BlockRealize, Buffer, Const, DataType, Expr, For,
    ForKind, IterKind, IterVar, Load, PrimFunc, Stmt, Store, Var,
};
use crate::schedule::analysis::{
    blocks_with_loops, flatten, is_quasi_affine, iter_kinds_bound_to, loop_var_names, normalize, replace_loop, writers,
};
use crate::schedule::error::{family_error, name_list};
use crate::schedule::{BlockRV, LoopRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { RFactorError, "rfactor",
    /// The loop does not contain exactly one block.
    NotSingleBlock { loop_: String, count: usize } =>
        "loop `{loop_}` contains {count} blocks; rfactor needs exactly one block under the loop",
    /// The block has no init or no reduce iteration variable.
    NotReduction { block: String } => "block \"{block}\" is not a reduction block with an init",
    /// The written element depends on a reduce iteration variable.
    WriteNotSpatial { block: String } =>
        "block \"{block}\" writes an element whose index depends on a reduce iteration variable",
    /// Another block under the block's loops writes the output too.
    NotSingleWriter { block: String, buffer: String, writers: String } =>
        "buffer `{buffer}` is written by {writers}; rfactor needs \"{block}\" to be its only writer under its loops",
    /// A binding is not quasi-affine in the loop variables.
    NotAffine { block: String, iter: String, binding: String } =>
        "the binding `{binding}` of `{iter}` in block \"{block}\" is not quasi-affine in the loop variables",
    /// The update is not a recognised commutative reduction.
    UnknownCombiner { block: String, update: String } =>
        "the update `{update}` of block \"{block}\" is not `out + e`, `out - e`, `out * e`, `T.max(out, e)` or `T.min(out, e)` with `e` not reading the output",
    /// The init value is not the identity of the reduction.
    InitNotIdentity { block: String, init: String, op: String } =>
        "the init value `{init}` of block \"{block}\" is not the identity of its `{op}` reduction, so partial results cannot each start from it",
    /// The loop is parallel, vectorized or unrolled.
    NotSerial { loop_: String } => "loop `{loop_}` is not serial; rfactor needs a serial loop",
    /// A loop feeds both spatial and reduce iteration variables.
    MixedLoop { block: String, loop_: String } =>
        "loop `{loop_}` feeds both spatial and reduce iteration variables of block \"{block}\"",
    /// The loop feeds a spatial iteration variable.
    SpatialLoop { block: String, loop_: String } =>
        "loop `{loop_}` feeds a spatial iteration variable of block \"{block}\"; rfactor needs a reduction loop",
    /// The loop feeds no reduce iteration variable.
    NotReduceLoop { block: String, loop_: String } =>
        "loop `{loop_}` feeds no reduce iteration variable of block \"{block}\"",
    /// The outermost reduction loop contains other blocks.
    ReduceLoopHasSiblings { block: String, loop_: String } =>
        "reduction loop `{loop_}` of block \"{block}\" contains other blocks",
    /// A loop feeding no iteration variable sits under a reduction loop.
    UnboundLoopUnderReduction { block: String, loop_: String } =>
        "loop `{loop_}` feeds no iteration variable of block \"{block}\" but has extent > 1 and sits under a reduction loop",
    /// `factor_axis` is outside `-(ndim + 1)..=ndim`.
    FactorAxisOutOfRange { buffer: String, ndim: usize, factor_axis: i64, lowest: i64 } =>
        "`{buffer}` has {ndim} dimension(s), so factor_axis must lie in {lowest}..={ndim}, not {factor_axis}",
    /// A predicate conjunct over other reduction loops may skip the partial results' init.
    PredicateNotSupported { block: String, conjunct: String } =>
        "the predicate `{conjunct}` of block \"{block}\" may hold for some values of the other reduction loops but not when they are 0, where the partial results are initialized",
}

/// The reductions rfactor understands: the commutative ones, and a
/// subtraction (`out − e`, a sum of the negated terms: each partial result
/// subtracts its terms from 0, the write-back adds the partial results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combiner {
    Add,
    Sub,
    Mul,
    Max,
    Min,
}

impl Combiner {
    /// The operator of the update (the rfactor block's too).
    fn op(self) -> BinOp {
        match self {
            Combiner::Add => BinOp::Add,
            Combiner::Sub => BinOp::Sub,
            Combiner::Mul => BinOp::Mul,
            Combiner::Max => BinOp::Max,
            Combiner::Min => BinOp::Min,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Combiner::Add => "+",
            Combiner::Sub => "-",
            Combiner::Mul => "*",
            Combiner::Max => "max",
            Combiner::Min => "min",
        }
    }

    /// How the write-back combines the partial results into the output:
    /// the update's operator, but `+` for a subtraction (its partial results
    /// are already negated).
    fn merge(self, lhs: Expr, rhs: Expr) -> Expr {
        match self {
            Combiner::Sub => Combiner::Add.combine(lhs, rhs),
            c => c.combine(lhs, rhs),
        }
    }

    /// Whether `c` is the identity element (for max and min the infinities and
    /// the extreme finite values both count, the latter being TVM's choice).
    fn is_identity(self, c: &Expr) -> bool {
        let Expr::Const(c) = c else { return false };
        let extreme = match (self, *c) {
            (Combiner::Max, Const::F32(v)) => v == f32::MIN,
            (Combiner::Min, Const::F32(v)) => v == f32::MAX,
            (Combiner::Max, Const::F64(v)) => v == f64::MIN,
            (Combiner::Min, Const::F64(v)) => v == f64::MAX,
            _ => false,
        };
        // (Compared as numbers: a sum may start from -0.0 too.)
        extreme || matches!(self.identity(c.dtype()), Some(Expr::Const(i)) if i.as_f64() == c.as_f64())
    }

    fn combine(self, lhs: Expr, rhs: Expr) -> Expr {
        Expr::binary(self.op(), lhs, rhs)
    }

    /// The identity element of `dtype` (what each partial result starts
    /// from when the block's init is another value), if it has one (the
    /// infinities become `i32::MIN` and `i32::MAX`: `Const::of` saturates).
    fn identity(self, dtype: DataType) -> Option<Expr> {
        if !matches!(dtype, DataType::F32 | DataType::F64 | DataType::I32) {
            return None;
        }
        let v = match self {
            Combiner::Add | Combiner::Sub => 0.0,
            Combiner::Mul => 1.0,
            Combiner::Max => f64::NEG_INFINITY,
            Combiner::Min => f64::INFINITY,
        };
        Some(Expr::Const(Const::of(dtype, v)))
    }
}

/// What the checks learned, for the transformation.
#[derive(Clone, Debug)]
pub struct RFactorPlan {
    pub block: String,
    pub loop_: String,
    pub combiner: Combiner,
    /// The update's right-hand side (the block's own expression, not the self-read).
    pub rhs: Expr,
    /// `factor_axis` made non-negative.
    pub factor_axis: usize,
    /// The loops around the block, outermost first.
    pub loops: Vec<For>,
    /// How many of the outer `loops` hold other blocks too: they stay around
    /// both new nests, which take the place of the block's own nest.
    pub shared: usize,
    /// Loops feeding reduce iteration variables, other than the rfactor loop:
    /// they do not appear around the write-back block.
    pub removed: Vec<Var>,
    /// The write-back block's predicate (over the original loop variables).
    pub write_back_predicate: Expr,
}

/// Recognises `out[S] = out[S] ⊕ e` (either operand order but `out − e`'s)
/// with `e` not reading `out`.
fn match_update(block: &Block) -> Option<(Combiner, Expr)> {
    let body = &block.body;
    let Expr::Binary(op, a, b) = &body.value else { return None };
    let combiner = match op {
        BinOp::Add => Combiner::Add,
        BinOp::Sub => Combiner::Sub,
        BinOp::Mul => Combiner::Mul,
        BinOp::Max => Combiner::Max,
        BinOp::Min => Combiner::Min,
        _ => return None,
    };
    let is_self = |e: &Expr| matches!(e, Expr::Load(l) if l.buffer == body.buffer && l.indices == body.indices);
    let reads_out = |e: &Expr| e.loads().iter().any(|l| l.buffer == body.buffer);
    if is_self(a) && !reads_out(b) {
        Some((combiner, (**b).clone()))
    } else if is_self(b) && !reads_out(a) && combiner != Combiner::Sub {
        Some((combiner, (**a).clone()))
    } else {
        None
    }
}

/// Checks `rfactor(loop, factor_axis)`.
///
/// Conditions: 1. exactly one block lies under the loop; 2. it is a
/// reduction block with an init; 3. the element it writes depends only on
/// spatial iteration variables; 4. no other block under its loops writes its
/// output;
/// 5. every binding is quasi-affine; 6. the update is `out = out ⊕ e` with ⊕
/// one of `+ * max min` and `e` not reading `out`; 7. ⊕ has an identity in
/// the element type (the partial results start from it; an init of another
/// value, `max` from 0 or a sum from a bias, starts the write-back); 8. the loop is serial; 9. among the block's loops, none
/// feeds both spatial and reduce variables, the rfactor loop feeds a reduce
/// variable and no spatial one, the outermost loop feeding a reduce variable
/// contains no other block, and no loop of extent > 1 feeding nothing sits
/// under a reduction loop; 10. `factor_axis` lies in
/// `-(ndim + 1)..=ndim`; 11. every predicate conjunct mentioning a reduction
/// loop other than the rfactor loop holds when those loops are 0 (where the
/// partial results are initialized) whenever it holds at all: it is always
/// true there, or it is a bound `e < c` (`<=`, `>`, `>=`) monotone in those
/// loops in the direction that makes 0 the easiest point.
pub fn check_rfactor(func: &PrimFunc, loop_: &str, factor_axis: i64) -> Result<RFactorPlan, RFactorError> {
    let l = func.find_loop(loop_).expect("live loop");
    let under = blocks_with_loops(&l.body);
    if under.len() != 1 {
        return Err(RFactorError::NotSingleBlock { loop_: loop_.into(), count: under.len() });
    }
    let br = under[0].0;
    let b = &br.block;
    let block = b.name.clone();
    let Some(init) = &b.init else { return Err(RFactorError::NotReduction { block }) };
    if !b.is_reduction() {
        return Err(RFactorError::NotReduction { block });
    }
    let reduce_vars: Vec<&Var> =
        b.iter_vars.iter().filter(|iv| iv.kind == IterKind::Reduce).map(|iv| &iv.var).collect();
    if b.body.indices.iter().any(|i| reduce_vars.iter().any(|v| i.uses_var(v))) {
        return Err(RFactorError::WriteNotSpatial { block });
    }
    // Other writers of the output are fine in nests of their own (a sum
    // rescaled in place afterwards): the rfactor and write-back nests take
    // the block's place, so every write keeps its order. Not under a loop of
    // the block's.
    let ws = writers(func, &b.body.buffer);
    let mine: Vec<Var> = func.loops_of_block(&block).unwrap_or_default().iter().map(|l| l.var.clone()).collect();
    let shares =
        |w: &String| *w != block && func.loops_of_block(w).unwrap_or_default().iter().any(|l| mine.contains(&l.var));
    if ws.iter().any(shares) {
        let writers = name_list(&ws, '"');
        return Err(RFactorError::NotSingleWriter { block, buffer: b.body.buffer.to_string(), writers });
    }
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        if !is_quasi_affine(bind) {
            return Err(RFactorError::NotAffine { block, iter: iv.var.to_string(), binding: expr_to_string(bind) });
        }
    }
    let Some((combiner, rhs)) = match_update(b) else {
        return Err(RFactorError::UnknownCombiner { block, update: expr_to_string(&b.body.value) });
    };
    let init_value = simplify(&init.value);
    if !combiner.is_identity(&init_value) && combiner.identity(init.value.dtype()).is_none() {
        return Err(RFactorError::InitNotIdentity {
            block,
            init: expr_to_string(&init.value),
            op: combiner.name().into(),
        });
    }
    if l.kind != ForKind::Serial {
        return Err(RFactorError::NotSerial { loop_: loop_.into() });
    }
    let loops: Vec<For> = func.loops_of_block(&block).unwrap().into_iter().cloned().collect();
    let mut seen_reduce = false;
    let mut removed = Vec::new();
    for lp in &loops {
        let kinds = iter_kinds_bound_to(br, &lp.var);
        let spatial = kinds.contains(&IterKind::Spatial);
        let reduce = kinds.contains(&IterKind::Reduce);
        let lname = lp.var.to_string();
        if spatial && reduce {
            return Err(RFactorError::MixedLoop { block, loop_: lname });
        }
        if lp.var.name() == loop_ {
            if spatial {
                return Err(RFactorError::SpatialLoop { block, loop_: lname });
            }
            if !reduce {
                return Err(RFactorError::NotReduceLoop { block, loop_: lname });
            }
        }
        if reduce {
            if !seen_reduce && blocks_with_loops(&lp.body).len() != 1 {
                return Err(RFactorError::ReduceLoopHasSiblings { block, loop_: lname });
            }
            seen_reduce = true;
            if lp.var.name() != loop_ {
                removed.push(lp.var.clone());
            }
        } else if !spatial && seen_reduce && lp.extent > 1 {
            return Err(RFactorError::UnboundLoopUnderReduction { block, loop_: lname });
        }
    }
    // Loops shared with other blocks (a `compute_at` placed the block under
    // its consumer's row loop) stay shared: both new nests go where the
    // block's own nest was.
    let shared = loops.iter().take_while(|lp| blocks_with_loops(&lp.body).len() > 1).count();
    let ndim = func.buffer(&b.body.buffer).expect("live buffer").shape.len();
    let lowest = -(ndim as i64 + 1);
    if factor_axis < lowest || factor_axis > ndim as i64 {
        return Err(RFactorError::FactorAxisOutOfRange {
            buffer: b.body.buffer.to_string(),
            ndim,
            factor_axis,
            lowest,
        });
    }
    let axis = if factor_axis < 0 { factor_axis + ndim as i64 + 1 } else { factor_axis } as usize;
    let write_back_predicate = write_back_predicate(&br.predicate, &loops, &removed)
        .map_err(|conjunct| RFactorError::PredicateNotSupported { block: block.clone(), conjunct })?;
    Ok(RFactorPlan {
        block,
        loop_: loop_.into(),
        combiner,
        rhs,
        factor_axis: axis,
        loops,
        shared,
        removed,
        write_back_predicate,
    })
}

/// The write-back block's predicate: the block's predicate with the removed
/// loops at 0, which is where each partial result is initialized. A conjunct
/// mentioning removed loops must hold there whenever it holds at all: either
/// it is always true there (and is dropped), or it is `e < c` / `e <= c`
/// with `e` non-decreasing in the removed loops (`>` / `>=`: non-increasing).
/// Returns the offending conjunct otherwise.
fn write_back_predicate(pred: &Expr, loops: &[For], removed: &[Var]) -> Result<Expr, String> {
    let mut an = Analyzer::new();
    for lp in loops.iter().filter(|l| !removed.contains(&l.var)) {
        an.bind(&lp.var, lp.extent);
    }
    let mut out = Expr::true_();
    for c in pred.conjuncts() {
        if !removed.iter().any(|v| c.uses_var(v)) {
            out = out.and(c);
            continue;
        }
        let at_zero = an.simplify(&c.substitute(&|v| removed.contains(v).then_some(Expr::Int(0))));
        if at_zero.is_true() {
            continue;
        }
        let monotone = match &c {
            Expr::Binary(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), a, b) => {
                let sign = if matches!(op, BinOp::Lt | BinOp::Le) { 1 } else { -1 };
                let diff = an.linear(&((**a).clone() - (**b).clone()));
                diff.terms.iter().all(|(atom, coef)| match atom {
                    Expr::Var(v) if removed.contains(v) => coef * sign >= 0,
                    other => !removed.iter().any(|v| other.uses_var(v)),
                })
            }
            _ => false,
        };
        if !monotone {
            return Err(expr_to_string(&c));
        }
        out = out.and(at_zero);
    }
    Ok(out)
}

fn fresh(names: &mut BTreeSet<String>, hint: &str) -> Var {
    let n = fresh_in(names, hint);
    names.insert(n.clone());
    Var::new(&n)
}

/// Removes the loops in `removed` (keeping their bodies).
fn strip_loops(s: Stmt, removed: &[Var]) -> Stmt {
    match s {
        Stmt::For(l) if removed.contains(&l.var) => strip_loops(l.body, removed),
        Stmt::For(mut l) => {
            let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
            l.body = strip_loops(body, removed);
            Stmt::For(l)
        }
        Stmt::Seq(v) => Stmt::seq(v.into_iter().map(|c| strip_loops(c, removed)).collect()),
        b => b,
    }
}

/// Renames loop variables and rewrites the bindings and predicates under them.
fn rename_loops(s: Stmt, renames: &[(Var, Var)]) -> Stmt {
    let sub = |v: &Var| renames.iter().find(|(o, _)| o == v).map(|(_, n)| Expr::var(n));
    match s {
        Stmt::For(mut l) => {
            if let Some((_, n)) = renames.iter().find(|(o, _)| *o == l.var) {
                l.var = n.clone();
            }
            let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
            l.body = rename_loops(body, renames);
            Stmt::For(l)
        }
        Stmt::Seq(v) => Stmt::Seq(v.into_iter().map(|c| rename_loops(c, renames)).collect()),
        Stmt::Block(mut br) => {
            br.bindings = br.bindings.iter().map(|b| b.substitute(&sub)).collect();
            br.predicate = br.predicate.substitute(&sub);
            Stmt::Block(br)
        }
    }
}

/// Builds the rfactor buffer, the rfactor block nest and the write-back
/// block; returns the new function and the rfactor block's name.
pub fn apply_rfactor(func: &PrimFunc, plan: &RFactorPlan) -> (PrimFunc, String) {
    let br = func.block(&plan.block).unwrap().clone();
    let b = &br.block;
    let out = func.buffer(&b.body.buffer).unwrap().clone();
    let rf_loop = plan.loops.iter().find(|l| l.var.name() == plan.loop_).unwrap().clone();
    // Buffers and blocks have separate namespaces (`y_rf` may name both).
    let buffers: BTreeSet<String> = func.buffers().map(|b| b.name.to_string()).collect();
    let rf_buf_name = fresh_in(&buffers, &format!("{}_rf", out.name));
    let blocks: BTreeSet<String> = func.blocks().iter().map(|b| b.block.name.clone()).collect();
    let rf_block_name = fresh_in(&blocks, &format!("{}_rf", plan.block));
    let mut global = func.names();
    global.insert(rf_buf_name.clone());
    global.insert(rf_block_name.clone());
    let rf_buf: Arc<str> = Arc::from(rf_buf_name.as_str());
    let init = b.init.clone().unwrap();
    // The partial results start from the identity of ⊕ when the init is
    // another value (`max(0, ..)`, a bias); the write-back block starts from
    // the init and combines them into it: `init ⊕ (⊕ partials)`.
    let rf_init = if plan.combiner.is_identity(&simplify(&init.value)) {
        init.value.clone()
    } else {
        plan.combiner.identity(init.value.dtype()).expect("checked")
    };

    // The rfactor block: the loop becomes a spatial variable; reduce variables
    // it fed are replaced by one reduce variable per other loop in their binding.
    let loop_names = loop_var_names(func);
    let mut rf_names: BTreeSet<String> = loop_names.clone();
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        if iv.kind == IterKind::Spatial || !bind.uses_var(&rf_loop.var) {
            rf_names.insert(iv.var.name().to_string());
        }
    }
    let extra = fresh(&mut rf_names, &format!("v{}", rf_loop.var));
    let mut loop_to_iter: Vec<(Var, Var)> = vec![(rf_loop.var.clone(), extra.clone())];
    let mut iters = vec![IterVar { var: extra.clone(), extent: rf_loop.extent, kind: IterKind::Spatial }];
    let mut bindings = vec![Expr::var(&rf_loop.var)];
    let mut old_to_new: Vec<(Var, Expr)> = Vec::new();
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        if iv.kind == IterKind::Spatial || !bind.uses_var(&rf_loop.var) {
            iters.push(iv.clone());
            bindings.push(bind.clone());
            continue;
        }
        for v in bind.vars() {
            let Some(lp) = plan.loops.iter().find(|l| l.var == v) else { continue };
            if loop_to_iter.iter().any(|(l, _)| *l == v) {
                continue;
            }
            let nv = fresh(&mut rf_names, &format!("v{v}"));
            iters.push(IterVar { var: nv.clone(), extent: lp.extent, kind: IterKind::Reduce });
            bindings.push(Expr::var(&v));
            loop_to_iter.push((v, nv));
        }
        let to_iter = |x: &Var| loop_to_iter.iter().find(|(l, _)| l == x).map(|(_, n)| Expr::var(n));
        old_to_new.push((iv.var.clone(), bind.substitute(&to_iter)));
    }
    let sub_old = |x: &Var| old_to_new.iter().find(|(o, _)| o == x).map(|(_, e)| e.clone());
    let mut rf_idx = b.body.indices.clone();
    rf_idx.insert(plan.factor_axis, Expr::var(&extra));
    let rf_load = Expr::Load(Load { buffer: rf_buf.clone(), dtype: out.dtype, indices: rf_idx.clone() });
    let rf_block = BlockRealize {
        bindings,
        predicate: br.predicate.clone(),
        block: Block {
            name: rf_block_name.clone(),
            iter_vars: iters,
            init: Some(Store { buffer: rf_buf.clone(), indices: rf_idx.clone(), value: rf_init }),
            body: Store {
                buffer: rf_buf.clone(),
                indices: rf_idx,
                value: plan.combiner.combine(rf_load, plan.rhs.substitute(&sub_old)),
            },
            annotations: b.annotations.clone(),
        },
    };
    let mut rf_nest = Stmt::Block(Box::new(rf_block));
    let own = &plan.loops[plan.shared..];
    for lp in own.iter().rev() {
        rf_nest = Stmt::For(Box::new(For { body: rf_nest, ..lp.clone() }));
    }

    // The write-back block, under the kept loops (renamed below).
    let mut wb_names: BTreeSet<String> = loop_names.clone();
    for iv in b.iter_vars.iter().filter(|iv| iv.kind == IterKind::Spatial) {
        wb_names.insert(iv.var.name().to_string());
    }
    let vr = fresh(&mut wb_names, &format!("v{}", rf_loop.var));
    let mut wb_iters = vec![IterVar { var: vr.clone(), extent: rf_loop.extent, kind: IterKind::Reduce }];
    let mut wb_bindings = vec![Expr::var(&rf_loop.var)];
    for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
        if iv.kind == IterKind::Spatial {
            wb_iters.push(iv.clone());
            wb_bindings.push(bind.clone());
        }
    }
    let mut wb_rf_idx = b.body.indices.clone();
    wb_rf_idx.insert(plan.factor_axis, Expr::var(&vr));
    let self_load =
        Expr::Load(Load { buffer: b.body.buffer.clone(), dtype: out.dtype, indices: b.body.indices.clone() });
    let wb_block = BlockRealize {
        bindings: wb_bindings,
        predicate: plan.write_back_predicate.clone(),
        block: Block {
            name: plan.block.clone(),
            iter_vars: wb_iters,
            init: Some(init),
            body: Store {
                buffer: b.body.buffer.clone(),
                indices: b.body.indices.clone(),
                value: plan.combiner.merge(
                    self_load,
                    Expr::Load(Load { buffer: rf_buf.clone(), dtype: out.dtype, indices: wb_rf_idx }),
                ),
            },
            annotations: b.annotations.clone(),
        },
    };
    // Fresh loop names must not clash with the new iteration variables either.
    global.extend(rf_names);
    global.extend(wb_names);
    let renames: Vec<(Var, Var)> = own
        .iter()
        .filter(|l| !plan.removed.contains(&l.var))
        .map(|l| (l.var.clone(), fresh(&mut global, l.var.name())))
        .collect();
    let f = crate::schedule::analysis::replace_block(func, &plan.block, |_| Stmt::Block(Box::new(wb_block))).unwrap();
    let outer = own[0].var.name().to_string();
    let f = replace_loop(&f, &outer, |l| {
        let wb = rename_loops(strip_loops(Stmt::For(Box::new(l)), &plan.removed), &renames);
        Stmt::Seq(vec![rf_nest, wb])
    })
    .unwrap();
    let mut allocs = f.allocs.clone();
    let mut shape = out.shape.clone();
    shape.insert(plan.factor_axis, rf_loop.extent);
    allocs.push(Buffer { name: rf_buf, dtype: out.dtype, shape, scope: out.scope });
    let f = PrimFunc { body: flatten(f.body), allocs, ..f };
    (normalize(f), rf_block_name)
}

impl Schedule {
    /// Factors the reduction under `loop_` into partial results indexed by
    /// `loop_` (stored at dimension `factor_axis` of a new buffer) and a
    /// write-back reduction over them; returns the rfactor block.
    pub fn rfactor(&mut self, loop_: LoopRV, factor_axis: i64) -> Result<BlockRV, ScheduleError> {
        let var = self.loop_name(loop_)?;
        let plan = check_rfactor(self.func(), &var, factor_axis)?;
        let (func, rf_block) = apply_rfactor(self.func(), &plan);
        let inst = Instruction::new(InstKind::RFactor)
            .arg("loop", Arg::Rv(loop_.rv()))
            .arg("factor_axis", Arg::Int(factor_axis));
        Ok(self.commit_with_new_block(func, rf_block, inst))
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let l = map.loop_(map.arg(inst, "loop")?)?;
    let axis = map.int(inst, "factor_axis")?;
    Ok(vec![sch.rfactor(l, axis)?.rv()])
}
