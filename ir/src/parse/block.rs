//! Blocks: axis declarations, the optional `init`, and the one store.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{token, Ident, LitStr, Token};

use super::body::{kw, recover, skip_all, End, State};
use super::check::BlockFlow;
use super::expr::{self, SExpr, SKind};
use super::lower::{Axis, BufKind, Lower, Mode};
use super::{ty_name, Sp};
use crate::ir::{Annotations, BinOp, Block, BlockRealize, DataType, Expr, IterKind, IterVar, Load, Stmt, Store};

/// A store as written: `target[indices] op value;`.
struct SStore {
    target: Ident,
    indices: Vec<SExpr>,
    target_sp: Sp,
    /// `Some(op)` for `+=` and friends.
    update: Option<BinOp>,
    value: SExpr,
}

impl State {
    /// `block("NAME") { axes init? store }`
    pub(crate) fn block(&mut self, input: ParseStream) -> syn::Result<Option<Vec<Stmt>>> {
        input.parse::<kw::block>()?;
        let content;
        syn::parenthesized!(content in input);
        if !content.peek(LitStr) {
            return Err(content.error("expected the block name as a string: `block(\"C\")`"));
        }
        let name_lit: LitStr = content.parse()?;
        if !content.is_empty() {
            return Err(content.error("expected `)`: `block` takes one name"));
        }
        let name = name_lit.value();
        let before = self.ctx.count();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.ctx
                .err(name_lit.span(), "block names must be non-empty and contain only ASCII letters, digits and `_`");
        } else if self.block_names.contains(&name) {
            self.ctx.err(name_lit.span(), format!("the block name \"{name}\" is already used"));
        }
        self.block_names.push(name.clone());
        if !input.peek(token::Brace) {
            return Err(input.error("expected the block body `{ .. }`"));
        }
        let body;
        syn::braced!(body in input);
        let realize = self.block_body(&body, name, name_lit.span());
        Ok((self.ctx.count() == before).then_some(()).and(realize).map(|br| vec![Stmt::Block(Box::new(br))]))
    }

    fn block_body(&mut self, input: ParseStream, name: String, name_span: Span) -> Option<BlockRealize> {
        let mut axes: Vec<Axis> = Vec::new();
        let mut init: Option<(Span, SStore)> = None;
        let mut store: Option<SStore> = None;
        let mut parsed = true;
        // A second store (an error): the writes of the function are not known.
        let mut extra_store = false;
        // No syntax error among the axis declarations: the axes are all known.
        let mut axes_parsed = true;
        while !input.is_empty() {
            let start = input.fork();
            let is_init = input.peek(kw::init) && input.peek2(token::Brace);
            let is_let = input.peek(Token![let]);
            let r = if is_let {
                if init.is_some() || store.is_some() {
                    self.ctx.push(input.error("axis declarations must come before `init` and the store"));
                }
                self.axis_decl(input, &mut axes)
            } else if is_init {
                self.init(input, &mut init, store.is_some())
            } else if input.peek(Token![for]) || (input.peek(kw::block) && input.peek2(token::Paren)) {
                Err(input
                    .error("a block holds axes, an optional `init` and one store; it cannot contain loops or blocks"))
            } else if input.peek(Token![;]) {
                input.parse::<Token![;]>().map(|_| ())
            } else {
                parse_store(input).map(|s| match &store {
                    Some(_) => {
                        extra_store = true;
                        self.ctx.err(
                            s.target_sp.to(s.value.sp),
                            "a block holds exactly one store; split the computation into several blocks",
                        )
                    }
                    None => store = Some(s),
                })
            };
            if let Err(e) = r {
                self.ctx.push(e);
                recover(input, start, if is_init { End::Brace } else { End::Semi });
                parsed = false;
                // What fails before `init` and the store was meant as an axis.
                axes_parsed &= !(is_let || (!is_init && init.is_none() && store.is_none()));
            }
        }
        if extra_store {
            self.flow.unknown = true;
        }
        let quoted = format!("\"{name}\"");
        if parsed && axes.is_empty() {
            self.ctx.err(
                name_span,
                format!("block {quoted} has no axes: declare them with `let vi = axis::spatial(extent, i);` or `axis::remap(..)`"),
            );
        }
        if parsed && store.is_none() {
            self.ctx.err(name_span, format!("block {quoted} has no store `buf[..] = value;`"));
        }
        let reduce = axes.iter().any(|a| a.kind == IterKind::Reduce);
        if let Some((sp, _)) = &init {
            // (An axis without extent had an error: its kind may be unknown.)
            if axes_parsed && !reduce && !axes.is_empty() && axes.iter().all(|a| a.extent.is_some()) {
                self.ctx.err(*sp, "`init` is only allowed in a block with a reduce axis");
            }
        }
        // With an axis declaration missing, its uses would only be more errors.
        let (store, init) = if axes_parsed { (store, init) } else { (None, None) };
        let sym_names = self.dims.iter().map(|d| d.name.to_string()).collect();
        let mut lw = Lower::new(Mode::Body, &self.loops, &axes, &self.bufs, &mut self.ctx);
        lw.sym_names = sym_names;
        let body = store.as_ref().and_then(|s| lower_store(&mut lw, s));
        let init_store = init.as_ref().and_then(|(_, s)| lower_store(&mut lw, s));
        let reads = std::mem::take(&mut lw.reads);
        let sym_used = std::mem::take(&mut lw.sym_used);
        if store.is_some() && self.ctx.count() == 0 {
            for a in axes.iter().filter(|a| a.sym.is_some() && !sym_used.contains(&a.var)) {
                let n = &self.dims[a.sym.unwrap_or(0)].name;
                self.ctx.err(
                    &a.ident,
                    format!("`{}` runs over the symbolic `{n}` but indexes no buffer: use it as the first index of a buffer declared `[..; {n}, ..]`", a.ident),
                );
            }
        }
        for a in axes.iter().filter(|a| a.sym.is_some()) {
            if let Some(v) = a.binding.as_ref().and_then(Expr::as_var) {
                self.sym_bound.insert(v.name().to_string());
            }
        }
        match &store {
            Some(s) => {
                self.flow.blocks.push(BlockFlow { reads, write: s.target.to_string(), has_init: init.is_some() })
            }
            None => self.flow.unknown = true,
        }
        // The store first; `init` (which must store to the same element) only
        // when the store is fine, so that one mistake is one error.
        let mut reported = false;
        for (st, lowered) in [(store.as_ref(), body.as_ref()), (init.as_ref().map(|i| &i.1), init_store.as_ref())] {
            let (Some(st), Some(lowered)) = (st, lowered) else {
                continue;
            };
            if reported {
                break;
            }
            for (e, idx) in st.indices.iter().zip(&lowered.indices) {
                for v in idx.vars() {
                    if let Some(a) = axes.iter().find(|a| a.var == v && a.kind == IterKind::Reduce) {
                        reported = true;
                        self.ctx.err(
                            e.sp,
                            format!(
                                "reduce axis `{}` cannot index the stored buffer `{}`: a reduction stores to one element for all values of its reduce axes",
                                a.ident, st.target
                            ),
                        );
                    }
                }
            }
        }
        if let (Some(b), Some(i), Some((_, s))) = (&body, &init_store, &init) {
            if b.buffer != i.buffer || b.indices != i.indices {
                self.ctx.err(s.target_sp, "`init` must store to the element the block stores to");
            }
        }
        let iter_vars: Vec<IterVar> = axes
            .iter()
            .map(|a| Some(IterVar { var: a.var.clone(), extent: a.extent?, kind: a.kind }))
            .collect::<Option<_>>()?;
        let bindings: Vec<Expr> = axes.iter().map(|a| a.binding.clone()).collect::<Option<_>>()?;
        if init.is_some() && init_store.is_none() {
            return None;
        }
        let block = Block { name, iter_vars, init: init_store, body: body?, annotations: Annotations::new() };
        Some(BlockRealize { bindings, predicate: Expr::true_(), block })
    }

    /// `init { store }`
    fn init(&mut self, input: ParseStream, slot: &mut Option<(Span, SStore)>, after_store: bool) -> syn::Result<()> {
        let kw = input.parse::<kw::init>()?;
        let content;
        syn::braced!(content in input);
        let s = parse_store(&content)?;
        if !content.is_empty() {
            return Err(content.error("`init` holds exactly one store"));
        }
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
        }
        if slot.is_some() {
            self.ctx.err(kw.span, "a block has at most one `init`");
        } else if after_store {
            self.ctx.err(kw.span, "`init` must come before the block's store");
        } else {
            *slot = Some((kw.span, s));
        }
        Ok(())
    }

    /// `let pat = axis::remap("SR", (i, k));` or `let v = axis::spatial(n, e);`
    fn axis_decl(&mut self, input: ParseStream, axes: &mut Vec<Axis>) -> syn::Result<()> {
        input.parse::<Token![let]>()?;
        // The names, and the span of the pattern if it is a tuple.
        let (pats, tuple) = if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let p = syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            let sp = Sp::new(paren.span.open(), paren.span.close());
            (p.into_iter().collect::<Vec<_>>(), Some(sp))
        } else {
            (vec![input.parse::<Ident>()?], None)
        };
        let r = self.axis_rhs(input, &pats, tuple, axes);
        if r.is_err() {
            // Declare the names anyway, so that their uses are not errors too.
            for id in &pats {
                let var = self.declare_var(id, Some(axes), true);
                let (kind, extent, binding) = (IterKind::Spatial, None, None);
                axes.push(Axis { ident: id.clone(), var, kind, extent, binding, sym: None });
            }
        }
        r
    }

    /// `= axis::remap(..);` or `= axis::spatial(..);` after the pattern `pats`.
    fn axis_rhs(
        &mut self,
        input: ParseStream,
        pats: &[Ident],
        tuple: Option<Sp>,
        axes: &mut Vec<Axis>,
    ) -> syn::Result<()> {
        input.parse::<Token![=]>()?;
        if !(input.peek(kw::axis) && input.peek2(Token![::])) {
            if input.peek(kw::alloc) {
                return Err(
                    input.error("`alloc` is only allowed directly in the function body, outside loops and blocks")
                );
            }
            return Err(input.error(
                "a `let` in a block declares axes: `let vi = axis::spatial(128, i);` or `let (vi, vj) = axis::remap(\"SS\", (i, j));`",
            ));
        }
        input.parse::<kw::axis>()?;
        input.parse::<Token![::]>()?;
        let func = Ident::parse_any(input)?;
        let content;
        let paren = syn::parenthesized!(content in input);
        let args_sp = Sp::new(paren.span.open(), paren.span.close());
        match func.to_string().as_str() {
            "remap" => {
                if !content.peek(LitStr) {
                    return Err(content.error("expected the axis kinds as a string, e.g. \"SSR\""));
                }
                let kinds: LitStr = content.parse()?;
                content.parse::<Token![,]>()?;
                let vars: Vec<SExpr> = if content.peek(token::Paren) {
                    let inner;
                    syn::parenthesized!(inner in content);
                    let mut v = Vec::new();
                    while !inner.is_empty() {
                        v.push(expr::parse_expr(&inner)?);
                        if !inner.is_empty() {
                            inner.parse::<Token![,]>()?;
                        }
                    }
                    v
                } else {
                    vec![expr::parse_expr(&content)?]
                };
                if !content.is_empty() {
                    return Err(content.error("expected `)`: `axis::remap(\"SR\", (i, k))`"));
                }
                input.parse::<Token![;]>()?;
                self.remap(pats, &kinds, &vars, args_sp, axes);
            }
            f @ ("spatial" | "reduce") => {
                let extent = expr::parse_expr(&content)?;
                content.parse::<Token![,]>()?;
                let binding = expr::parse_expr(&content)?;
                if content.peek(Token![,]) {
                    content.parse::<Token![,]>()?;
                }
                if !content.is_empty() {
                    return Err(content.error(format!("expected `)`: `axis::{f}(extent, expr)`")));
                }
                input.parse::<Token![;]>()?;
                if let Some(sp) = tuple {
                    self.ctx.err(sp, format!("`axis::{f}` declares one axis: `let vi = axis::{f}(128, i);`"));
                }
                let kind = if f == "spatial" { IterKind::Spatial } else { IterKind::Reduce };
                let extent_sp = extent.sp;
                let sym = self.sym_of(&extent);
                let extent = self.extent(&extent, "an axis extent");
                // An axis over a symbolic dimension is bound to a loop over it, as is.
                let loop_sym = match &binding.kind {
                    SKind::Ident(id) => self.loops.iter().rev().find(|l| l.ident == *id).map(|l| l.sym),
                    _ => None,
                };
                let sym_loop = self.loops.iter().find(|l| l.sym.is_some() && binding.mentions(&l.ident));
                match (sym, loop_sym, sym_loop) {
                    (Some(s), Some(Some(t)), _) if s == t => {}
                    (Some(s), _, _) => {
                        let n = &self.dims[s].name;
                        self.ctx.err(
                            binding.sp,
                            format!("an axis over the symbolic `{n}` is bound to a loop over `{n}`, as is: `axis::{f}({n}, i)`"),
                        );
                    }
                    (None, _, Some(l)) => {
                        let n = &self.dims[l.sym.unwrap_or(0)].name;
                        self.ctx.err(
                            extent_sp,
                            format!("`{}` runs over the symbolic `{n}`: bind it to an axis over `{n}`, `axis::{f}({n}, {})`", l.ident, l.ident),
                        );
                    }
                    _ => {}
                }
                let mut lw = Lower::new(Mode::Binding, &self.loops, axes, &self.bufs, &mut self.ctx);
                let bound = lw.index(&binding);
                if let (Some(ext), Some(b)) = (extent, &bound) {
                    if let Some((lo, hi)) = lw.an.range(b) {
                        if lo < 0 || hi >= ext {
                            lw.ctx.err(
                                binding.sp,
                                format!("the binding takes values {lo}..={hi}, outside the axis domain 0..{ext}"),
                            );
                        }
                    }
                }
                for id in pats {
                    let var = self.declare_var(id, Some(axes), false);
                    axes.push(Axis { ident: id.clone(), var, kind, extent, binding: bound.clone(), sym });
                }
            }
            other => {
                skip_all(&content);
                input.parse::<Token![;]>()?;
                self.ctx.err(&func, format!("unknown axis function `axis::{other}`; expected `axis::remap`, `axis::spatial` or `axis::reduce`"));
                for id in pats {
                    let var = self.declare_var(id, Some(axes), false);
                    axes.push(Axis {
                        ident: id.clone(),
                        var,
                        kind: IterKind::Spatial,
                        extent: None,
                        binding: None,
                        sym: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// The axes of `axis::remap(kinds, vars)`, one per loop variable.
    fn remap(&mut self, pats: &[Ident], kinds: &LitStr, vars: &[SExpr], args_sp: Sp, axes: &mut Vec<Axis>) {
        let text = kinds.value();
        let letters: Vec<Option<IterKind>> = text
            .chars()
            .map(|c| match c {
                'S' => Some(IterKind::Spatial),
                'R' => Some(IterKind::Reduce),
                _ => None,
            })
            .collect();
        if let Some(bad) = text.chars().find(|c| *c != 'S' && *c != 'R') {
            self.ctx.err(kinds.span(), format!("axis kind `{bad}` is neither `S` (spatial) nor `R` (reduce)"));
        } else if letters.len() != pats.len() {
            let n = letters.len();
            self.ctx.err(
                kinds.span(),
                format!("the kinds \"{text}\" declare {} but the pattern binds {}", axes_n(n), pats.len()),
            );
        }
        if vars.len() != pats.len() {
            let vars_n =
                if vars.len() == 1 { "1 loop variable".to_string() } else { format!("{} loop variables", vars.len()) };
            self.ctx.err(args_sp, format!("`axis::remap` binds {} to {vars_n}", axes_n(pats.len())));
        }
        let mut resolved = Vec::new();
        for v in vars {
            let SKind::Ident(id) = &v.kind else {
                self.ctx.err(
                    v.sp,
                    "`axis::remap` takes loop variables; bind an expression with `axis::spatial(extent, expr)`",
                );
                resolved.push(None);
                continue;
            };
            let mut lw = Lower::new(Mode::Binding, &self.loops, axes, &self.bufs, &mut self.ctx);
            let bound = lw.index(v);
            let l = self.loops.iter().rev().find(|l| l.ident == *id);
            let (extent, sym) = (l.and_then(|l| l.extent), l.and_then(|l| l.sym));
            resolved.push(bound.map(|b| (b, extent, sym)));
        }
        for (k, id) in pats.iter().enumerate() {
            let twice = pats[..k].contains(id);
            if twice {
                self.ctx.err(id, format!("the name `{id}` is bound twice in this pattern"));
            }
            let var = self.declare_var(id, Some(axes), twice);
            let kind = letters.get(k).copied().flatten();
            let (binding, extent, sym) = match resolved.get(k) {
                Some(Some((b, e, s))) => (Some(b.clone()), *e, *s),
                _ => (None, None, None),
            };
            let extent = if kind.is_some() { extent } else { None };
            let kind = kind.unwrap_or(IterKind::Spatial);
            axes.push(Axis { ident: id.clone(), var, kind, extent, binding, sym });
        }
    }
}

/// `target[indices] (= | += | -= | *= | /=) value;`
fn parse_store(input: ParseStream) -> syn::Result<SStore> {
    if !input.peek(Ident) {
        return Err(input.error("expected a store `buf[i, ..] = value;`"));
    }
    let target: Ident = input.parse()?;
    if !input.peek(token::Bracket) {
        return Err(syn::Error::new(
            target.span(),
            format!("a store writes one element: index `{target}` with its axes, `{target}[vi, ..] = ..`"),
        ));
    }
    let content;
    let bracket = syn::bracketed!(content in input);
    let indices = expr::parse_expr_list(&content)?;
    let target_sp = Sp::new(target.span(), bracket.span.close());
    let update = if input.peek(Token![+=]) {
        input.parse::<Token![+=]>()?;
        Some(BinOp::Add)
    } else if input.peek(Token![-=]) {
        input.parse::<Token![-=]>()?;
        Some(BinOp::Sub)
    } else if input.peek(Token![*=]) {
        input.parse::<Token![*=]>()?;
        Some(BinOp::Mul)
    } else if input.peek(Token![/=]) {
        input.parse::<Token![/=]>()?;
        Some(BinOp::Div)
    } else if input.peek(Token![=]) && !input.peek(Token![==]) {
        input.parse::<Token![=]>()?;
        None
    } else {
        return Err(input.error("expected `=`, `+=`, `-=`, `*=` or `/=`"));
    };
    let value = expr::parse_expr(input)?;
    input.parse::<Token![;]>()?;
    Ok(SStore { target, indices, target_sp, update, value })
}

/// Checks a store and lowers it; `None` after reporting an error.
fn lower_store(lw: &mut Lower, s: &SStore) -> Option<Store> {
    if let Some(info) = lw.buf(&s.target) {
        if info.kind == BufKind::Input {
            let t = &s.target;
            lw.ctx.err(
                t,
                format!("cannot write to `{t}`: it is an input; declare it `{t}: &mut [..]` to make it an output"),
            );
        }
    }
    let target = lw.access(&s.target, &s.indices, s.target_sp);
    let dtype = target.as_ref().map(|t| t.1);
    let value = lw.expr(&s.value, dtype);
    let ((buffer, dtype, indices), value) = (target?, value?);
    if value.dtype() != dtype {
        let hint = if value.dtype() == DataType::Index {
            format!("; convert the index with `as {dtype}`")
        } else {
            String::new()
        };
        lw.ctx.err(
            s.value.sp,
            format!(
                "mismatched types: storing a `{}` value into `{}`, which holds `{dtype}`{hint}",
                ty_name(value.dtype()),
                s.target
            ),
        );
        return None;
    }
    let value = match s.update {
        None => value,
        Some(op) => {
            lw.reads.push((buffer.to_string(), s.target_sp));
            let old = Expr::Load(Load { buffer: buffer.clone(), dtype, indices: indices.clone() });
            Expr::binary(op, old, value)
        }
    };
    Some(Store { buffer, indices, value })
}

/// `1 axis`, `2 axes`.
fn axes_n(n: usize) -> String {
    if n == 1 {
        "1 axis".to_string()
    } else {
        format!("{n} axes")
    }
}
