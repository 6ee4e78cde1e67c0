//! The worker's side of the protocol: one [`Message`] in, one reply out.

use amalgam_core::tempo::{Matrix, Message, OffloadedLayers, ProductView, Transport, WorkerView};
use amalgam_core::{Error, Result};
use burn::prelude::*;

/// Most layer-0 input values a curious worker keeps (64 MB of f32): a whole epoch of a small
/// image set, a few hundred steps of im2col rows.
pub const MAX_KEPT_INPUT_VALUES: usize = 1 << 24;

/// A wrong answer the worker gives on purpose, to test the trusted process's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Adds 1 to one value of the `n`-th forward product (counting from 0).
    CorruptProduct(usize),
    /// Adds 1 to one value of the `n`-th input gradient (counting from 0).
    CorruptInputGradient(usize),
}

/// The worker's state for one session.
pub struct Worker {
    layers: Option<OffloadedLayers>,
    weight_gradients: bool,
    device: Device,
    fault: Option<Fault>,
    products: usize,
    input_gradients: usize,
    steps: usize,
    view: Option<WorkerView>,
}

impl Worker {
    /// A worker computing on `device`, holding nothing yet.
    pub fn new(device: &Device) -> Self {
        Self {
            layers: None,
            weight_gradients: false,
            device: device.clone(),
            fault: None,
            products: 0,
            input_gradients: 0,
            steps: 0,
            view: None,
        }
    }

    /// The same worker, curious: it keeps what the attacks need (see [`WorkerView`]).
    pub fn curious(mut self) -> Self {
        self.view = Some(WorkerView::default());
        self
    }

    /// What a curious worker kept, with the layers it holds now (none for an honest one).
    ///
    /// # Errors
    /// [`Error::Invalid`] if burn cannot read the layers back.
    pub fn into_view(self) -> Result<Option<WorkerView>> {
        let Some(mut view) = self.view else {
            return Ok(None);
        };
        if let Some(layers) = &self.layers {
            view.final_layers = layers.state()?.0;
        }
        Ok(Some(view))
    }

    /// The same worker, answering wrongly once as `fault` says.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// The reply to `message`; a request that cannot be served gets [`Message::Refused`]
    /// with the reason (never a panic).
    pub fn handle(&mut self, message: Message) -> Message {
        self.reply(message)
            .unwrap_or_else(|e| Message::Refused(e.to_string()))
    }

    fn layers(&mut self) -> Result<&mut OffloadedLayers> {
        self.layers
            .as_mut()
            .ok_or_else(|| Error::invalid("no layers yet: the session must start with a set-up"))
    }

    fn reply(&mut self, message: Message) -> Result<Message> {
        Ok(match message {
            Message::Setup {
                optimizer,
                layers,
                optimizer_state,
                weight_gradients,
            } => {
                self.layers = Some(OffloadedLayers::new(
                    &optimizer,
                    &layers,
                    optimizer_state.as_deref(),
                    &self.device,
                )?);
                self.weight_gradients = weight_gradients;
                Message::Done
            }
            Message::Forward { layer, input } => {
                let device = self.device.clone();
                let mut output =
                    Matrix::from_tensor(self.layers()?.forward(layer, input.to_tensor(&device))?);
                if self.fault == Some(Fault::CorruptProduct(self.products)) {
                    output.values[0] += 1.0;
                }
                self.products += 1;
                if let Some(view) = self.view.as_mut() {
                    let kept: usize = view.first_layer_inputs.iter().map(|m| m.values.len()).sum();
                    if layer == 0 && kept < MAX_KEPT_INPUT_VALUES {
                        view.first_layer_inputs.push(input.clone());
                    }
                    if self.steps == 0 {
                        view.first_step.push(ProductView {
                            layer,
                            input,
                            output: output.clone(),
                        });
                    }
                }
                Message::Product(output)
            }
            Message::Backward {
                layer,
                grad_output,
                input_grad,
            } => {
                let device = self.device.clone();
                let weight_gradients = self.weight_gradients;
                let g =
                    self.layers()?
                        .backward(layer, grad_output.into_tensor(&device), input_grad)?;
                let mut input = g.input.map(Matrix::from_tensor);
                if let Some(m) = input.as_mut() {
                    if self.fault == Some(Fault::CorruptInputGradient(self.input_gradients)) {
                        m.values[0] += 1.0;
                    }
                    self.input_gradients += 1;
                }
                Message::Gradients {
                    input,
                    weight: weight_gradients.then(|| Matrix::from_tensor(g.weight)),
                }
            }
            Message::Step { learning_rate } => {
                self.layers()?.step(learning_rate);
                self.steps += 1;
                Message::Done
            }
            Message::Fetch => {
                let (layers, optimizer_state) = self.layers()?.state()?;
                Message::State {
                    layers,
                    optimizer_state,
                }
            }
            Message::Bye => Message::Done,
            other => {
                return Err(Error::invalid(format!(
                    "a worker does not accept {} messages",
                    kind(&other)
                )));
            }
        })
    }
}

fn kind(message: &Message) -> &'static str {
    match message {
        Message::Product(_) => "product",
        Message::Gradients { .. } => "gradients",
        Message::State { .. } => "state",
        Message::Done => "done",
        Message::Refused(_) => "refused",
        _ => "request",
    }
}

/// Serves one session on `transport` until the trusted process says [`Message::Bye`].
///
/// A frame that arrives intact but does not decode is refused with the reason and the session
/// goes on.
///
/// # Errors
/// [`Error::Connection`] when the link fails or the peer goes silent or away.
pub fn serve(worker: &mut Worker, transport: &mut dyn Transport) -> Result<()> {
    loop {
        let reply = match transport.receive() {
            Ok(Message::Bye) => return transport.send(&Message::Done),
            Ok(message) => worker.handle(message),
            Err(Error::Connection(e)) => return Err(Error::Connection(e)),
            Err(e) => Message::Refused(e.to_string()),
        };
        transport.send(&reply)?;
    }
}
