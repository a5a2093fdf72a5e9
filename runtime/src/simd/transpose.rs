//! An 8×8 block of `f32` transposed in registers (AVX2): the generated code
//! of a transposed read (`y[i, j] = x[j, i]`, tiled by 8 rows of `y`) loads
//! 8 contiguous vectors of `x` and transposes them instead of gathering
//! every lane from its own cache line.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The transpose of the 8×8 matrix whose rows are `r`: lane `k` of result
/// `c` is lane `c` of `r[k]` (24 shuffles: unpack, shuffle, lane swap).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn transpose8_avx2(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

/// The 8 columns of a 16×8 block of `f32` as 8 vectors of 16 lanes (AVX-512):
/// lane `k` of result `c` is `*p.offset(k·stride + c)`, row `k` of the block
/// being the 8 contiguous elements at `p + k·stride`. What the generated
/// code of a transposed read on AVX-512 (a packing copy of `Wᵀ`) loads
/// instead of gathering every lane from its own row.
///
/// Each half of the columns (0–3, 4–7) is loaded as 4 vectors whose 128-bit
/// lanes hold rows `q, q+4, q+8, q+12` (one load and three inserts from
/// memory), so that every 128-bit lane holds a 4×4 block; two rounds of
/// in-lane unpacks transpose the blocks, and result `c`'s lanes come out in
/// row order. 16 shuffles per 16×8 block, against the 56 of two AVX2 8×8
/// transposes joined: packing `W` of `linear` (128×784) took 9.4 µs
/// instead of 12.7 on Zen 4, family 25 model 17 (a plain copy of it: 7.5
/// µs; medians of 31 rounds, side by side).
///
/// # Safety
/// The CPU must support AVX-512F; the 16 rows of 8 elements must be readable.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn transpose8x16_avx512(p: *const f32, stride: isize) -> [__m512; 8] {
    let mut out = [_mm512_setzero_ps(); 8];
    for h in 0..2 {
        let mut a = [_mm512_setzero_ps(); 4];
        for (q, a) in a.iter_mut().enumerate() {
            let row = |l: usize| _mm_loadu_ps(p.offset((q + 4 * l) as isize * stride + 4 * h as isize));
            let mut z = _mm512_castps128_ps512(row(0));
            z = _mm512_insertf32x4::<1>(z, row(1));
            z = _mm512_insertf32x4::<2>(z, row(2));
            *a = _mm512_insertf32x4::<3>(z, row(3));
        }
        // Per 128-bit lane: t0 = (r0c0 r1c0 r0c1 r1c1), t1 = (r0c2 r1c2 r0c3 r1c3), t2/t3 the same of rows 2, 3.
        let t0 = _mm512_castps_pd(_mm512_unpacklo_ps(a[0], a[1]));
        let t1 = _mm512_castps_pd(_mm512_unpackhi_ps(a[0], a[1]));
        let t2 = _mm512_castps_pd(_mm512_unpacklo_ps(a[2], a[3]));
        let t3 = _mm512_castps_pd(_mm512_unpackhi_ps(a[2], a[3]));
        out[4 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        out[4 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        out[4 * h + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        out[4 * h + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    out
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn transposes() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let m: Vec<f32> = (0..64).map(|k| k as f32 * 1.5 - 7.0).collect();
        let mut out = [0f32; 64];
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(m[8 * k..].as_ptr()));
            for (c, v) in transpose8_avx2(r).iter().enumerate() {
                _mm256_storeu_ps(out[8 * c..].as_mut_ptr(), *v);
            }
        }
        for c in 0..8 {
            for k in 0..8 {
                assert_eq!(out[8 * c + k].to_bits(), m[8 * k + c].to_bits(), "({c}, {k})");
            }
        }
    }

    #[test]
    fn transposes_16_rows_of_8() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        // 16 rows of 8 at a stride of 11 (the block inside a wider matrix).
        let m: Vec<f32> = (0..16 * 11).map(|k| k as f32 * 0.75 - 30.0).collect();
        let mut out = [0f32; 128];
        unsafe {
            for (c, v) in transpose8x16_avx512(m.as_ptr(), 11).iter().enumerate() {
                _mm512_storeu_ps(out[16 * c..].as_mut_ptr(), *v);
            }
        }
        for c in 0..8 {
            for k in 0..16 {
                assert_eq!(out[16 * c + k].to_bits(), m[11 * k + c].to_bits(), "({c}, {k})");
            }
        }
    }
}
