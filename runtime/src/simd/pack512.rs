//! AVX-512 vector math over `K` vectors in lockstep (`exp_avx512_x4`, ..):
//! the one-vector bodies ([`crate::simd::avx512_bodies`]) expanded over
//! packs.
//!
//! The AVX-512 bodies are macros over the `_mm512_*` names in scope. Expanded
//! where those names are the functions [`crate::__kiln_pack512`] generates — each
//! the same intrinsic applied to every vector of a pack `P([v0, .., vK−1])`
//! in turn — a body computes `K` vectors step by step together, as
//! `Pack` (`simd/pack.rs`) does for AVX2: the same operations per vector, so
//! the same bits as `K` calls of the one-vector function. The emulation of
//! AVX-512 (`tuner/src/emu512.rs`) expands the same packs over its own
//! intrinsics, so the tests check the lockstep forms against the one-vector
//! ones on machines without AVX-512.

/// The items of a module of lockstep math over `$k`-vector packs: `exp`,
/// `tanh`, `sigmoid`, `ln`, `exp_fast`, `tanh_fast`, `sigmoid_fast`, each
/// `unsafe fn(x: [__m512; $k]) -> [__m512; $k]` with the attributes given
/// (the target features, for real code), and the packed intrinsics they are
/// expanded over, which apply the `_mm512_*` functions and types of the
/// parent module (`super::`: `std::arch::x86_64` imported there, or an
/// emulation of it) to each vector in turn.
#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_pack512 {
    ($k:literal, $(#[$attr:meta])*) => {
        $crate::__kiln_pack512!(@fn $k, exp, __kiln_exp_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, tanh, __kiln_tanh_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, sigmoid, __kiln_sigmoid_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, ln, __kiln_ln_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, exp_fast, __kiln_exp_fast_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, tanh_fast, __kiln_tanh_fast_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@fn $k, sigmoid_fast, __kiln_sigmoid_fast_avx512, $(#[$attr])*);
        $crate::__kiln_pack512!(@intrinsics $k);
    };
    (@fn $k:literal, $name:ident, $body:ident, $(#[$attr:meta])*) => {
        /// The one-vector body of the same name, over `$k` vectors in lockstep.
        ///
        /// # Safety
        /// The CPU must support AVX-512F (or the intrinsics be emulated).
        $(#[$attr])*
        pub unsafe fn $name(x: [__m512; $k]) -> [__m512; $k] {
            $crate::$body!(P(x)).0
        }
    };
    (@intrinsics $k:literal) => {
        // The parent's types and `_CMP_*` constants; its `_mm512_*`
        // functions are shadowed by the packed ones below.
        #[allow(unused_imports)]
        use super::*;

        /// `K` vectors (or masks), stepped through together.
        #[derive(Clone, Copy)]
        pub struct P<T>(pub [T; $k]);

        #[inline(always)]
        pub unsafe fn _mm512_set1_ps(v: f32) -> P<__m512> {
            P([super::_mm512_set1_ps(v); $k])
        }
        #[inline(always)]
        pub unsafe fn _mm512_set1_epi32(v: i32) -> P<__m512i> {
            P([super::_mm512_set1_epi32(v); $k])
        }
        #[inline(always)]
        pub unsafe fn _mm512_setzero_ps() -> P<__m512> {
            P([super::_mm512_setzero_ps(); $k])
        }
        #[inline(always)]
        pub unsafe fn _mm512_fmadd_ps(a: P<__m512>, b: P<__m512>, c: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_fmadd_ps(a.0[i], b.0[i], c.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_fnmadd_ps(a: P<__m512>, b: P<__m512>, c: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_fnmadd_ps(a.0[i], b.0[i], c.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_add_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_add_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_sub_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_sub_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_mul_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_mul_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_div_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_div_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_min_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_min_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_max_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_max_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_scalef_ps(a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_scalef_ps(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_abs_ps(a: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_abs_ps(a.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_cmp_ps_mask<const IMM: i32>(a: P<__m512>, b: P<__m512>) -> P<__mmask16> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_cmp_ps_mask::<IMM>(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_mask_blend_ps(k: P<__mmask16>, a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_mask_blend_ps(k.0[i], a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_mask_sub_ps(s: P<__m512>, k: P<__mmask16>, a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_mask_sub_ps(s.0[i], k.0[i], a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_mask_mul_ps(s: P<__m512>, k: P<__mmask16>, a: P<__m512>, b: P<__m512>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_mask_mul_ps(s.0[i], k.0[i], a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_castps_si512(a: P<__m512>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_castps_si512(a.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_castsi512_ps(a: P<__m512i>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_castsi512_ps(a.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_cvtepi32_ps(a: P<__m512i>) -> P<__m512> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_cvtepi32_ps(a.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_and_si512(a: P<__m512i>, b: P<__m512i>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_and_si512(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_xor_si512(a: P<__m512i>, b: P<__m512i>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_xor_si512(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_sub_epi32(a: P<__m512i>, b: P<__m512i>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_sub_epi32(a.0[i], b.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_srai_epi32<const IMM: u32>(a: P<__m512i>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_srai_epi32::<IMM>(a.0[i]) }))
        }
        #[inline(always)]
        pub unsafe fn _mm512_slli_epi32<const IMM: u32>(a: P<__m512i>) -> P<__m512i> {
            P(::core::array::from_fn(|i| unsafe { super::_mm512_slli_epi32::<IMM>(a.0[i]) }))
        }
    };
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_imports)]
use std::arch::x86_64::*;

/// [`crate::__kiln_pack512`] over 2 vectors: `avx512_x2::exp([a, b])`, ..
/// (The packed `_mm512_*` functions have the safety contract of the
/// intrinsics they apply.)
#[cfg(target_arch = "x86_64")]
#[allow(clippy::missing_safety_doc)]
pub mod avx512_x2 {
    crate::__kiln_pack512!(2, #[inline] #[target_feature(enable = "avx512f,avx2,fma")]);
}

/// [`crate::__kiln_pack512`] over 4 vectors: `avx512_x4::exp([a, b, c, d])`, ..
#[cfg(target_arch = "x86_64")]
#[allow(clippy::missing_safety_doc)]
pub mod avx512_x4 {
    crate::__kiln_pack512!(4, #[inline] #[target_feature(enable = "avx512f,avx2,fma")]);
}
