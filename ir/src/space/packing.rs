//! Operand packing (the layout rewrite of TVM's `RewriteLayout`, BLIS's
//! packed panels): a read-only operand of a register-tiled block is copied,
//! once per call, into a buffer laid out in the order the tile's loops read
//! it, so that the micro-kernel streams through it with unit stride.
//!
//! The layout is derived from the loop nest ([`derived_layout`]): every loop
//! that indexes the operand becomes one dimension of the packed buffer, in
//! loop order, with the loop's extent — for `Y = X·Wᵀ` tiled as
//! `j0, k0, j1, k1, j2, lane` that is `W'[j0][k0][j1][k1][j2][lane]`, the
//! `[n/nr][k][nr]` panels of BLIS. The copy is a `cache_read` of the operand
//! plus a `transform_layout` with that index map, so the trace records it as
//! two ordinary steps; the copy block's own loops are then split and
//! reordered the same way, so that it writes the packed buffer sequentially.
//!
//! A copy of an input parameter at the root of the function is what
//! `crate::prepack` can move ahead of time (`<kernel>::pack_<param>`).

use crate::ir::{Analyzer, BinOp, Expr, ForKind, PrimFunc, Var};
use crate::schedule::index_map::IndexMap;
use crate::schedule::{BlockRV, BufferSide, Factor, Schedule, ScheduleError};

/// One loop that indexes the operand: its dimension, coefficient and extent.
#[derive(Clone, Debug)]
struct Part {
    var: Var,
    dim: usize,
    coef: i64,
    extent: i64,
}

/// The packed layout of `buffer` as `block` reads it in the current loop
/// nest, as an index map from the buffer's indices; `None` when the access
/// is not a mixed-radix combination of whole loops (every loop in one
/// dimension, the coefficients of a dimension's loops nested like a split),
/// or when the layout would not change.
pub fn derived_layout(func: &PrimFunc, block: &str, buffer: &str) -> Option<IndexMap> {
    let br = func.block(block)?;
    let loops = func.loops_of_block(block)?;
    let ndim = func.buffer(buffer)?.shape.len();
    // One access pattern of the buffer, in terms of the loop variables.
    let loads: Vec<_> = br.block.body.value.loads().into_iter().filter(|l| *l.buffer == *buffer).collect();
    let first = loads.first()?;
    if loads.iter().any(|l| l.indices != first.indices) {
        return None;
    }
    let bind = |v: &Var| br.block.iter_vars.iter().position(|iv| &iv.var == v).map(|i| br.bindings[i].clone());
    let an = Analyzer::new();
    let mut parts: Vec<Part> = Vec::new();
    for (dim, idx) in first.indices.iter().enumerate() {
        let lin = an.linear(&idx.substitute(&bind));
        if lin.constant != 0 {
            return None;
        }
        for (atom, coef) in &lin.terms {
            let Expr::Var(v) = atom else { return None };
            let l = loops.iter().find(|l| &l.var == v)?;
            if *coef <= 0 || parts.iter().any(|p| &p.var == v) {
                return None;
            }
            if l.extent > 1 {
                parts.push(Part { var: v.clone(), dim, coef: *coef, extent: l.extent });
            }
        }
    }
    // Each dimension's loops must nest like the parts of a split.
    for dim in 0..ndim {
        let mut mine: Vec<&Part> = parts.iter().filter(|p| p.dim == dim).collect();
        mine.sort_by_key(|p| std::cmp::Reverse(p.coef));
        if mine.last().is_some_and(|p| p.coef != 1) {
            return None;
        }
        if mine.windows(2).any(|w| w[0].coef != w[1].coef * w[1].extent) {
            return None;
        }
    }
    // The new dimensions: the loops in nest order.
    let order: Vec<&Part> = loops.iter().filter_map(|l| parts.iter().find(|p| p.var == l.var)).collect::<Vec<_>>();
    let params: Vec<Var> = (0..ndim).map(|d| Var::new(&format!("v{d}"))).collect();
    let results: Vec<Expr> = order
        .iter()
        .map(|p| {
            let outermost = !parts.iter().any(|q| q.dim == p.dim && q.coef > p.coef);
            let x = Expr::var(&params[p.dim]);
            let q = if p.coef == 1 { x } else { Expr::binary(BinOp::FloorDiv, x, Expr::Int(p.coef)) };
            if outermost {
                q
            } else {
                Expr::binary(BinOp::FloorMod, q, Expr::Int(p.extent))
            }
        })
        .collect();
    // Unchanged when every dimension is read by at most one loop, in order.
    let identity = order.len() == ndim && order.iter().enumerate().all(|(k, p)| p.dim == k && p.coef == 1);
    (!identity && !results.is_empty()).then_some(IndexMap { params, results })
}

/// Packs the `read_index`-th buffer `block` reads into the layout its loop
/// nest reads it in ([`derived_layout`]): a `cache_read` at the root plus a
/// `transform_layout`; then splits and reorders the copy block's loops into
/// the packed order and vectorizes its innermost loop when it is `lanes`
/// wide. Returns the copy block, or `None` (nothing changed) when the layout
/// is not derivable.
pub fn pack_operand(
    sch: &mut Schedule,
    block: BlockRV,
    read_index: usize,
    lanes: i64,
) -> Result<Option<BlockRV>, ScheduleError> {
    let name = sch.block_name(block)?;
    let func = sch.func();
    let Some(br) = func.block(&name) else { return Ok(None) };
    let reads = crate::ir::block_reads(&br.block);
    let Some(region) = reads.get(read_index) else { return Ok(None) };
    let buffer = region.buffer.to_string();
    let Some(map) = derived_layout(func, &name, &buffer) else { return Ok(None) };
    let f32_source = func.buffer(&buffer).is_some_and(|b| b.dtype == crate::ir::DataType::F32);
    let copy = sch.cache_read(block, read_index, "global")?;
    sch.transform_layout(block, (BufferSide::Read, read_index), &map)?;
    order_copy(sch, copy, &map, lanes, f32_source && (lanes == 8 || lanes == 16))?;
    Ok(Some(copy))
}

/// Splits and reorders the copy block's loops (one per original dimension)
/// into the packed order of `map`, so that its stores are sequential.
fn order_copy(
    sch: &mut Schedule,
    copy: BlockRV,
    map: &IndexMap,
    lanes: i64,
    transposed_f32: bool,
) -> Result<(), ScheduleError> {
    let loops = sch.get_loops(copy)?;
    // Per original dimension, the packed dimensions it feeds, outermost first,
    // each with its extent (the divisor of the next one's quotient).
    let mut pieces: Vec<Vec<(usize, Option<i64>)>> = vec![vec![]; map.params.len()];
    for (k, r) in map.results.iter().enumerate() {
        let (dim, extent) = result_dim(r, map)?;
        pieces[dim].push((k, extent));
    }
    // Each packed dimension's loop, with the original dimension it walks.
    let mut by_result: Vec<Option<(crate::schedule::LoopRV, usize)>> = vec![None; map.results.len()];
    for (dim, ps) in pieces.iter().enumerate() {
        let Some(l) = loops.get(dim).copied() else { return Ok(()) };
        if ps.is_empty() {
            continue;
        }
        if ps.len() == 1 {
            by_result[ps[0].0] = Some((l, dim));
            continue;
        }
        let factors: Vec<Option<Factor>> =
            ps.iter().enumerate().map(|(k, (_, e))| if k == 0 { None } else { e.map(Factor::Int) }).collect();
        let parts = sch.split(l, &factors)?;
        for ((k, _), p) in ps.iter().zip(parts) {
            by_result[*k] = Some((p, dim));
        }
    }
    let order: Vec<_> = by_result.into_iter().flatten().collect();
    if order.len() > 1 {
        sch.reorder(&order.iter().map(|(l, _)| *l).collect::<Vec<_>>())?;
    }
    let Some(&(last, last_dim)) = order.last() else { return Ok(()) };
    let extent = super::common::loop_extent(sch, last)?;
    let kind = sch.func().find_loop(&sch.loop_name(last)?).map(|l| l.kind);
    if !(lanes > 1 && extent == lanes && kind == Some(ForKind::Serial)) {
        return Ok(());
    }
    sch.vectorize(last)?;
    // A transposed copy (the lanes walk a strided dimension of the source,
    // as packing `Wᵀ` does): the innermost loop over the source's contiguous
    // last dimension split by 8, its inner part unrolled just outside the
    // lanes, so that the code generator loads 8 contiguous elements of each
    // lane's row and transposes the block in registers
    // (`codegen/transpose.rs`) instead of gathering every lane.
    let contiguous = map.params.len() - 1;
    if !transposed_f32 || last_dim == contiguous {
        return Ok(());
    }
    let Some(at) = order.iter().rposition(|(_, d)| *d == contiguous) else { return Ok(()) };
    let rows = match super::common::loop_extent(sch, order[at].0)? {
        TRANSPOSE_ROWS => order[at].0,
        e if e % TRANSPOSE_ROWS == 0 => sch.split(order[at].0, &[None, Some(Factor::Int(TRANSPOSE_ROWS))])?[1],
        _ => return Ok(()),
    };
    let mut inner: Vec<_> = order[at + 1..order.len() - 1].iter().map(|(l, _)| *l).collect();
    if !inner.is_empty() {
        inner.extend([rows, last]);
        sch.reorder(&inner)?;
    }
    sch.unroll(rows)?;
    Ok(())
}

/// The rows of a block a packing copy transposes in registers.
const TRANSPOSE_ROWS: i64 = 8;

/// The original dimension a result of a derived map reads, and the result's
/// extent when it is a `% extent` (inner) piece.
fn result_dim(r: &Expr, map: &IndexMap) -> Result<(usize, Option<i64>), ScheduleError> {
    let dim_of = |e: &Expr| -> Option<usize> {
        let mut found = None;
        for (d, p) in map.params.iter().enumerate() {
            if e.uses_var(p) {
                found = Some(d);
            }
        }
        found
    };
    let bad = || ScheduleError::BadInstruction { instruction: "pack".into(), what: "not a derived layout".into() };
    match r {
        Expr::Binary(BinOp::FloorMod, _, m) => Ok((dim_of(r).ok_or_else(bad)?, m.as_int())),
        _ => Ok((dim_of(r).ok_or_else(bad)?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;
    use crate::schedule::testing::random_args;

    fn linear() -> PrimFunc {
        crate::schedule::testing::linear_xwt(8, 32, 24)
    }

    /// `j` split into 4 × 8 lanes and `k` into 3 × 8, ordered j0, k0, i, k1, j1:
    /// `w` is packed as `[j0][k0][k1][j1]`.
    fn tiled() -> Schedule {
        let mut sch = Schedule::new(linear(), 0);
        let y = sch.get_block("Y").unwrap();
        let l = sch.get_loops(y).unwrap();
        let j = sch.split(l[1], &[None, Some(8.into())]).unwrap();
        let k = sch.split(l[2], &[None, Some(8.into())]).unwrap();
        sch.reorder(&[j[0], k[0], l[0], k[1], j[1]]).unwrap();
        sch
    }

    #[test]
    fn the_layout_follows_the_loops() {
        let sch = tiled();
        let map = derived_layout(sch.func(), "Y", "w").unwrap();
        assert_eq!(map.to_string(), "lambda v0, v1: (T.floordiv(v0, 8), T.floordiv(v1, 8), v1 % 8, v0 % 8)");
        // x is read as x[i, k0 * 8 + k1]: i comes first but between k0 and k1.
        let map = derived_layout(sch.func(), "Y", "x").unwrap();
        assert_eq!(map.to_string(), "lambda v0, v1: (T.floordiv(v1, 8), v0, v1 % 8)");
    }

    #[test]
    fn packing_keeps_results_and_streams_the_panel() {
        let mut sch = tiled();
        let y = sch.get_block("Y").unwrap();
        let copy = pack_operand(&mut sch, y, 1, 8).unwrap().expect("w packs");
        let func = sch.func().clone();
        let mut want = random_args(&linear(), 1);
        interp::run(&linear(), &mut want).unwrap();
        let mut got = random_args(&linear(), 1);
        interp::run(&func, &mut got).unwrap();
        assert_eq!(got, want);
        // The packed buffer and the copy's loops follow the panel order.
        assert_eq!(func.buffer("w_global").unwrap().shape, vec![4, 3, 8, 8]);
        let copy_loops = sch.get_loops(copy).unwrap();
        assert_eq!(copy_loops.len(), 4);
        // w is read transposed (the lanes walk its rows): the 8 columns of
        // `k1` are unrolled just outside the lanes, for the transpose in
        // registers.
        let kinds: Vec<ForKind> =
            copy_loops.iter().map(|l| sch.func().find_loop(&sch.loop_name(*l).unwrap()).unwrap().kind).collect();
        assert_eq!(kinds[2..], [ForKind::Unrolled, ForKind::Vectorized]);
        // w is a root packing stage: it can be packed ahead of time.
        assert_eq!(crate::prepack::split(&func).len(), 1);
    }

    #[test]
    fn unpackable_accesses() {
        // Unscheduled: the loops already read w in order (j, k): no change.
        let func = linear();
        assert!(derived_layout(&func, "Y", "w").is_none());
        assert!(derived_layout(&func, "Y", "nothing").is_none());
    }
}
