//! `amalgam mixnn mix-node` and `amalgam mixnn layer-host`: the untrusted servers.

use std::io::Write;

use amalgam_cloud::mixnn::{LayerHost, MixNode, PacketHandler, serve};
use amalgam_core::mixnn::{NodeCard, NodeKey, Role, links};
use anyhow::Result;

use super::args::{LayerHostArgs, MixNodeArgs, NodeArgs};
use crate::commands::key_file;

fn start(args: &NodeArgs, role: Role, name: &str, handler: &mut dyn PacketHandler) -> Result<()> {
    let key = NodeKey::load_or_create(&args.key)?;
    let (links, mut inbox, address) = links::listen(&args.listen, name)?;
    if let Some(card) = &args.card {
        NodeCard::new(role, address, &key).write(card)?;
    }
    println!("listening on {address}");
    std::io::stdout().flush()?;
    serve(handler, &links, &mut inbox, name)
}

pub fn mix_node(args: MixNodeArgs) -> Result<()> {
    let key = NodeKey::load_or_create(&args.node.key)?;
    let mut mix = MixNode::new(key, args.batch, args.fault);
    start(&args.node, Role::Mix, "mix node", &mut mix)
}

pub fn layer_host(args: LayerHostArgs) -> Result<()> {
    let owner_key = args.owner_key.as_deref().map(key_file::read).transpose()?;
    let mut host = LayerHost::new(NodeKey::load_or_create(&args.node.key)?, owner_key);
    start(&args.node, Role::LayerHost, "layer host", &mut host)
}
