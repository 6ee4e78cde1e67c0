//! `amalgam mixnn` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::args::{DataArgs, TrainingArgs};

/// MixNN (Liu et al. 2022): every layer on its own host, activations and gradients through a
/// mix network.
#[derive(Subcommand, Debug)]
pub enum MixnnCommand {
    /// Untrusted machine: a mix node. Peels one layer of each Sphinx packet and forwards it to
    /// the next hop, refusing replays and tampered headers.
    MixNode(MixNodeArgs),
    /// Untrusted machine: a layer host. Runs the layer the owner sends it (forward, backward,
    /// its own optimizer) and answers through the owner's reply blocks.
    LayerHost(LayerHostArgs),
    /// Owner: write a fresh owner key (32 random bytes, hex, mode 0600); give the layer hosts
    /// a copy (`--owner-key`) so that they take a layer from this owner only.
    OwnerKey(OwnerKeyArgs),
    /// Owner: train through mix nodes and layer hosts that are already running (given by
    /// their cards), write the trained model directory.
    Train(MixnnTrainArgs),
    /// The privacy audit: train with curious layer hosts (in this process, behind mix nodes
    /// on loopback), run their attacks (the first host's images, the second host's images from
    /// feature maps, the last host's labels from the logits' gradients), score them: report.json
    /// and grid.png.
    Attack(MixnnAttackArgs),
    /// The whole comparison on this machine: start mix nodes and one layer host per layer on
    /// loopback, train through them, train the same model in one process, evaluate both, print
    /// a table and write report.json.
    Run(MixnnRunArgs),
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Address to listen on (port 0: any free port; the chosen address is printed as
    /// `listening on ADDR` and written to the card).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The node's secret key file (64 hex digits); created (mode 0600) if it does not exist,
    /// so that a restarted node keeps its identity.
    #[arg(long, value_name = "KEY_FILE")]
    pub key: PathBuf,
    /// Where to write the node's public card (role, address, public key; JSON) for the owner.
    #[arg(long, value_name = "CARD_FILE")]
    pub card: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LayerHostArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// The owner key file (`amalgam mixnn owner-key`): only set-ups made with it are taken.
    /// Without it, any set-up is taken (anyone could start a session on this host).
    #[arg(long, value_name = "KEY_FILE")]
    pub owner_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct OwnerKeyArgs {
    /// Output file (must not exist).
    #[arg(value_name = "KEY_FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct MixNodeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Packets held back and sent together in random order (1: forward each at once).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Testing only: misbehave once (`tamper:N` flips a byte of the N-th packet forwarded,
    /// `replay:N` sends it twice).
    #[arg(long, hide = true, value_parser = parse_fault)]
    pub fault: Option<amalgam_cloud::mixnn::Fault>,
}

fn parse_fault(text: &str) -> Result<amalgam_cloud::mixnn::Fault, String> {
    use amalgam_cloud::mixnn::Fault;
    let (kind, n) = text
        .split_once(':')
        .ok_or("expected tamper:N or replay:N")?;
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{n}` is not a packet number"))?;
    match kind {
        "tamper" => Ok(Fault::Tamper(n)),
        "replay" => Ok(Fault::Replay(n)),
        _ => Err(format!("unknown fault `{kind}`: tamper or replay")),
    }
}

/// How the owner routes and waits.
#[derive(Args, Debug, Clone)]
pub struct RouteArgs {
    /// Mix nodes on every route (1 to 4; Sphinx headers hold 5 hops).
    #[arg(long, default_value_t = 3)]
    pub route_mixes: usize,
    /// Seconds to wait for a step's answers before trying the step again.
    #[arg(long, default_value_t = 30)]
    pub step_timeout: u64,
    /// Further attempts at a step before giving up.
    #[arg(long, default_value_t = 3)]
    pub retries: usize,
    /// Address the owner listens on for the hosts' answers.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub owner_listen: String,
}

#[derive(Args, Debug, Clone)]
pub struct OwnerKeyArg {
    /// The owner key file the layer hosts were given (`--owner-key`), if they were.
    #[arg(long, value_name = "KEY_FILE")]
    pub owner_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MixnnTrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub route: RouteArgs,
    #[command(flatten)]
    pub owner_key: OwnerKeyArg,
    /// A mix node's card (repeatable).
    #[arg(long = "mix", value_name = "CARD_FILE", required = true)]
    pub mixes: Vec<PathBuf>,
    /// A layer host's card, first layer first (repeatable; one per layer).
    #[arg(long = "host", value_name = "CARD_FILE", required = true)]
    pub hosts: Vec<PathBuf>,
    /// Output model directory (model.json + model.safetensors; must not exist).
    #[arg(long, value_name = "MODEL_DIR")]
    pub out: PathBuf,
    /// Continue a run whose node died from its checkpoint (OUT.checkpoint/, written after
    /// every epoch), with the node restarted (same key and address).
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args, Debug)]
pub struct MixnnRunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub route: RouteArgs,
    /// Mix nodes to start.
    #[arg(long, default_value_t = 4)]
    pub mixes: usize,
    /// Each mix node's batch (see `amalgam mixnn mix-node --batch`).
    #[arg(long, default_value_t = 1)]
    pub mix_batch: usize,
    /// Output directory (default: runs/mixnn-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MixnnAttackArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Output directory (default: runs/mixnn-attack-<time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
