//! How the vector math is measured (tests only): the error of a result in
//! ulps of the exact value (`f64` math stands for the exact value), over every
//! `f32` bit pattern or over a dense stride of them, plus the values where
//! functions usually go wrong.

/// `|got − want|` in ulps of `want` rounded to `f32` (the ulp of a subnormal
/// is 2^-149; a NaN must match a NaN, an infinity the infinity `want`
/// rounds to).
pub fn ulps(got: f32, want: f64) -> f64 {
    if want.is_nan() || got.is_nan() {
        return if want.is_nan() && got.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if got.is_infinite() || want.is_infinite() {
        return if want as f32 == got { 0.0 } else { f64::INFINITY };
    }
    let e = if want == 0.0 { -126 } else { (want.abs().log2().floor() as i32).clamp(-126, 127) };
    (got as f64 - want).abs() / 2f64.powi(e - 23)
}

/// ±0, ±∞, NaN, the smallest and largest subnormals and normals, ±1.
pub fn special_values() -> Vec<f32> {
    let mut v = vec![0.0, f32::INFINITY, f32::NAN, 1.0, f32::MIN_POSITIVE, f32::MAX, f32::from_bits(1)];
    v.push(f32::from_bits(0x007f_ffff));
    v.extend(v.clone().into_iter().map(|x| -x));
    v
}

/// The worst error of `f` (8 lanes at a time) against `want`, and where,
/// over the bit patterns `0, stride, 2·stride, ..` (both signs: every float
/// when `stride` is 1), the special values and `extra`; on two threads.
pub fn worst(
    stride: u32,
    f: impl Fn(&[f32; 8]) -> [f32; 8] + Sync,
    want: impl Fn(f64) -> f64 + Sync,
    extra: &[f32],
) -> (f64, f32) {
    let part = |lo: u64, hi: u64| {
        let mut w = (0.0f64, 0.0f32);
        let mut check = |xs: &[f32; 8]| {
            for (y, x) in f(xs).iter().zip(xs) {
                let e = ulps(*y, want(*x as f64));
                if e > w.0 || e.is_nan() {
                    w = (e, *x);
                }
            }
        };
        let mut xs = [0f32; 8];
        let mut k = 0;
        let mut b = lo;
        while b < hi {
            xs[k] = f32::from_bits(b as u32);
            k += 1;
            if k == 8 {
                check(&xs);
                k = 0;
            }
            b += stride as u64;
        }
        if k > 0 {
            check(&xs);
        }
        w
    };
    let mid = (1u64 << 32) / 2 / stride as u64 * stride as u64;
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| part(mid, 1 << 32));
        (part(0, mid), h.join().unwrap())
    });
    let mut w = if b.0 > a.0 { b } else { a };
    let mut special = special_values();
    special.extend_from_slice(extra);
    for chunk in special.chunks(8) {
        let mut xs = [0f32; 8];
        xs[..chunk.len()].copy_from_slice(chunk);
        for (y, x) in f(&xs).iter().zip(xs) {
            let e = ulps(*y, want(x as f64));
            if e > w.0 {
                w = (e, x);
            }
        }
    }
    w
}

/// An AVX2 function as a function of 8 floats.
#[cfg(target_arch = "x86_64")]
pub fn lanes(
    f: unsafe fn(std::arch::x86_64::__m256) -> std::arch::x86_64::__m256,
) -> impl Fn(&[f32; 8]) -> [f32; 8] + Sync {
    use std::arch::x86_64::*;
    move |xs| {
        let mut out = [0f32; 8];
        // SAFETY: callers check that the CPU has AVX2 and FMA.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), f(_mm256_loadu_ps(xs.as_ptr()))) };
        out
    }
}

/// Whether the CPU runs the AVX2 functions (else the tests say so and pass).
pub fn avx2() -> bool {
    let ok = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    if !ok {
        eprintln!("no AVX2+FMA: skipped");
    }
    ok
}

/// The stride of the default tests (a prime: 17 million floats of every
/// binade and sign); `KILN_ULP_STRIDE=1` checks every float.
pub fn stride() -> u32 {
    std::env::var("KILN_ULP_STRIDE").ok().and_then(|s| s.parse().ok()).unwrap_or(251)
}
