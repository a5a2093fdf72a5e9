//! AVX-512F: `__m512` (16 × f32) and `__m512d` (8 × f64); masks are `__mmask16` / `__mmask8`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{cmp_predicate, has_group_form, pick, ps, Helpers, VectorOps};
use crate::ir::{BinOp, DataType, UnOp};

pub struct Avx512;

impl VectorOps for Avx512 {
    fn name(&self) -> &'static str {
        "avx512"
    }

    fn splat(&self, dt: DataType, x: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm512_set1_ps, _mm512_set1_pd);
        quote!(#f(#x))
    }

    fn loadu(&self, dt: DataType, ptr: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm512_loadu_ps, _mm512_loadu_pd);
        quote!(#f(#ptr))
    }

    fn storeu(&self, dt: DataType, ptr: TokenStream, v: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm512_storeu_ps, _mm512_storeu_pd);
        quote!(#f(#ptr, #v))
    }

    fn load_partial(&self, _h: &Helpers, dt: DataType, ptr: TokenStream, n: TokenStream) -> TokenStream {
        if ps(dt) {
            quote!(_mm512_maskz_loadu_ps(((1u32 << (#n)) - 1) as u16, #ptr))
        } else {
            quote!(_mm512_maskz_loadu_pd(((1u32 << (#n)) - 1) as u8, #ptr))
        }
    }

    fn store_partial(
        &self,
        _h: &Helpers,
        dt: DataType,
        ptr: TokenStream,
        v: TokenStream,
        n: TokenStream,
    ) -> TokenStream {
        if ps(dt) {
            quote!(_mm512_mask_storeu_ps(#ptr, ((1u32 << (#n)) - 1) as u16, #v))
        } else {
            quote!(_mm512_mask_storeu_pd(#ptr, ((1u32 << (#n)) - 1) as u8, #v))
        }
    }

    fn gather_lanes(&self, dt: DataType, lanes: Vec<TokenStream>) -> TokenStream {
        // _mm512_setr_ps is not in std::arch; go through memory.
        let (t, n) = if ps(dt) { (quote!(f32), 16usize) } else { (quote!(f64), 8usize) };
        let load = self.loadu(dt, quote!(__lanes.as_ptr()));
        debug_assert_eq!(lanes.len(), n);
        quote!({ let __lanes: [#t; #n] = [#(#lanes),*]; #load })
    }

    fn binary(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> Option<TokenStream> {
        let f = match op {
            BinOp::Add => pick!(dt, _mm512_add_ps, _mm512_add_pd),
            BinOp::Sub => pick!(dt, _mm512_sub_ps, _mm512_sub_pd),
            BinOp::Mul => pick!(dt, _mm512_mul_ps, _mm512_mul_pd),
            BinOp::Div => pick!(dt, _mm512_div_ps, _mm512_div_pd),
            BinOp::Min => pick!(dt, _mm512_min_ps, _mm512_min_pd),
            BinOp::Max => pick!(dt, _mm512_max_ps, _mm512_max_pd),
            _ => return None,
        };
        Some(quote!(#f(#a, #b)))
    }

    fn div_by(&self, h: &Helpers, dt: DataType, a: TokenStream, s: TokenStream) -> Option<TokenStream> {
        let simd = &h.simd;
        ps(dt).then(|| quote!(#simd::div_by_avx512(#a, #s)))
    }

    fn fma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm512_fmadd_ps, _mm512_fmadd_pd);
        quote!(#f(#a, #b, #c))
    }

    fn fnma(&self, dt: DataType, a: TokenStream, b: TokenStream, c: TokenStream) -> TokenStream {
        let f = pick!(dt, _mm512_fnmadd_ps, _mm512_fnmadd_pd);
        quote!(#f(#a, #b, #c))
    }

    fn unary(&self, h: &Helpers, dt: DataType, op: UnOp, a: TokenStream) -> Option<TokenStream> {
        Some(match (op, ps(dt)) {
            (UnOp::Sqrt, true) => quote!(_mm512_sqrt_ps(#a)),
            (UnOp::Sqrt, false) => quote!(_mm512_sqrt_pd(#a)),
            (UnOp::Neg, true) => quote!(_mm512_sub_ps(_mm512_setzero_ps(), #a)),
            (UnOp::Neg, false) => quote!(_mm512_sub_pd(_mm512_setzero_pd(), #a)),
            (UnOp::Abs, true) => quote!(_mm512_abs_ps(#a)),
            (UnOp::Abs, false) => quote!(_mm512_abs_pd(#a)),
            (UnOp::Rsqrt, true) => quote!(_mm512_div_ps(_mm512_set1_ps(1.0), _mm512_sqrt_ps(#a))),
            (UnOp::Rsqrt, false) => quote!(_mm512_div_pd(_mm512_set1_pd(1.0), _mm512_sqrt_pd(#a))),
            (UnOp::Exp | UnOp::Tanh | UnOp::Sigmoid | UnOp::Ln, true) => {
                let f = quote::format_ident!("{}_avx512", op.name());
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
        let pack = match args.len() {
            2 => quote::format_ident!("avx512_x2"),
            4 => quote::format_ident!("avx512_x4"),
            _ => return None,
        };
        let f = quote::format_ident!("{}{}", op.name(), if fast { "_fast" } else { "" });
        let simd = &h.simd;
        Some(quote!(#simd::#pack::#f([#(#args),*])))
    }

    fn cmp(&self, dt: DataType, op: BinOp, a: TokenStream, b: TokenStream) -> TokenStream {
        let imm = cmp_predicate(op);
        let f = pick!(dt, _mm512_cmp_ps_mask, _mm512_cmp_pd_mask);
        quote!(#f::<{ #imm }>(#a, #b))
    }

    fn mask_and(&self, _dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream {
        quote!((#a & #b))
    }

    fn mask_or(&self, _dt: DataType, a: TokenStream, b: TokenStream) -> TokenStream {
        quote!((#a | #b))
    }

    fn mask_not(&self, _dt: DataType, a: TokenStream) -> TokenStream {
        quote!((!#a))
    }

    fn select(&self, dt: DataType, mask: TokenStream, t: TokenStream, f: TokenStream) -> TokenStream {
        let b = pick!(dt, _mm512_mask_blend_ps, _mm512_mask_blend_pd);
        quote!(#b(#mask, #f, #t))
    }

    fn prefix_mask(&self, _h: &Helpers, dt: DataType, n: TokenStream) -> TokenStream {
        if ps(dt) {
            quote!((((1u32 << (#n)) - 1) as u16))
        } else {
            quote!((((1u32 << (#n)) - 1) as u8))
        }
    }
}
