//! Logistic regression, the attacker's learner for the shadow-trained detectors: small,
//! deterministic, and enough for the few dozen features the detectors use.

/// A fitted logistic model: `logit(x) = w . x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    weights: Vec<f64>,
    bias: f64,
}

/// Gradient steps of the fit (full batch).
const STEPS: usize = 600;
/// Adam step size.
const STEP_SIZE: f64 = 0.05;
/// L2 penalty on the weights (not the bias), per example.
const L2: f64 = 1e-4;

impl Logistic {
    /// Fits `rows` (all of one length) to `labels` by minimising the class-balanced
    /// cross-entropy (each class weighs half, so a rare class is not ignored) plus a small L2
    /// penalty, with full-batch Adam from zero. Deterministic.
    ///
    /// # Panics
    /// If `rows` and `labels` differ in length or `rows` is empty.
    pub fn fit(rows: &[Vec<f64>], labels: &[bool]) -> Self {
        assert_eq!(rows.len(), labels.len(), "one label per row");
        assert!(!rows.is_empty(), "at least one example");
        let dim = rows[0].len();
        let positives = labels.iter().filter(|&&l| l).count().max(1) as f64;
        let negatives = labels.iter().filter(|&&l| !l).count().max(1) as f64;
        let weight = |label: bool| {
            if label {
                0.5 / positives
            } else {
                0.5 / negatives
            }
        };
        let mut params = vec![0.0f64; dim + 1];
        let (mut m, mut v) = (vec![0.0f64; dim + 1], vec![0.0f64; dim + 1]);
        let (beta1, beta2) = (0.9f64, 0.999f64);
        for step in 1..=STEPS {
            let mut grad = vec![0.0f64; dim + 1];
            for (row, &label) in rows.iter().zip(labels) {
                let logit = params[dim] + row.iter().zip(&params).map(|(x, w)| x * w).sum::<f64>();
                let error = (sigmoid(logit) - f64::from(u8::from(label))) * weight(label);
                for (g, x) in grad.iter_mut().zip(row) {
                    *g += error * x;
                }
                grad[dim] += error;
            }
            for (g, w) in grad.iter_mut().zip(&params).take(dim) {
                *g += L2 * w;
            }
            for i in 0..=dim {
                m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                let m_hat = m[i] / (1.0 - beta1.powi(step as i32));
                let v_hat = v[i] / (1.0 - beta2.powi(step as i32));
                params[i] -= STEP_SIZE * m_hat / (v_hat.sqrt() + 1e-8);
            }
        }
        let bias = params.pop().expect("dim + 1 parameters");
        Self {
            weights: params,
            bias,
        }
    }

    /// The logit of `row` (higher: more likely the positive class).
    pub fn logit(&self, row: &[f64]) -> f64 {
        self.bias
            + row
                .iter()
                .zip(&self.weights)
                .map(|(x, w)| x * w)
                .sum::<f64>()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_separable_problem_and_not_noise() {
        // Label = x0 > 0.5; x1 is irrelevant.
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|i| vec![(i % 20) as f64 / 19.0, ((i * 7) % 13) as f64 / 12.0])
            .collect();
        let labels: Vec<bool> = rows.iter().map(|r| r[0] > 0.5).collect();
        let model = Logistic::fit(&rows, &labels);
        let correct = rows
            .iter()
            .zip(&labels)
            .filter(|(r, l)| (model.logit(r) > 0.0) == **l)
            .count();
        assert_eq!(correct, rows.len());
        assert!(model.weights[0].abs() > 10.0 * model.weights[1].abs());
    }
}
