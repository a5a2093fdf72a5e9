//! Runs every bundled kernel once on the ISA the runtime picks (override with
//! `KILN_ISA=scalar|avx2`), checking that outputs are finite.
//! `scripts/valgrind.sh` runs this under valgrind's memcheck.

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 211) as f32 / 211.0 - 0.5).collect()
}

fn check(name: &str, out: &[f32]) {
    assert!(out.iter().all(|x| x.is_finite()), "{name}: non-finite output");
    println!("{name:<11} ok  (first output {:+.6})", out[0]);
}

fn main() {
    println!("ISA: {}", kiln::runtime::isa());
    let mut c = vec![0f32; 128 * 128];
    kernels::matmul(&data(128 * 128), &data(128 * 128), &mut c);
    check("matmul", &c);
    let mut c = vec![0f32; 512 * 512];
    kernels::matmul512(&data(512 * 512), &data(512 * 512), &mut c);
    check("matmul512", &c);
    kernels::matmul512_t2(&data(512 * 512), &data(512 * 512), &mut c);
    check("matmul512_t2", &c);
    let mut c = vec![0f32; 100 * 37];
    kernels::matmul_odd(&data(100 * 300), &data(300 * 37), &mut c);
    check("matmul_odd", &c);
    let mut z = vec![0f32; 128];
    kernels::linear0(&data(784), &data(128 * 784), &data(128), &mut z);
    check("linear0", &z);
    let mut y = vec![0f32; 128];
    kernels::relu(&z, &mut y);
    check("relu", &y);
    let mut o = vec![0f32; 10];
    kernels::linear1(&y, &data(10 * 128), &data(10), &mut o);
    check("linear1", &o);
    let mut z = vec![0f32; 64 * 128];
    kernels::linear(&data(64 * 784), &data(128 * 784), &data(128), &mut z);
    check("linear", &z);
    let mut s = vec![0f32; 64 * 1000];
    kernels::softmax(&data(64 * 1000), &mut s);
    check("softmax", &s);
    kernels::softmax_fast(&data(64 * 1000), &mut s);
    check("softmax_fast", &s);
    let mut n = vec![0f32; 64 * 768];
    kernels::layernorm(&data(64 * 768), &data(768), &data(768), &mut n);
    check("layernorm", &n);
    let mut r = vec![0f32; 32 * 4096];
    kernels::rmsnorm(&data(32 * 4096), &data(4096), &mut r);
    check("rmsnorm", &r);
    let mut g = vec![0f32; 64 * 3072];
    kernels::gelu(&data(64 * 3072), &mut g);
    check("gelu", &g);
    kernels::gelu_fast(&data(64 * 3072), &mut g);
    check("gelu_fast", &g);
    kernels::bias_gelu(&data(64 * 3072), &data(3072), &mut g);
    check("bias_gelu", &g);
    let mut out = vec![0f32; 32 * 32 * 32];
    kernels::conv2d(&data(16 * 32 * 32), &data(32 * 16 * 9), &mut out);
    check("conv2d", &out);
}
