//! Suricata rules: the text grammar, variables, address and port sets, keywords.
//!
//! [`parse_rule`] turns one rule into an [`ast::Rule`] or a [`Skip`] (unsupported by ravn, or
//! invalid for Suricata 7.0.10 too); [`load_file`] reads a rules file; [`check`] summarises.

pub mod address;
pub mod ast;
pub mod check;
pub mod classification;
pub mod cnum;
pub mod keywords;
pub mod loader;
pub mod parse;
pub mod port;
pub mod ranges;
pub mod reference;
pub mod threshold_config;
pub mod vars;
#[cfg(test)]
mod verified_cases;

pub use address::parse_address;
pub use classification::{Classification, Classifications};
pub use loader::{dedup, load_bytes, load_file, load_files, RuleFile, Skipped};
pub use parse::{parse_rule, parse_rule_bytes, Skip, SkipKind};
pub use port::{decoder_ports, parse_port};
pub use reference::References;
pub use threshold_config::ThresholdConfig;
pub use vars::Vars;
