//! `reference.config`: `config reference: system url`.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// Reference system (lower-cased) → URL prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    map: HashMap<String, String>,
    pub bad_lines: Vec<(usize, String)>,
}

impl References {
    /// `^\s*config\s+reference\s*:\s+([a-zA-Z][a-zA-Z0-9-_]*)\s+(.+)\s*$`
    pub fn parse(text: &str) -> References {
        let mut r = References::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            match parse_line(t) {
                Some((k, v)) => {
                    r.map.insert(k, v);
                }
                None => r.bad_lines.push((i + 1, line.to_string())),
            }
        }
        r
    }

    pub fn load(path: &Path) -> io::Result<References> {
        let bytes = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(References::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// URL prefix of a system, case-insensitively.
    pub fn url(&self, system: &str) -> Option<&str> {
        self.map
            .get(&system.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn parse_line(t: &str) -> Option<(String, String)> {
    let rest = t.strip_prefix("config")?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("reference")?.trim_start();
    let rest = rest.strip_prefix(':')?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest.find(|c: char| c.is_ascii_whitespace())?;
    let name = &rest[..end];
    let mut chars = name.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    let url = rest[end..].trim();
    if url.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lines() {
        let r = References::parse("# x\nconfig reference: bugtraq   http://www.securityfocus.com/bid/\nconfig reference: URL http://\nconfig reference:bad\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r.url("bugtraq"), Some("http://www.securityfocus.com/bid/"));
        assert_eq!(r.url("url"), Some("http://"));
        assert_eq!(r.bad_lines.len(), 1);
    }
}
