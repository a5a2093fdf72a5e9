//! `split`: one loop into several nested loops.
//!
//! ```text
//! for i in range(128):            l0, l1 = sch.split(loop=l, factors=[None, 4])
//!     B(vi = i)            ==>    for i_0, i_1 in T.grid(32, 4):
//!                                     B(vi = i_0 * 4 + i_1)
//! ```
//! At most one factor may be `None` (inferred as the ceiling quotient). When
//! the factors' product exceeds the extent, every block under the loop gets
//! the predicate `i_0 * f + i_1 < extent`.

use super::RvMap;
use crate::ir::{Expr, For, Stmt, Var};
use crate::schedule::analysis::{normalize, replace_loop};
use crate::schedule::error::family_error;
use crate::schedule::{Factor, LoopRV, RvValue, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { SplitError, "split",
    /// More than one factor is `None`.
    SeveralInferred { loop_: String } =>
        "at most one factor of the split of `{loop_}` may be None",
    /// A factor is zero or negative.
    NonPositiveFactor { loop_: String, factor: i64 } =>
        "factor {factor} of the split of `{loop_}` is not positive",
    /// The factors cover less than the loop.
    ProductTooSmall { loop_: String, product: i64, extent: i64 } =>
        "the factors of the split of `{loop_}` multiply to {product}, less than its extent {extent}",
    /// Fewer than two factors.
    TooFewFactors { loop_: String } =>
        "splitting `{loop_}` needs at least two factors",
    /// The factors' product does not fit in an `i64`.
    ProductTooLarge { loop_: String } =>
        "the factors of the split of `{loop_}` multiply to more than i64::MAX",
}

/// Checks the factors of a split of loop `var` with extent `extent` and
/// returns them with the inferred one filled in.
///
/// Conditions: 1. at least two factors; 2. at most one `None`; 3. every given
/// factor is positive; 4. the product covers the extent; 5. the product fits
/// in an `i64`.
pub fn check_split(var: &str, extent: i64, factors: &[Option<i64>]) -> Result<Vec<i64>, SplitError> {
    let loop_ = var.to_string();
    if factors.len() < 2 {
        return Err(SplitError::TooFewFactors { loop_ });
    }
    if factors.iter().filter(|f| f.is_none()).count() > 1 {
        return Err(SplitError::SeveralInferred { loop_ });
    }
    if let Some(bad) = factors.iter().flatten().find(|f| **f <= 0) {
        return Err(SplitError::NonPositiveFactor { loop_, factor: *bad });
    }
    let Some(known) = checked_product(factors.iter().flatten()) else {
        return Err(SplitError::ProductTooLarge { loop_ });
    };
    // The ceiling of extent / known (extent >= 1), without overflowing.
    let filled: Vec<i64> = factors.iter().map(|f| f.unwrap_or((extent - 1) / known + 1)).collect();
    let Some(product) = checked_product(filled.iter()) else {
        return Err(SplitError::ProductTooLarge { loop_ });
    };
    if product < extent {
        return Err(SplitError::ProductTooSmall { loop_, product, extent });
    }
    Ok(filled)
}

fn checked_product<'a>(mut fs: impl Iterator<Item = &'a i64>) -> Option<i64> {
    fs.try_fold(1i64, |p, f| p.checked_mul(*f))
}

/// Splits loop `var` by `factors` (already checked); returns the new function
/// and the new loop variables, outermost first.
pub fn apply_split(func: &crate::ir::PrimFunc, var: &str, factors: &[i64]) -> (crate::ir::PrimFunc, Vec<String>) {
    let mut names = func.names();
    let new_vars: Vec<Var> = (0..factors.len())
        .map(|k| {
            let n = crate::ir::fresh_in(&names, &format!("{var}_{k}"));
            names.insert(n.clone());
            Var::new(&n)
        })
        .collect();
    let out = replace_loop(func, var, |l: For| {
        // i = ((i_0 * f1 + i_1) * f2 + i_2) ...
        let mut fused: Expr = Expr::var(&new_vars[0]);
        for (v, f) in new_vars.iter().zip(factors).skip(1) {
            fused = fused * *f + Expr::var(v);
        }
        let covers_exactly = factors.iter().product::<i64>() == l.extent;
        let old = l.var.clone();
        let body = l.body.map_blocks(&mut |mut br| {
            if br.bindings.iter().any(|b| b.uses_var(&old)) || br.predicate.uses_var(&old) {
                let sub = |v: &Var| (v == &old).then(|| fused.clone());
                br.bindings = br.bindings.iter().map(|b| b.substitute(&sub)).collect();
                br.predicate = br.predicate.substitute(&sub);
            }
            if !covers_exactly {
                br.predicate = br.predicate.clone().and(fused.clone().lt(l.extent));
            }
            br
        });
        let mut stmt = body;
        for (v, f) in new_vars.iter().zip(factors).rev() {
            stmt = Stmt::For(Box::new(For::new(v.clone(), *f, stmt)));
        }
        stmt
    })
    .expect("the loop exists");
    (normalize(out), new_vars.iter().map(|v| v.name().to_string()).collect())
}

impl Schedule {
    /// Splits `loop_` into `factors.len()` nested loops; at most one factor may
    /// be `None` and is then inferred.
    pub fn split(&mut self, loop_: LoopRV, factors: &[Option<Factor>]) -> Result<Vec<LoopRV>, ScheduleError> {
        let var = self.loop_name(loop_)?;
        let values: Vec<Option<i64>> = factors.iter().map(|f| self.factor_value(*f)).collect::<Result<_, _>>()?;
        let extent = self.func().find_loop(&var).expect("live loop").extent;
        let filled = check_split(&var, extent, &values)?;
        let (func, new_vars) = apply_split(self.func(), &var, &filled);
        self.commit(func, "split");
        let loops: Vec<LoopRV> = new_vars.into_iter().map(|v| self.new_loop_rv(RvValue::Loop(v))).collect();
        let factor_args = factors
            .iter()
            .map(|f| match f {
                None => Arg::None,
                Some(Factor::Int(v)) => Arg::Int(*v),
                Some(Factor::Rv(r)) => Arg::Rv(r.rv()),
            })
            .collect();
        self.record(Instruction {
            outputs: loops.iter().map(|l| l.rv()).collect(),
            ..Instruction::new(InstKind::Split)
                .arg("loop", Arg::Rv(loop_.rv()))
                .arg("factors", Arg::List(factor_args))
                .arg("preserve_unit_iters", Arg::Bool(true))
        });
        Ok(loops)
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let l = map.loop_(map.arg(inst, "loop")?)?;
    let items = map.arg(inst, "factors")?.as_list().ok_or_else(|| map.err("`factors` must be a list"))?;
    let factors: Vec<Option<Factor>> = items
        .iter()
        .map(|a| match a {
            Arg::None => Ok(None),
            Arg::Int(v) => Ok(Some(Factor::Int(*v))),
            Arg::Rv(_) => map.expr(a).map(|e| Some(Factor::Rv(e))),
            _ => Err(map.err("a factor is None, an integer or a sampled value")),
        })
        .collect::<Result<_, _>>()?;
    Ok(sch.split(l, &factors)?.into_iter().map(|l| l.rv()).collect())
}
