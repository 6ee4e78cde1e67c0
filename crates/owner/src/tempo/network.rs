//! The trusted process's network: runs a [`Graph`] forward and backward, sending each product
//! to [`Products`] and differentiating everything else locally with burn's autodiff, one node
//! at a time (each trusted node's vector-Jacobian product comes from backpropagating
//! `Σ output ⊙ output-gradient` through that node alone).

use amalgam_core::model::{
    ImageShape, InputBatch, InputStage, ModelSpec, Weights, set_weights, weights_of,
};
use amalgam_core::tempo::{LayerState, Matrix};
use amalgam_core::tensors::{HostTensor, Values};
use amalgam_core::{Error, Result};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::graph::{Graph, Op, Value, run_local};
use super::products::Products;

/// The BatchNorm layers the trusted process keeps and trains itself.
#[derive(Module, Debug)]
pub struct Norms {
    norms: Vec<BatchNorm>,
}

/// The network on the trusted side: its graph, its BatchNorm layers and its input stage.
pub struct TrustedNetwork {
    /// The graph.
    pub graph: Graph,
    /// BatchNorm layers (on the training device).
    pub norms: Norms,
    stage: InputStage,
    /// Nodes whose value depends on a trained parameter (their gradient is needed).
    needs_grad: Vec<bool>,
}

/// What a trusted node kept from its forward pass for its backward pass.
struct Record {
    leaves: Vec<Value>,
    output: Value,
}

fn values(t: &HostTensor) -> &[f32] {
    match &t.values {
        Values::F32(v) => v,
        _ => &[],
    }
}

impl TrustedNetwork {
    /// The network of `spec` on the training `device` with the BatchNorm layers of `weights`
    /// (PyTorch names), and the plain offloaded layers (`W` `[k, m]`, `b` `[m]`) of `weights`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an architecture Tempo does not offload, or missing or
    /// mis-shaped weights.
    pub fn new(
        spec: &ModelSpec,
        weights: &Weights,
        device: &Device,
    ) -> Result<(Self, Vec<LayerState>)> {
        let graph = Graph::new(spec)?;
        let mut layers = Vec::with_capacity(graph.layers.len());
        for layer in &graph.layers {
            let [k, m] = layer.product_shape();
            let name = format!("{}.weight", layer.name);
            let weight = weights
                .get(&name)
                .filter(|t| t.shape == layer.weight_shape)
                .ok_or_else(|| {
                    Error::invalid(format!("weight `{name}` is missing or mis-shaped"))
                })?;
            let plain =
                Tensor::<2>::from_data(TensorData::new(values(weight).to_vec(), [m, k]), device)
                    .inner()
                    .transpose();
            let bias = if layer.bias {
                let name = format!("{}.bias", layer.name);
                let bias = weights
                    .get(&name)
                    .filter(|t| t.shape == [m])
                    .ok_or_else(|| {
                        Error::invalid(format!("bias `{name}` is missing or mis-shaped"))
                    })?;
                Some(values(bias).to_vec())
            } else {
                None
            };
            layers.push(LayerState {
                weight: Matrix::from_tensor(plain),
                bias,
            });
        }
        let mut norms = Norms {
            norms: graph
                .norms
                .iter()
                .map(|name| {
                    let width = weights
                        .get(&format!("{name}.weight"))
                        .map_or(1, |t| t.shape[0]);
                    BatchNormConfig::new(width).init(device)
                })
                .collect(),
        };
        let renamed: Weights = graph
            .norms
            .iter()
            .enumerate()
            .flat_map(|(i, name)| {
                ["weight", "bias", "running_mean", "running_var"].map(|part| {
                    let tensor = weights.get(&format!("{name}.{part}")).cloned();
                    (format!("norms.{i}.{part}"), tensor)
                })
            })
            .map(|(name, t)| {
                t.map(|t| (name.clone(), t)).ok_or_else(|| {
                    Error::invalid(format!("BatchNorm tensor for `{name}` is missing"))
                })
            })
            .collect::<Result<_>>()?;
        set_weights(&mut norms, &renamed).map_err(Error::invalid)?;
        let mut needs_grad = Vec::with_capacity(graph.nodes.len());
        for node in &graph.nodes {
            let needs = match node.op {
                Op::Input => false,
                Op::Product { .. } => true,
                _ => node.inputs.iter().any(|&i| needs_grad[i]),
            };
            needs_grad.push(needs);
        }
        Ok((
            Self {
                graph,
                norms,
                stage: InputStage::new(spec, device),
                needs_grad,
            },
            layers,
        ))
    }

    /// One training step's forward and backward passes on `images` `[B, C, H, W]` (training
    /// device) and `labels` `[B]`: the products' gradients are gathered by `products`; the
    /// BatchNorm gradients are returned. Also returns the batch's mean cross-entropy.
    ///
    /// # Errors
    /// The first failure of `products`.
    pub fn train_step(
        &self,
        products: &mut dyn Products,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        loss: &CrossEntropyLoss,
    ) -> Result<(f32, GradientsParams)> {
        let nodes = &self.graph.nodes;
        let mut values: Vec<Option<Value>> = vec![None; nodes.len()];
        let mut records: Vec<Option<Record>> = (0..nodes.len()).map(|_| None).collect();
        for (i, node) in nodes.iter().enumerate() {
            let input = |j: usize| values[node.inputs[j]].as_ref().expect("inputs come first");
            let value = match &node.op {
                Op::Input => match self.stage.apply(InputBatch::Images(images.clone())) {
                    InputBatch::Images(x) => Value::Map(x.detach()),
                    InputBatch::Tokens(_) => unreachable!("Tempo graphs take images"),
                },
                Op::Product { layer } => {
                    let x = input(0).clone().matrix().inner();
                    Value::Matrix(Tensor::from_inner(products.forward(*layer, x)?))
                }
                op => {
                    let leaves: Vec<Value> =
                        (0..node.inputs.len()).map(|j| input(j).leaf()).collect();
                    let output = run_local(op, leaves.clone(), &self.norms.norms);
                    let value = output.detached();
                    records[i] = Some(Record { leaves, output });
                    value
                }
            };
            values[i] = Some(value);
        }
        let last = nodes.len() - 1;
        let logits = values[last]
            .take()
            .expect("the graph ends in the logits")
            .leaf();
        let batch_loss = loss.forward(logits.clone().matrix(), labels);
        let value = batch_loss.clone().into_scalar::<f32>();
        let mut grads: Vec<Option<Value>> = vec![None; nodes.len()];
        grads[last] = Some(logits.grad(&batch_loss.backward()));
        let mut norm_grads = GradientsParams::new();
        for i in (1..nodes.len()).rev() {
            let Some(grad) = grads[i].take() else {
                continue;
            };
            let node = &nodes[i];
            let mut accumulate = |j: usize, g: Value| {
                grads[j] = Some(match grads[j].take() {
                    Some(sum) => sum.add(g),
                    None => g,
                });
            };
            match &node.op {
                Op::Product { layer } => {
                    let j = node.inputs[0];
                    let dx =
                        products.backward(*layer, grad.matrix().inner(), self.needs_grad[j])?;
                    if let Some(dx) = dx {
                        accumulate(j, Value::Matrix(Tensor::from_inner(dx)));
                    }
                }
                op => {
                    let record = records[i]
                        .take()
                        .expect("every trusted node kept its record");
                    let backward = record.output.dot(&grad).backward();
                    for (&j, leaf) in node.inputs.iter().zip(&record.leaves) {
                        if self.needs_grad[j] {
                            accumulate(j, leaf.grad(&backward));
                        }
                    }
                    if let Op::Norm(k) = op {
                        let norm = &self.norms.norms[*k];
                        for param in [&norm.gamma, &norm.beta] {
                            if let Some(g) = param.val().grad(&backward) {
                                norm_grads.register(param.id, g);
                            }
                        }
                    }
                }
            }
        }
        Ok((value, norm_grads))
    }

    /// The input images' shape.
    pub fn image_shape(&self) -> ImageShape {
        self.stage
            .input()
            .image()
            .expect("Tempo graphs are built for image models only")
    }

    /// One optimizer step of the BatchNorm layers with their gradients from
    /// [`train_step`](Self::train_step).
    pub fn step_norms(
        &mut self,
        optimizer: &mut ModuleOptimizer,
        learning_rate: f64,
        grads: GradientsParams,
    ) {
        let norms = std::mem::replace(&mut self.norms, Norms { norms: Vec::new() });
        self.norms = optimizer.step(learning_rate, norms, grads);
    }

    /// Folds pending BatchNorm running-statistics updates into the layers (as
    /// `amalgam_core::model::Network::flush_running_statistics` does).
    pub fn flush_running_statistics(&self) {
        for norm in &self.norms.norms {
            norm.running_mean.value_sync();
            norm.running_var.value_sync();
        }
    }

    /// The model's weights (PyTorch names) from the plain offloaded `layers` and the
    /// BatchNorm layers.
    pub fn weights(&self, layers: &[LayerState], device: &Device) -> Weights {
        let mut weights = offloaded_weights(&self.graph, layers, device);
        for (name, tensor) in weights_of(&self.norms) {
            let rest = name
                .strip_prefix("norms.")
                .expect("Norms names its layers norms.{i}");
            let (index, part) = rest.split_once('.').expect("norms.{i}.{part}");
            let index: usize = index.parse().expect("a layer number");
            weights.insert(format!("{}.{part}", self.graph.norms[index]), tensor);
        }
        weights
    }
}

/// The weights (PyTorch names) of the plain offloaded `layers` of `graph` (`W` `[k, m]` back
/// to `[out, in, ...]`).
pub fn offloaded_weights(graph: &Graph, layers: &[LayerState], device: &Device) -> Weights {
    let mut weights = Weights::new();
    for (layer, state) in graph.layers.iter().zip(layers) {
        let weight = state.weight.to_tensor(device).transpose();
        weights.insert(
            format!("{}.weight", layer.name),
            HostTensor::f32(
                layer.weight_shape.clone(),
                Matrix::from_tensor(weight).values,
            ),
        );
        if let Some(b) = &state.bias {
            weights.insert(
                format!("{}.bias", layer.name),
                HostTensor::f32(vec![b.len()], b.clone()),
            );
        }
    }
    weights
}
