//! The messages between the owner and the layer hosts, and between hosts: a safetensors
//! payload (the tensors) whose metadata `message` holds a JSON header (the kind and the
//! scalars). Messages travel in chunks (see [`super::packet`]), so a message's size is bounded
//! by [`super::packet::MAX_CHUNKS`] before it is decoded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layer::LayerSpec;
use super::packet::SESSION_KEY_BYTES;
use crate::model::Weights;
use crate::tensors::{HostTensor, TensorFile, Values};
use crate::training::OptimizerSettings;
use crate::{Error, Result};

/// Most reply blocks in one message.
pub const MAX_REPLY_BLOCKS: usize = 1 << 16;

/// A message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Owner → host: start a session with this layer (PyTorch-named `weight` and `bias`), its
    /// optimizer (and saved state, when resuming) and the key that authenticates every chunk
    /// sent to the host from now on.
    Setup {
        /// The layer.
        layer: LayerSpec,
        /// Its optimizer.
        optimizer: OptimizerSettings,
        /// The host's session key.
        session_key: [u8; SESSION_KEY_BYTES],
        /// Whether the host runs the first layer: it then computes no input gradient and
        /// reports the end of each backward pass with [`Message::Stepped`].
        first: bool,
        /// The layer's weights.
        weights: Weights,
        /// burn's optimizer state (burnpack bytes), when resuming.
        optimizer_state: Option<Vec<u8>>,
    },
    /// Owner → host, once per step and attempt: the reply blocks for the host's forward
    /// output and for its backward output, and the learning rate. A plan for a later step
    /// applies the previous step's update first.
    Plan {
        /// Learning rate of this step.
        learning_rate: f64,
        /// One reply block per packet of the forward output.
        forward: Vec<Vec<u8>>,
        /// One reply block per packet of the backward output.
        backward: Vec<Vec<u8>>,
    },
    /// Activations `[B, ...]` (f32) travelling forward.
    Forward(HostTensor),
    /// Gradients `[B, ...]` (f32) travelling backward: the gradient of the loss with respect
    /// to the receiver's output.
    Backward(HostTensor),
    /// First host → owner: the step's gradients are all computed.
    Stepped,
    /// Owner → host: apply any pending update and send back the layer with these reply
    /// blocks.
    Fetch {
        /// One reply block per packet of the answer.
        replies: Vec<Vec<u8>>,
    },
    /// Host → owner: the layer's weights and its optimizer state.
    State {
        /// The layer's weights (`weight`, `bias`).
        weights: Weights,
        /// burn's optimizer state (burnpack bytes).
        optimizer_state: Vec<u8>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Header {
    Setup {
        layer: LayerSpec,
        optimizer: OptimizerSettings,
        session_key: String,
        first: bool,
        resume: bool,
    },
    Plan {
        learning_rate: f64,
        forward: usize,
        backward: usize,
    },
    Forward,
    Backward,
    Stepped,
    Fetch {
        replies: usize,
    },
    State,
}

fn bytes_tensor(bytes: &[u8]) -> HostTensor {
    HostTensor::u8(vec![bytes.len()], bytes.to_vec())
}

fn put_blocks(tensors: &mut BTreeMap<String, HostTensor>, prefix: &str, blocks: &[Vec<u8>]) {
    for (i, b) in blocks.iter().enumerate() {
        tensors.insert(format!("{prefix}.{i}"), bytes_tensor(b));
    }
}

fn put_weights(tensors: &mut BTreeMap<String, HostTensor>, weights: &Weights) {
    for (name, t) in weights {
        tensors.insert(format!("weights.{name}"), t.clone());
    }
}

impl Message {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut tensors = BTreeMap::new();
        let header = match self {
            Message::Setup {
                layer,
                optimizer,
                session_key,
                first,
                weights,
                optimizer_state,
            } => {
                put_weights(&mut tensors, weights);
                if let Some(state) = optimizer_state {
                    tensors.insert("optimizer_state".into(), bytes_tensor(state));
                }
                Header::Setup {
                    layer: layer.clone(),
                    optimizer: *optimizer,
                    session_key: hex::encode(session_key),
                    first: *first,
                    resume: optimizer_state.is_some(),
                }
            }
            Message::Plan {
                learning_rate,
                forward,
                backward,
            } => {
                put_blocks(&mut tensors, "forward", forward);
                put_blocks(&mut tensors, "backward", backward);
                Header::Plan {
                    learning_rate: *learning_rate,
                    forward: forward.len(),
                    backward: backward.len(),
                }
            }
            Message::Forward(t) => {
                tensors.insert("tensor".into(), t.clone());
                Header::Forward
            }
            Message::Backward(t) => {
                tensors.insert("tensor".into(), t.clone());
                Header::Backward
            }
            Message::Stepped => Header::Stepped,
            Message::Fetch { replies } => {
                put_blocks(&mut tensors, "reply", replies);
                Header::Fetch {
                    replies: replies.len(),
                }
            }
            Message::State {
                weights,
                optimizer_state,
            } => {
                put_weights(&mut tensors, weights);
                tensors.insert("optimizer_state".into(), bytes_tensor(optimizer_state));
                Header::State
            }
        };
        let metadata = BTreeMap::from([(
            "message".to_string(),
            serde_json::to_string(&header).expect("headers serialise"),
        )]);
        TensorFile { tensors, metadata }
            .to_bytes()
            .expect("message tensors are consistent by construction")
    }

    /// Parses a message.
    ///
    /// # Errors
    /// [`Error::Invalid`] for unreadable bytes, an unknown header, or missing, extra or
    /// mis-typed tensors.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |what: String| Error::invalid(format!("bad MixNN message: {what}"));
        let file = TensorFile::parse(bytes, |_| true).map_err(bad)?;
        let json = file
            .metadata
            .get("message")
            .ok_or_else(|| bad("no message header".into()))?;
        let header: Header =
            serde_json::from_str(json).map_err(|e| bad(format!("bad header: {e}")))?;
        let mut reader = Reader(file.tensors);
        let message = reader.message(header).map_err(bad)?;
        if let Some(name) = reader.0.keys().next() {
            return Err(bad(format!("unexpected tensor `{name}`")));
        }
        Ok(message)
    }
}

struct Reader(BTreeMap<String, HostTensor>);

type Parsed<T> = std::result::Result<T, String>;

impl Reader {
    fn take(&mut self, name: &str) -> Parsed<HostTensor> {
        self.0
            .remove(name)
            .ok_or_else(|| format!("tensor `{name}` is missing"))
    }

    fn bytes(&mut self, name: &str) -> Parsed<Vec<u8>> {
        match self.take(name)? {
            HostTensor {
                values: Values::U8(v),
                ..
            } => Ok(v),
            _ => Err(format!("tensor `{name}` is not U8")),
        }
    }

    fn f32(&mut self, name: &str) -> Parsed<HostTensor> {
        let t = self.take(name)?;
        match &t.values {
            Values::F32(v) if v.iter().all(|x| x.is_finite()) => Ok(t),
            Values::F32(_) => Err(format!("tensor `{name}` holds non-finite values")),
            _ => Err(format!("tensor `{name}` is not F32")),
        }
    }

    fn blocks(&mut self, prefix: &str, count: usize) -> Parsed<Vec<Vec<u8>>> {
        if count > MAX_REPLY_BLOCKS {
            return Err(format!("{count} reply blocks, at most {MAX_REPLY_BLOCKS}"));
        }
        (0..count)
            .map(|i| self.bytes(&format!("{prefix}.{i}")))
            .collect()
    }

    fn weights(&mut self) -> Parsed<Weights> {
        let names: Vec<String> = self
            .0
            .keys()
            .filter(|n| n.starts_with("weights."))
            .cloned()
            .collect();
        names
            .into_iter()
            .map(|n| Ok((n["weights.".len()..].to_string(), self.f32(&n)?)))
            .collect()
    }

    fn message(&mut self, header: Header) -> Parsed<Message> {
        Ok(match header {
            Header::Setup {
                layer,
                optimizer,
                session_key,
                first,
                resume,
            } => {
                layer.validate().map_err(|e| e.to_string())?;
                optimizer.validate().map_err(|e| e.to_string())?;
                let session_key = hex::decode(&session_key)
                    .ok()
                    .and_then(|b| <[u8; SESSION_KEY_BYTES]>::try_from(b).ok())
                    .ok_or("the session key must be 64 hex digits")?;
                Message::Setup {
                    layer,
                    optimizer,
                    session_key,
                    first,
                    weights: self.weights()?,
                    optimizer_state: resume.then(|| self.bytes("optimizer_state")).transpose()?,
                }
            }
            Header::Plan {
                learning_rate,
                forward,
                backward,
            } => {
                if !(learning_rate.is_finite() && learning_rate >= 0.0) {
                    return Err(format!("learning rate {learning_rate}"));
                }
                Message::Plan {
                    learning_rate,
                    forward: self.blocks("forward", forward)?,
                    backward: self.blocks("backward", backward)?,
                }
            }
            Header::Forward => Message::Forward(self.f32("tensor")?),
            Header::Backward => Message::Backward(self.f32("tensor")?),
            Header::Stepped => Message::Stepped,
            Header::Fetch { replies } => Message::Fetch {
                replies: self.blocks("reply", replies)?,
            },
            Header::State => Message::State {
                optimizer_state: self.bytes("optimizer_state")?,
                weights: self.weights()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::OptimizerKind;
    use proptest::prelude::*;

    fn messages() -> Vec<Message> {
        let weights = Weights::from([
            ("weight".into(), HostTensor::f32(vec![2, 3], vec![0.5; 6])),
            ("bias".into(), HostTensor::f32(vec![2], vec![1.0, -1.0])),
        ]);
        vec![
            Message::Setup {
                layer: LayerSpec::Dense {
                    inputs: 3,
                    outputs: 2,
                    relu: true,
                },
                optimizer: OptimizerSettings {
                    optimizer: OptimizerKind::Adam,
                    momentum: 0.0,
                    weight_decay: 0.0,
                },
                session_key: [7; 32],
                first: true,
                weights: weights.clone(),
                optimizer_state: Some(vec![1, 2, 3]),
            },
            Message::Plan {
                learning_rate: 0.01,
                forward: vec![vec![1, 2], vec![3]],
                backward: vec![vec![4]],
            },
            Message::Forward(HostTensor::f32(vec![1, 2], vec![1.0, 2.0])),
            Message::Backward(HostTensor::f32(vec![2, 1], vec![3.0, 4.0])),
            Message::Stepped,
            Message::Fetch {
                replies: vec![vec![9; 10]],
            },
            Message::State {
                weights,
                optimizer_state: vec![5; 4],
            },
        ]
    }

    #[test]
    fn every_message_survives_encoding() {
        for m in messages() {
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn non_finite_activations_are_refused() {
        let m = Message::Forward(HostTensor::f32(vec![1], vec![f32::NAN]));
        let e = Message::decode(&m.encode()).unwrap_err().to_string();
        assert!(e.contains("non-finite"), "{e}");
    }

    proptest! {
        #[test]
        fn mutated_messages_never_panic(index in 0usize..7, at in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = messages()[index].encode();
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = Message::decode(&bytes);
            let _ = Message::decode(&bytes[..at]);
        }
    }
}
