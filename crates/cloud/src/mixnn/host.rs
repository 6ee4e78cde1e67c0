//! A layer host: one layer of the model, driven by the owner's messages. Every chunk it
//! accepts carries the identifier only the owner could have put in its packet (see
//! `amalgam_core::mixnn::packet`), and every message it sends goes out through the owner's
//! reply blocks, so it learns neither its neighbours' addresses nor anything beyond its layer,
//! its inputs and its output gradients.
//!
//! Steps: a `Plan` for step `s` (attempt `a`) applies the update of any earlier step, drops
//! the gradients of an earlier attempt at `s`, and hands the reply blocks of `(s, a)`; then a
//! `Forward` gives the activations and a `Backward` the output gradient. Messages that arrive
//! before their plan wait (a few at most); those of older steps or attempts are dropped.

use amalgam_core::backend::training_device;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use amalgam_core::tensors::HostTensor;

use amalgam_core::mixnn::packet::{
    Assembler, Chunk, IDENTIFIER_BYTES, Kind, SESSION_KEY_BYTES, Slot, identifier,
};
use amalgam_core::mixnn::sphinx::use_surb;
use amalgam_core::mixnn::{Message, NodeKey, Processed, SphinxNode};
use amalgam_core::{Error, Result};

use super::layer::HostLayer;
use super::serve::{Outgoing, PacketHandler};

/// Messages kept while their step's plan has not arrived.
const MAX_WAITING: usize = 8;
/// Chunks kept while no session's key vouches for them: routes differ, so the first chunks of
/// a session may overtake the end of its setup.
const MAX_EARLY: usize = 64;

/// The reply blocks and learning rate of the current step.
struct Plan {
    at: (u64, u32),
    learning_rate: f64,
    forward: Vec<Vec<u8>>,
    backward: Vec<Vec<u8>>,
}

struct Session {
    key: [u8; SESSION_KEY_BYTES],
    first: bool,
    layer: HostLayer,
    assembler: Assembler,
    plan: Option<Plan>,
    pending_step: Option<u64>,
    waiting: Vec<(Slot, Message)>,
    view: Option<Arc<Mutex<HostView>>>,
}

/// What a curious layer host keeps: the activations it was given and the gradients of its
/// output, batch by batch (first attempts only), up to [`MAX_VIEW_BATCHES`] of each.
#[derive(Clone, Debug, Default)]
pub struct HostView {
    /// Inputs `[B, ...]` (the first host's are the normalised images).
    pub inputs: Vec<HostTensor>,
    /// Output gradients `[B, ...]` (the last host's are those of the logits).
    pub output_gradients: Vec<HostTensor>,
}

/// Batches a curious host keeps.
pub const MAX_VIEW_BATCHES: usize = 16;

/// A layer host.
pub struct LayerHost {
    node: SphinxNode,
    setups: Assembler,
    session: Option<Session>,
    early: VecDeque<([u8; IDENTIFIER_BYTES], Chunk)>,
    view: Option<Arc<Mutex<HostView>>>,
    owner_key: Option<[u8; SESSION_KEY_BYTES]>,
}

/// The packets of `message` sent as `slot` with one reply block per packet.
fn send(slot: Slot, message: &Message, blocks: &[Vec<u8>]) -> Result<Outgoing> {
    let chunks = Chunk::split(slot, &message.encode(), blocks.len() as u32)?;
    if chunks.len() > blocks.len() {
        return Err(Error::invalid(format!(
            "{slot:?} needs {} packets but the owner gave {} reply blocks",
            chunks.len(),
            blocks.len()
        )));
    }
    chunks
        .iter()
        .zip(blocks)
        .map(|(chunk, block)| use_surb(block, &chunk.encode()))
        .collect()
}

impl LayerHost {
    /// A host with `key`, waiting for its first setup; with `owner_key`, only a setup whose
    /// chunks carry identifiers made with that key (the owner's, shared out of band) is
    /// taken, otherwise any setup is.
    pub fn new(key: NodeKey, owner_key: Option<[u8; SESSION_KEY_BYTES]>) -> Self {
        Self {
            node: SphinxNode::new(key),
            setups: Assembler::default(),
            session: None,
            early: VecDeque::new(),
            view: None,
            owner_key,
        }
    }

    /// A host that also keeps what it sees in `view` (for the audit).
    pub fn curious(
        key: NodeKey,
        owner_key: Option<[u8; SESSION_KEY_BYTES]>,
        view: Arc<Mutex<HostView>>,
    ) -> Self {
        Self {
            view: Some(view),
            ..Self::new(key, owner_key)
        }
    }

    fn setup(&mut self, message: Message) -> Result<Outgoing> {
        let Message::Setup {
            layer,
            optimizer,
            session_key,
            first,
            weights,
            optimizer_state,
        } = message
        else {
            return Err(Error::invalid("a setup chunk that is not a setup"));
        };
        let layer = HostLayer::new(
            &layer,
            &weights,
            &optimizer,
            optimizer_state.as_deref(),
            &training_device(),
        )?;
        eprintln!("layer host: session started");
        let mut session = Session {
            key: session_key,
            first,
            layer,
            assembler: Assembler::default(),
            plan: None,
            pending_step: None,
            waiting: Vec::new(),
            view: self.view.clone(),
        };
        // Chunks that came early and carry the new session's identifiers.
        let mut out = Vec::new();
        for (id, chunk) in std::mem::take(&mut self.early) {
            if id == identifier(&session.key, chunk.slot, chunk.index) {
                out.extend(session.accept(chunk)?);
            } else {
                self.early.push_back((id, chunk));
            }
        }
        self.session = Some(session);
        Ok(out)
    }

    /// Keeps `chunk` until a session vouches for it, dropping (and logging) the oldest held.
    fn hold(&mut self, id: [u8; IDENTIFIER_BYTES], chunk: Chunk) {
        if self.early.len() >= MAX_EARLY
            && let Some((_, old)) = self.early.pop_front()
        {
            eprintln!(
                "layer host: rejected packet: {:?} chunk {} never carried a session's identifier",
                old.slot, old.index
            );
        }
        self.early.push_back((id, chunk));
    }
}

impl Session {
    fn record(
        &self,
        slot: Slot,
        part: impl Fn(&mut HostView) -> &mut Vec<HostTensor>,
        t: &HostTensor,
    ) {
        if let Some(view) = &self.view
            && slot.attempt == 0
        {
            let mut view = view.lock().expect("no panics while holding the lock");
            let kept = part(&mut view);
            if kept.len() < MAX_VIEW_BATCHES {
                kept.push(t.clone());
            }
        }
    }

    fn accept(&mut self, chunk: Chunk) -> Result<Outgoing> {
        match self.assembler.add(chunk)? {
            Some((slot, bytes)) => self.dispatch(slot, Message::decode(&bytes)?),
            None => Ok(Vec::new()),
        }
    }

    fn dispatch(&mut self, slot: Slot, message: Message) -> Result<Outgoing> {
        let at = (slot.step, slot.attempt);
        let current = self.plan.as_ref().map(|p| p.at);
        match message {
            Message::Plan {
                learning_rate,
                forward,
                backward,
            } => {
                if current.is_some_and(|c| at <= c) {
                    return Err(Error::invalid(format!("a stale plan for {at:?}")));
                }
                match self.pending_step {
                    Some(s) if s < slot.step => self.layer.apply(),
                    Some(_) => self.layer.discard(),
                    None => {}
                }
                self.pending_step = None;
                self.plan = Some(Plan {
                    at,
                    learning_rate,
                    forward,
                    backward,
                });
                self.assembler.retain(|s| s.step >= slot.step);
                let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
                    .into_iter()
                    .filter(|(s, _)| (s.step, s.attempt) >= at)
                    .partition(|(s, _)| (s.step, s.attempt) == at);
                self.waiting = later;
                let mut out = Vec::new();
                for (s, m) in ready {
                    out.extend(self.dispatch(s, m)?);
                }
                Ok(out)
            }
            Message::Forward(_) | Message::Backward(_) if current != Some(at) => {
                if current.is_some_and(|c| at < c) {
                    return Err(Error::invalid(format!(
                        "{slot:?} of an earlier step dropped"
                    )));
                }
                if self.waiting.len() >= MAX_WAITING {
                    return Err(Error::invalid(format!(
                        "{slot:?} dropped: too many waiting"
                    )));
                }
                self.waiting.push((slot, message));
                Ok(Vec::new())
            }
            Message::Forward(input) => {
                self.record(slot, |v| &mut v.inputs, &input);
                let plan = self.plan.as_ref().expect("matched the current plan");
                let output = self.layer.forward(&input, !self.first)?;
                let slot = Slot {
                    kind: Kind::Forward,
                    ..slot
                };
                send(slot, &Message::Forward(output), &plan.forward)
            }
            Message::Backward(grad) => {
                self.record(slot, |v| &mut v.output_gradients, &grad);
                let plan = self.plan.as_ref().expect("matched the current plan");
                let input_grad = self.layer.backward(&grad, plan.learning_rate)?;
                self.pending_step = Some(slot.step);
                let (kind, reply) = match input_grad {
                    Some(g) if !self.first => (Kind::Backward, Message::Backward(g)),
                    _ => (Kind::Stepped, Message::Stepped),
                };
                send(Slot { kind, ..slot }, &reply, &plan.backward)
            }
            Message::Fetch { replies } => {
                self.layer.apply();
                self.pending_step = None;
                let (weights, optimizer_state) = self.layer.state()?;
                let state = Message::State {
                    weights,
                    optimizer_state,
                };
                send(
                    Slot {
                        kind: Kind::State,
                        ..slot
                    },
                    &state,
                    &replies,
                )
            }
            Message::Setup { .. } | Message::Stepped | Message::State { .. } => Err(
                Error::invalid(format!("{slot:?}: a layer host does not take this message")),
            ),
        }
    }
}

impl PacketHandler for LayerHost {
    fn handle(&mut self, packet: &[u8]) -> Result<Outgoing> {
        let Processed::Final {
            identifier: id,
            plaintext,
        } = self.node.process(packet)?
        else {
            return Err(Error::invalid("a layer host does not forward packets"));
        };
        let chunk = Chunk::decode(&plaintext)?;
        if chunk.slot.kind == Kind::Setup {
            // A setup starts a new session whose key authenticates everything after it. Without
            // an owner key it is taken from anyone (see docs/MIXNN.md).
            if let Some(owner) = &self.owner_key
                && id != identifier(owner, chunk.slot, chunk.index)
            {
                return Err(Error::invalid(format!(
                    "{:?}: a setup chunk not made with the owner's key",
                    chunk.slot
                )));
            }
            return match self.setups.add(chunk)? {
                Some((_, bytes)) => {
                    // A host serves one session at a time: the setups still in part belong
                    // to sessions the owner abandoned.
                    self.setups = Assembler::default();
                    self.setup(Message::decode(&bytes)?)
                }
                None => Ok(Vec::new()),
            };
        }
        match &mut self.session {
            Some(session) if id == identifier(&session.key, chunk.slot, chunk.index) => {
                session.accept(chunk)
            }
            _ => {
                self.hold(id, chunk);
                Ok(Vec::new())
            }
        }
    }
}
