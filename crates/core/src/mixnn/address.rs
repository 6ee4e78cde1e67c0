//! Socket addresses inside Sphinx headers: a node's address is the 32-byte routing field that
//! the previous hop reads to forward a packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use sphinx_packet::route::{DestinationAddressBytes, NodeAddressBytes};

use crate::{Error, Result};

/// The 32 bytes of `addr`: byte 0 is 4 or 6, bytes 1-2 the port (big-endian), then the IP
/// address; the rest is zero.
pub fn encode_address(addr: SocketAddr) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[1..3].copy_from_slice(&addr.port().to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            bytes[0] = 4;
            bytes[3..7].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            bytes[0] = 6;
            bytes[3..19].copy_from_slice(&ip.octets());
        }
    }
    bytes
}

/// The socket address of 32 routing bytes made by [`encode_address`].
///
/// # Errors
/// [`Error::Invalid`] for an unknown address family (bytes not made by [`encode_address`]).
pub fn decode_address(bytes: &[u8; 32]) -> Result<SocketAddr> {
    let port = u16::from_be_bytes([bytes[1], bytes[2]]);
    let ip = match bytes[0] {
        4 => IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(&bytes[3..7]).expect("4 bytes"),
        )),
        6 => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&bytes[3..19]).expect("16 bytes"),
        )),
        family => {
            return Err(Error::invalid(format!(
                "routing address of unknown family {family}"
            )));
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// `addr` as a Sphinx node address.
pub fn node_address(addr: SocketAddr) -> NodeAddressBytes {
    NodeAddressBytes::from_bytes(encode_address(addr))
}

/// `addr` as a Sphinx destination address.
pub fn destination_address(addr: SocketAddr) -> DestinationAddressBytes {
    DestinationAddressBytes::from_bytes(encode_address(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_junk_is_refused() {
        for text in ["127.0.0.1:7000", "[::1]:65535", "10.1.2.3:1"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(decode_address(&encode_address(addr)).unwrap(), addr);
        }
        assert!(decode_address(&[9u8; 32]).is_err());
    }
}
