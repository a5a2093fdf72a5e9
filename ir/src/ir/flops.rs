//! Floating-point operation counts of a function (for GFLOPS reports).

use super::expr::{BinOp, Expr, UnOp};
use super::stmt::PrimFunc;

/// The arithmetic operations a function performs: for each block, the product
/// of its iteration extents times the element operations of its body's value.
///
/// `+ - * / % min max` and the math functions (`exp`, `ln`, `sqrt`, `rsqrt`,
/// `tanh`, `sigmoid`, `abs`) on elements (`f32`, `f64`, and `i32`, whose
/// operations count the same way) count 1 each; index arithmetic, loads, casts,
/// comparisons, selects and negation count 0, and of the two branches of a
/// select only the costlier one counts. The `init` store is not counted. A
/// 128³ matmul gives 2·128³. Saturates instead of overflowing.
pub fn flops(func: &PrimFunc) -> u64 {
    func.blocks()
        .iter()
        .map(|br| {
            let iters = br.block.iter_vars.iter().fold(1u64, |n, iv| n.saturating_mul(iv.extent.max(0) as u64));
            iters.saturating_mul(expr_ops(&br.block.body.value))
        })
        .fold(0u64, u64::saturating_add)
}

/// Element operations in one evaluation of `e`.
pub fn expr_ops(e: &Expr) -> u64 {
    match e {
        Expr::Var(_) | Expr::Int(_) | Expr::Const(_) | Expr::Load(_) => 0,
        Expr::Binary(op, a, b) => {
            let counted = e.dtype().is_element()
                && matches!(
                    op,
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Min | BinOp::Max
                );
            u64::from(counted) + expr_ops(a) + expr_ops(b)
        }
        Expr::Unary(op, a) => {
            let counted = e.dtype().is_element() && UnOp::FUNCTIONS.contains(op);
            u64::from(counted) + expr_ops(a)
        }
        Expr::Cast(_, a) => expr_ops(a),
        Expr::Select(c, t, f) => expr_ops(c) + expr_ops(t).max(expr_ops(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_kernel_str;

    fn count(store: &str, dtype: &str) -> u64 {
        let src = format!(
            "fn f(a: [{dtype}; 8, 4], c: &mut [{dtype}; 8]) {{
                for (i, k) in grid(8, 4) {{
                    block(\"C\") {{
                        let (vi, vk) = axis::remap(\"SR\", (i, k));
                        init {{ c[vi] = 0; }}
                        {store}
                    }}
                }}
            }}"
        );
        flops(&parse_kernel_str(&src).unwrap().func)
    }

    #[test]
    fn counts_element_operations_per_iteration() {
        assert_eq!(count("c[vi] += a[vi, vk] * 2.0;", "f32"), 32 * 2);
        assert_eq!(count("c[vi] = max(c[vi], a[vi, vk].abs().sqrt());", "f64"), 32 * 3);
        assert_eq!(count("c[vi] += a[vi, vk] * 2;", "i32"), 32 * 2);
        assert_eq!(count("c[vi] = a[vi, vk].tanh() + a[vi, vk].sigmoid().ln().rsqrt();", "f32"), 32 * 5);
        // Index arithmetic, casts and negation are free; a select costs its dearer branch.
        assert_eq!(count("c[vi] = a[(vi + 1) % 8, vk] + ((vi * 2) as f32);", "f32"), 32);
        assert_eq!(count("c[vi] = if a[vi, vk] > 0.0 { -a[vi, vk] } else { c[vi] * 2.0 + 1.0 };", "f32"), 32 * 2);
    }
}
