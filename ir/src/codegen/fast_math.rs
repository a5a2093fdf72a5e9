//! `#[fast_math]`: the rewrites a kernel opts into, which round differently
//! from the interpreter.
//!
//! Exactness is the default: without the attribute every ISA computes the
//! interpreter's bits (the vector math within one ulp, `kiln::simd`). With
//! it (`PrimFunc::fast_math`), the vector code of AVX2 and AVX-512 may:
//!
//! | rewrite | max error (measured) | where |
//! |---|---|---|
//! | `a / s`, `s` shared by the lanes of a vectorized loop → `a · r`, `r = 1/s` computed once, before the outermost loop `s` does not change in | 1.47 ulp | `div_by_reciprocal` |
//! | `exp` → `kiln::simd::exp_fast_*` (a polynomial of degree 5, not 6) | 2.02 ulp | `VectorOps::unary_fast` |
//! | `tanh` → `kiln::simd::tanh_fast_*` (degree 3 below 0.5, then the fast `exp`) | 2.87 ulp | `VectorOps::unary_fast` |
//! | `sigmoid` → `kiln::simd::sigmoid_fast_*` (the fast `exp`, no correction step) | 3.50 ulp | `VectorOps::unary_fast` |
//!
//! (The functions' bounds are measured over every `f32` by `kiln-runtime`'s
//! tests, as the exact forms' are: `kiln::simd::fast`.)
//!
//! (The product of the reciprocal rounds twice: `fl(a·fl(1/s))` is within
//! `2^-23·|a/s|` of the quotient, measured at most 1.47 ulp over random pairs
//! and every significand of `s`: `reciprocal_product_error` below.)
//!
//! The scalar code — the portable fallback and the scalar lanes of a vector
//! loop's tail — stays exact, so a `#[fast_math]` kernel's results differ
//! between ISAs by these bounds. The reciprocal is hoisted before the
//! outermost enclosing loop it is invariant in — none of whose variables it
//! uses, none of whose blocks writes a buffer it reads, not past a parallel
//! loop (to the top of its body) — when its loads may run before the block's
//! guard: the predicate always holds, or the loads are in bounds by the loop
//! ranges alone (`bounds.rs`, strategy A). Otherwise it is computed in place,
//! once per vector.
//!
//! A kernel where the attribute allows nothing is an error at the attribute
//! (`parse::fast_math`): [`rewrites`] decides, from the IR alone (before any
//! schedule), whether some division or function could change.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::ir::{BinOp, DataType, Expr, PrimFunc, UnOp, Var};

use super::bounds::{prove, Proof};
use super::emit::{Emitter, Env};
use super::isa::VectorOps;
use super::lir::{LBlock, LStmt};

/// What `#[fast_math]` may change in `func`, one line per expression (empty:
/// nothing). A float division counts when its divisor does not vary with
/// every iteration variable of its block (some loop over the block shares
/// it: `e[vi, vj] / s[vi]`, `x[vi] / 3.0`); `exp`, `tanh` and `sigmoid` count
/// on `f32` (those of `f64` have no vector form).
pub fn rewrites(func: &PrimFunc) -> Vec<String> {
    let mut out = Vec::new();
    for br in func.blocks() {
        let b = &br.block;
        let stores = b.init.iter().chain(std::iter::once(&b.body));
        for st in stores {
            st.value.visit(&mut |e| match e {
                Expr::Binary(BinOp::Div, _, d)
                    if e.dtype().is_float() && b.iter_vars.iter().any(|iv| !d.uses_var(&iv.var)) =>
                {
                    out.push(format!("block \"{}\": `{e}` (one reciprocal of `{d}`)", b.name));
                }
                Expr::Unary(op @ (UnOp::Exp | UnOp::Tanh | UnOp::Sigmoid), _) if e.dtype() == DataType::F32 => {
                    out.push(format!("block \"{}\": `{e}` (the fast `{}`)", b.name, op.name()));
                }
                _ => {}
            });
        }
    }
    out
}

/// One loop being emitted, as far as hoisting is concerned.
#[derive(Debug)]
struct Scope {
    /// The loop's variables (the vector loop's lane and vector counter).
    vars: Vec<Var>,
    /// The buffers stored to anywhere in the loop's body.
    written: BTreeSet<String>,
    /// A parallel loop: nothing is hoisted out of it (its `let`s go at the
    /// top of its body, inside the closure).
    barrier: bool,
    /// `(divisor tokens, name, let statement)`, in order.
    lets: Vec<(String, Ident, TokenStream)>,
}

/// The loops around the code being emitted, outermost first, and the
/// reciprocals hoisted to each (`emit::serial`, `emit::parallel` and
/// `vector::vector_loop` open and close them in a `#[fast_math]` kernel).
#[derive(Debug, Default)]
pub(crate) struct Hoist {
    scopes: Vec<Scope>,
}

impl Hoist {
    /// Enters a loop over `vars` whose body stores to `written`.
    pub fn open(&mut self, vars: Vec<Var>, written: BTreeSet<String>, barrier: bool) {
        self.scopes.push(Scope { vars, written, barrier, lets: Vec::new() });
    }

    /// Leaves the innermost loop: the `let`s to place before it (inside it
    /// for a barrier).
    pub fn close(&mut self) -> TokenStream {
        let scope = self.scopes.pop().expect("bug: hoist scopes unbalanced");
        let lets = scope.lets.into_iter().map(|(_, _, l)| l);
        quote!(#(#lets)*)
    }

    /// The outermost loop `value` may be computed before (or at the top of,
    /// for a barrier): walking outwards from the innermost loop while the
    /// loop's variables are not in `vars` and its body writes none of
    /// `reads`. `None`: not even out of the innermost.
    fn target(&self, vars: &[Var], reads: &[String]) -> Option<usize> {
        let mut target = None;
        for (k, sc) in self.scopes.iter().enumerate().rev() {
            let invariant = !sc.vars.iter().any(|v| vars.contains(v)) && !reads.iter().any(|r| sc.written.contains(r));
            if sc.barrier {
                return if invariant { Some(k) } else { target };
            }
            if !invariant {
                break;
            }
            target = Some(k);
        }
        target
    }
}

/// The buffers stored to in `body`.
pub(crate) fn written(body: &[LStmt]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in body {
        match s {
            LStmt::Block(b) => {
                out.extend(b.init.iter().map(|(_, st)| st.buffer.to_string()));
                out.insert(b.store.buffer.to_string());
            }
            LStmt::For { body, .. } => out.extend(written(body)),
            LStmt::Alloc(_) => {}
        }
    }
    out
}

/// `a / divisor` for a vector `a` and a divisor shared by the lanes (`s`, its
/// scalar tokens), under `#[fast_math]`: `a · r` with `r` the splat of `1/s`,
/// a `let` before the outermost loop it is invariant in when it may be
/// hoisted (see the module doc), else computed in place.
pub(crate) fn div_by_reciprocal(
    em: &Emitter,
    b: &LBlock,
    divisor: &Expr,
    s: TokenStream,
    v: VecOp,
    env: &Env,
) -> TokenStream {
    let VecOp { ops, dt, a } = v;
    let one = match dt {
        DataType::F64 => quote!(1.0f64),
        _ => quote!(1.0f32),
    };
    let splat = ops.splat(dt, quote!(#one / #s));
    let mut hoist = em.hoist.borrow_mut();
    let pred = em.resolve(b, &b.predicate, env);
    let resolved = em.resolve(b, divisor, env);
    let reads: Vec<String> = resolved.loads().iter().map(|l| l.buffer.to_string()).collect();
    // Computed before the block's guard, the divisor's loads must be in
    // bounds whatever the predicate: proven from the loop ranges alone.
    let unguarded = divisor.loads().iter().all(|l| prove(b, &l.buffer, &l.indices[0], env) == Some(Proof::LoopRanges));
    let target = if pred.is_true() || unguarded { hoist.target(&resolved.vars(), &reads) } else { None };
    let r = match target {
        Some(k) => {
            let key = s.to_string();
            let scope = &mut hoist.scopes[k];
            match scope.lets.iter().find(|(x, _, _)| *x == key) {
                Some((_, name, _)) => quote!(#name),
                None => {
                    let name = quote::format_ident!("__rcp_{}", em.hoisted.get());
                    em.hoisted.set(em.hoisted.get() + 1);
                    scope.lets.push((key, name.clone(), quote!(let #name = #splat;)));
                    quote!(#name)
                }
            }
        }
        None => splat,
    };
    ops.binary(dt, BinOp::Mul, a, r).expect("every vector ISA multiplies")
}

/// A vector operand and the ISA and element type it is computed in.
pub(crate) struct VecOp<'a> {
    pub ops: &'a dyn VectorOps,
    pub dt: DataType,
    pub a: TokenStream,
}

#[cfg(test)]
mod tests {
    use super::Hoist;
    use crate::ir::Var;
    use crate::parse::parse_kernel_str;

    /// Out of every loop the divisor is invariant in, up to a loop that uses
    /// one of its variables, writes what it reads, or runs in parallel.
    #[test]
    fn hoist_target() {
        let v = |n: &str| Var::new(n);
        let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        let mut h = Hoist::default();
        h.open(vec![v("i")], set(&["s", "y"]), false);
        h.open(vec![v("b")], set(&["y"]), false);
        h.open(vec![v("j"), v("j_v")], set(&["y"]), false);
        let reads = ["s".to_string()];
        assert_eq!(h.target(&[v("i")], &reads), Some(1));
        assert_eq!(h.target(&[], &reads), Some(1));
        assert_eq!(h.target(&[], &[]), Some(0));
        assert_eq!(h.target(&[v("j")], &[]), None);
        assert_eq!(h.target(&[v("b")], &[]), Some(2));
        h.close();
        h.close();
        h.open(vec![v("p")], set(&["y"]), true);
        h.open(vec![v("j")], set(&["y"]), false);
        // Not past the parallel loop: to the top of its body.
        assert_eq!(h.target(&[], &[]), Some(1));
        assert_eq!(h.target(&[v("p")], &[]), Some(2));
        h.close();
        h.close();
        h.close();
        assert!(h.scopes.is_empty());
    }

    fn kernel(value: &str, dtype: &str) -> String {
        format!(
            "#[fast_math] fn f(x: [{dtype}; 4, 8], s: [{dtype}; 4], y: &mut [{dtype}; 4, 8]) {{ \
             for (i, j) in grid(4, 8) {{ block(\"Y\") {{ let (vi, vj) = axis::remap(\"SS\", (i, j)); \
             y[vi, vj] = {value}; }} }} }}"
        )
    }

    #[test]
    fn rewrites_name_what_changes() {
        let k = |v: &str, t: &str| {
            let src = kernel(v, t).replace("#[fast_math]", "");
            super::rewrites(&parse_kernel_str(&src).unwrap().func)
        };
        assert_eq!(k("x[vi, vj] / s[vi]", "f32"), ["block \"Y\": `x[vi, vj] / s[vi]` (one reciprocal of `s[vi]`)"]);
        assert_eq!(k("x[vi, vj] / s[vi]", "f64").len(), 1);
        assert!(k("x[vi, vj] / (s[vi] + x[vi, vj])", "f32").is_empty());
        assert_eq!(k("x[vi, vj].exp() + x[vi, vj].sigmoid()", "f32").len(), 2);
        assert!(k("x[vi, vj].tanh() + x[vi, vj].ln()", "f64").is_empty());
        assert!(k("x[vi, vj].ln().sqrt()", "f32").is_empty());
    }

    /// `fl(a·fl(1/s))` against the correctly rounded `a/s`, in ulps of the
    /// quotient: every significand of `s` in [1, 2) against 8 significands of
    /// `a`, and random pairs across the exponent range.
    #[test]
    fn reciprocal_product_error() {
        let ulps = |got: f32, a: f32, s: f32| {
            let exact = a as f64 / s as f64;
            let ulp = 2f64.powi((exact.abs().log2().floor() as i32).max(-126) - 23);
            (got as f64 - exact).abs() / ulp
        };
        let mut worst = 0f64;
        let a_set = [1.0f32, 1.0000001, 1.2345678, 1.5, 1.75, 1.9999999, 1.1, 1.3333334];
        for bits in 0..(1u32 << 23) {
            let s = f32::from_bits(0x3f80_0000 | bits);
            let r = 1.0 / s;
            for &a in &a_set {
                worst = worst.max(ulps(a * r, a, s));
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let a = f32::from_bits(0x3f80_0000 | (seed as u32 & 0x7f_ffff)) * 2f32.powi((seed >> 40) as i32 % 60 - 30);
            let s = f32::from_bits(0x3f80_0000 | ((seed >> 23) as u32 & 0x7f_ffff))
                * 2f32.powi((seed >> 50) as i32 % 60 - 30);
            worst = worst.max(ulps(a * (1.0 / s), a, s));
        }
        eprintln!("a·(1/s): max error {worst:.3} ulp");
        assert!(worst <= 1.5, "{worst}");
    }
}
