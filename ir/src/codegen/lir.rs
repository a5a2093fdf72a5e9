//! The lowered IR the emitter consumes.
//!
//! Blocks become [`LBlock`]s: their iteration variables are `let` bindings
//! with known domains (what the bounds proofs use), their predicate a guard and
//! their `init` a guarded store. Buffers are flat: every access has one index.

use std::sync::Arc;

use crate::ir::{Annotations, DataType, Expr, ForKind, Scope, Var};

/// A buffer of the lowered function.
#[derive(Clone, Debug, PartialEq)]
pub struct LBuffer {
    pub name: Arc<str>,
    pub dtype: DataType,
    /// The (compacted) shape; accesses are row-major in it.
    pub shape: Vec<i64>,
    pub scope: Scope,
    pub kind: LBufferKind,
    /// `Some((stored, valid))` when compaction padded the innermost
    /// dimension of a small temporary from `valid` to `stored` elements
    /// (`compact::LANE_PAD`): the padding is never read as data, so a vector
    /// lane that a predicate switches off may compute into it instead of
    /// running lane by lane (`vector::emit_vector`).
    pub row: Option<(i64, i64)>,
}

impl LBuffer {
    pub fn size(&self) -> i64 {
        self.shape.iter().product()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LBufferKind {
    Input,
    Output,
    /// Allocated by the kernel (at the top, or inside the loop given by
    /// `Alloc`). `zeroed`: it must start as zeros (the language's semantics
    /// of `alloc`); `false` when its first stage writes every element that is
    /// read later (a packing copy), so its storage may hold anything.
    Temp {
        zeroed: bool,
    },
}

/// `buffer[index] = value`, indices flat (after `flatten`) or per dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct LStore {
    pub buffer: Arc<str>,
    pub indices: Vec<Expr>,
    pub value: Expr,
}

/// A lowered block: bind the iteration variables, and if the predicate holds,
/// run the init (when its condition holds) and the store.
#[derive(Clone, Debug, PartialEq)]
pub struct LBlock {
    pub name: String,
    /// `(iteration variable, binding, extent)`: the binding is an expression of
    /// the loop variables and lies in `0..extent` whenever `predicate` holds.
    pub lets: Vec<(Var, Expr, i64)>,
    pub predicate: Expr,
    /// `(condition over the iteration variables, store)`.
    pub init: Option<(Expr, LStore)>,
    pub store: LStore,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LStmt {
    For {
        var: Var,
        extent: i64,
        kind: ForKind,
        annotations: Annotations,
        body: Vec<LStmt>,
    },
    Block(Box<LBlock>),
    /// Declares a temporary buffer for the rest of the enclosing body.
    Alloc(LBuffer),
}

/// A lowered function.
#[derive(Clone, Debug, PartialEq)]
pub struct LFunc {
    pub name: String,
    /// Parameters, in order.
    pub params: Vec<LBuffer>,
    pub body: Vec<LStmt>,
    /// The symbolic dimensions (`symbolic.rs`).
    pub dims: Vec<super::symbolic::LDim>,
    /// `PrimFunc::fast_math`.
    pub fast_math: bool,
}

impl LFunc {
    /// Every buffer declared anywhere (parameters and allocations).
    pub fn buffers(&self) -> Vec<&LBuffer> {
        fn go<'a>(s: &'a [LStmt], out: &mut Vec<&'a LBuffer>) {
            for x in s {
                match x {
                    LStmt::Alloc(b) => out.push(b),
                    LStmt::For { body, .. } => go(body, out),
                    LStmt::Block(_) => {}
                }
            }
        }
        let mut out: Vec<&LBuffer> = self.params.iter().collect();
        go(&self.body, &mut out);
        out
    }

    pub fn buffer(&self, name: &str) -> Option<&LBuffer> {
        self.buffers().into_iter().find(|b| &*b.name == name)
    }
}

impl LBlock {
    /// Every access of the block: `(buffer, indices, is_store)`, loads of a
    /// store before the store itself, init first.
    pub fn accesses(&self) -> Vec<(Arc<str>, Vec<Expr>, bool)> {
        let mut out = Vec::new();
        for s in self.init.iter().map(|(_, s)| s).chain(std::iter::once(&self.store)) {
            for idx in &s.indices {
                out.extend(idx.loads().into_iter().map(|l| (l.buffer.clone(), l.indices.clone(), false)));
            }
            out.extend(s.value.loads().into_iter().map(|l| (l.buffer.clone(), l.indices.clone(), false)));
            out.push((s.buffer.clone(), s.indices.clone(), true));
        }
        out
    }

    /// Rewrites every access (load and store indices) of `buffer`.
    pub fn map_accesses(&mut self, buffer: &str, f: &mut impl FnMut(&[Expr]) -> Vec<Expr>) {
        self.edit_accesses(buffer, &mut |_, idx| *idx = f(idx));
    }

    /// Points every access (load and store) of buffer `from` at `to`.
    pub fn rename_buffer(&mut self, from: &str, to: &Arc<str>) {
        self.edit_accesses(from, &mut |name, _| *name = to.clone());
    }

    /// Calls `f` on the buffer name and indices of every access of `buffer`.
    fn edit_accesses(&mut self, buffer: &str, f: &mut impl FnMut(&mut Arc<str>, &mut Vec<Expr>)) {
        let mut fix_store = |s: &mut LStore| {
            s.value = s.value.map(&mut |e| match e {
                Expr::Load(mut l) if &*l.buffer == buffer => {
                    f(&mut l.buffer, &mut l.indices);
                    Expr::Load(l)
                }
                other => other,
            });
            if &*s.buffer == buffer {
                f(&mut s.buffer, &mut s.indices);
            }
        };
        if let Some((_, s)) = &mut self.init {
            fix_store(s);
        }
        fix_store(&mut self.store);
    }
}
