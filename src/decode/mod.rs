//! Decoding: frame bytes to a `Packet` view. Never panics, never allocates; every packet it
//! cannot decode fully is counted by reason in `DecodeStats`.

pub mod packet;

pub use packet::{IcmpHdr, IpHdr, Packet, TcpHdr, UdpHdr, L4};
