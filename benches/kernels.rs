//! Criterion benchmarks of the bundled kernels, side by side in one run:
//! the unscheduled loop nest (`naive`), the default schedule (`default`), the
//! committed traces (`tuned`, what `kernels::*` runs; `tuned_fast` in the
//! `softmax` and `gelu` groups: `softmax_fast`, `gelu_fast`, the same kernels
//! under `#[fast_math]`), the naive C loop
//! compiled with `-O3 -march=native` (`c_o3`), and — where the kernel is a
//! matrix product — the Rust BLAS crates `matrixmultiply` and `faer`.
//!
//! The memory-bound groups (`softmax`, `rmsnorm`, `layernorm`, `gelu`, `bias_gelu`) also
//! time the plain Rust loops of `mod loops` below (`rust`, compiled for
//! AVX2+FMA when the CPU has them) and count their throughput in output
//! elements, so that criterion's `thrpt` reads as elements per second
//! (ns/element = 10⁹ / that). The other groups count FLOP.
//!
//! `cargo bench --bench kernels` (add `-- matmul` to run one group;
//! `matmul512_t2` runs kiln, faer and matrixmultiply on two threads). Compare
//! medians within one run: the machine is shared and noisy.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

extern "C" {
    fn c_matmul(a: *const f32, b: *const f32, c: *mut f32, m: i32, n: i32, k: i32);
    fn c_linear(x: *const f32, w: *const f32, b: *const f32, z: *mut f32, m: i32, n: i32, k: i32);
    fn c_softmax(x: *const f32, y: *mut f32, rows: i32, cols: i32);
    fn c_rmsnorm(x: *const f32, w: *const f32, y: *mut f32, rows: i32, cols: i32);
    fn c_layernorm(x: *const f32, g: *const f32, b: *const f32, y: *mut f32, rows: i32, cols: i32);
    fn c_gelu(x: *const f32, y: *mut f32, n: i32);
    fn c_bias_gelu(x: *const f32, b: *const f32, y: *mut f32, rows: i32, cols: i32);
    fn c_conv2d(data: *const f32, weight: *const f32, out: *mut f32, cin: i32, cout: i32, h: i32, w: i32);
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// C[m×n] = A[m×k]·B[k×n] with matrixmultiply.
fn mm_matrixmultiply(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// C[m×n] = A[m×k]·B[k×n] with faer (row-major views).
fn mm_faer(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize, par: faer::Par) {
    let a = faer::MatRef::from_row_major_slice(a, m, k);
    let b = faer::MatRef::from_row_major_slice(b, k, n);
    let c = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0f32, par);
}

/// Z[m×n] = X[m×k]·W[n×k]ᵀ + b with faer.
fn linear_faer(x: &[f32], w: &[f32], bias: &[f32], z: &mut [f32], m: usize, n: usize, k: usize) {
    let xm = faer::MatRef::from_row_major_slice(x, m, k);
    let wm = faer::MatRef::from_row_major_slice(w, n, k);
    for i in 0..m {
        z[i * n..(i + 1) * n].copy_from_slice(bias);
    }
    let zm = faer::MatMut::from_row_major_slice_mut(z, m, n);
    faer::linalg::matmul::matmul(zm, faer::Accum::Add, xm, wm.transpose(), 1.0f32, faer::Par::Seq);
}

/// Z[m×n] = X[m×k]·W[n×k]ᵀ + b with matrixmultiply (Wᵀ as strides).
fn linear_matrixmultiply(x: &[f32], w: &[f32], bias: &[f32], z: &mut [f32], m: usize, n: usize, k: usize) {
    for i in 0..m {
        z[i * n..(i + 1) * n].copy_from_slice(bias);
    }
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            x.as_ptr(),
            k as isize,
            1,
            w.as_ptr(),
            1,
            k as isize,
            1.0,
            z.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

type Mm = fn(&[f32], &[f32], &mut [f32]);

/// A matrix-product group: `tuned` (the committed traces), `default` (no
/// trace), the peers, and (for the small shapes) `naive` and `c_o3`.
fn matmul_group(c: &mut Criterion, name: &str, (m, n, k): (usize, usize, usize), kiln: [Mm; 3], small: bool) {
    let (a, b) = (data(m * k, 1), data(k * n, 2));
    let mut out = vec![0f32; m * n];
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements((2 * m * n * k) as u64));
    let [naive_f, default_f, tuned] = kiln;
    if small {
        g.bench_function("naive", |bch| bch.iter(|| naive_f(black_box(&a), black_box(&b), &mut out)));
    }
    g.bench_function("default", |bch| bch.iter(|| default_f(black_box(&a), black_box(&b), &mut out)));
    g.bench_function("tuned", |bch| bch.iter(|| tuned(black_box(&a), black_box(&b), &mut out)));
    if small {
        g.bench_function("c_o3", |bch| {
            bch.iter(|| unsafe { c_matmul(a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), m as i32, n as i32, k as i32) })
        });
    }
    g.bench_function("matrixmultiply", |bch| bch.iter(|| mm_matrixmultiply(&a, &b, &mut out, m, n, k)));
    g.bench_function("faer", |bch| bch.iter(|| mm_faer(&a, &b, &mut out, m, n, k, faer::Par::Seq)));
    g.finish();
}

/// 512³ on two threads: kiln's trace tuned for two threads, faer on a
/// two-thread rayon pool, matrixmultiply on two halves of the rows (each
/// half one `sgemm` call on its own thread: its threading feature would make
/// every other group multithreaded too).
fn matmul512_t2(c: &mut Criterion) {
    const N: usize = 512;
    let (a, b) = (data(N * N, 1), data(N * N, 2));
    let mut out = vec![0f32; N * N];
    let mut g = c.benchmark_group("matmul512_t2");
    g.throughput(Throughput::Elements((2 * N * N * N) as u64));
    g.bench_function("default", |bch| bch.iter(|| default::matmul512_t2(black_box(&a), black_box(&b), &mut out)));
    g.bench_function("tuned", |bch| bch.iter(|| kernels::matmul512_t2(black_box(&a), black_box(&b), &mut out)));
    g.bench_function("matrixmultiply", |bch| {
        bch.iter(|| {
            let (top, bottom) = out.split_at_mut(N * N / 2);
            let (a0, a1) = a.split_at(N * N / 2);
            std::thread::scope(|s| {
                s.spawn(|| mm_matrixmultiply(a0, &b, top, N / 2, N, N));
                mm_matrixmultiply(a1, &b, bottom, N / 2, N, N);
            });
        })
    });
    g.bench_function("faer", |bch| bch.iter(|| mm_faer(&a, &b, &mut out, N, N, N, faer::Par::rayon(2))));
    g.finish();
}

fn matmuls(c: &mut Criterion) {
    let mm: [Mm; 3] = [naive::matmul, default::matmul, kernels::matmul];
    matmul_group(c, "matmul", (128, 128, 128), mm, true);
    let odd: [Mm; 3] = [naive::matmul_odd, default::matmul_odd, kernels::matmul_odd];
    matmul_group(c, "matmul_odd", (100, 37, 300), odd, true);
    let big: [Mm; 3] = [naive::matmul512, default::matmul512, kernels::matmul512];
    matmul_group(c, "matmul512", (512, 512, 512), big, false);
    matmul512_t2(c);
}

type Linear = fn(&[f32], &[f32], &[f32], &mut [f32]);

/// `prepacked`: the kernel's entry taking `W` packed once ahead of time
/// (`pack_w`, outside the timing), as inference code calls it, as `x, w, bias, z`.
type Prepacked<'a> = Option<&'a dyn Fn(&[f32], &[f32], &[f32], &mut [f32])>;

fn linear_group(
    c: &mut Criterion,
    name: &str,
    (m, n, k): (usize, usize, usize),
    fs: [Linear; 3],
    prepacked: Prepacked,
) {
    let (x, w, bias) = (data(m * k, 3), data(n * k, 4), data(n, 5));
    let mut z = vec![0f32; m * n];
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements((2 * m * n * k) as u64));
    for (label, f) in ["naive", "default", "tuned"].into_iter().zip(fs) {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), black_box(&w), black_box(&bias), &mut z)));
    }
    if let Some(f) = prepacked {
        g.bench_function("tuned_prepacked", |bch| bch.iter(|| f(black_box(&x), &w, black_box(&bias), &mut z)));
    }
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe {
            c_linear(x.as_ptr(), w.as_ptr(), bias.as_ptr(), z.as_mut_ptr(), m as i32, n as i32, k as i32)
        })
    });
    g.bench_function("matrixmultiply", |bch| bch.iter(|| linear_matrixmultiply(&x, &w, &bias, &mut z, m, n, k)));
    g.bench_function("faer", |bch| bch.iter(|| linear_faer(&x, &w, &bias, &mut z, m, n, k)));
    g.finish();
}

fn linears(c: &mut Criterion) {
    linear_group(c, "linear0", (1, 128, 784), [naive::linear0, default::linear0, kernels::linear0], None);
    // W packed once (its data is the group's: `data(n * k, 4)`).
    let packed = kernels::linear::pack_w(&data(128 * 784, 4));
    let prepacked = |x: &[f32], _w: &[f32], b: &[f32], z: &mut [f32]| kernels::linear::with_packed_w(x, &packed, b, z);
    let fs = [naive::linear, default::linear, kernels::linear];
    linear_group(c, "linear", (64, 128, 784), fs, Some(&prepacked));
    linear_sym(c);
}

/// `linear_sym` (one kernel for every batch size, tuned at 64) next to the
/// fixed-shape kernels at their sizes (`linear0` at 1, `linear` at 64) and
/// faer: `batch<n>/sym` against `batch<n>/fixed` is the price of a symbolic
/// batch.
fn linear_sym(c: &mut Criterion) {
    let (n, k) = (128, 784);
    let (w, bias) = (data(n * k, 4), data(n, 5));
    let mut g = c.benchmark_group("linear_sym");
    for m in [1usize, 7, 64, 100] {
        let x = data(m * k, 3);
        let mut z = vec![0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(BenchmarkId::new("sym", m), |bch| {
            bch.iter(|| kernels::linear_sym(black_box(&x), black_box(&w), black_box(&bias), &mut z))
        });
        let fixed: Option<Linear> = match m {
            1 => Some(kernels::linear0),
            64 => Some(kernels::linear),
            _ => None,
        };
        if let Some(f) = fixed {
            g.bench_function(BenchmarkId::new("fixed", m), |bch| {
                bch.iter(|| f(black_box(&x), black_box(&w), black_box(&bias), &mut z))
            });
        }
        g.bench_function(BenchmarkId::new("faer", m), |bch| bch.iter(|| linear_faer(&x, &w, &bias, &mut z, m, n, k)));
    }
    g.finish();
}

mod loops {
    //! The plain Rust loops the memory-bound benchmarks compare against: the
    //! obvious scalar loops a Rust programmer writes without kiln (the same
    //! loops as `benches/c/kernels.c`), in safe Rust over slices.
    //!
    //! Each one is compiled twice: as written (for a CPU without AVX2) and as an
    //! `unsafe fn` with `#[target_feature(enable = "avx2,fma")]`, which is what
    //! building with `-C target-cpu=native` gives on the development machine (Zen
    //! 1: AVX2 and FMA, no AVX-512), without changing how the rest of the bench
    //! is built. The public function calls the AVX2+FMA copy only when the CPU
    //! has both (`is_x86_feature_detected!`, cached by std). What the compiler
    //! vectorizes on its own is what these measure: it does not reassociate the
    //! floating-point sums, and `exp` and `tanh` are calls into libm.

    /// Defines `pub fn $name(..)` running `$body` compiled for AVX2+FMA when the
    /// CPU has them, and for the baseline target otherwise.
    macro_rules! native_loop {
        ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
            $(#[$doc])*
            pub fn $name($($arg: $ty),*) {
                #[inline(always)]
                fn body($($arg: $ty),*) $body

                #[cfg(target_arch = "x86_64")]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2_fma($($arg: $ty),*) {
                    body($($arg),*)
                }

                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `avx2_fma` is compiled for.
                    return unsafe { avx2_fma($($arg),*) };
                }
                body($($arg),*)
            }
        };
    }

    native_loop! {
        /// Row-wise softmax of `x` (`rows × cols`) into `y`: max, exp and sum, divide.
        fn softmax(x: &[f32], y: &mut [f32], cols: usize) {
            for (r, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                let max = r.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
                let mut sum = 0.0f32;
                for (o, v) in out.iter_mut().zip(r) {
                    *o = (v - max).exp();
                    sum += *o;
                }
                for o in out.iter_mut() {
                    *o /= sum;
                }
            }
        }
    }

    native_loop! {
        /// RMSNorm: `y[i, j] = x[i, j]·w[j] / √(mean_k x[i, k]² + 1e-6)`, rows of `w.len()`.
        fn rmsnorm(x: &[f32], w: &[f32], y: &mut [f32]) {
            let cols = w.len();
            for (r, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                let sum: f32 = r.iter().map(|v| v * v).sum();
                let inv = 1.0 / (sum / cols as f32 + 1e-6).sqrt();
                for ((o, v), wj) in out.iter_mut().zip(r).zip(w) {
                    *o = v * inv * wj;
                }
            }
        }
    }

    native_loop! {
        /// LayerNorm: `y[i, j] = (x[i, j] − μᵢ) / √(σᵢ² + 1e-5)·γ[j] + β[j]`, rows of `g.len()`.
        fn layernorm(x: &[f32], g: &[f32], b: &[f32], y: &mut [f32]) {
            let cols = g.len();
            for (r, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                let mean = r.iter().sum::<f32>() / cols as f32;
                let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
                let sd = (var + 1e-5).sqrt();
                for (((o, v), gj), bj) in out.iter_mut().zip(r).zip(g).zip(b) {
                    *o = (v - mean) / sd * gj + bj;
                }
            }
        }
    }

    /// GELU, tanh form: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    #[inline(always)]
    pub fn gelu1(x: f32) -> f32 {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
    }

    native_loop! {
        /// `y = gelu(x)`, elementwise.
        fn gelu(x: &[f32], y: &mut [f32]) {
            for (o, v) in y.iter_mut().zip(x) {
                *o = gelu1(*v);
            }
        }
    }

    native_loop! {
        /// `y[i, j] = gelu(x[i, j] + b[j])`, rows of `b.len()`.
        fn bias_gelu(x: &[f32], b: &[f32], y: &mut [f32]) {
            for (r, out) in x.chunks_exact(b.len()).zip(y.chunks_exact_mut(b.len())) {
                for ((o, v), bj) in out.iter_mut().zip(r).zip(b) {
                    *o = gelu1(v + bj);
                }
            }
        }
    }
}

/// `want` and `got` agree within `tol` relative to the largest `|want|`
/// (the baselines are checked once before they are timed).
fn assert_agree(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}: element {k} is {g}, want {w}");
    }
}

/// A memory-bound group: its throughput counts the `elements` of the output.
fn elements_group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(elements as u64));
    g
}

/// Softmax (64×1000), RMSNorm (32×4096), LayerNorm (64×768), GELU and bias + GELU (64×3072):
/// kiln's variants where the language can express the kernel, the plain
/// Rust loop and the C loop.
fn memory_bound(c: &mut Criterion) {
    type Unary = fn(&[f32], &mut [f32]);
    type Binary = fn(&[f32], &[f32], &mut [f32]);

    let (rows, cols) = (64, 1000);
    let x = data(rows * cols, 6);
    let mut y = vec![0f32; rows * cols];
    let mut want = vec![0f32; rows * cols];
    kernels::softmax(&x, &mut want);
    loops::softmax(&x, &mut y, cols);
    assert_agree("softmax rust", &y, &want, 1e-5);
    unsafe { c_softmax(x.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) };
    assert_agree("softmax c_o3", &y, &want, 1e-5);
    kernels::softmax_fast(&x, &mut y);
    assert_agree("softmax_fast", &y, &want, 1e-5);
    let mut g = elements_group(c, "softmax", rows * cols);
    let variants = [
        ("naive", naive::softmax as Unary),
        ("default", default::softmax),
        ("tuned", kernels::softmax),
        ("tuned_fast", kernels::softmax_fast),
    ];
    for (label, f) in variants {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), &mut y)));
    }
    g.bench_function("rust", |bch| bch.iter(|| loops::softmax(black_box(&x), &mut y, cols)));
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe { c_softmax(black_box(x.as_ptr()), y.as_mut_ptr(), rows as i32, cols as i32) })
    });
    g.finish();

    // `tuned` is `kernels::rmsnorm`: the default schedule until a trace is committed.
    let (rows, cols) = (32, 4096);
    let (x, w) = (data(rows * cols, 9), data(cols, 10));
    let mut y = vec![0f32; rows * cols];
    let mut want = vec![0f32; rows * cols];
    kernels::rmsnorm(&x, &w, &mut want);
    loops::rmsnorm(&x, &w, &mut y);
    assert_agree("rmsnorm rust", &y, &want, 1e-5);
    unsafe { c_rmsnorm(x.as_ptr(), w.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) };
    assert_agree("rmsnorm c_o3", &y, &want, 1e-5);
    let mut g = elements_group(c, "rmsnorm", rows * cols);
    for (label, f) in [("naive", naive::rmsnorm as Binary), ("default", default::rmsnorm), ("tuned", kernels::rmsnorm)]
    {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), black_box(&w), &mut y)));
    }
    g.bench_function("rust", |bch| bch.iter(|| loops::rmsnorm(black_box(&x), black_box(&w), &mut y)));
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe { c_rmsnorm(black_box(x.as_ptr()), w.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) })
    });
    g.finish();

    // LayerNorm (64×768, BERT-base's hidden size).
    type Ternary = fn(&[f32], &[f32], &[f32], &mut [f32]);
    let (rows, cols) = (64, 768);
    let (x, gm, bt) = (data(rows * cols, 11), data(cols, 12), data(cols, 13));
    let mut y = vec![0f32; rows * cols];
    let mut want = vec![0f32; rows * cols];
    kernels::layernorm(&x, &gm, &bt, &mut want);
    loops::layernorm(&x, &gm, &bt, &mut y);
    assert_agree("layernorm rust", &y, &want, 1e-5);
    unsafe { c_layernorm(x.as_ptr(), gm.as_ptr(), bt.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) };
    assert_agree("layernorm c_o3", &y, &want, 1e-5);
    let mut g = elements_group(c, "layernorm", rows * cols);
    let variants =
        [("naive", naive::layernorm as Ternary), ("default", default::layernorm), ("tuned", kernels::layernorm)];
    for (label, f) in variants {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), black_box(&gm), black_box(&bt), &mut y)));
    }
    g.bench_function("rust", |bch| {
        bch.iter(|| loops::layernorm(black_box(&x), black_box(&gm), black_box(&bt), &mut y))
    });
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe {
            c_layernorm(black_box(x.as_ptr()), gm.as_ptr(), bt.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32)
        })
    });
    g.finish();

    // GELU over inputs in [-3, 3], where tanh is neither linear nor saturated.
    let (rows, cols) = (64, 3072);
    let x: Vec<f32> = data(rows * cols, 11).into_iter().map(|v| 3.0 * v).collect();
    let b: Vec<f32> = data(cols, 12);
    let mut y = vec![0f32; rows * cols];
    let want: Vec<f32> = x.iter().map(|v| gelu_f64(f64::from(*v)) as f32).collect();
    loops::gelu(&x, &mut y);
    assert_agree("gelu rust", &y, &want, 1e-6);
    unsafe { c_gelu(x.as_ptr(), y.as_mut_ptr(), (rows * cols) as i32) };
    assert_agree("gelu c_o3", &y, &want, 1e-6);
    kernels::gelu(&x, &mut y);
    assert_agree("gelu kiln", &y, &want, 1e-6);
    kernels::gelu_fast(&x, &mut y);
    assert_agree("gelu_fast kiln", &y, &want, 1e-6);
    let mut g = elements_group(c, "gelu", rows * cols);
    let variants = [
        ("naive", naive::gelu as Unary),
        ("default", default::gelu),
        ("tuned", kernels::gelu),
        ("tuned_fast", kernels::gelu_fast),
    ];
    for (label, f) in variants {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), &mut y)));
    }
    g.bench_function("rust", |bch| bch.iter(|| loops::gelu(black_box(&x), &mut y)));
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe { c_gelu(black_box(x.as_ptr()), y.as_mut_ptr(), (rows * cols) as i32) })
    });
    g.finish();

    let want: Vec<f32> =
        x.iter().enumerate().map(|(k, v)| gelu_f64(f64::from(*v) + f64::from(b[k % cols])) as f32).collect();
    loops::bias_gelu(&x, &b, &mut y);
    assert_agree("bias_gelu rust", &y, &want, 1e-6);
    unsafe { c_bias_gelu(x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) };
    assert_agree("bias_gelu c_o3", &y, &want, 1e-6);
    kernels::bias_gelu(&x, &b, &mut y);
    assert_agree("bias_gelu kiln", &y, &want, 1e-6);
    let mut g = elements_group(c, "bias_gelu", rows * cols);
    for (label, f) in
        [("naive", naive::bias_gelu as Binary), ("default", default::bias_gelu), ("tuned", kernels::bias_gelu)]
    {
        g.bench_function(label, |bch| bch.iter(|| f(black_box(&x), black_box(&b), &mut y)));
    }
    g.bench_function("rust", |bch| bch.iter(|| loops::bias_gelu(black_box(&x), black_box(&b), &mut y)));
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe { c_bias_gelu(black_box(x.as_ptr()), b.as_ptr(), y.as_mut_ptr(), rows as i32, cols as i32) })
    });
    g.finish();
}

/// GELU (tanh form) in f64, the reference the GELU baselines are checked against.
fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

fn others(c: &mut Criterion) {
    let (d, wt) = (data(16 * 32 * 32, 7), data(32 * 16 * 9, 8));
    let mut out = vec![0f32; 32 * 32 * 32];
    let mut g = c.benchmark_group("conv2d");
    g.throughput(Throughput::Elements(2 * 32 * 32 * 32 * 16 * 9));
    type Conv = fn(&[f32], &[f32], &mut [f32]);
    for (label, f) in [("naive", naive::conv2d as Conv), ("default", default::conv2d), ("tuned", kernels::conv2d)] {
        g.bench_with_input(BenchmarkId::from_parameter(label), &label, |bch, _| {
            bch.iter(|| f(black_box(&d), black_box(&wt), &mut out))
        });
    }
    g.bench_function("c_o3", |bch| {
        bch.iter(|| unsafe { c_conv2d(d.as_ptr(), wt.as_ptr(), out.as_mut_ptr(), 16, 32, 32, 32) })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(2));
    targets = matmuls, linears, memory_bound, others
}
criterion_main!(benches);
