//! The AVX-512 vector math, run on the emulated intrinsics (`src/emu512.rs`,
//! the module every test batch compiles): `kiln::simd`'s AVX-512 bodies
//! expanded over the emulation compute, bit for bit, what the AVX2 functions
//! compute on this CPU (whose error bounds `kiln-runtime`'s tests measure),
//! over a stride of all floats and the special values; the same for the
//! `#[fast_math]` forms (`exp_fast`, ..). And the emulated
//! intrinsics the math uses beyond the code generator's, against their
//! definitions.

#![cfg(target_arch = "x86_64")]

include!("../src/emu512.rs");

use std::arch::x86_64::{__m256, _mm256_loadu_ps, _mm256_storeu_ps};

type Avx2 = unsafe fn(__m256) -> __m256;
type Emulated = unsafe fn(emu512::__m512) -> emu512::__m512;

/// Inputs: the bit patterns `0, stride, ..` (both signs) and the special values.
fn inputs(stride: u32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..=u32::MAX / stride).map(|k| f32::from_bits(k * stride)).collect();
    let special = [0.0, f32::INFINITY, f32::NAN, f32::MIN_POSITIVE, f32::MAX, f32::from_bits(1), 1.0, 0.5];
    v.extend(special.iter().flat_map(|x| [*x, -*x]));
    v.extend([88.722_83, 88.722_84, -103.972_07, -104.0, 9.02, 1.0, -87.5, 87.5]);
    v
}

fn same_bits(name: &str, avx2: Avx2, emulated: Emulated) {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        eprintln!("no AVX2+FMA: skipped");
        return;
    }
    let xs = inputs(1021);
    for chunk in xs.chunks(16) {
        let mut x = [0f32; 16];
        x[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: the CPU has AVX2 and FMA; the emulation is portable code.
        let e = unsafe { emulated(emu512::__m512(x)) }.0;
        let mut a = [0f32; 16];
        for h in 0..2 {
            unsafe { _mm256_storeu_ps(a[8 * h..].as_mut_ptr(), avx2(_mm256_loadu_ps(x[8 * h..].as_ptr()))) };
        }
        for k in 0..16 {
            let same = e[k].to_bits() == a[k].to_bits() || (e[k].is_nan() && a[k].is_nan());
            assert!(same, "{name}({:e}): emulated AVX-512 {:e}, AVX2 {:e}", x[k], e[k], a[k]);
        }
    }
}

#[test]
fn exp() {
    same_bits("exp", kiln::simd::exp_avx2, emu512::exp_avx512);
}

#[test]
fn tanh() {
    same_bits("tanh", kiln::simd::tanh_avx2, emu512::tanh_avx512);
}

#[test]
fn sigmoid() {
    same_bits("sigmoid", kiln::simd::sigmoid_avx2, emu512::sigmoid_avx512);
}

#[test]
fn exp_fast() {
    same_bits("exp_fast", kiln::simd::exp_fast_avx2, emu512::exp_fast_avx512);
}

#[test]
fn tanh_fast() {
    same_bits("tanh_fast", kiln::simd::tanh_fast_avx2, emu512::tanh_fast_avx512);
}

#[test]
fn sigmoid_fast() {
    same_bits("sigmoid_fast", kiln::simd::sigmoid_fast_avx2, emu512::sigmoid_fast_avx512);
}

#[test]
fn ln() {
    same_bits("ln", kiln::simd::ln_avx2, emu512::ln_avx512);
}

/// The exact division by a shared divisor (`kiln::simd::div_by_avx512`, the
/// body over the emulation) gives, per half, `div_by_avx2`'s bits, which are
/// `vdivps`'s: numerators across the whole float range and the safe range's
/// ends, divisors inside and outside theirs, zeros, ∞, NaN, denormals.
#[test]
fn div_by() {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return;
    }
    let xs = inputs(4099);
    let mut divisors: Vec<f32> = vec![3.0, -0.1, 768.0, 1e-30, 1e30, 0.0, f32::INFINITY, f32::NAN, 1e-40, 6.02e23];
    divisors.extend([8.673_617e-19, 1.152_921_5e18, 8.673_616e-19, 1.152_921_6e18]);
    let in_range: Vec<f32> = (0..4096u32).map(|k| f32::from_bits(0x2000_0000 + k * 0x0007_ff01)).collect();
    for b in divisors.iter().flat_map(|b| [*b, -*b]) {
        for xs in [&xs, &in_range] {
            for chunk in xs.chunks(16) {
                let mut x = [1.5f32; 16];
                x[..chunk.len()].copy_from_slice(chunk);
                // SAFETY: the CPU has AVX2 and FMA; the emulation is portable code.
                let e = unsafe { emu512::div_by_avx512(emu512::__m512(x), b) }.0;
                let mut a = [0f32; 16];
                for h in 0..2 {
                    unsafe {
                        let v = kiln::simd::div_by_avx2(_mm256_loadu_ps(x[8 * h..].as_ptr()), b);
                        _mm256_storeu_ps(a[8 * h..].as_mut_ptr(), v);
                    }
                }
                for k in 0..16 {
                    let same = e[k].to_bits() == a[k].to_bits() || (e[k].is_nan() && a[k].is_nan());
                    let want = x[k] / b;
                    let exact = a[k].to_bits() == want.to_bits() || (a[k].is_nan() && want.is_nan());
                    assert!(
                        same && exact,
                        "{:e} / {b:e}: emulated AVX-512 {:e}, AVX2 {:e}, want {want:e}",
                        x[k],
                        e[k],
                        a[k]
                    );
                }
            }
        }
    }
}

/// The lockstep forms (`kiln::simd::avx512_x2`, `avx512_x4`: the bodies over
/// packed intrinsics), expanded over the emulation: every vector of a pack
/// gets the bits of the one-vector body, whatever the other vectors hold.
#[test]
fn lockstep_forms_compute_each_vector_as_alone() {
    use emu512::{__m512, avx512_x2 as x2, avx512_x4 as x4};
    type One = unsafe fn(__m512) -> __m512;
    type Two = unsafe fn([__m512; 2]) -> [__m512; 2];
    type Four = unsafe fn([__m512; 4]) -> [__m512; 4];
    let fs: [(&str, One, Two, Four); 7] = [
        ("exp", emu512::exp_avx512, x2::exp, x4::exp),
        ("tanh", emu512::tanh_avx512, x2::tanh, x4::tanh),
        ("sigmoid", emu512::sigmoid_avx512, x2::sigmoid, x4::sigmoid),
        ("ln", emu512::ln_avx512, x2::ln, x4::ln),
        ("exp_fast", emu512::exp_fast_avx512, x2::exp_fast, x4::exp_fast),
        ("tanh_fast", emu512::tanh_fast_avx512, x2::tanh_fast, x4::tanh_fast),
        ("sigmoid_fast", emu512::sigmoid_fast_avx512, x2::sigmoid_fast, x4::sigmoid_fast),
    ];
    let xs = inputs(1_000_003);
    for (name, one, two, four) in fs {
        for chunk in xs.chunks(64) {
            let mut x = [[0f32; 16]; 4];
            for (k, v) in chunk.iter().enumerate() {
                x[k / 16][k % 16] = *v;
            }
            let v = x.map(__m512);
            // SAFETY: the emulation is portable code.
            let (got2, got4) = unsafe { (two([v[0], v[1]]), four(v)) };
            for (k, got) in got4.iter().chain(&got2).enumerate() {
                let alone = unsafe { one(v[k % 4]) };
                let same = (0..16)
                    .all(|l| got.0[l].to_bits() == alone.0[l].to_bits() || (got.0[l].is_nan() && alone.0[l].is_nan()));
                assert!(same, "{name} of {:?}: {:?} in lockstep, {:?} alone", x[k % 4], got.0, alone.0);
            }
        }
    }
}

#[test]
fn scalef_rounds_once() {
    use emu512::*;
    let s = |a: f32, b: f32| unsafe { _mm512_scalef_ps(_mm512_set1_ps(a), _mm512_set1_ps(b)).0[0] };
    assert_eq!(s(1.5, 3.7), 12.0);
    assert_eq!(s(1.0, -149.0), f32::from_bits(1));
    // 1.5·2^-150 is 0.75 of the smallest subnormal: rounds up; 1.0·2^-150 ties to even (0).
    assert_eq!(s(1.5, -150.0), f32::from_bits(1));
    assert_eq!(s(1.0, -150.0), 0.0);
    assert_eq!(s(f32::from_bits(0x3fff_ffff), 127.0), f32::MAX);
    assert_eq!(s(1.0, 128.0), f32::INFINITY);
    assert_eq!(s(-1.0, 128.0), f32::NEG_INFINITY);
    assert_eq!(s(3.0, f32::NEG_INFINITY), 0.0);
    assert!(s(0.0, f32::INFINITY).is_nan() && s(f32::INFINITY, f32::NEG_INFINITY).is_nan());
    assert!(s(f32::NAN, 1.0).is_nan() && s(1.0, f32::NAN).is_nan());
    // A quiet NaN scaled by ±∞: +∞ and +0 (VSCALEFPS's special cases; the
    // hardware's bits, checked by emu512_native.rs on AVX-512 machines).
    assert_eq!((s(f32::NAN, f32::INFINITY), s(f32::NAN, f32::NEG_INFINITY)), (f32::INFINITY, 0.0));
    unsafe {
        let v = _mm512_castps_si512(_mm512_set1_ps(-2.0));
        assert_eq!(_mm512_srai_epi32::<23>(v).0[0], (-2.0f32).to_bits() as i32 >> 23);
        assert_eq!(_mm512_slli_epi32::<23>(_mm512_set1_epi32(3)).0[0], 3 << 23);
        assert_eq!(_mm512_cvtepi32_ps(_mm512_set1_epi32(16_777_217)).0[0], 16_777_216.0);
        let m = _mm512_mask_sub_ps(_mm512_set1_ps(7.0), 0b10, _mm512_set1_ps(1.0), _mm512_set1_ps(3.0));
        assert_eq!(&m.0[..3], &[7.0, -2.0, 7.0]);
    }
}
