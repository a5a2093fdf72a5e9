//! Symbolic dimensions: parsing, instances, and the code that works for every value.

use kiln_ir::parse::parse_kernel_str;
use kiln_ir::program::Sources;
use kiln_ir::target::{Isa, Target};

const LINEAR: &str = r#"
    pub fn linear_sym(x: [f32; n, 784], w: [f32; 128, 784], b: [f32; 128], z: &mut [f32; n, 128])
    where
        n: dim(1..=4096, tune = 64)
    {
        let y = alloc([f32; n, 128]);
        for (i, j, k) in grid(n, 128, 784) {
            block("Y") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { y[vi, vj] = 0.0; }
                y[vi, vj] += x[vi, vk] * w[vj, vk];
            }
        }
        for (i, j) in grid(n, 128) {
            block("Z") {
                let (vi, vj) = axis::remap("SS", (i, j));
                z[vi, vj] = y[vi, vj] + b[vj];
            }
        }
    }
"#;

#[test]
fn scratch_print() {
    let k = parse_kernel_str(LINEAR).unwrap();
    println!("{}", k.func);
    let f7 = k.instantiate(&[("n", 7)]).unwrap();
    assert_eq!(f7.params[0].buffer.shape, vec![7, 784]);
    let s = Sources::without_file(&k).unwrap();
    for isa in [Isa::Avx2, Isa::Scalar] {
        let p = s.untuned(&Target::isa(isa), 1).unwrap();
        println!("{}", p.func);
        let code = kiln_ir::codegen::pretty(&kiln_ir::codegen::emit_impl(&p.func, isa, &quote::format_ident!("k")));
        println!("{code}");
    }
}
