//! The divider rule: exact divisions shared between the FMA pipes and the
//! divider.
//!
//! **What it does:** lets a lane loop hold `d` vectors, one of which divides
//! with the ISA's division instruction while the others take `div_by`'s
//! FMA form (a reciprocal and Markstein's correction: the same bits). Both
//! units then work at once: on Zen 4 (family 25 model 17) the divider takes 6
//! cycles per 16-lane vector without using an FMA pipe, and `div_by` 3
//! FMA-pipe operations and a range check; a row of 1000 divided in L1 ran at
//! 4.2 cycles per vector with `div_by` alone, 3.2 with every second vector on
//! the divider, 3.5 with every third (a hand-written loop). Where the divider
//! is slow for its width (Intel's `vdivps zmm`), `d = 1` is best: the share is
//! the tuner's to find per CPU.
//!
//! **When it applies:** from the elementwise rule, to a block that divides by
//! a divisor shared by the lanes (softmax's normalization, `x / Σ`), on an
//! ISA with `div_by`, unless the kernel is `#[fast_math]` (which multiplies by
//! the reciprocal instead) or the lane loop already holds a lockstep group.
//!
//! **What it samples:** `d` among 1 (every vector by FMAs: the default, the
//! best on a CPU whose divider is slow), 2, 3 and 4 that fit the loop
//! (`sample_categorical`); for `d ≥ 2` the lane loop is annotated
//! [`crate::codegen::DIVIDER`]` = d`, and the code generator sends the last
//! vector of each `d` to the divider.

use crate::ir::{BinOp, DataType, Expr, PrimFunc, Var};
use crate::schedule::primitive::annotate::{AnnArg, AnnTarget};
use crate::schedule::{LoopRV, Schedule};
use crate::target::Isa;

use super::common::choose;
use super::{Mode, SpaceError};

/// The shares: one vector in `d` on the divider (1: none).
const SHARES: [i64; 4] = [1, 2, 3, 4];

/// How many vectors the lane loop (of `extent` lanes of `value`'s type, over
/// `lane`) holds for the divider's share: sampled when the rule applies,
/// else 1.
pub(super) fn share(
    sch: &mut Schedule,
    f: &PrimFunc,
    value: &Expr,
    lane: &Var,
    (isa, extent): (Isa, i64),
    mode: &mut Mode,
) -> Result<i64, SpaceError> {
    let dt = value.dtype();
    if f.fast_math || !crate::codegen::has_div_by(isa, dt) || !divides_by_shared(value, lane, dt) {
        return Ok(1);
    }
    let lanes = isa.lanes(dt) as i64;
    let fit: Vec<i64> = SHARES.into_iter().filter(|d| d * lanes <= extent).collect();
    if fit.len() < 2 {
        return Ok(1);
    }
    Ok(choose(sch, &fit, 0, mode)?)
}

/// Annotates the lane loop `l` with the share `d` (nothing for 1).
pub(super) fn annotate(sch: &mut Schedule, l: LoopRV, d: i64) -> Result<(), SpaceError> {
    if d >= 2 {
        sch.annotate(AnnTarget::Loop(l), crate::codegen::DIVIDER, AnnArg::Int(d))?;
    }
    Ok(())
}

/// Whether `value` divides (in `dt`) a value of the lane (an expression of
/// the lane variable `lane`) by one that is not: a vector by a divisor the
/// lanes share. (`1 / √(Σ + ε)` uses no lane: the code generator computes
/// it once, in scalar code.)
fn divides_by_shared(value: &Expr, lane: &Var, dt: DataType) -> bool {
    let mut found = false;
    value.visit(&mut |e| {
        if let Expr::Binary(BinOp::Div, a, b) = e {
            found |= a.dtype() == dt && dt.is_float() && a.uses_var(lane) && !b.uses_var(lane);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Load;

    #[test]
    fn a_shared_divisor_is_found_and_a_lane_divisor_is_not() {
        let (i, j) = (Var::new("i"), Var::new("j"));
        let load =
            |buf: &str, indices: Vec<Expr>| Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices });
        let x = |a: &Var, b: &Var| load("x", vec![Expr::var(a), Expr::var(b)]);
        let s = load("s", vec![Expr::var(&i)]);
        let shared = Expr::Binary(BinOp::Div, Box::new(x(&i, &j)), Box::new(s.clone()));
        assert!(divides_by_shared(&shared, &j, DataType::F32));
        let lane = Expr::Binary(BinOp::Div, Box::new(s), Box::new(x(&i, &j)));
        assert!(!divides_by_shared(&lane, &j, DataType::F32));
        assert!(!divides_by_shared(&x(&i, &j), &j, DataType::F32));
        let scalar = Expr::Binary(
            BinOp::Div,
            Box::new(Expr::Const(crate::ir::Const::F32(1.0))),
            Box::new(load("s", vec![Expr::var(&i)])),
        );
        assert!(!divides_by_shared(&scalar, &j, DataType::F32));
    }
}
