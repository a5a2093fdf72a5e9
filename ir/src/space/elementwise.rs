//! The elementwise rule (the vectorize and parallel parts of MetaSchedule's
//! `ParallelizeVectorizeUnroll`).
//!
//! **What it does:** splits the innermost loop by the lane count and
//! vectorizes the lane loop; tiles the rows of a transposed read; with
//! threads, makes the outermost loop parallel.
//!
//! **When it applies:** to a spatial-only block (not absorbed by its
//! producer's tile, not already inside another block's nest or a vectorized
//! loop) whose store is contiguous in its innermost loop, of a floating-point
//! type, at least one vector long, on an ISA with vector lanes. Rows shorter
//! than a vector (`[f32; 1000, 5]`) are fused with the loops outside them
//! into one loop, when every access reads them as one run ([`fused_rows`]),
//! and that loop is vectorized (SiLU of 1000×5 on Zen 4, family 25 model 17:
//! 23.3 → 2.7 µs on AVX-512, 23.7 → 3.3 on AVX2, `tuner bench`); otherwise
//! they stay scalar. So are rows that end in a partial vector, where the
//! accesses allow it (MetaSchedule fuses the innermost loops it vectorizes
//! too): a batch normalization `x·s[c] + b[c]` then ReLU of `[8, 64, 28,
//! 28]` ran a masked AVX2 store at the end of every row of 28, slower than
//! the unscheduled loops that LLVM vectorizes (58.2 µs against 41.2); `h, w`
//! fused, 784 elements in whole vectors: 34.0 (Zen 4, family 25 model 17,
//! old and new tuner alternated in `tuner bench`); SiLU of `[2000, 20]`
//! 31.9 → 16.5 µs on AVX-512, 39.1 → 22.6–25.3 on AVX2. A per-column input
//! read along the innermost loop only (`s[c]` beside `x[h, w, c]`) does not
//! keep the loops apart: its lanes come from a table of it repeated
//! (`codegen/periodic.rs`; `(x·s[c] + b[c])` then SiLU of `[128, 128, 3]`:
//! 323 → 21.0 µs on AVX-512, scalar before).
//!
//! **What it samples:** when the block calls a vector math function that
//! the target computes several vectors at a time in lockstep (`exp`, `tanh`
//! on AVX2; also `sigmoid`, `ln` on AVX-512: `codegen::lockstep`), how many
//! vectors the lane loop holds: 1, 2 or 4 (`sample_categorical`, those that
//! fit the loop). Default: `codegen::default_group`, the most that fit up to
//! it — on AVX2 4, measured on Zen 1 (AMD EPYC family 23 model 1) against 1:
//! softmax 110 → 89.5 µs, softmax_fast 88.8 → 69.8, gelu 636 → 554; 2
//! vectors gained 7 % at most; on AVX-512 2 where whole groups fill the
//! loop (Zen 4: gelu 1.08×; a row of 1000 is faster one vector at a time). When an
//! operand is read transposed (contiguous along another loop than the
//! lanes, `y[i, j] = x[j, i]`), how many rows of the store a tile holds
//! (`sample_categorical` among 1, 8, 16, 32 that divide the loop; default: a
//! cache line of elements, 16 for `f32` — on AVX2 8, unrolled, which the
//! code generator transposes in registers: `codegen/transpose.rs`): that
//! loop is split and its inner part moved just outside the lane loop. When
//! the block divides by a divisor the lanes share and its lane loop holds
//! one vector of lockstep math: how many vectors the lane loop holds, one of
//! which the divider divides (`divider.rs`). Otherwise nothing: the lane
//! count comes from the target.

use crate::ir::{BlockRealize, DataType, Expr, IterKind, PrimFunc};
use crate::schedule::{Factor, LoopRV, Schedule};
use crate::target::Isa;

use super::common::{choose, loop_handles, parallelize, rule_subject};
use super::roles::{contiguous_iter, one_run, store_lane_iter, LoopRole};
use super::{Mode, SpaceError, SpaceOptions};

/// The most loops one fused run steps through: the simplifier sees three
/// fused loops' row, column and element add up to the run's index again,
/// split by the lanes too — `(4·f0 + f1 // 2) // 3` is `(8·f0 + f1) // 6` —
/// and was not taught more.
const MAX_FUSED: usize = 3;

/// The numbers of vectors a lane loop may hold in lockstep.
const GROUPS: [i64; 3] = [1, 2, 4];

/// Vectorizes (and parallelizes) the spatial-only `block`.
pub(super) fn apply(sch: &mut Schedule, block: &str, opts: &SpaceOptions, mode: &mut Mode) -> Result<(), SpaceError> {
    let Some((f, br, roles)) = rule_subject(sch, block) else { return Ok(()) };
    let Some(last) = roles.last() else { return Ok(()) };
    let dt = br.block.body.value.dtype();
    let lanes = opts.isa.lanes(dt) as i64;
    if Some(last.iter) != store_lane_iter(&br) || lanes <= 1 || dt == DataType::I32 {
        return Ok(());
    }
    let b = sch.get_block(block)?;
    let handles = loop_handles(sch, b)?;
    let (k, rows) = fused_rows(&f, &br, &roles, lanes, opts.threads);
    if last.extent < lanes {
        return fuse_short_rows(sch, &br, &roles, &handles, (k, rows), opts, mode);
    }
    let (lane_loop, extent) = if k >= 2 {
        let run = &roles[roles.len() - k..];
        let loops: Vec<LoopRV> = run.iter().map(|r| handles[&r.var]).collect();
        (sch.fuse(&loops)?, run.iter().map(|r| r.extent).product())
    } else {
        (handles[&last.var], last.extent)
    };
    let mut group = lane_group(sch, &br.block.body.value, opts.isa, extent, mode)?;
    let mut share = 1;
    if group == 1 {
        let lane = &br.block.iter_vars[last.iter].var;
        share = super::divider::share(sch, &f, &br.block.body.value, lane, (opts.isa, extent), mode)?;
        group = share;
    }
    let parts = sch.split(lane_loop, &[None, Some(Factor::Int(lanes * group))])?;
    sch.vectorize(parts[1])?;
    super::divider::annotate(sch, parts[1], share)?;
    let mut outer = roles.first().filter(|_| roles.len() > k).map(|r| handles[&r.var]);
    if let Some(role) = transposed_read(&br, &roles, last.iter).filter(|_| k < 2) {
        let fit: Vec<i64> = ROW_TILES.into_iter().filter(|t| *t == 1 || role.extent % t == 0).collect();
        // In registers (AVX2, `f32`): as many rows as lanes; else a cache line.
        // (AVX-512 keeps its gathers: 8 rows transposed in registers as 16×8
        // blocks ran a 512×512 transpose in 72 µs against 60 with a cache
        // line of gathered rows, Zen 4, family 25 model 17; with the
        // 16-shuffle `transpose8x16_avx512` still 70–72 against 60.)
        let in_registers = opts.isa == Isa::Avx2 && dt == DataType::F32 && group == 1;
        let want = if in_registers { lanes } else { 64 / dt.bytes() as i64 };
        let default = fit.iter().rposition(|t| *t <= want).unwrap_or(0);
        let t = choose(sch, &fit, default, mode)?;
        if t > 1 {
            let rows = sch.split(handles[&role.var], &[None, Some(Factor::Int(t))])?;
            sch.reorder(&[rows[0], parts[0], rows[1]])?;
            if in_registers && t == lanes {
                // The code generator transposes the tile's 8×8 blocks in
                // registers (`codegen/transpose.rs`).
                sch.unroll(rows[1])?;
            }
            if roles[0].var == role.var {
                outer = Some(rows[0]);
            }
        }
    }
    if let Some(outer) = outer.filter(|_| roles.len() >= 2 && opts.threads > 1) {
        parallelize(sch, &[outer], opts)?;
    }
    Ok(())
}

/// How many vectors the lane loop holds: sampled when the block's value has
/// a lockstep form (`lockstep_groups`), else 1.
fn lane_group(sch: &mut Schedule, value: &Expr, isa: Isa, extent: i64, mode: &mut Mode) -> Result<i64, SpaceError> {
    Ok(match lockstep_groups(value, isa, extent) {
        Some((fit, default)) => choose(sch, &fit, default, mode)?,
        None => 1,
    })
}

/// Rows shorter than a vector: one loop over the elements of as many rows
/// as [`fused_rows`] allows, split by the lanes and vectorized (nothing when
/// it allows none); with threads, the loop outside it parallel.
fn fuse_short_rows(
    sch: &mut Schedule,
    br: &BlockRealize,
    roles: &[LoopRole],
    handles: &std::collections::HashMap<String, LoopRV>,
    (k, rows): (usize, bool),
    opts: &SpaceOptions,
    mode: &mut Mode,
) -> Result<(), SpaceError> {
    let lanes = opts.isa.lanes(br.block.body.value.dtype()) as i64;
    if k < 2 {
        return Ok(());
    }
    let mut fused: Vec<_> = roles[roles.len() - k..].iter().map(|r| handles[&r.var]).collect();
    let extent: i64 = roles[roles.len() - k..].iter().map(|r| r.extent).product();
    let mut outer = (roles.len() > k).then(|| handles[&roles[0].var]);
    let inner = extent / roles[roles.len() - k].extent;
    let group = lane_group(sch, &br.block.body.value, opts.isa, if rows { 4 * lanes * inner } else { extent }, mode)?;
    if rows {
        // Symbolic rows: as many at a time as the lane loop has lanes (a
        // whole number of lane loops per step), the loop over those steps
        // kept apart.
        let split = sch.split(fused[0], &[None, Some(Factor::Int(lanes * group))])?;
        fused[0] = split[1];
        outer = outer.or(Some(split[0]));
    }
    let l = sch.fuse(&fused)?;
    if let Some(outer) = outer.filter(|_| opts.threads > 1) {
        parallelize(sch, &[outer], opts)?;
    }
    let parts = sch.split(l, &[None, Some(Factor::Int(lanes * group))])?;
    sch.vectorize(parts[1])?;
    Ok(())
}

/// When `value` calls a math function that `isa` computes several vectors
/// at a time in lockstep: the numbers of vectors a lane loop of `extent`
/// may hold ([`GROUPS`] that fit it) and the index of the default
/// (`codegen::default_group_for`); `None` otherwise (one vector).
pub(super) fn lockstep_groups(value: &Expr, isa: Isa, extent: i64) -> Option<(Vec<i64>, usize)> {
    let dt = value.dtype();
    let lanes = isa.lanes(dt) as i64;
    let mut calls = false;
    value.visit(&mut |e| {
        if let Expr::Unary(op, _) = e {
            calls |= crate::codegen::has_lockstep_form(isa, dt, *op);
        }
    });
    if !calls {
        return None;
    }
    let fit: Vec<i64> = GROUPS.into_iter().filter(|g| g * lanes <= extent).collect();
    let default = crate::codegen::default_group_for(isa, &fit, lanes, extent);
    Some((fit, default))
}

/// How many of the innermost `roles` (at least 2, else 0) one loop runs
/// through when the innermost row leaves a partial vector: loops that every
/// access reads as one run (`roles::one_run`: `y[i, j]` and `x[i, j]` of
/// `[f32; 1000, 5]`, `5·i + j`, one run of 5000; a broadcast `s[c]` beside
/// `x[n, c, h, w]` over `h, w`; not `b[j, 0]` beside `x[i, j]`), each
/// spatial, [`MAX_FUSED`] at most. Rows shorter than a vector take as few as
/// make a vector, and more while the run still ends in a partial vector (with
/// threads, one loop stays outside, to be parallel): so `[.., 7, 7]` on AVX2
/// fuses `c, h, w` when it can (`49·c`, and 49 is 6 vectors and one lane) and
/// `[.., 28, 28]` fuses `h, w` (784: 98 vectors, where each row of 28 ended in
/// a masked store). With `true` when the outermost of them steps through the
/// rows of a symbolic dimension (`[f32; n, 5]`): those rows must stay a loop
/// of their own (`codegen::symbolic`), so the caller fuses the inner part of
/// a split of it (a lane loop's worth of rows), and stops there.
fn fused_rows(f: &PrimFunc, br: &BlockRealize, roles: &[LoopRole], lanes: i64, threads: usize) -> (usize, bool) {
    if roles.last().is_none_or(|r| r.extent % lanes == 0) {
        return (0, false);
    }
    let most = MAX_FUSED.min(roles.len() - usize::from(threads > 1));
    let (mut extent, mut k) = (1, 0);
    for j in 1..=roles.len().min(MAX_FUSED) {
        let r = &roles[roles.len() - j];
        let run = (r.kind == IterKind::Spatial).then(|| one_run(f, br, &roles[roles.len() - j..])).flatten();
        match run {
            Some(true) if k == 0 => return if j >= 2 { (j, true) } else { (0, false) },
            Some(false) if extent < lanes || j <= most => {}
            _ => break,
        }
        extent *= r.extent;
        if j >= 2 && extent >= lanes {
            k = j;
            if extent % lanes == 0 {
                break;
            }
        }
    }
    (k, false)
}

/// The row tiles of a transposed read: 1 (none) or rows of the store per
/// tile.
const ROW_TILES: [i64; 4] = [1, 8, 16, 32];

/// The loop of `block` along which an operand that the lanes read with a
/// stride is contiguous (`x[vj, vi]` stored to `y[vi, vj]`): a transposed
/// read, whose vector gathers touch one cache line per lane. Tiling that
/// loop just outside the lane loop (`i0, j0, i1, lanes`) makes the next rows
/// of the store use the rest of those lines while they are in L1 (a 512×512
/// transpose on Zen 1: 1195 → 133–139 µs).
fn transposed_read(
    br: &crate::ir::BlockRealize,
    roles: &[super::roles::LoopRole],
    lane: usize,
) -> Option<super::roles::LoopRole> {
    let lane_var = &br.block.iter_vars[lane].var;
    br.block.body.value.loads().into_iter().filter(|l| l.buffer != br.block.body.buffer).find_map(|l| {
        let c = contiguous_iter(br, &l.indices)?;
        let strided = c != lane && l.indices.iter().any(|e| e.uses_var(lane_var));
        roles.iter().find(|r| strided && r.iter == c && r.extent >= 2 * ROW_TILES[1]).cloned()
    })
}
