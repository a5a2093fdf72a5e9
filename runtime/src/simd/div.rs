//! Exact division by a lane-invariant divisor without `vdivps`
//! ([`div_by_avx2`], from Markstein's correction of one reciprocal).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `|b|` within `[2^-60, 2^60]` and `|a|` within `[2^-63, 2^65)`: the
/// reciprocal, the quotient (within `[2^-123, 2^125)`) and the remainder of
/// [`div_by_avx2`] stay normal and finite.
const SAFE_LO: f32 = 8.673_617e-19; // 2^-60
const SAFE_HI: f32 = 1.152_921_5e18; // 2^60
/// The numerators' range `[A_LO, A_HI)`: exactly the floats whose biased
/// exponent lies in `[64, 191]`, which [`all_inside`] tests in two integer
/// operations and one test of the sign bits.
const A_LO: f32 = 1.084_202_2e-19; // 2^-63
const A_HI: f32 = 3.689_349e19; // 2^65
/// What [`all_inside`] adds to the shifted bits: `0x80 − 0x40` (A_LO's biased
/// exponent) in the top byte. The window is 128 exponents wide, `A_HI`'s
/// exponent is where it ends.
#[doc(hidden)]
pub const A_BIAS: i32 = ((0x80 - (A_LO.to_bits() >> 23)) << 24) as i32;
const _: () = assert!(A_LO.to_bits() == 0x40 << 23 && A_HI.to_bits() == 0xC0 << 23);

/// Whether a shared divisor takes the Markstein path (`|b|` within
/// `[SAFE_LO, SAFE_HI]`): checked once per vector, in scalar code.
#[doc(hidden)]
#[inline(always)]
pub fn divisor_in_range(b: f32) -> bool {
    (SAFE_LO..=SAFE_HI).contains(&b.abs())
}

/// Markstein's exact quotient from a correctly rounded reciprocal `y = 1/b`:
/// `q0 = a·y`, `r = a − q0·b` (exact with an FMA), `q = q0 + r·y` is the
/// correctly rounded `a/b` (Markstein 1990; `markstein_is_exact` below
/// checks every significand of `b` against a set of `a`, and random pairs).
#[inline]
pub fn markstein(a: f32, b: f32, y: f32) -> f32 {
    let q0 = a * y;
    let r = (-q0).mul_add(b, a);
    r.mul_add(y, q0)
}

/// `a / b` in every lane, exactly as `_mm256_div_ps` rounds it, for a divisor
/// shared by the lanes: one scalar division (`1/b`) and three vector
/// operations instead of `vdivps`, after a check of three. Lanes outside the
/// safe range (zeros, denormals, infinities, NaN, magnitudes beyond `2^-63`
/// and `2^65`) take `vdivps`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn div_by_avx2(a: __m256, b: f32) -> __m256 {
    let bv = _mm256_set1_ps(b);
    if divisor_in_range(b) && all_inside(a) {
        // `markstein` with the remainder negated (`q0·b − a`): the same bits.
        let y = _mm256_set1_ps(1.0 / b);
        let q0 = _mm256_mul_ps(a, y);
        let r = _mm256_fmsub_ps(q0, bv, a);
        _mm256_fnmadd_ps(r, y, q0)
    } else {
        _mm256_div_ps(a, bv)
    }
}

/// Whether every lane's magnitude lies in `[A_LO, A_HI)`, i.e. its biased
/// exponent `e` in `[0x40, 0xBF]`: the bits shifted left by one (the sign
/// out, `e` in the top byte) plus `0x40` in the top byte give `e + 0x40`
/// there, whose top bit is set exactly for those `e` (no carry reaches it
/// from the significand, and `e ≥ 0xC0` wraps below `0x80`); one `vtestps`
/// asks whether every lane's sign bit is set. Zeros, denormals, infinities
/// and NaN lie outside. (A check of four operations — a comparison against
/// the range's end after the same shift — took ~2.4 more cycles per vector
/// in layernorm's normalization on Zen 1.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn all_inside(a: __m256) -> bool {
    let shifted = _mm256_slli_epi32::<1>(_mm256_castps_si256(a));
    let z = _mm256_add_epi32(shifted, _mm256_set1_epi32(A_BIAS));
    _mm256_testc_ps(_mm256_castsi256_ps(z), _mm256_castsi256_ps(_mm256_set1_epi32(-1))) != 0
}

/// The body of [`div_by_avx512`] over the `_mm512_*` names in scope (see
/// [`crate::simd`]): [`div_by_avx2`]'s algorithm and range check on 16
/// lanes (the sign words tested with `vptestmd`), so the same bits.
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_div_by_avx512 {
    ($a:expr, $b:expr) => {{
        use $crate::simd::div::{divisor_in_range, A_BIAS};
        let (a, b): (_, f32) = ($a, $b);
        let bv = _mm512_set1_ps(b);
        let shifted = _mm512_slli_epi32::<1>(_mm512_castps_si512(a));
        let z = _mm512_add_epi32(shifted, _mm512_set1_epi32(A_BIAS));
        let inside = _mm512_test_epi32_mask(z, _mm512_set1_epi32(i32::MIN)) == 0xffff;
        if divisor_in_range(b) && inside {
            let y = _mm512_set1_ps(1.0 / b);
            let q0 = _mm512_mul_ps(a, y);
            let r = _mm512_fnmadd_ps(q0, bv, a);
            _mm512_fmadd_ps(r, y, q0)
        } else {
            _mm512_div_ps(a, bv)
        }
    }};
}

/// [`div_by_avx2`] of 16 lanes: `a / b` exactly as `_mm512_div_ps` rounds it,
/// for a divisor shared by the lanes.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn div_by_avx512(a: __m512, b: f32) -> __m512 {
    crate::__kiln_div_by_avx512!(a, b)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Markstein's theorem, checked: for every significand of `b` in [1, 2)
    /// (2^23 of them) and 40 significands of `a` (the edges and random ones),
    /// and for 2 million random pairs of both signs across the safe range, the
    /// corrected quotient is bit for bit the correctly rounded one.
    #[test]
    fn markstein_is_exact() {
        let mut a_set: Vec<f32> = vec![1.0, f32::from_bits(0x3f80_0001), f32::from_bits(0x3fff_ffff), 1.5, 1.25, 1.75];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        while a_set.len() < 40 {
            a_set.push(f32::from_bits(0x3f80_0000 | (next() as u32 & 0x7f_ffff)));
        }
        for bits in 0..(1u32 << 23) {
            let b = f32::from_bits(0x3f80_0000 | bits);
            let y = 1.0 / b;
            for &a in &a_set {
                assert_eq!(markstein(a, b, y).to_bits(), (a / b).to_bits(), "{a:e} / {b:e}");
            }
        }
        for _ in 0..2_000_000 {
            let r = next();
            let e = |k: u64| ((k % 120) as i32 - 60) as f32;
            let ea = |k: u64| ((k % 128) as i32 - 63) as f32;
            let sign = |k: u64| if k & 1 == 0 { 1.0 } else { -1.0 };
            let a = sign(r >> 1) * (1.0 + (r >> 40) as f32 / (1u64 << 24) as f32) * ea(r >> 2).exp2();
            let b = sign(r >> 3) * (1.0 + ((r >> 16) & 0xff_ffff) as f32 / (1u64 << 24) as f32) * e(r >> 9).exp2();
            assert_eq!(markstein(a, b, 1.0 / b).to_bits(), (a / b).to_bits(), "{a:e} / {b:e}");
        }
    }

    /// At the ends of the ranges, where the quotient is smallest and largest
    /// (`2^-123`, just below `2^125`): every significand pair of a grid, both
    /// signs, against the correctly rounded quotient.
    #[test]
    fn markstein_is_exact_at_the_ends_of_the_ranges() {
        let grid = |base: f32| (0..2048u32).map(move |k| f32::from_bits(base.to_bits() + k * 4093 % (1 << 23)));
        let ends = [(A_LO, SAFE_HI), (f32::from_bits(A_HI.to_bits() - (1 << 23)), SAFE_LO), (A_LO, SAFE_LO)];
        for (a0, b0) in ends {
            for a in grid(a0) {
                for b in grid(b0).step_by(7) {
                    for (a, b) in [(a, b), (-a, b), (a, -b)] {
                        assert_eq!(markstein(a, b, 1.0 / b).to_bits(), (a / b).to_bits(), "{a:e} / {b:e}");
                    }
                }
            }
        }
    }

    /// The vector range check agrees with `A_LO ≤ |a| < A_HI` on the range's
    /// ends and their neighbours, zeros, infinities, NaN and random bits.
    #[test]
    fn the_range_check_agrees_with_the_comparisons() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let near = |x: f32| [f32::from_bits(x.to_bits() - 1), x, f32::from_bits(x.to_bits() + 1)];
        let mut xs: Vec<f32> = [near(A_LO), near(A_HI)].concat();
        xs.extend([0.0, f32::INFINITY, f32::NAN, f32::MIN_POSITIVE, 1e-45, f32::MAX, 1.0, SAFE_LO, SAFE_HI]);
        let mut seed = 0x2545_f491u32;
        xs.extend((0..100_000).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            f32::from_bits(seed)
        }));
        for x in xs.iter().flat_map(|x| [*x, -*x]) {
            let inside = (A_LO..A_HI).contains(&x.abs());
            unsafe {
                assert_eq!(all_inside(_mm256_set1_ps(x)), inside, "{x:e}");
                let one_lane = _mm256_setr_ps(1.0, 1.0, 1.0, x, 1.0, 1.0, 1.0, 1.0);
                assert_eq!(all_inside(one_lane), inside, "{x:e}");
            }
        }
    }

    #[test]
    fn div_by_avx2_equals_vdivps() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let special = [0.0, -0.0, f32::INFINITY, f32::NAN, 1e-40, 1e30, -3.0, 7.0];
        let divisors = [3.0f32, -0.1, 1e-30, 1e30, 0.0, f32::INFINITY, f32::NAN, 1e-40, 6.02e23];
        let mut seed = 12345u32;
        for round in 0..20_000 {
            let mut xs = [0f32; 8];
            for (k, x) in xs.iter_mut().enumerate() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *x = f32::from_bits(seed);
                if round % 7 == 0 {
                    *x = special[k];
                }
                if round % 3 == 0 && x.is_finite() {
                    *x = (*x).clamp(-1e6, 1e6);
                }
            }
            let mut b = if round < divisors.len() { divisors[round] } else { f32::from_bits(seed.rotate_left(7)) };
            if round % 5 == 1 {
                // Every lane and the divisor in the safe range: the Markstein path.
                for (k, x) in xs.iter_mut().enumerate() {
                    *x = (k as f32 + 1.3) * 1.7f32.powi((round % 40) as i32 - 20) * if k % 2 == 0 { 1.0 } else { -1.0 };
                }
                b = 0.37 * 1.1f32.powi((round % 50) as i32) + round as f32 * 1e-3;
            }
            if round % 5 == 3 {
                // The Markstein path at the ends of the ranges: the smallest
                // numerators by the largest divisors, the largest by the smallest.
                let small = round % 2 == 0;
                for (k, x) in xs.iter_mut().enumerate() {
                    let m = f32::from_bits(0x3f80_0000 | (seed.rotate_left(k as u32 * 3) & 0x7f_ffff));
                    *x = if small { A_LO * m } else { A_HI / 2.0 * m } * if k % 3 == 0 { -1.0 } else { 1.0 };
                }
                let m = f32::from_bits(0x3f80_0000 | (seed.rotate_left(11) & 0x7f_ffff));
                b = if small { SAFE_HI / 2.0 * m } else { SAFE_LO * m };
            }
            let (mut got, mut want) = ([0f32; 8], [0f32; 8]);
            unsafe {
                let a = _mm256_loadu_ps(xs.as_ptr());
                _mm256_storeu_ps(got.as_mut_ptr(), div_by_avx2(a, b));
                _mm256_storeu_ps(want.as_mut_ptr(), _mm256_div_ps(a, _mm256_set1_ps(b)));
            }
            for k in 0..8 {
                let same = got[k].to_bits() == want[k].to_bits() || (got[k].is_nan() && want[k].is_nan());
                assert!(same, "{} / {b}: {} vs {}", xs[k], got[k], want[k]);
            }
        }
    }
}
