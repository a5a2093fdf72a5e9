//! Vectorized loops: the loop's iterations become SIMD lanes.
//!
//! The body (after expanding unrolled loops inside it) must be a list of
//! blocks of one float element type. Stores must be contiguous in the lane
//! variable; loads may be contiguous (`loadu`), uniform (a scalar, broadcast)
//! or strided (assembled from scalars). `a + b * c` becomes an FMA. The loop
//! runs in full vectors (unrolled when there are at most four), then a tail:
//! one masked vector (masked loads and stores never touch the missing lanes)
//! when every access is contiguous or uniform, scalar lanes otherwise. A predicate that depends on the lane is checked at both ends of each
//! vector (it is linear, so that decides every lane); a vector where it does
//! not hold everywhere runs lane by lane. Anything else — inner serial loops,
//! lane-crossing dependences between statements, accesses not proven in
//! bounds, integer vectors — falls back to the scalar loop, which is always
//! correct.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Analyzer, BinOp, Const, DataType, Expr, ForKind, UnOp, Var};

use super::emit::{ident, int_lit, Emitter, Env};
use super::isa::VectorOps;
use super::lir::{LBlock, LStmt, LStore};

/// Expands unrolled loops; returns the blocks of the body with unrolled
/// variables substituted, or `None` if the body has anything else.
fn flatten_body(body: &[LStmt], consts: &mut Vec<(Var, i64)>, out: &mut Vec<LBlock>) -> Option<()> {
    for s in body {
        match s {
            LStmt::Block(b) => {
                let sub = |e: &Expr| e.substitute(&|v| consts.iter().find(|(x, _)| x == v).map(|(_, c)| Expr::Int(*c)));
                let mut b = (**b).clone();
                for l in &mut b.lets {
                    l.1 = sub(&l.1);
                }
                b.predicate = sub(&b.predicate);
                out.push(b);
            }
            LStmt::For { var, extent, kind: ForKind::Unrolled, body, .. } if *extent <= 64 => {
                for c in 0..*extent {
                    consts.push((var.clone(), c));
                    flatten_body(body, consts, out)?;
                    consts.pop();
                }
            }
            LStmt::For { var, extent: 1, body, .. } => {
                consts.push((var.clone(), 0));
                flatten_body(body, consts, out)?;
                consts.pop();
            }
            _ => return None,
        }
    }
    Some(())
}

fn and_all(v: &[Expr]) -> Expr {
    v.iter().fold(Expr::true_(), |acc, c| acc.and(c.clone()))
}

/// Whether `x` only appears linearly (not inside a non-linear atom) in `e`.
fn linear_in(an: &Analyzer, e: &Expr, x: &Var) -> Option<i64> {
    let lin = an.linear(e);
    for (atom, c) in &lin.terms {
        if atom.uses_var(x) && !matches!(atom, Expr::Var(v) if v == x) {
            return None;
        }
        let _ = c;
    }
    Some(lin.coef(x))
}

struct Ctx<'a> {
    ops: &'a dyn VectorOps,
    dt: DataType,
    lanes: usize,
    x: Var,
    /// The first lane's value of `x` in the vector being emitted.
    xbase: Expr,
    /// A partial vector: only the first `n` lanes exist (`n`: a `usize`
    /// expression, a literal for a loop's tail, a variable for a vector that
    /// a lane predicate cuts short).
    partial: Option<TokenStream>,
}

/// Emits a vectorized loop, or `None` to fall back to the scalar loop.
pub(crate) fn vector_loop(
    em: &mut Emitter,
    x: &Var,
    extent: i64,
    body: &[LStmt],
    env: &mut Env,
) -> Option<TokenStream> {
    let ops = super::isa::ops(em.isa)?;
    let mut blocks = Vec::new();
    flatten_body(body, &mut vec![], &mut blocks)?;
    // One element type, supported by the ISA.
    let dt = blocks.first()?.store.value.dtype();
    if !ops.supports(dt) {
        return None;
    }
    for b in &blocks {
        if b.store.value.dtype() != dt || b.init.as_ref().is_some_and(|(_, s)| s.value.dtype() != dt) {
            return None;
        }
    }
    let lanes = em.isa.lanes(dt);
    env.loops.push((x.clone(), extent));
    let ok = check_blocks(em, &blocks, x, env);
    env.loops.pop();
    ok?;
    let nvec = extent / lanes as i64;
    let tail = extent % lanes as i64;
    let mut out = TokenStream::new();
    if nvec > 0 {
        if nvec <= 4 {
            for c in 0..nvec {
                let ctx = Ctx { ops, dt, lanes, x: x.clone(), xbase: Expr::Int(c * lanes as i64), partial: None };
                env.loops.push((x.clone(), extent));
                let code = emit_vector(em, &blocks, &ctx, env)?;
                env.loops.pop();
                out.extend(code);
            }
        } else {
            let cv = Var::new(&format!("{}_v", x.name()));
            let ctx = Ctx { ops, dt, lanes, x: x.clone(), xbase: Expr::var(&cv) * lanes as i64, partial: None };
            env.loops.push((cv.clone(), nvec));
            env.loops.push((x.clone(), extent));
            let code = emit_vector(em, &blocks, &ctx, env)?;
            env.loops.pop();
            env.loops.pop();
            let c = ident(cv.name());
            let n = int_lit(nvec);
            out.extend(quote!(for #c in 0..#n { #code }));
        }
    }
    if tail > 0 {
        // A masked vector when every access allows it, else scalar lanes.
        let start = Expr::Int(nvec * lanes as i64);
        let n = proc_macro2::Literal::usize_unsuffixed(tail as usize);
        let ctx = Ctx { ops, dt, lanes, x: x.clone(), xbase: start.clone(), partial: Some(quote!(#n)) };
        env.loops.push((x.clone(), extent));
        let masked = emit_vector(em, &blocks, &ctx, env);
        env.loops.pop();
        match masked {
            Some(code) => out.extend(code),
            None => out.extend(scalar_lanes(em, &blocks, x, extent, start, tail, env)),
        }
    }
    Some(out)
}

/// The checks that decide whether the body vectorizes.
fn check_blocks(em: &Emitter, blocks: &[LBlock], x: &Var, env: &Env) -> Option<()> {
    let an = env.analyzer();
    let mut written: Vec<(String, Expr)> = Vec::new();
    for b in blocks {
        // Stores: contiguous in x.
        for st in b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store)) {
            let idx = em.resolve(b, &st.indices[0], env);
            if linear_in(&an, &idx, x)? != 1 {
                return None;
            }
            if !em.in_bounds(b, &st.buffer, &st.indices[0], env) {
                return None;
            }
            written.push((st.buffer.to_string(), idx));
        }
        // Conditions: uniform, or linear comparisons in x.
        let conds = em.resolve(b, &b.predicate, env).conjuncts();
        if let Some((c, _)) = &b.init {
            let c = em.resolve(b, c, env);
            if c.uses_var(x) {
                return None;
            }
        }
        for c in &conds {
            if c.uses_var(x) {
                match c {
                    Expr::Binary(op, l, r) if op.is_compare() && *op != BinOp::Ne && *op != BinOp::Eq => {
                        linear_in(&an, &(*l.clone() - *r.clone()), x)?;
                    }
                    _ => return None,
                }
            }
        }
    }
    // Loads: in bounds; and no lane reads what another lane of the body writes.
    for b in blocks {
        for st in b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store)) {
            for l in st.value.loads() {
                if !em.in_bounds(b, &l.buffer, &l.indices[0], env) {
                    return None;
                }
                let idx = em.resolve(b, &l.indices[0], env);
                linear_in(&an, &idx, x)?;
                for (buf, w) in &written {
                    if buf.as_str() == &*l.buffer && an.linear(w) != an.linear(&idx) {
                        return None;
                    }
                }
            }
        }
    }
    for (i, (buf, w)) in written.iter().enumerate() {
        for (buf2, w2) in &written[..i] {
            if buf == buf2 && an.linear(w) != an.linear(w2) {
                return None;
            }
        }
    }
    Some(())
}

/// The scalar loop over lanes `start .. start + count` of the body.
fn scalar_lanes(
    em: &mut Emitter,
    blocks: &[LBlock],
    x: &Var,
    extent: i64,
    start: Expr,
    count: i64,
    env: &mut Env,
) -> TokenStream {
    let body: Vec<LStmt> = blocks.iter().map(|b| LStmt::Block(Box::new(b.clone()))).collect();
    env.loops.push((x.clone(), extent));
    let code = em.stmts(&body, env);
    env.loops.pop();
    let v = ident(x.name());
    let s = em.index_expr(&start, env);
    let n = int_lit(count);
    quote!(for #v in #s..#s + #n { #code })
}

fn emit_vector(em: &mut Emitter, blocks: &[LBlock], ctx: &Ctx, env: &mut Env) -> Option<TokenStream> {
    let mut out = TokenStream::new();
    for b in blocks {
        let mut uniform = Vec::new();
        let mut varying = Vec::new();
        let conds = em.resolve(b, &b.predicate, env).conjuncts();
        for c in conds {
            if c.uses_var(&ctx.x) {
                varying.push(c);
            } else {
                uniform.push(c);
            }
        }
        let vec_code = block_stores(em, b, ctx, env)?;
        let code = if varying.is_empty() {
            vec_code
        } else if ctx.partial.is_some() {
            return None;
        } else {
            // Linear conditions hold on every lane iff they hold on the first and the last.
            let first = and_all(&varying).substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone()));
            let last =
                and_all(&varying).substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone() + (ctx.lanes as i64 - 1)));
            let an = env.analyzer();
            let all = an.simplify(&first.and(last));
            let all = em.index_expr(&all, env);
            // Otherwise a masked vector when the conditions bound the lanes
            // from above (the valid lanes are a prefix), else lane by lane.
            // Not for stores to temporaries: those are the accumulators read
            // back on the next iteration, and a load cannot be forwarded from
            // a masked store (measured: matmul_odd 3× slower than lane by lane).
            let to_temp = b
                .init
                .iter()
                .map(|(_, st)| st)
                .chain(std::iter::once(&b.store))
                .any(|st| env.bufs.get(&*st.buffer).is_none_or(|i| i.temp));
            let masked = (!to_temp).then(|| prefix_lanes(em, &varying, ctx, env)).flatten().and_then(|n| {
                let pctx = Ctx { partial: Some(quote!(__lanes)), xbase: ctx.xbase.clone(), x: ctx.x.clone(), ..*ctx };
                let code = block_stores(em, b, &pctx, env)?;
                let l = int_lit(ctx.lanes as i64);
                Some(quote!({
                    let __lanes: isize = (#n).min(#l);
                    if __lanes > 0 {
                        let __lanes = __lanes as usize;
                        #code
                    }
                }))
            });
            let rest = match masked {
                Some(code) => code,
                None => {
                    let (_, ext) = env.loops.last().cloned().unwrap();
                    env.loops.pop();
                    let lanes = scalar_lanes(
                        em,
                        std::slice::from_ref(b),
                        &ctx.x,
                        ext,
                        ctx.xbase.clone(),
                        ctx.lanes as i64,
                        env,
                    );
                    env.loops.push((ctx.x.clone(), ext));
                    lanes
                }
            };
            quote!(if #all { #vec_code } else { #rest })
        };
        let u = env.analyzer().simplify(&and_all(&uniform));
        out.extend(match u {
            Expr::Const(Const::Bool(true)) => code,
            Expr::Const(Const::Bool(false)) => TokenStream::new(),
            u => {
                let u = em.index_expr(&u, env);
                quote!(if #u { #code })
            }
        });
    }
    Some(out)
}

/// The vector code of a block's init (under its condition) and update.
fn block_stores(em: &mut Emitter, b: &LBlock, ctx: &Ctx, env: &mut Env) -> Option<TokenStream> {
    let mut out = TokenStream::new();
    if let Some((cond, st)) = &b.init {
        let c = em.resolve(b, cond, env);
        let s = vstore(em, b, st, ctx, env)?;
        out.extend(match c {
            Expr::Const(Const::Bool(true)) => s,
            Expr::Const(Const::Bool(false)) => TokenStream::new(),
            c => {
                let c = em.index_expr(&c, env);
                quote!(if #c { #s })
            }
        });
    }
    out.extend(vstore(em, b, &b.store, ctx, env)?);
    Some(out)
}

/// When every lane-varying condition is an upper bound on the lane with
/// coefficient 1 (`x + e < n`, `x + e <= n`, or mirrored), the lanes where
/// all hold are a prefix of the vector: an `isize` expression of its length
/// (possibly negative or above the lane count; the caller clamps).
fn prefix_lanes(em: &Emitter, varying: &[Expr], ctx: &Ctx, env: &Env) -> Option<TokenStream> {
    let an = env.analyzer();
    let mut counts = Vec::new();
    for c in varying {
        let Expr::Binary(op, l, r) = c else { return None };
        // Normalise to `d < 0` or `d <= 0` with d = hi - lo increasing in x.
        let (d, strict) = match op {
            BinOp::Lt => (*l.clone() - *r.clone(), true),
            BinOp::Le => (*l.clone() - *r.clone(), false),
            BinOp::Gt => (*r.clone() - *l.clone(), true),
            BinOp::Ge => (*r.clone() - *l.clone(), false),
            _ => return None,
        };
        if linear_in(&an, &d, &ctx.x)? != 1 {
            return None;
        }
        // Lanes k = 0, 1, .. hold while d(xbase) + k < 0 (or <= 0).
        let d0 = an.simplify(&d.substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone())));
        let n = if strict { Expr::Int(0) - d0 } else { Expr::Int(1) - d0 };
        counts.push(em.index_expr(&an.simplify(&n), env));
    }
    let first = counts.first()?.clone();
    Some(counts[1..].iter().fold(first, |acc, c| quote!((#acc).min(#c))))
}

/// The offset of the first lane and the lane stride of an access.
fn lane_access(em: &Emitter, b: &LBlock, index: &Expr, ctx: &Ctx, env: &Env) -> (TokenStream, i64, Expr) {
    let idx = em.resolve(b, index, env);
    let an = env.analyzer();
    let stride = an.linear(&idx).coef(&ctx.x);
    let base = an.simplify(&idx.substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone())));
    (em.index_expr(&base, env), stride, base)
}

fn vstore(em: &Emitter, b: &LBlock, st: &LStore, ctx: &Ctx, env: &Env) -> Option<TokenStream> {
    let (off, stride, _) = lane_access(em, b, &st.indices[0], ctx, env);
    debug_assert_eq!(stride, 1);
    let v = vexpr(em, b, &st.value, ctx, env)?;
    let v = to_vec(ctx, v);
    let p = ident(&st.buffer);
    let s = match &ctx.partial {
        None => ctx.ops.storeu(ctx.dt, quote!(#p.offset(#off)), v),
        Some(n) => ctx.ops.store_partial(ctx.dt, quote!(#p.offset(#off)), v, n.clone()),
    };
    Some(quote!(#s;))
}

/// A vector value, or a scalar to broadcast.
enum V {
    Vec(TokenStream),
    Scalar(TokenStream),
}

fn to_vec(ctx: &Ctx, v: V) -> TokenStream {
    match v {
        V::Vec(t) => t,
        V::Scalar(t) => ctx.ops.splat(ctx.dt, t),
    }
}

/// Whether `e` varies across lanes.
fn varies(em: &Emitter, b: &LBlock, e: &Expr, ctx: &Ctx, env: &Env) -> bool {
    match e {
        Expr::Load(l) => em.resolve(b, &l.indices[0], env).uses_var(&ctx.x),
        Expr::Var(_) | Expr::Int(_) => em.resolve(b, e, env).uses_var(&ctx.x),
        Expr::Const(_) => false,
        Expr::Binary(_, x, y) => varies(em, b, x, ctx, env) || varies(em, b, y, ctx, env),
        Expr::Unary(_, x) | Expr::Cast(_, x) => varies(em, b, x, ctx, env),
        Expr::Select(c, t, f) => varies(em, b, c, ctx, env) || varies(em, b, t, ctx, env) || varies(em, b, f, ctx, env),
    }
}

fn vexpr(em: &Emitter, b: &LBlock, e: &Expr, ctx: &Ctx, env: &Env) -> Option<V> {
    if !varies(em, b, e, ctx, env) {
        return Some(V::Scalar(em.value(b, e, env)));
    }
    let dt = ctx.dt;
    Some(match e {
        Expr::Load(l) => {
            let (off, stride, base) = lane_access(em, b, &l.indices[0], ctx, env);
            let p = ident(&l.buffer);
            if stride == 1 {
                match &ctx.partial {
                    None => V::Vec(ctx.ops.loadu(dt, quote!(#p.offset(#off)))),
                    Some(n) => V::Vec(ctx.ops.load_partial(dt, quote!(#p.offset(#off)), n.clone())),
                }
            } else if ctx.partial.is_some() {
                return None;
            } else {
                let an = env.analyzer();
                let lanes = (0..ctx.lanes as i64)
                    .map(|k| {
                        let o = em.index_expr(&an.simplify(&(base.clone() + stride * k)), env);
                        quote!(*#p.offset(#o))
                    })
                    .collect();
                V::Vec(ctx.ops.gather_lanes(dt, lanes))
            }
        }
        Expr::Binary(BinOp::Add, x, y) if dt.is_float() => {
            let fma = |m: &Expr, c: &Expr| -> Option<V> {
                if let Expr::Binary(BinOp::Mul, p, q) = m {
                    let (p, q, c) =
                        (vexpr(em, b, p, ctx, env)?, vexpr(em, b, q, ctx, env)?, vexpr(em, b, c, ctx, env)?);
                    return Some(V::Vec(ctx.ops.fma(dt, to_vec(ctx, p), to_vec(ctx, q), to_vec(ctx, c))));
                }
                None
            };
            if matches!(**y, Expr::Binary(BinOp::Mul, _, _)) {
                return fma(y, x);
            }
            if matches!(**x, Expr::Binary(BinOp::Mul, _, _)) {
                return fma(x, y);
            }
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            V::Vec(ctx.ops.binary(dt, BinOp::Add, to_vec(ctx, a), to_vec(ctx, c))?)
        }
        Expr::Binary(BinOp::Sub, x, y) if matches!(**y, Expr::Binary(BinOp::Mul, _, _)) => {
            let Expr::Binary(_, p, q) = &**y else { unreachable!() };
            let (p, q, c) = (vexpr(em, b, p, ctx, env)?, vexpr(em, b, q, ctx, env)?, vexpr(em, b, x, ctx, env)?);
            V::Vec(ctx.ops.fnma(dt, to_vec(ctx, p), to_vec(ctx, q), to_vec(ctx, c)))
        }
        Expr::Binary(op, x, y) if x.dtype() == dt => {
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            V::Vec(ctx.ops.binary(dt, *op, to_vec(ctx, a), to_vec(ctx, c))?)
        }
        Expr::Unary(op, x) => {
            let a = vexpr(em, b, x, ctx, env)?;
            V::Vec(ctx.ops.unary(dt, *op, to_vec(ctx, a))?)
        }
        Expr::Select(c, t, f) => {
            let m = vmask(em, b, c, ctx, env)?;
            let (t, f) = (vexpr(em, b, t, ctx, env)?, vexpr(em, b, f, ctx, env)?);
            V::Vec(ctx.ops.select(dt, m, to_vec(ctx, t), to_vec(ctx, f)))
        }
        _ => return None,
    })
}

/// A lane mask for a condition over element values.
fn vmask(em: &Emitter, b: &LBlock, c: &Expr, ctx: &Ctx, env: &Env) -> Option<TokenStream> {
    let dt = ctx.dt;
    match c {
        Expr::Binary(BinOp::And, x, y) => {
            let (x, y) = (vmask(em, b, x, ctx, env)?, vmask(em, b, y, ctx, env)?);
            Some(ctx.ops.mask_and(dt, x, y))
        }
        Expr::Binary(BinOp::Or, x, y) => {
            let (x, y) = (vmask(em, b, x, ctx, env)?, vmask(em, b, y, ctx, env)?);
            Some(ctx.ops.mask_or(dt, x, y))
        }
        Expr::Unary(UnOp::Not, x) => Some(ctx.ops.mask_not(dt, vmask(em, b, x, ctx, env)?)),
        Expr::Binary(op, x, y) if op.is_compare() && x.dtype() == dt => {
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            Some(ctx.ops.cmp(dt, *op, to_vec(ctx, a), to_vec(ctx, c)))
        }
        _ => None,
    }
}
