//! Vectorized loops: the loop's iterations become SIMD lanes.
//!
//! The body (after expanding unrolled loops inside it) must be a list of
//! blocks of one float element type. Stores must be contiguous in the lane
//! variable; loads may be contiguous (`loadu`), uniform (a scalar, broadcast)
//! or strided (assembled from scalars). `a + b * c` becomes an FMA. The loop
//! runs in full vectors (unrolled when there are at most four; in lockstep,
//! `lockstep.rs`, when the body calls vector math), then a tail: one masked
//! vector (masked loads and stores never touch the missing lanes) when every
//! access is contiguous or uniform, scalar lanes otherwise. A predicate that
//! depends on the lane is checked at both ends of each
//! vector (it is linear, so that decides every lane); a vector where it does
//! not hold everywhere runs lane by lane. Anything else — inner serial loops,
//! lane-crossing dependences between statements, accesses not proven in
//! bounds, integer vectors — falls back to the scalar loop, which is always
//! correct; `legality.rs` holds those checks and names the reason.
//!
//! With `check_all_accesses`, each vector access checks its whole lane range
//! (the active lanes of a masked one) against the buffer's length first.

use std::cell::RefCell;

use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};

use crate::ir::{Analyzer, BinOp, DataType, Expr, UnOp, Var};

use super::emit::{elem_type, ident, int_lit, BufInfo, Emitter, Env};
use super::isa::VectorOps;
use super::legality::{access_text, check_blocks, element_type, flatten_body, linear_in, ScalarReason};
use super::lir::{LBlock, LStmt, LStore};
use super::lockstep::Steps;

/// The lane loop annotation that sends one vector in `d` of the loop's
/// divisions by a divisor shared by the lanes to the divider (the
/// `vdivps` unit), the rest to `div_by`'s FMAs: both exact, and on a CPU
/// whose FMA pipes are the bottleneck the divider's vectors come for free
/// (Zen 4, one row of 1000 `f32` divided in L1: 4.2 cycles per vector with
/// FMAs alone, 3.2 with every second vector on the divider, 6.0 with the
/// divider alone). Sampled by the elementwise rule (`space::divider`).
pub const DIVIDER: &str = "kiln.divider";

/// Whether `isa` divides `dt` vectors by a divisor shared by the lanes
/// without its division instruction (`VectorOps::div_by`), so that a lane
/// loop's [`DIVIDER`] annotation has two units to share the work between.
pub fn has_div_by(isa: crate::target::Isa, dt: DataType) -> bool {
    let Some(ops) = super::isa::ops(isa) else { return false };
    ops.div_by(&super::isa::Helpers::new(None), dt, quote!(a), quote!(s)).is_some()
}

pub(super) fn and_all(v: &[Expr]) -> Expr {
    v.iter().fold(Expr::true_(), |acc, c| acc.and(c.clone()))
}

pub(super) struct Ctx<'a> {
    pub ops: &'a dyn VectorOps,
    pub dt: DataType,
    pub lanes: usize,
    pub x: Var,
    /// The first lane's value of `x` in the vector being emitted.
    pub xbase: Expr,
    /// A partial vector: only the first `n` lanes exist (`n`: a `usize`
    /// expression, a literal for a loop's tail, a variable for a vector that
    /// a lane predicate cuts short).
    pub partial: Option<TokenStream>,
    /// In a partial vector, temporaries are still read and written whole:
    /// the lanes past the `n` active ones land in their row padding
    /// ([`tail_in_padding`]).
    pub full_temps: bool,
    /// With [`Ctx::full_temps`], the temporaries are not padded but hold all
    /// the lanes ([`tail_in_bounds`]): a store to one writes the whole
    /// vector, its switched-off lanes keeping the values they held (the
    /// vector blended with a load of them), so that a reduction's partial
    /// last vector updates its accumulators in place instead of lane by lane.
    pub blend_temps: bool,
    /// This vector's divisions by a divisor shared by the lanes use the
    /// ISA's division instruction (the divider, a unit of its own) instead
    /// of `div_by`'s FMAs: one vector in `d` of a lane loop annotated
    /// [`DIVIDER`]` = d` (the last of each `d`), so both units work.
    pub divider: bool,
    /// In lockstep emission ([`super::lockstep`]): where the vector values of
    /// the expression go, each bound to a `let`.
    pub lets: Option<&'a RefCell<Steps>>,
}

/// Emits a vectorized loop, or the reason to fall back to the scalar loop.
pub(crate) fn vector_loop(
    em: &mut Emitter,
    x: &Var,
    extent: i64,
    divider: i64,
    body: &[LStmt],
    env: &mut Env,
) -> Result<TokenStream, ScalarReason> {
    let ops = super::isa::ops(em.isa).ok_or(ScalarReason::ScalarIsa)?;
    let mut blocks = Vec::new();
    flatten_body(x, body, &mut vec![], &mut blocks)?;
    // One element type, supported by the ISA.
    let dt = element_type(x, &blocks, |t| ops.supports(t))?;
    let lanes = em.isa.lanes(dt);
    env.loops.push((x.clone(), extent));
    let ok = check_blocks(&blocks, x, env);
    env.loops.pop();
    ok?;
    if !em.fast_math {
        return vector_code(em, x, extent, divider, &blocks, (ops, dt, lanes), env);
    }
    // `#[fast_math]`'s reciprocals, computed once before the loop (or further out).
    let body: Vec<LStmt> = blocks.iter().map(|b| LStmt::Block(Box::new(b.clone()))).collect();
    let vars = vec![x.clone(), Var::new(&format!("{}_v", x.name()))];
    em.hoist.borrow_mut().open(vars, super::fast_math::written(&body), false);
    let out = vector_code(em, x, extent, divider, &blocks, (ops, dt, lanes), env);
    let hoisted = em.hoist.borrow_mut().close();
    let out = out?;
    Ok(quote!(#hoisted #out))
}

/// [`vector_loop`]'s code once the body is known to vectorize: the full
/// vectors, then the tail. `divider`: the loop's [`DIVIDER`] annotation (0
/// without one).
fn vector_code(
    em: &mut Emitter,
    x: &Var,
    extent: i64,
    divider: i64,
    blocks: &[LBlock],
    (ops, dt, lanes): (&dyn VectorOps, DataType, usize),
    env: &mut Env,
) -> Result<TokenStream, ScalarReason> {
    let nvec = extent / lanes as i64;
    let tail = extent % lanes as i64;
    let mut out = TokenStream::new();
    if nvec > 0 {
        let copy = |c: i64| Ctx {
            ops,
            dt,
            lanes,
            x: x.clone(),
            xbase: Expr::Int(c * lanes as i64),
            partial: None,
            full_temps: false,
            blend_temps: false,
            divider: divider >= 2 && c % divider == divider - 1,
            lets: None,
        };
        if (2..=4).contains(&nvec) && super::lockstep::worth_grouping(em, blocks, &copy(0)) {
            let ctxs: Vec<Ctx> = (0..nvec).map(copy).collect();
            env.loops.push((x.clone(), extent));
            let code = super::lockstep::emit_group(em, blocks, &ctxs, env);
            env.loops.pop();
            out.extend(code?);
        } else if nvec <= 4 {
            for c in 0..nvec {
                env.loops.push((x.clone(), extent));
                let code = emit_vector(em, blocks, &copy(c), env);
                env.loops.pop();
                out.extend(code?);
            }
        } else {
            let cv = Var::new(&format!("{}_v", x.name()));
            let ctx = Ctx {
                ops,
                dt,
                lanes,
                x: x.clone(),
                xbase: Expr::var(&cv) * lanes as i64,
                partial: None,
                full_temps: false,
                blend_temps: false,
                divider: false,
                lets: None,
            };
            env.loops.push((cv.clone(), nvec));
            env.loops.push((x.clone(), extent));
            let code = emit_vector(em, blocks, &ctx, env);
            env.loops.pop();
            env.loops.pop();
            let code = code?;
            let c = ident(cv.name());
            let n = int_lit(nvec);
            out.extend(quote!(for #c in 0..#n { #code }));
        }
    }
    if tail > 0 {
        // A masked vector when every access allows it, else scalar lanes.
        let start = Expr::Int(nvec * lanes as i64);
        let n = Literal::usize_unsuffixed(tail as usize);
        let ctx = Ctx {
            ops,
            dt,
            lanes,
            x: x.clone(),
            xbase: start.clone(),
            partial: Some(quote!(#n)),
            full_temps: false,
            blend_temps: false,
            divider: false,
            lets: None,
        };
        env.loops.push((x.clone(), extent));
        let masked = emit_vector(em, blocks, &ctx, env);
        env.loops.pop();
        match masked {
            Ok(code) => out.extend(code),
            Err(why) => {
                if nvec == 0 {
                    // No vector at all: the whole loop runs as scalar lanes.
                    em.scalar_loops.push((x.clone(), why));
                }
                out.extend(scalar_lanes(em, blocks, x, extent, start, tail, env))
            }
        }
    }
    Ok(out)
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

pub(super) fn emit_vector(
    em: &mut Emitter,
    blocks: &[LBlock],
    ctx: &Ctx,
    env: &mut Env,
) -> Result<TokenStream, ScalarReason> {
    let mut out = TokenStream::new();
    for b in blocks {
        let (varying, uniform) = split_predicate(em, b, &ctx.x, env);
        let vec_code = block_stores(em, b, env, |st| vstore(em, b, st, ctx, env))?;
        let code = if varying.is_empty() {
            vec_code
        } else if ctx.partial.is_some() {
            let what = format!("the lane predicate `{}`", and_all(&varying));
            return Err(ScalarReason::PartialVector { lane: ctx.x.to_string(), block: b.name.clone(), what });
        } else {
            let last = ctx.xbase.clone() + (ctx.lanes as i64 - 1);
            let all = every_lane_holds(em, &varying, &ctx.x, ctx.xbase.clone(), last, env);
            // Otherwise a masked vector when the conditions bound the lanes
            // from above (the valid lanes are a prefix), else lane by lane.
            // Stores to temporaries (the accumulators, read back on the next
            // iteration) are not masked — a load cannot be forwarded from a
            // masked store (measured: matmul_odd 3× slower than lane by lane)
            // — but are whole vectors when the switched-off lanes land in the
            // temporaries' row padding: only the loads of parameters are masked.
            let to_temp = b
                .init
                .iter()
                .map(|(_, st)| st)
                .chain(std::iter::once(&b.store))
                .any(|st| env.bufs.get(&*st.buffer).is_none_or(|i| i.temp));
            let counts = prefix_lanes(&varying, ctx, env);
            let full_temps = to_temp && counts.as_ref().is_some_and(|c| tail_in_padding(em, b, c, ctx, env));
            let blend_temps = to_temp && !full_temps && counts.is_some() && tail_in_bounds(em, b, ctx, env);
            let full_temps = full_temps || blend_temps;
            let masked = (!to_temp || full_temps).then_some(counts).flatten().and_then(|counts| {
                let n = counts.iter().map(|c| em.index_expr(c, env)).reduce(|acc, c| quote!((#acc).min(#c)))?;
                let pctx = Ctx {
                    partial: Some(quote!(__lanes)),
                    xbase: ctx.xbase.clone(),
                    x: ctx.x.clone(),
                    full_temps,
                    blend_temps,
                    ..*ctx
                };
                let code = block_stores(em, b, env, |st| vstore(em, b, st, &pctx, env)).ok()?;
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
        out.extend(em.guarded(u, code, env));
    }
    Ok(out)
}

/// The conjuncts of `b`'s predicate that vary with the lane variable `x`,
/// and those that do not.
pub(super) fn split_predicate(em: &Emitter, b: &LBlock, x: &Var, env: &Env) -> (Vec<Expr>, Vec<Expr>) {
    em.resolve(b, &b.predicate, env).conjuncts().into_iter().partition(|c| c.uses_var(x))
}

/// Whether the lane conditions `varying` (linear in `x`) hold on every lane
/// from `x = first` to `x = last`: they do iff they hold at both ends.
pub(super) fn every_lane_holds(
    em: &Emitter,
    varying: &[Expr],
    x: &Var,
    first: Expr,
    last: Expr,
    env: &Env,
) -> TokenStream {
    let at = |base: Expr| and_all(varying).substitute(&|v| (v == x).then(|| base.clone()));
    let all = env.analyzer().simplify(&at(first).and(at(last)));
    em.index_expr(&all, env)
}

/// The code of a block's init (under its condition) and update, each store
/// from `store`.
pub(super) fn block_stores(
    em: &Emitter,
    b: &LBlock,
    env: &Env,
    mut store: impl FnMut(&LStore) -> Result<TokenStream, ScalarReason>,
) -> Result<TokenStream, ScalarReason> {
    let mut out = TokenStream::new();
    if let Some((cond, st)) = &b.init {
        let c = em.resolve(b, cond, env);
        let s = store(st)?;
        out.extend(em.guarded(c, s, env));
    }
    out.extend(store(&b.store)?);
    Ok(out)
}

/// When every lane-varying condition is an upper bound on the lane with
/// coefficient 1 (`x + e < n`, `x + e <= n`, or mirrored), the lanes where
/// all hold are a prefix of the vector: an `isize` expression of its length
/// (possibly negative or above the lane count; the caller clamps).
fn prefix_lanes(varying: &[Expr], ctx: &Ctx, env: &Env) -> Option<Vec<Expr>> {
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
        counts.push(an.simplify(&n));
    }
    (!counts.is_empty()).then_some(counts)
}

/// Whether every lane-varying access of `b` to a temporary may run as a
/// whole vector when only the first `min(counts)` lanes are active: the
/// temporary's rows are padded (`(stored, valid)`), the access is
/// contiguous, its vector lies in one row, and its first switched-off lane
/// is at a column `>= valid` — so the lanes that are off read and write
/// padding only, which nothing reads as data.
fn tail_in_padding(em: &Emitter, b: &LBlock, counts: &[Expr], ctx: &Ctx, env: &Env) -> bool {
    temp_lane_accesses(em, b, ctx, env, |an, info, first| {
        let Some((stored, valid)) = info.row else { return false };
        // Lane 0's offset = stored·row + column: the terms (and the part of
        // the constant) that are multiples of `stored` make the row.
        let first = an.linear(&first);
        let mut column = first.clone();
        column.terms.retain(|(_, c)| c % stored != 0);
        column.constant = first.constant.rem_euclid(stored);
        let column = column.to_expr();
        let in_one_row = an.range(&column).is_some_and(|(lo, hi)| lo >= 0 && hi + ctx.lanes as i64 <= stored);
        in_one_row && counts.iter().all(|n| an.range(&(column.clone() + n.clone())).is_some_and(|(lo, _)| lo >= valid))
    })
}

/// Whether every access of `b` to a temporary that varies with the lane
/// variable is contiguous along it and holds all of the vector's lanes
/// within the temporary (a whole vector may read and write them).
fn tail_in_bounds(em: &Emitter, b: &LBlock, ctx: &Ctx, env: &Env) -> bool {
    temp_lane_accesses(em, b, ctx, env, |an, info, first| {
        info.rows.is_none() && an.range(&first).is_some_and(|(lo, hi)| lo >= 0 && hi + ctx.lanes as i64 <= info.size)
    })
}

/// Whether every access of `b` to a temporary that varies with the lane
/// variable is contiguous along it and passes `ok` (given the temporary and
/// its first lane's offset, simplified); accesses of other buffers pass.
fn temp_lane_accesses(
    em: &Emitter,
    b: &LBlock,
    ctx: &Ctx,
    env: &Env,
    ok: impl Fn(&Analyzer, &BufInfo, Expr) -> bool,
) -> bool {
    let an = env.analyzer();
    b.accesses().iter().all(|(buffer, idx, _)| {
        let Some(info) = env.bufs.get(&**buffer) else { return false };
        let idx = em.resolve(b, &idx[0], env);
        if !info.temp || !idx.uses_var(&ctx.x) {
            return true;
        }
        if linear_in(&an, &idx, &ctx.x) != Some(1) {
            return false;
        }
        let first = an.simplify(&idx.substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone())));
        ok(&an, info, first)
    })
}

/// A load of an input read periodically along the lanes (`periodic.rs`):
/// the index of lane 0 (before `% p`) and the period `p`.
fn periodic_load(em: &Emitter, b: &LBlock, l: &crate::ir::Load, ctx: &Ctx, env: &Env) -> Option<(Expr, i64)> {
    let idx = em.resolve(b, &l.indices[0], env);
    let (a, p) = super::periodic::periodic(&env.analyzer(), &idx, &ctx.x, &l.buffer, env)?;
    Some((env.analyzer().simplify(&(a + ctx.xbase.clone())), p))
}

/// The offset of the first lane and the lane stride of an access.
fn lane_access(em: &Emitter, b: &LBlock, index: &Expr, ctx: &Ctx, env: &Env) -> (TokenStream, i64, Expr) {
    let idx = em.resolve(b, index, env);
    let an = env.analyzer();
    let stride = an.linear(&idx).coef(&ctx.x);
    let base = an.simplify(&idx.substitute(&|v| (v == &ctx.x).then(|| ctx.xbase.clone())));
    (em.index_expr(&base, env), stride, base)
}

/// A pointer to the first lane of a contiguous vector access at `off`:
/// `buffer.offset(off)`, or in `check_all` mode through
/// `::kiln::runtime::checked_lanes` (`_mut` when `write`), which checks the
/// lanes the access touches (all, or the `n` active ones of a masked access)
/// against the buffer's length.
fn lanes_ptr(em: &Emitter, buffer: &str, off: TokenStream, ctx: &Ctx, env: &Env, write: bool) -> TokenStream {
    let p = ident(buffer);
    if !em.check_all {
        return quote!(#p.offset(#off));
    }
    let n = match partial(ctx, buffer, env) {
        Some(n) => n.clone(),
        None => Literal::usize_unsuffixed(ctx.lanes).to_token_stream(),
    };
    let size = super::emit::size_tokens(env.bufs.get(buffer));
    let name = buffer.to_string();
    if write {
        quote!(::kiln::runtime::checked_lanes_mut(#p, #off, #n, #size, #name))
    } else {
        let t = elem_type(ctx.dt);
        quote!(::kiln::runtime::checked_lanes(#p as *const #t, #off, #n, #size, #name))
    }
}

pub(super) fn vstore(em: &Emitter, b: &LBlock, st: &LStore, ctx: &Ctx, env: &Env) -> Result<TokenStream, ScalarReason> {
    let (off, stride, _) = lane_access(em, b, &st.indices[0], ctx, env);
    debug_assert_eq!(stride, 1);
    let v = vexpr(em, b, &st.value, ctx, env)?;
    let v = to_vec(ctx, v);
    let ptr = lanes_ptr(em, &st.buffer, off, ctx, env, true);
    let s = match partial(ctx, &st.buffer, env) {
        None if ctx.blend_temps && env.bufs.get(&*st.buffer).is_some_and(|i| i.temp) => {
            let n = ctx.partial.as_ref().expect("blend_temps in a partial vector");
            let mask = ctx.ops.prefix_mask(&em.helpers, ctx.dt, n.clone());
            let old = ctx.ops.loadu(ctx.dt, ptr.clone());
            let v = ctx.ops.select(ctx.dt, mask, v, old);
            ctx.ops.storeu(ctx.dt, ptr, v)
        }
        None => ctx.ops.storeu(ctx.dt, ptr, v),
        Some(n) => ctx.ops.store_partial(&em.helpers, ctx.dt, ptr, v, n.clone()),
    };
    Ok(quote!(#s;))
}

/// The active lanes of a vector access of `buffer`: all (`None`) in a whole
/// vector, and for a temporary when [`Ctx::full_temps`].
fn partial<'c>(ctx: &'c Ctx, buffer: &str, env: &Env) -> Option<&'c TokenStream> {
    let whole = ctx.full_temps && env.bufs.get(buffer).is_some_and(|i| i.temp);
    ctx.partial.as_ref().filter(|_| !whole)
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

/// `e` has no vector form.
fn no_vector_form(b: &LBlock, e: &Expr, ctx: &Ctx) -> ScalarReason {
    ScalarReason::NoVectorForm { lane: ctx.x.to_string(), block: b.name.clone(), expr: e.to_string() }
}

/// The vector (or scalar) value of `e`; in lockstep emission, a vector is
/// bound to the next `let` of the copy (a math call binds itself).
fn vexpr(em: &Emitter, b: &LBlock, e: &Expr, ctx: &Ctx, env: &Env) -> Result<V, ScalarReason> {
    let v = vnode(em, b, e, ctx, env)?;
    Ok(match (v, ctx.lets) {
        (V::Vec(code), Some(sink)) if !matches!(e, Expr::Unary(..)) => {
            let name = Steps::bind(sink, code, None);
            V::Vec(quote!(#name))
        }
        (v, _) => v,
    })
}

fn vnode(em: &Emitter, b: &LBlock, e: &Expr, ctx: &Ctx, env: &Env) -> Result<V, ScalarReason> {
    if !varies(em, b, e, ctx, env) {
        return Ok(V::Scalar(em.value(b, e, env)));
    }
    let dt = ctx.dt;
    let none = || no_vector_form(b, e, ctx);
    // A read of a block transposed in registers (`transpose.rs`).
    if let Some(v) = match e {
        Expr::Load(l) => super::transpose::lookup(em, l, env),
        _ => None,
    } {
        return Ok(V::Vec(v));
    }
    // By a power of two: the product by its reciprocal is the same quotient
    // (what LLVM does with the scalar division too).
    if let Expr::Binary(BinOp::Div, x, y) = e {
        let reciprocal = match **y {
            Expr::Const(c) if x.dtype() == dt => c.exact_reciprocal(),
            _ => None,
        };
        if let Some(r) = reciprocal {
            let (a, r) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, &Expr::Const(r), ctx, env)?);
            return Ok(V::Vec(ctx.ops.binary(dt, BinOp::Mul, to_vec(ctx, a), to_vec(ctx, r)).ok_or_else(none)?));
        }
    }
    Ok(match e {
        Expr::Load(l) => {
            // An input read periodically: one load from its table.
            if let Some((base, p)) = periodic_load(em, b, l, ctx, env) {
                let ptr = super::periodic::lanes_ptr(em, &l.buffer, (&base, p), ctx.lanes, dt, env);
                return Ok(V::Vec(ctx.ops.loadu(dt, ptr)));
            }
            let (off, stride, base) = lane_access(em, b, &l.indices[0], ctx, env);
            if stride == 1 {
                let off_expr = off.clone();
                let ptr = lanes_ptr(em, &l.buffer, off, ctx, env, false);
                match partial(ctx, &l.buffer, env) {
                    None => V::Vec(ctx.ops.loadu(dt, ptr)),
                    // The lanes that are off compute into padding: any value
                    // will do, so a whole load where the buffer holds all the
                    // lanes (masked loads are slow on some CPUs: matmul_odd
                    // 115 µs masked, 64 µs whole on Zen 1), masked at its end.
                    // (Never for a buffer of `n` rows: its length is not static.)
                    Some(n) if ctx.full_temps && env.bufs.get(&*l.buffer).is_some_and(|i| i.rows.is_none()) => {
                        let size = Literal::isize_unsuffixed(env.bufs.get(&*l.buffer).map_or(0, |i| i.size) as isize);
                        let lanes = Literal::isize_unsuffixed(ctx.lanes as isize);
                        let whole = ctx.ops.loadu(dt, ptr.clone());
                        let masked = ctx.ops.load_partial(&em.helpers, dt, ptr, n.clone());
                        V::Vec(quote!(if (#off_expr) + #lanes <= #size { #whole } else { #masked }))
                    }
                    Some(n) => V::Vec(ctx.ops.load_partial(&em.helpers, dt, ptr, n.clone())),
                }
            } else if ctx.partial.is_some() {
                let what = format!("the strided load `{}`", access_text(&l.buffer, &l.indices[0]));
                return Err(ScalarReason::PartialVector { lane: ctx.x.to_string(), block: b.name.clone(), what });
            } else {
                let an = env.analyzer();
                let p = ident(&l.buffer);
                let lanes = (0..ctx.lanes as i64)
                    .map(|k| {
                        let o = em.index_expr(&an.simplify(&(base.clone() + stride * k)), env);
                        if em.check_all {
                            let ptr = em.checked_ptr(&l.buffer, o, env, false);
                            quote!(*#ptr)
                        } else {
                            quote!(*#p.offset(#o))
                        }
                    })
                    .collect();
                V::Vec(ctx.ops.gather_lanes(dt, lanes))
            }
        }
        Expr::Binary(BinOp::Add, x, y) if dt.is_float() => {
            let fma = |m: &Expr, c: &Expr| -> Result<V, ScalarReason> {
                let Expr::Binary(BinOp::Mul, p, q) = m else { unreachable!("checked by the caller") };
                let (p, q, c) = (vexpr(em, b, p, ctx, env)?, vexpr(em, b, q, ctx, env)?, vexpr(em, b, c, ctx, env)?);
                Ok(V::Vec(ctx.ops.fma(dt, to_vec(ctx, p), to_vec(ctx, q), to_vec(ctx, c))))
            };
            if matches!(**y, Expr::Binary(BinOp::Mul, _, _)) {
                return fma(y, x);
            }
            if matches!(**x, Expr::Binary(BinOp::Mul, _, _)) {
                return fma(x, y);
            }
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            V::Vec(ctx.ops.binary(dt, BinOp::Add, to_vec(ctx, a), to_vec(ctx, c)).ok_or_else(none)?)
        }
        Expr::Binary(BinOp::Sub, x, y) if matches!(**y, Expr::Binary(BinOp::Mul, _, _)) => {
            let Expr::Binary(_, p, q) = &**y else { unreachable!() };
            let (p, q, c) = (vexpr(em, b, p, ctx, env)?, vexpr(em, b, q, ctx, env)?, vexpr(em, b, x, ctx, env)?);
            V::Vec(ctx.ops.fnma(dt, to_vec(ctx, p), to_vec(ctx, q), to_vec(ctx, c)))
        }
        Expr::Binary(BinOp::Div, x, y) if x.dtype() == dt && !varies(em, b, y, ctx, env) => {
            // A divisor shared by the lanes: Markstein's exact quotient
            // from one reciprocal, where the ISA has it (`div_by`).
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            let V::Scalar(s) = c else { unreachable!("a lane-invariant operand is a scalar") };
            let av = to_vec(ctx, a);
            if em.fast_math {
                let v = super::fast_math::VecOp { ops: ctx.ops, dt, a: av };
                return Ok(V::Vec(super::fast_math::div_by_reciprocal(em, b, y, s, v, env)));
            }
            match ctx.ops.div_by(&em.helpers, dt, av.clone(), s.clone()).filter(|_| !ctx.divider) {
                Some(q) => V::Vec(q),
                None => V::Vec(ctx.ops.binary(dt, BinOp::Div, av, to_vec(ctx, V::Scalar(s))).ok_or_else(none)?),
            }
        }
        Expr::Binary(op, x, y) if x.dtype() == dt => {
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            V::Vec(ctx.ops.binary(dt, *op, to_vec(ctx, a), to_vec(ctx, c)).ok_or_else(none)?)
        }
        Expr::Unary(op, x) => {
            let a = to_vec(ctx, vexpr(em, b, x, ctx, env)?);
            let fast = em.fast_math.then(|| ctx.ops.unary_fast(&em.helpers, dt, *op, a.clone())).flatten();
            let is_fast = fast.is_some();
            let code = fast.or_else(|| ctx.ops.unary(&em.helpers, dt, *op, a.clone())).ok_or_else(none)?;
            match ctx.lets {
                Some(sink) if varies(em, b, x, ctx, env) => {
                    let name = Steps::bind(sink, code, Some(((*op, is_fast), a)));
                    V::Vec(quote!(#name))
                }
                Some(sink) => {
                    let name = Steps::bind(sink, code, None);
                    V::Vec(quote!(#name))
                }
                None => V::Vec(code),
            }
        }
        Expr::Select(c, t, f) => {
            let m = vmask(em, b, c, ctx, env)?;
            let (t, f) = (vexpr(em, b, t, ctx, env)?, vexpr(em, b, f, ctx, env)?);
            V::Vec(ctx.ops.select(dt, m, to_vec(ctx, t), to_vec(ctx, f)))
        }
        _ => return Err(none()),
    })
}

/// A lane mask for a condition over element values.
fn vmask(em: &Emitter, b: &LBlock, c: &Expr, ctx: &Ctx, env: &Env) -> Result<TokenStream, ScalarReason> {
    let dt = ctx.dt;
    match c {
        Expr::Binary(BinOp::And, x, y) => {
            let (x, y) = (vmask(em, b, x, ctx, env)?, vmask(em, b, y, ctx, env)?);
            Ok(ctx.ops.mask_and(dt, x, y))
        }
        Expr::Binary(BinOp::Or, x, y) => {
            let (x, y) = (vmask(em, b, x, ctx, env)?, vmask(em, b, y, ctx, env)?);
            Ok(ctx.ops.mask_or(dt, x, y))
        }
        Expr::Unary(UnOp::Not, x) => Ok(ctx.ops.mask_not(dt, vmask(em, b, x, ctx, env)?)),
        Expr::Binary(op, x, y) if op.is_compare() && x.dtype() == dt => {
            let (a, c) = (vexpr(em, b, x, ctx, env)?, vexpr(em, b, y, ctx, env)?);
            Ok(ctx.ops.cmp(dt, *op, to_vec(ctx, a), to_vec(ctx, c)))
        }
        _ => Err(no_vector_form(b, c, ctx)),
    }
}
