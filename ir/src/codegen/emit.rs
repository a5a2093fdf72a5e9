//! Lowered IR → Rust tokens: loops, unrolling, parallel loops, blocks and
//! scalar expressions. Vectorized loops go to `vector.rs`.
//!
//! Every buffer is a raw pointer; every access is first proven to lie inside
//! its buffer (from the loop ranges and the iteration domains of the block it
//! is in) and emitted unchecked, or else emitted through a bounds-checked
//! helper that panics — the generated code never reads or writes out of bounds.

use std::collections::HashMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Analyzer, BinOp, Const, DataType, Expr, ForKind, UnOp, Var};

use super::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt};
use crate::target::Isa;

/// Elements above which a temporary lives on the heap instead of the stack.
const STACK_ELEMS: i64 = 16 * 1024;

/// A buffer in scope: its element type and mutability (for the pointer types
/// re-declared inside parallel loops) and its number of elements (for the
/// bounds proofs).
#[derive(Clone, Debug)]
pub(crate) struct BufInfo {
    pub dtype: DataType,
    pub size: i64,
    pub mutable: bool,
    /// A temporary of the function (an `alloc`), not a parameter.
    pub temp: bool,
}

/// What is known where code is being emitted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    /// Values of unrolled loop variables.
    pub consts: HashMap<Var, i64>,
    /// Enclosing runtime loops (variable, extent), outermost first.
    pub loops: Vec<(Var, i64)>,
    /// Buffers in scope.
    pub bufs: HashMap<String, BufInfo>,
}

impl Env {
    pub fn analyzer(&self) -> Analyzer {
        let mut an = Analyzer::new();
        for (v, e) in &self.loops {
            an.bind(v, *e);
        }
        an
    }

    /// Substitutes unrolled constants.
    pub fn fold(&self, e: &Expr) -> Expr {
        if self.consts.is_empty() {
            return e.clone();
        }
        e.substitute(&|v| self.consts.get(v).map(|c| Expr::Int(*c)))
    }
}

pub(crate) fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

pub(crate) fn int_lit(v: i64) -> TokenStream {
    let l = Literal::isize_suffixed(v.abs() as isize);
    if v < 0 {
        quote!((-#l))
    } else {
        quote!(#l)
    }
}

pub(crate) fn elem_type(dt: DataType) -> TokenStream {
    match dt {
        DataType::F32 => quote!(f32),
        DataType::F64 => quote!(f64),
        DataType::I32 => quote!(i32),
        DataType::Index => quote!(isize),
        DataType::Bool => quote!(bool),
    }
}

fn const_tokens(c: Const) -> TokenStream {
    match c {
        Const::F32(v) if v.is_nan() => quote!(f32::NAN),
        Const::F32(v) if v == f32::INFINITY => quote!(f32::INFINITY),
        Const::F32(v) if v == f32::NEG_INFINITY => quote!(f32::NEG_INFINITY),
        Const::F32(v) => {
            let l = Literal::f32_suffixed(v.abs());
            if v.is_sign_negative() {
                quote!((-#l))
            } else {
                quote!(#l)
            }
        }
        Const::F64(v) if v.is_nan() => quote!(f64::NAN),
        Const::F64(v) if v == f64::INFINITY => quote!(f64::INFINITY),
        Const::F64(v) if v == f64::NEG_INFINITY => quote!(f64::NEG_INFINITY),
        Const::F64(v) => {
            let l = Literal::f64_suffixed(v.abs());
            if v.is_sign_negative() {
                quote!((-#l))
            } else {
                quote!(#l)
            }
        }
        Const::I32(v) => {
            let l = Literal::i32_suffixed(v);
            quote!(#l)
        }
        Const::Bool(b) => quote!(#b),
    }
}

/// The conjuncts `e < c` (or `e <= c - 1`) of a predicate, as `(e, c)`.
fn predicate_upper_bounds(pred: &Expr) -> Vec<(Expr, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![pred];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary(BinOp::And, a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Expr::Binary(BinOp::Lt, a, b) => {
                if let Some(c) = b.as_int() {
                    out.push(((**a).clone(), c));
                }
            }
            Expr::Binary(BinOp::Le, a, b) => {
                if let Some(c) = b.as_int() {
                    out.push(((**a).clone(), c + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// The emitter.
pub(crate) struct Emitter {
    pub isa: Isa,
    /// Counter for fresh identifiers.
    pub fresh: usize,
}

impl Emitter {
    pub fn fresh(&mut self, hint: &str) -> Ident {
        self.fresh += 1;
        format_ident!("__{}_{}", hint, self.fresh)
    }

    /// The function body: declarations of the top temporaries, then the code.
    pub fn func_body(&mut self, f: &LFunc) -> TokenStream {
        let mut env = Env::default();
        for p in &f.params {
            env.bufs.insert(
                p.name.to_string(),
                BufInfo { dtype: p.dtype, size: p.size(), mutable: p.kind == LBufferKind::Output, temp: false },
            );
        }
        self.stmts(&f.body, &mut env)
    }

    pub fn stmts(&mut self, s: &[LStmt], env: &mut Env) -> TokenStream {
        let saved = env.bufs.clone();
        let mut out = TokenStream::new();
        for x in s {
            out.extend(self.stmt(x, env));
        }
        env.bufs = saved;
        out
    }

    fn stmt(&mut self, s: &LStmt, env: &mut Env) -> TokenStream {
        match s {
            LStmt::Alloc(b) => self.alloc(b, env),
            LStmt::Block(b) => self.block(b, env),
            LStmt::For { var, extent, kind, body, .. } => self.for_loop(var, *extent, *kind, body, env),
        }
    }

    fn alloc(&mut self, b: &LBuffer, env: &mut Env) -> TokenStream {
        env.bufs.insert(b.name.to_string(), BufInfo { dtype: b.dtype, size: b.size(), mutable: true, temp: true });
        let name = ident(&b.name);
        let store = format_ident!("__{}_storage", &*b.name);
        let t = elem_type(b.dtype);
        let n = Literal::usize_unsuffixed(b.size() as usize);
        let zero = match b.dtype {
            DataType::F32 => quote!(0.0f32),
            DataType::F64 => quote!(0.0f64),
            _ => quote!(0i32),
        };
        if b.size() <= STACK_ELEMS {
            quote! {
                let mut #store: [#t; #n] = [#zero; #n];
                let #name: *mut #t = #store.as_mut_ptr();
            }
        } else {
            quote! {
                let mut #store: ::std::vec::Vec<#t> = ::std::vec![#zero; #n];
                let #name: *mut #t = #store.as_mut_ptr();
            }
        }
    }

    fn for_loop(&mut self, var: &Var, extent: i64, kind: ForKind, body: &[LStmt], env: &mut Env) -> TokenStream {
        match kind {
            ForKind::Unrolled => {
                let mut out = TokenStream::new();
                for c in 0..extent {
                    env.consts.insert(var.clone(), c);
                    out.extend(self.stmts(body, env));
                }
                env.consts.remove(var);
                out
            }
            ForKind::Vectorized if self.isa != Isa::Scalar => {
                if let Some(code) = super::vector::vector_loop(self, var, extent, body, env) {
                    return code;
                }
                self.serial(var, extent, body, env)
            }
            ForKind::Parallel => self.parallel(var, extent, body, env),
            _ => self.serial(var, extent, body, env),
        }
    }

    pub fn serial(&mut self, var: &Var, extent: i64, body: &[LStmt], env: &mut Env) -> TokenStream {
        if extent == 1 {
            env.consts.insert(var.clone(), 0);
            let b = self.stmts(body, env);
            env.consts.remove(var);
            return b;
        }
        env.loops.push((var.clone(), extent));
        let b = self.stmts(body, env);
        env.loops.pop();
        let v = ident(var.name());
        let n = int_lit(extent);
        quote!(for #v in 0..#n { #b })
    }

    fn parallel(&mut self, var: &Var, extent: i64, body: &[LStmt], env: &mut Env) -> TokenStream {
        env.loops.push((var.clone(), extent));
        let b = self.stmts(body, env);
        env.loops.pop();
        let v = ident(var.name());
        let n = Literal::usize_unsuffixed(extent as usize);
        let mut names: Vec<&String> = env.bufs.keys().collect();
        names.sort();
        let ptrs: Vec<Ident> = names.iter().map(|n| ident(n)).collect();
        // The pointers' types: `get` is generic over them, and scalar code
        // (`*a.offset(..)`) does not pin them down.
        let tys: Vec<TokenStream> = names
            .iter()
            .map(|n| {
                let info = &env.bufs[*n];
                let t = elem_type(info.dtype);
                if info.mutable {
                    quote!(*mut #t)
                } else {
                    quote!(*const #t)
                }
            })
            .collect();
        let sync = self.fresh("sync");
        let idx: Vec<syn::Index> = (0..ptrs.len()).map(syn::Index::from).collect();
        quote! {
            let #sync = (#(::kiln::runtime::SyncPtr::new(#ptrs),)*);
            ::kiln::runtime::parallel_for(#n, move |#v: usize| {
                let #v = #v as isize;
                #(let #ptrs: #tys = #sync.#idx.get();)*
                #b
            });
        }
    }

    /// Resolves an expression of a block: iteration variables → bindings,
    /// unrolled loops → constants, then simplifies with the loop ranges.
    pub fn resolve(&self, b: &LBlock, e: &Expr, env: &Env) -> Expr {
        let e = super::compact::substitute_lets(b, e);
        env.analyzer().simplify(&env.fold(&e))
    }

    /// Whether `buffer[index]` provably stays inside the buffer.
    pub fn in_bounds(&self, b: &LBlock, buffer: &str, index: &Expr, env: &Env) -> bool {
        let Some(info) = env.bufs.get(buffer) else { return false };
        let ok = |r: Option<(i64, i64)>| r.is_some_and(|(lo, hi)| lo >= 0 && hi < info.size);
        // A: over the loop ranges.
        let an = env.analyzer();
        if ok(an.range(&self.resolve(b, index, env))) {
            return true;
        }
        // B: over the iteration domains (valid under the block's predicate).
        let mut an_b = env.analyzer();
        for (v, _, ext) in &b.lets {
            an_b.bind(v, *ext);
        }
        let e = env.fold(index);
        if ok(an_b.range(&an_b.simplify(&e))) {
            return true;
        }
        // C: over the loop ranges, with the predicate's upper bounds.
        let idx = an.linear(&self.resolve(b, index, env));
        let Some((lo, mut hi)) = an.range(&idx.to_expr()) else { return false };
        for (bound, c) in predicate_upper_bounds(&self.resolve(b, &b.predicate, env)) {
            let lb = an.linear(&bound);
            // idx = alpha * bound + rest, alpha > 0  =>  idx <= alpha * (c - 1) + max(rest)
            let Some((atom, k)) = lb.terms.first() else { continue };
            let ki = idx.terms.iter().find(|(a, _)| a == atom).map_or(0, |(_, x)| *x);
            if *k <= 0 || ki <= 0 || ki % k != 0 {
                continue;
            }
            let alpha = ki / k;
            let mut rest = idx.clone();
            let mut fits = true;
            for (a, x) in &lb.terms {
                match rest.terms.iter_mut().find(|(b, _)| b == a) {
                    Some(t) if t.1 == alpha * x => t.1 = 0,
                    _ => fits = false,
                }
            }
            if !fits {
                continue;
            }
            rest.terms.retain(|(_, x)| *x != 0);
            rest.constant -= alpha * lb.constant;
            if let Some((_, rhi)) = an.range(&rest.to_expr()) {
                hi = hi.min(alpha * (c - 1) + rhi);
            }
        }
        ok(Some((lo, hi)))
    }

    fn block(&mut self, b: &LBlock, env: &mut Env) -> TokenStream {
        let pred = self.resolve(b, &b.predicate, env);
        let mut inner = TokenStream::new();
        if let Some((cond, st)) = &b.init {
            let c = self.resolve(b, cond, env);
            let s = self.store(b, st, env);
            inner.extend(match c {
                Expr::Const(Const::Bool(true)) => s,
                Expr::Const(Const::Bool(false)) => TokenStream::new(),
                c => {
                    let c = self.index_expr(&c, env);
                    quote!(if #c { #s })
                }
            });
        }
        inner.extend(self.store(b, &b.store, env));
        match pred {
            Expr::Const(Const::Bool(true)) => inner,
            Expr::Const(Const::Bool(false)) => TokenStream::new(),
            p => {
                let p = self.index_expr(&p, env);
                quote!(if #p { #inner })
            }
        }
    }

    fn store(&mut self, b: &LBlock, st: &super::lir::LStore, env: &Env) -> TokenStream {
        let ptr = self.access_ptr(b, &st.buffer, &st.indices[0], env, true);
        let v = self.value(b, &st.value, env);
        quote!(*#ptr = #v;)
    }

    /// A pointer to `buffer[index]` (bounds-checked unless proven in bounds).
    pub fn access_ptr(&self, b: &LBlock, buffer: &str, index: &Expr, env: &Env, write: bool) -> TokenStream {
        let idx = self.resolve(b, index, env);
        let i = self.index_expr(&idx, env);
        let p = ident(buffer);
        if self.in_bounds(b, buffer, index, env) {
            quote!(#p.offset(#i))
        } else {
            let size = Literal::usize_unsuffixed(env.bufs.get(buffer).map_or(0, |x| x.size) as usize);
            let name = buffer.to_string();
            if write {
                quote!(::kiln::runtime::checked_mut(#p, #i, #size, #name))
            } else {
                quote!(::kiln::runtime::checked(#p as *const _, #i, #size, #name))
            }
        }
    }

    /// Emits an index (or boolean) expression over loop variables.
    pub fn index_expr(&self, e: &Expr, env: &Env) -> TokenStream {
        let an = env.analyzer();
        self.index_expr_with(e, &an)
    }

    fn index_expr_with(&self, e: &Expr, an: &Analyzer) -> TokenStream {
        let go = |x: &Expr| self.index_expr_with(x, an);
        match e {
            Expr::Var(v) => {
                let i = ident(v.name());
                quote!(#i)
            }
            Expr::Int(v) => int_lit(*v),
            Expr::Const(c) => const_tokens(*c),
            Expr::Binary(op, a, b) => {
                let (ta, tb) = (go(a), go(b));
                let nonneg = an.range(a).is_some_and(|(lo, _)| lo >= 0) && b.as_int().is_some_and(|c| c > 0);
                match op {
                    BinOp::Add => quote!((#ta + #tb)),
                    BinOp::Sub => quote!((#ta - #tb)),
                    BinOp::Mul => quote!((#ta * #tb)),
                    BinOp::FloorDiv if nonneg => quote!((#ta / #tb)),
                    BinOp::FloorMod if nonneg => quote!((#ta % #tb)),
                    BinOp::FloorDiv => quote!(#ta.div_euclid(#tb)),
                    BinOp::FloorMod => quote!(#ta.rem_euclid(#tb)),
                    BinOp::Div => quote!((#ta / #tb)),
                    BinOp::Rem => quote!((#ta % #tb)),
                    BinOp::Min => quote!(#ta.min(#tb)),
                    BinOp::Max => quote!(#ta.max(#tb)),
                    BinOp::Lt => quote!((#ta < #tb)),
                    BinOp::Le => quote!((#ta <= #tb)),
                    BinOp::Gt => quote!((#ta > #tb)),
                    BinOp::Ge => quote!((#ta >= #tb)),
                    BinOp::Eq => quote!((#ta == #tb)),
                    BinOp::Ne => quote!((#ta != #tb)),
                    BinOp::And => quote!((#ta && #tb)),
                    BinOp::Or => quote!((#ta || #tb)),
                }
            }
            Expr::Unary(UnOp::Not, a) => {
                let t = go(a);
                quote!((!#t))
            }
            Expr::Unary(UnOp::Neg, a) => {
                let t = go(a);
                quote!((-#t))
            }
            Expr::Unary(_, a) => {
                let t = go(a);
                quote!(#t.abs())
            }
            Expr::Select(c, t, f) => {
                let (c, t, f) = (go(c), go(t), go(f));
                quote!((if #c { #t } else { #f }))
            }
            Expr::Cast(_, a) => go(a),
            Expr::Load(_) => panic!("bug: a load inside an index expression"),
        }
    }

    /// Emits a scalar element expression of block `b`.
    pub fn value(&self, b: &LBlock, e: &Expr, env: &Env) -> TokenStream {
        let dt = e.dtype();
        match e {
            Expr::Const(c) => const_tokens(*c),
            Expr::Var(_) | Expr::Int(_) => {
                let r = self.resolve(b, e, env);
                self.index_expr(&r, env)
            }
            Expr::Load(l) => {
                let p = self.access_ptr(b, &l.buffer, &l.indices[0], env, false);
                quote!((*#p))
            }
            Expr::Binary(op, x, y) if op.is_compare() || op.is_logic() => {
                let (tx, ty) = (self.value(b, x, env), self.value(b, y, env));
                let o = match op {
                    BinOp::Lt => quote!(<),
                    BinOp::Le => quote!(<=),
                    BinOp::Gt => quote!(>),
                    BinOp::Ge => quote!(>=),
                    BinOp::Eq => quote!(==),
                    BinOp::Ne => quote!(!=),
                    BinOp::And => quote!(&&),
                    _ => quote!(||),
                };
                quote!((#tx #o #ty))
            }
            Expr::Binary(op, x, y) if x.dtype() == DataType::Index => {
                let r = self.resolve(b, &Expr::binary(*op, (**x).clone(), (**y).clone()), env);
                self.index_expr(&r, env)
            }
            Expr::Binary(op, x, y) => {
                let (tx, ty) = (self.value(b, x, env), self.value(b, y, env));
                let int = dt == DataType::I32;
                match op {
                    BinOp::Add if int => quote!(#tx.wrapping_add(#ty)),
                    BinOp::Sub if int => quote!(#tx.wrapping_sub(#ty)),
                    BinOp::Mul if int => quote!(#tx.wrapping_mul(#ty)),
                    BinOp::Div if int => quote!(::kiln::runtime::idiv(#tx, #ty)),
                    BinOp::Rem if int => quote!(::kiln::runtime::irem(#tx, #ty)),
                    BinOp::FloorDiv if int => quote!(::kiln::runtime::ifloordiv(#tx, #ty)),
                    BinOp::FloorMod if int => quote!(::kiln::runtime::ifloormod(#tx, #ty)),
                    BinOp::Add => quote!((#tx + #ty)),
                    BinOp::Sub => quote!((#tx - #ty)),
                    BinOp::Mul => quote!((#tx * #ty)),
                    BinOp::Div => quote!((#tx / #ty)),
                    BinOp::Rem | BinOp::FloorMod => quote!((#tx % #ty)),
                    BinOp::FloorDiv => quote!((#tx / #ty).floor()),
                    BinOp::Min => quote!(#tx.min(#ty)),
                    BinOp::Max => quote!(#tx.max(#ty)),
                    _ => unreachable!("comparisons handled above"),
                }
            }
            Expr::Unary(op, x) => {
                let t = self.value(b, x, env);
                match (op, dt) {
                    (UnOp::Not, _) => quote!((!#t)),
                    (UnOp::Neg, DataType::I32) => quote!(#t.wrapping_neg()),
                    (UnOp::Neg, _) => quote!((-#t)),
                    (UnOp::Exp, _) => quote!(#t.exp()),
                    (UnOp::Sqrt, _) => quote!(#t.sqrt()),
                    (UnOp::Abs, DataType::I32) => quote!(#t.wrapping_abs()),
                    (UnOp::Abs, _) => quote!(#t.abs()),
                }
            }
            Expr::Select(c, t, f) => {
                let (c, t, f) = (self.value(b, c, env), self.value(b, t, env), self.value(b, f, env));
                quote!((if #c { #t } else { #f }))
            }
            Expr::Cast(t, x) => {
                let v = self.value(b, x, env);
                match (*t, x.dtype()) {
                    (DataType::Bool, _) => quote!((#v != 0 as _)),
                    (_, DataType::Bool) => {
                        let ty = elem_type(*t);
                        quote!((#v as i32 as #ty))
                    }
                    (t, _) => {
                        let ty = elem_type(t);
                        quote!((#v as #ty))
                    }
                }
            }
        }
    }
}
