use kiln::tensor_func;

tensor_func! {
    pub fn copy(a: [f32; 8, 8], c: &mut [f32; 8, 8]) {
        for i in 0..8 {
            for i in 0..8 {
                block("C") {
                    let (vi, vj) = axis::remap("SS", (i, i));
                    c[vi, vj] = a[vi, vj];
                }
            }
        }
    }
}

fn main() {}
