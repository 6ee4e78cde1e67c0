//! The offloaded layers of Tempo and their optimizer: what the worker holds (obfuscated), and
//! what the trusted process holds when it checks the worker or trains without one.
//!
//! Each layer is a product `Y = X W + b` with `X` `[n, k]`, `W` `[k, m]`, `b` `[m]`. Its
//! gradients are `dW = Xᵀ dY`, `db = Σ_rows dY` and `dX = dY Wᵀ`, computed with the same burn
//! operations burn's autodiff uses for a linear layer. The optimizer is burn's, so each
//! parameter is updated from its own gradient and state, element by element: the reason a
//! permuted `W' = Qᵀ W R` can be updated in place (see `docs/TEMPO.md`).

use burn::module::{Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::wire::{LayerState, MAX_LAYERS, Matrix};
use crate::training::{OptimizerSettings, restore_optimizer};
use crate::{Error, Result};

/// The parameters, with fixed ids (weight `2i`, bias `2i + 1`) so that a saved optimizer
/// state finds them again.
#[derive(Module, Debug)]
struct LayerParams {
    weights: Vec<Param<Tensor<2>>>,
    biases: Vec<Option<Param<Tensor<1>>>>,
}

/// The gradients of one layer's backward pass.
pub struct LayerGradients {
    /// `dX` `[n, k]`, if asked for.
    pub input: Option<Tensor<2>>,
    /// `dW` `[k, m]`.
    pub weight: Tensor<2>,
}

/// Offloaded layers, their optimizer, the inputs kept for the backward pass and the
/// gradients gathered for the next step.
pub struct OffloadedLayers {
    params: LayerParams,
    optimizer: ModuleOptimizer,
    inputs: Vec<Option<Tensor<2>>>,
    gradients: GradientsParams,
}

fn invalid(what: String) -> Error {
    Error::invalid(what)
}

impl OffloadedLayers {
    /// Holds `layers` on `device` with a fresh optimizer from `settings`, or the state
    /// `optimizer_state` (burnpack bytes from [`state`](Self::state)) when resuming.
    ///
    /// # Errors
    /// [`Error::Invalid`] for no layers or more than [`MAX_LAYERS`], an empty or non-finite
    /// weight, or an unreadable optimizer state.
    pub fn new(
        settings: &OptimizerSettings,
        layers: &[LayerState],
        optimizer_state: Option<&[u8]>,
        device: &Device,
    ) -> Result<Self> {
        settings.validate()?;
        if layers.is_empty() || layers.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "{} layers: between 1 and {MAX_LAYERS} are allowed",
                layers.len()
            )));
        }
        // burn's optimizers step autodiff parameters: the parameters live on the autodiff
        // flavour of `device`, the products run on their inner tensors.
        let params_device = device.clone().autodiff();
        let mut weights = Vec::with_capacity(layers.len());
        let mut biases = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let w = &layer.weight;
            if w.rows == 0 || w.cols == 0 || w.values.iter().any(|v| !v.is_finite()) {
                return Err(invalid(format!(
                    "layer {i}: the weight must be a non-empty finite matrix"
                )));
            }
            weights.push(Param::initialized(
                ParamId::from(2 * i as u64),
                w.to_tensor(&params_device).require_grad(),
            ));
            biases.push(layer.bias.as_ref().map(|b| {
                Param::initialized(
                    ParamId::from(2 * i as u64 + 1),
                    Tensor::from_data(TensorData::new(b.clone(), [b.len()]), &params_device)
                        .require_grad(),
                )
            }));
        }
        let mut optimizer = settings.build();
        if let Some(bytes) = optimizer_state {
            optimizer = restore_optimizer(optimizer, bytes.to_vec()).map_err(invalid)?;
        }
        Ok(Self {
            params: LayerParams { weights, biases },
            optimizer,
            inputs: vec![None; layers.len()],
            gradients: GradientsParams::new(),
        })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.params.weights.len()
    }

    /// Always false: a set holds at least one layer.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn checked(&self, layer: usize) -> Result<usize> {
        if layer < self.len() {
            Ok(layer)
        } else {
            Err(invalid(format!(
                "layer {layer} does not exist ({} layers)",
                self.len()
            )))
        }
    }

    /// `[k, m]` of `layer`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a layer out of range.
    pub fn shape(&self, layer: usize) -> Result<[usize; 2]> {
        Ok(self.params.weights[self.checked(layer)?].shape().dims())
    }

    /// The weight `[k, m]` of `layer` (in range).
    pub fn weight(&self, layer: usize) -> Tensor<2> {
        self.params.weights[layer].val().inner()
    }

    /// The bias `[m]` of `layer` (in range), if it has one.
    pub fn bias(&self, layer: usize) -> Option<Tensor<1>> {
        self.params.biases[layer].as_ref().map(|b| b.val().inner())
    }

    /// `input · W + b` `[n, m]` for `input` `[n, k]`; keeps `input` for [`backward`](Self::backward).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a layer out of range or an input of the wrong width.
    pub fn forward(&mut self, layer: usize, input: Tensor<2>) -> Result<Tensor<2>> {
        let [k, _] = self.shape(layer)?;
        let [n, width] = input.dims();
        if width != k || n == 0 {
            return Err(invalid(format!(
                "layer {layer} takes [n >= 1, {k}] inputs, got [{n}, {width}]"
            )));
        }
        self.inputs[layer] = Some(input.clone());
        Ok(affine(input, self.weight(layer), self.bias(layer)))
    }

    /// The gradients of `layer` for the output gradient `grad_output` `[n, m]` of its last
    /// forward pass; keeps `dW` and `db` for the next [`step`](Self::step).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a layer out of range, no forward pass since the last backward,
    /// or a gradient of the wrong shape.
    pub fn backward(
        &mut self,
        layer: usize,
        grad_output: Tensor<2>,
        input_grad: bool,
    ) -> Result<LayerGradients> {
        let [_, m] = self.shape(layer)?;
        let input = self.inputs[layer]
            .take()
            .ok_or_else(|| invalid(format!("layer {layer}: backward without a forward pass")))?;
        let [n, _] = input.dims();
        if grad_output.dims() != [n, m] {
            return Err(invalid(format!(
                "layer {layer}: output gradient {:?}, expected [{n}, {m}]",
                grad_output.dims()
            )));
        }
        let weight = input.transpose().matmul(grad_output.clone());
        let bias = self.params.biases[layer]
            .is_some()
            .then(|| grad_output.clone().sum_dim(0).reshape([m]));
        let input = input_grad.then(|| grad_output.matmul(self.weight(layer).transpose()));
        self.set_gradients(layer, weight.clone(), bias)?;
        Ok(LayerGradients { input, weight })
    }

    /// Sets the gradients of `layer` for the next step (the trusted process's mirror takes
    /// them from the worker after checking them).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a layer out of range, or gradients that do not match the
    /// layer's shapes.
    pub fn set_gradients(
        &mut self,
        layer: usize,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Result<()> {
        let [k, m] = self.shape(layer)?;
        let param = &self.params.biases[layer];
        if weight.dims() != [k, m]
            || param.is_some() != bias.is_some()
            || bias.as_ref().is_some_and(|b| b.dims() != [m])
        {
            return Err(invalid(format!(
                "layer {layer}: gradients do not match its [{k}, {m}] weight and its bias"
            )));
        }
        self.gradients
            .register(self.params.weights[layer].id, weight);
        if let (Some(p), Some(b)) = (param, bias) {
            self.gradients.register(p.id, b);
        }
        Ok(())
    }

    /// One optimizer step with `learning_rate` on the gathered gradients, which are then
    /// cleared.
    pub fn step(&mut self, learning_rate: f64) {
        let gradients = std::mem::replace(&mut self.gradients, GradientsParams::new());
        let params = std::mem::replace(
            &mut self.params,
            LayerParams {
                weights: Vec::new(),
                biases: Vec::new(),
            },
        );
        self.params = self.optimizer.step(learning_rate, params, gradients);
    }

    /// The layers and the optimizer state (burnpack bytes), for a checkpoint.
    ///
    /// # Errors
    /// [`Error::Invalid`] if burn cannot serialise the optimizer state.
    pub fn state(&self) -> Result<(Vec<LayerState>, Vec<u8>)> {
        let layers = (0..self.len())
            .map(|i| LayerState {
                weight: Matrix::from_tensor(self.weight(i)),
                bias: self.bias(i).map(|b| {
                    b.into_data()
                        .try_into_vec::<f32>()
                        .expect("amalgam tensors are f32")
                }),
            })
            .collect();
        let bytes = self
            .optimizer
            .into_bytes()
            .map_err(|e| invalid(format!("cannot serialise the optimizer state: {e}")))?;
        Ok((layers, bytes.to_vec()))
    }
}

/// `input · weight + bias`, as burn's `Linear` computes it.
pub fn affine(input: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    let product = input.matmul(weight);
    match bias {
        Some(b) => product + b.unsqueeze(),
        None => product,
    }
}
