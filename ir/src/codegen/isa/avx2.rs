//! AVX2 + FMA: `__m256` (8 × f32) and `__m256d` (4 × f64).

use proc_macro2::TokenStream;
use quote::quote;

use super::{cmp_predicate, has_group_form, pick, ps, Helpers, VectorOps};
use crate::ir::{BinOp, DataType, UnOp};

pub struct Avx2;

impl VectorOps for Avx2 {
    fn name(&self) -> &'static str {
        "avx2"
    }

    fn splat(&self, dt: DataType, x: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_set1_ps, _mm256_set1_pd);
        quote!(#f(#x))
    }

    fn loadu(&self, dt: DataType, ptr: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_loadu_ps, _mm256_loadu_pd);
        quote!(#f(#ptr))
    }

    fn storeu(&self, dt: DataType, ptr: TokenStream, v: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_storeu_ps, _mm256_storeu_pd);
        quote!(#f(#ptr, #v))
    }

    fn load_partial(&self, h: &Helpers, dt: DataType, ptr: TokenStream, n: TokenStream) -> TokenStream {
        let rt = &h.runtime;
        if ps(dt) {
            quote!(_mm256_maskload_ps(#ptr, #rt::avx2_lane_mask32(#n)))
        } else {
            quote!(_mm256_maskload_pd(#ptr, #rt::avx2_lane_mask64(#n)))
        }
    }

    fn store_partial(
        &self,
        h: &Helpers,
        dt: DataType,
        ptr: TokenStream,
        v: TokenStream,
        n: TokenStream,
    ) -> TokenStream {
        let rt = &h.runtime;
        if ps(dt) {
            quote!(_mm256_maskstore_ps(#ptr, #rt::avx2_lane_mask32(#n), #v))
        } else {
            quote!(_mm256_maskstore_pd(#ptr, #rt::avx2_lane_mask64(#n), #v))
        }
    }

    fn gather_lanes(&self, dt: DataType, lanes: Vec<TokenStream>) -> TokenStream {
        let f = pick!(dt, _mm256_setr_ps, _mm256_setr_pd);
        quote!(#f(#(#lanes),*))
    }

    fn binary(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> Option<TokenStream> {
        let f = match op {
            BinOp::Add => pick!(dt, _mm256_add_ps, _mm256_add_pd),
            BinOp::Sub => pick!(dt, _mm256_sub_ps, _mm256_sub_pd),
            BinOp::Mul => pick!(dt, _mm256_mul_ps, _mm256_mul_pd),
            BinOp::Div => pick!(dt, _mm256_div_ps, _mm256_div_pd),
            BinOp::Min => pick!(dt, _mm256_min_ps, _mm256_min_pd),
            BinOp::Max => pick!(dt, _mm256_max_ps, _mm256_max_pd),
            _ => return None,
        };
        Some(quote!(#f(#a, #b)))
    }

    fn div_by(&self, h: &Helpers, dt: DataType, a: TokenStream, s: TokenStream) -> Option<TokenStream> {
        let simd = &h.simd;
        ps(dt).then(|| quote!(#simd::div_by_avx2(#a, #s)))
    }

    fn fma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_fmadd_ps, _mm256_fmadd_pd);
        quote!(#f(#a, #b, #c))
    }

    fn fnma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_fnmadd_ps, _mm256_fnmadd_pd);
        quote!(#f(#a, #b, #c))
    }

    fn unary(&self, h: &Helpers, dt: DataType, op: UnOp, a: TokenStream) -> Option<TokenStream> {
        Some(match (op, ps(dt)) {
            (UnOp::Sqrt, true) => quote!(_mm256_sqrt_ps(#a)),
            (UnOp::Sqrt, false) => quote!(_mm256_sqrt_pd(#a)),
            (UnOp::Neg, true) => quote!(_mm256_xor_ps(#a, _mm256_set1_ps(-0.0))),
            (UnOp::Neg, false) => quote!(_mm256_xor_pd(#a, _mm256_set1_pd(-0.0))),
            (UnOp::Abs, true) => {
                quote!(_mm256_andnot_ps(_mm256_set1_ps(-0.0), #a))
            }
            (UnOp::Abs, false) => {
                quote!(_mm256_andnot_pd(_mm256_set1_pd(-0.0), #a))
            }
            (UnOp::Rsqrt, true) => quote!(_mm256_div_ps(_mm256_set1_ps(1.0), _mm256_sqrt_ps(#a))),
            (UnOp::Rsqrt, false) => quote!(_mm256_div_pd(_mm256_set1_pd(1.0), _mm256_sqrt_pd(#a))),
            (UnOp::Exp | UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln, true) => {
                let f = quote::format_ident!("{}_avx2", op.name());
                let simd = &h.simd;
                quote!(#simd::#f(#a))
            }
            _ => return None,
        })
    }

    fn unary_group(
        &self,
        h: &Helpers,
        dt: DataType,
        op: UnOp,
        fast: bool,
        args: &[TokenStream],
    ) -> Option<TokenStream> {
        if !has_group_form(dt, op) {
            return None;
        }
        let f = quote::format_ident!("{}{}_avx2_n", op.name(), if fast { "_fast" } else { "" });
        let simd = &h.simd;
        Some(quote!(#simd::#f([#(#args),*])))
    }

    fn cmp(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> TokenStream {
        let imm = cmp_predicate(op);
        let f = pick!(dt, _mm256_cmp_ps, _mm256_cmp_pd);
        quote!(#f::<{ #imm }>(#a, #b))
    }

    fn mask_and(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_and_ps, _mm256_and_pd);
        quote!(#f(#a, #b))
    }

    fn mask_or(&self, dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm256_or_ps, _mm256_or_pd);
        quote!(#f(#a, #b))
    }

    fn mask_not(&self, dt: DataType, a: TokenStream) -> TokenStream {
        if ps(dt) {
            quote!(_mm256_xor_ps(#a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))))
        } else {
            quote!(_mm256_xor_pd(#a, _mm256_castsi256_pd(_mm256_set1_epi32(-1))))
        }
    }

    fn select(&self, dt: DataType, mask: TokenStream, t: TokenStream, f: TokenStream) -> TokenStream {
        let b = pick!(dt, _mm256_blendv_ps, _mm256_blendv_pd);
        quote!(#b(#f, #t, #mask))
    }

    fn prefix_mask(&self, h: &Helpers, dt: DataType, n: TokenStream) -> TokenStream {
        let rt = &h.runtime;
        if ps(dt) {
            quote!(_mm256_castsi256_ps(#rt::avx2_lane_mask32(#n)))
        } else {
            quote!(_mm256_castsi256_pd(#rt::avx2_lane_mask64(#n)))
        }
    }
}
