//! The owner's training driver: it sets every host up with its layer, then for each batch
//! hands each host its reply blocks (the plan), feeds the batch to the first host, computes the
//! loss and its gradient from the logits that come back, sends that gradient to the last
//! host, and waits for the first host to report the end of the backward pass. A step whose
//! answer does not come within the step timeout is tried again with fresh routes; after an
//! epoch every host sends its layer back (a checkpoint).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use amalgam_core::backend::training_device;
use amalgam_core::data::{LabelledSet, batch_order};
use amalgam_core::mixnn::packet::{Kind, PACKET_BYTES, Slot, chunks_for};
use amalgam_core::mixnn::{Message, NodeCard};
use amalgam_core::model::{InputBatch, InputStage, Weights};
use amalgam_core::tensors::{HostTensor, Values};
use amalgam_core::training::{EpochLog, image_batch};
use amalgam_core::{Error, Result};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use indicatif::ProgressBar;
use serde::Serialize;

use super::checkpoint::{self, LayerCheckpoint};
use super::driver::{Driver, To};
use super::plan::{HostPlan, host_plans, join_weights, split_weights};
use super::routes::{Directory, Router};
use crate::setup::OwnerSetup;

/// How the owner runs MixNN.
#[derive(Clone, Debug)]
pub struct MixnnOptions {
    /// Where the owner listens for the hosts' answers (port 0: any).
    pub listen: String,
    /// Mix nodes on every route (at least 3 in the paper's spirit; Sphinx allows 4).
    pub route_mixes: usize,
    /// Longest wait for a step's answers before it is tried again.
    pub step_timeout: Duration,
    /// Further attempts at a step (or a fetch) before giving up.
    pub retries: usize,
    /// Where to checkpoint after every epoch, if anywhere.
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint.
    pub resume: bool,
    /// The key the hosts check set-ups against (their `--owner-key`), if they do.
    pub owner_key: Option<[u8; 32]>,
}

/// What crossed the network.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MixnnTraffic {
    /// Training steps taken (this run, resumed epochs excluded).
    pub steps: u64,
    /// Attempts beyond the first (steps and fetches tried again).
    pub retries: u64,
    /// Packets of every activation or gradient message.
    pub packets_per_message: u32,
    /// Bytes of every packet.
    pub packet_bytes: usize,
    /// Mix nodes on every route.
    pub route_mixes: usize,
    /// Every packet of the run (the owner's and the hosts' replies).
    pub packets: u64,
    /// Bytes over all links: each packet crosses `route_mixes + 1` links.
    pub link_bytes: u64,
    /// Bytes the owner wrote and read.
    pub owner_bytes: [u64; 2],
    /// Wall time of the training steps, seconds.
    pub step_seconds: f64,
    /// Links crossed one after another in a step (forward and backward chains).
    pub sequential_hops_per_step: u64,
}

/// The outcome of a MixNN run.
pub struct MixnnOutcome {
    /// The trained model's weights (whole-model names).
    pub weights: Weights,
    /// Per-epoch loss and time (resumed epochs included).
    pub epochs: Vec<EpochLog>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// What crossed the network.
    pub traffic: MixnnTraffic,
}

struct Run<'a> {
    driver: Driver,
    plans: Vec<HostPlan>,
    setup: &'a OwnerSetup,
    options: &'a MixnnOptions,
    /// Packets per data message.
    packets: u32,
    /// Packets of a host's state.
    state_packets: Vec<u32>,
    fetches: u32,
    retries: u64,
}

/// Packets every activation and gradient message is padded to: enough for the largest.
fn data_packets(plans: &[HostPlan], setup: &OwnerSetup) -> Result<u32> {
    let image = setup
        .spec
        .input
        .image()
        .expect("host_plans takes images only");
    let mut shape = vec![1, image.channels, image.height, image.width];
    let mut widest = image.values();
    for p in plans {
        shape = p.layer.output_shape(&shape)?;
        widest = widest.max(shape[1..].iter().product());
    }
    // The message's safetensors header is well under 4 KiB.
    Ok(chunks_for(setup.train.batch_size * widest * 4 + 4096))
}

fn host_tensor(t: Tensor<4>) -> HostTensor {
    let shape = t.dims().to_vec();
    HostTensor::f32(shape, t.into_data().iter::<f32>().collect())
}

impl Run<'_> {
    fn attempts(&self) -> usize {
        self.options.retries + 1
    }

    fn give_up(&self, what: &str, epochs_done: usize) -> Error {
        Error::Connection(format!(
            "{what}: no answer after {} attempts of {:.0} s each: a layer host or mix node is down or dropping packets; restart it and continue with --resume (the last checkpoint holds {epochs_done} epochs)",
            self.attempts(),
            self.options.step_timeout.as_secs_f64()
        ))
    }

    /// Sets host `i` up with `layer` (and its optimizer state unless `fresh`) for step `step`,
    /// under a fresh session key.
    ///
    /// The setup's attempt is a random nonce, not the attempt count: a host keeps the chunks
    /// of a setup that arrived only in part (an owner killed mid-send, a lost packet), and a
    /// later owner process that set up the same step under the same slot would meet them and
    /// be refused as a replay.
    fn set_up(&mut self, i: usize, step: u64, layer: &LayerCheckpoint, fresh: bool) -> Result<()> {
        self.driver.renew_host_key(i);
        let message = Message::Setup {
            layer: self.plans[i].layer.clone(),
            optimizer: self.setup.train.optimizer_settings(),
            session_key: self.driver.host_key(i),
            first: i == 0,
            weights: layer.weights.clone(),
            optimizer_state: (!fresh).then(|| layer.optimizer_state.clone()),
        };
        let slot = Slot {
            kind: Kind::Setup,
            step,
            attempt: rand::random(),
        };
        self.driver.send(To::Host(i), slot, &message, 1)
    }

    /// Every host's layer and optimizer state (pending updates applied first). With
    /// `setups`, each host is first set up with its layer (again, on every attempt at it).
    fn fetch(
        &mut self,
        step: u64,
        epochs_done: usize,
        setups: Option<(&[LayerCheckpoint], bool)>,
    ) -> Result<Vec<LayerCheckpoint>> {
        let n = self.plans.len();
        let mut got: Vec<Option<LayerCheckpoint>> = (0..n).map(|_| None).collect();
        for _ in 0..self.attempts() {
            let round = self.fetches;
            self.fetches += 1;
            // One attempt number per host, so that the answers, all sent to the owner, are
            // told apart.
            let slot = |i: usize, kind| Slot {
                kind,
                step,
                attempt: round * n as u32 + i as u32,
            };
            let missing: Vec<usize> = (0..n).filter(|&i| got[i].is_none()).collect();
            for &i in &missing {
                if let Some((layers, fresh)) = setups {
                    self.set_up(i, step, &layers[i], fresh)?;
                }
                let replies = self.driver.reply_blocks(
                    To::Owner,
                    slot(i, Kind::State),
                    self.state_packets[i],
                )?;
                self.driver.send(
                    To::Host(i),
                    slot(i, Kind::Fetch),
                    &Message::Fetch { replies },
                    1,
                )?;
            }
            for &i in &missing {
                if let Some(Message::State {
                    weights,
                    optimizer_state,
                }) = self
                    .driver
                    .wait_for(slot(i, Kind::State), self.options.step_timeout)
                {
                    got[i] = Some(LayerCheckpoint {
                        weights,
                        optimizer_state,
                    });
                }
            }
            if got.iter().all(Option::is_some) {
                return Ok(got.into_iter().flatten().collect());
            }
            self.retries += 1;
            eprintln!("owner: a host did not send its layer back in time; asking again");
        }
        Err(self.give_up("fetching the layers", epochs_done))
    }

    /// One training step; the batch's mean loss.
    fn step(
        &mut self,
        step: u64,
        input: &HostTensor,
        labels: &Tensor<1, Int>,
        learning_rate: f64,
        epochs_done: usize,
    ) -> Result<f32> {
        let n = self.plans.len();
        let p = self.packets;
        for attempt in 0..self.attempts() as u32 {
            let slot = |kind| Slot {
                kind,
                step,
                attempt,
            };
            // The first host's plan and the batch go first; the other plans are built while
            // the batch travels (a host keeps what overtakes its plan).
            for i in 0..n {
                let to_next = if i + 1 < n {
                    To::Host(i + 1)
                } else {
                    To::Owner
                };
                let (to_previous, back) = if i > 0 {
                    (To::Host(i - 1), Kind::Backward)
                } else {
                    (To::Owner, Kind::Stepped)
                };
                let plan = Message::Plan {
                    learning_rate,
                    forward: self.driver.reply_blocks(to_next, slot(Kind::Forward), p)?,
                    backward: self.driver.reply_blocks(to_previous, slot(back), p)?,
                };
                self.driver.send(To::Host(i), slot(Kind::Plan), &plan, 1)?;
                if i == 0 {
                    let input = Message::Forward(input.clone());
                    self.driver
                        .send(To::Host(0), slot(Kind::Forward), &input, p)?;
                }
            }
            let timeout = self.options.step_timeout;
            if let Some(Message::Forward(logits)) =
                self.driver.wait_for(slot(Kind::Forward), timeout)
                && let Some((loss, grad)) = loss_and_gradient(&logits, labels)
            {
                self.driver.send(
                    To::Host(n - 1),
                    slot(Kind::Backward),
                    &Message::Backward(grad),
                    p,
                )?;
                if let Some(Message::Stepped) = self.driver.wait_for(slot(Kind::Stepped), timeout) {
                    self.driver.forget_before(step + 1);
                    return Ok(loss);
                }
            }
            self.retries += 1;
            eprintln!(
                "owner: step {step} attempt {attempt} got no answer within {:.0} s; trying again with fresh routes",
                timeout.as_secs_f64()
            );
        }
        Err(self.give_up(&format!("step {step}"), epochs_done))
    }
}

/// The mean cross-entropy of `logits` `[B, classes]` and its gradient, as whole-model training
/// computes them; `None` for logits of the wrong shape.
fn loss_and_gradient(logits: &HostTensor, labels: &Tensor<1, Int>) -> Option<(f32, HostTensor)> {
    let device = training_device();
    let [batch] = labels.dims();
    let Values::F32(values) = &logits.values else {
        return None;
    };
    let &[rows, classes] = logits.shape.as_slice() else {
        return None;
    };
    if rows != batch || classes == 0 {
        eprintln!("owner: logits of shape {:?} refused", logits.shape);
        return None;
    }
    let logits = Tensor::<2>::from_data(TensorData::new(values.clone(), [rows, classes]), &device)
        .require_grad();
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits.clone(), labels.clone());
    let value = loss.clone().into_data().iter::<f32>().next()?;
    let grads = loss.backward();
    let grad = logits.grad(&grads)?;
    Some((
        value,
        HostTensor::f32(
            vec![rows, classes],
            grad.into_data().iter::<f32>().collect(),
        ),
    ))
}

/// The run's fingerprint: its model and training config.
fn run_fingerprint(setup: &OwnerSetup) -> String {
    serde_json::to_string(&(&setup.spec, &setup.train)).expect("specs serialise")
}

/// Trains `setup`'s model on `data` with one layer host per layer (`directory.hosts`, first
/// layer first) through the mix nodes `directory.mixes`.
///
/// # Errors
/// [`Error::Invalid`] for a model MixNN cannot cut or a directory that does not fit it;
/// [`Error::Connection`] if a step gets no answer after every attempt; [`Error::File`] for
/// checkpoint problems.
pub fn train_mixnn<S: LabelledSet>(
    setup: &OwnerSetup,
    data: &S,
    directory: &Directory,
    options: &MixnnOptions,
    progress: &ProgressBar,
) -> Result<MixnnOutcome> {
    let start = Instant::now();
    let plans = host_plans(&setup.spec)?;
    if directory.hosts.len() != plans.len() {
        return Err(Error::invalid(format!(
            "the {} has {} layers: give {} layer hosts, not {}",
            setup.spec.architecture.name(),
            plans.len(),
            plans.len(),
            directory.hosts.len()
        )));
    }
    let router = Router::new(&directory.mixes, options.route_mixes)?;
    let hosts = directory
        .hosts
        .iter()
        .map(|c: &NodeCard| Ok((c.node()?, c.address)))
        .collect::<Result<_>>()?;
    let run_id = run_fingerprint(setup);
    let (log, layers, fresh) = match (&options.checkpoint, options.resume) {
        (Some(dir), true) => {
            let c = checkpoint::load(dir, &run_id, plans.len())?;
            (c.log, c.layers, false)
        }
        (None, true) => return Err(Error::invalid("--resume needs a checkpoint directory")),
        _ => {
            let layers = split_weights(&plans, &setup.init)?
                .into_iter()
                .map(|weights| LayerCheckpoint {
                    weights,
                    optimizer_state: Vec::new(),
                })
                .collect();
            (Vec::new(), layers, true)
        }
    };
    let state_packets = layers
        .iter()
        .map(|l: &LayerCheckpoint| {
            let values: usize = l
                .weights
                .values()
                .map(|t| t.shape.iter().product::<usize>())
                .sum();
            // Weights and up to two optimizer moments, plus burnpack's headers.
            chunks_for(3 * values * 4 + l.optimizer_state.len() + 65536)
        })
        .collect();
    let mut run = Run {
        driver: Driver::new(&options.listen, router, hosts, options.owner_key)?,
        packets: data_packets(&plans, setup)?,
        plans,
        setup,
        options,
        state_packets,
        fetches: 0,
        retries: 0,
    };
    let config = &setup.train;
    let batches = data.len().div_ceil(config.batch_size);
    let first_epoch = log.len();
    let mut step = (first_epoch * batches) as u64;
    // The fetch is the setup's acknowledgement: every host answers with the layer it holds.
    let held = run.fetch(step, first_epoch, Some((&layers, fresh)))?;
    for (i, (h, l)) in held.iter().zip(&layers).enumerate() {
        if h.weights != l.weights {
            return Err(Error::invalid(format!(
                "layer host {i} did not take its layer"
            )));
        }
    }

    let device = training_device();
    let stage = InputStage::new(&setup.spec, &device);
    let image = setup
        .spec
        .input
        .image()
        .expect("host_plans takes images only");
    let mut learning_rates = config.learning_rates(batches).skip(first_epoch * batches);
    let mut log = log;
    let mut latest = held;
    let mut traffic = MixnnTraffic {
        packets_per_message: run.packets,
        packet_bytes: PACKET_BYTES,
        route_mixes: options.route_mixes,
        sequential_hops_per_step: 2
            * (run.plans.len() as u64 + 1)
            * (options.route_mixes as u64 + 1),
        ..MixnnTraffic::default()
    };
    progress.set_length(((config.epochs.saturating_sub(first_epoch)) * batches) as u64);
    for epoch in first_epoch..config.epochs {
        let epoch_start = Instant::now();
        let mut loss_sum = 0.0f64;
        for batch in
            batch_order(data.len(), config.batch_order_seed, epoch).chunks(config.batch_size)
        {
            let (images, labels) = image_batch(data, config, epoch, batch, image, &device)
                .ok_or_else(|| Error::invalid("MixNN trains image models only"))?;
            let images = stage.apply(InputBatch::Images(images)).images();
            let rate = learning_rates
                .next()
                .expect("one learning rate per batch of every epoch");
            let step_start = Instant::now();
            let loss = run.step(step, &host_tensor(images), &labels, rate, log.len())?;
            traffic.step_seconds += step_start.elapsed().as_secs_f64();
            traffic.steps += 1;
            loss_sum += f64::from(loss) * batch.len() as f64;
            step += 1;
            progress.inc(1);
        }
        latest = run.fetch(step, log.len(), None)?;
        log.push(EpochLog {
            epoch: epoch + 1,
            branch_loss: vec![loss_sum / data.len() as f64],
            seconds: epoch_start.elapsed().as_secs_f64(),
        });
        progress.set_message(format!(
            "epoch {}/{} loss {:.4}",
            epoch + 1,
            config.epochs,
            loss_sum / data.len() as f64
        ));
        if let Some(dir) = &options.checkpoint {
            checkpoint::save(dir, &run_id, &log, &latest)?;
        }
    }
    let counts = run.driver.counts;
    traffic.retries = run.retries;
    traffic.packets = counts.sent + counts.reply_blocks;
    traffic.link_bytes = traffic.packets * PACKET_BYTES as u64 * (options.route_mixes as u64 + 1);
    traffic.owner_bytes = run.driver.bytes();
    let parts: Vec<Weights> = latest.into_iter().map(|l| l.weights).collect();
    Ok(MixnnOutcome {
        weights: join_weights(&run.plans, &parts),
        epochs: log,
        seconds: start.elapsed().as_secs_f64(),
        traffic,
    })
}
