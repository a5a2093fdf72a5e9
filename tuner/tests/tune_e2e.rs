//! A small tuning run end to end: it writes a valid trace file whose trace
//! replays to a correct program, keeps the other targets of the file, and
//! the library's `random_search` returns a correct schedule.

mod common;

use kiln_ir::schedule::testing::assert_close_results;
use kiln_ir::schedule::{DecisionMode, Schedule};
use kiln_ir::target::Isa;
use kiln_ir::tracefile::{TargetEntry, TraceFile};
use tuner::commit::Committed;
use tuner::{Task, TuneOptions};

#[test]
fn small_tuning_run_writes_a_trace_that_replays_correctly() {
    common::share_harness();
    let work = common::temp_dir("e2e");
    let func = common::small_matmul();
    let trace_path = work.join("traces").join("mm.json");
    // A file with an entry for another target, which must survive.
    let mut file = TraceFile::new(&func);
    let other = Schedule::new(func.clone(), 0).into_parts().1;
    file.targets.insert(
        "generic-scalar".into(),
        TargetEntry { trace: other, latency_us: None, gflops: None, tuned: None, note: Some("hand".into()) },
    );
    // A hand-written entry for the tuned ISA: the naive loop nest (an empty
    // trace), far slower than anything tuned, so it is replaced.
    let isa = tuner::machine::best_isa();
    let naive = TargetEntry { trace: Default::default(), latency_us: None, gflops: None, tuned: None, note: None };
    file.targets.insert(isa.target_key().into(), naive);
    std::fs::create_dir_all(trace_path.parent().unwrap()).unwrap();
    file.write(&trace_path).unwrap();

    let task = Task::with_section(&func, None, "test", trace_path.clone());
    let mut opts = TuneOptions::new(work.join("db"));
    opts.trials = 16;
    opts.per_iter = 8;
    opts.isas = vec![isa];
    opts.progress = false;
    opts.run.min_sample_us = 20.0;
    opts.run.repeats = 3;
    let reports = tuner::tune(std::slice::from_ref(&task), &opts).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.trials, 16, "{r:?}");
    assert!(r.best_us.is_some() && r.default_us.is_some(), "{r:?}");
    assert!(r.best_us.unwrap() <= r.default_us.unwrap(), "the default is a candidate too");
    match &r.committed {
        Committed::Written { note: Some(n), .. } => assert!(n.contains("replaced a hand-written entry"), "{n}"),
        other => panic!("{other:?}"),
    }

    let written = TraceFile::read(&trace_path).unwrap().expect("the trace file exists");
    assert_eq!(written.workload, task.workload);
    assert!(written.targets.contains_key("generic-scalar"), "the other target is kept");
    let class = kiln::cpu::detected_class();
    let class_entry =
        written.targets.get(&format!("{}@{class}", isa.target_key())).expect("an entry for this CPU class");
    assert_eq!(class_entry.tuned.as_ref().and_then(|p| p.cpu_class.as_deref()), Some(class));
    // The hand-written generic entry lost, so the generic entry is the tuned one too.
    let entry = written.entry(&kiln_ir::target::Target::isa(isa)).expect("an entry for the tuned ISA");
    assert_eq!(entry.trace, class_entry.trace);
    let prov = entry.tuned.as_ref().expect("provenance");
    assert_eq!(prov.trials, 16);
    assert_eq!(prov.strategy.as_deref(), Some("evolutionary"));
    assert!(entry.latency_us.unwrap() > 0.0 && entry.gflops.unwrap() > 0.0);
    let sch = Schedule::replay(&func, &entry.trace, 0, DecisionMode::Strict).expect("the trace replays");
    assert_close_results(&func, sch.func(), 1e-4);
    // The curve exists and is monotone.
    assert_eq!(r.curve.len(), 16);
    assert!(r.curve.windows(2).all(|w| w[1].1 >= w[0].1));
    let svg = tuner::report::curve_svg(r, &work.join("curves")).unwrap();
    assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
    let table = tuner::report::table(&reports);
    assert!(table.contains("mm") && table.contains("speed-up"), "{table}");

    // Tuning again with the same budget measures nothing new; the final round
    // times the finalists again (the committed trace among them).
    let again = tuner::tune(std::slice::from_ref(&task), &opts).unwrap();
    assert_eq!(again[0].new_trials, 0);
    assert_eq!(again[0].trials, 16);
    assert!(again[0].best_us.unwrap() <= again[0].default_us.unwrap());
    assert!(!matches!(again[0].committed, Committed::NotWritten(_)), "{:?}", again[0].committed);
    assert!(TraceFile::read(&trace_path).unwrap().unwrap().entry(&kiln_ir::target::Target::isa(isa)).is_some());

    // Without an entry of its own the class runs the generic one; a tuning
    // that finds nothing better still writes the class its entry (which
    // `isa_choice` compares with the class's entries of other ISAs).
    let class_key = format!("{}@{class}", isa.target_key());
    let mut file = TraceFile::read(&trace_path).unwrap().unwrap();
    file.targets.remove(&class_key);
    file.write(&trace_path).unwrap();
    let third = tuner::tune(std::slice::from_ref(&task), &opts).unwrap();
    match &third[0].committed {
        Committed::Written { note: Some(n), .. } => assert!(n.contains("the first entry for"), "{n}"),
        other => panic!("{other:?}"),
    }
    assert!(TraceFile::read(&trace_path).unwrap().unwrap().targets.contains_key(&class_key));

    // The chapter's random_search.
    let (sch, us) = tuner::random_search(&func, isa, 8, 5, &work.join("random")).unwrap();
    assert!(us > 0.0);
    assert_close_results(&func, sch.func(), 1e-4);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn an_isa_the_machine_cannot_run_is_not_tuned() {
    if tuner::machine::supports(Isa::Avx512) {
        return;
    }
    common::share_harness();
    let work = common::temp_dir("noavx512");
    let func = common::small_matmul();
    let path = work.join("traces").join("mm.json");
    let task = Task::with_section(&func, None, "test", path.clone());
    let mut opts = TuneOptions::new(work.join("db"));
    opts.isas = vec![Isa::Avx512];
    opts.progress = false;
    let reports = tuner::tune(std::slice::from_ref(&task), &opts).unwrap();
    assert!(reports.is_empty());
    assert!(!path.exists(), "no fake-tuned entry");
    let _ = std::fs::remove_dir_all(&work);
}
