//! Named weights in PyTorch layout, moved between burn modules and safetensors files.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::store::burn_pack::{Bytes, DType, Tensor as PackTensor};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter};

use crate::tensors::{HostTensor, Values};

/// Named f32 tensors in PyTorch layout (`name → tensor`), e.g. `conv1.weight`, or
/// `branches.2.fc1.bias` inside an augmented network.
pub type Weights = BTreeMap<String, HostTensor>;

/// The weights of `module`, PyTorch layout (linear weights transposed to `[out, in]`),
/// named by their path with enum variants skipped.
pub fn weights_of<M: Module>(module: &M) -> Weights {
    module
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| {
            let (name, dtype, shape, _, bytes) = t
                .into_parts()
                .expect("reading a parameter of a live module cannot fail");
            assert_eq!(
                dtype,
                DType::F32,
                "amalgam networks hold f32 parameters only"
            );
            let values = bytemuck::pod_collect_to_vec(&bytes);
            (name, HostTensor::f32(shape.to_vec(), values))
        })
        .collect()
}

/// Replaces every parameter of `module` with the tensor of the same name in `weights`
/// (PyTorch layout).
///
/// # Errors
/// A description of every missing, unexpected, mis-shaped or non-f32 tensor.
pub fn set_weights<M: Module>(module: &mut M, weights: &Weights) -> Result<(), String> {
    let mut tensors = Vec::with_capacity(weights.len());
    for (name, t) in weights {
        let Values::F32(values) = &t.values else {
            return Err(format!("tensor `{name}` is not F32"));
        };
        let bytes = bytemuck::cast_slice(values).to_vec();
        tensors.push(PackTensor::new(
            name.clone(),
            DType::F32,
            t.shape.clone(),
            None,
            Bytes::from_bytes_vec(bytes),
        ));
    }
    let result = module.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    let mut problems: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
    problems.extend(
        result
            .missing
            .iter()
            .map(|(p, _)| format!("tensor `{p}` is missing")),
    );
    problems.extend(
        result
            .unused
            .iter()
            .map(|p| format!("unexpected tensor `{p}`")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// How two sets of weights differ.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WeightComparison {
    /// Same names, shapes and bit patterns everywhere.
    pub bitwise_equal: bool,
    /// Largest `|a - b|` over all values of tensors present in both with equal shapes
    /// (infinite where names or shapes differ).
    pub max_abs_diff: f32,
    /// Number of tensors compared.
    pub tensors: usize,
}

/// Compares every tensor of `a` and `b`, bit for bit.
pub fn compare_weights(a: &Weights, b: &Weights) -> WeightComparison {
    let mut bitwise_equal = a.len() == b.len();
    let mut max_abs_diff = if bitwise_equal { 0.0f32 } else { f32::INFINITY };
    for (name, ta) in a {
        let same = b.get(name).and_then(|tb| match (&ta.values, &tb.values) {
            (Values::F32(x), Values::F32(y)) if ta.shape == tb.shape => Some((x, y)),
            _ => None,
        });
        let Some((x, y)) = same else {
            bitwise_equal = false;
            max_abs_diff = f32::INFINITY;
            continue;
        };
        for (u, v) in x.iter().zip(y) {
            if u.to_bits() != v.to_bits() {
                bitwise_equal = false;
            }
            max_abs_diff = max_abs_diff.max((u - v).abs());
        }
    }
    WeightComparison {
        bitwise_equal,
        max_abs_diff,
        tensors: a.len(),
    }
}

/// Checks that `weights` holds exactly the tensors `expected` (name, PyTorch shape).
///
/// # Errors
/// A description of every missing, unexpected or mis-shaped tensor.
pub fn check_shapes<'a>(
    weights: &Weights,
    expected: impl IntoIterator<Item = (String, &'a [usize])>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut seen = 0;
    for (name, shape) in expected {
        match weights.get(&name) {
            None => problems.push(format!("tensor `{name}` is missing")),
            Some(t) if t.shape != shape => problems.push(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                t.shape
            )),
            Some(t) if !matches!(t.values, Values::F32(_)) => {
                problems.push(format!("tensor `{name}` is not F32"))
            }
            Some(_) => seen += 1,
        }
    }
    if problems.is_empty() && seen != weights.len() {
        problems.push(format!("{} unexpected tensors", weights.len() - seen));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
