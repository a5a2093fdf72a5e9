//! The loops through the rows of a symbolic dimension (`symbolic.rs`): full
//! steps without guards, then the partial step — recursively for the row
//! loops inside it, and for the innermost one (the rows of a register tile)
//! once per number of rows left, so that no guard is left in a hot loop.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Expr, ForKind, Var};

use super::emit::{ident, int_lit, Emitter, Env};
use super::lir::LStmt;

/// The largest row step whose partial step is emitted once per number of
/// rows left (`Emitter::row_loop`).
const MAX_ROWS_LEFT_VERSIONS: i64 = 8;

/// Whether `body` holds a row loop of the dimension whose run-time variable is `nv`.
fn has_row_loop(body: &[LStmt], dims: &[super::symbolic::LDim], nv: &Var) -> bool {
    body.iter().any(|s| match s {
        LStmt::For { annotations, body, .. } => {
            let mine = match annotations.get(super::symbolic::DYN_DIM) {
                Some(crate::ir::AnnValue::Int(d)) => dims.get(*d as usize).is_some_and(|d| d.var == *nv),
                _ => false,
            };
            mine || has_row_loop(body, dims, nv)
        }
        _ => false,
    })
}

impl Emitter {
    /// A loop through the rows of a symbolic dimension (`symbolic.rs`). In
    /// the full steps of an enclosing row loop it runs its static extent;
    /// otherwise, from the first row `first` of the enclosing partial step (0
    /// at the top), its full steps `0..(n - first) / step` without the
    /// guards, then the partial step with them.
    pub(super) fn row_loop(
        &mut self,
        s: &LStmt,
        var: &Var,
        annotations: &crate::ir::Annotations,
        body: &[LStmt],
        env: &mut Env,
    ) -> TokenStream {
        let LStmt::For { kind, extent, .. } = s else { unreachable!() };
        let ann = |k: &str| match annotations.get(k) {
            Some(crate::ir::AnnValue::Int(v)) => *v,
            _ => 0,
        };
        let d = self.dims[ann(super::symbolic::DYN_DIM) as usize].clone();
        let step = ann(super::symbolic::DYN_STEP).max(1);
        let first = match env.row_ctx.iter().rev().find(|(v, _)| *v == d.var) {
            Some((_, None)) => return self.for_loop(var, *extent, *kind, annotations, body, env),
            Some((_, Some(first))) => first.clone(),
            None => Expr::Int(0),
        };
        let top = first == Expr::Int(0);
        let bound = if top { (d.max + step - 1) / step } else { *extent };
        let nv = ident(d.var.name());
        let f = self.index_expr(&first, env);
        let rem = if top { quote!(#nv) } else { quote!((#nv - #f)) };
        let v = ident(var.name());
        let st = int_lit(step);
        // The full steps.
        env.full_steps.push((var.clone(), step, d.var.clone(), first.clone()));
        env.row_ctx.push((d.var.clone(), None));
        let full = if *kind == ForKind::Parallel && top {
            self.parallel_n(var, bound, quote!((#rem / #st) as usize), body, env)
        } else {
            let b = self.row_body(var, bound, body, env);
            quote!(for #v in 0..(#rem / #st) { #b })
        };
        env.row_ctx.pop();
        env.full_steps.pop();
        if step == 1 {
            return full;
        }
        // The partial step. When no row loop of the dimension is left inside
        // (the rows of a register tile, unrolled), one version per number of
        // rows left, whose guards are decided at compile time.
        let step_first = first + Expr::var(var) * step;
        let code = if step <= MAX_ROWS_LEFT_VERSIONS && !has_row_loop(body, &self.dims, &d.var) {
            let arms: Vec<TokenStream> = (1..step)
                .map(|k| {
                    env.rows_left.push((d.var.clone(), step_first.clone(), k));
                    let b = self.row_body(var, bound, body, env);
                    env.rows_left.pop();
                    let k = int_lit(k);
                    quote!(#k => { #b })
                })
                .collect();
            quote! {
                match #rem % #st {
                    0 => {}
                    #(#arms)*
                    _ => ::core::unreachable!(),
                }
            }
        } else {
            env.row_ctx.push((d.var.clone(), Some(step_first)));
            let b = self.row_body(var, bound, body, env);
            env.row_ctx.pop();
            quote! {
                if #rem % #st != 0 {
                    #b
                }
            }
        };
        quote! {
            #full
            {
                let #v: isize = #rem / #st;
                #code
            }
        }
    }

    /// One emission of a row loop's body (`row_loop`), its variable in
    /// `0..bound`; under `#[fast_math]` a hoisting barrier: a reciprocal
    /// invariant in the row loop is computed at the top of the body, never
    /// before the loop (whose variable is bound differently in each part).
    fn row_body(&mut self, var: &Var, bound: i64, body: &[LStmt], env: &mut Env) -> TokenStream {
        self.open_hoist(var, body, true);
        env.loops.push((var.clone(), bound));
        let b = self.stmts(body, env);
        env.loops.pop();
        let hoisted = self.close_hoist();
        quote!(#hoisted #b)
    }
}
