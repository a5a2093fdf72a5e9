//! The `#[fast_math]` forms of `exp`, `tanh` and `sigmoid`, 8 and 16 lanes:
//! fewer steps than the exact forms, a few ulp instead of one.
//!
//! - `exp_fast`: [`exp`](super::exp)'s scheme with a polynomial of degree 5
//!   instead of 6 (`e^r = 1 + r·q(r)`, `q` of degree 4, fitted here for the
//!   relative error of `e^r` on `|r| ≤ ln2/2` with coefficients rounded to
//!   `f32`: approximation error 0.8·2^-23). (With `ln 2` as one constant in
//!   the reduction, one FMA less, the error grows with the result's exponent
//!   to 5.2 ulp near `e^85`: not taken.) A vector with a lane beyond `±87`
//!   or NaN takes an edge path as the exact form does (clamped, scaled in two
//!   steps), so infinities, NaN, overflow and subnormal results behave as in
//!   [`exp_avx2`](super::exp_avx2). One FMA fewer than `exp`.
//! - `sigmoid_fast`: with `F = exp_fast(−|x|)` (never overflows),
//!   `F/(1 + F)` for `x < 0` and `1 − F/(1 + F)` otherwise: the exact form
//!   without its split of `F` into two parts and its Newton correction.
//! - `tanh_fast`: below `|x| = 0.5` the odd polynomial `x + x·z·q(z)`,
//!   `z = x²`, with `q` of degree 3 (fitted here on `[0, 0.5]`: 0.13·2^-23)
//!   instead of degree 7 on `[0, 1]`; from 0.5 on `1 − 2/(e^(2|x|) + 1)` with
//!   `exp_fast`; the sign of `x`. Six FMAs fewer than `tanh`.
//!
//! **Maximum errors** against `f64`, measured over every `f32`
//! (`KILN_ULP_STRIDE=1`; by default the tests below check every 251st bit
//! pattern and the edges): `exp_fast` 2.02 ulp (2.018), `sigmoid_fast`
//! 3.50 ulp (3.491), `tanh_fast` 2.87 ulp (2.869). The AVX-512 bodies
//! are macros like the exact forms' ([`crate::simd::avx512_bodies`]) and
//! compute the same bits as the AVX2 forms (`vscalefps` instead of the edge
//! path).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::exp::{exp_n, reduce_n, scale_avx2, EXP_HI, EXP_LO};
#[cfg(target_arch = "x86_64")]
use super::pack::Pack;

/// `q` of `e^r = 1 + r·q(r)` for `exp_fast`, highest degree first.
pub const EXP_FAST_POLY: [f32; 5] = [8.290_314e-3, 4.189_793e-2, 0.166_676_36, 0.499_991_5, 0.999_999_7];
/// `q` of `tanh x = x + x·z·q(z)` on `|x| < TANH_FAST_SPLIT`, highest degree first.
pub const TANH_FAST_POLY: [f32; 4] = [0.017_241_493, -0.053_045_496, 0.133_258_79, -0.333_331_44];
/// Where `tanh_fast`'s polynomial hands over to the exponential.
pub const TANH_FAST_SPLIT: f32 = 0.5;

/// `(t, r, q)` of `e^x = 2^n·(1 + r·q)` (`t`: the biased sum holding `n`).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn reduce_fast_avx2(x: __m256) -> (__m256, __m256, __m256) {
    let (t, r, q) = reduce_n(Pack([x]), &EXP_FAST_POLY);
    (t.0[0], r.0[0], q.0[0])
}

/// `exp` of 8 lanes, within 2.02 ulp (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_fast_avx2(x: __m256) -> __m256 {
    exp_fast_avx2_n([x])[0]
}

/// [`exp_fast_avx2`] of `K` vectors in lockstep (`Pack`): the same bits.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_fast_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    exp_n(Pack(x), &EXP_FAST_POLY, exp_fast_avx2_edge).0
}

/// [`exp_fast_avx2`] of a vector with a lane beyond `±87` or NaN: as
/// [`exp`](super::exp)'s edge path, with the fast polynomial (each lane's
/// result does not depend on the others').
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_fast_avx2_edge(x: __m256) -> __m256 {
    let x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), _mm256_min_ps(_mm256_set1_ps(EXP_HI), x));
    let (t, r, q) = reduce_fast_avx2(x);
    scale_avx2(_mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0)), t)
}

/// `sigmoid` of 8 lanes, within 3.50 ulp (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sigmoid_fast_avx2(x: __m256) -> __m256 {
    sigmoid_fast_avx2_n([x])[0]
}

/// [`sigmoid_fast_avx2`] of `K` vectors in lockstep (`Pack`): the same bits.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sigmoid_fast_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    let x = Pack(x);
    let one = Pack::splat(1.0);
    let f = exp_n(x.neg_abs(), &EXP_FAST_POLY, exp_fast_avx2_edge);
    let y = f.div(one.add(f));
    one.sub(y).blend(y, x.below_zero()).0
}

/// `tanh` of 8 lanes, within 2.87 ulp (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tanh_fast_avx2(x: __m256) -> __m256 {
    tanh_fast_avx2_n([x])[0]
}

/// [`tanh_fast_avx2`] of `K` vectors in lockstep (`Pack`): the same bits.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tanh_fast_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    super::tanh::tanh_n(Pack(x), &TANH_FAST_POLY, TANH_FAST_SPLIT, &EXP_FAST_POLY).0
}

/// The body of [`exp_fast_avx512`].
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_exp_fast_avx512 {
    ($x:expr) => {{
        use $crate::simd::exp::{EXP_HI, EXP_LO};
        let x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), _mm512_min_ps(_mm512_set1_ps(EXP_HI), $x));
        let (n, r, q) = $crate::__kiln_exp_reduce_avx512!(poly x, $crate::simd::fast::EXP_FAST_POLY);
        _mm512_scalef_ps(_mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0)), n)
    }};
}

/// The body of [`sigmoid_fast_avx512`].
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_sigmoid_fast_avx512 {
    ($x:expr) => {{
        let x = $x;
        let one = _mm512_set1_ps(1.0);
        let f = $crate::__kiln_exp_fast_avx512!(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
        let y = _mm512_div_ps(f, _mm512_add_ps(one, f));
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps()), _mm512_sub_ps(one, y), y)
    }};
}

/// The body of [`tanh_fast_avx512`].
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_tanh_fast_avx512 {
    ($x:expr) => {{
        use $crate::simd::fast::{TANH_FAST_POLY, TANH_FAST_SPLIT};
        use $crate::simd::tanh::TANH_CLAMP;
        let x = $x;
        let one = _mm512_set1_ps(1.0);
        let a = _mm512_abs_ps(x);
        let z = _mm512_mul_ps(a, a);
        let mut q = _mm512_set1_ps(TANH_FAST_POLY[0]);
        for c in &TANH_FAST_POLY[1..] {
            q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(*c));
        }
        let small = _mm512_fmadd_ps(_mm512_mul_ps(a, z), q, a);
        let a2 = _mm512_min_ps(_mm512_set1_ps(TANH_CLAMP), a);
        let (n, r, q) = $crate::__kiln_exp_reduce_avx512!(double a2, $crate::simd::fast::EXP_FAST_POLY);
        let e = _mm512_scalef_ps(_mm512_fmadd_ps(q, r, one), n);
        let large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(e, one)));
        let y =
            _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, _mm512_set1_ps(TANH_FAST_SPLIT)), small, large);
        let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(y), sign))
    }};
}

/// `exp_fast` of 16 lanes: [`exp_fast_avx2`]'s results, with `vscalefps`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn exp_fast_avx512(x: __m512) -> __m512 {
    crate::__kiln_exp_fast_avx512!(x)
}

/// `sigmoid_fast` of 16 lanes: [`sigmoid_fast_avx2`]'s results.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn sigmoid_fast_avx512(x: __m512) -> __m512 {
    crate::__kiln_sigmoid_fast_avx512!(x)
}

/// `tanh_fast` of 16 lanes: [`tanh_fast_avx2`]'s results.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn tanh_fast_avx512(x: __m512) -> __m512 {
    crate::__kiln_tanh_fast_avx512!(x)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::simd::ulp::{avx2, lanes, stride, worst};

    #[test]
    fn exp_fast_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [88.722_83, -87.336_55, -103.972_08, -87.0, 87.0, -86.9, 86.9, -0.346_573_6, 0.346_573_6];
        let (err, at) = worst(stride(), lanes(exp_fast_avx2), f64::exp, &edges);
        eprintln!("exp_fast_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 2.02, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn sigmoid_fast_avx2_max_error() {
        if !avx2() {
            return;
        }
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let edges = [-87.0, -87.5, -88.0, -103.3, -104.0, 16.6, 17.4, 87.5];
        let (err, at) = worst(stride(), lanes(sigmoid_fast_avx2), sigmoid, &edges);
        eprintln!("sigmoid_fast_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 3.50, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn tanh_fast_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [0.5, 0.499_999_97, 1.0, 9.01, 9.02, 9.1, 1e-20, -1e-38];
        let (err, at) = worst(stride(), lanes(tanh_fast_avx2), f64::tanh, &edges);
        eprintln!("tanh_fast_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 2.87, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn fast_special_values() {
        if !avx2() {
            return;
        }
        let x = [f32::NEG_INFINITY, -100.0, f32::NAN, 0.0, -0.0, 1e-40, 100.0, f32::INFINITY];
        let e = lanes(exp_fast_avx2)(&x);
        assert_eq!((e[0], e[1], e[3], e[4], e[5]), (0.0, (-100f64).exp() as f32, 1.0, 1.0, 1.0));
        assert!(e[2].is_nan());
        assert_eq!(&e[6..], &[f32::INFINITY, f32::INFINITY]);
        let t = lanes(tanh_fast_avx2)(&x);
        assert_eq!((t[0], t[1], t[6], t[7]), (-1.0, -1.0, 1.0, 1.0));
        assert!(t[2].is_nan());
        assert_eq!((t[3].to_bits(), t[4].to_bits(), t[5]), (0.0f32.to_bits(), (-0.0f32).to_bits(), 1e-40));
        let s = lanes(sigmoid_fast_avx2)(&x);
        assert_eq!((s[0], s[3], s[4], s[6], s[7]), (0.0, 0.5, 0.5, 1.0, 1.0));
        assert!(s[1] > 0.0 && s[1] < 1e-43);
        assert!(s[2].is_nan());
    }
}
/// The fast and exact forms side by side, one function at a time over 64000
/// floats in L2 (`cargo test --release -p kiln-runtime fast_forms_throughput
/// -- --ignored --nocapture`).
#[cfg(all(test, target_arch = "x86_64"))]
mod throughput {
    use std::arch::x86_64::*;
    macro_rules! run {
        ($name:ident, $f:path) => {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn $name(xs: &[f32], ys: &mut [f32]) {
                for c in (0..xs.len()).step_by(8) {
                    _mm256_storeu_ps(ys.as_mut_ptr().add(c), $f(_mm256_loadu_ps(xs.as_ptr().add(c))));
                }
            }
        };
    }
    run!(r_exp, crate::simd::exp_avx2);
    run!(r_exp_fast, super::exp_fast_avx2);
    run!(r_tanh, crate::simd::tanh_avx2);
    run!(r_tanh_fast, super::tanh_fast_avx2);
    run!(r_sig, crate::simd::sigmoid_avx2);
    run!(r_sig_fast, super::sigmoid_fast_avx2);
    #[test]
    #[ignore]
    fn fast_forms_throughput() {
        if !crate::simd::ulp::avx2() {
            return;
        }
        let n = 64000;
        let xs: Vec<f32> = (0..n).map(|i| -((i % 1000) as f32) * 0.01).collect();
        let mut ys = vec![0f32; n];
        type F = unsafe fn(&[f32], &mut [f32]);
        let fs: [(&str, F); 6] = [
            ("exp", r_exp),
            ("exp_fast", r_exp_fast),
            ("tanh", r_tanh),
            ("tanh_fast", r_tanh_fast),
            ("sigmoid", r_sig),
            ("sigmoid_fast", r_sig_fast),
        ];
        for round in 0..3 {
            for (name, f) in fs {
                let t = std::time::Instant::now();
                for _ in 0..200 {
                    unsafe { f(&xs, &mut ys) };
                }
                let ns = t.elapsed().as_nanos() as f64 / (200.0 * n as f64);
                if round == 2 {
                    eprintln!("{name}: {ns:.3} ns/elem");
                }
            }
        }
        std::hint::black_box(&ys);
    }
}
