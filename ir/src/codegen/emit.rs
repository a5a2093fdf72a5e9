//! Lowered IR → Rust tokens: loops, unrolling, parallel loops, blocks and
//! scalar expressions. Vectorized loops go to `vector.rs`, the row loops of
//! symbolic dimensions to `emit_rows.rs`.
//!
//! Every buffer is a raw pointer; every access is first proven to lie inside
//! its buffer (`bounds.rs`) and emitted unchecked, or else emitted through a
//! bounds-checked helper that panics — the generated code never reads or
//! writes out of bounds. With `CodegenOptions::check_all_accesses`, every
//! access goes through the helpers.

use std::collections::HashMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Analyzer, BinOp, Const, DataType, Expr, ForKind, UnOp, Var};

use super::bounds::in_bounds;
use super::isa::Helpers;
use super::legality::ScalarReason;
use super::lir::{LBlock, LBuffer, LBufferKind, LFunc, LStmt};
use super::symbolic::LDim;
use super::CodegenOptions;
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
    /// Row padding of a temporary (`LBuffer::row`).
    pub row: Option<(i64, i64)>,
    /// A parameter whose first dimension is symbolic: the run-time variable
    /// of the dimension and the elements per row (its length is their
    /// product; `size` is only its instance at the tune value).
    pub rows: Option<(Var, i64)>,
}

/// The number of elements of a buffer in scope, as a `usize` expression: a
/// literal, or `n * per_row` for a buffer of `n` rows (`BufInfo::rows`).
pub(crate) fn size_tokens(info: Option<&BufInfo>) -> TokenStream {
    match info.and_then(|x| x.rows.as_ref()) {
        Some((nv, per_row)) => {
            let (nv, per_row) = (ident(nv.name()), Literal::usize_unsuffixed(*per_row as usize));
            quote!((#nv as usize * #per_row))
        }
        None => {
            let size = Literal::usize_unsuffixed(info.map_or(0, |x| x.size) as usize);
            quote!(#size)
        }
    }
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
    /// The row loops running their full steps (`symbolic.rs`): loop variable,
    /// rows per step, the dimension's run-time variable, and the first row of
    /// the enclosing partial step (0 at the top). Their guards `row < n` hold
    /// (`bounds::drop_full_guards`).
    pub full_steps: Vec<(Var, i64, Var, Expr)>,
    /// Per symbolic dimension (its run-time variable), what the enclosing row
    /// loops run, innermost last: full steps (`None`), or the partial step
    /// starting at row `Some(first)`.
    pub row_ctx: Vec<(Var, Option<Expr>)>,
    /// Partial steps emitted once per number of rows left (`row_loop`): the
    /// dimension's run-time variable, the step's first row, and how many rows
    /// are left from it. Their guards are decided at compile time.
    pub rows_left: Vec<(Var, Expr, i64)>,
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
    signed(Literal::isize_suffixed(v.abs() as isize), v < 0)
}

/// The literal `l` of a magnitude, negated (in parentheses) when `negative`.
fn signed(l: Literal, negative: bool) -> TokenStream {
    if negative {
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

/// A float constant `v` of type `ty`: the type's named constant for NaN and
/// the infinities, else the literal `abs()` (of `|v|`, finite) with the sign
/// in front.
fn float_tokens(ty: TokenStream, v: f64, abs: impl FnOnce() -> Literal) -> TokenStream {
    if v.is_nan() {
        quote!(#ty::NAN)
    } else if v == f64::INFINITY {
        quote!(#ty::INFINITY)
    } else if v == f64::NEG_INFINITY {
        quote!(#ty::NEG_INFINITY)
    } else {
        signed(abs(), v.is_sign_negative())
    }
}

fn const_tokens(c: Const) -> TokenStream {
    match c {
        Const::F32(v) => float_tokens(quote!(f32), v.into(), || Literal::f32_suffixed(v.abs())),
        Const::F64(v) => float_tokens(quote!(f64), v, || Literal::f64_suffixed(v.abs())),
        Const::I32(v) => {
            let l = Literal::i32_suffixed(v);
            quote!(#l)
        }
        Const::Bool(b) => quote!(#b),
    }
}

/// The emitter.
pub(crate) struct Emitter {
    pub isa: Isa,
    /// Counter for fresh identifiers.
    pub fresh: usize,
    /// Every access through the bounds-checked helpers.
    pub check_all: bool,
    /// Where the vector code's helper functions live.
    pub helpers: Helpers,
    /// Real vector code (an ISA with target features, not emulated): the
    /// function body and parallel loops' closures align their frames
    /// ([`Emitter::frame_alignment`]).
    pub align_frames: bool,
    /// The loops marked vectorized emitted as scalar code, and why.
    pub scalar_loops: Vec<(Var, ScalarReason)>,
    /// The function's symbolic dimensions.
    pub dims: Vec<super::symbolic::LDim>,
    /// The function is `#[fast_math]` (`LFunc::fast_math`; set by `func_body`).
    pub fast_math: bool,
    /// The loops around the code being emitted, for the reciprocals
    /// hoisted out of them (`fast_math::Hoist`), and how many were.
    pub hoist: std::cell::RefCell<super::fast_math::Hoist>,
    pub hoisted: std::cell::Cell<usize>,
    /// The tables of the inputs read periodically along the lanes
    /// (`periodic.rs`), declared at the top of the function.
    pub(crate) tables: super::periodic::Tables,
    /// The temporaries declared once at the top of the function or of a
    /// parallel loop's body instead of at every iteration of the serial loop
    /// they sit in (`Emitter::alloc`), innermost frame last.
    temps: Vec<TempFrame>,
    /// A transposed block in registers while an unrolled row tile's copies
    /// are emitted (`transpose.rs`).
    pub(super) transposed: Option<super::transpose::Tile>,
}

/// The temporaries hoisted to one function or parallel body: the loop depth
/// (`Env::loops`) of its top, and their declarations by name.
#[derive(Default)]
struct TempFrame {
    depth: usize,
    decls: Vec<(String, TokenStream)>,
}

impl Emitter {
    pub fn new(isa: Isa, opts: &CodegenOptions) -> Emitter {
        Emitter {
            isa,
            fresh: 0,
            check_all: opts.check_all_accesses,
            helpers: Helpers::new(opts.emulation_path().as_ref()),
            align_frames: isa.target_features().is_some() && opts.emulate.is_none(),
            scalar_loops: Vec::new(),
            dims: Vec::new(),
            fast_math: false,
            hoist: Default::default(),
            hoisted: Default::default(),
            tables: Default::default(),
            temps: Vec::new(),
            transposed: None,
        }
    }

    pub fn fresh(&mut self, hint: &str) -> Ident {
        self.fresh += 1;
        format_ident!("__{}_{}", hint, self.fresh)
    }

    /// The function body: declarations of the top temporaries, then the code.
    pub fn func_body(&mut self, f: &LFunc) -> TokenStream {
        self.fast_math = f.fast_math;
        let mut env = Env::default();
        for p in &f.params {
            let rows = LDim::rows_of(&f.dims, &p.name, p.size());
            env.bufs.insert(
                p.name.to_string(),
                BufInfo {
                    dtype: p.dtype,
                    size: p.size(),
                    mutable: p.kind == LBufferKind::Output,
                    temp: false,
                    row: None,
                    rows,
                },
            );
        }
        self.dims = f.dims.clone();
        self.temps.push(TempFrame::default());
        let body = self.stmts(&f.body, &mut env);
        let decls = self.close_temps();
        let align = self.frame_alignment();
        let tables = self.tables.decls();
        quote!(#align #tables #decls #body)
    }

    /// Statements that make the function (or closure) they open keep its stack
    /// frame 64-byte aligned: a local of that alignment whose address escapes
    /// (`black_box`), so LLVM realigns the frame, and then gives the spill slots
    /// of vector registers their natural alignment (`vmovaps`). Without it a
    /// spilled `zmm` lies wherever the caller's stack left `rsp` (16-byte steps
    /// that vary with the process's stack), and in three cases of four every
    /// spill and reload splits two cache lines: on Zen 4 (family 25 model 17)
    /// `bias_gelu`'s AVX-512 code, which spills five vectors, ran 101.0–103.3 µs
    /// in some processes and 110.5–112.3 in others; aligned, 101.2–102.4 in all
    /// five tried (gelu with 4 vectors in lockstep: 99.8 or 109.0–109.8, then
    /// 100.0–101.1). Emitted for the code of a vector ISA (not its emulation):
    /// at the top of the function body and of each parallel loop's closure.
    fn frame_alignment(&self) -> TokenStream {
        if !self.align_frames {
            return quote!();
        }
        quote! {
            #[repr(align(64))]
            struct __KilnFrameAlign([u8; 64]);
            let mut __kiln_frame = ::core::mem::MaybeUninit::<__KilnFrameAlign>::uninit();
            ::core::hint::black_box(&mut __kiln_frame);
        }
    }

    /// The declarations of the temporaries hoisted to the innermost frame,
    /// which it leaves.
    fn close_temps(&mut self) -> TokenStream {
        let frame = self.temps.pop().unwrap_or_default();
        frame.decls.into_iter().map(|(_, d)| d).collect()
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
            LStmt::For { var, annotations, body, .. } if annotations.contains_key(super::symbolic::DYN_DIM) => {
                self.row_loop(s, var, annotations, body, env)
            }
            LStmt::For { var, extent, kind, annotations, body } => {
                self.for_loop(var, *extent, *kind, annotations, body, env)
            }
        }
    }

    fn alloc(&mut self, b: &LBuffer, env: &mut Env) -> TokenStream {
        let rows = LDim::rows_of(&self.dims, &b.name, b.size());
        let info =
            BufInfo { dtype: b.dtype, size: b.size(), mutable: true, temp: true, row: b.row, rows: rows.clone() };
        env.bufs.insert(b.name.to_string(), info);
        if let Some((nv, per_row)) = rows {
            // A temporary of `n` rows (`symbolic.rs`): its size is known at run time.
            let (name, store, t) = (ident(&b.name), format_ident!("__{}_storage", &*b.name), elem_type(b.dtype));
            let (nv, per_row) = (ident(nv.name()), Literal::usize_unsuffixed(per_row as usize));
            return quote! {
                let mut #store = ::kiln::scratch::Scratch::<#t>::take_zeroed(#nv as usize * #per_row);
                let #name: *mut #t = #store.as_mut_ptr();
            };
        }
        let name = ident(&b.name);
        let store = format_ident!("__{}_storage", &*b.name);
        let t = elem_type(b.dtype);
        let n = Literal::usize_unsuffixed(b.size() as usize);
        let zero = match b.dtype {
            DataType::F32 => quote!(0.0f32),
            DataType::F64 => quote!(0.0f64),
            _ => quote!(0i32),
        };
        // Small temporaries on the stack; large ones from the thread's pool of
        // scratch buffers (`kiln::scratch`: no allocation after the first call),
        // zeroed unless their first stage overwrites them.
        let overwritten = matches!(b.kind, LBufferKind::Temp { zeroed: false });
        let decl = if b.size() <= STACK_ELEMS {
            quote! {
                let mut #store: [#t; #n] = [#zero; #n];
                let #name: *mut #t = #store.as_mut_ptr();
            }
        } else {
            let take = if overwritten { quote!(take) } else { quote!(take_zeroed) };
            quote! {
                let mut #store = ::kiln::scratch::Scratch::<#t>::#take(#n);
                let #name: *mut #t = #store.as_mut_ptr();
            }
        };
        // A temporary that every iteration overwrites before reading, inside
        // a serial loop: declared once at the top of the function (or of the
        // parallel body around it, so that threads never share it). Declared
        // in the loop, the stack array was zeroed at every iteration (softmax
        // with its row of `exp` under the row loop: 4 KB of stores per row,
        // ~8 % of the kernel on Zen 1).
        match self.temps.last_mut() {
            Some(frame) if overwritten && env.loops.len() > frame.depth => {
                if !frame.decls.iter().any(|(n, _)| *n == *b.name) {
                    frame.decls.push((b.name.to_string(), decl));
                }
                TokenStream::new()
            }
            _ => decl,
        }
    }

    pub(super) fn for_loop(
        &mut self,
        var: &Var,
        extent: i64,
        kind: ForKind,
        annotations: &crate::ir::Annotations,
        body: &[LStmt],
        env: &mut Env,
    ) -> TokenStream {
        match kind {
            ForKind::Unrolled => {
                if let Some(code) = super::transpose::unrolled(self, var, extent, body, env) {
                    return code;
                }
                let mut out = TokenStream::new();
                for c in 0..extent {
                    env.consts.insert(var.clone(), c);
                    out.extend(self.stmts(body, env));
                }
                env.consts.remove(var);
                out
            }
            ForKind::Vectorized if self.isa != Isa::Scalar => {
                let divider = match annotations.get(super::vector::DIVIDER) {
                    Some(crate::ir::AnnValue::Int(d)) => *d,
                    _ => 0,
                };
                match super::vector::vector_loop(self, var, extent, divider, body, env) {
                    Ok(code) => return code,
                    Err(why) => self.scalar_loops.push((var.clone(), why)),
                }
                self.serial(var, extent, body, env)
            }
            ForKind::Vectorized => {
                self.scalar_loops.push((var.clone(), ScalarReason::ScalarIsa));
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
        self.open_hoist(var, body, false);
        env.loops.push((var.clone(), extent));
        let b = self.stmts(body, env);
        env.loops.pop();
        let hoisted = self.close_hoist();
        let v = ident(var.name());
        let n = int_lit(extent);
        quote!(#hoisted for #v in 0..#n { #b })
    }

    /// In a `#[fast_math]` kernel, enters a loop that reciprocals may be
    /// hoisted out of (`fast_math::Hoist`; a `barrier`: only to its top).
    pub(super) fn open_hoist(&self, var: &Var, body: &[LStmt], barrier: bool) {
        if self.fast_math {
            let written = super::fast_math::written(body);
            self.hoist.borrow_mut().open(vec![var.clone()], written, barrier);
        }
    }

    /// Leaves the loop [`Self::open_hoist`] entered: the `let`s hoisted to it.
    pub(super) fn close_hoist(&self) -> TokenStream {
        if self.fast_math {
            self.hoist.borrow_mut().close()
        } else {
            TokenStream::new()
        }
    }

    fn parallel(&mut self, var: &Var, extent: i64, body: &[LStmt], env: &mut Env) -> TokenStream {
        let n = Literal::usize_unsuffixed(extent as usize);
        self.parallel_n(var, extent, quote!(#n), body, env)
    }

    /// A parallel loop of `n` (a `usize` expression) iterations, at most `bound`.
    pub(super) fn parallel_n(
        &mut self,
        var: &Var,
        bound: i64,
        n: TokenStream,
        body: &[LStmt],
        env: &mut Env,
    ) -> TokenStream {
        self.open_hoist(var, body, true);
        env.loops.push((var.clone(), bound));
        self.temps.push(TempFrame { depth: env.loops.len(), decls: Vec::new() });
        let b = self.stmts(body, env);
        let temps = self.close_temps();
        env.loops.pop();
        let hoisted = self.close_hoist();
        let v = ident(var.name());
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
        let align = self.frame_alignment();
        quote! {
            let #sync = (#(::kiln::runtime::SyncPtr::new(#ptrs),)*);
            ::kiln::runtime::parallel_for(#n, move |#v: usize| {
                #align
                let #v = #v as isize;
                #(let #ptrs: #tys = #sync.#idx.get();)*
                #temps
                #hoisted
                #b
            });
        }
    }

    /// Resolves an expression of a block (`bounds::resolve`).
    pub fn resolve(&self, b: &LBlock, e: &Expr, env: &Env) -> Expr {
        super::bounds::resolve(b, e, env)
    }

    fn block(&mut self, b: &LBlock, env: &mut Env) -> TokenStream {
        let pred = self.resolve(b, &b.predicate, env);
        let mut inner = TokenStream::new();
        if let Some((cond, st)) = &b.init {
            let c = self.resolve(b, cond, env);
            let s = self.store(b, st, env);
            inner.extend(self.guarded(c, s, env));
        }
        inner.extend(self.store(b, &b.store, env));
        self.guarded(pred, inner, env)
    }

    /// `code` under the resolved condition `cond`: as is when it always
    /// holds, nothing when it never does, else `if cond { code }`.
    pub fn guarded(&self, cond: Expr, code: TokenStream, env: &Env) -> TokenStream {
        match cond {
            Expr::Const(Const::Bool(true)) => code,
            Expr::Const(Const::Bool(false)) => TokenStream::new(),
            c => {
                let c = self.index_expr(&c, env);
                quote!(if #c { #code })
            }
        }
    }

    fn store(&mut self, b: &LBlock, st: &super::lir::LStore, env: &Env) -> TokenStream {
        let ptr = self.access_ptr(b, &st.buffer, &st.indices[0], env, true);
        let v = self.value(b, &st.value, env);
        quote!(*#ptr = #v;)
    }

    /// A pointer to `buffer[index]` (bounds-checked unless proven in bounds
    /// and not in `check_all` mode).
    pub fn access_ptr(&self, b: &LBlock, buffer: &str, index: &Expr, env: &Env, write: bool) -> TokenStream {
        let idx = self.resolve(b, index, env);
        let i = self.index_expr(&idx, env);
        let p = ident(buffer);
        if !self.check_all && in_bounds(b, buffer, index, env) {
            quote!(#p.offset(#i))
        } else {
            self.checked_ptr(buffer, i, env, write)
        }
    }

    /// `buffer.offset(i)` through `::kiln::runtime::checked` (`checked_mut`
    /// when `write`), which panics unless `0 <= i < size`.
    ///
    /// A read casts the pointer to `*const <element type>` (not `*const _`:
    /// inference fails where the load is the receiver of a method, as in
    /// `(*checked(..)).max(0f32)`).
    pub fn checked_ptr(&self, buffer: &str, i: TokenStream, env: &Env, write: bool) -> TokenStream {
        let p = ident(buffer);
        let info = env.bufs.get(buffer);
        let size = size_tokens(info);
        let name = buffer.to_string();
        if write {
            quote!(::kiln::runtime::checked_mut(#p, #i, #size, #name))
        } else {
            let t = match info {
                Some(info) => elem_type(info.dtype),
                None => quote!(_),
            };
            quote!(::kiln::runtime::checked(#p as *const #t, #i, #size, #name))
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
                    (UnOp::Rsqrt, _) => quote!((1.0 / #t.sqrt())),
                    // As the interpreter: f32 through f64, one rounding.
                    (UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln, DataType::F32) => {
                        let v = math64(*op, quote!((#t as f64)));
                        quote!((#v as f32))
                    }
                    (UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln, _) => math64(*op, t),
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

/// `tanh`, `sigmoid` or `ln` of the `f64` value `v`, as the interpreter
/// computes them.
fn math64(op: UnOp, v: TokenStream) -> TokenStream {
    match op {
        UnOp::Tanh => quote!(#v.tanh()),
        UnOp::Sigmoid => quote!((1.0 / (1.0 + (-#v).exp()))),
        _ => quote!(#v.ln()),
    }
}
