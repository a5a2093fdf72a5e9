//! Vector math the generated code calls, one function family per file, each
//! for AVX2+FMA (`_avx2`, 8 × `f32`) and AVX-512F (`_avx512`, 16 × `f32`):
//!
//! | function | max error (ulp, every `f32`, against `f64`) | where |
//! |---|---|---|
//! | `exp` | 0.891 | [`exp`] |
//! | `tanh` | 0.973 | [`tanh`] |
//! | `sigmoid` (`1/(1 + e^−x)`) | 0.962 | [`sigmoid`] |
//! | `ln` | 0.901 | [`ln`] |
//!
//! and [`div_by_avx2`] / [`div_by_avx512`], an exact division by a divisor
//! shared by the lanes.
//! The `#[fast_math]` forms (`exp_fast`, `tanh_fast`, `sigmoid_fast`:
//! [`fast`]) trade a few ulp for fewer steps: 2.02, 2.87 and 3.50 ulp.
//! (`rsqrt` needs no function: the generated code divides 1 by the square
//! root, two IEEE roundings, as the interpreter does.) The bounds are measured
//! by each file's tests over a dense stride of all floats and the special
//! values (`KILN_ULP_STRIDE=1 cargo test --release -p kiln-runtime simd`
//! checks every float, about half an hour on 2 cores). Subnormal inputs and
//! results are exact to the same bound; infinities and NaN behave as in `f64`.
//!
//! The AVX-512 and AVX2 forms compute the same bits. The AVX-512 bodies are
//! macros over the `_mm512_*` names in scope where they expand
//! ([`avx512_bodies`]): the functions here expand them over `std::arch`,
//! the AVX-512 emulation the tuner tests with (`tuner/src/emu512.rs`) over
//! its own intrinsics, so that the same algorithm is checked against the AVX2
//! form on machines without AVX-512 (`tuner/tests/emu512_math.rs`); on
//! machines with it, `tuner/tests/emu512_native.rs` checks the emulated
//! intrinsics and these functions against the hardware's bits.

pub mod div;
pub mod exp;
pub mod fast;
pub mod ln;
mod pack;
pub mod pack512;
pub mod sigmoid;
pub mod tanh;
pub mod transpose;
#[cfg(all(test, target_arch = "x86_64"))]
mod ulp;

pub use div::markstein;
#[cfg(target_arch = "x86_64")]
pub use div::{div_by_avx2, div_by_avx512};
#[cfg(target_arch = "x86_64")]
pub use exp::{exp_avx2, exp_avx2_n, exp_avx512};
#[cfg(target_arch = "x86_64")]
pub use fast::{
    exp_fast_avx2, exp_fast_avx2_n, exp_fast_avx512, sigmoid_fast_avx2, sigmoid_fast_avx2_n, sigmoid_fast_avx512,
    tanh_fast_avx2, tanh_fast_avx2_n, tanh_fast_avx512,
};
#[cfg(target_arch = "x86_64")]
pub use ln::{ln_avx2, ln_avx2_n, ln_avx512};
#[cfg(target_arch = "x86_64")]
pub use pack512::{avx512_x2, avx512_x4};
#[cfg(target_arch = "x86_64")]
pub use sigmoid::{sigmoid_avx2, sigmoid_avx2_n, sigmoid_avx512};
#[cfg(target_arch = "x86_64")]
pub use tanh::{tanh_avx2, tanh_avx2_n, tanh_avx512};
#[cfg(target_arch = "x86_64")]
pub use transpose::{transpose8_avx2, transpose8x16_avx512};

/// The bodies of the `_avx512` functions, as macros taking the input vector:
/// `exp!(x)`, `tanh!(x)`, `sigmoid!(x)`, `ln!(x)`; and `div_by!(a, b)`. They call the `_mm512_*`
/// intrinsics (and name `__m512`, `_CMP_*`) unqualified: an expansion uses
/// whatever is in scope, `std::arch::x86_64` or an emulation of it.
#[doc(hidden)]
pub mod avx512_bodies {
    pub use crate::{
        __kiln_div_by_avx512 as div_by, __kiln_exp_avx512 as exp, __kiln_exp_fast_avx512 as exp_fast,
        __kiln_ln_avx512 as ln, __kiln_pack512 as pack512, __kiln_sigmoid_avx512 as sigmoid,
        __kiln_sigmoid_fast_avx512 as sigmoid_fast, __kiln_tanh_avx512 as tanh, __kiln_tanh_fast_avx512 as tanh_fast,
    };
}
