//! The lowering pipeline: scheduled IR → flat lowered IR, one pass at a time.
//!
//! ```text
//! lower_blocks     blocks → LBlocks (iteration variables as bound lets), allocations at the top
//! compact_buffers  temporaries shrink to the region used under their innermost common loop,
//!                  and are declared there (a register tile's accumulators become a small array)
//! flatten          multi-dimensional indices → one row-major index
//! ```
//! Set `KILN_DUMP_LOWER=1` to print the lowered IR after every pass.

use crate::ir::{Expr, IterKind, ParamKind, PrimFunc, Stmt, Store};

use super::compact::compact_buffers;
use super::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt, LStore};

/// Lowers a scheduled function.
pub fn lower(func: &PrimFunc) -> LFunc {
    type Pass = fn(LFunc) -> LFunc;
    let passes: [(&str, Pass); 2] = [("compact_buffers", compact_buffers), ("flatten", flatten)];
    let mut f = lower_blocks(func);
    dump("lower_blocks", &f);
    for (name, pass) in passes {
        f = pass(f);
        dump(name, &f);
    }
    f
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
        })
        .collect();
    let mut body: Vec<LStmt> = func
        .allocs
        .iter()
        .map(|b| {
            LStmt::Alloc(LBuffer {
                name: b.name.clone(),
                dtype: b.dtype,
                shape: b.shape.clone(),
                scope: b.scope,
                kind: LBufferKind::Temp,
            })
        })
        .collect();
    body.extend(go(&func.body));
    LFunc { name: func.name.clone(), params, body }
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
