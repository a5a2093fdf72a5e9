//! Broken input that still names a function: the error, and stubs so that
//! the call in `main` type-checks.
use kiln::tensor_func;

tensor_func! {
    pub fn k(a: [f32 8], c: &mut [f32; 8]) -> -> where {
        for for for 0..8 block block { { } } @ 1e999 'x' b"bytes" r#type ..= => :: ; ;
    }
}

fn main() {
    let a = [0f32; 8];
    let mut c = [0f32; 8];
    k(&a, &mut c);
    try_k(&a, &mut c).unwrap();
}
