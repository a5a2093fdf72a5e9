use kiln::tensor_func;

tensor_func! {
    pub fn copy(a: [f32; 8], a: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                a[vi] = 1.0;
            }
        }
    }
}

fn main() {}
