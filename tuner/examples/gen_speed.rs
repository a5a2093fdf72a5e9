//! What the search's generation step and the builder's rendering cost per
//! program, by part:
//! `cargo run --release -p tuner --example gen_speed -- KERNEL [N]`.
use std::time::Instant;

use kiln_ir::target::Isa;
use rand::SeedableRng;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a.get(2).map(|s| s.parse().unwrap()).unwrap_or(100);
    let ws = tuner::discover::workspace();
    let task = tuner::discover::tasks(&ws, Some(&a[1])).unwrap().remove(0);
    let isa = Isa::Avx2;
    let opts = tuner::task::space_options(isa, 1);
    let mut progs = Vec::new();
    let t = Instant::now();
    for seed in 0..n as u64 {
        if let Ok(s) = kiln_ir::space::sample(&task.func, &opts, seed) {
            progs.push(s.into_parts());
        }
    }
    let sample = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for (f, _) in &progs {
        let _ = kiln_ir::space::check_program(f, isa);
    }
    let check = t.elapsed().as_secs_f64() / progs.len() as f64;
    let t = Instant::now();
    for (f, _) in &progs {
        std::hint::black_box(tuner::task::program_key(f, isa, 1));
    }
    let key = t.elapsed().as_secs_f64() / progs.len() as f64;
    let t = Instant::now();
    for (f, _) in &progs {
        std::hint::black_box(tuner::features::extract(f, isa));
    }
    let feat = t.elapsed().as_secs_f64() / progs.len() as f64;
    let ps: Vec<_> = (0..n as u64).filter_map(|s| task.sample(isa, 1, s).ok()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let t = Instant::now();
    let mut m = 0;
    for p in &ps {
        if tuner::mutator::mutate(&task, p, isa, 1, &mut rng).is_some() {
            m += 1;
        }
    }
    let mutate = t.elapsed().as_secs_f64() / ps.len() as f64;
    let cs: Vec<_> = ps.iter().map(|p| tuner::builder::Candidate::new(p.func.clone(), isa)).collect();
    let t = Instant::now();
    let bt = tuner::builder::BatchText::new(&task.func, &cs);
    let render = t.elapsed().as_secs_f64() / cs.len() as f64;
    std::hint::black_box(bt);
    println!("render {:.2} ms per program", render * 1e3);
    println!(
        "{}: per program: sample {:.2} ms, check {:.2} ms, key {:.2} ms, features {:.2} ms, mutate {:.2} ms ({m}/{} ok)",
        a[1],
        sample * 1e3,
        check * 1e3,
        key * 1e3,
        feat * 1e3,
        mutate * 1e3,
        ps.len()
    );
}
