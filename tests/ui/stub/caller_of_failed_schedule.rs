//! The schedule fails to replay; callers still type-check against the stub.
use kiln::tensor_func;

tensor_func! {
    pub fn copy(a: [f32; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="D", func_name="main")
    }
}

fn main() {
    let a = [1f32; 8];
    let mut c = [0f32; 8];
    copy(&a, &mut c);
}
