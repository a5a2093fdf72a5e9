//! IR built directly (not parsed), for the schedule tests: expression and
//! statement builders, and the small functions several test files schedule.

use kiln_ir::ir::{
    BinOp, Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind,
    PrimFunc, Scope, Stmt, Store, Var,
};

pub fn v(n: &str) -> Expr {
    Expr::Var(Var::new(n))
}

pub fn f32c(x: f32) -> Expr {
    Expr::Const(Const::F32(x))
}

pub fn ld(buf: &str, idx: Vec<Expr>) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx })
}

pub fn st(buf: &str, idx: Vec<Expr>, value: Expr) -> Store {
    Store { buffer: buf.into(), indices: idx, value }
}

pub fn input(name: &str, shape: &[i64]) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape.to_vec()), kind: ParamKind::Input }
}

pub fn output(name: &str, shape: &[i64]) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape.to_vec()), kind: ParamKind::Output }
}

pub fn alloc(name: &str, shape: &[i64]) -> Buffer {
    Buffer::new(name, DataType::F32, shape.to_vec())
}

/// A loop nest around one block with explicit bindings; `iters` are
/// `(name, extent, 'S' | 'R')`.
pub fn nest_with(
    name: &str,
    loops: &[(&str, i64)],
    iters: &[(&str, i64, char)],
    bindings: Vec<Expr>,
    init: Option<Store>,
    body: Store,
) -> Stmt {
    let iter_vars = iters
        .iter()
        .map(|(n, e, k)| IterVar {
            var: Var::new(n),
            extent: *e,
            kind: if *k == 'S' { IterKind::Spatial } else { IterKind::Reduce },
        })
        .collect();
    let block = Block { name: name.into(), iter_vars, init, body, annotations: Default::default() };
    let mut s = Stmt::Block(Box::new(BlockRealize { bindings, predicate: Expr::true_(), block }));
    for (l, e) in loops.iter().rev() {
        s = Stmt::For(Box::new(For::new(Var::new(l), *e, s)));
    }
    s
}

/// A loop nest whose k-th loop drives the k-th iteration variable.
pub fn nest(name: &str, loops: &[(&str, i64)], iters: &[(&str, char)], init: Option<Store>, body: Store) -> Stmt {
    let full: Vec<(&str, i64, char)> = iters.iter().zip(loops).map(|((n, k), (_, e))| (*n, *e, *k)).collect();
    let bindings = loops.iter().map(|(l, _)| v(l)).collect();
    nest_with(name, loops, &full, bindings, init, body)
}

/// `for <lv> in range(n): out[vi] = value`.
pub fn ew(name: &str, lv: &str, n: i64, out: &str, value: Expr) -> Stmt {
    nest(name, &[(lv, n)], &[("vi", 'S')], None, st(out, vec![v("vi")], value))
}

pub fn func(name: &str, params: Vec<Param>, allocs: Vec<Buffer>, stmts: Vec<Stmt>) -> PrimFunc {
    PrimFunc { name: name.into(), params, allocs, body: Stmt::seq(stmts), dims: vec![], fast_math: false }
}

/// `y = a * 2` (intermediate), then `z = y + 1`.
pub fn two_block(n: i64, m: i64) -> PrimFunc {
    let ij = vec![v("vi"), v("vj")];
    func(
        "two_block",
        vec![input("a", &[n, m]), output("z", &[n, m])],
        vec![alloc("y", &[n, m])],
        vec![
            nest(
                "y",
                &[("i", n), ("j", m)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", ij.clone(), ld("a", ij.clone()) * f32c(2.0)),
            ),
            nest(
                "z",
                &[("i_1", n), ("j_1", m)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("z", ij.clone(), ld("y", ij) + f32c(1.0)),
            ),
        ],
    )
}

/// A 1-D convolution with explicit padding: `pad` (n + 2) then a 3-tap reduction.
pub fn padded_conv1d(n: i64) -> PrimFunc {
    let vi = v("vi");
    let inside = Expr::binary(BinOp::Le, Expr::Int(1), vi.clone()).and(vi.clone().lt(n + 1));
    let pad_value = Expr::select(inside, ld("a", vec![vi.clone() - 1]), f32c(0.0));
    let acc = ld("out", vec![vi.clone()]) + ld("pad", vec![vi.clone() + v("vk")]) * ld("w", vec![v("vk")]);
    func(
        "conv1d",
        vec![input("a", &[n]), input("w", &[3]), output("out", &[n])],
        vec![alloc("pad", &[n + 2])],
        vec![
            ew("pad", "i", n + 2, "pad", pad_value),
            nest(
                "conv",
                &[("i_1", n), ("k", 3)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("out", vec![vi.clone()], f32c(0.0))),
                st("out", vec![vi], acc),
            ),
        ],
    )
}

/// `r[vi] = Σk a[vi, k]` (intermediate), then `z = r + 1`.
pub fn reduce_then_add() -> PrimFunc {
    let vi = || vec![v("vi")];
    func(
        "reduce_then_add",
        vec![input("a", &[8, 4]), output("z", &[8])],
        vec![alloc("r", &[8])],
        vec![
            nest(
                "r",
                &[("i", 8), ("k", 4)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("r", vi(), f32c(0.0))),
                st("r", vi(), ld("r", vi()) + ld("a", vec![v("vi"), v("vk")])),
            ),
            ew("z", "i_1", 8, "z", ld("r", vi()) + f32c(1.0)),
        ],
    )
}

/// `y = a * 2` (8×4, intermediate), then the row sums `r[vi] = Σk y[vi, k]`.
pub fn add_then_reduce() -> PrimFunc {
    func(
        "add_then_reduce",
        vec![input("a", &[8, 4]), output("r", &[8])],
        vec![alloc("y", &[8, 4])],
        vec![
            nest(
                "y",
                &[("i", 8), ("j", 4)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("y", vec![v("vi"), v("vj")], ld("a", vec![v("vi"), v("vj")]) * f32c(2.0)),
            ),
            nest(
                "r",
                &[("i_1", 8), ("k", 4)],
                &[("vi", 'S'), ("vk", 'R')],
                Some(st("r", vec![v("vi")], f32c(0.0))),
                st("r", vec![v("vi")], ld("r", vec![v("vi")]) + ld("y", vec![v("vi"), v("vk")])),
            ),
        ],
    )
}

/// `y` written by two blocks ("y1", "y2"), then read by "z".
pub fn two_writers() -> PrimFunc {
    func(
        "two_writers",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y1", "i", 8, "y", ld("a", vec![v("vi")])),
            ew("y2", "i_1", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_2", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    )
}

/// "y" stores `y[2·vi]` (not a plain store), read by "z".
pub fn strided() -> PrimFunc {
    func(
        "strided",
        vec![input("a", &[8]), output("z", &[16])],
        vec![alloc("y", &[16])],
        vec![
            nest("y", &[("i", 8)], &[("vi", 'S')], None, st("y", vec![v("vi") * 2], ld("a", vec![v("vi")]))),
            ew("z", "i_1", 16, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    )
}

/// "y" writes an intermediate nothing reads.
pub fn dead() -> PrimFunc {
    func(
        "dead",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
            ew("z", "i_1", 8, "z", ld("a", vec![v("vi")]) + f32c(1.0)),
        ],
    )
}

/// "z" reads `y` before "y" writes it.
pub fn reversed() -> PrimFunc {
    func(
        "reversed",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("z", "i_1", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
            ew("y", "i", 8, "y", ld("a", vec![v("vi")]) * f32c(2.0)),
        ],
    )
}

/// `y` written in two halves ("y_lo", "y_hi"), then read by "z".
pub fn halves() -> PrimFunc {
    func(
        "halves",
        vec![input("a", &[8]), output("z", &[8])],
        vec![alloc("y", &[8])],
        vec![
            ew("y_lo", "i", 4, "y", ld("a", vec![v("vi")])),
            nest("y_hi", &[("i_1", 4)], &[("vi", 'S')], None, st("y", vec![v("vi") + 4], ld("a", vec![v("vi") + 4]))),
            ew("z", "i_2", 8, "z", ld("y", vec![v("vi")]) + f32c(1.0)),
        ],
    )
}

/// "w" reads `zb` before "z" writes it; "fin" copies it to the output.
pub fn early_reader() -> PrimFunc {
    let vi = || vec![v("vi")];
    func(
        "early_reader",
        vec![input("a", &[8]), output("w", &[8]), output("out", &[8])],
        vec![alloc("y", &[8]), alloc("zb", &[8])],
        vec![
            ew("y", "i", 8, "y", ld("a", vi()) * f32c(2.0)),
            ew("w", "i_1", 8, "w", ld("zb", vi())),
            ew("z", "i_2", 8, "zb", ld("y", vi()) + f32c(1.0)),
            ew("fin", "i_3", 8, "out", ld("zb", vi())),
        ],
    )
}

/// A matmul into a local accumulator `c_local` (block "C") and its write-back
/// to `c` (block "C_local"), the shape `cache_write(C, 0, "local")` leaves.
pub fn matmul_write_back(m: i64, n: i64, k: i64) -> PrimFunc {
    let ij = vec![v("vi"), v("vj")];
    let acc = ld("c_local", ij.clone()) + ld("a", vec![v("vi"), v("vk")]) * ld("b", vec![v("vk"), v("vj")]);
    let mut local = alloc("c_local", &[m, n]);
    local.scope = Scope::Local;
    func(
        "matmul",
        vec![input("a", &[m, k]), input("b", &[k, n]), output("c", &[m, n])],
        vec![local],
        vec![
            nest(
                "C",
                &[("i", m), ("j", n), ("k", k)],
                &[("vi", 'S'), ("vj", 'S'), ("vk", 'R')],
                Some(st("c_local", ij.clone(), f32c(0.0))),
                st("c_local", ij.clone(), acc),
            ),
            nest(
                "C_local",
                &[("ax0", m), ("ax1", n)],
                &[("vi", 'S'), ("vj", 'S')],
                None,
                st("c", ij.clone(), ld("c_local", ij)),
            ),
        ],
    )
}
