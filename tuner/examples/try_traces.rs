//! Times hand-written traces of a kernel side by side with its default and
//! committed programs (one executable, one runner process):
//! `cargo run --release -p tuner --example try_traces -- KERNEL THREADS FILE...`
//! where each FILE holds a trace in the chapter's text form (`ISA=avx512`
//! for another ISA than AVX2). With `REGEN=1` each FILE's decisions are
//! replayed through the space's rules (`kiln_ir::space::regenerate`), so a
//! decision can be edited without rewriting the steps that follow it.
use kiln_ir::target::{Isa, Target};
use tuner::task::Program;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let ws = tuner::discover::workspace();
    let task = tuner::discover::tasks(&ws, Some(&a[1])).unwrap().remove(0);
    let threads: usize = a[2].parse().unwrap();
    let isa = std::env::var("ISA").ok().and_then(|s| Isa::from_name(&s)).unwrap_or(Isa::Avx2);
    let mut progs: Vec<(String, Program)> = vec![("default".into(), task.default_program(isa, threads).unwrap())];
    if std::env::var_os("SHOW_DEFAULT").is_some() {
        println!("{}", progs[0].1.trace);
    }
    if let Ok(c) = task.committed_program(&Target::cpu(isa, kiln::cpu::class()), threads) {
        progs.push(("committed".into(), c));
    }
    for f in &a[3..] {
        let text = std::fs::read_to_string(f).unwrap();
        let trace = kiln_ir::trace::parse_trace_str(&text).unwrap();
        if std::env::var_os("REGEN").is_some() {
            let ds: Vec<_> = trace.decisions().into_iter().map(|d| d.cloned()).collect();
            let opts = tuner::task::space_options(isa, threads);
            match kiln_ir::space::regenerate(&task.func, &opts, &ds, 0) {
                Ok(sch) => {
                    println!("{f}:\n{}", sch.trace());
                    progs.push((f.clone(), task.program(sch, isa, threads)));
                }
                Err(e) => eprintln!("{f}: {e}"),
            }
            continue;
        }
        match task.replay(&trace, isa, threads) {
            Ok(p) => progs.push((f.clone(), p)),
            Err(e) => eprintln!("{f}: {e}"),
        }
    }
    let dir = ws.work_dir(None);
    let tc = tuner::builder::prepare(&dir).unwrap();
    let data = tuner::runner::kernel_data(&task.func, &dir).unwrap();
    let run = tuner::options::run_options(None);
    let ps: Vec<Program> = progs.iter().map(|(_, p)| p.clone()).collect();
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for round in 0..rounds {
        let t = tuner::confirm::time_together(&tc, &task.func, &ps, isa, &data, &run, &format!("try-{}", a[1]));
        for (name, p) in &progs {
            let us = t.get(&p.key).copied();
            let g = us.map(|u| tuner::task::gflops(task.flops, u));
            println!("round {round} {name:<40} {us:>10.3?} µs {g:>6.1?} GFLOP/s");
        }
    }
}
