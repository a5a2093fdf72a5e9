//! The `SSRSRS` register-tiling rule (MetaSchedule's `MultiLevelTiling`, made
//! for register-tiled SIMD code).
//!
//! **What it does:** tiles the spatial loops in four levels and the reduce
//! loops in two, ordered `S S R S R S`: the innermost spatial level is a
//! register tile of `rows × vectors` accumulators (unrolled), the lane loop
//! is vectorized, the reduction runs just outside the register tile. The
//! accumulators live in a local buffer (`cache_write`, or the intermediate
//! itself when an elementwise consumer such as a bias add is fused behind
//! the tile), written back (or consumed) per tile; the init and write-back
//! nests are unrolled and vectorized; with threads, the outermost level is
//! fused and parallel.
//!
//! **When it applies:** to a reduction whose store's innermost axis is also
//! contiguous in an operand (the vector loads and the vector stores then run
//! along the same axis: matmul, conv2d), when every loop of the block drives
//! one iteration variable and the block is not inside a vectorized loop.
//!
//! **What it samples:** one `sample_perfect_tile` per loop, in loop order: four
//! factors per spatial loop (the lane loop first split by the lane count; the
//! innermost factor at most `TileShapes::max_rows` for the row axis,
//! `max_vectors` for the lane axis, 1 for the others), two per reduce loop. The tile shapes come from `Isa::tile_shapes`; a sampled tile
//! that would spill (`Isa::check_registers`) is rejected. For a product (one
//! row, one lane and one reduce loop) a `sample_categorical` first chooses
//! the cache-blocking plan of `cache_blocking.rs` (default: when the operand
//! along the lanes outgrows half of L2): then the tiles are derived from the
//! plan's own choices (register tile, `kc`, `mc`) instead of sampled freely.

use crate::ir::{block_reads, IterKind};
use crate::schedule::{Factor, LoopRV, Schedule};
use crate::target::RegisterUse;

use super::cache_blocking::{self, Blocking, Product};
use super::common::{
    check_tile, choose, fusable_consumer, loop_extent, loop_handles, loops_below, parallelize, rule_subject, split_by,
    tidy_nest, tile, tile_as,
};
use super::packing::{derived_layout, pack_operand};
use super::roles::{broadcast_row, contiguous_iter, store_lane_iter};
use super::{Mode, SpaceError, SpaceOptions};

/// Applies the `SSRSRS` tiling to the reduction `block`.
pub(super) fn apply(sch: &mut Schedule, block: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    let Some((f, br, roles)) = rule_subject(sch, block) else { return Ok(()) };
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
    let (max_rows, mut max_vecs, def_rows, mut def_vecs) =
        (shapes.max_rows, shapes.max_vectors, shapes.rows, shapes.vectors);
    if row.is_none() {
        // No row shares the lane operand (a column sum): the tile is one row
        // of vectors, each its own accumulator chain, as many as the
        // registers hold (AVX2: 7) — a tile of 1–3 would leave the adds
        // waiting on each other.
        max_vecs = no_row_vectors(opts);
        def_vecs = max_vecs;
    }
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let plan = blocking_plan(sch, &br, &roles, (row, lane, lanes), opts, mode)?;
    let short = match (&plan, &*mode) {
        (None, Mode::Default) => short_row_tile(&roles, row, lane, lanes, opts),
        _ => None,
    };
    let (mut s, mut r) = (vec![vec![]; 4], vec![vec![]; 2]);
    let mut lane_loop = None;
    let mut rows_rv = None;
    let mut vecs_rv = None;
    for role in &roles {
        let l = handles[&role.var];
        match role.kind {
            IterKind::Reduce => {
                let t = match &plan {
                    Some(p) => tile_as(sch, l, 2, 0, p.reduce_tile(role.extent), mode)?,
                    None => tile(sch, l, role.extent, 2, 0, 1, mode)?,
                };
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
                let t = match (&plan, short) {
                    (Some(p), _) if role.iter == lane => tile_as(sch, l, 4, max_inner, p.lane_tile(ext), mode)?,
                    (Some(p), _) if Some(role.iter) == row => tile_as(sch, l, 4, max_inner, p.row_tile(ext), mode)?,
                    (Some(_), _) => tile_as(sch, l, 4, max_inner, Blocking::other_tile(ext), mode)?,
                    (None, Some((v, _))) if role.iter == lane => tile_as(sch, l, 4, max_inner, vec![1, 1, v, 1], mode)?,
                    (None, Some((_, rows))) if Some(role.iter) == row => {
                        tile_as(sch, l, 4, max_inner, vec![ext / rows, 1, 1, rows], mode)?
                    }
                    (None, _) => tile(sch, l, ext, 4, max_inner, def, mode)?,
                };
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
    pack_operands(sch, block, (lane, lanes), opts, mode)?;
    // The blocked plan with `kc = k` reduces all of `k` inside a row tile:
    // its accumulators are written back per register tile (under `S2`), so
    // they stay a register tile's worth; otherwise (`kc < k`, or no plan)
    // per `S1` tile — with `kc < k` the row block's accumulators outlive a
    // block of `k`, and `codegen/registers.rs` keeps each tile's window of
    // them in registers.
    let (anchor, first_r) = match plan {
        Some(p) if p.kc == k_extent(&roles) => (s[2].last().copied(), r[1].first().copied()),
        _ => (s[1].last().copied(), r[0].first().copied()),
    };
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
    if let Some(first_r) = first_r {
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

/// The most vectors of a tile without rows: accumulators and their operand
/// vectors within the registers, at most 8.
fn no_row_vectors(opts: &SpaceOptions) -> i64 {
    (1..=8)
        .rev()
        .find(|v| opts.isa.check_registers(RegisterUse { accumulators: *v, operands: *v }).is_ok())
        .unwrap_or(1)
}

/// The extent of the (one) reduce loop of a blocked product.
fn k_extent(roles: &[super::roles::LoopRole]) -> i64 {
    roles.iter().filter(|r| r.kind == IterKind::Reduce).map(|r| r.extent).product()
}

/// The default tile of a short row of vectors that no register tile width
/// divides (`n = 37`: 5 vectors of 8): the whole row, at the tile's third
/// level (one contiguous run of the lane operand per reduction step), by as
/// many rows as the registers hold. Returns (vectors, rows).
fn short_row_tile(
    roles: &[super::roles::LoopRole],
    row: Option<usize>,
    lane: usize,
    lanes: i64,
    opts: &SpaceOptions,
) -> Option<(i64, i64)> {
    let extent = |i: usize| roles.iter().find(|r| r.iter == i).map(|r| r.extent);
    let (m, n) = (extent(row?)?, extent(lane)?);
    let v = (n + lanes - 1) / lanes;
    let shapes = opts.isa.tile_shapes();
    let divides = (2..=shapes.vectors.min(v)).any(|d| v % d == 0);
    if lanes <= 1 || v <= 1 || divides || v > 2 * shapes.max_vectors {
        return None;
    }
    let fits = |r: i64| opts.isa.check_registers(RegisterUse { accumulators: r * v, operands: v }).is_ok();
    let rows = (1..=shapes.max_rows.min(m)).rev().find(|r| m % r == 0 && fits(*r))?;
    Some((v, rows))
}

/// The cache-blocking plan (`cache_blocking.rs`), for a product — one row
/// loop, one lane loop, one reduce loop — whose rows can be blocked: one
/// `sample_categorical` (blocked or not; default: when the operand along
/// the lanes outgrows half of L2), then the plan's own choices.
fn blocking_plan(
    sch: &mut Schedule,
    br: &crate::ir::BlockRealize,
    roles: &[super::roles::LoopRole],
    (row, lane, lanes): (Option<usize>, usize, i64),
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<Option<Blocking>, SpaceError> {
    let Some(row) = row else { return Ok(None) };
    let reduce: Vec<_> = roles.iter().filter(|r| r.kind == IterKind::Reduce).collect();
    let extent = |i: usize| roles.iter().find(|r| r.iter == i).map(|r| r.extent);
    let (Some(m), Some(n), [k]) = (extent(row), extent(lane), reduce.as_slice()) else { return Ok(None) };
    if roles.len() != 3 || lanes <= 1 || m < 2 {
        return Ok(None);
    }
    let bytes = br.block.body.value.dtype().bytes() as i64;
    let p = Product { rows: m, vectors: (n + lanes - 1) / lanes, reduce: k.extent, lanes, bytes };
    let default = usize::from(cache_blocking::blocked_by_default(&p, opts.l2_bytes));
    if choose(sch, &[0, 1], default, mode)? == 0 {
        return Ok(None);
    }
    Ok(Some(cache_blocking::sample(sch, &p, &opts.isa.tile_shapes(), opts, mode)?))
}

/// Operands larger than this are packed by default: their panels no longer
/// stay in a 512 KiB L2 between the tile's passes.
pub const PACK_DEFAULT_BYTES: i64 = 256 * 1024;

/// Operand packing (`packing.rs`), once the tile's loops are in place: an
/// input parameter the tile reads strided along its lanes (`W` of `X·Wᵀ`) is
/// always packed; any other input parameter whose packed layout differs from
/// its own and whose elements the tile reads more than once is packed when
/// sampled (one `sample_categorical` each; default:
/// when it is larger than [`PACK_DEFAULT_BYTES`]). With threads, the copy's
/// outer loop is parallel.
fn pack_operands(
    sch: &mut Schedule,
    block: &str,
    (lane, lanes): (usize, i64),
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<(), SpaceError> {
    let b = sch.get_block(block)?;
    let count = block_reads(&sch.func().block(block).unwrap().block).len();
    for index in 0..count {
        let f = sch.func();
        let br = f.block(block).unwrap();
        let buffer = block_reads(&br.block)[index].buffer.to_string();
        if !f.is_input(&buffer) || derived_layout(f, block, &buffer).is_none() {
            continue;
        }
        let Some(load) = br.block.body.value.loads().into_iter().find(|l| *l.buffer == *buffer) else { continue };
        let lane_var = &br.block.iter_vars[lane].var;
        let strided =
            load.indices.iter().any(|e| e.uses_var(lane_var)) && contiguous_iter(br, &load.indices) != Some(lane);
        // An operand every iteration variable indexes is read once: a copy
        // would only add its own pass (a column sum's `x`).
        let reused =
            br.block.iter_vars.iter().any(|iv| iv.extent > 1 && !load.indices.iter().any(|e| e.uses_var(&iv.var)));
        if !strided && !reused {
            continue;
        }
        let bytes = f.buffer(&buffer).map_or(0, |b| b.numel() * b.dtype.bytes() as i64);
        let pack = strided || choose(sch, &[0, 1], usize::from(bytes > PACK_DEFAULT_BYTES), mode)? == 1;
        if !pack {
            continue;
        }
        let Some(copy) = pack_operand(sch, b, index, lanes)? else {
            return Err(SpaceError::Rejected(format!("`{buffer}` cannot be packed for this tile")));
        };
        // With threads, the copy is split among them too.
        let outer = sch.get_loops(copy)?.first().copied();
        if let Some(l) = outer.filter(|_| opts.threads > 1) {
            if loop_extent(sch, l)? >= opts.threads as i64 {
                sch.parallel(l)?;
            }
        }
    }
    Ok(())
}
