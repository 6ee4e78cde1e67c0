//! Linking a product's output columns to the next product's input columns.
//!
//! The trusted process applies ReLU (and pooling, and im2col) to one product's output and
//! sends the result as the next product's input, under fresh permutations. ReLU and max
//! pooling copy values, so every positive value the worker sent back reappears, bit for bit,
//! in the next input; an input column collects the values of one output column (one hidden
//! unit, or one channel). A BatchNorm in between rescales the values and defeats this.

use std::collections::HashMap;

use amalgam_core::tempo::Matrix;

/// Where an input column's values came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnLink {
    /// The output column holding most of the input column's non-zero values.
    pub source: usize,
    /// The share of the input column's non-zero values found there, in (0, 1].
    pub share: f32,
}

/// For each column of `next_input` `[n2, k]`, the column of `output` `[n1, m]` its non-zero
/// values come from (exact bit patterns; values seen in two output columns are ignored), or
/// `None` when no value is found.
pub fn link_columns(output: &Matrix, next_input: &Matrix) -> Vec<Option<ColumnLink>> {
    const AMBIGUOUS: usize = usize::MAX;
    let mut column_of: HashMap<u32, usize> = HashMap::new();
    for (i, &v) in output.values.iter().enumerate() {
        if v > 0.0 {
            let column = i % output.cols;
            column_of
                .entry(v.to_bits())
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
            if let Some(&source) = column_of.get(&v.to_bits())
                && source != AMBIGUOUS
            {
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
        let links = link_columns(&output, &next);
        assert_eq!(links[0].map(|l| l.source), Some(1));
        assert_eq!(links[1].map(|l| l.source), Some(0));
        assert_eq!(links[1].unwrap().share, 1.0);
    }
}
