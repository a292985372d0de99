//! The EVE `stats` event: counters named as Suricata names them, nested by their dots.

use super::json;
use super::time;
use crate::capture::Timestamp;

/// Counters as `(dotted.name, value)` in output order, e.g. `("decoder.pkts", 14)`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    items: Vec<(String, u64)>,
}

impl Counters {
    pub fn push(&mut self, name: impl Into<String>, v: u64) {
        self.items.push((name.into(), v));
    }
    pub fn get(&self, name: &str) -> Option<u64> {
        self.items.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.items.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

/// A rules engine description for `stats.detect.engines`.
#[derive(Debug, Clone, Copy)]
pub struct EngineInfo {
    pub last_reload: Timestamp,
    pub rules_loaded: u64,
    pub rules_failed: u64,
    pub rules_skipped: u64,
}

/// Write nested JSON objects for dotted names (names sharing a prefix must be adjacent).
fn nested(out: &mut String, items: &[(String, u64)], insert_engines: Option<&str>) {
    // Stack of currently open object path segments.
    let mut open: Vec<&str> = Vec::new();
    let mut first_at_level: Vec<bool> = vec![true];
    out.push('{');
    for (name, v) in items {
        let parts: Vec<&str> = name.split('.').collect();
        let (path, leaf) = parts.split_at(parts.len() - 1);
        // close levels that are not a prefix of this path
        let common = open
            .iter()
            .zip(path.iter())
            .take_while(|(a, b)| a == b)
            .count();
        while open.len() > common {
            open.pop();
            first_at_level.pop();
            out.push('}');
        }
        for seg in &path[common..] {
            if !*first_at_level.last().unwrap_or(&true) {
                out.push(',');
            }
            if let Some(l) = first_at_level.last_mut() {
                *l = false;
            }
            json::string(out, seg);
            out.push_str(":{");
            open.push(seg);
            first_at_level.push(true);
            if let (Some(eng), [only]) = (insert_engines, path) {
                if *only == "detect" {
                    out.push_str("\"engines\":");
                    out.push_str(eng);
                    if let Some(l) = first_at_level.last_mut() {
                        *l = false;
                    }
                }
            }
        }
        if !*first_at_level.last().unwrap_or(&true) {
            out.push(',');
        }
        if let Some(l) = first_at_level.last_mut() {
            *l = false;
        }
        json::string(out, leaf[0]);
        out.push(':');
        out.push_str(&v.to_string());
    }
    while open.pop().is_some() {
        out.push('}');
    }
    out.push('}');
}

/// One EVE stats line (with newline).
pub fn eve_line(
    out: &mut String,
    now: Timestamp,
    uptime_secs: u64,
    counters: &Counters,
    engine: &EngineInfo,
) {
    let mut ts = String::new();
    time::write_eve(&mut ts, &time::local(now));
    let mut reload = String::new();
    time::write_eve(&mut reload, &time::local(engine.last_reload));
    let engines = format!(
        "[{{\"id\":0,\"last_reload\":\"{}\",\"rules_loaded\":{},\"rules_failed\":{},\"rules_skipped\":{}}}]",
        reload, engine.rules_loaded, engine.rules_failed, engine.rules_skipped
    );
    let mut items: Vec<(String, u64)> = vec![("uptime".to_string(), uptime_secs)];
    items.extend(counters.iter().map(|(n, v)| (n.to_string(), v)));
    out.push_str("{\"timestamp\":");
    json::string(out, &ts);
    out.push_str(",\"event_type\":\"stats\",\"stats\":");
    nested(out, &items, Some(&engines));
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_dotted_names() {
        let items: Vec<(String, u64)> = [
            ("uptime", 1),
            ("decoder.pkts", 2),
            ("decoder.event.ipv4.trunc_pkt", 3),
            ("decoder.event.ipv4.opt_invalid", 4),
            ("decoder.event.tcp.pkt_too_small", 5),
            ("detect.alert", 6),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
        let mut s = String::new();
        nested(&mut s, &items, Some("[]"));
        assert_eq!(
            s,
            r#"{"uptime":1,"decoder":{"pkts":2,"event":{"ipv4":{"trunc_pkt":3,"opt_invalid":4},"tcp":{"pkt_too_small":5}}},"detect":{"engines":[],"alert":6}}"#
        );
    }
}
