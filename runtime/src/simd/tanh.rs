//! `tanh` of 8 and 16 lanes.
//!
//! On `a = |x|`, then with the sign of `x` (so `tanh(−0) = −0`): below
//! `a = 1`, `tanh a = a + a·z·q(z)` with `z = a²` and `q` of degree 7
//! (minimax for the relative error on `[0, 1]`, coefficients rounded to
//! `f32`); from 1 on, `tanh a = 1 − 2/(e^(2a) + 1)` with
//! [`exp`](super::exp)'s polynomial, `a` clamped to 9.1 (beyond 9.02 `tanh`
//! rounds to 1, so ±∞ gives ±1). NaN stays NaN.
//!
//! The exponential's argument `2a ≤ 18.2` keeps `n ≤ 27`, so its reduction
//! `r = 2a − n·ln 2` takes `ln 2` as one `f32` (`exp::reduce_short_n`): the
//! error that leaves in `r`, at most `1.91e-9·n`, reaches `tanh` scaled by
//! `2e^2a/((e^2a + 1)²·tanh a)` (0.28 at `a = 1`, falling like `2e^-2a`), at
//! most 0.013 ulp more than with `ln 2` in two parts — for one FMA fewer per
//! vector: `tanh` 5 % faster on Zen 4 (0.391 against 0.411 ns per element).
//!
//! **Maximum error: 0.973 ulp** (0.9725 at 1.005 293 1) against `f64::tanh`,
//! measured over every `f32` (0.960 with `ln 2` in two parts).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::exp::{exp_short_core_n, EXP_POLY};
#[cfg(target_arch = "x86_64")]
use super::pack::Pack;

/// `q` of `tanh x = x + x·z·q(z)` on `|x| < 1`, highest degree first.
pub const TANH_POLY: [f32; 8] = [
    0.000_116_449_71,
    -0.000_821_896_25,
    0.003_048_876_3,
    -0.008_571_457,
    0.021_774_445,
    -0.053_950_723,
    0.133_331_75,
    -0.333_333_28,
];
/// Where the polynomial hands over to the exponential.
pub const TANH_SPLIT: f32 = 1.0;
/// `|x|` is clamped here before the exponential (`tanh` is ±1 in `f32` from 9.02).
pub const TANH_CLAMP: f32 = 9.1;

/// `tanh` of 8 lanes (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tanh_avx2(x: __m256) -> __m256 {
    tanh_avx2_n([x])[0]
}

/// [`tanh_avx2`] of `K` vectors in lockstep (`Pack`): the same bits.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tanh_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    tanh_n(Pack(x), &TANH_POLY, TANH_SPLIT, &EXP_POLY).0
}

/// `tanh` of a pack (see the module documentation) from its parts: the odd
/// polynomial `poly` below `split`, `1 − 2/(e^2a + 1)` with the exponential's
/// polynomial `exp_poly` from there on (`tanh`'s or `tanh_fast`'s). A
/// `target_feature` function of its own, not `#[inline(always)]`: inlined that
/// way, LLVM scheduled the one-vector `tanh` worse (2.33 against 2.01
/// ns/element on Zen 1).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn tanh_n<const K: usize>(x: Pack<K>, poly: &[f32], split: f32, exp_poly: &[f32]) -> Pack<K> {
    let one = Pack::splat(1.0);
    let a = x.abs();
    // a < split: the odd polynomial.
    let z = a.mul(a);
    let mut q = Pack::splat(poly[0]);
    for c in &poly[1..] {
        q = q.fmadd(z, Pack::splat(*c));
    }
    let small = a.mul(z).fmadd(q, a);
    // a ≥ split: 1 − 2/(e^2a + 1); 2·min(a, 9.1) ≤ 18.2 is within the
    // exponential's fast range, and its `n ≤ 27` lets `ln 2` be one constant.
    let a2 = Pack::splat(TANH_CLAMP).min(a);
    let e = exp_short_core_n(a2.add(a2), exp_poly);
    let large = one.sub(Pack::splat(2.0).div(e.add(one)));
    // A NaN fails the comparison: the polynomial's NaN.
    let big = a.map(|a| _mm256_cmp_ps::<_CMP_GE_OQ>(a, _mm256_set1_ps(split)));
    small.blend(large, big).xor_sign(x)
}

/// The body of [`tanh_avx512`] (see [`crate::simd`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_tanh_avx512 {
    ($x:expr) => {{
        use $crate::simd::tanh::{TANH_CLAMP, TANH_POLY, TANH_SPLIT};
        let x = $x;
        let one = _mm512_set1_ps(1.0);
        let a = _mm512_abs_ps(x);
        let z = _mm512_mul_ps(a, a);
        let mut q = _mm512_set1_ps(TANH_POLY[0]);
        for c in &TANH_POLY[1..] {
            q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(*c));
        }
        let small = _mm512_fmadd_ps(_mm512_mul_ps(a, z), q, a);
        let a2 = _mm512_min_ps(_mm512_set1_ps(TANH_CLAMP), a);
        let (n, r, q) = $crate::__kiln_exp_reduce_avx512!(double a2, $crate::simd::exp::EXP_POLY);
        let e = _mm512_scalef_ps(_mm512_fmadd_ps(q, r, one), n);
        let large = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(e, one)));
        let y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, _mm512_set1_ps(TANH_SPLIT)), small, large);
        // The sign of x (AVX-512F has no floating-point xor).
        let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(y), sign))
    }};
}

/// `tanh` of 16 lanes: [`tanh_avx2`]'s results.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn tanh_avx512(x: __m512) -> __m512 {
    crate::__kiln_tanh_avx512!(x)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::simd::ulp::{avx2, lanes, stride, worst};

    #[test]
    fn tanh_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [1.0, 0.999_999_94, 1.005_293_1, 9.01, 9.02, 9.1, 1e-20, -1e-38, 0.5];
        let (err, at) = worst(stride(), lanes(tanh_avx2), f64::tanh, &edges);
        eprintln!("tanh_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 0.973, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn tanh_avx2_special_values() {
        if !avx2() {
            return;
        }
        let y = lanes(tanh_avx2)(&[f32::NEG_INFINITY, -100.0, f32::NAN, 0.0, -0.0, 1e-40, 100.0, f32::INFINITY]);
        assert_eq!(&y[..2], &[-1.0, -1.0]);
        assert!(y[2].is_nan());
        assert_eq!(y[3].to_bits(), 0.0f32.to_bits());
        assert_eq!(y[4].to_bits(), (-0.0f32).to_bits());
        assert_eq!(&y[5..], &[1e-40, 1.0, 1.0]);
    }
}
