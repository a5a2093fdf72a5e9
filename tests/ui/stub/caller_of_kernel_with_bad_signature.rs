//! The signature has an error, so the parameter types are unknown: the stubs
//! accept any arguments, and the caller sees only the kernel's error.
use kiln::tensor_func;

tensor_func! {
    pub fn half(a: [f16; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi];
            }
        }
    }
}

fn main() {
    let a = [0u16; 8];
    let mut c = [0f32; 8];
    half(&a, &mut c);
    try_half_on(kiln::Isa::Scalar, &a, &mut c).unwrap();
}
