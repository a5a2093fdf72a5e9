//! `exp` of 8 and 16 lanes, and the pieces `tanh` and `sigmoid` build on.
//!
//! `e^x = 2^n · p(r)`: `n = round(x·log2 e)`, taken from the biased sum
//! `t = x·log2 e + 1.5·2^23` (its low bits hold `n`, so `n = t − 1.5·2^23`
//! and `n << 23` is `t`'s bits shifted: no rounding or conversion
//! instruction); `r = x − n·ln 2` with `ln 2` in two parts (the first product
//! is exact under the FMA, `|r| ≤ ln2/2`); `p(r) = 1 + r·q(r)`, `q` of degree
//! 5 in Horner form (minimax for the relative error of `e^r` with
//! coefficients rounded to `f32`, approximation error 0.05 ulp).
//!
//! AVX2 scales by adding `n << 23` to `p`'s bits, exact while the result is a
//! normal number: when a lane lies outside `|x| ≤ 87` (or is NaN) the vector
//! takes a slower path that clamps `x` to `[−104, 89]` and scales in two
//! steps, `p·2^⌊n/2⌋·2^(n−⌊n/2⌋)`, rounding once: subnormal results are
//! exact to the same bound, results beyond `f32::MAX` are `+∞`, `exp(−∞) =
//! 0`, NaN stays NaN. AVX-512 scales with `vscalefps`, which rounds once for
//! every `n`; both compute the same bits.
//!
//! **Maximum error: 0.891 ulp** against `f64::exp`, measured over every
//! `f32` (the tests below check a dense stride; `KILN_ULP_STRIDE=1` every
//! float).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::pack::Pack;

pub const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `1.5·2^23`: adding it rounds to an integer and leaves the integer in the
/// low bits of the sum.
pub const MAGIC: f32 = 12_582_912.0;
/// `ln 2` rounded to `f32`, and the rest.
pub const LN2_HI: f32 = std::f32::consts::LN_2;
pub const LN2_LO: f32 = -1.904_654_2e-9;
/// `q` of `e^r = 1 + r·q(r)`, highest degree first (`q(0) = 1`).
pub const EXP_POLY: [f32; 6] = [1.383_889_7e-3, 8.369_192_5e-3, 4.166_810_2e-2, 0.166_665_17, 0.499_999_94, 1.0];
/// The vectors whose lanes all lie within `±EXP_FAST` take the fast path.
pub const EXP_FAST: f32 = 87.0;
/// The slow path's clamp: `e^-104` rounds to 0, `e^89` to `+∞`.
pub const EXP_LO: f32 = -104.0;
pub const EXP_HI: f32 = 89.0;

/// `(t, r, q)`: the biased sum holding `n`, the reduced argument and the
/// polynomial `q(r)`, so that `e^x = 2^n·(1 + r·q)`; of `K` vectors in
/// lockstep.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn reduce_n<const K: usize>(x: Pack<K>, poly: &[f32]) -> (Pack<K>, Pack<K>, Pack<K>) {
    reduce_parts_n::<K, true>(x, poly)
}

/// [`reduce_n`] with `ln 2` in one part (`LN2_HI`): one FMA fewer, for
/// arguments whose `n` stays small enough that `n·(ln 2 − LN2_HI)` (at most
/// `1.91e-9·|n|` in `r`) is lost in the caller's error — `tanh`'s exponential
/// of `2·min(|x|, 9.1)` (`|n| ≤ 27`, see [`super::tanh`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn reduce_short_n<const K: usize>(x: Pack<K>, poly: &[f32]) -> (Pack<K>, Pack<K>, Pack<K>) {
    reduce_parts_n::<K, false>(x, poly)
}

/// [`reduce_n`] (`LO`: with `LN2_LO`) or [`reduce_short_n`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn reduce_parts_n<const K: usize, const LO: bool>(x: Pack<K>, poly: &[f32]) -> (Pack<K>, Pack<K>, Pack<K>) {
    let t = x.fmadd(Pack::splat(LOG2E), Pack::splat(MAGIC));
    let n = t.sub(Pack::splat(MAGIC));
    let mut r = n.fnmadd(Pack::splat(LN2_HI), x);
    if LO {
        r = n.fnmadd(Pack::splat(LN2_LO), r);
    }
    let mut q = Pack::splat(poly[0]);
    for c in &poly[1..] {
        q = q.fmadd(r, Pack::splat(*c)).fence();
    }
    (t, r, q)
}

/// [`reduce_n`] of one vector, with `exp`'s polynomial.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn reduce_avx2(x: __m256) -> (__m256, __m256, __m256) {
    let (t, r, q) = reduce_n(Pack([x]), &EXP_POLY);
    (t.0[0], r.0[0], q.0[0])
}

/// `v·2^n` rounded once, for `n` in `[−150, 128]` held by `t` (two exact
/// powers of two: the first product stays normal).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn scale_avx2(v: __m256, t: __m256) -> __m256 {
    let n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(MAGIC)));
    let n1 = _mm256_srai_epi32::<1>(n);
    let n2 = _mm256_sub_epi32(n, n1);
    let pow2 = |k| _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k, _mm256_set1_epi32(127))));
    _mm256_mul_ps(_mm256_mul_ps(v, pow2(n1)), pow2(n2))
}

/// `exp` of 8 lanes (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_avx2(x: __m256) -> __m256 {
    exp_avx2_n([x])[0]
}

/// [`exp_avx2`] of `K` vectors in lockstep (`Pack`): the same bits, in
/// an order the core overlaps. A lane beyond `±87` (or NaN) in any of them
/// sends all `K` through the slower path.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    exp_n(Pack(x), &EXP_POLY, exp_avx2_edge).0
}

/// `e^x` with the polynomial `poly` (`exp`'s or `exp_fast`'s) on a pack:
/// through `edge`, vector by vector, when a lane lies beyond `±87` or is NaN.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn exp_n<const K: usize>(x: Pack<K>, poly: &[f32], edge: unsafe fn(__m256) -> __m256) -> Pack<K> {
    if x.any_beyond(EXP_FAST) {
        return x.map(|v| edge(v));
    }
    exp_core_n(x, poly)
}

/// `e^x` with the polynomial `poly`, for lanes within `±87`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn exp_core_n<const K: usize>(x: Pack<K>, poly: &[f32]) -> Pack<K> {
    let (t, r, q) = reduce_n(x, poly);
    q.fmadd(r, Pack::splat(1.0)).add_bits(t.shl23())
}

/// [`exp_core_n`] through [`reduce_short_n`] (`tanh`'s exponential).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn exp_short_core_n<const K: usize>(x: Pack<K>, poly: &[f32]) -> Pack<K> {
    let (t, r, q) = reduce_short_n(x, poly);
    q.fmadd(r, Pack::splat(1.0)).add_bits(t.shl23())
}

/// [`exp_avx2`] of a vector with a lane beyond `±87` or NaN.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_avx2_edge(x: __m256) -> __m256 {
    // max/min return their second operand for a NaN: NaN stays NaN.
    let x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), _mm256_min_ps(_mm256_set1_ps(EXP_HI), x));
    let (t, r, q) = reduce_avx2(x);
    scale_avx2(_mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0)), t)
}

/// `(n, r, q)` of `e^x = 2^n·(1 + r·q)` over the `_mm512_*` names in scope
/// (see [`crate::simd`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_exp_reduce_avx512 {
    ($x:expr) => {
        $crate::__kiln_exp_reduce_avx512!(poly $x, $crate::simd::exp::EXP_POLY)
    };
    // The same reduction with the polynomial `$poly` (`exp_fast`'s).
    (poly $x:expr, $poly:expr) => {{
        let (n, r) = $crate::__kiln_exp_reduce_avx512!(@n_r $x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps($crate::simd::exp::LN2_LO), r);
        $crate::__kiln_exp_reduce_avx512!(@q n, r, $poly)
    }};
    // `reduce_short_n` of `2x` (`tanh`'s exponential, `ln 2` in one part)
    // without forming `2x`: `(n, h, w)` with `h = r/2` and `w = 2·q(r)`, from
    // `x` and constants scaled by powers of two (`2·log2 e`, `ln 2/2`, the
    // Horner coefficients `c_i·2^(len − i)`), so `fma(w, h, 1) = fma(q, r, 1)`:
    // each step is the unscaled one times a power of two (no value here is
    // near the subnormals: `r` is a multiple of 2^-24), the same bits for one
    // addition fewer (gelu on Zen 4, family 25 model 17: ≈1.5 % faster).
    (double $x:expr, $poly:expr) => {{
        use $crate::simd::exp::{LN2_HI, LOG2E, MAGIC};
        let (x, poly) = ($x, $poly);
        let t = _mm512_fmadd_ps(x, _mm512_set1_ps(2.0 * LOG2E), _mm512_set1_ps(MAGIC));
        let n = _mm512_sub_ps(t, _mm512_set1_ps(MAGIC));
        let h = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.5 * LN2_HI), x);
        let len = poly.len() as i32;
        let mut w = _mm512_set1_ps(poly[0] * (2.0f32).powi(len));
        for (i, c) in poly[1..].iter().enumerate() {
            w = _mm512_fmadd_ps(w, h, _mm512_set1_ps(*c * (2.0f32).powi(len - 1 - i as i32)));
        }
        (n, h, w)
    }};
    (@n_r $x:expr) => {{
        use $crate::simd::exp::{LN2_HI, LOG2E, MAGIC};
        let x = $x;
        let t = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(MAGIC));
        let n = _mm512_sub_ps(t, _mm512_set1_ps(MAGIC));
        (n, _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x))
    }};
    (@q $n:expr, $r:expr, $poly:expr) => {{
        let (n, r, poly) = ($n, $r, $poly);
        let mut q = _mm512_set1_ps(poly[0]);
        for c in &poly[1..] {
            q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(*c));
        }
        (n, r, q)
    }};
}

/// The body of [`exp_avx512`].
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_exp_avx512 {
    ($x:expr) => {{
        use $crate::simd::exp::{EXP_HI, EXP_LO};
        let x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), _mm512_min_ps(_mm512_set1_ps(EXP_HI), $x));
        let (n, r, q) = $crate::__kiln_exp_reduce_avx512!(x);
        _mm512_scalef_ps(_mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0)), n)
    }};
}

/// `exp` of 16 lanes: [`exp_avx2`]'s results, with `vscalefps` for every
/// range (no branch).
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn exp_avx512(x: __m512) -> __m512 {
    crate::__kiln_exp_avx512!(x)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::simd::ulp::{avx2, lanes, stride, worst};

    #[test]
    fn exp_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [88.722_83, 88.722_84, -87.336_55, -103.972_08, -103.278_93, -88.0, 87.0, -87.0];
        let (err, at) = worst(stride(), lanes(exp_avx2), f64::exp, &edges);
        eprintln!("exp_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 0.892, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn exp_avx2_special_values() {
        if !avx2() {
            return;
        }
        let f = lanes(exp_avx2);
        let y = f(&[f32::NEG_INFINITY, -1000.0, f32::NAN, 0.0, -0.0, 1.0, 100.0, f32::INFINITY]);
        assert_eq!(&y[..2], &[0.0, 0.0]);
        assert!(y[2].is_nan());
        assert_eq!(&y[3..6], &[1.0, 1.0, std::f32::consts::E]);
        assert_eq!(&y[6..], &[f32::INFINITY, f32::INFINITY]);
        // The largest finite result, the smallest subnormal, and a vector on the fast path.
        assert_eq!(f(&[88.722_83; 8])[0], 3.402_798_5e38);
        assert_eq!(f(&[-103.972_07; 8])[0], f32::from_bits(1));
        assert_eq!(f(&[-1.0; 8])[0], (-1.0f64).exp() as f32);
    }
}
