//! The vectors of a short vectorized loop in lockstep.
//!
//! A vectorized loop of two to four vectors is emitted as that many copies of
//! its body. One after the other, each copy of `y = exp(x − m)` is a chain of
//! some 45 cycles of dependent FMAs that the next copy's chain cannot start
//! before the core's scheduler reaches it, and LLVM keeps the copies in source
//! order. Here, when the body calls a vector math function, every copy's
//! expression is bound step by step to `let`s and the steps are interleaved —
//! the first step of every copy, then the second — and the math calls of the
//! copies at the same step become one call of the function's lockstep form
//! (`exp_avx2_n([a0, a1, a2, a3])`, `kiln::simd::pack`), which steps
//! through the vectors together. The result is the same bits: the copies
//! compute the same operations, and the iterations of a vectorized loop are
//! independent (`legality.rs`: a lane reads only what its own lane writes),
//! so any order of the copies' steps is the loop's.
//!
//! Measured on Zen 1 (AMD EPYC family 23 model 1), `exp` over rows of 1000:
//! 0.87 ns/element one vector at a time, 0.73 four in lockstep. (LLVM's
//! scheduler puts a pack's chains one after the other again where registers
//! run short — it did inside `tanh` — unless empty `asm!` fences hold the
//! steps together: `kiln::simd`'s `Pack::fence`.) The space
//! offers the group size: the elementwise rule samples a lane-loop length of
//! 1, 2 or 4 vectors for blocks that call such a function ([`default_group`]
//! by default). AVX2 has lockstep forms of `exp`, `tanh`, `sigmoid` and `ln`
//! (and the fast forms) for any number of vectors; AVX-512 of the same for 2
//! and 4 (`kiln::simd::avx512_x2`, `_x4`: the
//! one-vector bodies expanded over packed intrinsics).

use std::cell::RefCell;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Expr, UnOp};

use super::emit::{Emitter, Env};
use super::legality::ScalarReason;
use super::lir::{LBlock, LStore};
use super::vector::{and_all, block_stores, emit_vector, every_lane_holds, split_predicate, vstore, Ctx};

/// One step of a copy: `let name = code;`, and when the step is a call of a
/// math function with a lockstep form, the call's key and argument.
pub(super) struct Step {
    name: Ident,
    code: TokenStream,
    call: Option<((UnOp, bool), TokenStream)>,
}

/// The steps of one copy, in the order its expression needs them.
pub(super) struct Steps {
    copy: usize,
    list: Vec<Step>,
}

impl Steps {
    /// Binds `code` to the copy's next `let` (a math call: with its key and
    /// argument); the name, to use in its place.
    pub(super) fn bind(sink: &RefCell<Steps>, code: TokenStream, call: Option<((UnOp, bool), TokenStream)>) -> Ident {
        let mut s = sink.borrow_mut();
        let name = format_ident!("__k{}_{}", s.copy, s.list.len());
        s.list.push(Step { name: name.clone(), code, call });
        name
    }
}

/// Whether vector code for `isa` computes `op` of `dt` vectors several at a
/// time in lockstep (the space's elementwise rule offers groups of vectors
/// where it does).
pub fn has_lockstep_form(isa: crate::target::Isa, dt: crate::ir::DataType, op: UnOp) -> bool {
    let Some(ops) = super::isa::ops(isa) else { return false };
    let h = super::isa::Helpers::new(None);
    ops.unary_group(&h, dt, op, false, &[quote!(x), quote!(y)]).is_some()
}

/// How many vectors a lane loop that calls such a function holds by default
/// on `isa`: what was measured best where it was measured. AVX2: 4 (Zen 1,
/// family 23 model 1: softmax 1.24×, gelu 1.15× over one vector at a time;
/// 2 vectors gained 7 % at most). AVX-512: 4 (Zen 4, family 25 model 17,
/// `tuner bench`, five processes of 7 rounds: gelu 100.0–101.1 µs against
/// 104.8–105.6 with 2 vectors, gelu_fast 81.1–81.7 against 86.0–86.7,
/// bias_gelu 101.2–102.4 against 109.9–115.5; 4 vectors were bimodal across
/// processes, 2 the default, until kernels aligned their frames for their
/// register spills: `Emitter::frame_alignment`), and only where whole groups
/// fill the loop ([`default_group_for`]): softmax's rows of 1000 ran
/// 21.1–22.9 µs one vector at a time, 26.6–27.7 two, 22.6–24.4 four. The
/// tuner samples 1, 2 and 4 on both.
pub fn default_group(isa: crate::target::Isa) -> i64 {
    match isa {
        crate::target::Isa::Avx2 => 4,
        crate::target::Isa::Avx512 => 4,
        _ => 1,
    }
}

/// The default group for a lane loop of `extent` with `lanes` per vector,
/// among `fit` (the sizes that fit it): the largest up to [`default_group`];
/// on AVX-512 only one whose groups divide the loop (else one vector).
pub fn default_group_for(isa: crate::target::Isa, fit: &[i64], lanes: i64, extent: i64) -> usize {
    let want = default_group(isa);
    let whole = |g: i64| isa != crate::target::Isa::Avx512 || g == 1 || extent % (g * lanes) == 0;
    fit.iter().rposition(|g| *g <= want && whole(*g)).unwrap_or(0)
}

/// Whether some block of the body calls a math function that has a lockstep
/// form on this ISA (the only case where [`emit_group`] is used).
pub(super) fn worth_grouping(em: &Emitter, blocks: &[LBlock], ctx: &Ctx) -> bool {
    let mut found = false;
    for b in blocks {
        for st in b.init.iter().map(|(_, s)| s).chain(std::iter::once(&b.store)) {
            st.value.visit(&mut |e| {
                if let Expr::Unary(op, _) = e {
                    let fast = em.fast_math && ctx.ops.unary_fast(&em.helpers, ctx.dt, *op, quote!(x)).is_some();
                    found |= ctx.ops.unary_group(&em.helpers, ctx.dt, *op, fast, &[quote!(x), quote!(y)]).is_some();
                }
            });
        }
    }
    found
}

/// The copies `ctxs` (whole vectors at consecutive bases) of `blocks`, block
/// by block, each block's copies in lockstep.
pub(super) fn emit_group(
    em: &mut Emitter,
    blocks: &[LBlock],
    ctxs: &[Ctx],
    env: &mut Env,
) -> Result<TokenStream, ScalarReason> {
    let (first, last) = (&ctxs[0], &ctxs[ctxs.len() - 1]);
    let mut out = TokenStream::new();
    for b in blocks {
        let (varying, uniform) = split_predicate(em, b, &first.x, env);
        let grouped = block_stores(em, b, env, |st| group_store(em, b, st, ctxs, env))?;
        let code = if varying.is_empty() {
            grouped
        } else {
            // Linear conditions hold on every lane of the copies iff they
            // hold on the first lane of the first and the last of the last;
            // otherwise the copies one by one, each as `emit_vector` has it.
            let end = last.xbase.clone() + (last.lanes as i64 - 1);
            let all = every_lane_holds(em, &varying, &first.x, first.xbase.clone(), end, env);
            let mut one_by_one = TokenStream::new();
            for ctx in ctxs {
                one_by_one.extend(emit_vector(em, std::slice::from_ref(b), ctx, env)?);
            }
            quote!(if #all { #grouped } else { #one_by_one })
        };
        let u = env.analyzer().simplify(&and_all(&uniform));
        out.extend(em.guarded(u, code, env));
    }
    Ok(out)
}

/// One store of every copy: the copies' steps interleaved, then the stores.
fn group_store(em: &Emitter, b: &LBlock, st: &LStore, ctxs: &[Ctx], env: &Env) -> Result<TokenStream, ScalarReason> {
    let mut copies = Vec::new();
    for (copy, ctx) in ctxs.iter().enumerate() {
        let sink = RefCell::new(Steps { copy, list: Vec::new() });
        let c = Ctx { lets: Some(&sink), x: ctx.x.clone(), xbase: ctx.xbase.clone(), partial: None, ..*ctx };
        let store = vstore(em, b, st, &c, env)?;
        copies.push((sink.into_inner().list, store));
    }
    let mut out = TokenStream::new();
    let n = copies[0].0.len();
    if copies.iter().any(|(steps, _)| steps.len() != n) {
        // Copies that differ in shape (an index that simplified differently):
        // one after the other.
        for (steps, store) in copies {
            for Step { name, code, .. } in steps {
                out.extend(quote!(let #name = #code;));
            }
            out.extend(store);
        }
        return Ok(out);
    }
    let ops = ctxs[0].ops;
    for p in 0..n {
        let key = copies[0].0[p].call.as_ref().map(|(k, _)| *k);
        let same_call = key.is_some() && copies.iter().all(|(s, _)| s[p].call.as_ref().map(|(k, _)| *k) == key);
        if let (true, Some((op, fast))) = (same_call, key) {
            let args: Vec<TokenStream> = copies.iter().map(|(s, _)| s[p].call.as_ref().unwrap().1.clone()).collect();
            if let Some(call) = ops.unary_group(&em.helpers, ctxs[0].dt, op, fast, &args) {
                let names = copies.iter().map(|(s, _)| &s[p].name);
                out.extend(quote!(let [#(#names),*] = #call;));
                continue;
            }
        }
        for (steps, _) in &copies {
            let Step { name, code, .. } = &steps[p];
            out.extend(quote!(let #name = #code;));
        }
    }
    for (_, store) in copies {
        out.extend(store);
    }
    Ok(out)
}

#[cfg(test)]
mod default_group_tests {
    use super::default_group_for;
    use crate::target::Isa;

    #[test]
    fn avx512_groups_only_where_whole_groups_fill_the_loop() {
        let fit = [1, 2, 4];
        // gelu's rows of 3072: four vectors of 16; softmax's 1000: one; a row of
        // 96 (three groups of two, not whole groups of four): two.
        assert_eq!(fit[default_group_for(Isa::Avx512, &fit, 16, 3072)], 4);
        assert_eq!(fit[default_group_for(Isa::Avx512, &fit, 16, 1000)], 1);
        assert_eq!(fit[default_group_for(Isa::Avx512, &fit, 16, 96)], 2);
        // AVX2 keeps four vectors, whole groups or not (measured on Zen 1).
        assert_eq!(fit[default_group_for(Isa::Avx2, &fit, 8, 1000)], 4);
        assert_eq!(fit[default_group_for(Isa::Avx2, &[1, 2], 8, 24)], 2);
        assert_eq!(default_group_for(Isa::Scalar, &fit, 1, 1000), 0);
    }
}
