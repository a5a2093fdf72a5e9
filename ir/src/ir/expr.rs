//! Expressions: index arithmetic and element values share one tree, as in TensorIR.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::dtype::DataType;

/// A variable: a loop variable or a block iteration variable.
///
/// Variables are identified by name. Loop variables are unique in their
/// function; iteration variables are unique in their block (blocks are
/// isolated: their bodies see only their own iteration variables) and never
/// share a name with a loop variable. The parser rejects duplicates and the
/// schedule primitives create fresh names, so name equality is identity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(Arc<str>);

impl Var {
    pub fn new(name: &str) -> Var {
        Var(Arc::from(name))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A typed element constant (floats keep their exact bits).
#[derive(Clone, Copy, Debug)]
pub enum Const {
    F32(f32),
    F64(f64),
    I32(i32),
    Bool(bool),
}

impl Const {
    pub fn dtype(self) -> DataType {
        match self {
            Const::F32(_) => DataType::F32,
            Const::F64(_) => DataType::F64,
            Const::I32(_) => DataType::I32,
            Const::Bool(_) => DataType::Bool,
        }
    }

    /// The constant `value` converted to `dtype` (an element type or bool).
    pub fn of(dtype: DataType, value: f64) -> Const {
        match dtype {
            DataType::F32 => Const::F32(value as f32),
            DataType::F64 => Const::F64(value),
            DataType::I32 | DataType::Index => Const::I32(value as i32),
            DataType::Bool => Const::Bool(value != 0.0),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Const::F32(v) => v as f64,
            Const::F64(v) => v,
            Const::I32(v) => v as f64,
            Const::Bool(v) => v as i32 as f64,
        }
    }

    /// `1/c` when dividing by `c` is multiplying by it, bit for bit: `c` a
    /// power of two (normal) whose reciprocal is finite. The product is then
    /// the exact quotient, rounded once as the division rounds it (zeros,
    /// infinities, NaN and subnormal results included).
    pub fn exact_reciprocal(self) -> Option<Const> {
        match self {
            Const::F32(v) if v.is_normal() && v.to_bits() & 0x7f_ffff == 0 && (1.0 / v).is_finite() => {
                Some(Const::F32(1.0 / v))
            }
            Const::F64(v) if v.is_normal() && v.to_bits() & 0xf_ffff_ffff_ffff == 0 && (1.0 / v).is_finite() => {
                Some(Const::F64(1.0 / v))
            }
            _ => None,
        }
    }

    fn key(self) -> (u8, u64) {
        match self {
            Const::F32(v) => (0, v.to_bits() as u64),
            Const::F64(v) => (1, v.to_bits()),
            Const::I32(v) => (2, v as u32 as u64),
            Const::Bool(v) => (3, v as u64),
        }
    }
}

impl PartialEq for Const {
    fn eq(&self, other: &Const) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Const {}

impl Hash for Const {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

/// Binary operators. Arithmetic on index expressions uses `FloorDiv`/`FloorMod`;
/// `Div` and `Rem` are element division (true division for floats, truncating for `i32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    FloorDiv,
    FloorMod,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn is_compare(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne)
    }

    pub fn is_logic(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or)
    }

    /// Whether `a op b == b op a`.
    pub fn is_commutative(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Mul | BinOp::Min | BinOp::Max | BinOp::Eq | BinOp::Ne | BinOp::And | BinOp::Or
        )
    }
}

/// Unary operators and math intrinsics.
///
/// On `f32` the interpreter computes `exp`, `sqrt` and `abs` in `f32`;
/// `tanh`, `sigmoid` (`1/(1 + e^−x)`) and `ln` in `f64`, rounded to `f32`
/// (the exact result, for the test oracle); `rsqrt` is `1/sqrt(x)` in the
/// operand's type, two IEEE roundings (what the vector code computes, bit
/// for bit). The vector forms of `exp`, `tanh`, `sigmoid` and `ln` are within
/// 1 ulp (`kiln::simd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
    Exp,
    Sqrt,
    Abs,
    Tanh,
    Sigmoid,
    Ln,
    Rsqrt,
}

impl UnOp {
    /// The math intrinsics, by their name in the language (`x.exp()`).
    pub const FUNCTIONS: [UnOp; 7] =
        [UnOp::Exp, UnOp::Ln, UnOp::Sqrt, UnOp::Rsqrt, UnOp::Tanh, UnOp::Sigmoid, UnOp::Abs];

    /// The name of the operator in the language (`exp`, `ln`, ..).
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Not => "not",
            UnOp::Exp => "exp",
            UnOp::Sqrt => "sqrt",
            UnOp::Abs => "abs",
            UnOp::Tanh => "tanh",
            UnOp::Sigmoid => "sigmoid",
            UnOp::Ln => "ln",
            UnOp::Rsqrt => "rsqrt",
        }
    }

    /// The name of the intrinsic in the printer, TVMScript's (`T.exp`, `T.log`).
    pub fn tvm_name(self) -> &'static str {
        match self {
            UnOp::Ln => "log",
            op => op.name(),
        }
    }

    /// The intrinsic named `name` in the language.
    pub fn function(name: &str) -> Option<UnOp> {
        UnOp::FUNCTIONS.into_iter().find(|op| op.name() == name)
    }
}

/// A read of one buffer element.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Load {
    pub buffer: Arc<str>,
    pub dtype: DataType,
    pub indices: Vec<Expr>,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A loop or block iteration variable (type `Index`).
    Var(Var),
    /// An index constant (type `Index`).
    Int(i64),
    /// A typed element constant.
    Const(Const),
    Load(Load),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// `select(cond, then, else)`: only the chosen branch is evaluated.
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(DataType, Box<Expr>),
}

impl Expr {
    pub fn var(v: &Var) -> Expr {
        Expr::Var(v.clone())
    }

    pub fn binary(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    pub fn unary(op: UnOp, a: Expr) -> Expr {
        Expr::Unary(op, Box::new(a))
    }

    pub fn select(c: Expr, t: Expr, f: Expr) -> Expr {
        Expr::Select(Box::new(c), Box::new(t), Box::new(f))
    }

    pub fn floordiv(self, b: impl Into<Expr>) -> Expr {
        Expr::binary(BinOp::FloorDiv, self, b.into())
    }

    pub fn floormod(self, b: impl Into<Expr>) -> Expr {
        Expr::binary(BinOp::FloorMod, self, b.into())
    }

    pub fn lt(self, b: impl Into<Expr>) -> Expr {
        Expr::binary(BinOp::Lt, self, b.into())
    }

    pub fn and(self, b: Expr) -> Expr {
        if self.is_true() {
            return b;
        }
        if b.is_true() {
            return self;
        }
        Expr::binary(BinOp::And, self, b)
    }

    pub fn true_() -> Expr {
        Expr::Const(Const::Bool(true))
    }

    pub fn is_true(&self) -> bool {
        matches!(self, Expr::Const(Const::Bool(true)))
    }

    /// The operands of a conjunction `a && b && ..`, in order, without
    /// literal `true`s (so `true` has none).
    pub fn conjuncts(&self) -> Vec<Expr> {
        fn go(e: &Expr, out: &mut Vec<Expr>) {
            match e {
                Expr::Binary(BinOp::And, a, b) => {
                    go(a, out);
                    go(b, out);
                }
                e if e.is_true() => {}
                e => out.push(e.clone()),
            }
        }
        let mut out = Vec::new();
        go(self, &mut out);
        out
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Expr::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_var(&self) -> Option<&Var> {
        match self {
            Expr::Var(v) => Some(v),
            _ => None,
        }
    }

    /// The type of the expression.
    pub fn dtype(&self) -> DataType {
        match self {
            Expr::Var(_) | Expr::Int(_) => DataType::Index,
            Expr::Const(c) => c.dtype(),
            Expr::Load(l) => l.dtype,
            Expr::Binary(op, a, _) => {
                if op.is_compare() || op.is_logic() {
                    DataType::Bool
                } else {
                    a.dtype()
                }
            }
            Expr::Unary(UnOp::Not, _) => DataType::Bool,
            Expr::Unary(_, a) => a.dtype(),
            Expr::Select(_, t, _) => t.dtype(),
            Expr::Cast(t, _) => *t,
        }
    }

    /// Calls `f` on every sub-expression, children before parents.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        match self {
            Expr::Var(_) | Expr::Int(_) | Expr::Const(_) => {}
            Expr::Load(l) => l.indices.iter().for_each(|e| e.visit(f)),
            Expr::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Unary(_, a) | Expr::Cast(_, a) => a.visit(f),
            Expr::Select(c, t, e) => {
                c.visit(f);
                t.visit(f);
                e.visit(f);
            }
        }
        f(self)
    }

    /// Rebuilds the expression bottom-up: `f` sees each node after its children
    /// were rebuilt and may replace it.
    pub fn map(&self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        let rebuilt = match self {
            Expr::Var(_) | Expr::Int(_) | Expr::Const(_) => self.clone(),
            Expr::Load(l) => Expr::Load(Load {
                buffer: l.buffer.clone(),
                dtype: l.dtype,
                indices: l.indices.iter().map(|e| e.map(f)).collect(),
            }),
            Expr::Binary(op, a, b) => Expr::binary(*op, a.map(f), b.map(f)),
            Expr::Unary(op, a) => Expr::unary(*op, a.map(f)),
            Expr::Cast(t, a) => Expr::Cast(*t, Box::new(a.map(f))),
            Expr::Select(c, t, e) => Expr::select(c.map(f), t.map(f), e.map(f)),
        };
        f(rebuilt)
    }

    /// Replaces variables by expressions (variables not in the map stay).
    pub fn substitute(&self, map: &dyn Fn(&Var) -> Option<Expr>) -> Expr {
        self.map(&mut |e| match &e {
            Expr::Var(v) => map(v).unwrap_or(e),
            _ => e,
        })
    }

    /// Whether the expression mentions `v`.
    pub fn uses_var(&self, v: &Var) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if let Expr::Var(x) = e {
                found |= x == v;
            }
        });
        found
    }

    /// The variables the expression mentions, in first-use order, without repeats.
    pub fn vars(&self) -> Vec<Var> {
        let mut out: Vec<Var> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Var(x) = e {
                if !out.contains(x) {
                    out.push(x.clone());
                }
            }
        });
        out
    }

    /// Every load in the expression, in evaluation order.
    pub fn loads(&self) -> Vec<&Load> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a Load>) {
            match e {
                Expr::Var(_) | Expr::Int(_) | Expr::Const(_) => {}
                Expr::Load(l) => {
                    for i in &l.indices {
                        walk(i, out);
                    }
                    out.push(l);
                }
                Expr::Binary(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Unary(_, a) | Expr::Cast(_, a) => walk(a, out),
                Expr::Select(c, t, f) => {
                    walk(c, out);
                    walk(t, out);
                    walk(f, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

impl From<i64> for Expr {
    fn from(v: i64) -> Expr {
        Expr::Int(v)
    }
}

impl From<&Var> for Expr {
    fn from(v: &Var) -> Expr {
        Expr::Var(v.clone())
    }
}

impl From<Var> for Expr {
    fn from(v: Var) -> Expr {
        Expr::Var(v)
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:expr) => {
        impl<T: Into<Expr>> std::ops::$trait<T> for Expr {
            type Output = Expr;
            fn $method(self, rhs: T) -> Expr {
                Expr::binary($op, self, rhs.into())
            }
        }
    };
}
arith!(Add, add, BinOp::Add);
arith!(Sub, sub, BinOp::Sub);
arith!(Mul, mul, BinOp::Mul);

#[cfg(test)]
mod tests {
    use super::Const;

    /// Multiplying by the reciprocal of a power of two gives the division's
    /// bits, for every such divisor and a spread of dividends (zeros, ±∞,
    /// NaN, subnormals, extremes, random bits); other divisors have none.
    #[test]
    fn the_exact_reciprocal_of_a_power_of_two_divides() {
        let mut seed = 0x9e37_79b9u32;
        let mut xs: Vec<f32> =
            vec![0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-45, f32::MIN_POSITIVE, f32::MAX, 1.0, -3.5];
        xs.extend((0..2000).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            f32::from_bits(seed)
        }));
        let mut divisors = 0;
        for e in -130..130 {
            for d in [2f32.powi(e), -(2f32.powi(e))] {
                let Some(Const::F32(r)) = Const::F32(d).exact_reciprocal() else { continue };
                divisors += 1;
                for &x in &xs {
                    let (q, p) = (x / d, x * r);
                    assert!(q.to_bits() == p.to_bits() || (q.is_nan() && p.is_nan()), "{x:e} / {d:e}: {q:e} vs {p:e}");
                }
                let (q, p) = (f64::from(xs[9]) / f64::from(d), f64::from(xs[9]) * (1.0 / f64::from(d)));
                assert_eq!(q.to_bits(), p.to_bits());
            }
        }
        // 2^-126 ..= 2^127, both signs (2^-127 and below are subnormal).
        assert_eq!(divisors, 2 * 254);
        for d in [3.0f32, 768.0, 0.0, f32::INFINITY, f32::NAN, 1e-45, 2f32.powi(-127)] {
            assert!(Const::F32(d).exact_reciprocal().is_none(), "{d:e}");
        }
        assert_eq!(Const::F64(0.25).exact_reciprocal(), Some(Const::F64(4.0)));
        assert!(Const::F64(0.3).exact_reciprocal().is_none());
        assert!(Const::I32(4).exact_reciprocal().is_none());
    }
}
