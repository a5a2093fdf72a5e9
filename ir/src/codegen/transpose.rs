//! A transposed read of an unrolled row tile, in registers (`f32`; AVX2,
//! and AVX-512 for 8 rows of 16 lanes).
//!
//! The elementwise rule tiles a transposed read (`y[i, j] = x[j, i]`) by 8
//! rows of the store and unrolls them: `i0, j0, unroll i1 (8), lanes (8)`.
//! Each of the 8 copies of the vector loop would gather its 8 lanes from 8
//! rows of `x` (8 scalar loads and inserts); together they read one 8×8
//! block of `x` whose rows are contiguous. Here that block is loaded as 8
//! vectors and transposed with `kiln::simd::transpose8_avx2`, and copy `c`
//! reads its vector `c` instead of gathering (`lookup`): the same values.
//! On AVX-512 a tile of 8 unrolled copies of 16 lanes reads a 16×8 block:
//! `kiln::simd::transpose8x16_avx512` loads it as 128-bit quarters of rows
//! and transposes them with in-lane unpacks (the packing copy of `Wᵀ` in a
//! `Linear` layer: `space/packing.rs` unrolls its source-contiguous loop by
//! 8).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::emit::{ident, Emitter, Env};
use super::lir::LStmt;
use crate::ir::{Const, DataType, Expr, ForKind, Load, Var};
use crate::target::Isa;

/// The transposed block in registers while its copies are emitted.
pub(super) struct Tile {
    buffer: String,
    /// The load's index as the block writes it (matched structurally).
    index: Expr,
    /// The unrolled loop whose copy `c` reads `vecs[c]`.
    u: Var,
    vecs: Vec<Ident>,
}

/// The code of the unrolled loop `u` over `body` when it is such a tile, with
/// the block loaded and transposed before the copies; `None` otherwise.
pub(super) fn unrolled(em: &mut Emitter, u: &Var, extent: i64, body: &[LStmt], env: &mut Env) -> Option<TokenStream> {
    let lanes = match em.isa {
        Isa::Avx2 => 8,
        Isa::Avx512 => 16,
        Isa::Scalar => return None,
    };
    if em.check_all || extent != 8 || em.transposed.is_some() {
        return None;
    }
    let [LStmt::For { var: x, extent: n, kind: ForKind::Vectorized, body: inner, .. }] = body else { return None };
    if *n != lanes {
        return None;
    }
    let [LStmt::Block(b)] = inner.as_slice() else { return None };
    let always = matches!(em.resolve(b, &b.predicate, env), Expr::Const(Const::Bool(true)));
    if b.init.is_some() || !always || b.store.value.dtype() != DataType::F32 {
        return None;
    }
    let an = env.analyzer();
    let mut found: Option<(Load, Expr, i64)> = None;
    for l in b.store.value.loads() {
        let idx = em.resolve(b, &l.indices[0], env);
        let lin = an.linear(&idx);
        let (sx, su) = (lin.coef(x), lin.coef(u));
        if sx == 0 || sx == 1 {
            continue;
        }
        let f32_buffer = env.bufs.get(&*l.buffer).is_some_and(|i| i.dtype == DataType::F32);
        match &found {
            _ if l.buffer == b.store.buffer => return None,
            _ if su != 1 || !f32_buffer => return None,
            Some((f, _, _)) if f.buffer != l.buffer || f.indices != l.indices => return None,
            Some(_) => {}
            None => found = Some((l.clone(), idx, sx)),
        }
    }
    let (load, idx, stride) = found?;
    let p = ident(&load.buffer);
    // The row of lane `k`, from the tile's first copy on.
    let at =
        |k: i64| idx.substitute(&|v| (v == u).then_some(Expr::Int(0)).or_else(|| (v == x).then_some(Expr::Int(k))));
    // AVX-512 reads its 16 rows at one stride: they must lie at one.
    if em.isa == Isa::Avx512 && !(1..lanes).all(|k| an.simplify(&(at(k) - at(0))).as_int() == Some(k * stride)) {
        return None;
    }
    let name = em.fresh("tr");
    let vecs: Vec<Ident> = (0..8usize).map(|c| format_ident!("{}_{}", name, c)).collect();
    let offset = |k: i64| em.index_expr(&an.simplify(&at(k)), env);
    let simd = &em.helpers.simd;
    let mut out = TokenStream::new();
    if em.isa == Isa::Avx512 {
        // 16 rows of 8 at a constant stride: loaded as quarters, unpacked in lanes.
        let (first, stride) = (offset(0), Literal::isize_unsuffixed(stride as isize));
        out.extend(quote!(let [#(#vecs),*] = #simd::transpose8x16_avx512(#p.offset(#first) as *const f32, #stride);));
    } else {
        let rows: Vec<Ident> = (0..8usize).map(|k| format_ident!("__tr_r{}", k)).collect();
        for (k, r) in rows.iter().enumerate() {
            let off = offset(k as i64);
            out.extend(quote!(let #r = _mm256_loadu_ps(#p.offset(#off));));
        }
        out.extend(quote!(let [#(#vecs),*] = #simd::transpose8_avx2([#(#rows),*]);));
    }
    em.transposed = Some(Tile { buffer: load.buffer.to_string(), index: load.indices[0].clone(), u: u.clone(), vecs });
    for c in 0..extent {
        env.consts.insert(u.clone(), c);
        out.extend(em.stmts(body, env));
    }
    env.consts.remove(u);
    em.transposed = None;
    Some(quote!({ #out }))
}

/// The transposed vector a copy reads in place of gathering `l`, if any.
pub(super) fn lookup(em: &Emitter, l: &Load, env: &Env) -> Option<TokenStream> {
    let t = em.transposed.as_ref()?;
    if *l.buffer != *t.buffer || l.indices[0] != t.index {
        return None;
    }
    let v = &t.vecs[*env.consts.get(&t.u)? as usize];
    Some(quote!(#v))
}
