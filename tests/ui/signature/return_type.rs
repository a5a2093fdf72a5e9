use kiln::tensor_func;

tensor_func! {
    pub fn sum(a: [f32; 8], c: &mut [f32; 1]) -> f32 {
        for k in 0..8 {
            block("C") {
                let vk = axis::reduce(8, k);
                init { c[0] = 0.0; }
                c[0] += a[vk];
            }
        }
    }
}

fn main() {}
