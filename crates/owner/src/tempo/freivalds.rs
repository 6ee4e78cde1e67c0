//! Freivalds' check (Freivalds 1977): does `C = A B + 1 bᵀ`? With `r` random, compare `A (B r)` with
//! `C r`; a wrong `C` passes one round with probability at most 1/2 over `r ∈ {−1, 1}^m`,
//! and the cost is O(nk + km + nm) per round instead of the product's O(nkm).
//!
//! In floating point the sides differ by rounding, so entries are compared against a bound:
//! `|A(Br) − Cr|ᵢ ≤ 4·√(k + m)·2⁻²³·Σⱼ|Aᵢⱼ| Σₗ|Bⱼₗ|`: rounding errors of a sum of k terms grow
//! like √k in practice (k in the worst case, which no summation order here reaches). A
//! corruption smaller than that bound passes; for unit-scale entries it is about 1e-5 of the
//! row's absolute mass. The bias `b`, added to every row, brings its own rounding:
//! `2·2⁻²³·Σₗ(|Cᵢₗ| + |bₗ|)` more.

use burn::prelude::*;
use rand::Rng;

/// Checks `c` `[n, m]` against `a` `[n, k]` · `b` `[k, m]` (plus `bias` `[m]` on every row,
/// if given) with `rounds` random sign vectors from `rng` (0 rounds: nothing is checked).
///
/// # Errors
/// A description of the worst row when the product is wrong or not finite.
pub fn check(
    a: Tensor<2>,
    b: Tensor<2>,
    c: Tensor<2>,
    bias: Option<Tensor<1>>,
    rounds: usize,
    rng: &mut impl Rng,
) -> Result<(), String> {
    if rounds == 0 {
        return Ok(());
    }
    let [n, k] = a.dims();
    let [_, m] = b.dims();
    let device = a.device();
    let signs: Vec<f32> = (0..m * rounds)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    let r = Tensor::<2>::from_data(TensorData::new(signs, [m, rounds]), &device);
    let mut bound = a
        .clone()
        .abs()
        .matmul(b.clone().abs().sum_dim(1))
        .mul_scalar(4.0 * ((k + m) as f32).sqrt() * f32::EPSILON)
        .add_scalar(f32::MIN_POSITIVE);
    let mut expected = a.matmul(b.matmul(r.clone()));
    if let Some(bias) = bias {
        let bias: Tensor<2> = bias.unsqueeze();
        let mass = c.clone().abs().sum_dim(1) + bias.clone().abs().sum_dim(1);
        bound = bound + mass.mul_scalar(2.0 * f32::EPSILON);
        expected = expected + bias.matmul(r.clone());
    }
    let difference = (expected - c.matmul(r)).abs();
    let excess = (difference / bound).max_dim(1).reshape([n]);
    let values: Vec<f32> = excess
        .into_data()
        .try_into_vec::<f32>()
        .expect("amalgam tensors are f32");
    match values
        .iter()
        .enumerate()
        .find(|(_, v)| v.is_nan() || **v > 1.0)
    {
        None => Ok(()),
        Some((row, v)) => Err(format!(
            "row {row} of a [{n}, {m}] product is off by {v:.3e} times the rounding bound"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::backend::inference_device;
    use amalgam_core::rng::{Stream, stream};
    use rand_distr::{Distribution, StandardNormal};

    fn random(rows: usize, cols: usize, rng: &mut impl Rng) -> Tensor<2> {
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| StandardNormal.sample(&mut *rng))
            .collect();
        Tensor::from_data(TensorData::new(v, [rows, cols]), &inference_device())
    }

    #[test]
    fn a_right_product_passes_and_one_wrong_entry_fails() {
        let mut rng = stream(1, Stream::FreivaldsVectors);
        let (a, b) = (random(300, 150, &mut rng), random(150, 40, &mut rng));
        let c = a.clone().matmul(b.clone());
        // Rounding differences (another summation order) pass.
        let reordered = a
            .clone()
            .slice([0..300, 0..75])
            .matmul(b.clone().slice([0..75, 0..40]))
            + a.clone()
                .slice([0..300, 75..150])
                .matmul(b.clone().slice([75..150, 0..40]));
        check(a.clone(), b.clone(), reordered, None, 4, &mut rng).unwrap();
        let mut values: Vec<f32> = c.clone().into_data().try_into_vec().unwrap();
        values[123 * 40 + 7] += 0.1;
        let wrong = Tensor::from_data(TensorData::new(values, [300, 40]), &inference_device());
        let error = check(a.clone(), b.clone(), wrong, None, 1, &mut rng).unwrap_err();
        assert!(error.contains("row 123"), "{error}");
        let mut nan: Vec<f32> = c.into_data().try_into_vec().unwrap();
        nan[0] = f32::NAN;
        let nan = Tensor::from_data(TensorData::new(nan, [300, 40]), &inference_device());
        assert!(check(a, b, nan, None, 1, &mut rng).is_err());
    }
}
