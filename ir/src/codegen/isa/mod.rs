//! The instruction sets the code generator targets, each implementing the same
//! small op set (splat, load, store, arithmetic, fma, compare, select, math).

mod avx2;
mod avx512;

use proc_macro2::TokenStream;

use crate::ir::{BinOp, DataType, UnOp};

pub use avx2::Avx2;
pub use avx512::Avx512;

/// A code-generation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, no intrinsics (the fallback on every target).
    Scalar,
    /// x86-64 AVX2 + FMA: 8 f32 lanes, 16 ymm registers.
    Avx2,
    /// x86-64 AVX-512F: 16 f32 lanes, 32 zmm registers.
    Avx512,
}

impl Isa {
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Scalar];

    /// The name used in traces and on the command line (`x86_64-avx512`'s suffix).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The key of this target in a trace file (`"x86_64-avx512"`).
    pub fn target_key(self) -> &'static str {
        match self {
            Isa::Scalar => "generic-scalar",
            Isa::Avx2 => "x86_64-avx2",
            Isa::Avx512 => "x86_64-avx512",
        }
    }

    pub fn from_name(s: &str) -> Option<Isa> {
        match s {
            "scalar" | "generic-scalar" => Some(Isa::Scalar),
            "avx2" | "x86_64-avx2" => Some(Isa::Avx2),
            "avx512" | "x86_64-avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// The `#[target_feature(enable = ...)]` string.
    pub fn target_features(self) -> Option<&'static str> {
        match self {
            Isa::Scalar => None,
            Isa::Avx2 => Some("avx2,fma"),
            Isa::Avx512 => Some("avx512f,avx2,fma"),
        }
    }

    /// SIMD lanes for `dtype` (1 for scalar).
    pub fn lanes(self, dtype: DataType) -> usize {
        let bits = match self {
            Isa::Scalar => return 1,
            Isa::Avx2 => 256,
            Isa::Avx512 => 512,
        };
        bits / 8 / dtype.bytes()
    }

    /// Vector registers available.
    pub fn registers(self) -> usize {
        match self {
            Isa::Scalar => 16,
            Isa::Avx2 => 16,
            Isa::Avx512 => 32,
        }
    }

    pub(crate) fn ops(self) -> Option<&'static dyn VectorOps> {
        match self {
            Isa::Scalar => None,
            Isa::Avx2 => Some(&Avx2),
            Isa::Avx512 => Some(&Avx512),
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The vector operations of one ISA, as token builders. `dt` is `F32` or
/// `F64`; masks are whatever the ISA's comparisons produce.
pub(crate) trait VectorOps: Sync {
    /// Whether vectors of `dt` are supported.
    fn supports(&self, dt: DataType) -> bool {
        dt.is_float()
    }
    fn splat(&self, dt: DataType, x: TokenStream) -> TokenStream;
    fn loadu(&self, dt: DataType, ptr: TokenStream) -> TokenStream;
    fn storeu(&self, dt: DataType, ptr: TokenStream, v: TokenStream) -> TokenStream;
    /// Lanes `0..n` from/to memory, the others zero / untouched (`n` is a runtime `usize`).
    fn load_partial(&self, dt: DataType, ptr: TokenStream, n: TokenStream) -> TokenStream;
    fn store_partial(&self, dt: DataType, ptr: TokenStream, v: TokenStream, n: TokenStream) -> TokenStream;
    /// A vector from scalars, lane 0 first.
    fn gather_lanes(&self, dt: DataType, lanes: Vec<TokenStream>) -> TokenStream;
    /// `+ - * / min max`; `None` for other operators.
    fn binary(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> Option<TokenStream>;
    /// `a * b + c`.
    fn fma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream;
    /// `c - a * b`.
    fn fnma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream;
    fn unary(&self, dt: DataType, op: UnOp, a: TokenStream) -> Option<TokenStream>;
    /// A comparison mask.
    fn cmp(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_and(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_or(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_not(&self, dt: DataType, a: TokenStream) -> TokenStream;
    /// Lane-wise `mask ? t : f`.
    fn select(&self, dt: DataType, mask: TokenStream, t: TokenStream, f: TokenStream) -> TokenStream;
}
