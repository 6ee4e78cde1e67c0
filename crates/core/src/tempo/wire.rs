//! Tempo's messages and their versioned binary frames.
//!
//! A frame is a 16-byte header, `b"AMTM"`, the format version (u16, little-endian), two zero
//! bytes and the payload length (u64, little-endian), then the payload: a safetensors buffer
//! whose metadata entry `message` holds the message's JSON header and whose tensors hold its
//! matrices. Frames come from the other side of the trust boundary, so [`Message::decode`]
//! checks everything (magic, version, lengths, names, dtypes, shapes) and never panics.

use std::collections::HashMap;

use burn::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::training::OptimizerSettings;
use crate::{Error, Result};

/// The frame format version this build speaks.
pub const WIRE_VERSION: u16 = 1;
/// Bytes of the frame header.
pub const FRAME_HEADER_BYTES: usize = 16;
/// Largest frame accepted, in bytes (1 GiB): a receiver refuses a longer one before reading it.
pub const MAX_FRAME_BYTES: u64 = 1 << 30;
/// Most offloaded layers in one set-up.
pub const MAX_LAYERS: usize = 4096;
const MAGIC: &[u8; 4] = b"AMTM";

/// A row-major f32 matrix `[rows, cols]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub values: Vec<f32>,
}

impl Matrix {
    /// The values of `tensor` `[rows, cols]`, read back to the host.
    pub fn from_tensor(tensor: Tensor<2>) -> Self {
        let [rows, cols] = tensor.dims();
        let values = tensor
            .into_data()
            .try_into_vec::<f32>()
            .expect("amalgam tensors are f32");
        Self { rows, cols, values }
    }

    /// The matrix as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        self.clone().into_tensor(device)
    }

    /// The matrix as a tensor on `device`, without copying its values first.
    pub fn into_tensor(self, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.values, [self.rows, self.cols]), device)
    }
}

/// One offloaded layer's parameters as the worker holds them: the (obfuscated) weight
/// `[k, m]` and its optional bias `[m]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerState {
    /// Weight `[k, m]` (inputs by outputs).
    pub weight: Matrix,
    /// Bias, `m` values, if the layer has one.
    pub bias: Option<Vec<f32>>,
}

/// A message between Tempo's trusted process and its worker.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Trusted → worker: the layers to hold, the optimizer to update them with, and its state
    /// when resuming. `weight_gradients`: whether [`Message::Gradients`] replies carry the
    /// weight gradients (the trusted process needs them to check the worker).
    Setup {
        /// Optimizer settings.
        optimizer: OptimizerSettings,
        /// The layers, in offload order.
        layers: Vec<LayerState>,
        /// The optimizer's state (burn's burnpack bytes), when resuming.
        optimizer_state: Option<Vec<u8>>,
        /// Whether backward replies include the weight gradients.
        weight_gradients: bool,
    },
    /// Trusted → worker: compute `input · W' + b'` for `layer`; the worker keeps `input` for
    /// the backward pass.
    Forward {
        /// Layer index.
        layer: usize,
        /// `[n, k]`.
        input: Matrix,
    },
    /// Trusted → worker: the gradient of the layer's output `[n, m]`; the worker accumulates
    /// the weight gradient and returns the input gradient if asked.
    Backward {
        /// Layer index.
        layer: usize,
        /// `[n, m]`.
        grad_output: Matrix,
        /// Whether to return the input gradient `[n, k]`.
        input_grad: bool,
    },
    /// Trusted → worker: one optimizer step on every layer with this learning rate.
    Step {
        /// Learning rate.
        learning_rate: f64,
    },
    /// Trusted → worker: send back the layers and the optimizer state.
    Fetch,
    /// Worker → trusted: the product of a [`Message::Forward`] `[n, m]`.
    Product(Matrix),
    /// Worker → trusted: the reply to a [`Message::Backward`].
    Gradients {
        /// Input gradient `[n, k]`, if asked.
        input: Option<Matrix>,
        /// Weight gradient `[k, m]`, if the set-up asked for it (the bias gradient, the
        /// column sums of the output gradient, the trusted process computes itself).
        weight: Option<Matrix>,
    },
    /// Worker → trusted: the reply to a [`Message::Fetch`].
    State {
        /// The layers.
        layers: Vec<LayerState>,
        /// The optimizer's state.
        optimizer_state: Vec<u8>,
    },
    /// Worker → trusted: a set-up or step is done.
    Done,
    /// Worker → trusted: the request was refused, and why.
    Refused(String),
    /// Trusted → worker: the session ends.
    Bye,
}

/// The JSON header of a frame: the message's kind and its scalar fields.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Header {
    Setup {
        optimizer: OptimizerSettings,
        biases: Vec<bool>,
        optimizer_state: bool,
        weight_gradients: bool,
    },
    Forward {
        layer: usize,
    },
    Backward {
        layer: usize,
        input_grad: bool,
    },
    Step {
        learning_rate: f64,
    },
    Fetch,
    Product,
    Gradients {
        input: bool,
        weight: bool,
    },
    State {
        biases: Vec<bool>,
    },
    Done,
    Refused {
        reason: String,
    },
    Bye,
}

/// Tensors of a payload being built.
#[derive(Default)]
struct Payload(Vec<(String, Dtype, Vec<usize>, Vec<u8>)>);

impl Payload {
    fn matrix(&mut self, name: &str, m: &Matrix) {
        self.0.push((
            name.into(),
            Dtype::F32,
            vec![m.rows, m.cols],
            bytemuck::cast_slice(&m.values).to_vec(),
        ));
    }
    fn vector(&mut self, name: &str, v: &[f32]) {
        self.0.push((
            name.into(),
            Dtype::F32,
            vec![v.len()],
            bytemuck::cast_slice(v).to_vec(),
        ));
    }
    fn bytes(&mut self, name: &str, v: &[u8]) {
        self.0
            .push((name.into(), Dtype::U8, vec![v.len()], v.to_vec()));
    }
    fn layers(&mut self, layers: &[LayerState]) -> Vec<bool> {
        layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                self.matrix(&format!("weight.{i}"), &l.weight);
                if let Some(b) = &l.bias {
                    self.vector(&format!("bias.{i}"), b);
                }
                l.bias.is_some()
            })
            .collect()
    }
}

impl Message {
    /// The frame of this message: header and payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Payload::default();
        let header = match self {
            Message::Setup {
                optimizer,
                layers,
                optimizer_state,
                weight_gradients,
            } => {
                let biases = p.layers(layers);
                if let Some(state) = optimizer_state {
                    p.bytes("optimizer_state", state);
                }
                Header::Setup {
                    optimizer: *optimizer,
                    biases,
                    optimizer_state: optimizer_state.is_some(),
                    weight_gradients: *weight_gradients,
                }
            }
            Message::Forward { layer, input } => {
                p.matrix("input", input);
                Header::Forward { layer: *layer }
            }
            Message::Backward {
                layer,
                grad_output,
                input_grad,
            } => {
                p.matrix("grad_output", grad_output);
                Header::Backward {
                    layer: *layer,
                    input_grad: *input_grad,
                }
            }
            Message::Step { learning_rate } => Header::Step {
                learning_rate: *learning_rate,
            },
            Message::Fetch => Header::Fetch,
            Message::Product(m) => {
                p.matrix("output", m);
                Header::Product
            }
            Message::Gradients { input, weight } => {
                if let Some(m) = input {
                    p.matrix("input", m);
                }
                if let Some(m) = weight {
                    p.matrix("weight", m);
                }
                Header::Gradients {
                    input: input.is_some(),
                    weight: weight.is_some(),
                }
            }
            Message::State {
                layers,
                optimizer_state,
            } => {
                let biases = p.layers(layers);
                p.bytes("optimizer_state", optimizer_state);
                Header::State { biases }
            }
            Message::Done => Header::Done,
            Message::Refused(reason) => Header::Refused {
                reason: reason.clone(),
            },
            Message::Bye => Header::Bye,
        };
        let metadata = HashMap::from([(
            "message".to_string(),
            serde_json::to_string(&header).expect("headers serialise"),
        )]);
        let views: Vec<(String, TensorView<'_>)> =
            p.0.iter()
                .map(|(name, dtype, shape, bytes)| {
                    let view = TensorView::new(*dtype, shape.clone(), bytes)
                        .expect("shapes match their bytes by construction");
                    (name.clone(), view)
                })
                .collect();
        let payload =
            safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation");
        let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
        frame.extend_from_slice(MAGIC);
        frame.extend_from_slice(&WIRE_VERSION.to_le_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        frame.extend_from_slice(&payload);
        frame
    }

    /// The payload length a frame header announces, after checking the magic, the version
    /// and [`MAX_FRAME_BYTES`].
    ///
    /// # Errors
    /// [`Error::Invalid`] naming what is wrong.
    pub fn payload_length(header: &[u8]) -> Result<u64> {
        let bad = |what: String| Error::invalid(format!("bad Tempo frame: {what}"));
        if header.len() < FRAME_HEADER_BYTES {
            return Err(bad(format!(
                "{} bytes, shorter than the {FRAME_HEADER_BYTES}-byte header",
                header.len()
            )));
        }
        if &header[..4] != MAGIC {
            return Err(bad("wrong magic (not a Tempo frame)".into()));
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != WIRE_VERSION {
            return Err(bad(format!(
                "format version {version}, this build speaks {WIRE_VERSION}"
            )));
        }
        let length = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        if length > MAX_FRAME_BYTES - FRAME_HEADER_BYTES as u64 {
            return Err(bad(format!(
                "payload of {length} bytes is over the {MAX_FRAME_BYTES}-byte limit"
            )));
        }
        Ok(length)
    }

    /// Parses a whole frame.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad header, a length that disagrees with the frame, an
    /// unreadable payload, an unknown kind, or missing, extra or mis-shaped tensors.
    pub fn decode(frame: &[u8]) -> Result<Message> {
        let length = Self::payload_length(frame)?;
        let bad = |what: String| Error::invalid(format!("bad Tempo frame: {what}"));
        let payload = &frame[FRAME_HEADER_BYTES..];
        if payload.len() as u64 != length {
            return Err(bad(format!(
                "header announces {length} payload bytes, frame holds {}",
                payload.len()
            )));
        }
        let (_, metadata) = SafeTensors::read_metadata(payload)
            .map_err(|e| bad(format!("unreadable payload: {e}")))?;
        let tensors = SafeTensors::deserialize(payload)
            .map_err(|e| bad(format!("unreadable payload: {e}")))?;
        let json = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("message"))
            .ok_or_else(|| bad("no message header".into()))?;
        let header: Header =
            serde_json::from_str(json).map_err(|e| bad(format!("bad message header: {e}")))?;
        let mut reader = Reader {
            tensors: &tensors,
            used: 0,
        };
        let message = reader.message(header).map_err(bad)?;
        if reader.used != tensors.len() {
            return Err(bad(format!(
                "{} tensors, the message uses {}",
                tensors.len(),
                reader.used
            )));
        }
        Ok(message)
    }
}

/// Reads a payload's tensors, counting those used.
struct Reader<'a> {
    tensors: &'a SafeTensors<'a>,
    used: usize,
}

type Parsed<T> = std::result::Result<T, String>;

impl Reader<'_> {
    fn tensor(&mut self, name: &str, dtype: Dtype, rank: usize) -> Parsed<TensorView<'_>> {
        let t = self
            .tensors
            .tensor(name)
            .map_err(|_| format!("tensor `{name}` is missing"))?;
        if t.dtype() != dtype || t.shape().len() != rank {
            return Err(format!(
                "tensor `{name}` is {:?} {:?}, expected {dtype:?} of rank {rank}",
                t.dtype(),
                t.shape()
            ));
        }
        self.used += 1;
        Ok(t)
    }

    fn matrix(&mut self, name: &str) -> Parsed<Matrix> {
        let t = self.tensor(name, Dtype::F32, 2)?;
        let (rows, cols) = (t.shape()[0], t.shape()[1]);
        Ok(Matrix {
            rows,
            cols,
            values: bytemuck::pod_collect_to_vec(t.data()),
        })
    }

    fn vector(&mut self, name: &str) -> Parsed<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            self.tensor(name, Dtype::F32, 1)?.data(),
        ))
    }

    fn bytes(&mut self, name: &str) -> Parsed<Vec<u8>> {
        Ok(self.tensor(name, Dtype::U8, 1)?.data().to_vec())
    }

    fn layers(&mut self, biases: &[bool]) -> Parsed<Vec<LayerState>> {
        if biases.len() > MAX_LAYERS {
            return Err(format!("{} layers, at most {MAX_LAYERS}", biases.len()));
        }
        biases
            .iter()
            .enumerate()
            .map(|(i, &has_bias)| {
                let weight = self.matrix(&format!("weight.{i}"))?;
                let bias = has_bias
                    .then(|| self.vector(&format!("bias.{i}")))
                    .transpose()?;
                if bias.as_ref().is_some_and(|b| b.len() != weight.cols) {
                    return Err(format!(
                        "layer {i}: bias does not match the weight's {} columns",
                        weight.cols
                    ));
                }
                Ok(LayerState { weight, bias })
            })
            .collect()
    }

    fn message(&mut self, header: Header) -> Parsed<Message> {
        Ok(match header {
            Header::Setup {
                optimizer,
                biases,
                optimizer_state,
                weight_gradients,
            } => {
                optimizer.validate().map_err(|e| e.to_string())?;
                Message::Setup {
                    optimizer,
                    layers: self.layers(&biases)?,
                    optimizer_state: optimizer_state
                        .then(|| self.bytes("optimizer_state"))
                        .transpose()?,
                    weight_gradients,
                }
            }
            Header::Forward { layer } => Message::Forward {
                layer,
                input: self.matrix("input")?,
            },
            Header::Backward { layer, input_grad } => Message::Backward {
                layer,
                grad_output: self.matrix("grad_output")?,
                input_grad,
            },
            Header::Step { learning_rate } => {
                if !(learning_rate.is_finite() && learning_rate >= 0.0) {
                    return Err(format!("learning rate {learning_rate}"));
                }
                Message::Step { learning_rate }
            }
            Header::Fetch => Message::Fetch,
            Header::Product => Message::Product(self.matrix("output")?),
            Header::Gradients { input, weight } => Message::Gradients {
                input: input.then(|| self.matrix("input")).transpose()?,
                weight: weight.then(|| self.matrix("weight")).transpose()?,
            },
            Header::State { biases } => Message::State {
                layers: self.layers(&biases)?,
                optimizer_state: self.bytes("optimizer_state")?,
            },
            Header::Done => Message::Done,
            Header::Refused { reason } => Message::Refused(reason),
            Header::Bye => Message::Bye,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::OptimizerKind;

    fn matrix(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            values: (0..rows * cols).map(|i| i as f32 * 0.5 - 1.0).collect(),
        }
    }

    fn messages() -> Vec<Message> {
        vec![
            Message::Setup {
                optimizer: OptimizerSettings {
                    optimizer: OptimizerKind::Adam,
                    momentum: 0.0,
                    weight_decay: 1e-4,
                },
                layers: vec![
                    LayerState {
                        weight: matrix(3, 2),
                        bias: Some(vec![1.0, 2.0]),
                    },
                    LayerState {
                        weight: matrix(2, 4),
                        bias: None,
                    },
                ],
                optimizer_state: Some(vec![1, 2, 3]),
                weight_gradients: true,
            },
            Message::Forward {
                layer: 1,
                input: matrix(5, 2),
            },
            Message::Backward {
                layer: 0,
                grad_output: matrix(5, 2),
                input_grad: false,
            },
            Message::Step {
                learning_rate: 0.01,
            },
            Message::Fetch,
            Message::Product(matrix(1, 1)),
            Message::Gradients {
                input: Some(matrix(2, 3)),
                weight: None,
            },
            Message::State {
                layers: vec![],
                optimizer_state: vec![],
            },
            Message::Done,
            Message::Refused("no".into()),
            Message::Bye,
        ]
    }

    #[test]
    fn every_message_survives_its_frame() {
        for m in messages() {
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn bad_frames_are_refused_with_the_reason() {
        let frame = messages()[1].encode();
        let reason = |f: &[u8]| Message::decode(f).unwrap_err().to_string();
        let mut version = frame.clone();
        version[4] = 9;
        assert!(reason(&version).contains("format version 9"));
        let mut magic = frame.clone();
        magic[0] = b'X';
        assert!(reason(&magic).contains("magic"));
        assert!(reason(&frame[..frame.len() - 3]).contains("announces"));
        assert!(reason(&frame[..7]).contains("shorter"));
        let mut huge = frame.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(reason(&huge).contains("limit"));
        // A forward frame with the wrong tensor shape: a vector where a matrix belongs.
        let mut p = Payload::default();
        p.vector("input", &[1.0, 2.0]);
        let views: Vec<_> =
            p.0.iter()
                .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
                .collect();
        let meta = HashMap::from([(
            "message".to_string(),
            r#"{"kind":"forward","layer":0}"#.to_string(),
        )]);
        let payload = safetensors::serialize(views, Some(meta)).unwrap();
        let mut shaped = frame[..FRAME_HEADER_BYTES].to_vec();
        shaped[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        shaped.extend_from_slice(&payload);
        assert!(reason(&shaped).contains("rank 2"), "{}", reason(&shaped));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        let frame = messages()[0].encode();
        proptest!(|(cut in 0..frame.len(), flip in 0..frame.len(), byte: u8)| {
            let mut f = frame[..cut.max(1)].to_vec();
            let at = flip % f.len();
            f[at] = byte;
            let _ = Message::decode(&f);
        });
    }
}
