// A portable emulation of the AVX-512F intrinsics kiln's code generator
// emits, compiled into test batches (see `builder::emulated_avx512`) so that
// the AVX-512 code paths can be checked against the interpreter on machines
// without AVX-512. Semantics follow Intel's intrinsics guide, lane by lane:
// MIN/MAX return the second operand when either is NaN, comparisons are the
// ordered/unordered predicates of `_CMP_*`, masked loads and stores touch only
// active lanes, FMAs are fused, `_mm512_scalef_ps` rounds once. The vector math
// (`exp_avx512`, ...) is kiln's own AVX-512 code, expanded over these
// intrinsics (`kiln::simd::avx512_bodies`).
#[allow(non_camel_case_types, non_upper_case_globals, clippy::all, dead_code)]
pub mod emu512 {
    #[derive(Clone, Copy, Debug)]
    pub struct __m512(pub [f32; 16]);
    #[derive(Clone, Copy, Debug)]
    pub struct __m512d(pub [f64; 8]);
    /// 16 lanes of 32 bits (the hardware type holds 512 bits however used).
    #[derive(Clone, Copy, Debug)]
    pub struct __m512i(pub [i32; 16]);
    pub type __mmask16 = u16;
    pub type __mmask8 = u8;

    pub const _CMP_EQ_OQ: i32 = 0x00;
    pub const _CMP_NEQ_UQ: i32 = 0x04;
    pub const _CMP_LT_OQ: i32 = 0x11;
    pub const _CMP_LE_OQ: i32 = 0x12;
    pub const _CMP_GE_OQ: i32 = 0x1d;
    pub const _CMP_GT_OQ: i32 = 0x1e;
    pub const _CMP_NGE_UQ: i32 = 0x19;

    fn cmp64(imm: i32, a: f64, b: f64) -> bool {
        match imm {
            _CMP_EQ_OQ => a == b,
            _CMP_NEQ_UQ => !(a == b),
            _CMP_LT_OQ => a < b,
            _CMP_LE_OQ => a <= b,
            _CMP_GE_OQ => a >= b,
            _CMP_GT_OQ => a > b,
            _CMP_NGE_UQ => !(a >= b),
            _ => panic!("emu512: comparison predicate {imm} not emulated"),
        }
    }

    macro_rules! family {
        ($v:ident, $t:ty, $n:literal, $m:ty,
         $set1:ident, $setzero:ident, $loadu:ident, $storeu:ident, $maskz_loadu:ident, $mask_storeu:ident,
         $add:ident, $sub:ident, $mul:ident, $div:ident, $min:ident, $max:ident, $fmadd:ident, $fnmadd:ident,
         $sqrt:ident, $abs:ident, $cmp:ident, $blend:ident) => {
            #[inline]
            pub unsafe fn $set1(x: $t) -> $v {
                $v([x; $n])
            }
            #[inline]
            pub unsafe fn $setzero() -> $v {
                $v([0.0; $n])
            }
            #[inline]
            pub unsafe fn $loadu(p: *const $t) -> $v {
                let mut r = [0.0; $n];
                for i in 0..$n {
                    r[i] = *p.add(i);
                }
                $v(r)
            }
            #[inline]
            pub unsafe fn $storeu(p: *mut $t, a: $v) {
                for i in 0..$n {
                    *p.add(i) = a.0[i];
                }
            }
            #[inline]
            pub unsafe fn $maskz_loadu(k: $m, p: *const $t) -> $v {
                let mut r = [0.0; $n];
                for i in 0..$n {
                    if (k >> i) & 1 == 1 {
                        r[i] = *p.add(i);
                    }
                }
                $v(r)
            }
            #[inline]
            pub unsafe fn $mask_storeu(p: *mut $t, k: $m, a: $v) {
                for i in 0..$n {
                    if (k >> i) & 1 == 1 {
                        *p.add(i) = a.0[i];
                    }
                }
            }
            #[inline]
            pub unsafe fn $add(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i] + b.0[i]))
            }
            #[inline]
            pub unsafe fn $sub(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i] - b.0[i]))
            }
            #[inline]
            pub unsafe fn $mul(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i] * b.0[i]))
            }
            #[inline]
            pub unsafe fn $div(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i] / b.0[i]))
            }
            #[inline]
            pub unsafe fn $min(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| if a.0[i] < b.0[i] { a.0[i] } else { b.0[i] }))
            }
            #[inline]
            pub unsafe fn $max(a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| if a.0[i] > b.0[i] { a.0[i] } else { b.0[i] }))
            }
            #[inline]
            pub unsafe fn $fmadd(a: $v, b: $v, c: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i].mul_add(b.0[i], c.0[i])))
            }
            #[inline]
            pub unsafe fn $fnmadd(a: $v, b: $v, c: $v) -> $v {
                $v(std::array::from_fn(|i| (-a.0[i]).mul_add(b.0[i], c.0[i])))
            }
            #[inline]
            pub unsafe fn $sqrt(a: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i].sqrt()))
            }
            #[inline]
            pub unsafe fn $abs(a: $v) -> $v {
                $v(std::array::from_fn(|i| a.0[i].abs()))
            }
            #[inline]
            pub unsafe fn $cmp<const IMM: i32>(a: $v, b: $v) -> $m {
                let mut k: $m = 0;
                for i in 0..$n {
                    if cmp64(IMM, a.0[i] as f64, b.0[i] as f64) {
                        k |= 1 << i;
                    }
                }
                k
            }
            #[inline]
            pub unsafe fn $blend(k: $m, a: $v, b: $v) -> $v {
                $v(std::array::from_fn(|i| if (k >> i) & 1 == 1 { b.0[i] } else { a.0[i] }))
            }
        };
    }

    family!(
        __m512, f32, 16, __mmask16, _mm512_set1_ps, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
        _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps,
        _mm512_min_ps, _mm512_max_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_sqrt_ps, _mm512_abs_ps,
        _mm512_cmp_ps_mask, _mm512_mask_blend_ps
    );
    family!(
        __m512d, f64, 8, __mmask8, _mm512_set1_pd, _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
        _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, _mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd, _mm512_div_pd,
        _mm512_min_pd, _mm512_max_pd, _mm512_fmadd_pd, _mm512_fnmadd_pd, _mm512_sqrt_pd, _mm512_abs_pd,
        _mm512_cmp_pd_mask, _mm512_mask_blend_pd
    );

    /// `a·2^⌊b⌋`, rounded once (Intel's `SCALE` with MXCSR's defaults: NaN
    /// in, NaN out — except that a quiet NaN scaled by +∞ is +∞ and by −∞ is
    /// +0, as the special-case table of `VSCALEFPS` has it and the hardware
    /// does; 0·2^+∞ and ∞·2^−∞ are NaN).
    fn scalef32(a: f32, b: f32) -> f32 {
        let quiet_nan = a.is_nan() && a.to_bits() & 0x0040_0000 != 0;
        if quiet_nan && b.is_infinite() {
            return if b > 0.0 { f32::INFINITY } else { 0.0 };
        }
        if a.is_nan() || b.is_nan() {
            return a + b;
        }
        match b {
            f32::INFINITY if a == 0.0 => f32::NAN,
            f32::INFINITY => a * f32::INFINITY,
            f32::NEG_INFINITY if a.is_infinite() => f32::NAN,
            f32::NEG_INFINITY => a * 0.0,
            // Exact in f64 (|k| ≤ 400 keeps the product normal), then one rounding.
            _ => (a as f64 * 2f64.powi(b.floor().clamp(-400.0, 400.0) as i32)) as f32,
        }
    }

    #[inline]
    pub unsafe fn _mm512_scalef_ps(a: __m512, b: __m512) -> __m512 {
        __m512(std::array::from_fn(|i| scalef32(a.0[i], b.0[i])))
    }
    #[inline]
    pub unsafe fn _mm512_mask_mul_ps(src: __m512, k: __mmask16, a: __m512, b: __m512) -> __m512 {
        __m512(std::array::from_fn(|i| if (k >> i) & 1 == 1 { a.0[i] * b.0[i] } else { src.0[i] }))
    }
    #[inline]
    pub unsafe fn _mm512_mask_sub_ps(src: __m512, k: __mmask16, a: __m512, b: __m512) -> __m512 {
        __m512(std::array::from_fn(|i| if (k >> i) & 1 == 1 { a.0[i] - b.0[i] } else { src.0[i] }))
    }
    #[inline]
    pub unsafe fn _mm512_castps_si512(a: __m512) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i].to_bits() as i32))
    }
    #[inline]
    pub unsafe fn _mm512_castsi512_ps(a: __m512i) -> __m512 {
        __m512(std::array::from_fn(|i| f32::from_bits(a.0[i] as u32)))
    }
    #[inline]
    pub unsafe fn _mm512_set1_epi32(x: i32) -> __m512i {
        __m512i([x; 16])
    }
    #[inline]
    pub unsafe fn _mm512_add_epi32(a: __m512i, b: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i].wrapping_add(b.0[i])))
    }
    #[inline]
    pub unsafe fn _mm512_sub_epi32(a: __m512i, b: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i].wrapping_sub(b.0[i])))
    }
    #[inline]
    pub unsafe fn _mm512_and_si512(a: __m512i, b: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i] & b.0[i]))
    }
    #[inline]
    pub unsafe fn _mm512_xor_si512(a: __m512i, b: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i] ^ b.0[i]))
    }
    #[inline]
    pub unsafe fn _mm512_slli_epi32<const IMM8: u32>(a: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| if IMM8 > 31 { 0 } else { a.0[i] << IMM8 }))
    }
    #[inline]
    pub unsafe fn _mm512_srai_epi32<const IMM8: u32>(a: __m512i) -> __m512i {
        __m512i(std::array::from_fn(|i| a.0[i] >> IMM8.min(31)))
    }
    #[inline]
    pub unsafe fn _mm512_cvtepi32_ps(a: __m512i) -> __m512 {
        __m512(std::array::from_fn(|i| a.0[i] as f32))
    }

    /// The lanes whose `a & b` is not zero (AVX-512F `vptestmd`).
    #[inline]
    pub unsafe fn _mm512_test_epi32_mask(a: __m512i, b: __m512i) -> __mmask16 {
        (0..16).filter(|i| a.0[*i] & b.0[*i] != 0).fold(0, |m, i| m | (1 << i))
    }

    /// `kiln::simd::transpose8x16_avx512`: lane `k` of result `c` is
    /// `*p.offset(k·stride + c)` (its definition, lane by lane).
    #[inline]
    pub unsafe fn transpose8x16_avx512(p: *const f32, stride: isize) -> [__m512; 8] {
        let mut out = [__m512([0.0; 16]); 8];
        for (c, v) in out.iter_mut().enumerate() {
            for k in 0..16 {
                v.0[k] = *p.offset(k as isize * stride + c as isize);
            }
        }
        out
    }

    /// `kiln::simd::div_by_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn div_by_avx512(a: __m512, b: f32) -> __m512 {
        ::kiln::simd::avx512_bodies::div_by!(a, b)
    }
    /// `kiln::simd::exp_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn exp_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::exp!(a)
    }
    /// `kiln::simd::tanh_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn tanh_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::tanh!(a)
    }
    /// `kiln::simd::sigmoid_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn sigmoid_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::sigmoid!(a)
    }
    /// `kiln::simd::exp_fast_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn exp_fast_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::exp_fast!(a)
    }
    /// `kiln::simd::tanh_fast_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn tanh_fast_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::tanh_fast!(a)
    }
    /// `kiln::simd::sigmoid_fast_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn sigmoid_fast_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::sigmoid_fast!(a)
    }
    /// `kiln::simd::ln_avx512`'s code over the intrinsics above.
    #[inline]
    pub unsafe fn ln_avx512(a: __m512) -> __m512 {
        ::kiln::simd::avx512_bodies::ln!(a)
    }

    /// `kiln::simd::avx512_x2`'s lockstep math over the intrinsics above.
    #[allow(clippy::missing_safety_doc)]
    pub mod avx512_x2 {
        ::kiln::simd::avx512_bodies::pack512!(2, #[inline]);
    }
    /// `kiln::simd::avx512_x4`'s lockstep math over the intrinsics above.
    #[allow(clippy::missing_safety_doc)]
    pub mod avx512_x4 {
        ::kiln::simd::avx512_bodies::pack512!(4, #[inline]);
    }
}
