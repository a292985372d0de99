//! Suricata rules: the text grammar, variables, address and port sets, keywords.

pub mod ast;
