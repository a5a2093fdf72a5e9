//! Candidate generation is deterministic for a seed and the same
//! measurements; mutators give valid, distinct programs that change one
//! decision and compute the same result.

mod common;

use std::collections::BTreeSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use kiln_ir::schedule::testing::assert_close_results;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::Isa;
use tuner::cost_model::CostModel;
use tuner::mutator::{mutate, sites, MutatorKind};
use tuner::search::{Context, StrategyKind};
use tuner::{features, Program, Task};

fn task() -> Task {
    Task::with_section(&common::small_matmul(), None, "test", "unused.json".into())
}

/// Fake "measurements": a deterministic throughput per program.
fn fake_gflops(p: &Program) -> f64 {
    (kiln_ir::tracefile::fnv1a64(&p.key) % 1000) as f64 / 10.0
}

/// Runs `iters` iterations of a strategy against fake measurements and
/// returns the keys it proposed, in order.
fn proposals(kind: StrategyKind, seed: u64, iters: usize) -> Vec<String> {
    let task = task();
    let isa = Isa::Avx2;
    let mut strategy = kind.build(seed);
    let mut model = CostModel::new(8);
    let mut measured = BTreeSet::new();
    let mut best: Vec<(Program, f64)> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..iters {
        let ctx = Context { task: &task, isa, threads: 1, measured: &measured, best: &best, model: &model };
        let cands = strategy.generate(&ctx, 8);
        assert!(!cands.is_empty());
        for p in cands {
            assert!(measured.insert(p.key.clone()), "a measured program was proposed again");
            let g = fake_gflops(&p);
            model.add("g", features::extract(&p.func, isa), g);
            out.push(p.key.clone());
            best.push((p, g));
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        model.train();
    }
    out
}

#[test]
fn same_seed_and_measurements_give_the_same_candidates() {
    for kind in [StrategyKind::Random, StrategyKind::Evolutionary] {
        let a = proposals(kind, 42, 3);
        let b = proposals(kind, 42, 3);
        assert_eq!(a, b, "{kind:?}");
        assert_eq!(a.len(), 24);
        let c = proposals(kind, 43, 3);
        assert_ne!(a, c, "{kind:?}: another seed gives other candidates");
    }
}

#[test]
fn mutators_give_valid_distinct_programs() {
    let task = task();
    let isa = Isa::Avx2;
    let func = &task.func;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut checked = 0;
    for seed in 0..12 {
        let parent = task.sample(isa, 1, seed).unwrap();
        let parent_sites = sites(&parent.trace);
        assert!(parent_sites.iter().any(|(_, k)| *k == MutatorKind::TileSize));
        for _ in 0..4 {
            let Some(child) = mutate(&task, &parent, isa, 1, &mut rng) else { continue };
            assert_ne!(child.key, parent.key);
            // One decision was mutated; others differ only where they are
            // derived from it (the cache-blocking plan's tiles follow its
            // categoricals), and the trace has as many decisions or more
            // (a plan switched on adds its own).
            let (a, b) = (parent.trace.decisions(), child.trace.decisions());
            assert!(a.iter().zip(&b).any(|(x, y)| x != y) || a.len() != b.len());
            // The child's trace replays strictly to the same program.
            let again = Schedule::replay(func, &child.trace, 0, DecisionMode::Strict).unwrap();
            assert_eq!(tuner::task::program_key(again.func(), isa, 1), child.key);
            kiln_ir::space::check_program(&child.func, isa).unwrap();
            // And computes what the kernel computes.
            if checked < 6 {
                assert_close_results(func, &child.func, 1e-4);
                checked += 1;
            }
        }
    }
    assert!(checked >= 6);
}

#[test]
fn register_tiles_that_spill_are_rejected() {
    let task = task();
    // Every sample the space gives fits in the registers.
    for seed in 0..20 {
        if let Ok(p) = task.sample(Isa::Avx2, 1, seed) {
            assert!(kiln_ir::space::register_use(&p.func, Isa::Avx2).needed() <= 16);
        }
    }
    let d = task.default_program(Isa::Avx2, 1).unwrap();
    // 40 columns = 5 vectors, which no tile width (<= 2 by default) divides:
    // the whole row of 5 vectors at the tile's third level, by 2 rows (the
    // most whose 2 x 5 accumulators and 5 operands fit 16 registers).
    assert_eq!(kiln_ir::space::register_use(&d.func, Isa::Avx2).accumulators, 2, "the default 2-row tile");
    let text = d.trace.to_string();
    assert!(text.contains("decision=[1, 1, 5, 1]"), "{text}");
    assert!(text.contains("decision=[16, 1, 1, 2]"), "{text}");
    assert_eq!(features::extract(&d.func, Isa::Avx2).len(), features::COUNT);
}

#[test]
fn custom_spaces_are_resampled_and_their_categorical_decisions_mutated() {
    // The chapter's stochastic_schedule_mm, plus a categorical choice of the i split.
    let space: proc_macro2::TokenStream = r#"
        b0 = sch.get_block(name="C", func_name="main")
        l1, l2, l3 = sch.get_loops(block=b0)
        v4 = sch.sample_categorical(candidates=[1, 2, 4, 8], probs=[0.25, 0.25, 0.25, 0.25])
        l5, l6 = sch.split(loop=l1, factors=[None, v4], preserve_unit_iters=True)
        v7, v8 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16)
        l9, l10 = sch.split(loop=l2, factors=[v7, v8], preserve_unit_iters=True)
        sch.reorder(l5, l9, l3, l6, l10)
        b11 = sch.decompose_reduction(block=b0, loop=l3)
    "#
    .parse()
    .unwrap();
    let func = common::small_matmul();
    let section = kiln_ir::trace::parse_trace(space).unwrap().0;
    let task = Task::with_section(&func, Some(section.clone()), "test", "unused.json".into());
    let isa = Isa::Avx2;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut categorical = 0;
    let mut keys = BTreeSet::new();
    for seed in 0..16 {
        let p = task.sample(isa, 1, seed).unwrap();
        assert!(p.trace.decisions().iter().all(|d| d.is_some()), "every decision is recorded");
        keys.insert(p.key.clone());
        for _ in 0..6 {
            let Some(c) = mutate(&task, &p, isa, 1, &mut rng) else { continue };
            let again = Schedule::replay(&func, &c.trace, 0, DecisionMode::Strict).unwrap();
            assert_eq!(tuner::task::program_key(again.func(), isa, 1), c.key);
            categorical += usize::from(c.trace.decisions()[0] != p.trace.decisions()[0]);
        }
    }
    assert!(keys.len() > 4, "samples differ: {}", keys.len());
    assert!(categorical > 0, "the categorical decision is mutated");
    // The default of a custom space is the macro's: the section replayed with seed 0.
    let d = task.default_program(isa, 1).unwrap();
    let sources = kiln_ir::program::Sources {
        func: func.clone(),
        section: Some(section),
        trace_path: "unused.json".into(),
        file: None,
    };
    let macro_default = sources.program(&kiln_ir::target::Target::isa(isa)).unwrap();
    assert_eq!(tuner::task::program_key(&macro_default.func, isa, 1), d.key);
    assert!(task_space_trace(&task).decisions().iter().all(|d| d.is_none()), "the space has no decisions");
}

fn task_space_trace(task: &Task) -> kiln_ir::trace::Trace {
    match &task.space {
        tuner::task::Space::Custom(t) => t.clone(),
        tuner::task::Space::Rules => panic!("a custom space"),
    }
}
