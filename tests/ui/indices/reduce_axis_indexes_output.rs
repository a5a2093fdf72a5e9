use kiln::tensor_func;

tensor_func! {
    pub fn row_sum(a: [f32; 8, 8], c: &mut [f32; 8, 8]) {
        for (i, k) in grid(8, 8) {
            block("C") {
                let (vi, vk) = axis::remap("SR", (i, k));
                init { c[vi, vk] = 0.0; }
                c[vi, vk] += a[vi, vk];
            }
        }
    }
}

fn main() {}
