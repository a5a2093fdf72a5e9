//! The bounds prover, one kind of fact at a time, with accesses it must prove
//! and accesses it must not (out of bounds for some execution, or not
//! provable from what it understands); then the fallback: what it does not
//! prove is emitted through the runtime's checked helpers.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::{prove, Proof};
use crate::codegen::emit::{BufInfo, Emitter, Env};
use crate::codegen::lir::{LBlock, LStmt, LStore};
use crate::codegen::CodegenOptions;
use crate::ir::{BinOp, Const, DataType, Expr, Load, Var};
use crate::target::Isa;

fn var(name: &str) -> Expr {
    Expr::var(&Var::new(name))
}

fn cmp(op: BinOp, a: Expr, b: impl Into<Expr>) -> Expr {
    Expr::binary(op, a, b.into())
}

/// Runtime loops `(name, extent)` and buffers `(name, size)`.
fn env(loops: &[(&str, i64)], bufs: &[(&str, i64)]) -> Env {
    let bufs: HashMap<String, BufInfo> = bufs
        .iter()
        .map(|(n, size)| {
            (
                n.to_string(),
                BufInfo { dtype: DataType::F32, size: *size, mutable: true, temp: false, row: None, rows: None },
            )
        })
        .collect();
    Env {
        consts: HashMap::new(),
        loops: loops.iter().map(|(v, e)| (Var::new(v), *e)).collect(),
        bufs,
        ..Env::default()
    }
}

fn load(buffer: &str, index: Expr) -> Expr {
    Expr::Load(Load { buffer: buffer.into(), dtype: DataType::F32, indices: vec![index] })
}

/// A block `out[store_index] = value` with iteration variables `lets`
/// (`name, binding, extent`) under `predicate`.
fn block(lets: &[(&str, Expr, i64)], predicate: Expr, store_index: Expr, value: Expr) -> LBlock {
    LBlock {
        name: "B".into(),
        lets: lets.iter().map(|(v, e, x)| (Var::new(v), e.clone(), *x)).collect(),
        predicate,
        init: None,
        store: LStore { buffer: "out".into(), indices: vec![store_index], value },
    }
}

/// The access `buf[index]` in a block with no iteration variable, under `predicate`.
fn proof(e: &Env, predicate: Expr, buf: &str, index: Expr) -> Option<Proof> {
    let b = block(&[], predicate, Expr::Int(0), Expr::Const(Const::F32(0.0)));
    prove(&b, buf, &index, e)
}

/// `i0 · 3 + i1`, the binding of a loop of 8 split by 3 (`i0`, `i1` in 0..3).
fn split() -> Expr {
    var("i0") * 3 + var("i1")
}

/// The loops of [`split`] and a loop `j` of 8.
fn split_env(bufs: &[(&str, i64)]) -> Env {
    env(&[("i0", 3), ("i1", 3), ("j", 8)], bufs)
}

#[test]
fn a_loop_ranges_prove_a_plain_loop() {
    let e = env(&[("i", 8)], &[("a", 8)]);
    let b = block(&[("vi", var("i"), 8)], Expr::true_(), Expr::Int(0), Expr::Const(Const::F32(0.0)));
    assert_eq!(prove(&b, "a", &var("vi"), &e), Some(Proof::LoopRanges));
    // Unrolled loops are constants: a[i + 2·u] with u = 3 reaches 13 < 14.
    let mut e = env(&[("i", 8)], &[("a", 14)]);
    e.consts.insert(Var::new("u"), 3);
    assert_eq!(proof(&e, Expr::true_(), "a", var("i") + var("u") * 2), Some(Proof::LoopRanges));
    e.bufs.get_mut("a").unwrap().size = 13;
    assert_eq!(proof(&e, Expr::true_(), "a", var("i") + var("u") * 2), None);
}

#[test]
fn an_access_past_either_end_is_not_proven() {
    let e = env(&[("i", 8)], &[("a", 8)]);
    assert_eq!(proof(&e, Expr::true_(), "a", var("i") + 1), None);
    assert_eq!(proof(&e, Expr::true_(), "a", var("i") - 1), None);
    // A buffer not in scope is never in bounds.
    assert_eq!(proof(&e, Expr::true_(), "nowhere", Expr::Int(0)), None);
}

#[test]
fn b_iteration_domains_prove_a_non_dividing_split() {
    // 3·3 = 9 iterations over 8 elements: the loop ranges reach a[8], the
    // iteration domain of `vi` (valid under the split's predicate) does not.
    let e = split_env(&[("a", 8)]);
    let pred = cmp(BinOp::Lt, split(), 8);
    let b = block(&[("vi", split(), 8)], pred, Expr::Int(0), Expr::Const(Const::F32(0.0)));
    assert_eq!(prove(&b, "a", &var("vi"), &e), Some(Proof::IterationDomains));
    // A domain larger than the buffer proves nothing (and neither does the
    // predicate, absent here).
    let b = block(&[("vi", split(), 9)], Expr::true_(), Expr::Int(0), Expr::Const(Const::F32(0.0)));
    assert_eq!(prove(&b, "a", &var("vi"), &e), None);
}

#[test]
fn c_an_upper_bound_lt_proves_a_scaled_index() {
    // b[2·(3·i0 + i1) + 1] with 3·i0 + i1 < 8: at most 2·7 + 1 = 15 (the loop
    // ranges allow 17).
    let e = split_env(&[("b", 16)]);
    let index = split() * 2 + 1;
    assert_eq!(proof(&e, Expr::true_(), "b", index.clone()), None);
    assert_eq!(proof(&e, cmp(BinOp::Lt, split(), 8), "b", index.clone()), Some(Proof::PredicateBounds));
    // One element fewer and 15 is out.
    let e = split_env(&[("b", 15)]);
    assert_eq!(proof(&e, cmp(BinOp::Lt, split(), 8), "b", index), None);
}

/// A parameter of `n` rows of 8 (`x: [f32; n, 8]`), with the loops of
/// [`split`] and a row loop `r` of 4.
fn rows_env() -> Env {
    let mut e = env(&[("i0", 3), ("i1", 3), ("r", 4)], &[("x", 32)]);
    e.bufs.get_mut("x").unwrap().rows = Some((Var::new("n"), 8));
    e
}

#[test]
fn d_a_row_and_a_column_prove_an_access_of_n_rows() {
    let e = rows_env();
    let row = cmp(BinOp::Lt, var("r"), var("n"));
    let index = var("r") * 8 + split();
    // The column of a split of 8 by 3 reaches 8 over the loop ranges: its
    // predicate `3·i0 + i1 < 8` (a vector's lane condition, too) keeps it
    // in the row.
    assert_eq!(proof(&e, row.clone(), "x", index.clone()), None);
    let both = row.clone().and(cmp(BinOp::Lt, split(), 8));
    assert_eq!(proof(&e, both, "x", index.clone()), Some(Proof::PredicateBounds));
    // The row guard is needed, and a column bound past the row proves nothing.
    assert_eq!(proof(&e, cmp(BinOp::Lt, split(), 8), "x", index.clone()), None);
    let past = row.and(cmp(BinOp::Lt, split(), 9));
    assert_eq!(proof(&e, past, "x", index), None);
}

#[test]
fn c_an_upper_bound_le_counts_one_more() {
    let e = split_env(&[("a", 8)]);
    assert_eq!(proof(&e, cmp(BinOp::Le, split(), 7), "a", split()), Some(Proof::PredicateBounds));
    assert_eq!(proof(&e, cmp(BinOp::Le, split(), 8), "a", split()), None);
}

#[test]
fn c_uses_each_conjunct() {
    let e = split_env(&[("a", 8)]);
    let bound = cmp(BinOp::Lt, split(), 8);
    let other = cmp(BinOp::Lt, var("j"), 5);
    assert_eq!(proof(&e, other.clone().and(bound.clone()), "a", split()), Some(Proof::PredicateBounds));
    assert_eq!(proof(&e, bound.and(other.clone()), "a", split()), Some(Proof::PredicateBounds));
    // The other conjunct alone says nothing about the index.
    assert_eq!(proof(&e, other, "a", split()), None);
}

#[test]
fn c_ignores_other_predicates() {
    // Each of these holds only where the index is in bounds, but is not a
    // constant upper bound the prover understands: not proven.
    let e = split_env(&[("a", 8)]);
    let ignored = [
        cmp(BinOp::Gt, Expr::Int(8), split()),
        cmp(BinOp::Ge, Expr::Int(7), split()),
        cmp(BinOp::Eq, split(), 7),
        cmp(BinOp::Lt, split(), var("j")),
        Expr::binary(BinOp::Or, cmp(BinOp::Lt, split(), 8), cmp(BinOp::Lt, split(), 7)),
        Expr::unary(crate::ir::UnOp::Not, cmp(BinOp::Ge, split(), 8)),
    ];
    for pred in ignored {
        assert_eq!(proof(&e, pred.clone(), "a", split()), None, "{pred}");
    }
}

#[test]
fn c_needs_the_bound_inside_the_index() {
    let e = split_env(&[("a", 8)]);
    let pred = || cmp(BinOp::Lt, split(), 8);
    // 3·i0 + 2·i1 is not a multiple of the bound plus a rest, and reaches
    // 8 at i0 = 2, i1 = 1, where the predicate holds.
    assert_eq!(proof(&e, pred(), "a", var("i0") * 3 + var("i1") * 2), None);
    // A decreasing index is not bounded above by the bound: 10 - (3·i0 + i1) is 10 at 0.
    assert_eq!(proof(&e, pred(), "a", Expr::Int(10) - split()), None);
    // 3·i0 + i1 over a bound on 2·i0 + i1 (3 is no multiple of 2): 3·2 + 2 = 8 at 2·2 + 2 < 7.
    assert_eq!(proof(&e, cmp(BinOp::Lt, var("i0") * 2 + var("i1"), 7), "a", split()), None);
    // A bound on another variable entirely.
    assert_eq!(proof(&e, cmp(BinOp::Lt, var("j"), 1), "a", split()), None);
}

/// The code of one block `out[vi] = a[load_index]` (`vi` = `i`, `i` in 0..8,
/// `a` and `out` of 8 elements), with `store_index` for the store.
fn code(store_index: Expr, load_index: Expr, opts: &CodegenOptions) -> String {
    let mut e = env(&[("i", 8)], &[("a", 8), ("out", 8)]);
    let b = block(&[("vi", var("i"), 8)], Expr::true_(), store_index, load("a", load_index));
    let mut em = Emitter::new(Isa::Scalar, opts);
    let body: TokenStream = em.stmts(&[LStmt::Block(Box::new(b))], &mut e);
    crate::codegen::pretty(&quote!(fn f() { #body }))
}

/// Whether `code` contains `pattern`, whitespace aside.
fn has(code: &str, pattern: &str) -> bool {
    let flat = |s: &str| s.split_whitespace().collect::<String>();
    flat(code).contains(&flat(pattern))
}

#[test]
fn an_unprovable_load_goes_through_checked() {
    let c = code(var("vi"), var("vi") + 1, &CodegenOptions::default());
    assert!(has(&c, "*::kiln::runtime::checked(a as *const f32, (i + 1isize), 8, \"a\""), "{c}");
    assert!(has(&c, "*out.offset(i) ="), "{c}");
    assert!(!has(&c, "checked_mut"), "{c}");
}

#[test]
fn an_unprovable_store_goes_through_checked_mut() {
    let c = code(var("vi") - 1, var("vi"), &CodegenOptions::default());
    assert!(has(&c, "*::kiln::runtime::checked_mut(out, (i - 1isize), 8, \"out\") ="), "{c}");
    assert!(has(&c, "*a.offset(i)"), "{c}");
}

#[test]
fn proven_accesses_are_unchecked_unless_every_access_is_checked() {
    let c = code(var("vi"), var("vi"), &CodegenOptions::default());
    assert!(!has(&c, "checked"), "{c}");
    let c = code(var("vi"), var("vi"), &CodegenOptions::checked());
    assert!(has(&c, "*::kiln::runtime::checked_mut(out, i, 8, \"out\") ="), "{c}");
    assert!(has(&c, "*::kiln::runtime::checked(a as *const f32, i, 8, \"a\""), "{c}");
    assert!(!has(&c, ".offset("), "{c}");
}
