//! Who computes the offloaded products: the trusted process itself ([`LocalProducts`], the
//! paper's TEE-only baseline) or an untrusted worker under permutations ([`RemoteProducts`]).

use amalgam_core::tempo::{LayerState, Matrix, Message, OffloadedLayers, Transport};
use amalgam_core::training::OptimizerSettings;
use amalgam_core::{Error, Result};
use burn::prelude::*;

use super::freivalds;
use super::key::{Permutation, TempoKey};

/// The offloaded products of one training run. Tensors are plain (the trusted process's
/// view) and live on the inference device.
pub trait Products {
    /// `input · W + b` `[n, m]` of `layer` for `input` `[n, k]`.
    ///
    /// # Errors
    /// A connection failure, a refused request, or a product that fails its check.
    fn forward(&mut self, layer: usize, input: Tensor<2>) -> Result<Tensor<2>>;

    /// Backward pass of `layer` for its output gradient `[n, m]`: gathers the weight
    /// gradients for the next step and returns the input gradient `[n, k]` if asked.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    fn backward(
        &mut self,
        layer: usize,
        grad_output: Tensor<2>,
        input_grad: bool,
    ) -> Result<Option<Tensor<2>>>;

    /// One optimizer step on every layer.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    fn step(&mut self, learning_rate: f64) -> Result<()>;

    /// The layers, plain (`W` `[k, m]`, `b` `[m]`).
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    fn layers(&mut self) -> Result<Vec<LayerState>>;
}

/// The trusted process computes every product itself, unpermuted.
pub struct LocalProducts(OffloadedLayers);

impl LocalProducts {
    /// Holds `layers` (plain) with a fresh optimizer from `settings`.
    ///
    /// # Errors
    /// As [`OffloadedLayers::new`].
    pub fn new(
        settings: &OptimizerSettings,
        layers: &[LayerState],
        device: &Device,
    ) -> Result<Self> {
        Ok(Self(OffloadedLayers::new(settings, layers, None, device)?))
    }
}

impl Products for LocalProducts {
    fn forward(&mut self, layer: usize, input: Tensor<2>) -> Result<Tensor<2>> {
        self.0.forward(layer, input)
    }
    fn backward(
        &mut self,
        layer: usize,
        grad_output: Tensor<2>,
        input_grad: bool,
    ) -> Result<Option<Tensor<2>>> {
        Ok(self.0.backward(layer, grad_output, input_grad)?.input)
    }
    fn step(&mut self, learning_rate: f64) -> Result<()> {
        self.0.step(learning_rate);
        Ok(())
    }
    fn layers(&mut self) -> Result<Vec<LayerState>> {
        Ok(self.0.state()?.0)
    }
}

/// Messages and bytes exchanged with the worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Traffic {
    /// Requests sent.
    pub requests: u64,
    /// Frame bytes sent (before encryption).
    pub bytes_sent: u64,
    /// Frame bytes received (after decryption).
    pub bytes_received: u64,
    /// Products checked with Freivalds' algorithm.
    pub checked: u64,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// The products computed by an untrusted worker: inputs, gradients and weights travel
/// permuted (see [`super::key`]); with `rounds > 0` every returned product is checked with
/// Freivalds' algorithm against a mirror of the obfuscated weights that the trusted process
/// updates with the checked gradients (its cost: the mirror's memory and an element-wise
/// optimizer step; no matrix product).
pub struct RemoteProducts<T: Transport> {
    transport: T,
    key: TempoKey,
    step: u64,
    rows: Vec<Option<Permutation>>,
    sent: Vec<Option<Tensor<2>>>,
    mirror: Option<OffloadedLayers>,
    rounds: usize,
    device: Device,
    traffic: Traffic,
}

fn permute(x: Tensor<2>, rows: &Permutation, cols: &Permutation) -> Tensor<2> {
    cols.apply(rows.apply(x, 0), 1)
}

fn to_vec(t: Tensor<1>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("amalgam tensors are f32")
}

fn vector(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

impl<T: Transport> RemoteProducts<T> {
    /// Sends the worker the plain `layers` obfuscated with `key`, and an optimizer from
    /// `settings` (or `optimizer_state`, the worker's own from an earlier [`fetch`](Self::fetch),
    /// when resuming); checks every product with `rounds` Freivalds rounds.
    ///
    /// # Errors
    /// A connection failure or a refused set-up.
    pub fn new(
        mut transport: T,
        key: TempoKey,
        layers: &[LayerState],
        settings: &OptimizerSettings,
        optimizer_state: Option<Vec<u8>>,
        rounds: usize,
        device: &Device,
    ) -> Result<Self> {
        let obfuscated = obfuscate(layers, &key, device);
        let mirror = (rounds > 0)
            .then(|| {
                OffloadedLayers::new(settings, &obfuscated, optimizer_state.as_deref(), device)
            })
            .transpose()?;
        let setup = Message::Setup {
            optimizer: *settings,
            layers: obfuscated,
            optimizer_state,
            weight_gradients: rounds > 0,
        };
        let mut traffic = Traffic::default();
        let reply = exchange(&mut transport, &setup, &mut traffic)?;
        expect_done(reply)?;
        Ok(Self {
            transport,
            rows: vec![None; layers.len()],
            sent: vec![None; layers.len()],
            key,
            step: 0,
            mirror,
            rounds,
            device: device.clone(),
            traffic,
        })
    }

    /// Continues the row permutations from global step `step` (when resuming after `step`
    /// optimizer steps).
    pub fn starting_at(mut self, step: u64) -> Self {
        self.step = step;
        self
    }

    /// What has been exchanged so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// The worker's obfuscated layers and optimizer state, as a checkpoint holds them.
    ///
    /// # Errors
    /// A connection failure, or (with checks on) weights that differ from the mirror's.
    pub fn fetch(&mut self) -> Result<(Vec<LayerState>, Vec<u8>)> {
        let reply = exchange(&mut self.transport, &Message::Fetch, &mut self.traffic)?;
        let Message::State {
            layers,
            optimizer_state,
        } = reply
        else {
            return Err(unexpected("a state", &reply));
        };
        if layers.len() != self.key.layers.len() {
            return Err(Error::Connection(format!(
                "the worker returned {} layers, it holds {}",
                layers.len(),
                self.key.layers.len()
            )));
        }
        if let Some(mirror) = &self.mirror {
            let (expected, _) = mirror.state()?;
            if expected != layers {
                return Err(Error::Connection(
                    "the worker's weights differ from the checked updates".into(),
                ));
            }
        }
        Ok((layers, optimizer_state))
    }

    /// Ends the session.
    ///
    /// # Errors
    /// A connection failure.
    pub fn finish(mut self) -> Result<Traffic> {
        exchange(&mut self.transport, &Message::Bye, &mut self.traffic)?;
        Ok(self.traffic)
    }

    fn check(
        &mut self,
        layer: usize,
        what: &str,
        [a, b, c]: [Tensor<2>; 3],
        bias: Option<Tensor<1>>,
    ) -> Result<()> {
        let mut rng = self.key.freivalds_rng(self.step, layer);
        self.traffic.checked += 1;
        freivalds::check(a, b, c, bias, self.rounds, &mut rng).map_err(|e| {
            Error::Connection(format!(
                "the worker returned a wrong {what} for layer {layer} at step {}: {e}",
                self.step
            ))
        })
    }

    fn matrix(&self, m: Matrix, shape: [usize; 2], what: &str) -> Result<Tensor<2>> {
        if [m.rows, m.cols] != shape {
            return Err(Error::Connection(format!(
                "the worker returned a [{}, {}] {what}, expected {shape:?}",
                m.rows, m.cols
            )));
        }
        Ok(m.into_tensor(&self.device))
    }
}

fn exchange(
    transport: &mut impl Transport,
    message: &Message,
    traffic: &mut Traffic,
) -> Result<Message> {
    let reply = transport.request(message)?;
    traffic.requests += 1;
    [traffic.bytes_sent, traffic.bytes_received] = transport.bytes();
    Ok(reply)
}

/// The worker's copies of the plain `layers`: `W' = Qᵀ W R`, `b' = b R`.
pub fn obfuscate(layers: &[LayerState], key: &TempoKey, device: &Device) -> Vec<LayerState> {
    layers
        .iter()
        .zip(&key.layers)
        .map(|(layer, k)| LayerState {
            weight: Matrix::from_tensor(permute(
                layer.weight.to_tensor(device),
                &k.input,
                &k.output,
            )),
            bias: layer
                .bias
                .as_ref()
                .map(|b| to_vec(k.output.apply(vector(b, device), 0))),
        })
        .collect()
}

/// The plain layers of the worker's obfuscated `layers` (the inverse of [`obfuscate`]).
///
/// # Errors
/// [`Error::Connection`] when the layers do not have the key's shapes.
pub fn reveal(layers: &[LayerState], key: &TempoKey, device: &Device) -> Result<Vec<LayerState>> {
    if layers.len() != key.layers.len() {
        return Err(Error::Connection(format!(
            "{} layers where the key has {}",
            layers.len(),
            key.layers.len()
        )));
    }
    layers
        .iter()
        .zip(&key.layers)
        .map(|(layer, k)| {
            let (rows, cols) = (k.input.len(), k.output.len());
            let w = &layer.weight;
            if [w.rows, w.cols] != [rows, cols]
                || layer.bias.as_ref().is_some_and(|b| b.len() != cols)
            {
                return Err(Error::Connection(format!(
                    "a [{}, {}] layer where the key has [{rows}, {cols}]",
                    w.rows, w.cols
                )));
            }
            Ok(LayerState {
                weight: Matrix::from_tensor(permute(
                    w.to_tensor(device),
                    &k.input.inverse(),
                    &k.output.inverse(),
                )),
                bias: layer
                    .bias
                    .as_ref()
                    .map(|b| to_vec(k.output.inverse().apply(vector(b, device), 0))),
            })
        })
        .collect()
}

fn unexpected(wanted: &str, reply: &Message) -> Error {
    Error::Connection(format!(
        "the worker answered {reply:.60?} where {wanted} was due"
    ))
}

fn expect_done(reply: Message) -> Result<()> {
    match reply {
        Message::Done => Ok(()),
        other => Err(unexpected("done", &other)),
    }
}

impl<T: Transport> Products for RemoteProducts<T> {
    fn forward(&mut self, layer: usize, input: Tensor<2>) -> Result<Tensor<2>> {
        let [n, k] = input.dims();
        let key = &self.key.layers[layer];
        let m = key.output.len();
        let rows = self.key.rows(self.step, layer, n);
        let sent = permute(input, &rows, &key.input);
        let request = Message::Forward {
            layer,
            input: Matrix::from_tensor(sent.clone()),
        };
        let reply = exchange(&mut self.transport, &request, &mut self.traffic)?;
        let Message::Product(product) = reply else {
            return Err(unexpected("a product", &reply));
        };
        let product = self.matrix(product, [n, m], "product")?;
        if let Some(mirror) = &self.mirror {
            let (weight, bias) = (mirror.weight(layer), mirror.bias(layer));
            debug_assert_eq!(weight.dims(), [k, m]);
            self.check(
                layer,
                "product",
                [sent.clone(), weight, product.clone()],
                bias,
            )?;
            self.sent[layer] = Some(sent);
        }
        let key = &self.key.layers[layer];
        let plain = permute(product, &rows.inverse(), &key.output.inverse());
        self.rows[layer] = Some(rows);
        Ok(plain)
    }

    fn backward(
        &mut self,
        layer: usize,
        grad_output: Tensor<2>,
        input_grad: bool,
    ) -> Result<Option<Tensor<2>>> {
        let rows = self.rows[layer]
            .take()
            .ok_or_else(|| Error::invalid(format!("layer {layer}: backward without forward")))?;
        let key = self.key.layers[layer].clone();
        let (k, m) = (key.input.len(), key.output.len());
        let n = rows.len();
        let grad = permute(grad_output, &rows, &key.output);
        let request = Message::Backward {
            layer,
            grad_output: Matrix::from_tensor(grad.clone()),
            input_grad,
        };
        let reply = exchange(&mut self.transport, &request, &mut self.traffic)?;
        let Message::Gradients { input, weight } = reply else {
            return Err(unexpected("gradients", &reply));
        };
        if input.is_some() != input_grad || weight.is_some() != self.mirror.is_some() {
            return Err(Error::Connection(
                "the worker's gradients are not the ones asked for".into(),
            ));
        }
        let input = input
            .map(|m| self.matrix(m, [n, k], "input gradient"))
            .transpose()?;
        if let Some(weight) = weight {
            let weight = self.matrix(weight, [k, m], "weight gradient")?;
            let sent = self.sent[layer]
                .take()
                .expect("a checked forward keeps what it sent");
            self.check(
                layer,
                "weight gradient",
                [sent.transpose(), grad.clone(), weight.clone()],
                None,
            )?;
            let mirror = self
                .mirror
                .as_ref()
                .expect("weight gradients come with a mirror");
            let (held, has_bias) = (mirror.weight(layer), mirror.bias(layer).is_some());
            if let Some(dx) = &input {
                self.check(
                    layer,
                    "input gradient",
                    [grad.clone(), held.transpose(), dx.clone()],
                    None,
                )?;
            }
            let bias = has_bias.then(|| grad.clone().sum_dim(0).reshape([m]));
            self.mirror
                .as_mut()
                .expect("weight gradients come with a mirror")
                .set_gradients(layer, weight, bias)?;
        }
        Ok(input.map(|dx| permute(dx, &rows.inverse(), &key.input.inverse())))
    }

    fn step(&mut self, learning_rate: f64) -> Result<()> {
        let reply = exchange(
            &mut self.transport,
            &Message::Step { learning_rate },
            &mut self.traffic,
        )?;
        expect_done(reply)?;
        if let Some(mirror) = self.mirror.as_mut() {
            mirror.step(learning_rate);
        }
        self.step += 1;
        self.traffic.steps += 1;
        Ok(())
    }

    fn layers(&mut self) -> Result<Vec<LayerState>> {
        let (layers, _) = self.fetch()?;
        reveal(&layers, &self.key, &self.device)
    }
}
