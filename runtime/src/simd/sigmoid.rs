//! `sigmoid(x) = 1/(1 + e^−x)` of 8 and 16 lanes.
//!
//! With `F = e^−|x|` (never overflows), `sigmoid(x) = F/(1 + F)` for `x < 0`
//! and `1 − F/(1 + F)` otherwise. Rounding `F` to `f32` alone would cost up to
//! 2.3 ulp (a result just below a power of two inherits the relative error of
//! an `F` just above one), so `F` is kept as `F_hi + F_lo` (the exponential's
//! last polynomial step with its rounding error, from one more FMA), and
//! `y0 = F_hi/(1 + F_hi)` is corrected by one Newton step on the residual
//! `F − y0·(1 + F)`, computed exactly with FMAs: `y = y0 + res·(1 − y0)`, and
//! `1 − y` from the same parts. `sigmoid(−∞) = 0`, `sigmoid(+∞) = 1`,
//! `sigmoid(−100)` is the subnormal 3.8e-44, NaN stays NaN.
//!
//! **Maximum error: 0.962 ulp** against `1/(1 + e^−x)` in `f64`, measured over
//! every `f32`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::exp::{reduce_avx2, reduce_n, scale_avx2, EXP_FAST, EXP_LO, EXP_POLY};
#[cfg(target_arch = "x86_64")]
use super::pack::Pack;

/// `sigmoid` of 8 lanes (see the module documentation).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sigmoid_avx2(x: __m256) -> __m256 {
    sigmoid_avx2_n([x])[0]
}

/// [`sigmoid_avx2`] of `K` vectors in lockstep (`Pack`): the same bits. A
/// lane beyond `±87` (or NaN) in any of them sends all `K` through the
/// slower path.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sigmoid_avx2_n<const K: usize>(x: [__m256; K]) -> [__m256; K] {
    let x = Pack(x);
    if x.any_beyond(EXP_FAST) {
        return x.map(|v| sigmoid_avx2_edge(v)).0;
    }
    let one = Pack::splat(1.0);
    let (t, r, q) = reduce_n(x.neg_abs(), &EXP_POLY);
    let p = q.fmadd(r, one);
    let p_lo = q.fmadd(r, one.sub(p));
    let pow2 = t.shl23();
    let f = p.add_bits(pow2);
    let f_lo = p_lo.mul(one.add_bits(pow2));
    finish_n(x, f, f_lo).0
}

/// [`sigmoid_avx2`] of a vector with a lane beyond `±87` or NaN: the
/// exponential clamped and scaled in two steps.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
unsafe fn sigmoid_avx2_edge(x: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    let u = _mm256_max_ps(_mm256_set1_ps(EXP_LO), _mm256_or_ps(x, _mm256_set1_ps(-0.0)));
    let (t, r, q) = reduce_avx2(u);
    let p = _mm256_fmadd_ps(q, r, one);
    let p_lo = _mm256_fmadd_ps(q, r, _mm256_sub_ps(one, p));
    finish_n(Pack([x]), Pack([scale_avx2(p, t)]), Pack([scale_avx2(p_lo, t)])).0[0]
}

/// The quotient and its correction, from `F = e^−|x|` as `f + f_lo`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn finish_n<const K: usize>(x: Pack<K>, f: Pack<K>, f_lo: Pack<K>) -> Pack<K> {
    let one = Pack::splat(1.0);
    let y0 = f.div(one.add(f));
    // res = F − y0·(1 + F): f − y0 is exact (y0 ≥ f/2).
    let res = y0.fnmadd(f, f.sub(y0));
    let w = one.sub(y0);
    let res = f_lo.fmadd(w, res);
    let negative = res.fmadd(w, y0);
    // 1 − y0 = w + w_err exactly.
    let w_err = one.sub(w).sub(y0);
    let positive = w.add(res.fnmadd(w, w_err));
    positive.blend(negative, x.below_zero())
}

/// The body of [`sigmoid_avx512`] (see [`crate::simd`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_sigmoid_avx512 {
    ($x:expr) => {{
        let x = $x;
        let one = _mm512_set1_ps(1.0);
        let u = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x));
        let u = _mm512_max_ps(_mm512_set1_ps($crate::simd::exp::EXP_LO), u);
        let (n, r, q) = $crate::__kiln_exp_reduce_avx512!(u);
        let p = _mm512_fmadd_ps(q, r, one);
        let p_lo = _mm512_fmadd_ps(q, r, _mm512_sub_ps(one, p));
        let f = _mm512_scalef_ps(p, n);
        let f_lo = _mm512_scalef_ps(p_lo, n);
        let y0 = _mm512_div_ps(f, _mm512_add_ps(one, f));
        let res = _mm512_fnmadd_ps(y0, f, _mm512_sub_ps(f, y0));
        let w = _mm512_sub_ps(one, y0);
        let res = _mm512_fmadd_ps(f_lo, w, res);
        let negative = _mm512_fmadd_ps(res, w, y0);
        let w_err = _mm512_sub_ps(_mm512_sub_ps(one, w), y0);
        let positive = _mm512_add_ps(w, _mm512_fnmadd_ps(res, w, w_err));
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps()), positive, negative)
    }};
}

/// `sigmoid` of 16 lanes: [`sigmoid_avx2`]'s results, with `vscalefps` (no
/// branch).
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn sigmoid_avx512(x: __m512) -> __m512 {
    crate::__kiln_sigmoid_avx512!(x)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::simd::ulp::{avx2, lanes, stride, worst};

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn sigmoid_avx2_max_error() {
        if !avx2() {
            return;
        }
        let edges = [-87.0, -87.5, -88.0, -103.3, -104.0, 16.6, 17.4, 87.5];
        let (err, at) = worst(stride(), lanes(sigmoid_avx2), sigmoid, &edges);
        eprintln!("sigmoid_avx2: max error {err:.3} ulp at {at:e}");
        assert!(err <= 0.962, "max error {err} ulp at {at:e}");
    }

    #[test]
    fn sigmoid_avx2_special_values() {
        if !avx2() {
            return;
        }
        let f = lanes(sigmoid_avx2);
        let y = f(&[f32::NEG_INFINITY, -100.0, f32::NAN, 0.0, -0.0, 100.0, 20.0, f32::INFINITY]);
        assert_eq!(y[0], 0.0);
        assert_eq!(y[1], sigmoid(-100.0) as f32);
        assert!(y[1] > 0.0 && y[1] < 1e-43);
        assert!(y[2].is_nan());
        assert_eq!(&y[3..], &[0.5, 0.5, 1.0, 1.0, 1.0]);
        assert_eq!(f(&[-1.0; 8])[0], sigmoid(-1.0) as f32);
    }
}
