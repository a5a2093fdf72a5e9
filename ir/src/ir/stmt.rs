//! Statements, blocks, buffers and functions.
//!
//! The structure follows TensorIR: a function body is a tree of loops (`For`),
//! sequences (`Seq`) and block realizations (`BlockRealize`). A block declares
//! its iteration variables (spatial or reduce, each with an extent), optionally
//! an `init` store executed when all reduce variables are at 0, and one body
//! store. The realization binds each iteration variable to an expression of the
//! enclosing loop variables and guards the block with a predicate.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::dtype::DataType;
use super::expr::{Expr, Var};

/// Where a buffer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Ordinary memory.
    Global,
    /// Private to the innermost region that uses it: a stack array the code
    /// generator keeps in registers (accumulators of a register tile).
    Local,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Local => "local",
        }
    }
}

/// A dense row-major buffer of static shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Buffer {
    pub name: Arc<str>,
    pub dtype: DataType,
    pub shape: Vec<i64>,
    pub scope: Scope,
}

impl Buffer {
    pub fn new(name: &str, dtype: DataType, shape: Vec<i64>) -> Buffer {
        Buffer { name: Arc::from(name), dtype, shape, scope: Scope::Global }
    }

    /// Number of elements.
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<i64> {
        let mut s = vec![1; self.shape.len()];
        for d in (0..self.shape.len().saturating_sub(1)).rev() {
            s[d] = s[d + 1] * self.shape[d + 1];
        }
        s
    }
}

/// Whether a parameter is read (`a: [f32; ..]`) or written (`c: &mut [f32; ..]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    Input,
    Output,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub buffer: Buffer,
    pub kind: ParamKind,
}

/// A loop or block annotation value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnnValue {
    Int(i64),
    Str(String),
}

pub type Annotations = BTreeMap<String, AnnValue>;

/// How a loop executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForKind {
    Serial,
    Parallel,
    Vectorized,
    Unrolled,
}

impl ForKind {
    /// The TVMScript spelling (`T.serial`, `T.parallel`, ...).
    pub fn tvm_name(self) -> &'static str {
        match self {
            ForKind::Serial => "serial",
            ForKind::Parallel => "parallel",
            ForKind::Vectorized => "vectorized",
            ForKind::Unrolled => "unroll",
        }
    }
}

/// `for var in 0..extent { body }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct For {
    pub var: Var,
    pub extent: i64,
    pub kind: ForKind,
    pub annotations: Annotations,
    pub body: Stmt,
}

/// Spatial (data-parallel) or reduce iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IterKind {
    Spatial,
    Reduce,
}

impl IterKind {
    pub fn letter(self) -> char {
        match self {
            IterKind::Spatial => 'S',
            IterKind::Reduce => 'R',
        }
    }
}

/// A block iteration variable with domain `0..extent`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IterVar {
    pub var: Var,
    pub extent: i64,
    pub kind: IterKind,
}

/// `buffer[indices] = value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Store {
    pub buffer: Arc<str>,
    pub indices: Vec<Expr>,
    pub value: Expr,
}

/// A block: the unit of computation the schedule moves around.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    pub name: String,
    pub iter_vars: Vec<IterVar>,
    /// Executed before `body` when every reduce iteration variable is 0.
    pub init: Option<Store>,
    pub body: Store,
    pub annotations: Annotations,
}

impl Block {
    /// Whether the block has reduce iteration variables.
    pub fn is_reduction(&self) -> bool {
        self.iter_vars.iter().any(|iv| iv.kind == IterKind::Reduce)
    }

    pub fn iter_var(&self, v: &Var) -> Option<&IterVar> {
        self.iter_vars.iter().find(|iv| &iv.var == v)
    }
}

/// A block with its bindings (one expression of outer loop variables per
/// iteration variable) and its predicate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockRealize {
    pub bindings: Vec<Expr>,
    pub predicate: Expr,
    pub block: Block,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Stmt {
    For(Box<For>),
    Seq(Vec<Stmt>),
    Block(Box<BlockRealize>),
}

/// A symbolic dimension: a size known only at run time (a batch), declared
/// `where n: dim(1..=4096, tune = 64)`. The IR of a kernel is always an
/// instance at one value (`value`: the first tune value for scheduling and
/// tuning, any value of the range for the interpreter); the code generator
/// makes the scheduled instance work for every value of the range
/// (`codegen::symbolic`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymDim {
    pub name: String,
    /// The declared range, `min..=max` (`1 <= min <= max`).
    pub min: i64,
    pub max: i64,
    /// The values to tune at (within the range; at least one).
    pub tune: Vec<i64>,
    /// The value this IR is an instance at.
    pub value: i64,
    /// The buffers whose first dimension it is (parameters and allocations).
    pub buffers: Vec<String>,
}

/// A tensor function: parameters, intermediate buffers and a body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrimFunc {
    pub name: String,
    pub params: Vec<Param>,
    /// Buffers allocated by the function (intermediates, caches, packed copies).
    pub allocs: Vec<Buffer>,
    pub body: Stmt,
    /// The symbolic dimensions (none for a kernel of static shape).
    pub dims: Vec<SymDim>,
    /// `#[fast_math]`: the code generator may round differently from the
    /// interpreter (a reciprocal for a shared divisor, approximate `exp`,
    /// `tanh`, `sigmoid`; `codegen::fast_math`). Printed as the function
    /// attribute `kiln.fast_math`, so it is part of the workload hash.
    pub fast_math: bool,
}

impl PrimFunc {
    /// The symbolic dimension that is the first dimension of `buffer`, if any.
    pub fn sym_dim_of(&self, buffer: &str) -> Option<&SymDim> {
        self.dims.iter().find(|d| d.buffers.iter().any(|b| b == buffer))
    }

    /// Looks a buffer up by name among parameters and allocations.
    pub fn buffer(&self, name: &str) -> Option<&Buffer> {
        self.params.iter().map(|p| &p.buffer).chain(self.allocs.iter()).find(|b| &*b.name == name)
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| &*p.buffer.name == name)
    }

    pub fn is_input(&self, name: &str) -> bool {
        self.param(name).is_some_and(|p| p.kind == ParamKind::Input)
    }

    /// Every buffer: parameters first, then allocations.
    pub fn buffers(&self) -> impl Iterator<Item = &Buffer> {
        self.params.iter().map(|p| &p.buffer).chain(self.allocs.iter())
    }

    /// Every block, in program order.
    pub fn blocks(&self) -> Vec<&BlockRealize> {
        let mut out = Vec::new();
        self.body.walk(&mut |s, _| {
            if let Stmt::Block(br) = s {
                out.push(&**br);
            }
        });
        out
    }

    pub fn block(&self, name: &str) -> Option<&BlockRealize> {
        self.blocks().into_iter().find(|b| b.block.name == name)
    }

    /// The loops enclosing block `name`, outermost first.
    pub fn loops_of_block(&self, name: &str) -> Option<Vec<&For>> {
        let mut found = None;
        self.body.walk(&mut |s, loops| {
            if let Stmt::Block(br) = s {
                if br.block.name == name {
                    found = Some(loops.to_vec());
                }
            }
        });
        found
    }

    /// The loop whose variable is `var`.
    pub fn find_loop(&self, var: &str) -> Option<&For> {
        let mut found = None;
        self.body.walk(&mut |s, _| {
            if let Stmt::For(f) = s {
                if f.var.name() == var {
                    found = Some(&**f);
                }
            }
        });
        found
    }

    /// The loops enclosing the loop `var` (outermost first, not including it).
    pub fn loops_above(&self, var: &str) -> Option<Vec<&For>> {
        let mut found = None;
        self.body.walk(&mut |s, loops| {
            if let Stmt::For(f) = s {
                if f.var.name() == var {
                    found = Some(loops.to_vec());
                }
            }
        });
        found
    }

    /// Every name in use: buffers, blocks, loop and iteration variables.
    pub fn names(&self) -> std::collections::BTreeSet<String> {
        let mut names: std::collections::BTreeSet<String> = self.buffers().map(|b| b.name.to_string()).collect();
        self.body.walk(&mut |s, _| match s {
            Stmt::For(f) => {
                names.insert(f.var.name().to_string());
            }
            Stmt::Block(br) => {
                names.insert(br.block.name.clone());
                for iv in &br.block.iter_vars {
                    names.insert(iv.var.name().to_string());
                }
            }
            Stmt::Seq(_) => {}
        });
        names
    }

    /// A name based on `hint` that is not used yet (`hint`, `hint_1`, `hint_2`, ...).
    pub fn fresh_name(&self, hint: &str) -> String {
        let names = self.names();
        fresh_in(&names, hint)
    }
}

/// A name based on `hint` not contained in `names`.
pub fn fresh_in(names: &std::collections::BTreeSet<String>, hint: &str) -> String {
    if !names.contains(hint) {
        return hint.to_string();
    }
    (1..).map(|i| format!("{hint}_{i}")).find(|n| !names.contains(n)).unwrap()
}

impl Stmt {
    /// Visits every statement in program order with the stack of enclosing loops.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Stmt, &[&'a For])) {
        fn go<'a>(s: &'a Stmt, loops: &mut Vec<&'a For>, f: &mut impl FnMut(&'a Stmt, &[&'a For])) {
            f(s, loops);
            match s {
                Stmt::For(l) => {
                    loops.push(l);
                    go(&l.body, loops, f);
                    loops.pop();
                }
                Stmt::Seq(v) => v.iter().for_each(|c| go(c, loops, f)),
                Stmt::Block(_) => {}
            }
        }
        go(self, &mut Vec::new(), f)
    }

    /// Rebuilds the tree top-down: `f` may replace a statement (returning
    /// `Ok(new)`), or leave it (`Err(old)`) to recurse into its children.
    pub fn rewrite(self, f: &mut impl FnMut(Stmt) -> Result<Stmt, Stmt>) -> Stmt {
        match f(self) {
            Ok(new) => new,
            Err(old) => match old {
                Stmt::For(mut l) => {
                    let body = std::mem::replace(&mut l.body, Stmt::Seq(vec![]));
                    l.body = body.rewrite(f);
                    Stmt::For(l)
                }
                Stmt::Seq(v) => Stmt::Seq(v.into_iter().map(|c| c.rewrite(f)).collect()),
                b @ Stmt::Block(_) => b,
            },
        }
    }

    /// Applies `f` to every block realization.
    pub fn map_blocks(self, f: &mut impl FnMut(BlockRealize) -> BlockRealize) -> Stmt {
        self.rewrite(&mut |s| match s {
            Stmt::Block(br) => Ok(Stmt::Block(Box::new(f(*br)))),
            other => Err(other),
        })
    }

    /// Flattens nested sequences and drops empty ones.
    pub fn seq(stmts: Vec<Stmt>) -> Stmt {
        let mut out = Vec::new();
        for s in stmts {
            match s {
                Stmt::Seq(v) => out.extend(v),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap()
        } else {
            Stmt::Seq(out)
        }
    }

    /// The names of the blocks in this subtree, in program order.
    pub fn block_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |s, _| {
            if let Stmt::Block(br) = s {
                out.push(br.block.name.clone());
            }
        });
        out
    }

    pub fn as_for(&self) -> Option<&For> {
        match self {
            Stmt::For(f) => Some(f),
            _ => None,
        }
    }
}

impl For {
    pub fn new(var: Var, extent: i64, body: Stmt) -> For {
        For { var, extent, kind: ForKind::Serial, annotations: Annotations::new(), body }
    }
}
