//! The design-space rules, applied block by block (MetaSchedule's schedule
//! rules, made for register-tiled SIMD code):
//!
//! - **tile** (`SSRSRS`) for reductions whose output's innermost axis is
//!   contiguous in the operands (matmul, conv2d): spatial loops in four
//!   levels, reduce loops in two, the innermost spatial level a register tile
//!   of `rows × vectors` accumulators (unrolled), the lane loop vectorized, the
//!   reduction just outside the register tile; the accumulators live in a
//!   local buffer (`cache_write`, or the intermediate itself when an
//!   elementwise consumer such as a bias add is fused behind the tile).
//! - **rfactor** for reductions along a contiguous axis (GEMV `linear0`,
//!   row max/sum of softmax): the reduce loop is split by the lane count and
//!   rfactored, so partial sums are vectors; a register tile over the spatial
//!   axes shares each loaded vector; the lanes are summed at the end.
//! - **elementwise**: the innermost loop vectorized when the store is
//!   contiguous in it.
//! - **compute location**: every producer may move under a loop of its
//!   consumer (`sample_compute_location`).
//!
//! Every choice is a sampling instruction, so the trace is the program and
//! its decisions the point in the space.

use std::collections::HashMap;

use crate::ir::{DataType, IterKind};
use crate::schedule::analysis::consumers;
use crate::schedule::{BlockRV, DecisionMode, ExprRV, Factor, LoopRV, Schedule, ScheduleError};
use crate::target::{Isa, RegisterUse};
use crate::trace::Decision;

use super::roles::{broadcast_row, contiguous_iter, exclusive_loops, operand_loads, store_lane_iter, LoopRole};
use super::{Mode, SpaceError, SpaceOptions};

/// Samples (or, in default mode, chooses; or takes the next given decision
/// of) a perfect tiling of a loop.
fn tile(
    sch: &mut Schedule,
    l: LoopRV,
    extent: i64,
    n: usize,
    max_inner: i64,
    inner: i64,
    mode: &mut Mode,
) -> Result<Vec<ExprRV>, ScheduleError> {
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => {
            // innermost: the largest divisor <= `inner` (and <= max_inner); outermost: the rest.
            let cap = if max_inner > 0 { inner.min(max_inner) } else { inner };
            let d = (1..=cap.max(1)).rev().find(|d| extent % d == 0).unwrap_or(1);
            let mut v = vec![1; n];
            v[n - 1] = d;
            v[0] = extent / d;
            (Some(v), DecisionMode::Strict)
        }
        Mode::Given(q) => {
            let d = match q.pop_front().flatten() {
                Some(Decision::Ints(v)) => Some(v),
                _ => None,
            };
            (d, DecisionMode::Repair)
        }
    };
    sch.sample_perfect_tile_mode(l, n as i64, max_inner, decision, dmode)
}

fn split_by(sch: &mut Schedule, l: LoopRV, factors: &[ExprRV]) -> Result<Vec<LoopRV>, ScheduleError> {
    let f: Vec<Option<Factor>> = factors.iter().map(|v| Some(Factor::Rv(*v))).collect();
    sch.split(l, &f)
}

fn loop_handles(sch: &mut Schedule, b: BlockRV) -> Result<HashMap<String, LoopRV>, ScheduleError> {
    let loops = sch.get_loops(b)?;
    let mut out = HashMap::new();
    for l in loops {
        out.insert(sch.loop_name(l)?, l);
    }
    Ok(out)
}

/// The loops of `b` below `after` (or all of them), innermost last.
fn loops_below(sch: &mut Schedule, b: BlockRV, after: Option<LoopRV>) -> Result<Vec<LoopRV>, ScheduleError> {
    let loops = sch.get_loops(b)?;
    let Some(a) = after else { return Ok(loops) };
    let name = sch.loop_name(a)?;
    let mut out = Vec::new();
    let mut seen = false;
    for l in loops {
        if seen {
            out.push(l);
        } else if sch.loop_name(l)? == name {
            seen = true;
        }
    }
    Ok(out)
}

/// Unrolls every loop but the last, which is split by `lanes` and vectorized
/// (used for the init and write-back nests of a register tile).
fn tidy_nest(sch: &mut Schedule, loops: &[LoopRV], lanes: i64, vectorize_last: bool) -> Result<(), ScheduleError> {
    let Some((last, rest)) = loops.split_last() else { return Ok(()) };
    let extent = |sch: &Schedule, l: LoopRV| -> Result<i64, ScheduleError> {
        Ok(sch.func().find_loop(&sch.loop_name(l)?).unwrap().extent)
    };
    // Unroll small loops only: a register tile, not a whole row.
    let unroll = |sch: &mut Schedule, l: LoopRV| -> Result<(), ScheduleError> {
        if extent(sch, l)? <= MAX_UNROLL {
            sch.unroll(l)?;
        }
        Ok(())
    };
    for l in rest {
        unroll(sch, *l)?;
    }
    if !vectorize_last || lanes <= 1 {
        return unroll(sch, *last);
    }
    let ext = extent(sch, *last)?;
    if ext <= lanes {
        if ext == lanes {
            return sch.vectorize(*last);
        }
        return unroll(sch, *last);
    }
    let parts = sch.split(*last, &[None, Some(Factor::Int(lanes))])?;
    unroll(sch, parts[0])?;
    sch.vectorize(parts[1])
}

/// Loops longer than this are not unrolled by the rules.
const MAX_UNROLL: i64 = 16;

/// The elementwise consumer the tile can absorb, if `block` writes an
/// intermediate read by exactly one spatial-only block that iterates over
/// exactly the intermediate's shape (a bias add, an activation).
fn fusable_consumer(sch: &Schedule, block: &str) -> Option<String> {
    let f = sch.func();
    let br = f.block(block)?;
    if f.param(&br.block.body.buffer).is_some() {
        return None;
    }
    let cons = consumers(f, block);
    if cons.len() != 1 {
        return None;
    }
    let c = f.block(&cons[0])?;
    let shape = &f.buffer(&br.block.body.buffer)?.shape;
    let domain: Vec<i64> = c.block.iter_vars.iter().map(|iv| iv.extent).collect();
    (!c.block.is_reduction()
        && &domain == shape
        && exclusive_loops(f, &cons[0]).is_some_and(|l| l.len() == c.block.iter_vars.len()))
    .then(|| cons[0].clone())
}

/// The compute-location rule: a block that writes an intermediate buffer may
/// move under any loop of its consumers where `compute_at` is legal, stay at
/// the root, or be inlined (`sample_compute_location`). The default keeps it
/// at the root.
pub fn compute_location_rule(sch: &mut Schedule, block: &str, mode: &mut Mode) -> Result<(), ScheduleError> {
    let f = sch.func();
    let Some(br) = f.block(block) else { return Ok(()) };
    if f.param(&br.block.body.buffer).is_some() || consumers(f, block).is_empty() {
        return Ok(());
    }
    let b = sch.get_block(block)?;
    let (decision, dmode) = match mode {
        Mode::Sample => (None, DecisionMode::Strict),
        Mode::Default => (Some(-1), DecisionMode::Strict),
        Mode::Given(q) => match q.pop_front().flatten() {
            Some(Decision::Int(v)) => (Some(v), DecisionMode::Repair),
            _ => (None, DecisionMode::Repair),
        },
    };
    let loc = sch.sample_compute_location_mode(b, decision, dmode)?;
    sch.compute_at(b, loc, true, -1)
}

/// Whether `block` is an elementwise consumer that the tile of its (reduction)
/// producer will absorb, so that no rule should schedule it on its own.
pub fn absorbed_by_producer(sch: &Schedule, block: &str) -> bool {
    let f = sch.func();
    crate::schedule::analysis::producers(f, block).iter().any(|p| {
        f.block(p).is_some_and(|b| b.block.is_reduction())
            && reduction_rule(sch, p).is_some()
            && fusable_consumer(sch, p).as_deref() == Some(block)
    })
}

/// Which rule fits a reduction block: `Some(true)` tile, `Some(false)` rfactor.
///
/// Tile when the store's innermost axis is also contiguous in an operand (the
/// vector loads and the vector stores then run along the same axis: matmul,
/// conv2d); otherwise rfactor when the biggest operand is contiguous along a
/// reduce axis (GEMV, row reductions).
pub fn reduction_rule(sch: &Schedule, block: &str) -> Option<bool> {
    let f = sch.func();
    let br = f.block(block)?;
    let lane = store_lane_iter(br);
    let loads = operand_loads(f, br);
    if let Some(l) = lane {
        if loads.iter().any(|(ld, _)| contiguous_iter(br, &ld.indices) == Some(l)) {
            return Some(true);
        }
    }
    let (big, _) = loads.into_iter().max_by_key(|(_, n)| *n)?;
    match contiguous_iter(br, &big.indices) {
        Some(i) if br.block.iter_vars[i].kind == IterKind::Reduce => Some(false),
        _ => lane.map(|_| true),
    }
}

/// Whether a block sits inside a vectorized loop (placed there by
/// `compute_at`): its own loops are then left alone.
fn inside_vector_loop(sch: &Schedule, block: &str) -> bool {
    sch.func().loops_of_block(block).is_some_and(|ls| ls.iter().any(|l| l.kind == crate::ir::ForKind::Vectorized))
}

/// The `SSRSRS` register-tiling rule.
pub fn tile_rule(sch: &mut Schedule, block: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    if inside_vector_loop(sch, block) {
        return Ok(());
    }
    let f = sch.func().clone();
    let br = f.block(block).unwrap().clone();
    let Some(roles) = exclusive_loops(&f, block) else { return Ok(()) };
    if roles.len() != br.block.iter_vars.len() {
        return Ok(());
    }
    let lane = store_lane_iter(&br).unwrap();
    let dt = br.block.body.value.dtype();
    let lanes = opts.isa.lanes(dt) as i64;
    let row = (0..br.block.iter_vars.len())
        .filter(|i| *i != lane && br.block.iter_vars[*i].kind == IterKind::Spatial && broadcast_row(&br, *i, lane))
        .max_by_key(|i| br.block.iter_vars[*i].extent);
    let shapes = opts.isa.tile_shapes();
    let (max_rows, max_vecs, def_rows, def_vecs) = (shapes.max_rows, shapes.max_vectors, shapes.rows, shapes.vectors);
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let (mut s, mut r) = (vec![vec![]; 4], vec![vec![]; 2]);
    let mut lane_loop = None;
    let mut rows_rv = None;
    let mut vecs_rv = None;
    for role in &roles {
        let l = handles[&role.var];
        match role.kind {
            IterKind::Reduce => {
                let t = tile(sch, l, role.extent, 2, 0, 1, mode)?;
                let parts = split_by(sch, l, &t)?;
                r[0].push(parts[0]);
                r[1].push(parts[1]);
            }
            IterKind::Spatial => {
                let (l, ext, max_inner, def) = if role.iter == lane && lanes > 1 {
                    let p = sch.split(l, &[None, Some(Factor::Int(lanes))])?;
                    lane_loop = Some(p[1]);
                    (p[0], (role.extent + lanes - 1) / lanes, max_vecs, def_vecs)
                } else if role.iter == lane {
                    (l, role.extent, max_vecs, def_vecs)
                } else if Some(role.iter) == row {
                    (l, role.extent, max_rows, def_rows)
                } else {
                    (l, role.extent, 1, 1)
                };
                let t = tile(sch, l, ext, 4, max_inner, def, mode)?;
                if role.iter == lane {
                    vecs_rv = Some(t[3]);
                } else if Some(role.iter) == row {
                    rows_rv = Some(t[3]);
                }
                let parts = split_by(sch, l, &t)?;
                for (k, p) in parts.into_iter().enumerate() {
                    s[k].push(p);
                }
            }
        }
    }
    // Accumulators + one vector of the lane operand per column + one broadcast must fit.
    let rows = rows_rv.map_or(Ok(1), |v| sch.get(v))?;
    let vecs = vecs_rv.map_or(Ok(1), |v| sch.get(v))?;
    check_tile(opts.isa, RegisterUse { accumulators: rows * vecs, operands: vecs })?;
    let mut order: Vec<LoopRV> = Vec::new();
    for level in [&s[0], &s[1], &r[0], &s[2], &r[1], &s[3]] {
        order.extend(level.iter().copied());
    }
    order.extend(lane_loop);
    sch.reorder(&order)?;
    let anchor = s[1].last().copied();
    // Accumulators in a local buffer, written back (or consumed) per tile.
    let behind = match fusable_consumer(sch, block) {
        Some(c) => {
            sch.set_scope(b, 0, "local")?;
            let cb = sch.get_block(&c)?;
            if let Some(a) = anchor {
                sch.reverse_compute_at(cb, a, true, -1)?;
            }
            cb
        }
        None => {
            let wb = sch.cache_write(b, 0, "local")?;
            if let Some(a) = anchor {
                sch.reverse_compute_at(wb, a, true, -1)?;
            }
            wb
        }
    };
    if let Some(first_r) = r[0].first().copied() {
        if f.block(block).unwrap().block.init.is_some() {
            let init = sch.decompose_reduction(b, first_r)?;
            let below = loops_below(sch, init, anchor)?;
            tidy_nest(sch, &below, lanes, true)?;
        }
    }
    for l in &s[3] {
        sch.unroll(*l)?;
    }
    if let Some(l) = lane_loop {
        sch.vectorize(l)?;
    }
    let below = loops_below(sch, behind, anchor)?;
    tidy_nest(sch, &below, lanes, true)?;
    parallelize(sch, &s[0], opts)?;
    Ok(())
}

/// The rfactor rule: vector partial sums along a contiguous reduce axis.
pub fn rfactor_rule(sch: &mut Schedule, block: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    if inside_vector_loop(sch, block) {
        return Ok(());
    }
    let f = sch.func().clone();
    let br = f.block(block).unwrap().clone();
    let Some(roles) = exclusive_loops(&f, block) else { return Ok(()) };
    if roles.len() != br.block.iter_vars.len() {
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
    let kparts = sch.split(handles[&red_role.var], &[None, Some(Factor::Int(lanes))])?;
    let ndim = br.block.body.indices.len() as i64;
    let rf = sch.rfactor(kparts[1], ndim)?;
    // The spatial loops of the rf block: a register tile over the two largest.
    let mut spatial: Vec<&LoopRole> = roles.iter().filter(|r| r.kind == IterKind::Spatial).collect();
    spatial.sort_by_key(|r| -r.extent);
    let tiled: Vec<String> = spatial.iter().take(2).map(|r| r.var.clone()).collect();
    let (mut s, mut rr) = (vec![vec![]; 3], vec![vec![]; 2]);
    let mut acc = 1;
    for role in &roles {
        let l = if role.iter == red { kparts[0] } else { handles[&role.var] };
        if role.kind == IterKind::Reduce {
            let ext = if role.iter == red { (role.extent + lanes - 1) / lanes } else { role.extent };
            let t = tile(sch, l, ext, 2, 0, 1, mode)?;
            let parts = split_by(sch, l, &t)?;
            rr[0].push(parts[0]);
            rr[1].push(parts[1]);
        } else {
            // The default register tile: `gemv_rows × gemv_cols` partial-sum vectors.
            let shapes = opts.isa.tile_shapes();
            let (max_inner, def) = if tiled.contains(&role.var) {
                (8, if tiled[0] == role.var { shapes.gemv_rows } else { shapes.gemv_cols })
            } else {
                (1, 1)
            };
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
    if let Some(first_r) = rr[0].first().copied() {
        let init = sch.decompose_reduction(rf, first_r)?;
        let below = loops_below(sch, init, anchor)?;
        tidy_nest(sch, &below, lanes, true)?;
    }
    for l in &s[2] {
        sch.unroll(*l)?;
    }
    sch.vectorize(kparts[1])?;
    let below = loops_below(sch, b, anchor)?;
    tidy_nest(sch, &below, lanes, false)?;
    parallelize(sch, &s[0], opts)?;
    Ok(())
}

/// Vectorizes the innermost loop of a spatial-only block when its store is
/// contiguous in it.
pub fn elementwise_rule(sch: &mut Schedule, block: &str, opts: &SpaceOptions) -> Result<(), SpaceError> {
    if inside_vector_loop(sch, block) {
        return Ok(());
    }
    let f = sch.func().clone();
    let br = f.block(block).unwrap().clone();
    let Some(roles) = exclusive_loops(&f, block) else { return Ok(()) };
    let Some(last) = roles.last() else { return Ok(()) };
    let dt = br.block.body.value.dtype();
    let lanes = opts.isa.lanes(dt) as i64;
    if Some(last.iter) != store_lane_iter(&br) || lanes <= 1 || dt == DataType::I32 {
        return Ok(());
    }
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let l = handles[&last.var];
    if last.extent < lanes {
        return Ok(());
    }
    let parts = sch.split(l, &[None, Some(Factor::Int(lanes))])?;
    sch.vectorize(parts[1])?;
    if roles.len() >= 2 && opts.threads > 1 {
        let outer = handles[&roles[0].var];
        parallelize(sch, &[outer], opts)?;
    }
    Ok(())
}

fn parallelize(sch: &mut Schedule, outer: &[LoopRV], opts: &SpaceOptions) -> Result<(), ScheduleError> {
    if opts.threads <= 1 || outer.is_empty() {
        return Ok(());
    }
    let l = if outer.len() > 1 { sch.fuse(outer)? } else { outer[0] };
    sch.parallel(l)
}

/// Rejects a sampled register tile that would spill (the budget of
/// `Isa::check_registers`, decided from the sampled shape before the tile is
/// built; `check::check_program` checks the finished program the same way).
fn check_tile(isa: Isa, use_: RegisterUse) -> Result<(), SpaceError> {
    isa.check_registers(use_).map_err(|e| SpaceError::Rejected(e.to_string()))
}
