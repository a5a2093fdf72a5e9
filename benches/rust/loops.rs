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
                *o = v * wj * inv;
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
