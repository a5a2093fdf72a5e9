//! The lowering pipeline: scheduled IR → flat lowered IR, one pass at a time.
//!
//! ```text
//! lower_blocks     blocks → LBlocks (iteration variables as bound lets), allocations at the top
//! compact_buffers  temporaries shrink to the region used under their innermost common loop,
//!                  and are declared there (a register tile's accumulators become a small array);
//!                  a small one's rows are padded to a multiple of 16 elements
//! in_place         a whole temporary whose last use is an elementwise step into an output is
//!                  stored in that output (softmax's `expv` in `y`: `in_place.rs`)
//! symbolic         the instance at the tune value of a symbolic dimension made to work for every
//!                  value: guards `row < n`, row loops run `ceil(n / step)` times
//! flatten          multi-dimensional indices → one row-major index
//! registers        a register tile's window of a larger accumulator copied into a small array
//!                  around its reduction loop, so that it stays in registers (`registers.rs`)
//! ```
//! Set `KILN_DUMP_LOWER=1` to print the lowered IR after every pass.

use crate::ir::{Expr, IterKind, ParamKind, PrimFunc, Stmt, Store, Var};

use super::compact::compact_buffers;
use super::in_place::store_in_outputs;
use super::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt, LStore};
use super::registers::promote_accumulators;
use super::symbolic::{generalize, LDim};

/// Lowers a scheduled function (panics where [`lower_checked`] fails: the
/// callers check a program first, `program.rs`).
pub fn lower(func: &PrimFunc) -> LFunc {
    lower_checked(func).unwrap_or_else(|e| panic!("kernel `{}`: {e}", func.name))
}

/// Lowers a scheduled function, or says why its symbolic dimensions cannot
/// be made to work for every value (`symbolic.rs`).
pub fn lower_checked(func: &PrimFunc) -> Result<LFunc, String> {
    type Pass = fn(LFunc) -> Result<LFunc, String>;
    let passes: [(&str, Pass); 5] = [
        ("compact_buffers", |f| Ok(compact_buffers(f))),
        ("in_place", |f| Ok(store_in_outputs(f))),
        ("symbolic", generalize),
        ("flatten", |f| Ok(flatten(f))),
        ("registers", |f| Ok(promote_accumulators(f))),
    ];
    let mut f = lower_blocks(func);
    dump("lower_blocks", &f);
    for (name, pass) in passes {
        f = pass(f)?;
        dump(name, &f);
    }
    Ok(f)
}

fn dump(pass: &str, f: &LFunc) {
    if std::env::var_os("KILN_DUMP_LOWER").is_some() {
        eprintln!("== lowered IR after {pass}:\n{f:#?}");
    }
}

fn lower_store(s: &Store) -> LStore {
    LStore { buffer: s.buffer.clone(), indices: s.indices.clone(), value: s.value.clone() }
}

/// Blocks become `LBlock`s; intermediate buffers are declared at the top.
pub fn lower_blocks(func: &PrimFunc) -> LFunc {
    fn go(s: &Stmt) -> Vec<LStmt> {
        match s {
            Stmt::Seq(v) => v.iter().flat_map(go).collect(),
            Stmt::For(l) => vec![LStmt::For {
                var: l.var.clone(),
                extent: l.extent,
                kind: l.kind,
                annotations: l.annotations.clone(),
                body: go(&l.body),
            }],
            Stmt::Block(br) => {
                let b = &br.block;
                let lets = b
                    .iter_vars
                    .iter()
                    .zip(&br.bindings)
                    .map(|(iv, e)| (iv.var.clone(), e.clone(), iv.extent))
                    .collect();
                let init = b.init.as_ref().map(|st| {
                    let mut cond = Expr::true_();
                    for iv in b.iter_vars.iter().filter(|iv| iv.kind == IterKind::Reduce) {
                        cond = cond.and(Expr::binary(crate::ir::BinOp::Eq, Expr::var(&iv.var), Expr::Int(0)));
                    }
                    (cond, lower_store(st))
                });
                vec![LStmt::Block(Box::new(LBlock {
                    name: b.name.clone(),
                    lets,
                    predicate: br.predicate.clone(),
                    init,
                    store: lower_store(&b.body),
                }))]
            }
        }
    }
    let params = func
        .params
        .iter()
        .map(|p| LBuffer {
            name: p.buffer.name.clone(),
            dtype: p.buffer.dtype,
            shape: p.buffer.shape.clone(),
            scope: p.buffer.scope,
            kind: if p.kind == ParamKind::Input { LBufferKind::Input } else { LBufferKind::Output },
            row: None,
        })
        .collect();
    let overwritten = overwritten_temps(func);
    let mut body: Vec<LStmt> = func
        .allocs
        .iter()
        .map(|b| {
            LStmt::Alloc(LBuffer {
                name: b.name.clone(),
                dtype: b.dtype,
                shape: b.shape.clone(),
                scope: b.scope,
                kind: LBufferKind::Temp { zeroed: !overwritten.contains(&*b.name) },
                row: None,
            })
        })
        .collect();
    body.extend(go(&func.body));
    let dims = func
        .dims
        .iter()
        .map(|d| LDim {
            name: d.name.clone(),
            var: Var::new(&LDim::var_name(&d.name)),
            value: d.value,
            min: d.min,
            max: d.max,
            params: d.buffers.iter().filter(|b| func.param(b).is_some()).cloned().collect(),
            temps: d.buffers.iter().filter(|b| func.param(b).is_none()).cloned().collect(),
        })
        .collect();
    LFunc { name: func.name.clone(), params, body, dims, fast_math: func.fast_math }
}

/// The temporaries whose first block (in program order) is a stage that
/// writes every element read later, so that their storage need not start as
/// zeros: a block storing `t[f(v)] = p[v]` over the whole of `p`'s shape (a
/// `cache_read` copy, also into a packed layout: consumers read `t` only at
/// images of `p`'s elements, or in vector lanes they discard), or `t[v] = e`
/// over the whole of `t`'s shape, without reading `t`. The block may sit in
/// a loop nest beside its consumers (a row of softmax's `exp` moved under the
/// row loop): `compute_at` makes each iteration's producer cover what the
/// iteration's consumers read, so within an iteration every element read was
/// written before (what lets `emit` declare such a temporary once, outside
/// the loop, instead of zeroing it at every iteration).
fn overwritten_temps(func: &PrimFunc) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for buf in &func.allocs {
        let mut first: Option<&str> = None;
        func.body.walk(&mut |x, _| {
            if let Stmt::Block(br) = x {
                let touches = *br.block.body.buffer == *buf.name
                    || crate::ir::block_read_buffers(&br.block).iter().any(|b| **b == *buf.name);
                if touches && first.is_none() {
                    first = Some(&br.block.name);
                }
            }
        });
        let Some(name) = first else { continue };
        let Some(br) = func.block(name) else { continue };
        let b = &br.block;
        let plain = |idx: &[Expr]| {
            idx.len() == b.iter_vars.len() && idx.iter().zip(&b.iter_vars).all(|(e, iv)| e == &Expr::var(&iv.var))
        };
        let domain: Vec<i64> = b.iter_vars.iter().map(|iv| iv.extent).collect();
        let reads_itself = crate::ir::block_read_buffers(b).iter().any(|x| **x == *buf.name);
        if *b.body.buffer != *buf.name || b.init.is_some() || b.is_reduction() || reads_itself {
            continue;
        }
        let copy = match &b.body.value {
            Expr::Load(l) => plain(&l.indices) && func.buffer(&l.buffer).is_some_and(|src| src.shape == domain),
            _ => false,
        };
        let whole = plain(&b.body.indices) && domain == buf.shape;
        if copy || whole {
            out.insert(buf.name.to_string());
        }
    }
    out
}

fn flat_index(shape: &[i64], idx: &[Expr]) -> Vec<Expr> {
    if idx.len() <= 1 {
        return idx.to_vec();
    }
    let mut flat: Option<Expr> = None;
    for (d, e) in idx.iter().enumerate() {
        let stride: i64 = shape[d + 1..].iter().product();
        let term = if stride == 1 { e.clone() } else { e.clone() * stride };
        flat = Some(match flat {
            None => term,
            Some(f) => f + term,
        });
    }
    vec![flat.unwrap()]
}

/// Rewrites every access to one row-major index into the buffer's shape.
pub fn flatten(mut f: LFunc) -> LFunc {
    let shapes: Vec<(String, Vec<i64>)> = f.buffers().iter().map(|b| (b.name.to_string(), b.shape.clone())).collect();
    fn go(s: &mut [LStmt], shapes: &[(String, Vec<i64>)]) {
        for x in s {
            match x {
                LStmt::For { body, .. } => go(body, shapes),
                LStmt::Alloc(_) => {}
                LStmt::Block(b) => {
                    for (name, shape) in shapes {
                        b.map_accesses(name, &mut |idx| flat_index(shape, idx));
                    }
                }
            }
        }
    }
    go(&mut f.body, &shapes);
    f
}
