//! The rfactor rule (MetaSchedule's `AddRFactor`, made for vector partial
//! sums; the primitive it uses is `schedule::primitive::rfactor`).
//!
//! **What it does:** splits the reduce loop along which the biggest operand
//! is contiguous by `chains × lanes` and rfactors that loop, so partial sums
//! are `chains` independent vectors (a local buffer; the rfactor loop is split
//! back into an unrolled chain loop and a vectorized lane loop), which hides
//! the latency of the vector add or max; tiles the rfactor block's spatial loops
//! in three levels with a register tile over the two largest, which shares
//! each loaded vector; computes the original block (now summing the lanes)
//! and a fusable elementwise consumer per tile — with several chains, the
//! chains are first added as vectors, lane by lane, so that only one vector's
//! lanes are summed one by one ([`combine_chains`]); may compute the
//! elementwise producer of the streamed operand inside the reduce loop
//! ([`fuse_producer`]); unrolls and vectorizes the init and tail nests; with
//! threads, fuses and parallelizes the outermost level.
//!
//! **When it applies:** to a reduction whose biggest operand is contiguous
//! along a reduce axis while the store's innermost axis is not contiguous in
//! any operand (GEMV `linear0`, the row max and sum of softmax), on an ISA
//! with vector lanes, when every loop of the block drives one iteration
//! variable, every reduce variable has a loop of its own and the block is not
//! inside a vectorized loop. Spatial variables may be driven by loops the
//! block shares with other blocks (a row loop the compute-location rule moved
//! it under, beside the row's other blocks): those are left alone, and the
//! rfactor and write-back nests take the block's place under them.
//!
//! **What it samples:** the number of chains (`sample_categorical` among the
//! divisors of the vector count, a partial last vector counted, up to
//! [`MAX_CHAINS`]; by default the fewest that give the register tile
//! [`MIN_PARTIAL_SUMS`] partial-sum vectors),
//! then one `sample_perfect_tile` per loop, in loop order:
//! two factors per reduce loop (the split-off outer part of the contiguous
//! one), three per spatial loop (the innermost at most
//! `TileShapes::max_gemv` on the two largest axes, defaulting to `gemv_rows`
//! and `gemv_cols`; 1 on the others); where the streamed operand is written by
//! an elementwise block that `compute_at` can move into the innermost reduce
//! loop, whether to (`sample_categorical` of 0 and 1, see [`fuse_producer`]).
//! The tile shapes come from `Isa::tile_shapes`; a tile that would spill
//! (`Isa::check_registers`) is rejected.

use crate::ir::{IterKind, Var};
use crate::schedule::{Factor, LoopRV, Schedule, ScheduleError};
use crate::target::RegisterUse;

use super::common::{
    check_tile, choose, default_inner, fusable_consumer, loop_extent, loop_handles, loops_below, parallelize,
    rule_subject, split_by, tidy_nest, tile, MAX_UNROLL,
};
use super::roles::{contiguous_iter, operand_loads, LoopRole};
use super::{Mode, SpaceError, SpaceOptions};

/// The most independent partial-sum vectors (chains) per output element.
pub(super) const MAX_CHAINS: i64 = 8;

/// The partial-sum vectors (rows of the register tile × chains) the default
/// wants at least: a single row (a reduction in its consumer's row loop)
/// gets chains, a tile of rows has enough independent sums already (more
/// chains made GEMV slower: short rows, more partial sums to combine).
pub(super) const MIN_PARTIAL_SUMS: i64 = 4;

/// The most partial-sum vectors the default takes (half the AVX2 registers:
/// 5 chains of a row of 5 vectors would not fit beside a tile of 3 rows).
pub(super) const MAX_DEFAULT_PARTIAL_SUMS: i64 = 8;

/// The chain counts offered for a reduce loop of `extent` elements: the
/// divisors of its vector count (a partial last vector counted: softmax's row
/// of 1000 is 63 vectors of 16, 3 or 7 chains) up to [`MAX_CHAINS`].
fn chain_candidates(extent: i64, lanes: i64) -> Vec<i64> {
    let vectors = (extent + lanes - 1) / lanes;
    (1..=MAX_CHAINS.min(vectors)).filter(|c| vectors % c == 0).collect()
}

/// The divisor of `extent` up to `cap` nearest to `want` (the larger one on a
/// tie): the default register tile of a GEMV. The largest divisor up to
/// `want` gave `linear1`'s 10 outputs a tile of 2 (with 2 chains), where 5
/// outputs of one chain share each loaded vector of `x` (AVX-512 on Zen 4,
/// `try_traces`, 9 rounds: 0.118 against 0.073 µs, the tuned trace's tile).
fn nearest_divisor(extent: i64, cap: i64, want: i64) -> i64 {
    (1..=cap.min(extent).max(1)).filter(|d| extent % d == 0).min_by_key(|d| ((d - want).abs(), -d)).unwrap_or(1)
}

/// The default innermost factors of the register tile over the (up to) two
/// largest spatial extents: the divisors nearest the ISA's `gemv_rows ×
/// gemv_cols`, unless together they would hold more than
/// [`MAX_DEFAULT_PARTIAL_SUMS`] partial sums (7 × 3 for extents 7 and 3 would
/// not fit beside their operands in AVX2's 16 registers): then the largest
/// divisors up to the shape, as before.
fn default_gemv_tile(extents: &[i64], shapes: &crate::target::TileShapes) -> Vec<i64> {
    let want = [shapes.gemv_rows, shapes.gemv_cols];
    let nearest: Vec<i64> = extents.iter().zip(want).map(|(e, w)| nearest_divisor(*e, shapes.max_gemv, w)).collect();
    if nearest.iter().product::<i64>() <= MAX_DEFAULT_PARTIAL_SUMS {
        return nearest;
    }
    extents.iter().zip(want).map(|(e, w)| default_inner(*e, shapes.max_gemv, w)).collect()
}

/// Applies the rfactor rule to the reduction `block`.
pub(super) fn apply(sch: &mut Schedule, block: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    let Some((f, br, roles)) = rule_subject(sch, block) else { return Ok(()) };
    let own = |i: usize| roles.iter().any(|r| r.iter == i);
    if br.block.iter_vars.iter().enumerate().any(|(i, iv)| iv.kind == IterKind::Reduce && !own(i)) {
        return Ok(());
    }
    let dt = br.block.body.value.dtype();
    let lanes = opts.isa.lanes(dt) as i64;
    let (big, _) = operand_loads(&f, &br).into_iter().max_by_key(|(_, n)| *n).unwrap();
    let red = contiguous_iter(&br, &big.indices).unwrap();
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let red_role: &LoopRole = roles.iter().find(|r| r.iter == red).unwrap();
    if lanes <= 1 {
        return Ok(());
    }
    // The register tile over the two largest spatial loops: the innermost
    // factor's limit and default per loop (`gemv_rows × gemv_cols` partial-sum
    // vectors by default; 1 on the other loops).
    let shapes = opts.isa.tile_shapes();
    let mut spatial: Vec<&LoopRole> = roles.iter().filter(|r| r.kind == IterKind::Spatial).collect();
    spatial.sort_by_key(|r| -r.extent);
    let tiled: Vec<String> = spatial.iter().take(2).map(|r| r.var.clone()).collect();
    let extents: Vec<i64> = spatial.iter().take(2).map(|r| r.extent).collect();
    let defaults = default_gemv_tile(&extents, &shapes);
    let register_tile = |var: &str| match tiled.iter().position(|t| t == var) {
        Some(k) => (shapes.max_gemv, defaults[k]),
        None => (1, 1),
    };
    // The other spatial loops' default is 1.
    let default_rows: i64 = defaults.iter().product();
    let candidates = chain_candidates(red_role.extent, lanes);
    let fits = |c: &i64| c * default_rows <= MAX_DEFAULT_PARTIAL_SUMS;
    let default = (candidates.iter().position(|c| c * default_rows >= MIN_PARTIAL_SUMS && fits(c)))
        .or_else(|| candidates.iter().rposition(fits))
        .unwrap_or(0);
    let chains = choose(sch, &candidates, default, mode)?;
    let kparts = sch.split(handles[&red_role.var], &[None, Some(Factor::Int(chains * lanes))])?;
    let ndim = br.block.body.indices.len() as i64;
    let rf = sch.rfactor(kparts[1], ndim)?;
    // The spatial loops of the rf block: a register tile over the two largest.
    let (mut s, mut rr) = (vec![vec![]; 3], vec![vec![]; 2]);
    let mut acc = chains;
    for role in &roles {
        let l = if role.iter == red { kparts[0] } else { handles[&role.var] };
        if role.kind == IterKind::Reduce {
            let ext = loop_extent(sch, l)?;
            let t = tile(sch, l, ext, 2, 0, 1, mode)?;
            let parts = split_by(sch, l, &t)?;
            rr[0].push(parts[0]);
            rr[1].push(parts[1]);
        } else {
            let (max_inner, def) = register_tile(&role.var);
            let t = tile(sch, l, role.extent, 3, max_inner, def, mode)?;
            acc *= sch.get(t[2])?;
            let parts = split_by(sch, l, &t)?;
            for (k, p) in parts.into_iter().enumerate() {
                s[k].push(p);
            }
        }
    }
    // Partial sums + the shared vector of the small operand + one streamed vector.
    check_tile(opts.isa, RegisterUse { accumulators: acc, operands: 1 })?;
    let mut order: Vec<LoopRV> = Vec::new();
    for level in [&s[0], &s[1], &rr[0], &rr[1], &s[2]] {
        order.extend(level.iter().copied());
    }
    order.push(kparts[1]);
    sch.reorder(&order)?;
    // The rfactor loop back into chains (unrolled) × lanes (vectorized).
    let (chain_loop, lane_loop) = if chains > 1 {
        let cl = sch.split(kparts[1], &[Some(Factor::Int(chains)), Some(Factor::Int(lanes))])?;
        (Some(cl[0]), cl[1])
    } else {
        (None, kparts[1])
    };
    if let (Some(p), Some(at)) = (fusable_producer(sch.func(), &big.buffer), rr[1].last().copied()) {
        fuse_producer(sch, &p, at, opts, mode)?;
    }
    sch.set_scope(rf, 0, "local")?;
    let anchor = s[1].last().copied();
    let fused = fusable_consumer(sch, block);
    if let Some(a) = anchor {
        sch.reverse_compute_at(b, a, true, -1)?;
        if let Some(c) = &fused {
            sch.set_scope(b, 0, "local")?;
            let cb = sch.get_block(c)?;
            sch.reverse_compute_at(cb, a, true, -1)?;
            let below = loops_below(sch, cb, anchor)?;
            tidy_nest(sch, &below, lanes, false)?;
        }
    }
    if chain_loop.is_some() && fused.is_none() {
        combine_chains(sch, b, chains, lanes, anchor)?;
    }
    if let Some(first_r) = rr[0].first().copied() {
        let init = sch.decompose_reduction(rf, first_r)?;
        let below = loops_below(sch, init, anchor)?;
        tidy_nest(sch, &below, lanes, true)?;
    }
    for l in &s[2] {
        sch.unroll(*l)?;
    }
    if let Some(c) = chain_loop {
        sch.unroll(c)?;
    }
    sch.vectorize(lane_loop)?;
    let below = loops_below(sch, b, anchor)?;
    tidy_nest(sch, &below, lanes, false)?;
    parallelize(sch, &s[0], opts)?;
    Ok(())
}

/// The elementwise block that writes the reduction's streamed operand (an
/// intermediate with one writer, read by nothing before the reduction),
/// which the rule may compute inside its reduce loop.
fn fusable_producer(f: &crate::ir::PrimFunc, buffer: &str) -> Option<String> {
    if f.param(buffer).is_some() {
        return None;
    }
    let [w] = crate::schedule::analysis::writers(f, buffer).try_into().ok()?;
    let br = f.block(&w)?;
    (!br.block.is_reduction()).then_some(w)
}

/// Samples whether the producer `p` of the streamed operand is computed in
/// the reduce loop `at` (1) or stays where it is (0), where `compute_at`
/// allows it: then each step of the reduction computes the vectors it adds
/// and its consumers after the reduction read them back (softmax's `exp`
/// and its row sum: one pass over the row instead of two). Default: 1,
/// unless the producer calls a math function that its own rule would run
/// several vectors at a time in lockstep (`exp` on AVX2): the vectors of the
/// fused nest come one at a time. Zen 4 (family 25 model 17), softmax,
/// `try_traces`, 9 rounds, medians: AVX-512 23.7 → 22.5 µs; AVX2 33.3 → 46.2.
fn fuse_producer(
    sch: &mut Schedule,
    p: &str,
    at: LoopRV,
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<(), ScheduleError> {
    let at_name = sch.loop_name(at)?;
    if crate::schedule::primitive::compute_at::check_compute_at(sch.func(), p, &at_name, -1).is_err() {
        return Ok(());
    }
    let f = sch.func();
    let br = f.block(p).expect("live block");
    let lanes = opts.isa.lanes(br.block.body.value.dtype()) as i64;
    let row = f.buffer(&br.block.body.buffer).and_then(|b| b.shape.last().copied()).unwrap_or(0);
    let grouped = super::elementwise::lockstep_groups(&br.block.body.value, opts.isa, row)
        .is_some_and(|(fit, default)| fit.get(default).is_some_and(|g| *g > 1));
    if choose(sch, &[0, 1], usize::from(!grouped), mode)? == 0 {
        return Ok(());
    }
    let pb = sch.get_block(p)?;
    sch.compute_at(pb, at, true, -1)?;
    let below = loops_below(sch, pb, Some(at))?;
    tidy_nest(sch, &below, lanes, true)
}

/// Sums the `chains` partial-sum vectors of each output lane by lane before
/// the lanes are summed: the write-back `b` (a reduction over `chains ×
/// lanes` partial sums, emitted as scalar code) is rfactored over its lanes,
/// so the chains are added as vectors (one dependent add per chain) and only
/// `lanes` scalars remain. Summed one scalar after another, 7 chains × 16
/// lanes of a softmax row were 112 dependent `max` or `add` (about 450
/// cycles per row, a third of the row's `exp`).
fn combine_chains(
    sch: &mut Schedule,
    b: crate::schedule::BlockRV,
    chains: i64,
    lanes: i64,
    anchor: Option<LoopRV>,
) -> Result<(), ScheduleError> {
    // The write-back's own loops (not a row loop it shares with the row's
    // other blocks, when the rule runs under one), and among them the one its
    // reduce axis — the partial sums, `chains × lanes` — is bound to.
    let name = sch.block_name(b)?;
    let Some(br) = sch.func().block(&name) else { return Ok(()) };
    let reduced: Vec<Var> = (br.block.iter_vars.iter().zip(&br.bindings))
        .filter(|(iv, _)| iv.kind == IterKind::Reduce)
        .flat_map(|(_, bound)| bound.vars())
        .collect();
    let ndim = br.block.body.indices.len() as i64;
    let mut below = Vec::new();
    let mut pos = None;
    for l in loops_below(sch, b, anchor)? {
        let Some(f) = sch.func().find_loop(&sch.loop_name(l)?) else { continue };
        if f.body.block_names() == [name.as_str()] {
            if reduced.contains(&f.var) && f.extent == chains * lanes {
                pos = Some(below.len());
            }
            below.push(l);
        }
    }
    let Some(pos) = pos else { return Ok(()) };
    let parts = sch.split(below[pos], &[Some(Factor::Int(chains)), Some(Factor::Int(lanes))])?;
    let rf2 = sch.rfactor(parts[1], ndim)?;
    sch.set_scope(rf2, 0, "local")?;
    // Rows (the other loops) outside, then the chains, the lanes innermost.
    let mut order: Vec<LoopRV> = below.iter().enumerate().filter(|(i, _)| *i != pos).map(|(_, l)| *l).collect();
    order.extend([parts[0], parts[1]]);
    sch.reorder(&order)?;
    let init = sch.decompose_reduction(rf2, parts[0])?;
    let init_loops = loops_below(sch, init, anchor)?;
    tidy_nest(sch, &init_loops, lanes, true)?;
    for l in &order[..order.len() - 1] {
        if loop_extent(sch, *l)? <= MAX_UNROLL {
            sch.unroll(*l)?;
        }
    }
    sch.vectorize(parts[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_gemv_tile_is_the_divisor_nearest_the_shape() {
        assert_eq!(nearest_divisor(10, 8, 4), 5);
        assert_eq!(nearest_divisor(128, 8, 4), 4);
        assert_eq!(nearest_divisor(12, 8, 4), 4);
        assert_eq!(nearest_divisor(9, 8, 4), 3);
        assert_eq!(nearest_divisor(6, 8, 4), 3);
        assert_eq!(nearest_divisor(7, 8, 4), 7);
        assert_eq!(nearest_divisor(1, 8, 4), 1);
        assert_eq!(nearest_divisor(3, 8, 2), 3);
        assert_eq!(nearest_divisor(64, 8, 2), 2);
    }

    #[test]
    fn the_default_gemv_tile_stays_within_the_partial_sums() {
        let shapes = crate::target::Isa::Avx2.tile_shapes();
        // linear1: 10 outputs (and a batch of 1).
        assert_eq!(default_gemv_tile(&[10, 1], &shapes), vec![5, 1]);
        assert_eq!(default_gemv_tile(&[128, 1], &shapes), vec![4, 1]);
        // 7 × 3 = 21 partial sums would spill: the largest divisors up to the shape.
        assert_eq!(default_gemv_tile(&[7, 3], &shapes), vec![1, 1]);
        assert_eq!(default_gemv_tile(&[10, 6], &shapes), vec![2, 2]);
        assert_eq!(default_gemv_tile(&[12], &shapes), vec![4]);
    }

    #[test]
    fn chains_divide_the_vectors() {
        assert_eq!(chain_candidates(128, 16), vec![1, 2, 4, 8]);
        assert_eq!(chain_candidates(1000, 16), vec![1, 3, 7]);
    }
}
