//! The `#[fast_math]` attribute of a kernel: taken out of the attributes the
//! emitted function keeps, recorded as `PrimFunc::fast_math`, and rejected
//! where it would change nothing.
//!
//! ```text
//! tensor_func! {
//!     #[fast_math]
//!     pub fn softmax_fast(x: [f32; 64, 1000], y: &mut [f32; 64, 1000]) { .. }
//! }
//! ```
//!
//! What it allows is `codegen::fast_math`'s (a reciprocal for a shared
//! divisor, approximate `exp`, `tanh` and `sigmoid`).

use super::{Ctx, Sp};
use crate::ir::PrimFunc;

/// The attribute's name.
pub(crate) const NAME: &str = "fast_math";

/// Splits `#[fast_math]` off `attrs`: the other attributes, and where the
/// attribute was written (`None` when it was not). Reports
/// `#[fast_math(..)]`, `#[fast_math = ..]` and a second `#[fast_math]`.
pub(crate) fn take_attribute(attrs: Vec<syn::Attribute>, ctx: &mut Ctx) -> (Vec<syn::Attribute>, Option<Sp>) {
    let mut at: Option<Sp> = None;
    let mut rest = Vec::with_capacity(attrs.len());
    for a in attrs {
        if !a.path().is_ident(NAME) {
            rest.push(a);
            continue;
        }
        let sp = Sp::new(a.pound_token.span, a.bracket_token.span.close());
        if !matches!(a.meta, syn::Meta::Path(_)) {
            ctx.err(sp, "`#[fast_math]` takes no arguments");
        } else if at.is_some() {
            ctx.err(sp, "`#[fast_math]` is given twice");
        }
        at.get_or_insert(sp);
    }
    (rest, at)
}

/// Checks a kernel marked `#[fast_math]` at `at`: the attribute must allow
/// some rewrite (`codegen::fast_math::rewrites`), else it is an error there.
pub(crate) fn check(func: &PrimFunc, at: Sp, ctx: &mut Ctx) {
    if crate::codegen::fast_math::rewrites(func).is_empty() {
        ctx.err(
            at,
            "`#[fast_math]` changes nothing in this kernel: it has no division by a value shared along an axis \
             and no `exp`, `tanh` or `sigmoid` of `f32`; remove the attribute",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_kernel_str;

    const SOFTMAX_ROW: &str = r#"
        /// y = e^x / Σ e^x over one row.
        #[fast_math]
        #[inline]
        pub fn f(x: [f32; 8], y: &mut [f32; 8]) {
            let s = alloc([f32; 1]);
            for k in range(8) {
                block("S") {
                    let vk = axis::reduce(8, k);
                    init { s[0] = 0.0; }
                    s[0] += x[vk].exp();
                }
            }
            for j in range(8) {
                block("Y") {
                    let vj = axis::spatial(8, j);
                    y[vj] = x[vj].exp() / s[0];
                }
            }
        }
    "#;

    #[test]
    fn attribute_is_recorded_not_kept() {
        let k = parse_kernel_str(SOFTMAX_ROW).unwrap();
        assert!(k.func.fast_math);
        // The doc comment and `#[inline]` stay for the emitted function.
        assert_eq!(k.sig.attrs.len(), 2);
        assert!(k.sig.attrs.iter().all(|a| !a.path().is_ident("fast_math")));
        let plain = parse_kernel_str(&SOFTMAX_ROW.replace("#[fast_math]", "")).unwrap();
        assert!(!plain.func.fast_math);
    }

    #[test]
    fn attribute_changes_the_printed_ir_and_the_workload_hash() {
        let fast = parse_kernel_str(SOFTMAX_ROW).unwrap().func;
        let exact = parse_kernel_str(&SOFTMAX_ROW.replace("#[fast_math]", "")).unwrap().func;
        assert!(fast.to_string().contains("\"kiln.fast_math\": T.bool(True)"), "{fast}");
        assert!(!exact.to_string().contains("fast_math"), "{exact}");
        assert_ne!(crate::tracefile::workload_hash(&fast), crate::tracefile::workload_hash(&exact));
    }

    fn errors(src: &str) -> Vec<(String, usize, usize)> {
        let f = parse_kernel_str(src).unwrap_err();
        f.error.into_iter().map(|e| (e.to_string(), e.span().start().line, e.span().start().column)).collect()
    }

    #[test]
    fn nothing_to_rewrite_is_an_error_at_the_attribute() {
        let src = "#[fast_math]\nfn f(x: [f32; 8], y: &mut [f32; 8]) {\n for i in range(8) { block(\"Y\") { \
                   let vi = axis::spatial(8, i); y[vi] = x[vi] * 2.0 + x[vi].sqrt(); } } }";
        let errs = errors(src);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].0.starts_with("`#[fast_math]` changes nothing"), "{errs:?}");
        assert_eq!((errs[0].1, errs[0].2), (1, 0));
        // A divisor that varies with every axis of its block has no reciprocal to share.
        let varying = src.replace("x[vi] * 2.0 + x[vi].sqrt()", "x[vi] / (x[vi] + 1.0)");
        assert_eq!(errors(&varying).len(), 1);
        // exp of f64 stays scalar and exact.
        let f64_exp = src.replace("f32", "f64").replace("x[vi] * 2.0 + x[vi].sqrt()", "x[vi].exp()");
        assert_eq!(errors(&f64_exp).len(), 1);
        // Division by a constant: a reciprocal.
        assert!(parse_kernel_str(&src.replace("x[vi] * 2.0 + x[vi].sqrt()", "x[vi] / 3.0")).is_ok());
        assert!(parse_kernel_str(&src.replace("x[vi] * 2.0 + x[vi].sqrt()", "x[vi].tanh()")).is_ok());
    }

    #[test]
    fn malformed_attribute_is_an_error() {
        let body = "fn f(x: [f32; 8], y: &mut [f32; 8]) { for i in range(8) { block(\"Y\") { \
                    let vi = axis::spatial(8, i); y[vi] = x[vi].exp(); } } }";
        let args = errors(&format!("#[fast_math(ulp = 2)]\n{body}"));
        assert_eq!(args[0].0, "`#[fast_math]` takes no arguments");
        let twice = errors(&format!("#[fast_math]\n#[fast_math]\n{body}"));
        assert_eq!((twice[0].0.as_str(), twice[0].1), ("`#[fast_math]` is given twice", 2));
    }
}
