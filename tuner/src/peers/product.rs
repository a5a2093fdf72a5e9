//! Which kernels are a matrix product: the ones `tuner bench --peers` can
//! time against the Rust BLAS crates.
//!
//! A kernel qualifies when it is, on `f32` and nothing else:
//!
//! 1. one reduction block `C[i, j] = C[i, j] + A[i, k] * B[k, j]` (or
//!    `B[j, k]`: `X·Wᵀ`), the operands in either order, whose `init` stores
//!    `0.0`, iterating once over the whole of `i`, `j` and `k` (one loop per
//!    iteration variable, of its extent; no predicate);
//! 2. `A` and `B` input parameters of exactly the shapes the block reads
//!    (`[m, k]`, and `[k, n]` or `[n, k]`);
//! 3. `C` the output parameter (`[m, n]`), or an intermediate read by one
//!    more block `Z[i, j] = C[i, j] + bias[j]` (either order, same
//!    conditions on its loops), with `Z` the output `[m, n]` and `bias` an
//!    input `[n]`: the bundled `linear` kernels.

use kiln_ir::ir::{BinOp, BlockRealize, Const, DataType, Expr, IterKind, Load, ParamKind, PrimFunc, Var};

/// How `B` is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `B[k, n]`: `C = A·B`.
    KN,
    /// `B[n, k]`: `C = A·Bᵀ` (`X·Wᵀ`).
    NK,
}

/// A kernel that is a matrix product, `out = A·B (+ bias)`: its sizes and
/// which parameter (by position) plays which part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatProduct {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: usize,
    pub b: usize,
    pub b_layout: Layout,
    /// The `[n]` row added to every row of the product.
    pub bias: Option<usize>,
    pub out: usize,
}

impl MatProduct {
    /// `Z[64×128] = A[64×784]·B[128×784]ᵀ + bias[128]`, with the parameters' names.
    pub fn describe(&self, func: &PrimFunc) -> String {
        let name = |i: usize| func.params[i].buffer.name.to_string();
        let (m, n, k) = (self.m, self.n, self.k);
        let b = match self.b_layout {
            Layout::KN => format!("{}[{k}×{n}]", name(self.b)),
            Layout::NK => format!("{}[{n}×{k}]ᵀ", name(self.b)),
        };
        let bias = self.bias.map(|i| format!(" + {}[{n}]", name(i))).unwrap_or_default();
        format!("{}[{m}×{n}] = {}[{m}×{k}]·{b}{bias}", name(self.out), name(self.a))
    }
}

/// The matrix product `func` computes, if it is one (see the module doc).
pub fn matrix_product(func: &PrimFunc) -> Option<MatProduct> {
    if func.params.iter().any(|p| p.buffer.dtype != DataType::F32) {
        return None;
    }
    let blocks = func.blocks();
    let (prod, rest) = blocks.split_first()?;
    let (c, [vi, vj, vk], [m, n, k]) = product_block(func, prod)?;
    let (a_load, b_load) = operands(&prod.block.body.value, &c)?;
    let (a, b_load) =
        if a_load.indices == [Expr::var(&vi), Expr::var(&vk)] { (a_load, b_load) } else { (b_load, a_load) };
    if a.indices != [Expr::var(&vi), Expr::var(&vk)] {
        return None;
    }
    let b_layout = if b_load.indices == [Expr::var(&vk), Expr::var(&vj)] {
        Layout::KN
    } else if b_load.indices == [Expr::var(&vj), Expr::var(&vk)] {
        Layout::NK
    } else {
        return None;
    };
    let b_shape = match b_layout {
        Layout::KN => [k, n],
        Layout::NK => [n, k],
    };
    let a = input(func, &a.buffer, &[m, k])?;
    let b = input(func, &b_load.buffer, &b_shape)?;
    let (out, bias) = match rest {
        [] => (param(func, &c, ParamKind::Output, &[m, n])?, None),
        [bias_block] => {
            if func.param(&c).is_some() || func.buffer(&c)?.shape != [m, n] {
                return None;
            }
            let (z, bias) = bias_block_of(func, bias_block, &c, [m, n])?;
            (z, Some(bias))
        }
        _ => return None,
    };
    let used = 3 + usize::from(bias.is_some());
    if func.params.len() != used || a == b {
        return None;
    }
    let size = |e: i64| usize::try_from(e).ok();
    Some(MatProduct { m: size(m)?, n: size(n)?, k: size(k)?, a, b, b_layout, bias, out })
}

/// Whether `br` runs once per point of its iteration domain: no predicate,
/// each iteration variable bound to a loop of its own extent that encloses
/// only this block's loops.
fn whole_domain(func: &PrimFunc, br: &BlockRealize) -> bool {
    let Some(loops) = func.loops_of_block(&br.block.name) else { return false };
    br.predicate.is_true()
        && loops.len() == br.bindings.len()
        && br.bindings.iter().zip(&br.block.iter_vars).all(|(e, iv)| {
            e.as_var().is_some_and(|v| loops.iter().filter(|l| l.var == *v && l.extent == iv.extent).count() == 1)
        })
        && br.bindings.iter().enumerate().all(|(i, e)| !br.bindings[..i].contains(e))
}

/// Iteration variables with their extents.
type Iters = Vec<(Var, i64)>;

/// The iteration variables of a block: the spatial ones (in their order), and the reduce ones.
fn split_iters(br: &BlockRealize) -> (Iters, Iters) {
    let of =
        |kind| br.block.iter_vars.iter().filter(|iv| iv.kind == kind).map(|iv| (iv.var.clone(), iv.extent)).collect();
    (of(IterKind::Spatial), of(IterKind::Reduce))
}

/// The product block: `(C, [i, j, k], [m, n, k extents])`, with `C[i, j]`
/// stored (`i` the row) and initialised to zero.
fn product_block(func: &PrimFunc, br: &BlockRealize) -> Option<(String, [Var; 3], [i64; 3])> {
    let (spatial, reduce) = split_iters(br);
    let [s0, s1] = <[_; 2]>::try_from(spatial).ok()?;
    let [(vk, k)] = <[_; 1]>::try_from(reduce).ok()?;
    if !whole_domain(func, br) {
        return None;
    }
    let body = &br.block.body;
    let init = br.block.init.as_ref()?;
    let zero = matches!(init.value, Expr::Const(Const::F32(z)) if z == 0.0);
    if !zero || init.buffer != body.buffer || init.indices != body.indices {
        return None;
    }
    // The row is the spatial variable of the first index.
    let ((vi, m), (vj, n)) = match body.indices.as_slice() {
        [Expr::Var(r), Expr::Var(c)] if *r == s0.0 && *c == s1.0 => (s0, s1),
        [Expr::Var(r), Expr::Var(c)] if *r == s1.0 && *c == s0.0 => (s1, s0),
        _ => return None,
    };
    Some((body.buffer.to_string(), [vi, vj, vk], [m, n, k]))
}

/// The two loads of `C[i, j] + X * Y` (either order of either operation)
/// other than the accumulator `c`, which must be the one the block stores.
fn operands<'a>(value: &'a Expr, c: &str) -> Option<(&'a Load, &'a Load)> {
    let Expr::Binary(BinOp::Add, l, r) = value else { return None };
    let prod = match (&**l, &**r) {
        (Expr::Load(acc), p) | (p, Expr::Load(acc)) if &*acc.buffer == c => p,
        _ => return None,
    };
    match prod {
        Expr::Binary(BinOp::Mul, x, y) => match (&**x, &**y) {
            (Expr::Load(x), Expr::Load(y)) if &*x.buffer != c && &*y.buffer != c => Some((x, y)),
            _ => None,
        },
        _ => None,
    }
}

/// The bias block `Z[i, j] = C[i, j] + bias[j]` over `[m, n]`: `(Z, bias)` as parameter positions.
fn bias_block_of(func: &PrimFunc, br: &BlockRealize, c: &str, [m, n]: [i64; 2]) -> Option<(usize, usize)> {
    let (spatial, reduce) = split_iters(br);
    let [(vi, em), (vj, en)] = <[_; 2]>::try_from(spatial).ok()?;
    if !reduce.is_empty() || br.block.init.is_some() || !whole_domain(func, br) || (em, en) != (m, n) {
        return None;
    }
    let body = &br.block.body;
    if body.indices != [Expr::var(&vi), Expr::var(&vj)] {
        return None;
    }
    let Expr::Binary(BinOp::Add, l, r) = &body.value else { return None };
    let (Expr::Load(x), Expr::Load(y)) = (&**l, &**r) else { return None };
    let (acc, bias) = if &*x.buffer == c { (x, y) } else { (y, x) };
    if &*acc.buffer != c || acc.indices != body.indices || bias.indices != [Expr::var(&vj)] {
        return None;
    }
    let z = param(func, &body.buffer, ParamKind::Output, &[m, n])?;
    let b = input(func, &bias.buffer, &[n])?;
    Some((z, b))
}

/// The position of parameter `name` if it is of `kind` and has shape `shape`.
fn param(func: &PrimFunc, name: &str, kind: ParamKind, shape: &[i64]) -> Option<usize> {
    func.params.iter().position(|p| &*p.buffer.name == name && p.kind == kind && p.buffer.shape == shape)
}

fn input(func: &PrimFunc, name: &str, shape: &[i64]) -> Option<usize> {
    param(func, name, ParamKind::Input, shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_ir::schedule::testing::kernel;

    fn product(src: &str) -> Option<MatProduct> {
        matrix_product(&kernel(src))
    }

    #[test]
    fn operands_in_any_order_and_a_transposed_b() {
        let p = product(
            "pub fn f(w: [f32; 8, 5], x: [f32; 3, 5], c: &mut [f32; 3, 8]) {
                for (j, i, k) in grid(8, 3, 5) {
                    block(\"C\") {
                        let (vj, vi, vk) = axis::remap(\"SSR\", (j, i, k));
                        init { c[vi, vj] = 0.0; }
                        c[vi, vj] = w[vj, vk] * x[vi, vk] + c[vi, vj];
                    }
                }
            }",
        )
        .expect("a product");
        assert_eq!(p, MatProduct { m: 3, n: 8, k: 5, a: 1, b: 0, b_layout: Layout::NK, bias: None, out: 2 });
    }

    #[test]
    fn near_misses_are_not_products() {
        let body = |init: &str, update: &str, shape_b: &str| {
            format!(
                "pub fn f(a: [f32; 4, 6], b: [f32; {shape_b}], c: &mut [f32; 4, 7]) {{
                    for (i, j, k) in grid(4, 7, 6) {{
                        block(\"C\") {{
                            let (vi, vj, vk) = axis::remap(\"SSR\", (i, j, k));
                            init {{ c[vi, vj] = {init}; }}
                            c[vi, vj] = {update};
                        }}
                    }}
                }}"
            )
        };
        assert!(product(&body("0.0", "c[vi, vj] + a[vi, vk] * b[vk, vj]", "6, 7")).is_some());
        // Another init value, another reduction, a bigger operand than the block reads.
        assert!(product(&body("1.0", "c[vi, vj] + a[vi, vk] * b[vk, vj]", "6, 7")).is_none());
        assert!(product(&body("0.0", "max(c[vi, vj], a[vi, vk] * b[vk, vj])", "6, 7")).is_none());
        assert!(product(&body("0.0", "c[vi, vj] + a[vi, vk] * b[vk, vj]", "8, 7")).is_none());
        assert!(product(&body("0.0", "c[vi, vj] + a[vi, vk] * a[vi, vk]", "6, 7")).is_none());
    }

    /// A batched linear layer with its bias added on the left.
    const LINEAR: &str = "pub fn f(x: [f32; 2, 4], w: [f32; 3, 4], bias: [f32; 3], z: &mut [f32; 2, 3]) {
        let y = alloc([f32; 2, 3]);
        for (i, j, k) in grid(2, 3, 4) {
            block(\"Y\") {
                let (vi, vj, vk) = axis::remap(\"SSR\", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(2, 3) {
            block(\"Z\") {
                let (vi, vj) = axis::remap(\"SS\", (i, j));
                z[vi, vj] = bias[vj] + y[vi, vj];
            }
        }
    }";

    #[test]
    fn a_bias_block_and_the_description() {
        let f = kernel(LINEAR);
        let p = matrix_product(&f).expect("a product with a bias");
        assert_eq!(p, MatProduct { m: 2, n: 3, k: 4, a: 0, b: 1, b_layout: Layout::NK, bias: Some(2), out: 3 });
        assert_eq!(p.describe(&f), "z[2×3] = x[2×4]·w[3×4]ᵀ + bias[3]");
        // A bias indexed by the row is not a bias row.
        assert!(product(&LINEAR.replace("bias[vj] +", "bias[vi] +")).is_none());
    }
}
