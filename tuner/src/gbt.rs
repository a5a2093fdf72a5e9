//! The gradient-boosted-tree regressor behind the cost model (placeholder).

pub struct Model;

impl Model {
    pub fn fit(_x: &[Vec<f32>], _y: &[f32]) -> Result<Model, String> {
        Err("no model".into())
    }

    pub fn predict(&self, x: &[Vec<f32>]) -> Vec<f64> {
        vec![0.0; x.len()]
    }
}
