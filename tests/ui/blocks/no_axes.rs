use kiln::tensor_func;

tensor_func! {
    pub fn fill(c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                c[0] = 1.0;
            }
        }
    }
}

fn main() {}
