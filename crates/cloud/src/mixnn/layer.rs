//! One layer on its host: forward, backward from the gradient of its output, and its own
//! optimizer. The arithmetic is burn's, the very operations whole-model training runs, so the
//! split model trains bitwise like the whole one (see `docs/MIXNN.md`).

use burn::module::{Module, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::relu;

use amalgam_core::mixnn::LayerSpec;
use amalgam_core::model::{Weights, check_shapes, set_weights, weights_of};
use amalgam_core::tensors::{HostTensor, Values};
use amalgam_core::training::{OptimizerSettings, restore_optimizer};
use amalgam_core::{Error, Result};

#[derive(Module, Debug)]
enum LayerModule {
    Dense(Linear),
    Conv(Conv2d),
}

/// The input kept for the backward pass.
enum Input {
    Flat(Tensor<2>),
    Image(Tensor<4>),
}

/// A forward pass waiting for its output gradient.
struct Kept {
    input: Input,
    /// The input's shape as it came, `[B, ...]`.
    input_shape: Vec<usize>,
    /// The output flattened to `[B, n]`.
    output: Tensor<2>,
}

/// The layer, its optimizer, the last forward pass and the gradients of the last backward
/// pass (applied by [`HostLayer::apply`]).
pub struct HostLayer {
    spec: LayerSpec,
    module: Option<LayerModule>,
    pool: Option<MaxPool2d>,
    optimizer: ModuleOptimizer,
    kept: Option<Kept>,
    pending: Option<(GradientsParams, f64)>,
    device: Device,
}

impl HostLayer {
    /// The layer `spec` with `weights` (`weight`, `bias`, PyTorch layout) on the autodiff
    /// `device`, and a fresh optimizer from `settings` or the saved `optimizer_state`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for weights that do not fit the spec or an unreadable state.
    pub fn new(
        spec: &LayerSpec,
        weights: &Weights,
        settings: &OptimizerSettings,
        optimizer_state: Option<&[u8]>,
        device: &Device,
    ) -> Result<Self> {
        spec.validate()?;
        let expected = spec.parameter_shapes();
        check_shapes(
            weights,
            expected.iter().map(|(n, s)| (n.to_string(), s.as_slice())),
        )
        .map_err(|e| Error::invalid(format!("layer weights: {e}")))?;
        let (module, pool) = match *spec {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => (
                LayerModule::Dense(LinearConfig::new(inputs, outputs).init(device)),
                None,
            ),
            LayerSpec::Conv {
                in_channels,
                out_channels,
                kernel,
                pool,
            } => (
                LayerModule::Conv(
                    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel]).init(device),
                ),
                Some(MaxPool2dConfig::new([pool, pool]).init()),
            ),
        };
        let mut module = module;
        set_weights(&mut module, weights)
            .map_err(|e| Error::invalid(format!("layer weights: {e}")))?;
        // Fixed parameter ids (weight 0, bias 1), so that a saved optimizer state finds its
        // parameters again in a layer rebuilt after a restart.
        let (weight, bias) = match &mut module {
            LayerModule::Dense(l) => (&mut l.weight.id, l.bias.as_mut().map(|b| &mut b.id)),
            LayerModule::Conv(c) => (&mut c.weight.id, c.bias.as_mut().map(|b| &mut b.id)),
        };
        *weight = ParamId::from(0);
        if let Some(bias) = bias {
            *bias = ParamId::from(1);
        }
        let mut optimizer = settings.build();
        if let Some(bytes) = optimizer_state {
            optimizer = restore_optimizer(optimizer, bytes.to_vec()).map_err(Error::invalid)?;
        }
        Ok(Self {
            spec: spec.clone(),
            module: Some(module),
            pool,
            optimizer,
            kept: None,
            pending: None,
            device: device.clone(),
        })
    }

    fn module(&self) -> &LayerModule {
        self.module
            .as_ref()
            .expect("the module is only taken inside apply")
    }

    /// The output `[B, ...]` for `input` `[B, ...]`; keeps what the backward pass needs.
    /// `input_grad`: whether [`backward`](Self::backward) must give the input's gradient.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an input the layer cannot take.
    pub fn forward(&mut self, input: &HostTensor, input_grad: bool) -> Result<HostTensor> {
        let out_shape = self.spec.output_shape(&input.shape)?;
        let Values::F32(values) = &input.values else {
            return Err(Error::invalid("activations must be F32"));
        };
        let track = |t: Tensor<2>| if input_grad { t.require_grad() } else { t };
        let batch = out_shape[0];
        let (kept_input, output) = match (self.module(), &self.spec) {
            (
                LayerModule::Dense(linear),
                LayerSpec::Dense {
                    inputs, relu: r, ..
                },
            ) => {
                let x = track(Tensor::from_data(
                    TensorData::new(values.clone(), [batch, *inputs]),
                    &self.device,
                ));
                let y = linear.forward(x.clone());
                (Input::Flat(x), if *r { relu(y) } else { y })
            }
            (LayerModule::Conv(conv), LayerSpec::Conv { .. }) => {
                let shape: [usize; 4] = input.shape.clone().try_into().expect("checked rank 4");
                let x =
                    Tensor::<4>::from_data(TensorData::new(values.clone(), shape), &self.device);
                let x = if input_grad { x.require_grad() } else { x };
                let pool = self
                    .pool
                    .as_ref()
                    .expect("a convolution layer has its pool");
                let y = pool.forward(relu(conv.forward(x.clone())));
                (Input::Image(x), y.flatten(1, 3))
            }
            _ => unreachable!("the module is built from the spec"),
        };
        let values: Vec<f32> = output.clone().into_data().iter::<f32>().collect();
        self.kept = Some(Kept {
            input: kept_input,
            input_shape: input.shape.clone(),
            output,
        });
        Ok(HostTensor::f32(out_shape, values))
    }

    /// Backward pass of the last forward pass for the gradient `grad_output` of its output:
    /// keeps the parameters' gradients for [`apply`](Self::apply) with `learning_rate`, and
    /// returns the input's gradient (same shape as the input) if the forward pass asked for it.
    ///
    /// # Errors
    /// [`Error::Invalid`] without a forward pass, or for a gradient of the wrong shape.
    pub fn backward(
        &mut self,
        grad_output: &HostTensor,
        learning_rate: f64,
    ) -> Result<Option<HostTensor>> {
        let kept = self
            .kept
            .take()
            .ok_or_else(|| Error::invalid("a backward pass without a forward pass"))?;
        let dims = kept.output.dims();
        let Values::F32(values) = &grad_output.values else {
            return Err(Error::invalid("gradients must be F32"));
        };
        if grad_output.shape.iter().product::<usize>() != dims[0] * dims[1]
            || grad_output.shape.first() != Some(&dims[0])
        {
            return Err(Error::invalid(format!(
                "an output gradient of shape {:?} for an output of {} values per sample",
                grad_output.shape, dims[1]
            )));
        }
        let g = Tensor::<2>::from_data(TensorData::new(values.clone(), dims), &self.device);
        // d(Σ output ⊙ g)/d(output) = g exactly (1 · g), so the layer's own backward sees the
        // very gradient whole-model training would give it.
        let grads = (kept.output * g).sum().backward();
        let input = match kept.input {
            Input::Flat(x) => x.grad(&grads).map(|t| t.into_data()),
            Input::Image(x) => x.grad(&grads).map(|t| t.into_data()),
        };
        let params = GradientsParams::from_grads(grads, self.module());
        self.pending = Some((params, learning_rate));
        // In the input's own shape (a dense layer flattened it).
        Ok(input.map(|data| HostTensor::f32(kept.input_shape, data.iter::<f32>().collect())))
    }

    /// Applies the gradients of the last backward pass, if any (one optimizer step).
    pub fn apply(&mut self) {
        if let Some((grads, rate)) = self.pending.take() {
            let module = self.module.take().expect("present between steps");
            self.module = Some(self.optimizer.step(rate, module, grads));
        }
    }

    /// Drops the gradients of the last backward pass (its step is being tried again).
    pub fn discard(&mut self) {
        self.pending = None;
        self.kept = None;
    }

    /// The weights (`weight`, `bias`, PyTorch layout) and the optimizer state (burnpack).
    ///
    /// # Errors
    /// [`Error::Invalid`] if burn cannot serialise the optimizer state.
    pub fn state(&self) -> Result<(Weights, Vec<u8>)> {
        let bytes = self
            .optimizer
            .into_bytes()
            .map_err(|e| Error::invalid(format!("cannot serialise the optimizer state: {e}")))?;
        Ok((weights_of(self.module()), bytes.to_vec()))
    }
}
