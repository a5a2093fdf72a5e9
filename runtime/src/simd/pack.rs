//! `Pack<K>`: `K` AVX2 vectors that every operation steps through together.
//!
//! A math function written once over a pack computes `K` independent vectors
//! in lockstep: the first step of all `K`, then the second, and so on. The
//! code is the same instruction for instruction as `K` calls of the one-vector
//! form (the same bits), but in an order an out-of-order core can overlap:
//! `exp`'s 45-cycle chain of dependent FMAs per vector no longer waits for
//! the hardware's scheduler to find the next vector's chain (LLVM keeps
//! inlined calls one after the other). On Zen 1, `exp` over a row: 0.87
//! ns/element one vector at a time, 0.73 four in lockstep.
//!
//! The methods are `#[inline(always)]` without `target_feature`: they are
//! meant to be inlined into the `#[target_feature(enable = "avx2,fma")]`
//! functions that use them, where the intrinsics inline in turn.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// `K` vectors of 8 `f32` lanes (masks are vectors too, as AVX2 has them).
#[derive(Clone, Copy)]
pub(crate) struct Pack<const K: usize>(pub [__m256; K]);

impl<const K: usize> Pack<K> {
    /// Every lane of every vector `v`.
    #[inline(always)]
    pub(crate) unsafe fn splat(v: f32) -> Self {
        Pack([_mm256_set1_ps(v); K])
    }

    /// `f` of each vector, the first vector first.
    #[inline(always)]
    pub(crate) unsafe fn map(self, f: impl Fn(__m256) -> __m256) -> Self {
        let mut out = self.0;
        for (o, v) in out.iter_mut().zip(self.0) {
            *o = f(v);
        }
        Pack(out)
    }

    /// `f` of each pair of vectors.
    #[inline(always)]
    pub(crate) unsafe fn zip(self, other: Self, f: impl Fn(__m256, __m256) -> __m256) -> Self {
        let mut out = self.0;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(other.0) {
            *o = f(a, b);
        }
        Pack(out)
    }

    /// `f` of each triple of vectors.
    #[inline(always)]
    pub(crate) unsafe fn zip3(self, b: Self, c: Self, f: impl Fn(__m256, __m256, __m256) -> __m256) -> Self {
        let mut out = self.0;
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(self.0[i], b.0[i], c.0[i]);
        }
        Pack(out)
    }

    /// `self · b + c`.
    #[inline(always)]
    pub(crate) unsafe fn fmadd(self, b: Self, c: Self) -> Self {
        self.zip3(b, c, |a, b, c| _mm256_fmadd_ps(a, b, c))
    }

    /// `c − self · b`.
    #[inline(always)]
    pub(crate) unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
        self.zip3(b, c, |a, b, c| _mm256_fnmadd_ps(a, b, c))
    }

    #[inline(always)]
    pub(crate) unsafe fn add(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_add_ps(a, b))
    }

    #[inline(always)]
    pub(crate) unsafe fn sub(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_sub_ps(a, b))
    }

    #[inline(always)]
    pub(crate) unsafe fn mul(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_mul_ps(a, b))
    }

    #[inline(always)]
    pub(crate) unsafe fn div(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_div_ps(a, b))
    }

    #[inline(always)]
    pub(crate) unsafe fn min(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_min_ps(a, b))
    }

    /// `|self|`.
    #[inline(always)]
    pub(crate) unsafe fn abs(self) -> Self {
        self.map(|a| _mm256_andnot_ps(_mm256_set1_ps(-0.0), a))
    }

    /// `−|self|`.
    #[inline(always)]
    pub(crate) unsafe fn neg_abs(self) -> Self {
        self.map(|a| _mm256_or_ps(a, _mm256_set1_ps(-0.0)))
    }

    /// The mask of the lanes below zero (NaN is not).
    #[inline(always)]
    pub(crate) unsafe fn below_zero(self) -> Self {
        self.map(|a| _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_setzero_ps()))
    }

    /// `self` with the sign bit of `of` flipped in (`self ^ (of & −0)`).
    #[inline(always)]
    pub(crate) unsafe fn xor_sign(self, of: Self) -> Self {
        self.zip(of, |a, s| _mm256_xor_ps(a, _mm256_and_ps(_mm256_set1_ps(-0.0), s)))
    }

    /// Lane-wise `mask ? t : self` (the mask of an AVX2 comparison).
    #[inline(always)]
    pub(crate) unsafe fn blend(self, t: Self, mask: Self) -> Self {
        self.zip3(t, mask, |f, t, m| _mm256_blendv_ps(f, t, m))
    }

    /// The bits of `self` plus those of `b`, as 32-bit integers.
    #[inline(always)]
    pub(crate) unsafe fn add_bits(self, b: Self) -> Self {
        self.zip(b, |a, b| _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b))))
    }

    /// The bits of `self` shifted left by 23 (an exponent field from an integer).
    #[inline(always)]
    pub(crate) unsafe fn shl23(self) -> Self {
        self.map(|a| _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(a))))
    }

    /// The same vectors, each through an empty `asm!` that LLVM must keep in
    /// order with the others: a point every vector of the pack passes before
    /// any goes on. Without it LLVM's scheduler put a pack's chains one after
    /// the other again to save registers (seen in `tanh`); no instruction is
    /// emitted. After each Horner step of the exponential (`exp::reduce_n`):
    /// gelu on Zen 1 (family 23 model 1) ~416 µs against ~495 (medians of
    /// four alternating builds, `try_traces gelu 1`), softmax unchanged.
    #[inline(always)]
    pub(crate) unsafe fn fence(self) -> Self {
        self.map(|v| fence_one(v))
    }

    /// Whether some lane of some vector lies outside `±limit` or is NaN: the
    /// largest magnitude's bits against `limit`'s (the bits of non-negative
    /// floats order as the floats do, and NaN's lie above infinity's), two
    /// operations per vector and one comparison per pack.
    #[inline(always)]
    pub(crate) unsafe fn any_beyond(self, limit: f32) -> bool {
        let abs = _mm256_set1_epi32(i32::MAX);
        let mut m = _mm256_setzero_si256();
        for v in self.0 {
            m = _mm256_max_epi32(m, _mm256_and_si256(_mm256_castps_si256(v), abs));
        }
        let beyond = _mm256_cmpgt_epi32(m, _mm256_set1_epi32(limit.to_bits() as i32));
        _mm256_movemask_ps(_mm256_castsi256_ps(beyond)) != 0
    }
}

/// `v` through an empty `asm!` (see [`Pack::fence`]).
#[inline]
#[target_feature(enable = "avx")]
unsafe fn fence_one(mut v: __m256) -> __m256 {
    std::arch::asm!("/* {0} */", inout(ymm_reg) v, options(nomem, nostack, preserves_flags));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn bits(v: __m256) -> [u32; 8] {
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), v);
        out.map(f32::to_bits)
    }

    #[test]
    fn a_pack_computes_each_vector_as_alone() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        unsafe {
            let v = |k: f32| _mm256_setr_ps(k, -k, 1.5 * k, 0.0, -0.0, 100.0, -3.25, k * k);
            let p = Pack([v(1.0), v(2.0), v(-7.5)]);
            let got = p.fmadd(p, Pack::splat(0.5)).xor_sign(Pack::splat(-1.0));
            for (i, g) in got.0.into_iter().enumerate() {
                let alone = Pack([p.0[i]]).fmadd(Pack([p.0[i]]), Pack::splat(0.5)).xor_sign(Pack::splat(-1.0));
                assert_eq!(bits(g), bits(alone.0[0]));
            }
            assert!(!Pack([v(1.0), v(2.0)]).any_beyond(100.0));
            assert!(Pack([v(1.0), v(20.0)]).any_beyond(100.0));
            assert!(Pack([v(1.0), _mm256_set1_ps(f32::NAN)]).any_beyond(100.0));
        }
    }

    /// The lockstep forms of the math functions give each vector the bits of
    /// the one-vector form, whether or not another vector of the pack takes
    /// the edge path.
    #[test]
    fn the_lockstep_math_equals_one_vector_at_a_time() {
        use crate::simd::*;
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        type One = unsafe fn(__m256) -> __m256;
        type Four = unsafe fn([__m256; 4]) -> [__m256; 4];
        let fs: [(&str, One, Four); 7] = [
            ("exp", exp_avx2, exp_avx2_n::<4>),
            ("exp_fast", exp_fast_avx2, exp_fast_avx2_n::<4>),
            ("tanh", tanh_avx2, tanh_avx2_n::<4>),
            ("tanh_fast", tanh_fast_avx2, tanh_fast_avx2_n::<4>),
            ("sigmoid", sigmoid_avx2, sigmoid_avx2_n::<4>),
            ("sigmoid_fast", sigmoid_fast_avx2, sigmoid_fast_avx2_n::<4>),
            ("ln", ln_avx2, ln_avx2_n::<4>),
        ];
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32 - 0.5) * 40.0
        };
        for case in 0..200 {
            let mut x = [[0.0f32; 8]; 4];
            x.iter_mut().flatten().for_each(|v| *v = next());
            // Every fourth case puts an edge value (beyond ±87, NaN, ∞; for
            // `ln`, which takes positive arguments here, zero, a negative or
            // a subnormal number too) in one vector.
            let mut pos = x.map(|l| l.map(f32::abs));
            if case % 4 == 0 {
                x[case / 4 % 4][case % 8] = [100.0, -95.0, f32::NAN, f32::INFINITY][case / 16 % 4];
                pos[case / 4 % 4][case % 8] = [0.0, -1.5, 1e-40, f32::INFINITY, f32::NAN][case / 16 % 5];
            }
            for (name, one, four) in fs {
                let x = if name == "ln" { &pos } else { &x };
                unsafe {
                    let v: [__m256; 4] = x.map(|l| _mm256_loadu_ps(l.as_ptr()));
                    for (k, got) in four(v).into_iter().enumerate() {
                        assert_eq!(bits(got), bits(one(v[k])), "{name} of {:?}", x[k]);
                    }
                }
            }
        }
    }
}
