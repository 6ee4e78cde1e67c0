//! How Tempo's two parties exchange [`Message`]s: one interface, two implementations.
//!
//! [`InProcess`] passes encoded frames between two threads of one process (the protocol's
//! tests); [`super::NoiseTcp`] sends them over TCP, encrypted and authenticated (the real
//! set-up). The same party code runs over either (the layout CrypTen uses for its
//! communicators).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use super::Message;
use crate::{Error, Result};

/// One end of a connection.
pub trait Transport: Send {
    /// Sends `message`.
    ///
    /// # Errors
    /// [`Error::Connection`] when the peer is gone or the link fails.
    fn send(&mut self, message: &Message) -> Result<()>;

    /// The next message, decoded and checked.
    ///
    /// # Errors
    /// [`Error::Connection`] when the peer is gone or silent past the time limit;
    /// [`Error::Invalid`] for a frame that does not decode.
    fn receive(&mut self) -> Result<Message>;

    /// Frame bytes sent and received so far (before encryption, after decryption).
    fn bytes(&self) -> [u64; 2];

    /// Sends `message` and returns the reply; a [`Message::Refused`] reply is an error.
    ///
    /// # Errors
    /// As [`send`](Self::send) and [`receive`](Self::receive), and [`Error::Connection`]
    /// carrying the peer's reason when it refused.
    fn request(&mut self, message: &Message) -> Result<Message> {
        self.send(message)?;
        match self.receive()? {
            Message::Refused(reason) => Err(Error::Connection(format!(
                "the worker refused the request: {reason}"
            ))),
            reply => Ok(reply),
        }
    }
}

/// One end of an in-process connection (see [`in_process_pair`]).
pub struct InProcess {
    outgoing: Sender<Vec<u8>>,
    incoming: Receiver<Vec<u8>>,
    timeout: Duration,
    bytes: [u64; 2],
}

/// Two connected ends; each waits at most `timeout` for a message.
pub fn in_process_pair(timeout: Duration) -> (InProcess, InProcess) {
    let (a_out, b_in) = channel();
    let (b_out, a_in) = channel();
    (
        InProcess {
            outgoing: a_out,
            incoming: a_in,
            timeout,
            bytes: [0; 2],
        },
        InProcess {
            outgoing: b_out,
            incoming: b_in,
            timeout,
            bytes: [0; 2],
        },
    )
}

impl Transport for InProcess {
    fn send(&mut self, message: &Message) -> Result<()> {
        let frame = message.encode();
        self.bytes[0] += frame.len() as u64;
        self.outgoing
            .send(frame)
            .map_err(|_| Error::Connection("the peer has hung up".into()))
    }

    fn receive(&mut self) -> Result<Message> {
        let frame = self.incoming.recv_timeout(self.timeout).map_err(|e| {
            Error::Connection(match e {
                RecvTimeoutError::Timeout => {
                    format!("no reply within {:.0?}", self.timeout)
                }
                RecvTimeoutError::Disconnected => "the peer has hung up".into(),
            })
        })?;
        self.bytes[1] += frame.len() as u64;
        Message::decode(&frame)
    }

    fn bytes(&self) -> [u64; 2] {
        self.bytes
    }
}
