//! `transform_layout`: change the layout of an intermediate buffer with an
//! index map; every access `buf[idx]` becomes `buf[map(idx)]`.
//!
//! ```text
//! b_global = T.alloc_buffer((128, 128))        sch.transform_layout(block=b0, buffer=("read", 1),
//! b_global[v0, v1] = b[v0, v1]                     index_map=lambda k, j: (T.floordiv(j, 16), k, j % 16))
//! c[vi, vj] += a[vi, vk] * b_global[vk, vj] ==> b_global = T.alloc_buffer((8, 128, 16))
//!                                               b_global[v1 // 16, v0, v1 % 16] = b[v0, v1]
//!                                               c[vi, vj] += a[vi, vk] * b_global[vj // 16, vk, vj % 16]
//! ```
//! This is how a schedule packs a read-only operand: `cache_read` it, then
//! transform the cache's layout (here 16 consecutive `j` per `k`, which is what
//! a 16-wide micro-kernel reads). The new shape is the range of the map over
//! the old shape; the map must start at 0 in every result and be injective on
//! the old shape. Parameters cannot change layout (their layout is the
//! function's signature).

use super::RvMap;
use crate::ir::{block_reads, block_writes, Analyzer, BinOp, Expr, PrimFunc, Var};
use crate::schedule::analysis::{normalize, rewrite_block_accesses};
use crate::schedule::error::family_error;
use crate::schedule::index_map::{index_expr_text, IndexMap};
use crate::schedule::{BlockRV, BufferSide, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

/// Buffers with at most this many elements have their index map checked by
/// enumerating every index.
pub const ENUMERATION_LIMIT: i64 = 1 << 24;

/// The largest transformed buffer (in elements) checked by enumeration.
const IMAGE_LIMIT: i64 = 1 << 28;

family_error! { TransformLayoutError, "transform_layout",
    /// The buffer index does not name one of the block's buffers on that side.
    IndexOutOfRange { block: String, side: String, index: usize, count: usize } =>
        "block \"{block}\" has {count} {side} buffer(s), so ({side:?}, {index}) is out of range",
    /// The buffer is a function parameter.
    ParamBuffer { block: String, buffer: String } =>
        "buffer `{buffer}` of block \"{block}\" is a parameter of the function; only intermediate buffers (caches, packed copies) can change layout",
    /// The map takes a different number of indices than the buffer has dimensions.
    ArityMismatch { buffer: String, ndim: usize, arity: usize } =>
        "the index map takes {arity} indices but `{buffer}` has {ndim} dimensions",
    /// A result is not index arithmetic the transformation can evaluate.
    BadExpression { buffer: String, result: String } =>
        "result `{result}` of the index map for `{buffer}` is not index arithmetic of its parameters (+, -, *, and T.floordiv or % by a positive constant)",
    /// A result does not range over `0..n` on the old shape.
    OutOfRange { buffer: String, dim: usize, lo: i64, hi: i64 } =>
        "result {dim} of the index map ranges over {lo}..={hi} on the shape of `{buffer}`; it must start at 0",
    /// Two indices map to the same element.
    NotInjective { buffer: String, first: String, second: String, image: String } =>
        "the index map sends both `{buffer}[{first}]` and `{buffer}[{second}]` to [{image}], so it is not injective",
    /// Too large to enumerate and not structurally a split or reorder.
    CannotProveInjective { buffer: String, numel: i64, image: String } =>
        "`{buffer}` has {numel} elements and its new shape {image}: too many to check the index map by enumeration, and the map is not a plain reorder or split of the dimensions, so it cannot be shown injective",
}

fn side_name(side: BufferSide) -> &'static str {
    match side {
        BufferSide::Read => "read",
        BufferSide::Write => "write",
    }
}

fn parse_side(s: &str) -> Option<BufferSide> {
    match s {
        "read" => Some(BufferSide::Read),
        "write" => Some(BufferSide::Write),
        _ => None,
    }
}

/// Whether `e` uses only the map's parameters, constants, `+ - *`, and
/// `//` or `%` by positive constants.
fn plain_index_arith(e: &Expr, map: &IndexMap) -> bool {
    match e {
        Expr::Int(_) => true,
        Expr::Var(v) => map.params.contains(v),
        Expr::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul, a, b) => {
            plain_index_arith(a, map) && plain_index_arith(b, map)
        }
        Expr::Binary(BinOp::FloorDiv | BinOp::FloorMod, a, b) => {
            b.as_int().is_some_and(|c| c > 0) && plain_index_arith(a, map)
        }
        _ => false,
    }
}

/// Whether the map is a reorder of mixed-radix digits of the dimensions
/// (then injective by construction): every result is a digit
/// `(p // c) % e` of one parameter `p` (`p`, `p // c` and `p % e` are digits
/// too), and the digits of each parameter, ordered by `c`, start at `c = 1`,
/// each next one starting where the last ended (`c' = c·e`), the last
/// covering the whole extent. A split at most once (`p // c, p % c`) and
/// the panels of operand packing (`j // 24, k, j % 24 // 8, j % 8`) are such
/// maps.
fn is_split_reorder(map: &IndexMap, shape: &[i64]) -> bool {
    // Per parameter: its digits (c, e), e = None for an unbounded digit.
    let mut digits: Vec<Vec<(i64, Option<i64>)>> = vec![vec![]; map.params.len()];
    for r in &map.results {
        let Some((p, c, e)) = digit(r) else { return false };
        let Some(k) = map.params.iter().position(|x| *x == *p) else { return false };
        digits[k].push((c, e));
    }
    digits.iter_mut().zip(shape).all(|(ds, n)| {
        ds.sort_by_key(|d| d.0);
        let Some(last) = ds.last() else { return *n == 1 };
        let chained = ds.windows(2).all(|w| w[0].1.is_some_and(|e| w[1].0 == w[0].0 * e));
        let covers = last.1.is_none_or(|e| last.0.checked_mul(e).is_some_and(|span| span >= *n));
        ds[0].0 == 1 && chained && covers
    })
}

/// `(p // c) % e` as `(p, c, Some(e))`; `p // c`, `p % e` and `p` likewise
/// (`c = 1`, `e = None` when absent). Constants must be positive.
fn digit(r: &Expr) -> Option<(&Var, i64, Option<i64>)> {
    fn quotient(x: &Expr) -> Option<(&Var, i64)> {
        match x {
            Expr::Var(v) => Some((v, 1)),
            Expr::Binary(BinOp::FloorDiv, a, b) => Some((a.as_var()?, b.as_int().filter(|c| *c > 0)?)),
            _ => None,
        }
    }
    match r {
        Expr::Binary(BinOp::FloorMod, a, b) => {
            let (v, c) = quotient(a)?;
            Some((v, c, Some(b.as_int().filter(|e| *e > 0)?)))
        }
        _ => quotient(r).map(|(v, c)| (v, c, None)),
    }
}

fn index_list(v: &[i64]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// Calls `f` on every index of `shape` in row-major order; stops when `f` returns false.
fn for_each_index(shape: &[i64], mut f: impl FnMut(&[i64]) -> bool) {
    let mut point = vec![0i64; shape.len()];
    loop {
        if !f(&point) {
            return;
        }
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            point[d] += 1;
            if point[d] < shape[d] {
                break;
            }
            point[d] = 0;
        }
    }
}

/// Checks `transform_layout(block, (side, index), map)`; returns the buffer
/// and its new shape.
///
/// Conditions: 1. `index` names one of the block's buffers on `side` (the
/// order of `T.reads` / `T.writes`); 2. the buffer is allocated by the
/// function, not a parameter; 3. the map takes one index per dimension;
/// 4. every result is index arithmetic of the parameters (`+ - *`, `//` and
/// `%` by positive constants); 5. every result ranges from 0 over the old
/// shape; 6. the map is injective on the old shape: a reorder of the
/// dimensions, each split at most once into `p // c, p % c`, is injective by
/// construction; any other map is checked by enumerating the old shape, which
/// must have at most 2²⁴ elements (and the new one at most 2²⁸).
pub fn check_transform_layout(
    func: &PrimFunc,
    block: &str,
    side: BufferSide,
    index: usize,
    map: &IndexMap,
) -> Result<(String, Vec<i64>), TransformLayoutError> {
    let br = func.block(block).expect("live block");
    let regions = match side {
        BufferSide::Read => block_reads(&br.block),
        BufferSide::Write => block_writes(&br.block),
    };
    let Some(region) = regions.get(index) else {
        return Err(TransformLayoutError::IndexOutOfRange {
            block: block.into(),
            side: side_name(side).into(),
            index,
            count: regions.len(),
        });
    };
    let buffer = region.buffer.to_string();
    if func.param(&buffer).is_some() {
        return Err(TransformLayoutError::ParamBuffer { block: block.into(), buffer });
    }
    let shape = func.buffer(&buffer).expect("live buffer").shape.clone();
    if map.params.len() != shape.len() {
        return Err(TransformLayoutError::ArityMismatch { buffer, ndim: shape.len(), arity: map.params.len() });
    }
    if let Some(bad) = map.results.iter().find(|r| !plain_index_arith(r, map)) {
        return Err(TransformLayoutError::BadExpression { buffer, result: index_expr_text(bad) });
    }
    let numel: i64 = shape.iter().product();
    let structural = is_split_reorder(map, &shape);
    let enumerate = !structural && numel <= ENUMERATION_LIMIT;
    let mut bounds = vec![(i64::MAX, i64::MIN); map.results.len()];
    if enumerate {
        let mut overflow = false;
        for_each_index(&shape, |p| match map.eval(p) {
            Some(img) => {
                for (b, x) in bounds.iter_mut().zip(img) {
                    *b = (b.0.min(x), b.1.max(x));
                }
                true
            }
            None => {
                overflow = true;
                false
            }
        });
        if overflow {
            let result = map.results.iter().map(index_expr_text).collect::<Vec<_>>().join(", ");
            return Err(TransformLayoutError::BadExpression { buffer, result });
        }
    } else {
        // Exact for the structural forms (`p`, `p // c`, `p % c`).
        let mut an = Analyzer::new();
        for (p, n) in map.params.iter().zip(&shape) {
            an.bind(p, *n);
        }
        for (b, r) in bounds.iter_mut().zip(&map.results) {
            *b = an.range(r).unwrap_or((i64::MIN, i64::MAX));
        }
    }
    for (dim, (lo, hi)) in bounds.iter().enumerate() {
        if *lo != 0 {
            return Err(TransformLayoutError::OutOfRange { buffer, dim, lo: *lo, hi: *hi });
        }
    }
    let new_shape: Vec<i64> = bounds.iter().map(|(_, hi)| hi + 1).collect();
    let image_numel = new_shape.iter().try_fold(1i64, |acc, d| acc.checked_mul(*d));
    if structural {
        return Ok((buffer, new_shape));
    }
    if !enumerate || image_numel.is_none_or(|n| n > IMAGE_LIMIT) {
        let image = image_numel.map_or_else(|| "overflows".to_string(), |n| format!("has {n}"));
        return Err(TransformLayoutError::CannotProveInjective { buffer, numel, image });
    }
    let strides = crate::ir::Buffer::new("", crate::ir::DataType::F32, new_shape.clone()).strides();
    let mut seen = vec![0u64; (image_numel.unwrap() as usize).div_ceil(64)];
    let mut clash: Option<(Vec<i64>, Vec<i64>)> = None;
    for_each_index(&shape, |p| {
        let img = map.eval(p).expect("evaluated above");
        let flat = img.iter().zip(&strides).map(|(x, s)| x * s).sum::<i64>() as usize;
        if seen[flat / 64] & (1 << (flat % 64)) != 0 {
            clash = Some((p.to_vec(), img));
            return false;
        }
        seen[flat / 64] |= 1 << (flat % 64);
        true
    });
    if let Some((second, img)) = clash {
        let mut first = None;
        for_each_index(&shape, |p| {
            if map.eval(p).as_ref() == Some(&img) {
                first = Some(p.to_vec());
                return false;
            }
            true
        });
        return Err(TransformLayoutError::NotInjective {
            buffer,
            first: index_list(&first.expect("the clash has a first index")),
            second: index_list(&second),
            image: index_list(&img),
        });
    }
    Ok((buffer, new_shape))
}

/// Rewrites every access of `buffer` through `map` and gives it `new_shape`.
pub fn apply_transform_layout(func: &PrimFunc, buffer: &str, map: &IndexMap, new_shape: &[i64]) -> PrimFunc {
    let body = func.body.clone().map_blocks(&mut |mut br| {
        let mut an = Analyzer::new();
        for iv in &br.block.iter_vars {
            an.bind(&iv.var, iv.extent);
        }
        br.block = rewrite_block_accesses(&br.block, &mut |b, idx| {
            (b == buffer).then(|| (b.into(), map.apply(idx).iter().map(|e| an.simplify(e)).collect()))
        });
        br
    });
    let mut allocs = func.allocs.clone();
    allocs.iter_mut().find(|b| &*b.name == buffer).expect("an allocated buffer").shape = new_shape.to_vec();
    normalize(PrimFunc { body, allocs, ..func.clone() })
}

impl Schedule {
    /// Changes the layout of the intermediate buffer `buffer` (a side and an
    /// index into the block's reads or writes) with `index_map`.
    pub fn transform_layout(
        &mut self,
        block: BlockRV,
        buffer: (BufferSide, usize),
        index_map: &IndexMap,
    ) -> Result<(), ScheduleError> {
        let name = self.block_name(block)?;
        let (buf, new_shape) = check_transform_layout(self.func(), &name, buffer.0, buffer.1, index_map)?;
        let func = apply_transform_layout(self.func(), &buf, index_map, &new_shape);
        self.commit(func, "transform_layout");
        self.record(
            Instruction::new(InstKind::TransformLayout)
                .arg("block", Arg::Rv(block.rv()))
                .arg("buffer", Arg::Tuple(vec![Arg::Str(side_name(buffer.0).into()), Arg::Int(buffer.1 as i64)]))
                .arg("index_map", Arg::IndexMap(index_map.to_arg())),
        );
        Ok(())
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let b = map.block(map.arg(inst, "block")?)?;
    let bad_buffer = || map.err("`buffer` must be (\"read\", <index>) or (\"write\", <index>)");
    let buffer = match map.arg(inst, "buffer")? {
        Arg::Tuple(items) if items.len() == 2 => {
            let side = items[0].as_str().and_then(parse_side).ok_or_else(bad_buffer)?;
            let index = items[1].as_int().and_then(|i| usize::try_from(i).ok()).ok_or_else(bad_buffer)?;
            (side, index)
        }
        _ => return Err(bad_buffer()),
    };
    let index_map = match map.arg(inst, "index_map")? {
        Arg::IndexMap(m) => IndexMap::from_arg(m).map_err(|e| map.err(e))?,
        _ => return Err(map.err("`index_map` must be a lambda")),
    };
    sch.transform_layout(b, buffer, &index_map)?;
    Ok(vec![])
}
