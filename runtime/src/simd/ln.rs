//! `ln` (the natural logarithm) of 8 and 16 lanes.
//!
//! `x = 2^e·m` with `m` in `[√½, √2)`, from the bits (subnormals are first
//! scaled by 2^23); `f = m − 1` is exact; `ln(1 + f) = f + f²·(−½ + f·q(f))`
//! with `q` of degree 8 (minimax for the relative error, coefficients rounded
//! to `f32`); `ln x = e·ln2_hi + (f + f²·(..) + e·ln2_lo)`, the last step one
//! FMA. `ln 0 = −∞`, `ln x = NaN` for `x < 0` (and `ln −0 = −∞`),
//! `ln ∞ = ∞`, NaN stays NaN. AVX2 takes a slower path for a vector with
//! such a lane or a subnormal one.
//!
//! **Maximum error: 0.901 ulp** against `f64::ln`, measured over every `f32`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::exp::{LN2_HI, LN2_LO};
#[cfg(target_arch = "x86_64")]
use super::pack::Pack;

/// `q` of `ln(1 + f) = f + f²·(−½ + f·q(f))`, highest degree first.
pub const LN_POLY: [f32; 9] = [
    0.053_326_096,
    -0.109_134_525,
    0.121_095_41,
    -0.125_500_65,
    0.142_095_52,
    -0.166_593_58,
    0.200_022_24,
    -0.250_001_67,
    0.333_333_13,
];
/// The bits of `√½` rounded down: `m = x·2^−e` lands in `[√½, √2)`.
pub const SQRT_HALF_BITS: i32 = 0x3f35_04f3;
/// `2^23`, scaling subnormals to normals.
pub const TWO_23: f32 = 8_388_608.0;

/// `ln` of `x`, positive normal lanes (others give garbage), minus `adjust`
/// from the exponent; of `K` vectors in lockstep.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn core_n<const K: usize>(x: Pack<K>, adjust: Pack<K>) -> Pack<K> {
    let e = x.map(|x| {
        let b = _mm256_castps_si256(x);
        _mm256_castsi256_ps(_mm256_srai_epi32::<23>(_mm256_sub_epi32(b, _mm256_set1_epi32(SQRT_HALF_BITS))))
    });
    let m = x.zip(e, |x, e| {
        let (b, e) = (_mm256_castps_si256(x), _mm256_castps_si256(e));
        _mm256_castsi256_ps(_mm256_sub_epi32(b, _mm256_slli_epi32::<23>(e)))
    });
    let e = e.map(|e| _mm256_cvtepi32_ps(_mm256_castps_si256(e))).sub(adjust);
    let f = m.sub(Pack::splat(1.0));
    let mut q = Pack::splat(LN_POLY[0]);
    for c in &LN_POLY[1..] {
        q = q.fmadd(f, Pack::splat(*c)).fence();
    }
    let q = q.fmadd(f, Pack::splat(-0.5));
    let s = f.mul(f).fmadd(q, e.fmadd(Pack::splat(LN2_LO), f));
    e.fmadd(Pack::splat(LN2_HI), s)
}

/// `ln` of 8 lanes (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn ln_avx2(x: __m256) -> __m256 {
    ln_avx2_n([x])[0]
}

/// [`ln_avx2`] of `K` vectors in lockstep (`Pack`): the same bits. A lane
/// that is not a positive normal number in any of them sends all `K` through
/// the slower path.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn ln_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    // Normal, positive and finite ⇔ bits − 0x0080_0000 < 0x7f00_0000 unsigned
    // ⇔ (bits + 0x7f80_0000) < −0x0100_0000 signed: the largest such sum of
    // the pack against the bound.
    let mut w = _mm256_set1_epi32(i32::MIN);
    for v in x {
        w = _mm256_max_epi32(w, _mm256_add_epi32(_mm256_castps_si256(v), _mm256_set1_epi32(0x7f80_0000)));
    }
    let ok = _mm256_cmpgt_epi32(_mm256_set1_epi32(-0x0100_0000), w);
    if _mm256_movemask_ps(_mm256_castsi256_ps(ok)) != 0xff {
        return x.map(|v| ln_avx2_edge(v));
    }
    core_n(Pack(x), Pack::splat(0.0)).0
}

/// [`ln_avx2`] of a vector with a lane that is not a positive normal number.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_avx2_edge(x: __m256) -> __m256 {
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(f32::MIN_POSITIVE));
    let scaled = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(TWO_23)), tiny);
    let y = core_n(Pack([scaled]), Pack([_mm256_and_ps(tiny, _mm256_set1_ps(23.0))])).0[0];
    let zero = _mm256_setzero_ps();
    let y = _mm256_blendv_ps(y, _mm256_set1_ps(f32::NEG_INFINITY), _mm256_cmp_ps::<_CMP_EQ_OQ>(x, zero));
    let y = _mm256_blendv_ps(y, _mm256_set1_ps(f32::NAN), _mm256_cmp_ps::<_CMP_NGE_UQ>(x, zero));
    _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_EQ_OQ>(x, _mm256_set1_ps(f32::INFINITY)))
}

/// The body of [`ln_avx512`] (see [`crate::simd`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_ln_avx512 {
    ($x:expr) => {{
        use $crate::simd::exp::{LN2_HI, LN2_LO};
        use $crate::simd::ln::{LN_POLY, SQRT_HALF_BITS, TWO_23};
        let x = $x;
        let zero = _mm512_setzero_ps();
        let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(f32::MIN_POSITIVE));
        let bits = _mm512_castps_si512(_mm512_mask_mul_ps(x, tiny, x, _mm512_set1_ps(TWO_23)));
        let e = _mm512_srai_epi32::<23>(_mm512_sub_epi32(bits, _mm512_set1_epi32(SQRT_HALF_BITS)));
        let m = _mm512_castsi512_ps(_mm512_sub_epi32(bits, _mm512_slli_epi32::<23>(e)));
        let e = _mm512_cvtepi32_ps(e);
        let e = _mm512_mask_sub_ps(e, tiny, e, _mm512_set1_ps(23.0));
        let f = _mm512_sub_ps(m, _mm512_set1_ps(1.0));
        let mut q = _mm512_set1_ps(LN_POLY[0]);
        for c in &LN_POLY[1..] {
            q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(*c));
        }
        let q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(-0.5));
        let s = _mm512_fmadd_ps(_mm512_mul_ps(f, f), q, _mm512_fmadd_ps(e, _mm512_set1_ps(LN2_LO), f));
        let y = _mm512_fmadd_ps(e, _mm512_set1_ps(LN2_HI), s);
        let y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(x, zero), y, _mm512_set1_ps(f32::NEG_INFINITY));
        let y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_NGE_UQ>(x, zero), y, _mm512_set1_ps(f32::NAN));
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(x, _mm512_set1_ps(f32::INFINITY)), y, x)
    }};
}

/// `ln` of 16 lanes: [`ln_avx2`]'s results (no branch).
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn ln_avx512(x: __m512) -> __m512 {
    crate::__kiln_ln_avx512!(x)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::simd::ulp::{avx2, lanes, stride, worst};

    #[test]
    fn ln_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [
            1.0,
            0.999_999_94,
            1.000_000_1,
            std::f32::consts::FRAC_1_SQRT_2,
            std::f32::consts::SQRT_2,
            2.0,
            0.5,
            1e-45,
        ];
        let (err, at) = worst(stride(), lanes(ln_avx2), f64::ln, &edges);
        eprintln!("ln_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 0.901, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn ln_avx2_special_values() {
        if !avx2() {
            return;
        }
        let f = lanes(ln_avx2);
        let y = f(&[0.0, -0.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0, 1e-45]);
        assert_eq!(&y[..2], &[f32::NEG_INFINITY, f32::NEG_INFINITY]);
        assert!(y[2].is_nan() && y[3].is_nan() && y[5].is_nan());
        assert_eq!(y[4], f32::INFINITY);
        assert_eq!(y[6].to_bits(), 0.0f32.to_bits());
        assert_eq!(y[7], (f32::from_bits(1) as f64).ln() as f32);
        assert_eq!(f(&[std::f32::consts::E; 8])[0], 1.0);
    }
}
