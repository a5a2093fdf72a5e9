//! `sample_perfect_tile`, `sample_categorical` (primitive/sampling.rs):
//! decisions recorded and replayed (Strict, Repair, Resample), determinism per
//! seed, what mutators do (`Trace::with_decision` + replay), the tilings
//! counted, zero probabilities never drawn, and one failure per condition.

use std::collections::BTreeSet;

use kiln_ir::ir::AnnValue;
use kiln_ir::schedule::primitive::annotate::{AnnArg, AnnTarget};
use kiln_ir::schedule::primitive::sampling::{check_tile_decision, perfect_tilings};
use kiln_ir::schedule::testing::{assert_round_trips, assert_same_results, block_loops, fails, matmul, replay_fails};
use kiln_ir::schedule::{DecisionMode, ExprRV, Schedule};
use kiln_ir::trace::{parse_trace_str, Decision, Trace};

fn values(sch: &Schedule, vs: &[ExprRV]) -> Vec<i64> {
    vs.iter().map(|v| sch.get(*v).unwrap()).collect()
}

/// The chapter's `stochastic_schedule_mm`: j split by sampled factors, the
/// chapter's loop order, and the reduction decomposed.
fn stochastic_schedule_mm(sch: &mut Schedule, decision: Option<Vec<i64>>) -> Vec<i64> {
    let c = sch.get_block("C").unwrap();
    let l = sch.get_loops(c).unwrap();
    let v = sch.sample_perfect_tile(l[1], 2, 16, decision).unwrap();
    let js = sch.split(l[1], &[Some(v[0].into()), Some(v[1].into())]).unwrap();
    sch.reorder(&[l[0], js[0], l[2], js[1]]).unwrap();
    sch.decompose_reduction(c, l[2]).unwrap();
    values(sch, &v)
}

/// The decisions of a trace's sampling instructions, in order.
fn decisions(t: &Trace) -> Vec<Decision> {
    t.decisions().into_iter().map(|d| d.unwrap().clone()).collect()
}

#[test]
fn sample_perfect_tile_with_a_given_decision() {
    let func = matmul(128, 128, 128);
    let mut sch = Schedule::new(func.clone(), 0);
    assert_eq!(stochastic_schedule_mm(&mut sch, Some(vec![32, 4])), [32, 4]);
    insta::assert_snapshot!("stochastic_mm_ir", sch.func().to_string());
    insta::assert_snapshot!("stochastic_mm_trace", sch.trace().to_string());
    assert_round_trips(&func, &sch);
}

#[test]
fn sampling_changes_no_ir_and_keeps_results() {
    let func = matmul(24, 48, 18);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 5);
    let v = sch.sample_perfect_tile(l[1], 3, 8, None).unwrap();
    sch.sample_categorical(&[1, 2, 4], &[0.2, 0.3, 0.5], None).unwrap();
    assert_eq!(sch.func(), &func, "sampling does not change the IR");
    let d = values(&sch, &v);
    assert_eq!(d.iter().product::<i64>(), 48);
    assert!(d[2] <= 8, "{d:?}");
    sch.split(l[1], &[Some(v[0].into()), Some(v[1].into()), Some(v[2].into())]).unwrap();
    assert_same_results(&func, sch.func());
    assert_round_trips(&func, &sch);
}

#[test]
fn perfect_tilings_are_counted_exactly() {
    // 128 = 2^7 into 4 ordered factors: C(7 + 3, 3) = 120.
    let all = perfect_tilings(128, 4, 0);
    assert_eq!(all.len(), 120);
    // Innermost at most 16 = 2^4: Σ_{e=0..4} C(7 - e + 2, 2) = 36 + 28 + 21 + 15 + 10.
    let limited = perfect_tilings(128, 4, 16);
    assert_eq!(limited.len(), 110);
    for t in all.iter().chain(&limited) {
        assert_eq!((t.len(), t.iter().product::<i64>()), (4, 128), "{t:?}");
        check_tile_decision(128, 4, 0, t).unwrap();
    }
    assert!(limited.iter().all(|t| t[3] <= 16));
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 120, "no tiling twice");
    // 12 into 2: one per divisor; 37 (prime) into 3 with innermost <= 16: 37 sits outside.
    assert_eq!(perfect_tilings(12, 2, 0).len(), 6);
    assert_eq!(perfect_tilings(37, 3, 16), [vec![1, 37, 1], vec![37, 1, 1]]);
    assert_eq!(perfect_tilings(1, 3, 0), [vec![1, 1, 1]]);
    assert_eq!(perfect_tilings(128, 1, 0), [vec![128]]);
    assert!(perfect_tilings(128, 1, 16).is_empty());
}

#[test]
fn sampled_tiles_are_perfect_tilings() {
    let valid: BTreeSet<Vec<i64>> = perfect_tilings(96, 3, 16).into_iter().collect();
    let mut seen = BTreeSet::new();
    for seed in 0..64 {
        let (mut sch, _, l) = block_loops(matmul(4, 96, 4), "C", seed);
        let v = sch.sample_perfect_tile(l[1], 3, 16, None).unwrap();
        let d = values(&sch, &v);
        assert!(valid.contains(&d), "{d:?}");
        assert_eq!(sch.trace().insts.last().unwrap().decision, Some(Decision::Ints(d.clone())));
        seen.insert(d);
    }
    assert!(seen.len() > 10, "64 seeds drew only {} tilings", seen.len());
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let run = |seed: u64| {
        let (mut sch, _, l) = block_loops(matmul(64, 128, 32), "C", seed);
        sch.sample_perfect_tile(l[0], 4, 8, None).unwrap();
        sch.sample_perfect_tile(l[1], 2, 16, None).unwrap();
        sch.sample_categorical(&[0, 16, 64, 512], &[0.25; 4], None).unwrap();
        sch.trace().clone()
    };
    assert_eq!(run(7), run(7));
    let distinct: BTreeSet<String> = (0..8).map(|s| run(s).to_string()).collect();
    assert!(distinct.len() > 1, "eight seeds gave one schedule");
    // A trace without decisions replays like the schedule that sampled it.
    let t = run(11);
    let again = Schedule::replay(&matmul(64, 128, 32), &t.without_decisions(), 11, DecisionMode::Strict).unwrap();
    assert_eq!(again.trace(), &t);
}

#[test]
fn with_decision_changes_exactly_that_decision() {
    // What the tuner's mutators do: edit one decision of a trace, replay.
    let func = matmul(64, 128, 4);
    let (mut sch, _, l) = block_loops(func.clone(), "C", 0);
    let vi = sch.sample_perfect_tile(l[0], 2, 16, Some(vec![8, 8])).unwrap();
    let vj = sch.sample_perfect_tile(l[1], 2, 16, Some(vec![32, 4])).unwrap();
    let u = sch.sample_categorical(&[0, 16, 64], &[0.5, 0.25, 0.25], Some(1)).unwrap();
    sch.split(l[0], &[Some(vi[0].into()), Some(vi[1].into())]).unwrap();
    sch.split(l[1], &[Some(vj[0].into()), Some(vj[1].into())]).unwrap();
    let c = sch.get_block("C").unwrap();
    sch.annotate(AnnTarget::Block(c), "meta_schedule.unroll_explicit", AnnArg::Rv(u)).unwrap();
    let trace = sch.trace().clone();
    assert_eq!(trace.decision_sites(), [2, 3, 4]);

    let mutated = trace.with_decision(3, Some(Decision::Ints(vec![8, 16])));
    let again = Schedule::replay(&func, &mutated, 0, DecisionMode::Strict).unwrap();
    assert_eq!(decisions(again.trace()), [Decision::Ints(vec![8, 8]), Decision::Ints(vec![8, 16]), Decision::Int(1)]);
    assert_eq!(again.func().find_loop("j_1").unwrap().extent, 16);
    assert_eq!(again.func().find_loop("i_1").unwrap().extent, 8);
    // Only the decision's line of the printed trace differs.
    let (before, after) = (trace.to_string(), again.trace().to_string());
    let diff: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(
        diff,
        [(
            "v6, v7 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[32, 4])",
            "v6, v7 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[8, 16])"
        )]
    );
    assert_same_results(&func, again.func());

    // The categorical decision flows into the annotation.
    let mutated = trace.with_decision(4, Some(Decision::Int(2)));
    let again = Schedule::replay(&func, &mutated, 0, DecisionMode::Strict).unwrap();
    let ann = &again.func().block("C").unwrap().block.annotations;
    assert_eq!(ann.get("meta_schedule.unroll_explicit"), Some(&AnnValue::Int(64)));

    // Removing one decision resamples that one only.
    let again = Schedule::replay(&func, &trace.with_decision(2, None), 3, DecisionMode::Strict).unwrap();
    let d = decisions(again.trace());
    assert_eq!(d[1..], [Decision::Ints(vec![32, 4]), Decision::Int(1)]);
    let Decision::Ints(di) = &d[0] else { panic!() };
    check_tile_decision(64, 2, 16, di).unwrap();
}

#[test]
fn a_stale_tile_decision_is_an_error_in_strict_and_resampled_in_repair() {
    // A trace tuned for j = 128 replayed on a kernel whose j is now 96.
    let mut sch = Schedule::new(matmul(8, 128, 4), 0);
    stochastic_schedule_mm(&mut sch, Some(vec![8, 16]));
    let trace = sch.trace().clone();
    let changed = matmul(8, 96, 4);
    let (n, err) = replay_fails(&changed, &trace, "BadDecision");
    assert_eq!(n, 3);
    assert!(err.to_string().contains("factors [8, 16] multiply to 128, but the loop's extent is 96"), "{err}");

    for mode in [DecisionMode::Repair, DecisionMode::Resample] {
        let again = Schedule::replay(&changed, &trace, 4, mode).unwrap();
        let Decision::Ints(d) = &decisions(again.trace())[0] else { panic!() };
        check_tile_decision(96, 2, 16, d).unwrap();
        assert_same_results(&changed, again.func());
        // The repaired trace replays strictly.
        let strict = Schedule::replay(&changed, again.trace(), 0, DecisionMode::Strict).unwrap();
        assert_eq!(strict.func(), again.func());
    }
    // Repair keeps a decision that still fits; Resample draws anew like a trace without decisions.
    let again = Schedule::replay(&matmul(8, 128, 4), &trace, 4, DecisionMode::Repair).unwrap();
    assert_eq!(again.trace(), &trace);
    let resampled = Schedule::replay(&matmul(8, 128, 4), &trace, 4, DecisionMode::Resample).unwrap();
    let fresh = Schedule::replay(&matmul(8, 128, 4), &trace.without_decisions(), 4, DecisionMode::Strict).unwrap();
    assert_eq!(resampled.trace(), fresh.trace());
}

#[test]
fn sample_categorical_records_the_index() {
    let func = matmul(8, 8, 8);
    let mut sch = Schedule::new(func.clone(), 0);
    let v = sch.sample_categorical(&[0, 16, 64, 512], &[0.25, 0.25, 0.25, 0.25], Some(3)).unwrap();
    assert_eq!(sch.get(v).unwrap(), 512);
    let w = sch.sample_categorical(&[1, 2], &[1.0 / 3.0, 2.0 / 3.0], None).unwrap();
    assert!([1, 2].contains(&sch.get(w).unwrap()));
    insta::assert_snapshot!("categorical_trace", sch.trace().to_string());
    assert_round_trips(&func, &sch);
}

#[test]
fn zero_probabilities_are_never_drawn() {
    let probs = [0.0, 0.5, 0.0, 0.5, 0.0];
    let mut counts = [0; 5];
    for seed in 0..400 {
        let mut sch = Schedule::new(matmul(4, 4, 4), seed);
        let v = sch.sample_categorical(&[10, 11, 12, 13, 14], &probs, None).unwrap();
        counts[(sch.get(v).unwrap() - 10) as usize] += 1;
    }
    assert_eq!([counts[0], counts[2], counts[4]], [0, 0, 0], "{counts:?}");
    assert!(counts[1] > 150 && counts[3] > 150, "{counts:?}");
    // Draws follow the probabilities.
    let mut first = 0;
    for seed in 0..1000 {
        let mut sch = Schedule::new(matmul(4, 4, 4), seed);
        let v = sch.sample_categorical(&[0, 1], &[0.9, 0.1], None).unwrap();
        first += (sch.get(v).unwrap() == 0) as usize;
    }
    assert!((850..=950).contains(&first), "{first} of 1000 drew the 0.9 candidate");
    // A single positive probability is always drawn, wherever it is.
    for seed in 0..50 {
        let mut sch = Schedule::new(matmul(4, 4, 4), seed);
        let v = sch.sample_categorical(&[5, 6, 7], &[0.0, 0.0, 2.0], None).unwrap();
        let w = sch.sample_categorical(&[5, 6, 7], &[3.0, 0.0, 0.0], None).unwrap();
        assert_eq!((sch.get(v).unwrap(), sch.get(w).unwrap()), (7, 5));
    }
}

// ---- failures: sample_perfect_tile ----

#[test]
fn rejects_a_tile_count_below_one() {
    let (mut sch, _, l) = block_loops(matmul(16, 16, 16), "C", 0);
    let err = fails(&mut sch, "BadTileCount", |s| s.sample_perfect_tile(l[0], 0, 0, None));
    assert_eq!(err.to_string(), "sampling: sample_perfect_tile needs n >= 1, got 0");
    fails(&mut sch, "BadTileCount", |s| s.sample_perfect_tile(l[0], -2, 0, Some(vec![16])));
}

#[test]
fn rejects_tile_decisions_that_do_not_fit() {
    // One failure per condition of `check_tile_decision`.
    let (mut sch, _, l) = block_loops(matmul(128, 128, 128), "C", 0);
    for (decision, what) in [
        (vec![128], "1 factors for n=2"),
        (vec![-1, -128], "factors [-1, -128] must be positive"),
        (vec![8, 8], "factors [8, 8] multiply to 64, but the loop's extent is 128"),
        (vec![4, 32], "innermost factor 32 exceeds max_innermost_factor=16"),
    ] {
        let err = fails(&mut sch, "BadDecision", |s| s.sample_perfect_tile(l[1], 2, 16, Some(decision)));
        assert!(err.to_string().ends_with(what), "{err}");
    }
}

#[test]
fn rejects_a_loop_with_no_tiling() {
    // n = 1 leaves the whole extent innermost, above the limit.
    let (mut sch, _, l) = block_loops(matmul(128, 128, 128), "C", 0);
    let err = fails(&mut sch, "BadDecision", |s| s.sample_perfect_tile(l[1], 1, 16, None));
    assert!(err.to_string().contains("no tiling of 128 into 1 factors"), "{err}");
}

// ---- failures: sample_categorical ----

#[test]
fn rejects_candidates_and_probabilities_that_do_not_match() {
    let mut sch = Schedule::new(matmul(8, 8, 8), 0);
    let err = fails(&mut sch, "BadCategorical", |s| s.sample_categorical(&[1, 2, 3], &[0.5, 0.5], None));
    assert!(err.to_string().contains("got 3 candidates and 2 probabilities"), "{err}");
    fails(&mut sch, "BadCategorical", |s| s.sample_categorical(&[], &[], None));
}

#[test]
fn rejects_bad_probabilities() {
    let mut sch = Schedule::new(matmul(8, 8, 8), 0);
    for probs in [[0.5, -0.1], [f64::NAN, 1.0], [f64::INFINITY, 1.0], [0.0, 0.0]] {
        fails(&mut sch, "BadProbabilities", |s| s.sample_categorical(&[1, 2], &probs, None));
    }
}

#[test]
fn rejects_categorical_decisions_that_do_not_fit() {
    let mut sch = Schedule::new(matmul(8, 8, 8), 0);
    for d in [4, -1, 1] {
        fails(&mut sch, "BadDecision", |s| s.sample_categorical(&[1, 2, 3, 4], &[0.5, 0.0, 0.25, 0.25], Some(d)));
    }
    // Replayed: an error in Strict, resampled among the valid candidates in Repair.
    let t = parse_trace_str("v0 = sch.sample_categorical(candidates=[1, 2, 3], probs=[0.5, 0.0, 0.5], decision=1)")
        .unwrap();
    assert_eq!(replay_fails(&matmul(8, 8, 8), &t, "BadDecision").0, 1);
    for seed in 0..20 {
        let again = Schedule::replay(&matmul(8, 8, 8), &t, seed, DecisionMode::Repair).unwrap();
        let d = decisions(again.trace());
        assert!(d == [Decision::Int(0)] || d == [Decision::Int(2)], "{d:?}");
    }
}

// ---- handles and trace instructions ----

#[test]
fn malformed_sampling_instructions_are_bad_instructions() {
    let prefix = "b0 = sch.get_block(name=\"C\", func_name=\"main\")\nl1, l2, l3 = sch.get_loops(block=b0)\n";
    for line in [
        "v4, v5 = sch.sample_perfect_tile(loop=b0, n=2, max_innermost_factor=16, decision=[4, 2])",
        "v4, v5 = sch.sample_perfect_tile(loop=v1, n=2, max_innermost_factor=16, decision=[4, 2])",
        "v4, v5 = sch.sample_perfect_tile(loop=l2, n=\"2\", max_innermost_factor=16, decision=[4, 2])",
        "v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, decision=[4, 2])",
        "v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=8)",
        "v4 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[4, 2])",
        "v4 = sch.sample_categorical(candidates=[1, l2], probs=[0.5, 0.5], decision=0)",
        "v4 = sch.sample_categorical(candidates=[1, 2], probs=[0.5, \"x\"], decision=0)",
        "v4 = sch.sample_categorical(candidates=[1, 2], decision=0)",
        "v4 = sch.sample_categorical(candidates=[1, 2], probs=[0.5, 0.5], decision=[0])",
        "v4, v5 = sch.sample_categorical(candidates=[1, 2], probs=[0.5, 0.5], decision=0)",
    ] {
        let t = parse_trace_str(&format!("{prefix}{line}")).unwrap();
        let (n, err) = replay_fails(&matmul(8, 8, 8), &t, "BadInstruction");
        assert_eq!(n, 3, "{line}: {err}");
    }
    // Integer probabilities are numbers too.
    let t = parse_trace_str("v0 = sch.sample_categorical(candidates=[1, 2], probs=[1, 3], decision=1)").unwrap();
    let again = Schedule::replay(&matmul(8, 8, 8), &t, 0, DecisionMode::Strict).unwrap();
    assert_eq!(
        again.trace().to_string(),
        "v0 = sch.sample_categorical(candidates=[1, 2], probs=[1.0, 3.0], decision=1)\n"
    );
}
