use kiln::tensor_func;

tensor_func! {
    pub fn activation(a: [f32; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = tahn(a[vi]);
            }
        }
    }
}

fn main() {}
