//! The checks behind `compute_at` and `reverse_compute_at` (the conditions
//! the module documentation of [`super`] states): their error families, and
//! the [`LocationPlan`] a legal move yields — where the block goes, the range
//! of each of its iteration variables in its new nest, the predicate it keeps.

use crate::ir::region::block_loads;
use crate::ir::relax::union_regions;
use crate::ir::{
    block_read_buffers, Analyzer, BinOp, Block, BlockRealize, Expr, Interval, IterKind, PrimFunc, Relax, Stmt, Sum, Var,
};
use crate::schedule::analysis::{
    analyzer_for, block_position, consumers, first_writer_of, loop_block_span, loop_chain, loop_encloses,
    outermost_loop_apart, producers, writers,
};
use crate::schedule::error::{family_error, name_list};

family_error! { ComputeAtError, "compute_at",
    /// The loop already encloses the block.
    BlockUnderLoop { block: String, loop_: String } =>
        "block \"{block}\" is already under loop `{loop_}`; compute_at moves a block under a loop that does not enclose it",
    /// The block writes a function parameter.
    OutputBlock { block: String, buffer: String } =>
        "block \"{block}\" writes the function parameter `{buffer}`; only a block writing an intermediate buffer can be computed at a loop, where it computes only what its consumers read",
    /// A reduction block without init (an `_update` block).
    NotCompleteOrReduction { block: String } =>
        "block \"{block}\" has reduce iteration variables but no init (a decomposed reduction), so computing parts of it again would accumulate twice",
    /// Another block writes the same buffer.
    NotSoleWriter { block: String, buffer: String, other: String } =>
        "block \"{other}\" also writes `{buffer}`, the buffer of block \"{block}\"; compute_at needs a single writer",
    /// The store indices are not `v + c` with distinct spatial variables.
    StoreNotPlain { block: String, buffer: String } =>
        "block \"{block}\" writes `{buffer}` at indices that are not distinct spatial iteration variables plus constants, so the region its consumers read cannot be mapped back to its iteration domain",
    /// Nobody reads the block's buffer.
    NoConsumer { block: String } => "no block reads `{block}`'s output, so there is no loop to compute it at",
    /// A consumer lies outside the loop.
    ConsumerNotUnderLoop { block: String, loop_: String, consumer: String } =>
        "consumer \"{consumer}\" of block \"{block}\" is not under loop `{loop_}`; every consumer must be, or run after the nest around the loop (with another consumer under it)",
    /// A consumer after the nest would read what the moved block no longer computes.
    LaterConsumerNotCovered { block: String, loop_: String, consumer: String } =>
        "consumer \"{consumer}\" of block \"{block}\" runs after the nest around loop `{loop_}`, but the nest would not compute the whole output of \"{block}\" that it reads",
    /// A consumer runs before the block.
    ConsumerBeforeBlock { block: String, consumer: String } =>
        "consumer \"{consumer}\" runs before block \"{block}\"; moving the block under it would change what it reads",
    /// A block between the old and the new place writes one of the block's inputs.
    InputOverwritten { block: String, buffer: String, writer: String } =>
        "block \"{writer}\" writes `{buffer}`, which block \"{block}\" reads, between the block's place and the end of its new place; the moved block would read other values",
    /// The insertion position is outside the legal range.
    BadIndex { block: String, loop_: String, index: i64, lo: i64, hi: i64 } =>
        "index {index} is not a legal position for block \"{block}\" in the body of `{loop_}`: use -1, -2 or a position in {lo}..={hi}",
    /// The block's predicate is not a condition on its iteration variables.
    PredicateNotCarried { block: String } =>
        "block \"{block}\" has a predicate on loops that are not its iteration variables, which its new nest could not keep",
    /// A consumer access is not affine in the loops below the target loop.
    RegionNotAffine { block: String, consumer: String, loop_: String } =>
        "the region of \"{block}\"'s output that \"{consumer}\" reads in one iteration of `{loop_}` cannot be bounded: an index is not affine in the loops",
}

family_error! { ReverseComputeAtError, "reverse_compute_at",
    /// The loop already encloses the block.
    BlockUnderLoop { block: String, loop_: String } =>
        "block \"{block}\" is already under loop `{loop_}`; reverse_compute_at moves a block under a loop that does not enclose it",
    /// A reduction block without init (an `_update` block).
    NotCompleteOrReduction { block: String } =>
        "block \"{block}\" has reduce iteration variables but no init (a decomposed reduction), so computing parts of it again would accumulate twice",
    /// No input of the block is written under the loop.
    NoProducerUnderLoop { block: String, loop_: String } =>
        "no block under loop `{loop_}` writes a buffer that block \"{block}\" reads",
    /// Several inputs of the block are written under the loop.
    SeveralProducedInputs { block: String, loop_: String, buffers: String } =>
        "block \"{block}\" reads several buffers written under loop `{loop_}` ({buffers}); reverse_compute_at follows a single one",
    /// A writer of the followed input lies outside the loop.
    ProducerNotUnderLoop { block: String, loop_: String, producer: String } =>
        "producer \"{producer}\" of block \"{block}\" is not under loop `{loop_}`; every writer of the buffer it follows must be",
    /// A producer runs after the block.
    ProducerAfterBlock { block: String, producer: String } =>
        "producer \"{producer}\" runs after block \"{block}\"; moving the block under it would change what it reads",
    /// The block reads the followed input other than at `v + c` with distinct variables.
    LoadNotPlain { block: String, buffer: String } =>
        "block \"{block}\" reads `{buffer}` other than through one index tuple of distinct iteration variables plus constants, so the region its producers write cannot be mapped to its iteration domain",
    /// A block between the new and the old place reads or writes the block's output.
    OutputAccessed { block: String, buffer: String, other: String } =>
        "block \"{other}\" accesses `{buffer}`, the output of block \"{block}\", between the block's new place and its old one; it would see the block's writes early",
    /// A block between the new and the old place writes another input of the block.
    InputOverwritten { block: String, buffer: String, writer: String } =>
        "block \"{writer}\" writes `{buffer}`, which block \"{block}\" reads, between the block's new place and its old one; the moved block would read it too early",
    /// The insertion position is outside the legal range.
    BadIndex { block: String, loop_: String, index: i64, lo: i64, hi: i64 } =>
        "index {index} is not a legal position for block \"{block}\" in the body of `{loop_}`: use -1, -2 or a position in {lo}..={hi}",
    /// One iteration of the loop produces only part of what a reduce variable ranges over.
    ReductionSplit { block: String, loop_: String, var: String, buffer: String } =>
        "one iteration of `{loop_}` writes only part of the `{buffer}` elements that reduce variable `{var}` of block \"{block}\" ranges over; the reduction would be split across iterations",
    /// The block's predicate is not a condition on its iteration variables.
    PredicateNotCarried { block: String } =>
        "block \"{block}\" has a predicate on loops that are not its iteration variables, which its new nest could not keep",
    /// The iterations of the loops around the new place would not compute every element.
    NotCovered { block: String, loop_: String, var: String } =>
        "the iterations of `{loop_}` and the loops around it would not compute block \"{block}\" for every value of `{var}` (its producers write only part of what it ranges over, as with padding), so some of its output would never be written",
    /// A producer's write is not affine in the loops below the target loop.
    RegionNotAffine { block: String, producer: String, loop_: String } =>
        "the region that producer \"{producer}\" of block \"{block}\" writes in one iteration of `{loop_}` cannot be bounded: an index is not affine in the loops",
}

/// One iteration variable of the moved block in its new nest.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisPlan {
    /// The first value, linear in the loops at and above the target loop.
    pub min: Sum,
    pub extent: i64,
    /// Whether the predicate must keep `min + axK` at or above 0.
    pub guard_low: bool,
    /// Whether the predicate must keep `min + axK` below the variable's extent.
    pub guard_high: bool,
}

/// A checked `compute_at` or `reverse_compute_at`: where the block goes and
/// the range of each of its iteration variables.
#[derive(Clone, Debug, PartialEq)]
pub struct LocationPlan {
    pub block: String,
    pub loop_: String,
    /// The position among the statements of the loop's body.
    pub position: usize,
    /// One per iteration variable of the block, in order.
    pub axes: Vec<AxisPlan>,
    /// The block's predicate as a condition on its iteration variables
    /// (`true` for none), which the new nest keeps.
    pub predicate: Expr,
}

/// The block's predicate as a condition on its iteration variables, to carry
/// to a new nest; `None` when it cannot be. A conjunct over loops each bound
/// as a whole to an iteration variable (`k_0 * 44 + k_2 < 300` with
/// `vk_0 = k_0`, `vk_2 = k_2`: an uneven split that `rfactor` turned into
/// iteration variables) is rewritten in those variables; a conjunct that only
/// keeps one binding inside its domain (`i_0 * 4 + i_1 < 10` for
/// `vi = i_0 * 4 + i_1` of extent 10) is dropped, as the new nest keeps every
/// variable in its domain.
fn predicate_on_iter_vars(func: &PrimFunc, br: &BlockRealize) -> Option<Expr> {
    let an = analyzer_for(&func.loops_of_block(&br.block.name).expect("live block"));
    let mut out = Expr::true_();
    for c in br.predicate.conjuncts() {
        let as_iter = |v: &Var| {
            br.bindings.iter().zip(&br.block.iter_vars).find(|(b, _)| b.as_var() == Some(v)).map(|(_, iv)| &iv.var)
        };
        if c.vars().iter().all(|v| as_iter(v).is_some()) {
            out = out.and(c.substitute(&|v| as_iter(v).map(Expr::var)));
            continue;
        }
        // `e < n` or `n <= e` with `e` a binding plus a constant, implied by its domain.
        let implied = |e: &Expr, bound: i64, upper: bool| {
            br.bindings.iter().zip(&br.block.iter_vars).any(|(b, iv)| {
                an.linear(&(e.clone() - b.clone())).as_const().is_some_and(|d| {
                    if upper {
                        bound - d >= iv.extent
                    } else {
                        bound - d <= 0
                    }
                })
            })
        };
        let ok = match &c {
            Expr::Binary(BinOp::Lt, e, n) => n.as_int().is_some_and(|n| implied(e, n, true)),
            Expr::Binary(BinOp::Le, n, e) => n.as_int().is_some_and(|n| implied(e, n, false)),
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    Some(out)
}

/// Per buffer dimension, the iteration variable (position) and offset of an
/// index `v + c`, or `None` for a constant index.
type Pins = Vec<Option<(usize, i64)>>;

/// Reads `indices` of an access in `block` as `v + c` with distinct
/// iteration variables `v` (spatial ones unless `reduce_too`), or constants.
fn plain_pins(block: &Block, indices: &[Expr], reduce_too: bool) -> Option<Pins> {
    let an = Analyzer::new();
    let mut pins: Pins = Vec::with_capacity(indices.len());
    for e in indices {
        let s = an.linear(&an.simplify(e));
        match s.terms.as_slice() {
            [] => pins.push(None),
            [(Expr::Var(v), 1)] => {
                let k = block
                    .iter_vars
                    .iter()
                    .position(|iv| &iv.var == v && (reduce_too || iv.kind == IterKind::Spatial))?;
                if pins.iter().flatten().any(|(j, _)| *j == k) {
                    return None;
                }
                pins.push(Some((k, s.constant)));
            }
            _ => return None,
        }
    }
    Some(pins)
}

/// The region `indices` (an access of block `br`) covers during one iteration
/// of loop `at`, which encloses the block: the loops below `at` relaxed, those
/// at and above it symbolic; `None` if an index reads memory or cannot be
/// bounded in the relaxed loops.
fn relax_access(func: &PrimFunc, br: &BlockRealize, at: &str, indices: &[Expr]) -> Option<Vec<Interval>> {
    let loops = func.loops_of_block(&br.block.name)?;
    let pos = loops.iter().position(|l| l.var.name() == at)?;
    let relax = loops[pos + 1..].iter().fold(Relax::new(analyzer_for(&loops)), |r, l| r.over(&l.var, l.extent));
    let sub = |v: &Var| br.block.iter_vars.iter().position(|iv| &iv.var == v).map(|k| br.bindings[k].clone());
    let indices: Vec<Expr> = indices.iter().map(|e| relax.analyzer().simplify(&e.substitute(&sub))).collect();
    // The region's minimum becomes the moved block's bindings, which cannot read memory.
    if indices.iter().any(|e| !e.loads().is_empty()) {
        return None;
    }
    relax.region(&indices)
}

/// The union of the regions the `accesses` (a block and the indices of one of
/// its accesses) cover during one iteration of loop `loop_`, with an analyzer
/// knowing the loops fixed during it. `Err(Some(b))`: an access of block `b`
/// cannot be bounded; `Err(None)`: their union cannot be.
fn region_in_iteration(
    func: &PrimFunc,
    loop_: &str,
    accesses: &[(&str, &[Expr])],
) -> Result<(Vec<Interval>, Analyzer), Option<String>> {
    let mut ranges: Vec<Vec<Interval>> = Vec::new();
    for (block, indices) in accesses {
        let br = func.block(block).unwrap();
        ranges.push(relax_access(func, br, loop_, indices).ok_or_else(|| Some(block.to_string()))?);
    }
    let an = fixed_analyzer(func, loop_);
    let region = union_regions(&ranges, Some(&an)).ok_or(None)?;
    Ok((region, an))
}

/// The ranges of `block`'s iteration variables that cover `region` of the
/// buffer it accesses at `pins`; `an` knows the loops at and above the target.
fn plan_axes(block: &Block, pins: &Pins, region: &[Interval], an: &Analyzer) -> Vec<AxisPlan> {
    let plans = block.iter_vars.iter().enumerate().map(|(k, iv)| {
        let full = AxisPlan { min: Sum::constant(0), extent: iv.extent, guard_low: false, guard_high: false };
        let Some((d, off)) = pins.iter().enumerate().find_map(|(d, p)| p.filter(|(j, _)| *j == k).map(|(_, o)| (d, o)))
        else {
            return full;
        };
        let mut min = region[d].min();
        min.constant -= off;
        let extent = region[d].extent();
        if extent >= iv.extent {
            return full;
        }
        if let Some(c) = min.as_const() {
            let (lo, hi) = (c.max(0), (c + extent - 1).min(iv.extent - 1));
            if lo <= hi {
                return AxisPlan { min: Sum::constant(lo), extent: hi - lo + 1, guard_low: false, guard_high: false };
            }
        }
        let (lo, hi) = an.range(&min.to_expr()).unwrap_or((-1, iv.extent));
        AxisPlan { min, extent, guard_low: lo < 0, guard_high: hi + extent > iv.extent }
    });
    plans.collect()
}

/// The statements directly in a loop body.
fn body_stmts(s: &Stmt) -> Vec<&Stmt> {
    match s {
        Stmt::Seq(v) => v.iter().collect(),
        other => vec![other],
    }
}

/// The legal insertion range in the body of `loop_`: after the last statement
/// holding one of `after`, up to the first holding one of `before`; then the
/// position `index` selects, or `Err((lo, hi))`.
fn insertion_point(
    func: &PrimFunc,
    loop_: &str,
    after: &[String],
    before: &[String],
    index: i64,
) -> Result<usize, (i64, i64)> {
    let l = func.find_loop(loop_).expect("live loop");
    let stmts = body_stmts(&l.body);
    let holds = |s: &Stmt, set: &[String]| s.block_names().iter().any(|n| set.contains(n));
    let lo = stmts.iter().rposition(|s| holds(s, after)).map_or(0, |p| p as i64 + 1);
    let hi = stmts.iter().position(|s| holds(s, before)).unwrap_or(stmts.len()) as i64;
    match index {
        -1 if lo <= hi => Ok(hi as usize),
        -2 if lo <= hi => Ok(lo as usize),
        i if i >= lo && i <= hi => Ok(i as usize),
        _ => Err((lo, hi)),
    }
}

/// An analyzer knowing loop `loop_` and the loops around it (fixed during one
/// iteration of `loop_`).
fn fixed_analyzer(func: &PrimFunc, loop_: &str) -> Analyzer {
    let mut loops = func.loops_above(loop_).expect("live loop");
    loops.push(func.find_loop(loop_).expect("live loop"));
    analyzer_for(&loops)
}

/// Checks `compute_at(block, loop_, index)` and plans the new nest.
///
/// Conditions, in order: 1. `loop_` does not enclose the block; 2. the block
/// writes an intermediate buffer, not a parameter; 3. it is complete or a
/// reduction with init; 4. it is the only writer of its buffer; 5. it stores at
/// `v + c` with distinct spatial iteration variables (or constants); 6. it has
/// a consumer; 7. some consumer is under `loop_`, and every other runs after
/// the outermost loop around `loop_` that does not enclose the block, or,
/// inside a loop around `loop_`, after the subtree of the innermost such
/// loop that holds `loop_`; 8. no
/// consumer runs before the block; 9. no block from the block's place to the
/// end of that outermost loop writes a buffer the block reads; 10. `index` is
/// -1, -2 or a legal position; 11. every access of the consumers under
/// `loop_` to the buffer is affine in the loops below `loop_`; 12. with a
/// consumer after the nest, the nest computes the block's whole output (every
/// axis covered over the loops around `loop_`) and the block has no predicate
/// of its own; with a consumer after it inside a shared loop, one iteration
/// of that loop computes all that the consumer reads in it.
pub fn check_compute_at(func: &PrimFunc, block: &str, loop_: &str, index: i64) -> Result<LocationPlan, ComputeAtError> {
    let br = func.block(block).expect("live block");
    let b = || block.to_string();
    if loop_encloses(func, loop_, block) {
        return Err(ComputeAtError::BlockUnderLoop { block: b(), loop_: loop_.into() });
    }
    let buffer = br.block.body.buffer.clone();
    if func.param(&buffer).is_some() {
        return Err(ComputeAtError::OutputBlock { block: b(), buffer: buffer.to_string() });
    }
    if br.block.is_reduction() && br.block.init.is_none() {
        return Err(ComputeAtError::NotCompleteOrReduction { block: b() });
    }
    if let Some(other) = writers(func, &buffer).into_iter().find(|w| w != block) {
        return Err(ComputeAtError::NotSoleWriter { block: b(), buffer: buffer.to_string(), other });
    }
    let pins = plain_pins(&br.block, &br.block.body.indices, false)
        .ok_or_else(|| ComputeAtError::StoreNotPlain { block: b(), buffer: buffer.to_string() })?;
    let cons = consumers(func, block);
    if cons.is_empty() {
        return Err(ComputeAtError::NoConsumer { block: b() });
    }
    // Consumers outside the loop are allowed after the nest around it, when
    // another consumer is under it and the nest computes the whole output
    // (checked below): softmax's `exp` in the loop of its row sum, read again
    // by the normalization after it.
    let (inside, later): (Vec<String>, Vec<String>) = cons.iter().cloned().partition(|c| loop_encloses(func, loop_, c));
    if inside.is_empty() {
        return Err(ComputeAtError::ConsumerNotUnderLoop {
            block: b(),
            loop_: loop_.into(),
            consumer: cons[0].clone(),
        });
    }
    let pos = block_position(func, block).unwrap();
    if let Some(c) = cons.iter().find(|c| block_position(func, c).unwrap() < pos) {
        return Err(ComputeAtError::ConsumerBeforeBlock { block: b(), consumer: c.clone() });
    }
    let chain = loop_chain(func, loop_).expect("live loop");
    let apart = outermost_loop_apart(func, block, &chain).expect("the loop does not enclose the block");
    let (_, end) = loop_block_span(func, &apart).expect("the loop holds the consumers");
    // A later consumer comes after the nest: after the outermost loop apart
    // (it then reads the whole output, checked below), or, when it shares
    // loops of the chain (softmax's normalization after the row sum, both in
    // the row loop), after the subtree of the innermost one it shares (it then
    // reads what one iteration of that loop computes: `shared`).
    let mut shared: Vec<(String, String)> = Vec::new();
    let mut whole: Vec<String> = Vec::new();
    for c in &later {
        let at = block_position(func, c).unwrap();
        let last = match chain.iter().rposition(|l| loop_encloses(func, l, c)) {
            Some(k) => {
                shared.push((c.clone(), chain[k].clone()));
                // `loop_` does not enclose `c`: the chain goes on below `chain[k]`.
                loop_block_span(func, &chain[k + 1]).expect("the loop holds the consumers").1
            }
            None => {
                whole.push(c.clone());
                end
            }
        };
        if at <= last {
            return Err(ComputeAtError::ConsumerNotUnderLoop { block: b(), loop_: loop_.into(), consumer: c.clone() });
        }
    }
    if let Some((writer, buffer)) = first_writer_of(func, pos + 1..=end, &block_read_buffers(&br.block)) {
        return Err(ComputeAtError::InputOverwritten { block: b(), buffer, writer });
    }
    let position = insertion_point(func, loop_, &producers(func, block), &cons, index)
        .map_err(|(lo, hi)| ComputeAtError::BadIndex { block: b(), loop_: loop_.into(), index, lo, hi })?;
    let loads: Vec<_> = inside
        .iter()
        .flat_map(|c| block_loads(&func.block(c).unwrap().block).into_iter().map(move |l| (c, l)))
        .filter(|(_, l)| l.buffer == buffer)
        .collect();
    let accesses: Vec<_> = loads.iter().map(|(c, l)| (c.as_str(), l.indices.as_slice())).collect();
    let (region, an) = region_in_iteration(func, loop_, &accesses).map_err(|c| ComputeAtError::RegionNotAffine {
        block: b(),
        consumer: c.unwrap_or_else(|| cons[0].clone()),
        loop_: loop_.into(),
    })?;
    let predicate =
        predicate_on_iter_vars(func, br).ok_or_else(|| ComputeAtError::PredicateNotCarried { block: b() })?;
    let axes = plan_axes(&br.block, &pins, &region, &an);
    for (c, at) in &shared {
        if !covers_in_iteration(func, (&chain, at), (c, &buffer), (&pins, &axes), &an) {
            return Err(ComputeAtError::LaterConsumerNotCovered {
                block: b(),
                loop_: loop_.into(),
                consumer: c.clone(),
            });
        }
    }
    if let Some(c) = whole.first() {
        // The whole domain: a predicate (other than the guards of the new
        // nest) could leave elements out, so there must be none.
        let whole = br.block.iter_vars.iter().zip(&axes).all(|(iv, ax)| covers(&an, ax, iv.extent));
        if !whole || !predicate.is_true() {
            return Err(ComputeAtError::LaterConsumerNotCovered {
                block: b(),
                loop_: loop_.into(),
                consumer: c.clone(),
            });
        }
    }
    Ok(LocationPlan { block: b(), loop_: loop_.into(), position, axes, predicate })
}

/// Checks `reverse_compute_at(block, loop_, index)` and plans the new nest.
///
/// Conditions, in order: 1. `loop_` does not enclose the block; 2. it is
/// complete or a reduction with init; 3. exactly one buffer it reads (besides
/// its own output) is written under `loop_`; 4. every writer of that buffer is
/// under `loop_`; 5. none runs after the block; 6. the block reads the buffer
/// through one index tuple of distinct iteration variables plus constants;
/// 7. no block from the start of the outermost loop around `loop_`
/// that does not enclose the block up to the block reads or writes its output,
/// or writes another buffer it reads; 8. `index` is -1, -2 or a legal
/// position; 9. every producer's write is affine in the loops below `loop_`;
/// 10. one iteration of `loop_` produces the whole range of every reduce
/// variable that indexes the buffer.
pub fn check_reverse_compute_at(
    func: &PrimFunc,
    block: &str,
    loop_: &str,
    index: i64,
) -> Result<LocationPlan, ReverseComputeAtError> {
    let br = func.block(block).expect("live block");
    let b = || block.to_string();
    if loop_encloses(func, loop_, block) {
        return Err(ReverseComputeAtError::BlockUnderLoop { block: b(), loop_: loop_.into() });
    }
    if br.block.is_reduction() && br.block.init.is_none() {
        return Err(ReverseComputeAtError::NotCompleteOrReduction { block: b() });
    }
    let out = br.block.body.buffer.clone();
    let reads = block_read_buffers(&br.block);
    let produced: Vec<_> = reads
        .iter()
        .filter(|r| **r != out && writers(func, r).iter().any(|w| loop_encloses(func, loop_, w)))
        .cloned()
        .collect();
    let buffer = match produced.as_slice() {
        [] => return Err(ReverseComputeAtError::NoProducerUnderLoop { block: b(), loop_: loop_.into() }),
        [one] => one.clone(),
        many => {
            let buffers = name_list(many, '`');
            return Err(ReverseComputeAtError::SeveralProducedInputs { block: b(), loop_: loop_.into(), buffers });
        }
    };
    let prods = writers(func, &buffer);
    if let Some(p) = prods.iter().find(|p| !loop_encloses(func, loop_, p)) {
        return Err(ReverseComputeAtError::ProducerNotUnderLoop {
            block: b(),
            loop_: loop_.into(),
            producer: p.clone(),
        });
    }
    let pos = block_position(func, block).unwrap();
    if let Some(p) = prods.iter().find(|p| block_position(func, p).unwrap() > pos) {
        return Err(ReverseComputeAtError::ProducerAfterBlock { block: b(), producer: p.clone() });
    }
    let loads: Vec<_> = block_loads(&br.block).into_iter().filter(|l| l.buffer == buffer).collect();
    let pins = plain_pins(&br.block, &loads[0].indices, true)
        .filter(|_| loads.iter().all(|l| l.indices == loads[0].indices))
        .ok_or_else(|| ReverseComputeAtError::LoadNotPlain { block: b(), buffer: buffer.to_string() })?;
    let chain = loop_chain(func, loop_).expect("live loop");
    let apart = outermost_loop_apart(func, block, &chain).expect("the loop does not enclose the block");
    let (start, _) = loop_block_span(func, &apart).expect("the loop holds the producers");
    let blocks = func.blocks();
    for w in &blocks[start..pos] {
        if w.block.body.buffer == out || block_read_buffers(&w.block).contains(&out) {
            return Err(ReverseComputeAtError::OutputAccessed {
                block: b(),
                buffer: out.to_string(),
                other: w.block.name.clone(),
            });
        }
        if w.block.body.buffer != buffer && reads.contains(&w.block.body.buffer) {
            return Err(ReverseComputeAtError::InputOverwritten {
                block: b(),
                buffer: w.block.body.buffer.to_string(),
                writer: w.block.name.clone(),
            });
        }
    }
    let position = insertion_point(func, loop_, &prods, &consumers(func, block), index)
        .map_err(|(lo, hi)| ReverseComputeAtError::BadIndex { block: b(), loop_: loop_.into(), index, lo, hi })?;
    let accesses: Vec<_> =
        prods.iter().map(|p| (p.as_str(), func.block(p).unwrap().block.body.indices.as_slice())).collect();
    let (region, an) =
        region_in_iteration(func, loop_, &accesses).map_err(|p| ReverseComputeAtError::RegionNotAffine {
            block: b(),
            producer: p.unwrap_or_else(|| prods[0].clone()),
            loop_: loop_.into(),
        })?;
    let axes = plan_axes(&br.block, &pins, &region, &an);
    for (iv, ax) in br.block.iter_vars.iter().zip(&axes) {
        if iv.kind == IterKind::Reduce && (ax.min.as_const() != Some(0) || ax.extent != iv.extent) {
            return Err(ReverseComputeAtError::ReductionSplit {
                block: b(),
                loop_: loop_.into(),
                var: iv.var.to_string(),
                buffer: buffer.to_string(),
            });
        }
    }
    for (iv, ax) in br.block.iter_vars.iter().zip(&axes) {
        if !covers(&an, ax, iv.extent) {
            return Err(ReverseComputeAtError::NotCovered { block: b(), loop_: loop_.into(), var: iv.var.to_string() });
        }
    }
    let predicate =
        predicate_on_iter_vars(func, br).ok_or_else(|| ReverseComputeAtError::PredicateNotCarried { block: b() })?;
    Ok(LocationPlan { block: b(), loop_: loop_.into(), position, axes, predicate })
}

/// Whether an axis's ranges `min .. min + extent`, over every iteration of the
/// loops `an` knows (at and above the target loop), cover `0..domain`. The
/// terms of `min` must use distinct variables and none may be a product; taken
/// by increasing coefficient, each must step by at most what the earlier ones
/// (and the extent) already cover, so the union has no gaps.
fn covers(an: &Analyzer, ax: &AxisPlan, domain: i64) -> bool {
    span(an, &ax.min.terms, ax.min.constant, ax.extent).is_some_and(|(lo, end)| lo <= 0 && end >= domain)
}

/// The values `constant + Σ c·atom + 0..extent` take as the atoms range over
/// what `an` knows, when they form one run without gaps: `(first, end)`.
fn span(an: &Analyzer, terms: &[(Expr, i64)], constant: i64, extent: i64) -> Option<(i64, i64)> {
    let (mut lo, mut hi) = (constant, constant);
    let mut steps = Vec::new();
    let mut seen: Vec<Var> = Vec::new();
    for (atom, c) in terms {
        let vars = atom.vars();
        if matches!(atom, Expr::Binary(BinOp::Mul, ..)) || vars.iter().any(|v| seen.contains(v)) {
            return None;
        }
        seen.extend(vars);
        let (a, b) = an.range(atom)?;
        lo += (c * a).min(c * b);
        hi += (c * a).max(c * b);
        steps.push((c.abs(), b - a));
    }
    steps.sort();
    let mut reach = extent;
    for (c, span) in steps {
        if span > 0 {
            if c > reach {
                return None;
            }
            reach += c * span;
        }
    }
    Some((lo, hi + extent))
}

/// Whether one iteration of loop `at` (of `chain`, the loops around the
/// target loop) computes, over the loops of the chain below `at`, every
/// element of `buffer` that consumer `c` (after that subtree, inside `at`)
/// reads in the same iteration: per dimension, the planned range's terms in
/// the loops at and above `at` are the consumer's, and its terms in the loops
/// below `at` sweep one run that holds the consumer's range.
fn covers_in_iteration(
    func: &PrimFunc,
    (chain, at): (&[String], &str),
    (c, buffer): (&str, &std::sync::Arc<str>),
    (pins, axes): (&Pins, &[AxisPlan]),
    an: &Analyzer,
) -> bool {
    let below: Vec<&String> = chain.iter().skip_while(|l| l.as_str() != at).skip(1).collect();
    let is_below = |v: &Var| below.iter().any(|l| l.as_str() == v.name());
    let loads: Vec<_> =
        block_loads(&func.block(c).unwrap().block).into_iter().filter(|l| l.buffer == *buffer).collect();
    let accesses: Vec<_> = loads.iter().map(|l| (c, l.indices.as_slice())).collect();
    let Ok((need, _)) = region_in_iteration(func, at, &accesses) else { return false };
    let shape = &func.buffer(buffer).expect("live buffer").shape;
    need.iter().zip(pins).zip(shape).all(|((need, pin), dim)| {
        let (min, extent) = match pin {
            Some((k, off)) => {
                let mut min = axes[*k].min.clone();
                min.constant += off;
                (min, axes[*k].extent)
            }
            None => return false,
        };
        let (inner, outer): (Vec<_>, Vec<_>) =
            min.terms.iter().cloned().partition(|(a, _)| a.vars().iter().any(is_below));
        let mixed = inner.iter().any(|(a, _)| !a.vars().iter().all(is_below));
        let want = need.min();
        let same_outer = outer.len() == want.terms.len() && outer.iter().all(|t| want.terms.contains(t));
        // The consumer reads inside the buffer (a predicate guards a region
        // relaxed past its end): a range of constants is clipped to it.
        let (first, end) = if want.terms.is_empty() {
            (want.constant.max(0), (want.constant + need.extent()).min(*dim))
        } else {
            (want.constant, want.constant + need.extent())
        };
        !mixed && same_outer && span(an, &inner, min.constant, extent).is_some_and(|(lo, hi)| lo <= first && hi >= end)
    })
}

#[cfg(test)]
mod tests {
    use super::predicate_on_iter_vars;
    use crate::schedule::testing::matmul;
    use crate::schedule::Schedule;

    /// A conjunct that only keeps a binding in its domain is dropped (the new
    /// nest keeps every variable in its domain); other conditions on loops
    /// that are not iteration variables cannot be carried.
    #[test]
    fn domain_guards_are_dropped_other_predicates_refused() {
        let mut sch = Schedule::new(matmul(10, 7, 15), 0);
        let c = sch.get_block("C").unwrap();
        let l = sch.get_loops(c).unwrap();
        sch.split(l[0], &[None, Some(4.into())]).unwrap();
        let func = sch.func().clone();
        let br = func.block("C").unwrap();
        assert!(!br.predicate.is_true());
        assert_eq!(predicate_on_iter_vars(&func, br), Some(crate::ir::Expr::true_()));
        let mut odd = br.clone();
        odd.predicate = br.predicate.clone().and(crate::ir::Expr::var(&func.loops_of_block("C").unwrap()[1].var).lt(3));
        assert_eq!(predicate_on_iter_vars(&func, &odd), None);
    }
}
