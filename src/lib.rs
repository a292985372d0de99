//! ravn: a network-security sensor for the Raspberry Pi.
//!
//! Frames come in (`capture`), are decoded into typed views (`decode`), matched against
//! Suricata rules (`rules` parses them, `detect` runs them) and alerts go out in Suricata's
//! formats (`output`). See ARCHITECTURE.md for the map.

pub mod applayer;
pub mod archive;
pub mod capture;
pub mod config;
pub mod daemon;
pub mod decode;
pub mod defrag;
pub mod detect;
pub mod exception_policy;
pub mod flow;
pub mod heartbeat;
pub mod leds;
pub mod logring;
pub mod output;
pub mod pipeline;
pub mod replay;
pub mod rules;
pub mod stream;
pub mod tzsp2pcap;
