//! Sampling: `sample_perfect_tile` and `sample_categorical`.
//!
//! A sampling instruction draws from the schedule's seeded RNG, or takes the
//! decision it is given, and records the decision in the trace. Mutators only
//! ever change decisions and replay. (`sample_compute_location` lives with
//! `compute_at`, whose legality it depends on.)

use rand::Rng;

use super::{DecisionMode, RvMap};
use crate::schedule::error::family_error;
use crate::schedule::{ExprRV, LoopRV, Schedule, ScheduleError};
use crate::trace::{Arg, Decision, InstKind, Instruction, Rv};

family_error! { SamplingError, "sampling",
    /// `n` is smaller than 1.
    BadTileCount { n: i64 } => "sample_perfect_tile needs n >= 1, got {n}",
    /// Candidates and probabilities differ in length or are empty.
    BadCategorical { candidates: usize, probs: usize } =>
        "sample_categorical needs as many probabilities as candidates (at least one), got {candidates} candidates and {probs} probabilities",
    /// A negative or non-finite probability, or all zero.
    BadProbabilities { probs: String } => "sample_categorical probabilities {probs} must be non-negative, finite and not all zero",
}

/// Every way to write `extent` as an ordered product of `n` factors whose
/// innermost factor is at most `max_innermost` (0: no limit).
pub fn perfect_tilings(extent: i64, n: usize, max_innermost: i64) -> Vec<Vec<i64>> {
    fn go(rest: i64, left: usize, cur: &mut Vec<i64>, max_inner: i64, out: &mut Vec<Vec<i64>>) {
        if left == 1 {
            if max_inner <= 0 || rest <= max_inner {
                cur.push(rest);
                out.push(cur.clone());
                cur.pop();
            }
            return;
        }
        for d in 1..=rest {
            if rest % d == 0 {
                cur.push(d);
                go(rest / d, left - 1, cur, max_inner, out);
                cur.pop();
            }
        }
    }
    let mut out = Vec::new();
    go(extent, n, &mut Vec::new(), max_innermost, &mut out);
    out
}

/// Checks a perfect-tile decision against the loop it tiles.
///
/// Conditions: 1. `n` factors; 2. all positive; 3. their product is the
/// extent; 4. the innermost is at most `max_innermost` (when positive).
pub fn check_tile_decision(extent: i64, n: usize, max_innermost: i64, d: &[i64]) -> Result<(), String> {
    if d.len() != n {
        return Err(format!("{} factors for n={n}", d.len()));
    }
    if d.iter().any(|f| *f <= 0) {
        return Err(format!("factors {d:?} must be positive"));
    }
    let p: i64 = d.iter().product();
    if p != extent {
        return Err(format!("factors {d:?} multiply to {p}, but the loop's extent is {extent}"));
    }
    if max_innermost > 0 && d[n - 1] > max_innermost {
        return Err(format!("innermost factor {} exceeds max_innermost_factor={max_innermost}", d[n - 1]));
    }
    Ok(())
}

impl Schedule {
    /// Samples `n` factors whose product is `loop_`'s extent (innermost at most
    /// `max_innermost_factor`, 0 for no limit), or takes `decision`.
    pub fn sample_perfect_tile(
        &mut self,
        loop_: LoopRV,
        n: i64,
        max_innermost_factor: i64,
        decision: Option<Vec<i64>>,
    ) -> Result<Vec<ExprRV>, ScheduleError> {
        self.sample_perfect_tile_mode(loop_, n, max_innermost_factor, decision, DecisionMode::Strict)
    }

    pub(crate) fn sample_perfect_tile_mode(
        &mut self,
        loop_: LoopRV,
        n: i64,
        max_innermost_factor: i64,
        decision: Option<Vec<i64>>,
        mode: DecisionMode,
    ) -> Result<Vec<ExprRV>, ScheduleError> {
        let var = self.loop_name(loop_)?;
        if n < 1 {
            return Err(SamplingError::BadTileCount { n }.into());
        }
        let extent = self.func().find_loop(&var).unwrap().extent;
        let mut inst = Instruction::new(InstKind::SamplePerfectTile)
            .arg("loop", Arg::Rv(loop_.rv()))
            .arg("n", Arg::Int(n))
            .arg("max_innermost_factor", Arg::Int(max_innermost_factor));
        let chosen = match decision.filter(|_| mode != DecisionMode::Resample) {
            Some(d) => match check_tile_decision(extent, n as usize, max_innermost_factor, &d) {
                Ok(()) => d,
                Err(what) if mode == DecisionMode::Strict => {
                    return Err(ScheduleError::BadDecision {
                        instruction: crate::trace::print_inst_for_error(&inst),
                        what,
                    })
                }
                Err(_) => self.draw_tile(extent, n as usize, max_innermost_factor, &inst)?,
            },
            None => self.draw_tile(extent, n as usize, max_innermost_factor, &inst)?,
        };
        let outs: Vec<ExprRV> = chosen.iter().map(|v| self.new_expr_rv(*v)).collect();
        inst.outputs = outs.iter().map(|v| v.rv()).collect();
        inst.decision = Some(Decision::Ints(chosen));
        self.record(inst);
        Ok(outs)
    }

    fn draw_tile(
        &mut self,
        extent: i64,
        n: usize,
        max_inner: i64,
        inst: &Instruction,
    ) -> Result<Vec<i64>, ScheduleError> {
        let all = perfect_tilings(extent, n, max_inner);
        if all.is_empty() {
            return Err(ScheduleError::BadDecision {
                instruction: crate::trace::print_inst_for_error(inst),
                what: format!("no tiling of {extent} into {n} factors has an innermost factor <= {max_inner}"),
            });
        }
        let k = self.rng().gen_range(0..all.len());
        Ok(all[k].clone())
    }

    /// Samples one of `candidates` with probabilities `probs`, or takes the
    /// candidate index `decision`.
    pub fn sample_categorical(
        &mut self,
        candidates: &[i64],
        probs: &[f64],
        decision: Option<i64>,
    ) -> Result<ExprRV, ScheduleError> {
        self.sample_categorical_mode(candidates, probs, decision, DecisionMode::Strict)
    }

    pub(crate) fn sample_categorical_mode(
        &mut self,
        candidates: &[i64],
        probs: &[f64],
        decision: Option<i64>,
        mode: DecisionMode,
    ) -> Result<ExprRV, ScheduleError> {
        if candidates.is_empty() || candidates.len() != probs.len() {
            return Err(SamplingError::BadCategorical { candidates: candidates.len(), probs: probs.len() }.into());
        }
        if probs.iter().any(|p| !p.is_finite() || *p < 0.0) || probs.iter().sum::<f64>() <= 0.0 {
            return Err(SamplingError::BadProbabilities { probs: format!("{probs:?}") }.into());
        }
        let mut inst = Instruction::new(InstKind::SampleCategorical)
            .arg("candidates", Arg::List(candidates.iter().map(|c| Arg::Int(*c)).collect()))
            .arg("probs", Arg::List(probs.iter().map(|p| Arg::Float(*p)).collect()));
        let valid = |d: i64| d >= 0 && (d as usize) < candidates.len() && probs[d as usize] > 0.0;
        let idx = match decision.filter(|_| mode != DecisionMode::Resample) {
            Some(d) if valid(d) => d,
            Some(d) if mode == DecisionMode::Strict => {
                return Err(ScheduleError::BadDecision {
                    instruction: crate::trace::print_inst_for_error(&inst),
                    what: format!(
                        "index {d} is not a candidate with non-zero probability (there are {})",
                        candidates.len()
                    ),
                })
            }
            _ => {
                let total: f64 = probs.iter().sum();
                let mut x = self.rng().gen_range(0.0..total);
                let mut pick = probs.len() - 1;
                for (i, p) in probs.iter().enumerate() {
                    if x < *p {
                        pick = i;
                        break;
                    }
                    x -= p;
                }
                while probs[pick] == 0.0 {
                    pick -= 1;
                }
                pick as i64
            }
        };
        let out = self.new_expr_rv(candidates[idx as usize]);
        inst.outputs = vec![out.rv()];
        inst.decision = Some(Decision::Int(idx));
        self.record(inst);
        Ok(out)
    }
}

pub(super) fn replay(
    sch: &mut Schedule,
    inst: &Instruction,
    map: &RvMap,
    mode: DecisionMode,
) -> Result<Vec<Rv>, ScheduleError> {
    if inst.kind == InstKind::SamplePerfectTile {
        let l = map.loop_(map.arg(inst, "loop")?)?;
        let n = map.int(inst, "n")?;
        let max_inner = map.int(inst, "max_innermost_factor")?;
        let decision = match &inst.decision {
            None => None,
            Some(Decision::Ints(v)) => Some(v.clone()),
            Some(Decision::Int(_)) => return Err(map.err("the decision of sample_perfect_tile is a list")),
        };
        let outs = sch.sample_perfect_tile_mode(l, n, max_inner, decision, mode)?;
        return Ok(outs.into_iter().map(|v| v.rv()).collect());
    }
    let ints = |name: &str| -> Result<Vec<i64>, ScheduleError> {
        map.arg(inst, name)?
            .as_list()
            .and_then(|v| v.iter().map(|a| a.as_int()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| map.err(format!("`{name}` must be a list of integers")))
    };
    let candidates = ints("candidates")?;
    let probs: Vec<f64> = map
        .arg(inst, "probs")?
        .as_list()
        .and_then(|v| {
            v.iter()
                .map(|a| match a {
                    Arg::Float(f) => Some(*f),
                    Arg::Int(i) => Some(*i as f64),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| map.err("`probs` must be a list of numbers"))?;
    let decision = match &inst.decision {
        None => None,
        Some(Decision::Int(v)) => Some(*v),
        Some(Decision::Ints(_)) => return Err(map.err("the decision of sample_categorical is an integer")),
    };
    Ok(vec![sch.sample_categorical_mode(&candidates, &probs, decision, mode)?.rv()])
}
