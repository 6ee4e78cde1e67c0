//! The loop every MixNN node runs: take a packet from the inbox, handle it, send what it
//! produced; refused packets are logged and training goes on.

use std::net::SocketAddr;
use std::time::Duration;

use amalgam_core::Result;
use amalgam_core::mixnn::{Inbox, Links};

/// Packets to send: `(next hop, packet)`.
pub type Outgoing = Vec<(SocketAddr, Vec<u8>)>;

/// A node's packet processing.
pub trait PacketHandler {
    /// Handles one packet.
    ///
    /// # Errors
    /// Why the packet was refused (it is then dropped and logged).
    fn handle(&mut self, packet: &[u8]) -> Result<Outgoing>;

    /// Packets held back (a mix node's batch) to send now that the inbox is idle.
    fn flush(&mut self) -> Outgoing {
        Vec::new()
    }
}

/// How long the inbox may stay idle before held-back packets are flushed.
pub const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Serves `handler` until the process is stopped; `name` labels the log lines (stderr).
pub fn serve(handler: &mut dyn PacketHandler, links: &Links, inbox: &mut Inbox, name: &str) -> ! {
    loop {
        let out = match inbox.receive(FLUSH_AFTER) {
            Some(packet) => handler.handle(&packet).unwrap_or_else(|e| {
                eprintln!("{name}: rejected packet: {e}");
                Vec::new()
            }),
            None => handler.flush(),
        };
        for (to, packet) in out {
            links.send(to, packet);
        }
    }
}
