//! The cost model: predicts the relative speed of an unmeasured program from
//! its features (`features.rs`), trained online on what was measured.
//!
//! Targets are throughputs normalized per group (one kernel and target):
//! a program's GFLOP/s divided by the best of its group, so one model serves
//! every task; programs that failed count as 0. Until `min_samples`
//! measurements exist, [`CostModel::predict`] returns `None` and the search
//! ranks at random.

use std::collections::BTreeMap;

/// One measured program.
#[derive(Clone, Debug)]
struct Sample {
    group: String,
    features: Vec<f32>,
    gflops: f64,
}

/// The online model.
pub struct CostModel {
    samples: Vec<Sample>,
    /// Measurements needed before the model is used.
    pub min_samples: usize,
    trained: Option<crate::gbt::Model>,
}

impl Default for CostModel {
    fn default() -> CostModel {
        CostModel::new(16)
    }
}

impl CostModel {
    pub fn new(min_samples: usize) -> CostModel {
        CostModel { samples: Vec::new(), min_samples, trained: None }
    }

    /// Adds a measurement (`gflops` 0 for a program that failed).
    pub fn add(&mut self, group: &str, features: Vec<f32>, gflops: f64) {
        self.samples.push(Sample { group: group.to_string(), features, gflops: gflops.max(0.0) });
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The training set: features and normalized throughputs.
    pub fn dataset(&self) -> (Vec<Vec<f32>>, Vec<f32>) {
        let mut best: BTreeMap<&str, f64> = BTreeMap::new();
        for s in &self.samples {
            let b = best.entry(&s.group).or_insert(0.0);
            *b = b.max(s.gflops);
        }
        let x = self.samples.iter().map(|s| s.features.clone()).collect();
        let y = self
            .samples
            .iter()
            .map(|s| {
                let b = best[s.group.as_str()];
                if b > 0.0 {
                    (s.gflops / b) as f32
                } else {
                    0.0
                }
            })
            .collect();
        (x, y)
    }

    /// Retrains on everything measured so far (if there is enough of it).
    pub fn train(&mut self) {
        if self.samples.len() < self.min_samples {
            return;
        }
        let (x, y) = self.dataset();
        if y.iter().all(|v| *v == y[0]) {
            return;
        }
        self.trained = crate::gbt::Model::fit(&x, &y).ok();
    }

    pub fn is_trained(&self) -> bool {
        self.trained.is_some()
    }

    /// Predicted relative speeds (higher is better), once trained.
    pub fn predict(&self, features: &[Vec<f32>]) -> Option<Vec<f64>> {
        self.trained.as_ref().map(|m| m.predict(features))
    }
}

/// Held-out evaluation of the model on measured programs `(group, GFLOP/s,
/// features)`: `splits` random 70/30 splits (seeded); for every group, the
/// mean Spearman correlation between predicted and measured throughput on
/// the held-out programs.
pub fn evaluate(rows: &[(String, f64, Vec<f32>)], splits: usize, seed: u64) -> Vec<(String, f64)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for _ in 0..splits {
        let held: Vec<bool> = rows.iter().map(|_| rng.gen_bool(0.3)).collect();
        let mut model = CostModel::new(1);
        for (r, h) in rows.iter().zip(&held) {
            if !h {
                model.add(&r.0, r.2.clone(), r.1);
            }
        }
        model.train();
        let test: Vec<&(String, f64, Vec<f32>)> = rows.iter().zip(&held).filter(|(_, h)| **h).map(|(r, _)| r).collect();
        let feats: Vec<Vec<f32>> = test.iter().map(|r| r.2.clone()).collect();
        let Some(pred) = model.predict(&feats) else { continue };
        let groups: std::collections::BTreeSet<&str> = test.iter().map(|r| r.0.as_str()).collect();
        for g in groups {
            let idx: Vec<usize> = (0..test.len()).filter(|i| test[*i].0 == g).collect();
            if idx.len() < 5 {
                continue;
            }
            let a: Vec<f64> = idx.iter().map(|i| test[*i].1).collect();
            let b: Vec<f64> = idx.iter().map(|i| pred[*i]).collect();
            let e = sums.entry(g.to_string()).or_insert((0.0, 0));
            e.0 += spearman(&a, &b);
            e.1 += 1;
        }
    }
    sums.into_iter().map(|(g, (s, n))| (g, s / n as f64)).collect()
}

/// Spearman's rank correlation of two equally long series.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|x, y| v[*x].total_cmp(&v[*y]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            for k in i..=j {
                r[idx[k]] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}
