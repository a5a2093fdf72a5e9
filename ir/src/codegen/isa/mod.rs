//! The vector operations of each instruction set the code generator targets,
//! each implementing the same small op set (splat, load, store, arithmetic,
//! fma, compare, select, math). What the targets are (lanes, registers,
//! features) is `crate::target`'s.

mod avx2;
mod avx512;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{BinOp, DataType, UnOp};
use crate::target::Isa;

pub use avx2::Avx2;
pub use avx512::Avx512;

/// The vector operations of `isa` (`None` for scalar code).
pub(crate) fn ops(isa: Isa) -> Option<&'static dyn VectorOps> {
    match isa {
        Isa::Scalar => None,
        Isa::Avx2 => Some(&Avx2),
        Isa::Avx512 => Some(&Avx512),
    }
}

/// Whether vectors of `dt` hold `f32` (`_ps` intrinsics) rather than `f64` (`_pd`).
fn ps(dt: DataType) -> bool {
    dt == DataType::F32
}

/// Whether `kiln::simd` has `op` of `f32` vectors as a function in lockstep
/// over several vectors (`exp`, `tanh`, `sigmoid`, `ln`, on every vector
/// ISA: `VectorOps::unary_group`).
fn has_group_form(dt: DataType, op: UnOp) -> bool {
    ps(dt) && matches!(op, UnOp::Exp | UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln)
}

/// The intrinsic `$f` for `f32` vectors or `$d` for `f64` ones.
macro_rules! pick {
    ($dt:expr, $f:ident, $d:ident) => {
        if ps($dt) {
            quote!($f)
        } else {
            quote!($d)
        }
    };
}
use pick;

/// The `_CMP_*` predicate of comparison `op` (ordered and quiet; `!=` is
/// unordered, so it holds for NaN), the same for AVX2 and AVX-512.
fn cmp_predicate(op: BinOp) -> TokenStream {
    match op {
        BinOp::Lt => quote!(_CMP_LT_OQ),
        BinOp::Le => quote!(_CMP_LE_OQ),
        BinOp::Gt => quote!(_CMP_GT_OQ),
        BinOp::Ge => quote!(_CMP_GE_OQ),
        BinOp::Eq => quote!(_CMP_EQ_OQ),
        _ => quote!(_CMP_NEQ_UQ),
    }
}

/// Where vector code finds the functions it calls besides the intrinsics:
/// vector math (`exp_avx2`, `tanh_avx512`, ..: `<function>_<isa>`) in `simd`, AVX2 lane masks
/// (`avx2_lane_mask32`) in `runtime`. By default kiln's `::kiln::simd` and
/// `::kiln::runtime`; for emulated code, the emulation module, which then
/// provides the intrinsics and these helpers alike.
pub(crate) struct Helpers {
    pub simd: TokenStream,
    pub runtime: TokenStream,
}

impl Helpers {
    /// kiln's helpers, or those of the emulation module `emulate`.
    pub fn new(emulate: Option<&TokenStream>) -> Helpers {
        match emulate {
            None => Helpers { simd: quote!(::kiln::simd), runtime: quote!(::kiln::runtime) },
            Some(m) => Helpers { simd: m.clone(), runtime: m.clone() },
        }
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
    fn load_partial(&self, h: &Helpers, dt: DataType, ptr: TokenStream, n: TokenStream) -> TokenStream;
    fn store_partial(&self, h: &Helpers, dt: DataType, ptr: TokenStream, v: TokenStream, n: TokenStream)
        -> TokenStream;
    /// A vector from scalars, lane 0 first.
    fn gather_lanes(&self, dt: DataType, lanes: Vec<TokenStream>) -> TokenStream;
    /// `+ - * / min max`; `None` for other operators.
    fn binary(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> Option<TokenStream>;
    /// `a * b + c`.
    fn fma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream;
    /// `c - a * b`.
    fn fnma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream;
    fn unary(&self, h: &Helpers, dt: DataType, op: UnOp, a: TokenStream) -> Option<TokenStream>;
    /// `#[fast_math]`'s `exp`, `tanh` or `sigmoid` of `f32` lanes
    /// (`kiln::simd::<op>_fast_<isa>`); `None` for other operations.
    fn unary_fast(&self, h: &Helpers, dt: DataType, op: UnOp, a: TokenStream) -> Option<TokenStream> {
        if !ps(dt) || !matches!(op, UnOp::Exp | UnOp::Tanh | UnOp::Sigmoid) {
            return None;
        }
        let f = quote::format_ident!("{}_fast_{}", op.name(), self.name());
        let simd = &h.simd;
        Some(quote!(#simd::#f(#a)))
    }
    /// The lockstep form of `op` (`fast`: `#[fast_math]`'s) over the vectors
    /// `args`, an array of their results (`kiln::simd::exp_avx2_n([..])`),
    /// where the runtime has one ([`crate::codegen`]'s `lockstep`).
    fn unary_group(
        &self,
        _h: &Helpers,
        _dt: DataType,
        _op: UnOp,
        _fast: bool,
        _args: &[TokenStream],
    ) -> Option<TokenStream> {
        None
    }
    /// The ISA's suffix in `kiln::simd`'s names (`avx2`, `avx512`).
    fn name(&self) -> &'static str;
    /// A comparison mask.
    fn cmp(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_and(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_or(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream;
    fn mask_not(&self, dt: DataType, a: TokenStream) -> TokenStream;
    /// Lane-wise `mask ? t : f`.
    fn select(&self, dt: DataType, mask: TokenStream, t: TokenStream, f: TokenStream) -> TokenStream;
    /// The mask of [`VectorOps::select`] that picks lanes `0..n` (`n`: a `usize`).
    fn prefix_mask(&self, h: &Helpers, dt: DataType, n: TokenStream) -> TokenStream;
    /// `a / s` for a scalar `s` shared by the lanes, exactly as the vector
    /// division rounds it, when the ISA has a faster exact form (`None`: the
    /// vector division).
    fn div_by(&self, _h: &Helpers, _dt: DataType, _a: TokenStream, _s: TokenStream) -> Option<TokenStream> {
        None
    }
}
