//! `compact_buffers`: every temporary buffer shrinks to the region its
//! accesses cover inside their innermost common loop, and is declared at the
//! start of that loop's body.
//!
//! After `cache_write(C, "local")` and `reverse_compute_at` under the tile
//! loops, `c_local` (128×128 in the schedule) becomes the 4×16 block of
//! accumulators the micro-kernel keeps in registers. The region of each
//! dimension is `base + lo .. base + hi + 1`, where `base` is the part of the
//! index that depends only on loops outside the common loop (the same for
//! every access) and `lo..=hi` the range of the rest over the inner loops. A
//! dimension where that does not work keeps its full extent.
//!
//! A small temporary (at most [`PAD_LIMIT`] elements once padded), or one
//! whose rows are long ([`PAD_LONG_ROWS`]), whose
//! innermost extent is not a multiple of [`LANE_PAD`] gets rows padded to one:
//! `c_local` of a 2×37 tile is stored 2×48. Nothing reads the padding as
//! data; it lets the vector tail of a register tile (37 = 4·8 + 5 columns)
//! run as a full vector whose switched-off lanes land in the padding, where
//! it would otherwise run lane by lane.

use std::collections::{BTreeMap, HashMap};

use crate::ir::relax::union;
use crate::ir::{Analyzer, Expr, Interval, Relax, Var};

use super::lir::{LBlock, LBufferKind, LFunc, LStmt};

struct Access {
    /// Loop variables (with extents) around the access, outermost first.
    loops: Vec<(Var, i64)>,
    /// Indices with the block's iteration variables replaced by their bindings.
    indices: Vec<Expr>,
}

fn collect(s: &[LStmt], loops: &mut Vec<(Var, i64)>, out: &mut HashMap<String, Vec<Access>>) {
    for x in s {
        match x {
            LStmt::For { var, extent, body, .. } => {
                loops.push((var.clone(), *extent));
                collect(body, loops, out);
                loops.pop();
            }
            LStmt::Alloc(_) => {}
            LStmt::Block(b) => {
                for (buf, idx, _) in b.accesses() {
                    let indices = idx.iter().map(|e| substitute_lets(b, e)).collect();
                    out.entry(buf.to_string()).or_default().push(Access { loops: loops.clone(), indices });
                }
            }
        }
    }
}

/// `e` with the block's iteration variables replaced by their bindings.
pub fn substitute_lets(b: &LBlock, e: &Expr) -> Expr {
    e.substitute(&|v| b.lets.iter().find(|(x, _, _)| x == v).map(|(_, bind, _)| bind.clone()))
}

/// The region of one dimension: `(min expression, extent)`. Each access is
/// relaxed over its loops below `depth` (an atom mixing them with outer loops
/// is refused); accesses must share their base. Otherwise, or when the region
/// is not smaller, the full extent.
fn dim_region(accesses: &[&Access], depth: usize, d: usize, full: i64) -> (Expr, i64) {
    let dims: Option<Vec<Interval>> = accesses
        .iter()
        .map(|a| {
            let mut an = Analyzer::new();
            for (v, e) in &a.loops {
                an.bind(v, *e);
            }
            let relax = a.loops[depth..].iter().fold(Relax::new(an), |r, (v, e)| r.over(v, *e)).refuse_mixed();
            relax.index(&a.indices[d])
        })
        .collect();
    match dims.and_then(|dims| union(&dims, None)) {
        Some(iv) if iv.extent() < full => (iv.min().to_expr(), iv.extent()),
        _ => (Expr::Int(0), full),
    }
}

/// Rows of small temporaries are padded to a multiple of this many elements
/// (the lanes of the widest vector).
pub const LANE_PAD: i64 = 16;

/// The largest temporary (elements, once padded) whose rows are padded.
pub const PAD_LIMIT: i64 = 4096;

/// A larger temporary's rows are padded too when they are long: when the
/// padding adds at most one element in this many (softmax's 64×1000 `expv`
/// is stored 64×1008, so that an AVX-512 row's last 8 columns are a vector).
pub const PAD_LONG_ROWS: i64 = 16;

/// The padded shape of a temporary of compacted `shape`, and its row padding
/// `(stored, valid)`.
fn pad_rows(mut shape: Vec<i64>, long_rows: bool) -> (Vec<i64>, Option<(i64, i64)>) {
    let Some(&valid) = shape.last() else { return (shape, None) };
    let stored = (valid + LANE_PAD - 1) / LANE_PAD * LANE_PAD;
    let size = shape[..shape.len() - 1].iter().product::<i64>() * stored;
    let long = long_rows && (stored - valid) * PAD_LONG_ROWS <= valid;
    if valid <= 1 || stored == valid || (size > PAD_LIMIT && !long) {
        return (shape, None);
    }
    *shape.last_mut().unwrap() = stored;
    (shape, Some((stored, valid)))
}

/// Per buffer: the loop under which to declare it (`None`: the top), its new
/// shape and row padding, and the offset subtracted from each index.
type Plans = BTreeMap<String, (Option<Var>, (Vec<i64>, Option<(i64, i64)>), Vec<Expr>)>;

/// Shrinks temporaries and moves their declarations to their innermost common loop.
pub fn compact_buffers(mut f: LFunc) -> LFunc {
    let mut accesses: HashMap<String, Vec<Access>> = HashMap::new();
    collect(&f.body, &mut Vec::new(), &mut accesses);
    // Plan: buffer -> (loop var under which to declare it, or None for the top; new shape; index offsets).
    let mut plans: Plans = BTreeMap::new();
    let temps: Vec<_> =
        f.body.iter().filter_map(|s| if let LStmt::Alloc(b) = s { Some(b.clone()) } else { None }).collect();
    for buf in &temps {
        debug_assert!(matches!(buf.kind, LBufferKind::Temp { .. }));
        let Some(acc) = accesses.get(&*buf.name) else { continue };
        let mut depth = acc[0].loops.len();
        for a in acc {
            let common = a.loops.iter().zip(&acc[0].loops).take_while(|(x, y)| x.0 == y.0).count();
            depth = depth.min(common);
        }
        let refs: Vec<&Access> = acc.iter().collect();
        let regions: Vec<(Expr, i64)> =
            buf.shape.iter().enumerate().map(|(d, full)| dim_region(&refs, depth, d, *full)).collect();
        let at = if depth == 0 { None } else { Some(acc[0].loops[depth - 1].0.clone()) };
        // A whole temporary of symbolic rows is sized at run time (`n` rows of
        // its declared length, `symbolic.rs`): its rows stay unpadded, short
        // or long; compacted into a loop, only its long rows do.
        let symbolic = f.dims.iter().any(|d| d.temps.iter().any(|t| **t == *buf.name));
        let shape: Vec<i64> = regions.iter().map(|r| r.1).collect();
        let shape = if symbolic && at.is_none() { (shape, None) } else { pad_rows(shape, !symbolic) };
        plans.insert(buf.name.to_string(), (at, shape, regions.into_iter().map(|r| r.0).collect()));
    }
    // Rewrite accesses and move the declarations.
    fn rewrite(s: &mut [LStmt], plans: &Plans) {
        for x in s.iter_mut() {
            match x {
                LStmt::For { body, .. } => rewrite(body, plans),
                LStmt::Alloc(_) => {}
                LStmt::Block(b) => {
                    for (name, (_, _, mins)) in plans {
                        b.map_accesses(name, &mut |idx| {
                            idx.iter()
                                .zip(mins)
                                .map(|(e, m)| if m.as_int() == Some(0) { e.clone() } else { e.clone() - m.clone() })
                                .collect()
                        });
                    }
                }
            }
        }
    }
    rewrite(&mut f.body, &plans);
    fn place(s: &mut [LStmt], plans: &Plans, temps: &[super::lir::LBuffer]) {
        for x in s.iter_mut() {
            if let LStmt::For { var, body, .. } = x {
                let mut decls: Vec<LStmt> = temps
                    .iter()
                    .filter(|b| plans.get(&*b.name).is_some_and(|p| p.0.as_ref() == Some(var)))
                    .map(|b| {
                        let mut b = b.clone();
                        (b.shape, b.row) = plans[&*b.name].1.clone();
                        LStmt::Alloc(b)
                    })
                    .collect();
                place(body, plans, temps);
                if !decls.is_empty() {
                    decls.append(body);
                    *body = decls;
                }
            }
        }
    }
    place(&mut f.body, &plans, &temps);
    f.body.retain_mut(|s| match s {
        LStmt::Alloc(b) => match plans.get(&*b.name) {
            Some((None, shape, _)) => {
                (b.shape, b.row) = shape.clone();
                true
            }
            Some((Some(_), _, _)) => false,
            None => false, // never accessed
        },
        _ => true,
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_rows_are_padded_to_the_widest_vector() {
        assert_eq!(pad_rows(vec![2, 37], true), (vec![2, 48], Some((48, 37))));
        assert_eq!(pad_rows(vec![5], true), (vec![16], Some((16, 5))));
        // Already a multiple, a single element, or too large: unchanged.
        assert_eq!(pad_rows(vec![4, 32], true), (vec![4, 32], None));
        assert_eq!(pad_rows(vec![3, 1], true), (vec![3, 1], None));
        assert_eq!(pad_rows(vec![100, 37], true), (vec![100, 37], None));
        // Long rows of a large temporary: at most one element in 16 added.
        assert_eq!(pad_rows(vec![64, 1000], true), (vec![64, 1008], Some((1008, 1000))));
        assert_eq!(pad_rows(vec![64, 200], true), (vec![64, 208], Some((208, 200))));
        assert_eq!(pad_rows(vec![64, 100], true), (vec![64, 100], None));
        assert_eq!(pad_rows(vec![64, 1000], false), (vec![64, 1000], None));
        assert_eq!(pad_rows(vec![], true), (vec![], None));
    }
}
