//! MixNN in one process, nodes on loopback threads: a mix node sees only fixed-size packets,
//! none holding a plaintext activation or weight; the trained model is bitwise the one-process
//! one; hostile packets are refused without a panic.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amalgam_cloud::mixnn::{LayerHost, MixNode, Outgoing, PacketHandler, spawn_in_process};
use amalgam_core::mixnn::packet::PACKET_BYTES;
use amalgam_core::mixnn::{NodeCard, NodeKey, Role};
use amalgam_core::model::Architecture;
use amalgam_core::tensors::Values;
use amalgam_owner::baseline::train_baseline;
use amalgam_owner::mixnn::{Directory, train_mixnn};
use amalgam_owner::setup::{OwnerSetup, TrainSettings};
use common::exactness::assert_bitwise;
use common::{fashion_subset, loopback_mixnn_options};
use indicatif::ProgressBar;
use proptest::prelude::*;

/// A mix node that keeps a copy of every packet it is given.
struct Spy {
    mix: MixNode,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl PacketHandler for Spy {
    fn handle(&mut self, packet: &[u8]) -> amalgam_core::Result<Outgoing> {
        self.seen.lock().unwrap().push(packet.to_vec());
        self.mix.handle(packet)
    }
}

/// A layer host that, while `cut` is set, gets only the first two packets sent to it, as if
/// its owner were killed mid-send.
struct Cut {
    host: LayerHost,
    cut: Arc<AtomicBool>,
    passed: usize,
}

impl PacketHandler for Cut {
    fn handle(&mut self, packet: &[u8]) -> amalgam_core::Result<Outgoing> {
        if self.cut.load(Ordering::SeqCst) {
            if self.passed == 2 {
                return Ok(Vec::new());
            }
            self.passed += 1;
        }
        self.host.handle(packet)
    }
}

fn spawn(role: Role, key: &NodeKey, handler: Box<dyn PacketHandler + Send>) -> NodeCard {
    spawn_in_process("127.0.0.1:0", role, key, handler).unwrap()
}

fn windows(values: &[f32]) -> impl Iterator<Item = [u8; 16]> + '_ {
    values
        .windows(4)
        .map(|w| bytemuck::cast_slice::<f32, u8>(w).try_into().unwrap())
}

#[test]
fn a_mix_node_sees_only_fixed_size_ciphertext_and_training_is_exact() {
    let data = fashion_subset(256, 64);
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 64,
        ..TrainSettings::default()
    };
    let setup =
        OwnerSetup::new(&data, Architecture::Mlp { hidden: vec![32] }, &settings, 3).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut mixes = Vec::new();
    for i in 0..3 {
        let key = NodeKey::random();
        let mix = MixNode::new(key.clone(), 1, None);
        let handler: Box<dyn PacketHandler + Send> = if i == 0 {
            Box::new(Spy {
                mix,
                seen: seen.clone(),
            })
        } else {
            Box::new(mix)
        };
        mixes.push(spawn(Role::Mix, &key, handler));
    }
    let owner_key: [u8; 32] = rand::random();
    let hosts = (0..2)
        .map(|_| {
            let key = NodeKey::random();
            let host = LayerHost::new(key.clone(), Some(owner_key));
            spawn(Role::LayerHost, &key, Box::new(host))
        })
        .collect();
    let mut options = loopback_mixnn_options(rand::random(), 3, Duration::from_secs(1));
    let directory = Directory { mixes, hosts };
    // Hosts started with an owner key take no layer from anyone else.
    let refused = train_mixnn(
        &setup,
        &data.train,
        &directory,
        &options,
        &ProgressBar::hidden(),
    );
    assert!(matches!(refused, Err(amalgam_core::Error::Connection(_))));
    seen.lock().unwrap().clear();

    options.owner_key = Some(owner_key);
    options.step_timeout = Duration::from_secs(20);
    options.retries = 1;
    let outcome = train_mixnn(
        &setup,
        &data.train,
        &directory,
        &options,
        &ProgressBar::hidden(),
    )
    .unwrap();
    let plain = train_baseline(&data, &setup, &ProgressBar::hidden());
    assert_bitwise("MixNN vs one process", &outcome.weights, &plain.weights);

    // Every route holds all three mixes, so the spy saw every packet of the run.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, outcome.traffic.packets);
    assert!(seen.iter().all(|p| p.len() == PACKET_BYTES));
    let mut plaintext: HashSet<[u8; 16]> = windows(&data.train.images).collect();
    for t in setup.init.values().chain(plain.weights.values()) {
        if let Values::F32(v) = &t.values {
            plaintext.extend(windows(v));
        }
    }
    for packet in seen.iter() {
        for w in packet.windows(16) {
            assert!(
                !plaintext.contains(<&[u8; 16]>::try_from(w).unwrap()),
                "a mix node saw 16 plaintext bytes"
            );
        }
    }
}

#[test]
fn a_setup_cut_short_does_not_stop_the_next_owner_session() {
    let data = fashion_subset(128, 64);
    let settings = TrainSettings {
        epochs: 1,
        batch_size: 64,
        ..TrainSettings::default()
    };
    let architecture = Architecture::Mlp { hidden: vec![32] };
    let killed = OwnerSetup::new(&data, architecture.clone(), &settings, 3).unwrap();
    let next = OwnerSetup::new(&data, architecture, &settings, 4).unwrap();
    let key = NodeKey::random();
    let mixes = vec![spawn(
        Role::Mix,
        &key,
        Box::new(MixNode::new(key.clone(), 1, None)),
    )];
    let owner_key: [u8; 32] = rand::random();
    let cut = Arc::new(AtomicBool::new(true));
    let hosts = (0..2)
        .map(|i| {
            let key = NodeKey::random();
            let host = LayerHost::new(key.clone(), Some(owner_key));
            let handler: Box<dyn PacketHandler + Send> = if i == 0 {
                Box::new(Cut {
                    host,
                    cut: cut.clone(),
                    passed: 0,
                })
            } else {
                Box::new(host)
            };
            spawn(Role::LayerHost, &key, handler)
        })
        .collect();
    let directory = Directory { mixes, hosts };
    // The first layer's setup is 4 packets and the fetch after it 1, so the first host keeps
    // part of a setup.
    let train = |setup: &OwnerSetup, timeout: u64| {
        let options = loopback_mixnn_options(owner_key, 1, Duration::from_secs(timeout));
        train_mixnn(
            setup,
            &data.train,
            &directory,
            &options,
            &ProgressBar::hidden(),
        )
    };
    let cut_short = train(&killed, 1);
    assert!(matches!(cut_short, Err(amalgam_core::Error::Connection(_))));
    cut.store(false, Ordering::SeqCst);
    // No retries: the next session's setup, for the same step, must get through at once.
    let outcome = train(&next, 20).unwrap();
    let plain = train_baseline(&data, &next, &ProgressBar::hidden());
    assert_bitwise(
        "MixNN after a cut setup vs one process",
        &outcome.weights,
        &plain.weights,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn hostile_packets_are_refused_without_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        fill in any::<u8>(),
        full in any::<bool>(),
    ) {
        let packet = if full {
            let mut p = vec![fill; PACKET_BYTES];
            p[..bytes.len()].copy_from_slice(&bytes);
            p
        } else {
            bytes
        };
        let mut mix = MixNode::new(NodeKey::random(), 1, None);
        prop_assert!(mix.handle(&packet).is_err());
        let mut host = LayerHost::new(NodeKey::random(), None);
        prop_assert!(host.handle(&packet).is_err());
    }
}
