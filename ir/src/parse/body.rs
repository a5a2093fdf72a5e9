//! The kernel: signature, body items (allocations, loops, blocks), the
//! optional `schedule { .. }`, and the IR built from them.
//!
//! Recovery: a syntax error inside a statement skips to the end of that
//! statement (its `;` or its braces) and parsing goes on, so one input reports
//! the errors of every block. Blocks themselves are in `block.rs`.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseBuffer, ParseStream, Parser};
use syn::{token, Ident, Token};

use super::check::{self, Flow};
use super::expr::{self, SExpr, SKind};
use super::limits::{MAX_DEPTH, MAX_EXTENT};
use super::lower::{Axis, BufInfo, BufKind, LoopVar};
use super::sig::{self, DimDecl, TensorDecl};
use super::{Ctx, Kernel, KernelSig, ParseFailure, Sp};
use crate::ir::{fresh_in, Buffer, For, Param, ParamKind, PrimFunc, Stmt, SymDim, Var};

/// The language's keywords that are not Rust keywords.
pub(crate) mod kw {
    syn::custom_keyword!(alloc);
    syn::custom_keyword!(axis);
    syn::custom_keyword!(block);
    syn::custom_keyword!(grid);
    syn::custom_keyword!(init);
    syn::custom_keyword!(range);
    syn::custom_keyword!(schedule);
}

/// What the parser knows while it reads one kernel.
#[derive(Default)]
pub(crate) struct State {
    pub ctx: Ctx,
    pub bufs: Vec<BufInfo>,
    /// IR names taken by buffers and variables.
    pub names: BTreeSet<String>,
    /// Names of buffers and loop variables: an axis (scoped to its block, so
    /// several blocks may call theirs `vi`) must differ from these.
    pub global_names: BTreeSet<String>,
    pub block_names: Vec<String>,
    /// The enclosing loops, outermost first.
    pub loops: Vec<LoopVar>,
    pub allocs: Vec<Buffer>,
    pub flow: Flow,
    /// The values to instantiate symbolic dimensions at (else their first
    /// tune value).
    pub at: BTreeMap<String, i64>,
    /// The declared symbolic dimensions.
    pub dims: Vec<DimDecl>,
    /// The loops over symbolic dimensions that a block axis is bound to.
    pub sym_bound: BTreeSet<String>,
}

/// A loop extent (`None` after an error) and the symbolic dimension it names.
type Extent = (Option<i64>, Option<usize>);

/// Entry point of [`super::parse_kernel`].
#[allow(clippy::result_large_err)]
pub(crate) fn parse(tokens: TokenStream, at: BTreeMap<String, i64>) -> Result<Kernel, ParseFailure> {
    let source = tokens.clone();
    let mut st = State { at, ..State::default() };
    let mut done = None;
    let res = (|input: ParseStream| {
        done = Some(st.kernel(input));
        Ok(())
    })
    .parse2(tokens);
    if let Err(e) = res {
        // syn's check for tokens left in a group. The statement parsers skip
        // what they leave after an error they report, so only a leftover
        // without a reported error is news.
        if st.ctx.count() == 0 {
            st.ctx.push(e);
        }
    }
    let (sig, kernel) = done.unwrap_or((None, None));
    match (st.ctx.finish(), kernel) {
        (None, Some(k)) => Ok(Kernel { source, ..k }),
        (Some(error), _) => Err(ParseFailure { error, sig }),
        (None, None) => Err(ParseFailure { error: syn::Error::new(Span::call_site(), "empty kernel"), sig }),
    }
}

/// Skips the rest of `input`.
pub(crate) fn skip_all(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut c = *cursor;
        while let Some((_, next)) = c.token_tree() {
            c = next;
        }
        Ok(((), c))
    });
}

/// Where a statement ends, for skipping it after an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// At its `;` (`let`, a store).
    Semi,
    /// After its first `{ .. }`, and a `;` right after it (`for`, `block`, `init`).
    Brace,
    /// At whichever comes first (a statement not recognized).
    Either,
}

/// After an error in the statement that began at `start` (a fork of `input`
/// taken there), skips `input` to the end of that statement, unless the parser
/// already went past it.
pub(crate) fn recover(input: ParseStream, start: ParseBuffer, end: End) {
    let _ = start.step(|cursor| {
        let mut c = *cursor;
        while let Some((tt, next)) = c.token_tree() {
            c = next;
            match tt {
                TokenTree::Punct(p) if p.as_char() == ';' && end != End::Brace => break,
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace && end != End::Semi => {
                    if let Some((TokenTree::Punct(p), after)) = c.token_tree() {
                        if p.as_char() == ';' {
                            c = after;
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
        Ok(((), c))
    });
    if start.cursor() > input.cursor() {
        input.advance_to(&start);
    }
}

impl State {
    fn kernel(&mut self, input: ParseStream) -> (Option<KernelSig>, Option<Kernel>) {
        let decl = match sig::parse_sig(input, &mut self.ctx, &self.at) {
            Ok(d) => d,
            Err(e) => {
                self.ctx.push(e);
                skip_all(input);
                return (None, None);
            }
        };
        self.dims = decl.dims.clone();
        for p in &decl.params {
            if !self.bufs.iter().any(|b| b.name == p.name) {
                // A name declared twice (an error already) is not checked
                // further: which declaration a use means is unknown.
                let twice = decl.params.iter().filter(|q| q.name == p.name).count() > 1;
                let kind = match (p.broken || twice, p.output) {
                    (true, _) => BufKind::Broken,
                    (false, true) => BufKind::Output,
                    (false, false) => BufKind::Input,
                };
                let unknown = TensorDecl { dtype: None, shape: None, sym: None };
                self.declare_buffer(&p.name, if twice { &unknown } else { &p.tensor }, kind);
            }
        }
        let body = match self.fn_body(input) {
            Ok(b) => b,
            Err(e) => {
                self.ctx.push(e);
                skip_all(input);
                return (decl.sig, None);
            }
        };
        let (schedule, schedule_span) = match self.schedule(input) {
            Ok(s) => s,
            Err(e) => {
                self.ctx.push(e);
                (None, None)
            }
        };
        if !input.is_empty() {
            let msg = if input.peek(kw::schedule) {
                "a kernel has at most one `schedule { .. }`"
            } else {
                "unexpected tokens after the kernel: a `tensor_func!` holds one `fn` and an optional `schedule { .. }`"
            };
            self.ctx.push(input.error(msg));
            skip_all(input);
        }
        check::check_flow(&mut self.ctx, &self.bufs, &self.flow);
        if self.ctx.count() > 0 {
            return (decl.sig, None);
        }
        let (Some(sig), Some(body)) = (decl.sig.clone(), body) else {
            return (decl.sig, None);
        };
        let params = self
            .bufs
            .iter()
            .filter(|b| b.kind != BufKind::Alloc)
            .filter_map(|b| {
                let kind = if b.kind == BufKind::Output { ParamKind::Output } else { ParamKind::Input };
                Some(Param { buffer: Buffer::new(&b.name.to_string(), b.dtype?, b.shape.clone()?), kind })
            })
            .collect();
        let dims = self
            .dims
            .iter()
            .enumerate()
            .map(|(k, d)| SymDim {
                name: d.name.to_string(),
                min: d.min,
                max: d.max,
                tune: d.tune.clone(),
                value: d.value,
                buffers: self.bufs.iter().filter(|b| b.sym == Some(k)).map(|b| b.name.to_string()).collect(),
            })
            .collect();
        let fast_math = decl.fast_math.is_some();
        let func = PrimFunc { name: decl.name.to_string(), params, allocs: self.allocs.clone(), body, dims, fast_math };
        if let Err(msgs) = crate::ir::verify::verify(&func) {
            self.ctx.err(&decl.name, format!("internal error: the parser built invalid IR: {}", msgs.join("; ")));
            return (decl.sig, None);
        }
        if let Some(at) = decl.fast_math {
            super::fast_math::check(&func, at, &mut self.ctx);
            if self.ctx.count() > 0 {
                return (decl.sig, None);
            }
        }
        (decl.sig, Some(Kernel { sig, func, schedule, schedule_span, source: TokenStream::new() }))
    }

    fn fn_body(&mut self, input: ParseStream) -> syn::Result<Option<Stmt>> {
        if !input.peek(token::Brace) {
            return Err(input.error("expected the function body `{ .. }`"));
        }
        let content;
        syn::braced!(content in input);
        let items = self.items(&content, true);
        Ok(items.map(Stmt::seq))
    }

    fn schedule(&mut self, input: ParseStream) -> syn::Result<(Option<TokenStream>, Option<Span>)> {
        if !input.peek(kw::schedule) {
            return Ok((None, None));
        }
        input.parse::<kw::schedule>()?;
        if !input.peek(token::Brace) {
            return Err(input.error("expected `{` after `schedule`"));
        }
        let content;
        let brace = syn::braced!(content in input);
        let tokens: TokenStream = content.parse()?;
        Ok((Some(tokens), Some(brace.span.join())))
    }

    /// The items filling `input`; `None` if one of them had an error.
    fn items(&mut self, input: ParseStream, top: bool) -> Option<Vec<Stmt>> {
        let mut out = Some(Vec::new());
        while !input.is_empty() {
            if input.peek(Token![;]) {
                let _ = input.parse::<Token![;]>();
                continue;
            }
            let start = input.fork();
            let (r, end) = if input.peek(Token![for]) {
                (self.for_loop(input), End::Brace)
            } else if input.peek(kw::block) && input.peek2(token::Paren) {
                (self.block(input), End::Brace)
            } else if input.peek(Token![let]) {
                (self.alloc(input, top).map(|ok| ok.then(Vec::new)), End::Semi)
            } else {
                let msg = "expected `for`, `block(\"name\") { .. }` or `let name = alloc([f32; ..]);`";
                (Err(input.error(msg)), End::Either)
            };
            match r {
                Ok(Some(stmts)) => {
                    if let Some(o) = out.as_mut() {
                        o.extend(stmts)
                    }
                }
                Ok(None) => out = None,
                Err(e) => {
                    self.ctx.push(e);
                    self.flow.unknown = true;
                    recover(input, start, end);
                    out = None;
                }
            }
        }
        out
    }

    /// `let name = alloc([dtype; dims]);` — true if it had no error.
    fn alloc(&mut self, input: ParseStream, top: bool) -> syn::Result<bool> {
        let let_tok = input.parse::<Token![let]>()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        if !(input.peek(kw::alloc) && input.peek2(token::Paren)) {
            return Err(
                input.error("expected `alloc([f32; ..])`: a `let` outside blocks declares an intermediate buffer")
            );
        }
        input.parse::<kw::alloc>()?;
        let content;
        syn::parenthesized!(content in input);
        let before = self.ctx.count();
        let mut tensor = sig::tensor(&content, &mut self.ctx)?;
        sig::resolve(&mut tensor, &self.dims, &mut self.ctx);
        if !content.is_empty() {
            return Err(content.error("expected `)`: `alloc` takes one tensor type"));
        }
        input.parse::<Token![;]>()?;
        if !top {
            self.ctx.err(
                Sp::new(let_tok.span, name.span()),
                "`alloc` is only allowed directly in the function body, outside loops",
            );
        }
        self.declare_buffer(&name, &tensor, BufKind::Alloc);
        if let (Some(dtype), Some(shape)) = (tensor.dtype, tensor.shape) {
            self.allocs.push(Buffer::new(&name.to_string(), dtype, shape));
        }
        Ok(self.ctx.count() == before)
    }

    fn declare_buffer(&mut self, name: &Ident, t: &TensorDecl, kind: BufKind) {
        let s = name.to_string();
        if s.starts_with("r#") {
            self.ctx.err(name, "raw identifiers are not supported");
        }
        if self.bufs.iter().any(|b| b.name == *name) {
            self.ctx.err(name, format!("the buffer name `{s}` is already used"));
            return;
        } else if self.names.contains(&s) {
            self.ctx.err(name, format!("the name `{s}` is already used by a loop variable or an axis"));
        }
        self.global_names.insert(s.clone());
        self.names.insert(s);
        let sym = t.sym.as_ref().and_then(|id| self.dims.iter().position(|d| d.name == *id));
        self.bufs.push(BufInfo { name: name.clone(), dtype: t.dtype, shape: t.shape.clone(), kind, sym });
    }

    /// Declares a loop variable or an axis named `id`, rejecting a clash with
    /// the names in scope; returns its IR variable (renamed if an earlier
    /// loop or block used the name).
    /// Declares a loop variable (`axes` is `None`) or an axis of the block
    /// whose axes so far are `axes`.
    pub(crate) fn declare_var(&mut self, id: &Ident, axes: Option<&[Axis]>, quiet: bool) -> Var {
        let is_axis = axes.is_some();
        let axes = axes.unwrap_or(&[]);
        let s = id.to_string();
        let clash = if s.starts_with("r#") {
            Some("raw identifiers are not supported".to_string())
        } else if self.bufs.iter().any(|b| b.name == *id) {
            Some(format!("the name `{s}` is already used by a buffer"))
        } else if self.loops.iter().any(|l| l.ident == *id) {
            Some(format!("the name `{s}` is already used by an enclosing loop"))
        } else if axes.iter().any(|a| a.ident == *id) {
            Some(format!("the name `{s}` is already used by an axis of this block"))
        } else {
            None
        };
        if let (false, Some(msg)) = (quiet, clash) {
            self.ctx.err(id, msg);
        }
        let name = if is_axis {
            let mut taken = self.global_names.clone();
            taken.extend(axes.iter().map(|a| a.var.name().to_string()));
            fresh_in(&taken, &s)
        } else {
            let n = fresh_in(&self.names, &s);
            self.global_names.insert(n.clone());
            n
        };
        self.names.insert(name.clone());
        Var::new(&name)
    }

    /// The symbolic dimension an extent names, if it names one.
    pub(crate) fn sym_of(&self, e: &SExpr) -> Option<usize> {
        match &e.kind {
            SKind::Ident(id) => self.dims.iter().position(|d| d.name == *id),
            _ => None,
        }
    }

    /// An extent written as a literal (positive and not too large) or the name
    /// of a symbolic dimension (its value in this instance).
    pub(crate) fn extent(&mut self, e: &SExpr, what: &str) -> Option<i64> {
        if let Some(k) = self.sym_of(e) {
            return Some(self.dims[k].value);
        }
        if let SKind::Ident(id) = &e.kind {
            if !self.loops.iter().any(|l| l.ident == *id) && !self.bufs.iter().any(|b| b.name == *id) {
                self.ctx.err(
                    e.sp,
                    format!(
                        "unknown dimension `{id}` in {what}: extents are integer literals or symbolic dimensions \
                         declared `where {id}: dim(1..=4096, tune = 64)`"
                    ),
                );
                return None;
            }
        }
        match (&e.kind, e.as_int()) {
            (_, Some(v)) if v > 0 && v <= MAX_EXTENT => Some(v),
            (_, Some(v)) if v > 0 => {
                self.ctx.err(e.sp, format!("{what} too large: at most {MAX_EXTENT}"));
                None
            }
            (SKind::Neg(_), _) | (_, Some(_)) => {
                self.ctx.err(e.sp, format!("{what} must be positive"));
                None
            }
            _ => {
                self.ctx.err(e.sp, format!("{what} must be an integer literal: extents are static"));
                None
            }
        }
    }

    fn for_loop(&mut self, input: ParseStream) -> syn::Result<Option<Vec<Stmt>>> {
        let for_tok = input.parse::<Token![for]>()?;
        let pats: Vec<Ident> = if input.peek(token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            let p = syn::punctuated::Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            p.into_iter().collect()
        } else {
            vec![input.parse()?]
        };
        if pats.is_empty() {
            return Err(syn::Error::new(for_tok.span, "expected loop variables"));
        }
        input.parse::<Token![in]>()?;
        let before = self.ctx.count();
        let (extents, grid_sp) = self.loop_iter(input)?;
        if extents.len() != pats.len() {
            let msg = match grid_sp {
                Some(_) => format!(
                    "`grid` has {} but the pattern binds {}",
                    plural(extents.len(), "extent"),
                    plural(pats.len(), "variable")
                ),
                None => "a range binds one variable; use `grid(..)` for several".to_string(),
            };
            let sp = grid_sp.unwrap_or(Sp::new(pats[0].span(), pats[pats.len() - 1].span()));
            self.ctx.err(sp, msg);
        }
        if !input.peek(token::Brace) {
            return Err(input.error("expected the loop body `{ .. }`"));
        }
        if self.loops.len() + pats.len() > MAX_DEPTH as usize {
            return Err(syn::Error::new(for_tok.span, format!("loops nested too deeply (more than {MAX_DEPTH})")));
        }
        let depth = self.loops.len();
        for (k, id) in pats.iter().enumerate() {
            let twice = pats[..k].contains(id);
            if twice {
                self.ctx.err(id, format!("the name `{id}` is bound twice in this pattern"));
            }
            let var = self.declare_var(id, None, twice);
            let (extent, sym) = extents.get(k).copied().unwrap_or((None, None));
            self.loops.push(LoopVar { ident: id.clone(), var, extent, sym });
        }
        let content;
        let brace = syn::braced!(content in input);
        let body = self.items(&content, false);
        let new_loops = self.loops.split_off(depth);
        for l in new_loops.iter().filter(|l| l.sym.is_some() && !self.sym_bound.contains(l.var.name())) {
            if body.is_some() {
                let n = &self.dims[l.sym.unwrap_or(0)].name;
                self.ctx.err(&l.ident, format!("the loop over the symbolic `{n}` must be bound to a block axis over `{n}` (`axis::remap`, `axis::spatial({n}, {})`)", l.ident));
            }
        }
        if body.as_ref().is_some_and(|b| b.is_empty()) {
            self.ctx.err(brace.span.join(), "empty loop body");
        }
        if self.ctx.count() > before {
            return Ok(None);
        }
        let Some(body) = body else { return Ok(None) };
        let mut stmt = Stmt::seq(body);
        for l in new_loops.into_iter().rev() {
            let Some(extent) = l.extent else {
                return Ok(None);
            };
            stmt = Stmt::For(Box::new(For::new(l.var, extent, stmt)));
        }
        Ok(Some(vec![stmt]))
    }

    /// `grid(e, ..)`, `range(e)` or `0..e`: the extents (`None` where an
    /// error was reported) and, for `grid`, its span.
    fn loop_iter(&mut self, input: ParseStream) -> syn::Result<(Vec<Extent>, Option<Sp>)> {
        let what = "a loop extent";
        if (input.peek(kw::grid) || input.peek(kw::range)) && input.peek2(token::Paren) {
            let grid = input.peek(kw::grid);
            let name = Ident::parse_any(input)?;
            let content;
            let paren = syn::parenthesized!(content in input);
            let args = expr::parse_expr_list(&content)?;
            let sp = Sp::new(name.span(), paren.span.close());
            if grid {
                if args.is_empty() {
                    self.ctx.err(sp, "`grid` needs at least one extent");
                }
                return Ok((args.iter().map(|a| self.extent_sym(a, what)).collect(), Some(sp)));
            }
            return match args.as_slice() {
                [e] => Ok((vec![self.extent_sym(e, what)], None)),
                [s, e] => {
                    self.range_start(s);
                    Ok((vec![self.extent_sym(e, what)], None))
                }
                _ => Err(syn::Error::new_spanned(sp, "`range` takes an extent: `range(128)`")),
            };
        }
        let start = expr::parse_expr(input)?;
        if input.peek(Token![..=]) {
            let t = input.parse::<Token![..=]>()?;
            self.ctx.err(Sp::new(t.spans[0], t.spans[2]), "inclusive ranges are not supported; write `0..n`");
        } else if input.peek(Token![..]) {
            input.parse::<Token![..]>()?;
        } else {
            return Err(syn::Error::new_spanned(start.sp, "expected a range `0..n`, `range(n)` or `grid(n, m, ..)`"));
        }
        let end = expr::parse_expr(input)?;
        self.range_start(&start);
        Ok((vec![self.extent_sym(&end, what)], None))
    }

    /// [`State::extent`] and the symbolic dimension it names.
    fn extent_sym(&mut self, e: &SExpr, what: &str) -> (Option<i64>, Option<usize>) {
        (self.extent(e, what), self.sym_of(e))
    }

    fn range_start(&mut self, s: &SExpr) {
        match s.as_int() {
            Some(0) => {}
            Some(_) => self.ctx.err(s.sp, "loop ranges must start at 0"),
            None => self.ctx.err(s.sp, "loop bounds must be integer literals: extents are static"),
        }
    }
}

/// `1 extent`, `2 extents`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
