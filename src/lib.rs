//! ravn: a network-security sensor for the Raspberry Pi.
//!
//! Frames come in (`capture`), are decoded into typed views (`decode`), matched against
//! Suricata rules (`rules` parses them, `detect` runs them) and alerts go out in Suricata's
//! formats (`output`). See ARCHITECTURE.md for the map.

pub mod capture;
pub mod decode;
pub mod rules;
