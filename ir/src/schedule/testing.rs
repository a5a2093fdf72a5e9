//! Small functions built directly as IR, for tests and examples that must not
//! depend on the language parser.

use crate::ir::{
    Block, BlockRealize, Buffer, Const, DataType, Expr, For, IterKind, IterVar, Load, Param, ParamKind, PrimFunc, Stmt,
    Store, Var,
};

fn load(buf: &str, idx: &[&Var]) -> Expr {
    Expr::Load(Load { buffer: buf.into(), dtype: DataType::F32, indices: idx.iter().map(|v| Expr::var(v)).collect() })
}

fn param(name: &str, shape: Vec<i64>, kind: ParamKind) -> Param {
    Param { buffer: Buffer::new(name, DataType::F32, shape), kind }
}

/// `c[m, n] = Σk a[m, k] · b[k, n]`, the chapter's `MyModule` (block "C").
pub fn matmul(m: i64, n: i64, k: i64) -> PrimFunc {
    let (i, j, kk) = (Var::new("i"), Var::new("j"), Var::new("k"));
    let (vi, vj, vk) = (Var::new("vi"), Var::new("vj"), Var::new("vk"));
    let block = Block {
        name: "C".into(),
        iter_vars: vec![
            IterVar { var: vi.clone(), extent: m, kind: IterKind::Spatial },
            IterVar { var: vj.clone(), extent: n, kind: IterKind::Spatial },
            IterVar { var: vk.clone(), extent: k, kind: IterKind::Reduce },
        ],
        init: Some(Store {
            buffer: "c".into(),
            indices: vec![Expr::var(&vi), Expr::var(&vj)],
            value: Expr::Const(Const::F32(0.0)),
        }),
        body: Store {
            buffer: "c".into(),
            indices: vec![Expr::var(&vi), Expr::var(&vj)],
            value: load("c", &[&vi, &vj]) + load("a", &[&vi, &vk]) * load("b", &[&vk, &vj]),
        },
        annotations: Default::default(),
    };
    let realize =
        BlockRealize { bindings: vec![Expr::var(&i), Expr::var(&j), Expr::var(&kk)], predicate: Expr::true_(), block };
    let body = Stmt::For(Box::new(For::new(
        i,
        m,
        Stmt::For(Box::new(For::new(j, n, Stmt::For(Box::new(For::new(kk, k, Stmt::Block(Box::new(realize)))))))),
    )));
    PrimFunc {
        name: "matmul".into(),
        params: vec![
            param("a", vec![m, k], ParamKind::Input),
            param("b", vec![k, n], ParamKind::Input),
            param("c", vec![m, n], ParamKind::Output),
        ],
        allocs: vec![],
        body,
    }
}

/// The function of a kernel given as `tensor_func!` source (panics on errors).
pub fn kernel(src: &str) -> PrimFunc {
    crate::parse::parse_kernel_str(src).unwrap().func
}

/// Random inputs and NaN-filled outputs for `func`'s parameters.
pub fn random_args(func: &PrimFunc, seed: u64) -> Vec<crate::interp::Tensor> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    func.params
        .iter()
        .map(|p| {
            let n = p.buffer.numel() as usize;
            match (p.kind, p.buffer.dtype) {
                (ParamKind::Output, dt) => crate::interp::Tensor::filled(dt, n, f64::NAN),
                (_, DataType::F32) => crate::interp::Tensor::F32((0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()),
                (_, DataType::F64) => crate::interp::Tensor::F64((0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()),
                (_, _) => crate::interp::Tensor::I32((0..n).map(|_| rng.gen_range(-100..100)).collect()),
            }
        })
        .collect()
}
