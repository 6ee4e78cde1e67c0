//! Linking a product's output columns to the next product's input columns.
//!
//! The trusted process applies ReLU (and pooling, and im2col) to one product's output and
//! sends the result as the next product's input, under fresh permutations. ReLU and max
//! pooling copy values, so every positive value the worker sent back reappears, bit for bit,
//! in the next input; an input column collects the values of one output column (one hidden
//! unit, or one channel). A BatchNorm in between rescales the values, but at its initial
//! weights (γ = 1, β = 0, as every network here starts) it normalises each channel by the
//! batch's own mean and variance, which the worker computes from the output it returned:
//! the normalised values reappear in the next input to within rounding.

use std::collections::HashMap;

use amalgam_core::tempo::Matrix;

/// Where an input column's values came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnLink {
    /// The output column holding most of the input column's non-zero values.
    pub source: usize,
    /// The share of the input column's non-zero values found there, in (0, 1].
    pub share: f32,
    /// How many of its values were found there.
    pub votes: u32,
}

/// What the trusted process did to a product's output before the next product, as the worker
/// models it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Between {
    /// ReLU, max pooling, im2col: values copied bit for bit.
    Copied,
    /// BatchNorm at its initial weights (batch statistics, `epsilon`), then ReLU: values the
    /// worker recomputes to within rounding (matched on a grid of 2⁻¹⁸).
    NormalizedAtInit {
        /// BatchNorm's epsilon (1e-5 in burn and PyTorch).
        epsilon: f64,
    },
}

/// Grid of the normalised values' keys.
const GRID: f64 = (1u64 << 18) as f64;

/// The keys under which the positive values of `output`'s columns are filed, per column.
fn keys(output: &Matrix, between: Between) -> Vec<Vec<u64>> {
    let column = |c: usize| output.values.iter().skip(c).step_by(output.cols).copied();
    (0..output.cols)
        .map(|c| match between {
            Between::Copied => column(c)
                .filter(|v| *v > 0.0)
                .map(|v| u64::from(v.to_bits()))
                .collect(),
            Between::NormalizedAtInit { epsilon } => {
                let n = output.rows.max(1) as f64;
                let mean = column(c).map(f64::from).sum::<f64>() / n;
                let var = column(c)
                    .map(|v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let scale = 1.0 / (var + epsilon).sqrt();
                column(c)
                    .map(|v| (f64::from(v) - mean) * scale)
                    .filter(|z| *z > 0.0)
                    .map(|z| (z * GRID).round() as u64)
                    .collect()
            }
        })
        .collect()
}

/// The keys a next-input value may be filed under.
fn lookups(v: f32, between: Between) -> Vec<u64> {
    match between {
        Between::Copied => vec![u64::from(v.to_bits())],
        Between::NormalizedAtInit { .. } => {
            let q = (f64::from(v) * GRID).round() as u64;
            vec![q.saturating_sub(1), q, q + 1]
        }
    }
}

/// For each column of `next_input` `[n2, k]`, the column of `output` `[n1, m]` its non-zero
/// values come from (values filed under two output columns are ignored), as `between` models
/// the step between the two products, or `None` when no value is found.
pub fn link_columns(
    output: &Matrix,
    next_input: &Matrix,
    between: Between,
) -> Vec<Option<ColumnLink>> {
    const AMBIGUOUS: usize = usize::MAX;
    let mut column_of: HashMap<u64, usize> = HashMap::new();
    for (column, keys) in keys(output, between).into_iter().enumerate() {
        for key in keys {
            column_of
                .entry(key)
                .and_modify(|c| {
                    if *c != column {
                        *c = AMBIGUOUS;
                    }
                })
                .or_insert(column);
        }
    }
    let mut votes = vec![vec![0u32; output.cols]; next_input.cols];
    let mut nonzero = vec![0u32; next_input.cols];
    for (i, &v) in next_input.values.iter().enumerate() {
        if v != 0.0 {
            let column = i % next_input.cols;
            nonzero[column] += 1;
            let found = lookups(v, between)
                .into_iter()
                .filter_map(|key| column_of.get(&key).copied())
                .find(|&source| source != AMBIGUOUS);
            if let Some(source) = found {
                votes[column][source] += 1;
            }
        }
    }
    votes
        .iter()
        .zip(&nonzero)
        .map(|(counts, &total)| {
            let (source, &best) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
            (best > 0).then(|| ColumnLink {
                source,
                share: best as f32 / total as f32,
                votes: best,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_outputs_are_found_in_the_permuted_next_input() {
        // Output [3 rows, 2 columns]; the next input is ReLU of it with rows and columns swapped.
        let output = Matrix {
            rows: 3,
            cols: 2,
            values: vec![0.5, -1.0, 0.25, 2.0, -0.5, 3.0],
        };
        let relu = |v: f32| v.max(0.0);
        let next = Matrix {
            rows: 3,
            cols: 2,
            values: vec![
                relu(3.0),
                relu(-0.5),
                relu(2.0),
                relu(0.25),
                relu(-1.0),
                relu(0.5),
            ],
        };
        let links = link_columns(&output, &next, Between::Copied);
        assert_eq!(links[0].map(|l| l.source), Some(1));
        assert_eq!(links[1].map(|l| l.source), Some(0));
        assert_eq!(links[1].unwrap().share, 1.0);
    }

    #[test]
    fn normalised_outputs_are_found_to_within_rounding() {
        // Two output columns; the next input holds column 1 normalised (f32 arithmetic, as
        // the trusted process computes it) and ReLU'd.
        let output = Matrix {
            rows: 4,
            cols: 2,
            values: vec![1.0, 10.0, 2.0, 30.0, 3.0, 20.0, 4.0, 50.0],
        };
        let ys = [10.0f32, 30.0, 20.0, 50.0];
        let mean = ys.iter().sum::<f32>() / 4.0;
        let var = ys.iter().map(|y| (y - mean) * (y - mean)).sum::<f32>() / 4.0;
        let next = Matrix {
            rows: 4,
            cols: 1,
            values: ys
                .iter()
                .map(|y| ((y - mean) / (var + 1e-5).sqrt()).max(0.0))
                .collect(),
        };
        let between = Between::NormalizedAtInit { epsilon: 1e-5 };
        assert_eq!(
            link_columns(&output, &next, between)[0].map(|l| l.source),
            Some(1)
        );
        assert_eq!(link_columns(&output, &next, Between::Copied)[0], None);
    }
}
