//! Exact division by a lane-invariant divisor without `vdivps`
//! ([`div_by_avx2`], from Markstein's correction of one reciprocal).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `|a|` and `|b|` within `[2^-60, 2^60]`: the quotient, the reciprocal and
/// the remainder of [`div_by_avx2`] stay far from overflow and underflow.
const SAFE_LO: f32 = 8.673_617e-19; // 2^-60
const SAFE_HI: f32 = 1.152_921_5e18; // 2^60

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
/// operations instead of `vdivps`. Lanes outside the safe range (zeros,
/// denormals, infinities, NaN, magnitudes beyond 2^±60) take `vdivps`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn div_by_avx2(a: __m256, b: f32) -> __m256 {
    let bv = _mm256_set1_ps(b);
    let b_ok = (SAFE_LO..=SAFE_HI).contains(&b.abs());
    if b_ok && !any_outside_safe(a) {
        let y = _mm256_set1_ps(1.0 / b);
        let q0 = _mm256_mul_ps(a, y);
        let r = _mm256_fnmadd_ps(q0, bv, a);
        _mm256_fmadd_ps(r, y, q0)
    } else {
        _mm256_div_ps(a, bv)
    }
}

/// Whether a lane's magnitude lies outside `[SAFE_LO, SAFE_HI]` (or is NaN),
/// in three integer operations: the bits without the sign (shifted out),
/// moved so that the safe range starts at `i32::MIN`, against its end (the
/// bits of non-negative floats order as the floats do; NaN's lie beyond ∞'s).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn any_outside_safe(a: __m256) -> bool {
    const LO: u32 = SAFE_LO.to_bits() << 1;
    const HI: u32 = SAFE_HI.to_bits() << 1;
    let x = _mm256_slli_epi32::<1>(_mm256_castps_si256(a));
    let z = _mm256_add_epi32(x, _mm256_set1_epi32(0x8000_0000u32.wrapping_sub(LO) as i32));
    let end = (HI - LO) ^ 0x8000_0000;
    let out = _mm256_cmpgt_epi32(z, _mm256_set1_epi32(end as i32));
    _mm256_movemask_ps(_mm256_castsi256_ps(out)) != 0
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
            let sign = |k: u64| if k & 1 == 0 { 1.0 } else { -1.0 };
            let a = sign(r >> 1) * (1.0 + (r >> 40) as f32 / (1u64 << 24) as f32) * e(r >> 2).exp2();
            let b = sign(r >> 3) * (1.0 + ((r >> 16) & 0xff_ffff) as f32 / (1u64 << 24) as f32) * e(r >> 9).exp2();
            assert_eq!(markstein(a, b, 1.0 / b).to_bits(), (a / b).to_bits(), "{a:e} / {b:e}");
        }
    }

    /// The integer range check agrees with `SAFE_LO ≤ |a| ≤ SAFE_HI` on the
    /// range's ends and their neighbours, zeros, infinities, NaN and random bits.
    #[test]
    fn the_safe_range_check_agrees_with_the_comparisons() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let near = |x: f32| [f32::from_bits(x.to_bits() - 1), x, f32::from_bits(x.to_bits() + 1)];
        let mut xs: Vec<f32> = [near(SAFE_LO), near(SAFE_HI)].concat();
        xs.extend([0.0, f32::INFINITY, f32::NAN, f32::MIN_POSITIVE, 1e-45, f32::MAX, 1.0]);
        let mut seed = 0x2545_f491u32;
        xs.extend((0..100_000).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            f32::from_bits(seed)
        }));
        for x in xs.iter().flat_map(|x| [*x, -*x]) {
            let inside = (SAFE_LO..=SAFE_HI).contains(&x.abs());
            unsafe {
                assert_eq!(any_outside_safe(_mm256_set1_ps(x)), !inside, "{x:e}");
                let one_lane = _mm256_setr_ps(1.0, 1.0, 1.0, x, 1.0, 1.0, 1.0, 1.0);
                assert_eq!(any_outside_safe(one_lane), !inside, "{x:e}");
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
