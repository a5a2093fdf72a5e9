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
}
