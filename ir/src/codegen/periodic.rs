//! Vector loads of a short input read periodically along the lanes.
//!
//! A loop fused over rows shorter than a vector (`space/elementwise.rs`)
//! reads a per-column operand at the column's index: `y[h, w, c] = x[h, w,
//! c] · s[c]` over `[.., .., 3]` fuses `w, c` into `f` and reads `s[f % 3]`,
//! whose lanes are not consecutive elements of `s` — `s[1], s[2], s[0], s[1],
//! ..` from lane `f` on. Those lanes are consecutive elements of `s` repeated:
//! a table `t[m] = s[m % p]` of `p + lanes − 1` elements (`p` the length of
//! `s`), built once at the top of the function from the input, holds every
//! vector of them, `t[(f₀ % p) ..]` for the vector starting at `f₀`: one
//! unaligned load per vector. Only for an input parameter of one dimension
//! whose whole length is the period (so nothing writes it while the kernel
//! runs, and every `m % p` is in bounds), of at most [`MAX_PERIOD`]
//! elements: the table lives on the stack, and a longer row of the input is
//! read contiguously anyway.

use std::cell::RefCell;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Analyzer, BinOp, DataType, Expr, Var};

use super::emit::{elem_type, ident, Env};

/// The longest input read periodically (its table: `MAX_PERIOD + lanes − 1`
/// elements on the stack).
pub const MAX_PERIOD: i64 = 64;

/// The tables a function's vector code loads from: `(buffer, period,
/// lanes, element type)`, declared at the top of the function.
#[derive(Default)]
pub(crate) struct Tables(RefCell<Vec<(String, i64, usize, DataType)>>);

impl Tables {
    /// The name of the table of `buffer` for vectors of `lanes` (registered
    /// for [`Tables::decls`]).
    fn name(&self, buffer: &str, period: i64, lanes: usize, dt: DataType) -> Ident {
        let mut t = self.0.borrow_mut();
        if !t.iter().any(|(b, _, l, _)| b == buffer && *l == lanes) {
            t.push((buffer.to_string(), period, lanes, dt));
        }
        table_ident(buffer, lanes)
    }

    /// The declarations of the tables registered so far, which it forgets:
    /// `let __kiln_tab_s_16: [f32; 18] = from_fn(|m| s[m % 3]);`.
    pub(crate) fn decls(&self) -> TokenStream {
        let tables = std::mem::take(&mut *self.0.borrow_mut());
        tables
            .into_iter()
            .map(|(buffer, period, lanes, dt)| {
                let name = table_ident(&buffer, lanes);
                let p = ident(&buffer);
                let t = elem_type(dt);
                let len = Literal::usize_unsuffixed(period as usize + lanes - 1);
                let period = Literal::usize_unsuffixed(period as usize);
                quote! {
                    let #name: [#t; #len] = ::core::array::from_fn(|__kiln_m| unsafe { *#p.add(__kiln_m % #period) });
                }
            })
            .collect()
    }
}

/// The name of the table of `buffer` for vectors of `lanes`.
fn table_ident(buffer: &str, lanes: usize) -> Ident {
    format_ident!("__kiln_tab_{}_{}", buffer, lanes)
}

/// When `idx` (a load's flat index, in loop variables) is `(a + x) % p` with
/// `a` free of the lane variable `x` and `p` the whole length of `buffer`, an
/// input parameter of `env`: `a`, and `p`.
pub(crate) fn periodic(an: &Analyzer, idx: &Expr, x: &Var, buffer: &str, env: &Env) -> Option<(Expr, i64)> {
    let Expr::Binary(BinOp::FloorMod, inner, p) = idx else { return None };
    let Expr::Int(p) = **p else { return None };
    let info = env.bufs.get(buffer)?;
    if info.mutable || info.temp || info.rows.is_some() || info.size != p || !(2..=MAX_PERIOD).contains(&p) {
        return None;
    }
    let lin = an.linear(inner);
    if lin.coef(x) != 1 || lin.terms.iter().any(|(atom, _)| atom.uses_var(x) && !matches!(atom, Expr::Var(v) if v == x))
    {
        return None;
    }
    let a = an.simplify(&(*inner.clone() - Expr::var(x)));
    Some((a, p))
}

/// The pointer to the first lane of the vector of `buffer` read periodically
/// from `base % p` on (`base` the index of lane 0: `a` with the lane's base
/// substituted), in its table for vectors of `lanes`.
pub(crate) fn lanes_ptr(
    em: &super::emit::Emitter,
    buffer: &str,
    (base, p): (&Expr, i64),
    lanes: usize,
    dt: DataType,
    env: &Env,
) -> TokenStream {
    let table = em.tables.name(buffer, p, lanes, dt);
    let off = em.index_expr(&env.analyzer().simplify(&Expr::binary(BinOp::FloorMod, base.clone(), Expr::Int(p))), env);
    quote!(#table.as_ptr().offset(#off))
}
