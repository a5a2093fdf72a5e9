fn main() {
    let n: i64 = std::env::args().nth(1).map_or(256, |s| s.parse().unwrap());
    let f = kiln_ir::schedule::testing::matmul(n, n, n);
    let mut a = kiln_ir::schedule::testing::random_args(&f, 1);
    let t = std::time::Instant::now();
    kiln_ir::interp::run(&f, &mut a).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!("{n}^3: {s:.3} s, {:.1} ns/instance", s * 1e9 / (n * n * n) as f64);
}
