//! `classification.config`: `config classification: shortname,description,priority`.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// One class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Lower-cased short name (`trojan-activity`).
    pub name: String,
    /// Description (eve's `alert.category`).
    pub description: String,
    pub priority: u32,
}

/// Classtype short name (case-insensitive) → class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classifications {
    map: HashMap<String, Classification>,
    /// `(line number, text)` of lines that did not parse (Suricata logs and ignores them).
    pub bad_lines: Vec<(usize, String)>,
}

impl Classifications {
    /// Parse the file's text. Like Suricata, a later definition of the same name wins and
    /// malformed lines are ignored (kept in `bad_lines`).
    pub fn parse(text: &str) -> Classifications {
        let mut c = Classifications::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            match parse_line(t) {
                Some(cl) => {
                    c.map.insert(cl.name.clone(), cl);
                }
                None => c.bad_lines.push((i + 1, line.to_string())),
            }
        }
        c
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> io::Result<Classifications> {
        let bytes = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Classifications::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Look up a short name, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Classification> {
        match self.map.get(name) {
            Some(c) => Some(c),
            None => self.map.get(&name.to_ascii_lowercase()),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Classification> {
        self.map.values()
    }
}

/// `^\s*config\s*classification\s*:\s*([a-zA-Z][a-zA-Z0-9-_]*)\s*,\s*(.+)\s*,\s*(\d+)\s*$`
fn parse_line(t: &str) -> Option<Classification> {
    let rest = t.strip_prefix("config")?.trim_start();
    let rest = rest.strip_prefix("classification")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let comma = rest.find(',')?;
    let name = rest[..comma].trim_end();
    let mut chars = name.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    let rest = &rest[comma + 1..];
    let last = rest.rfind(',')?;
    let description = rest[..last].trim_start().to_string();
    if description.is_empty() {
        return None;
    }
    let prio = rest[last + 1..].trim();
    if prio.is_empty() || !prio.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Classification {
        name: name.to_ascii_lowercase(),
        description: description.trim_end().to_string(),
        priority: prio.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lines() {
        let c = Classifications::parse(
            "# comment\n\nconfig classification: not-suspicious,Not Suspicious Traffic,3\n\
             config classification:Trojan-Activity, A Network Trojan was detected, 1\n\
             config classification: bad line\n\
             config classification: a,desc, with comma,2\n\
             config classification: not-suspicious,Redefined,4\n",
        );
        assert_eq!(c.len(), 3);
        let t = c.get("trojan-activity").unwrap();
        assert_eq!(t.description, "A Network Trojan was detected");
        assert_eq!(t.priority, 1);
        assert_eq!(c.get("TROJAN-ACTIVITY").unwrap().priority, 1);
        assert_eq!(c.get("a").unwrap().description, "desc, with comma");
        assert_eq!(c.get("not-suspicious").unwrap().priority, 4);
        assert_eq!(c.bad_lines.len(), 1);
    }
}
