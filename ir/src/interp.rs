//! The reference interpreter: runs any function, scheduled or not, on given buffers.
//!
//! It is the oracle of every test: schedules must not change what it computes
//! and generated kernels must agree with it. It follows the IR's semantics
//! literally — loops of any kind run serially, a block runs when its predicate
//! holds, a block's `init` runs when all its reduce variables are 0 — and
//! computes in the buffers' element types (`f32` arithmetic for `f32`).
//! Intermediate buffers start filled with NaN (`i32::MIN` for `i32`) so that a
//! read of an element nobody wrote shows up in the results.
//!
//! For speed the IR is first compiled into a tree of closures over variable
//! slots; a 128³ matmul runs in a fraction of a second.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use crate::ir::{BinOp, Const, DataType, Expr, ForKind, IterKind, PrimFunc, Stmt, Store, UnOp, Var};

/// A dense row-major array: the interpreter's buffers and the tests' data.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
}

impl Tensor {
    /// A tensor of `n` elements of `dtype` set to `v`.
    pub fn filled(dtype: DataType, n: usize, v: f64) -> Tensor {
        match dtype {
            DataType::F32 => Tensor::F32(vec![v as f32; n]),
            DataType::F64 => Tensor::F64(vec![v; n]),
            _ => Tensor::I32(vec![v as i32; n]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Tensor::F32(v) => v.len(),
            Tensor::F64(v) => v.len(),
            Tensor::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DataType {
        match self {
            Tensor::F32(_) => DataType::F32,
            Tensor::F64(_) => DataType::F64,
            Tensor::I32(_) => DataType::I32,
        }
    }

    pub fn get(&self, i: usize) -> f64 {
        match self {
            Tensor::F32(v) => v[i] as f64,
            Tensor::F64(v) => v[i],
            Tensor::I32(v) => v[i] as f64,
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match self {
            Tensor::F32(v) => Some(v),
            _ => None,
        }
    }
}

/// Why interpretation failed.
#[derive(Clone, Debug, PartialEq)]
pub enum InterpError {
    /// The arguments do not match the parameters.
    BadArgument(String),
    /// An access outside a buffer's shape.
    OutOfBounds { buffer: String, indices: Vec<i64>, shape: Vec<i64> },
    /// A variable without a value (an IR bug).
    Unbound(String),
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::BadArgument(m) => write!(f, "bad argument: {m}"),
            InterpError::OutOfBounds { buffer, indices, shape } => {
                write!(f, "access {buffer}{indices:?} is outside the buffer's shape {shape:?}")
            }
            InterpError::Unbound(v) => write!(f, "variable `{v}` has no value"),
        }
    }
}

impl std::error::Error for InterpError {}

#[derive(Clone, Copy, Debug)]
enum Val {
    F32(f32),
    F64(f64),
    I32(i32),
    Idx(i64),
    Bool(bool),
}

impl Val {
    fn idx(self) -> i64 {
        match self {
            Val::Idx(v) => v,
            Val::I32(v) => v as i64,
            Val::Bool(b) => b as i64,
            Val::F32(v) => v as i64,
            Val::F64(v) => v as i64,
        }
    }

    fn truth(self) -> bool {
        match self {
            Val::Bool(b) => b,
            other => other.idx() != 0,
        }
    }

    fn f64(self) -> f64 {
        match self {
            Val::F32(v) => v as f64,
            Val::F64(v) => v,
            Val::I32(v) => v as f64,
            Val::Idx(v) => v as f64,
            Val::Bool(b) => b as i64 as f64,
        }
    }

    fn cast(self, t: DataType) -> Val {
        match t {
            DataType::F32 => Val::F32(match self {
                Val::F32(v) => v,
                other => other.f64() as f32,
            }),
            DataType::F64 => Val::F64(self.f64()),
            DataType::I32 => Val::I32(match self {
                Val::I32(v) => v,
                Val::Idx(v) => v as i32,
                other => other.f64() as i32,
            }),
            DataType::Index => Val::Idx(self.idx()),
            DataType::Bool => Val::Bool(self.truth()),
        }
    }
}

struct Env {
    vars: Vec<i64>,
    bufs: Vec<Tensor>,
    /// The first out-of-bounds access: (access id, indices).
    fault: std::cell::RefCell<Option<(usize, Vec<i64>)>>,
    faulted: Cell<bool>,
}

type ExprFn = Box<dyn Fn(&Env) -> Val>;
type StmtFn = Box<dyn Fn(&mut Env)>;
type OffsetFn = Box<dyn Fn(&Env) -> usize>;

/// One index of an access: a linear combination of variables (the usual
/// case, evaluated inline) or any expression.
enum Index {
    Linear(Vec<(usize, i64)>, i64),
    Expr(ExprFn),
}

impl Index {
    #[inline]
    fn eval(&self, env: &Env) -> i64 {
        match self {
            Index::Linear(terms, c) => terms.iter().fold(*c, |acc, (s, k)| acc + env.vars[*s] * k),
            Index::Expr(f) => f(env).idx(),
        }
    }
}

struct BufInfo {
    name: String,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

struct Compiler {
    slots: HashMap<Var, usize>,
    bufs: Vec<BufInfo>,
    buf_index: HashMap<String, usize>,
    /// Out-of-bounds reports are recorded as (buffer, indices) here at compile
    /// time, by access id, so the hot path only stores an id.
    accesses: Vec<usize>,
}

/// `x op y` on two floats of one width, the result wrapped in `$val`
/// (`Val::F32` or `Val::F64`): the same arithmetic at both widths.
macro_rules! float_binop {
    ($val:path, $op:expr, $x:expr, $y:expr) => {{
        let (op, x, y) = ($op, $x, $y);
        match op {
            BinOp::Add => $val(x + y),
            BinOp::Sub => $val(x - y),
            BinOp::Mul => $val(x * y),
            BinOp::Div => $val(x / y),
            BinOp::Rem | BinOp::FloorMod => $val(x % y),
            BinOp::FloorDiv => $val((x / y).floor()),
            BinOp::Min => $val(x.min(y)),
            BinOp::Max => $val(x.max(y)),
            _ => Val::Bool(cmp(op, x.partial_cmp(&y))),
        }
    }};
}

fn binop(op: BinOp, a: Val, b: Val) -> Val {
    use Val::*;
    match (op, a, b) {
        (BinOp::And, _, _) => Bool(a.truth() && b.truth()),
        (BinOp::Or, _, _) => Bool(a.truth() || b.truth()),
        (_, F32(x), F32(y)) => float_binop!(F32, op, x, y),
        (_, F64(x), F64(y)) => float_binop!(F64, op, x, y),
        (_, I32(x), I32(y)) => match op {
            BinOp::Add => I32(x.wrapping_add(y)),
            BinOp::Sub => I32(x.wrapping_sub(y)),
            BinOp::Mul => I32(x.wrapping_mul(y)),
            BinOp::Div => I32(if y == 0 { 0 } else { x.wrapping_div(y) }),
            BinOp::Rem => I32(if y == 0 { 0 } else { x.wrapping_rem(y) }),
            BinOp::FloorDiv => I32(if y == 0 { 0 } else { x.div_euclid(y) }),
            BinOp::FloorMod => I32(if y == 0 { 0 } else { x.rem_euclid(y) }),
            BinOp::Min => I32(x.min(y)),
            BinOp::Max => I32(x.max(y)),
            _ => Bool(cmp(op, Some(x.cmp(&y)))),
        },
        _ => {
            let (x, y) = (a.idx(), b.idx());
            match op {
                BinOp::Add => Idx(x + y),
                BinOp::Sub => Idx(x - y),
                BinOp::Mul => Idx(x * y),
                BinOp::Div => Idx(if y == 0 { 0 } else { x / y }),
                BinOp::Rem => Idx(if y == 0 { 0 } else { x % y }),
                BinOp::FloorDiv => Idx(if y == 0 { 0 } else { x.div_euclid(y) }),
                BinOp::FloorMod => Idx(if y == 0 { 0 } else { x.rem_euclid(y) }),
                BinOp::Min => Idx(x.min(y)),
                BinOp::Max => Idx(x.max(y)),
                _ => Bool(cmp(op, Some(x.cmp(&y)))),
            }
        }
    }
}

fn cmp(op: BinOp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, o) {
        (_, None) => op == BinOp::Ne,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        (BinOp::Ge, Some(o)) => o != Less,
        (BinOp::Eq, Some(o)) => o == Equal,
        (BinOp::Ne, Some(o)) => o != Equal,
        _ => unreachable!("not a comparison"),
    }
}

fn unop(op: UnOp, a: Val) -> Val {
    match (op, a) {
        (UnOp::Not, v) => Val::Bool(!v.truth()),
        (UnOp::Neg, Val::F32(v)) => Val::F32(-v),
        (UnOp::Neg, Val::F64(v)) => Val::F64(-v),
        (UnOp::Neg, Val::I32(v)) => Val::I32(v.wrapping_neg()),
        (UnOp::Neg, v) => Val::Idx(-v.idx()),
        (UnOp::Exp, Val::F32(v)) => Val::F32(v.exp()),
        (UnOp::Sqrt, Val::F32(v)) => Val::F32(v.sqrt()),
        (UnOp::Abs, Val::F32(v)) => Val::F32(v.abs()),
        (UnOp::Rsqrt, Val::F32(v)) => Val::F32(1.0 / v.sqrt()),
        // Computed in f64 and rounded once: the exact result, nearly always.
        (UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln, Val::F32(v)) => Val::F32(math64(op, v as f64) as f32),
        (UnOp::Abs, Val::I32(v)) => Val::I32(v.wrapping_abs()),
        (UnOp::Abs, Val::Idx(v)) => Val::Idx(v.abs()),
        (_, v) => Val::F64(math64(op, v.f64())),
    }
}

/// The math functions in `f64` (`tanh`, `sigmoid` and `ln` as the scalar
/// code computes them, `rsqrt` as `1/sqrt(x)`).
fn math64(op: UnOp, v: f64) -> f64 {
    match op {
        UnOp::Exp => v.exp(),
        UnOp::Sqrt => v.sqrt(),
        UnOp::Abs => v.abs(),
        UnOp::Tanh => v.tanh(),
        UnOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnOp::Ln => v.ln(),
        UnOp::Rsqrt => 1.0 / v.sqrt(),
        UnOp::Neg | UnOp::Not => unreachable!("not a math function"),
    }
}

impl Compiler {
    fn slot(&mut self, v: &Var) -> usize {
        let n = self.slots.len();
        *self.slots.entry(v.clone()).or_insert(n)
    }

    /// Compiles the flat offset of `buffer[indices]`; out-of-bounds accesses
    /// record a fault and use offset 0.
    fn offset(&mut self, buffer: &str, indices: &[Expr]) -> Result<(usize, OffsetFn), InterpError> {
        let b = *self
            .buf_index
            .get(buffer)
            .ok_or_else(|| InterpError::BadArgument(format!("unknown buffer `{buffer}`")))?;
        let shape = self.bufs[b].shape.clone();
        let strides = self.bufs[b].strides.clone();
        let idx: Vec<Index> = indices.iter().map(|e| self.index(e)).collect::<Result<_, _>>()?;
        let id = self.accesses.len();
        self.accesses.push(b);
        let dims: Vec<(Index, i64, i64)> =
            idx.into_iter().zip(shape).zip(strides).map(|((i, extent), stride)| (i, extent, stride)).collect();
        Ok((
            b,
            Box::new(move |env: &Env| {
                let mut off = 0i64;
                for (f, extent, stride) in &dims {
                    let i = f.eval(env);
                    if i < 0 || i >= *extent {
                        if !env.faulted.replace(true) {
                            let all = dims.iter().map(|(f, _, _)| f.eval(env)).collect();
                            *env.fault.borrow_mut() = Some((id, all));
                        }
                        return 0;
                    }
                    off += i * stride;
                }
                off as usize
            }),
        ))
    }

    /// An index expression, with the common forms (a variable, `var + c`,
    /// `var * c + var`) evaluated without a closure call per term.
    fn index(&mut self, e: &Expr) -> Result<Index, InterpError> {
        let an = crate::ir::Analyzer::new();
        let lin = an.linear(e);
        let mut terms = Vec::new();
        for (atom, coef) in &lin.terms {
            match atom {
                Expr::Var(v) => match self.slots.get(v) {
                    Some(s) => terms.push((*s, *coef)),
                    None => return Ok(Index::Expr(self.expr(e)?)),
                },
                _ => return Ok(Index::Expr(self.expr(e)?)),
            }
        }
        Ok(Index::Linear(terms, lin.constant))
    }

    fn expr(&mut self, e: &Expr) -> Result<ExprFn, InterpError> {
        Ok(match e {
            Expr::Var(v) => {
                let s = *self.slots.get(v).ok_or_else(|| InterpError::Unbound(v.name().to_string()))?;
                Box::new(move |env: &Env| Val::Idx(env.vars[s]))
            }
            Expr::Int(v) => {
                let v = *v;
                Box::new(move |_: &Env| Val::Idx(v))
            }
            Expr::Const(c) => {
                let v = match *c {
                    Const::F32(x) => Val::F32(x),
                    Const::F64(x) => Val::F64(x),
                    Const::I32(x) => Val::I32(x),
                    Const::Bool(x) => Val::Bool(x),
                };
                Box::new(move |_: &Env| v)
            }
            Expr::Load(l) => {
                let (b, off) = self.offset(&l.buffer, &l.indices)?;
                Box::new(move |env: &Env| {
                    let o = off(env);
                    match &env.bufs[b] {
                        Tensor::F32(v) => Val::F32(v[o]),
                        Tensor::F64(v) => Val::F64(v[o]),
                        Tensor::I32(v) => Val::I32(v[o]),
                    }
                })
            }
            Expr::Binary(op, a, b) => {
                let (op, fa, fb) = (*op, self.expr(a)?, self.expr(b)?);
                match op {
                    BinOp::And => Box::new(move |env: &Env| Val::Bool(fa(env).truth() && fb(env).truth())),
                    BinOp::Or => Box::new(move |env: &Env| Val::Bool(fa(env).truth() || fb(env).truth())),
                    _ => Box::new(move |env: &Env| binop(op, fa(env), fb(env))),
                }
            }
            Expr::Unary(op, a) => {
                let (op, fa) = (*op, self.expr(a)?);
                Box::new(move |env: &Env| unop(op, fa(env)))
            }
            Expr::Select(c, t, f) => {
                let (fc, ft, ff) = (self.expr(c)?, self.expr(t)?, self.expr(f)?);
                Box::new(move |env: &Env| if fc(env).truth() { ft(env) } else { ff(env) })
            }
            Expr::Cast(t, a) => {
                let (t, fa) = (*t, self.expr(a)?);
                Box::new(move |env: &Env| fa(env).cast(t))
            }
        })
    }

    fn store(&mut self, s: &Store) -> Result<StmtFn, InterpError> {
        let (b, off) = self.offset(&s.buffer, &s.indices)?;
        let val = self.expr(&s.value)?;
        Ok(Box::new(move |env: &mut Env| {
            let o = off(env);
            let v = val(env);
            match &mut env.bufs[b] {
                Tensor::F32(d) => d[o] = v.cast(DataType::F32).f64() as f32,
                Tensor::F64(d) => d[o] = v.f64(),
                Tensor::I32(d) => {
                    d[o] = match v.cast(DataType::I32) {
                        Val::I32(x) => x,
                        _ => unreachable!(),
                    }
                }
            }
        }))
    }

    fn stmt(&mut self, s: &Stmt) -> Result<StmtFn, InterpError> {
        Ok(match s {
            Stmt::Seq(v) => {
                let fs: Vec<StmtFn> = v.iter().map(|c| self.stmt(c)).collect::<Result<_, _>>()?;
                Box::new(move |env: &mut Env| fs.iter().for_each(|f| f(env)))
            }
            Stmt::For(f) => {
                let _ = ForKind::Serial; // every kind runs serially
                let slot = self.slot(&f.var);
                let ext = f.extent;
                let body = self.stmt(&f.body)?;
                Box::new(move |env: &mut Env| {
                    for i in 0..ext {
                        env.vars[slot] = i;
                        body(env);
                    }
                })
            }
            Stmt::Block(br) => {
                let binds: Vec<Index> = br.bindings.iter().map(|e| self.index(e)).collect::<Result<_, _>>()?;
                let pred = self.expr(&br.predicate)?;
                let slots: Vec<usize> = br.block.iter_vars.iter().map(|iv| self.slot(&iv.var)).collect();
                let reduce_slots: Vec<usize> = br
                    .block
                    .iter_vars
                    .iter()
                    .zip(&slots)
                    .filter(|(iv, _)| iv.kind == IterKind::Reduce)
                    .map(|(_, s)| *s)
                    .collect();
                let init = br.block.init.as_ref().map(|i| self.store(i)).transpose()?;
                let body = self.store(&br.block.body)?;
                Box::new(move |env: &mut Env| {
                    if !pred(env).truth() {
                        return;
                    }
                    // Bindings read loop variables only, never the block's
                    // own iteration variables: assigned as evaluated.
                    for (s, b) in slots.iter().zip(&binds) {
                        env.vars[*s] = b.eval(env);
                    }
                    if let Some(init) = &init {
                        if reduce_slots.iter().all(|s| env.vars[*s] == 0) {
                            init(env);
                        }
                    }
                    body(env);
                })
            }
        })
    }
}

/// Runs `func` on `args` (one tensor per parameter, in order). Outputs are
/// written in place; inputs are not modified.
pub fn run(func: &PrimFunc, args: &mut [Tensor]) -> Result<(), InterpError> {
    if args.len() != func.params.len() {
        return Err(InterpError::BadArgument(format!("{} arguments for {} parameters", args.len(), func.params.len())));
    }
    let mut c = Compiler { slots: HashMap::new(), bufs: vec![], buf_index: HashMap::new(), accesses: vec![] };
    let mut storage = Vec::new();
    for (p, a) in func.params.iter().zip(args.iter_mut()) {
        let b = &p.buffer;
        if a.len() as i64 != b.numel() || a.dtype() != b.dtype {
            return Err(InterpError::BadArgument(format!(
                "`{}` expects {} {} elements, got {} {}",
                b.name,
                b.numel(),
                b.dtype,
                a.len(),
                a.dtype()
            )));
        }
        storage.push(std::mem::replace(a, Tensor::F32(vec![])));
    }
    for b in &func.allocs {
        let fill = if b.dtype == DataType::I32 { i32::MIN as f64 } else { f64::NAN };
        storage.push(Tensor::filled(b.dtype, b.numel() as usize, fill));
    }
    for b in func.buffers() {
        c.buf_index.insert(b.name.to_string(), c.bufs.len());
        c.bufs.push(BufInfo { name: b.name.to_string(), shape: b.shape.clone(), strides: b.strides() });
    }
    let compiled = match c.stmt(&func.body) {
        Ok(f) => f,
        Err(e) => {
            for (a, s) in args.iter_mut().zip(storage) {
                *a = s;
            }
            return Err(e);
        }
    };
    let mut env = Env {
        vars: vec![0; c.slots.len()],
        bufs: storage,
        fault: std::cell::RefCell::new(None),
        faulted: Cell::new(false),
    };
    compiled(&mut env);
    let fault = env.fault.borrow_mut().take();
    for (a, s) in args.iter_mut().zip(env.bufs) {
        *a = s;
    }
    match fault {
        Some((id, indices)) => {
            let b = &c.bufs[c.accesses[id]];
            Err(InterpError::OutOfBounds { buffer: b.name.clone(), indices, shape: b.shape.clone() })
        }
        None => Ok(()),
    }
}
