//! The emulation of AVX-512 (`src/emu512.rs`) against the hardware, on a CPU
//! that has AVX-512F (elsewhere these tests say so and pass): every emulated
//! intrinsic gives the real one's bits on random and special operands, and
//! kiln's AVX-512 math (`kiln::simd::*_avx512`, the lockstep packs
//! `avx512_x2`/`avx512_x4`, `div_by_avx512`) run on the real intrinsics gives
//! the bits of the same bodies expanded over the emulation. Together with
//! `emu512_math.rs` (emulated AVX-512 = AVX2, checked on any x86-64 CPU), the
//! code AVX-512 machines run is then the code measured everywhere. NaN
//! results must be NaN on both sides (the emulation keeps no payloads).

#![cfg(target_arch = "x86_64")]

include!("../src/emu512.rs");

use std::arch::x86_64 as hw;

fn native() -> bool {
    let ok = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    if !ok {
        eprintln!("no AVX-512F: skipped (the emulation is checked against AVX2 in emu512_math.rs)");
    }
    ok
}

/// Operands: ±0, ±∞, NaN, subnormals, the ends of the normal range, small
/// integers, and random bit patterns, in an order that pairs every kind
/// with every other across the three operand streams.
fn operands(n: usize, seed: u32) -> Vec<f32> {
    let special = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(1),
        f32::from_bits(0x807f_ffff),
        f32::MIN_POSITIVE,
        f32::MAX,
        -f32::MAX,
        1.0,
        -1.0,
        0.5,
        3.0,
        -150.0,
        200.0,
        1.5,
    ];
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    };
    (0..n)
        .map(|i| {
            let r = next();
            match r % 4 {
                0 => special[(r >> 8) as usize % special.len()],
                // Values near 1 (where the math's arguments live), then any bits.
                1 => f32::from_bits(0x3f00_0000 + (r >> 9)) * if r & 256 == 0 { 1.0 } else { -1.0 },
                _ => f32::from_bits(r.wrapping_mul(2_654_435_761).wrapping_add(i as u32)),
            }
        })
        .collect()
}

fn same(what: &str, emulated: &[f32], real: &[f32], args: &[&[f32]]) {
    for k in 0..emulated.len() {
        let ok = emulated[k].to_bits() == real[k].to_bits() || (emulated[k].is_nan() && real[k].is_nan());
        let lane: Vec<f32> = args.iter().map(|a| a[k]).collect();
        assert!(
            ok,
            "{what}{lane:?}: emulated {:e} ({:#x}), hardware {:e} ({:#x})",
            emulated[k],
            emulated[k].to_bits(),
            real[k],
            real[k].to_bits()
        );
    }
}

unsafe fn load(x: &[f32]) -> hw::__m512 {
    hw::_mm512_loadu_ps(x.as_ptr())
}

unsafe fn store(v: hw::__m512) -> [f32; 16] {
    let mut out = [0f32; 16];
    hw::_mm512_storeu_ps(out.as_mut_ptr(), v);
    out
}

unsafe fn store_i(v: hw::__m512i) -> [i32; 16] {
    let mut out = [0i32; 16];
    hw::_mm512_storeu_si512(out.as_mut_ptr().cast(), v);
    out
}

fn emu(x: &[f32]) -> emu512::__m512 {
    emu512::__m512(std::array::from_fn(|i| x[i]))
}

fn emu_i(x: &[f32]) -> emu512::__m512i {
    emu512::__m512i(std::array::from_fn(|i| x[i].to_bits() as i32))
}

/// Each emulated `_mm512_*` intrinsic of `f32` lanes the code generator and the
/// vector math use, against the hardware's, on 20 000 vectors of operands.
#[test]
fn intrinsics_match_the_hardware() {
    if !native() {
        return;
    }
    let n = 16 * 20_000;
    let (xa, xb, xc) = (operands(n, 0x2545_f491), operands(n, 0x9e37_79b9), operands(n, 0x1234_5677));
    for v in 0..n / 16 {
        let r = 16 * v..16 * v + 16;
        let (a, b, c) = (&xa[r.clone()], &xb[r.clone()], &xc[r]);
        // Scaling exponents that reach every binade and beyond, not only huge ones.
        let e: Vec<f32> = b.iter().map(|x| if x.is_finite() { (x % 300.0).trunc() } else { *x }).collect();
        let k = (v as u32).wrapping_mul(40_503) as u16;
        macro_rules! binary {
            ($($f:ident),*) => {$(
                // SAFETY: the CPU has AVX-512F; the emulation is portable code.
                let (got, want) = unsafe { (emu512::$f(emu(a), emu(b)).0, store(hw::$f(load(a), load(b)))) };
                same(stringify!($f), &got, &want, &[a, b]);
            )*};
        }
        binary!(_mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps, _mm512_min_ps, _mm512_max_ps);
        macro_rules! ternary {
            ($($f:ident),*) => {$(
                let (got, want) = unsafe { (emu512::$f(emu(a), emu(b), emu(c)).0, store(hw::$f(load(a), load(b), load(c)))) };
                same(stringify!($f), &got, &want, &[a, b, c]);
            )*};
        }
        ternary!(_mm512_fmadd_ps, _mm512_fnmadd_ps);
        unsafe {
            same(
                "_mm512_scalef_ps",
                &emu512::_mm512_scalef_ps(emu(a), emu(&e)).0,
                &store(hw::_mm512_scalef_ps(load(a), load(&e))),
                &[a, &e],
            );
            same("_mm512_sqrt_ps", &emu512::_mm512_sqrt_ps(emu(a)).0, &store(hw::_mm512_sqrt_ps(load(a))), &[a]);
            same("_mm512_abs_ps", &emu512::_mm512_abs_ps(emu(a)).0, &store(hw::_mm512_abs_ps(load(a))), &[a]);
            let got = emu512::_mm512_mask_mul_ps(emu(c), k, emu(a), emu(b)).0;
            same("_mm512_mask_mul_ps", &got, &store(hw::_mm512_mask_mul_ps(load(c), k, load(a), load(b))), &[c, a, b]);
            let got = emu512::_mm512_mask_sub_ps(emu(c), k, emu(a), emu(b)).0;
            same("_mm512_mask_sub_ps", &got, &store(hw::_mm512_mask_sub_ps(load(c), k, load(a), load(b))), &[c, a, b]);
            let got = emu512::_mm512_mask_blend_ps(k, emu(a), emu(b)).0;
            same("_mm512_mask_blend_ps", &got, &store(hw::_mm512_mask_blend_ps(k, load(a), load(b))), &[a, b]);
            macro_rules! compare {
                ($($p:ident),*) => {$(
                    let got = emu512::_mm512_cmp_ps_mask::<{ emu512::$p }>(emu(a), emu(b));
                    let want = hw::_mm512_cmp_ps_mask::<{ hw::$p }>(load(a), load(b));
                    assert_eq!(got, want, "_mm512_cmp_ps_mask::<{}>({a:?}, {b:?})", stringify!($p));
                )*};
            }
            compare!(_CMP_EQ_OQ, _CMP_NEQ_UQ, _CMP_LT_OQ, _CMP_LE_OQ, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_NGE_UQ);
            // The integer operations the math uses, on the operands' bits.
            let (ia, ib) = (hw::_mm512_castps_si512(load(a)), hw::_mm512_castps_si512(load(b)));
            let bits = |x: [i32; 16]| x.map(|v| f32::from_bits(v as u32));
            macro_rules! integer {
                ($($f:ident $(::<$imm:literal>)?),*) => {$(
                    let got = bits(emu512::$f$(::<$imm>)?(emu_i(a), emu_i(b)).0);
                    let want = bits(store_i(hw::$f$(::<$imm>)?(ia, ib)));
                    same(stringify!($f), &got, &want, &[a, b]);
                )*};
            }
            integer!(_mm512_add_epi32, _mm512_sub_epi32, _mm512_and_si512, _mm512_xor_si512);
            macro_rules! shift {
                ($($f:ident::<$imm:literal>),*) => {$(
                    let got = bits(emu512::$f::<$imm>(emu_i(a)).0);
                    let want = bits(store_i(hw::$f::<$imm>(ia)));
                    same(stringify!($f), &got, &want, &[a]);
                )*};
            }
            shift!(_mm512_slli_epi32::<1>, _mm512_slli_epi32::<23>, _mm512_srai_epi32::<1>, _mm512_srai_epi32::<23>);
            let got = emu512::_mm512_cvtepi32_ps(emu_i(a)).0;
            same("_mm512_cvtepi32_ps", &got, &store(hw::_mm512_cvtepi32_ps(ia)), &[a]);
            let got = emu512::_mm512_test_epi32_mask(emu_i(a), emu_i(b));
            assert_eq!(got, hw::_mm512_test_epi32_mask(ia, ib), "_mm512_test_epi32_mask({a:?}, {b:?})");
        }
    }
}

/// The same for the `f64` lanes (`_mm512_*_pd`) of `f64` kernels: operands
/// from the `f32` ones widened, and random 64-bit patterns.
#[test]
fn f64_intrinsics_match_the_hardware() {
    if !native() {
        return;
    }
    let n = 8 * 20_000;
    let wide = |seed: u32| -> Vec<f64> {
        let (lo, hi) = (operands(n, seed), operands(n, seed ^ 0x5555_aaaa));
        (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    f64::from_bits((hi[i].to_bits() as u64) << 32 | lo[i].to_bits() as u64)
                } else {
                    lo[i] as f64
                }
            })
            .collect()
    };
    let (xa, xb, xc) = (wide(0x2545_f491), wide(0x9e37_79b9), wide(0x1234_5677));
    let load = |x: &[f64]| unsafe { hw::_mm512_loadu_pd(x.as_ptr()) };
    let store = |v: hw::__m512d| {
        let mut out = [0f64; 8];
        unsafe { hw::_mm512_storeu_pd(out.as_mut_ptr(), v) };
        out
    };
    let emu = |x: &[f64]| emu512::__m512d(std::array::from_fn(|i| x[i]));
    let same = |what: &str, got: [f64; 8], want: [f64; 8], args: &[&[f64]]| {
        for k in 0..8 {
            let ok = got[k].to_bits() == want[k].to_bits() || (got[k].is_nan() && want[k].is_nan());
            let lane: Vec<f64> = args.iter().map(|a| a[k]).collect();
            assert!(ok, "{what}{lane:?}: emulated {:e}, hardware {:e}", got[k], want[k]);
        }
    };
    for v in 0..n / 8 {
        let r = 8 * v..8 * v + 8;
        let (a, b, c) = (&xa[r.clone()], &xb[r.clone()], &xc[r]);
        // SAFETY: the CPU has AVX-512F; the emulation is portable code.
        unsafe {
            macro_rules! binary {
                ($($f:ident),*) => {$( same(stringify!($f), emu512::$f(emu(a), emu(b)).0, store(hw::$f(load(a), load(b))), &[a, b]); )*};
            }
            binary!(_mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd, _mm512_div_pd, _mm512_min_pd, _mm512_max_pd);
            macro_rules! ternary {
                ($($f:ident),*) => {$(
                    same(stringify!($f), emu512::$f(emu(a), emu(b), emu(c)).0, store(hw::$f(load(a), load(b), load(c))), &[a, b, c]);
                )*};
            }
            ternary!(_mm512_fmadd_pd, _mm512_fnmadd_pd);
            same("_mm512_sqrt_pd", emu512::_mm512_sqrt_pd(emu(a)).0, store(hw::_mm512_sqrt_pd(load(a))), &[a]);
            same("_mm512_abs_pd", emu512::_mm512_abs_pd(emu(a)).0, store(hw::_mm512_abs_pd(load(a))), &[a]);
            let k = (v as u8).wrapping_mul(37);
            let got = emu512::_mm512_mask_blend_pd(k, emu(a), emu(b)).0;
            same("_mm512_mask_blend_pd", got, store(hw::_mm512_mask_blend_pd(k, load(a), load(b))), &[a, b]);
            macro_rules! compare {
                ($($p:ident),*) => {$(
                    let got = emu512::_mm512_cmp_pd_mask::<{ emu512::$p }>(emu(a), emu(b));
                    let want = hw::_mm512_cmp_pd_mask::<{ hw::$p }>(load(a), load(b));
                    assert_eq!(got, want, "_mm512_cmp_pd_mask::<{}>({a:?}, {b:?})", stringify!($p));
                )*};
            }
            compare!(_CMP_EQ_OQ, _CMP_NEQ_UQ, _CMP_LT_OQ, _CMP_LE_OQ, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_NGE_UQ);
        }
    }
}

type Native = unsafe fn(hw::__m512) -> hw::__m512;
type Emulated = unsafe fn(emu512::__m512) -> emu512::__m512;

/// kiln's AVX-512 math on the hardware gives the emulation's bits (a stride of
/// all floats, both signs, and the special values), one vector at a time and
/// in the lockstep packs.
#[test]
fn math_matches_the_hardware() {
    if !native() {
        return;
    }
    use kiln::simd::{avx512_x2 as x2, avx512_x4 as x4};
    type Two = unsafe fn([hw::__m512; 2]) -> [hw::__m512; 2];
    type Four = unsafe fn([hw::__m512; 4]) -> [hw::__m512; 4];
    let fs: [(&str, Native, Emulated, Two, Four); 7] = [
        ("exp", kiln::simd::exp_avx512, emu512::exp_avx512, x2::exp, x4::exp),
        ("tanh", kiln::simd::tanh_avx512, emu512::tanh_avx512, x2::tanh, x4::tanh),
        ("sigmoid", kiln::simd::sigmoid_avx512, emu512::sigmoid_avx512, x2::sigmoid, x4::sigmoid),
        ("ln", kiln::simd::ln_avx512, emu512::ln_avx512, x2::ln, x4::ln),
        ("exp_fast", kiln::simd::exp_fast_avx512, emu512::exp_fast_avx512, x2::exp_fast, x4::exp_fast),
        ("tanh_fast", kiln::simd::tanh_fast_avx512, emu512::tanh_fast_avx512, x2::tanh_fast, x4::tanh_fast),
        (
            "sigmoid_fast",
            kiln::simd::sigmoid_fast_avx512,
            emu512::sigmoid_fast_avx512,
            x2::sigmoid_fast,
            x4::sigmoid_fast,
        ),
    ];
    let mut xs: Vec<f32> = (0..=u32::MAX / 4099).map(|k| f32::from_bits(k * 4099)).collect();
    xs.extend(operands(16 * 64, 7));
    xs.extend([88.722_83, 88.722_84, -103.972_07, -104.0, 9.02, 9.1, 1.0, -87.5, 87.5, f32::from_bits(0x3f7f_ffff)]);
    xs.resize(xs.len().next_multiple_of(64), 1.0);
    for (name, real, emulated, two, four) in fs {
        for x in xs.chunks(64) {
            // SAFETY: the CPU has AVX-512F; the emulation is portable code.
            unsafe {
                let v: [hw::__m512; 4] = std::array::from_fn(|k| load(&x[16 * k..]));
                let got4 = four(v).map(|r| store(r));
                let got2 = two([v[0], v[1]]).map(|r| store(r));
                for k in 0..4 {
                    let lanes = &x[16 * k..16 * k + 16];
                    let want = emulated(emu(lanes)).0;
                    let alone = store(real(v[k]));
                    same(name, &want, &alone, &[lanes]);
                    same(&format!("{name} (4 in lockstep)"), &want, &got4[k], &[lanes]);
                    if k < 2 {
                        same(&format!("{name} (2 in lockstep)"), &want, &got2[k], &[lanes]);
                    }
                }
            }
        }
    }
}

/// The exact division by a shared divisor on the hardware gives the
/// emulation's bits, which `emu512_math.rs` shows are `vdivps`'s.
#[test]
fn div_by_matches_the_hardware() {
    if !native() {
        return;
    }
    let xs = operands(16 * 4096, 11);
    let divisors = [3.0, -0.1, 768.0, 1e-30, 1e30, 0.0, f32::INFINITY, f32::NAN, 1e-40, 8.673_617e-19, 1.152_921_6e18];
    for b in divisors.iter().flat_map(|b| [*b, -*b]) {
        for x in xs.chunks(16) {
            // SAFETY: as above.
            let (got, want) =
                unsafe { (emu512::div_by_avx512(emu(x), b).0, store(kiln::simd::div_by_avx512(load(x), b))) };
            same(&format!("div_by(·, {b:e})"), &got, &want, &[x]);
        }
    }
}
