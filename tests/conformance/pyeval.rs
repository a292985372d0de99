//! The check semantics of OISF suricata-verify's `run.py`, reproduced over `serde_json::Value`.
//!
//! run.py loads `test.yaml` with PyYAML and every eve.json line with `json.loads`, then compares
//! with Python's operators. What that means, and what this module reproduces:
//! - equality is Python's `==`: `1 == 1.0`, `True == 1`, lists and dicts element-wise, a missing
//!   field and a JSON `null` are both `None`;
//! - `find_value`: dotted names, `name[N]` indexing, `__len` (length, or -1), and the
//!   `__contains` / `__find` / `__startswith` / `__endswith` suffixes (plus the `__gt`, `__gte`,
//!   `__lt`, `__lte` comparisons documented by the suite's README);
//! - `has-key` / `not-has-key` (present means "not None");
//! - requirements: `min-version`, `lt-version`, `gt-version`, `version` with run.py's version
//!   parsing and comparison (including its quirks), `features`, `env`, `files`, `script`, `os`,
//!   `arch`, `pcap`, `lambda`;
//! - a Python exception inside a check is an "internal runtime error", which run.py turns into a
//!   failed test: here that is `Err(String)`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

/// The Suricata version every requirement is evaluated against: ravn stands in for it.
pub const SURICATA_VERSION: Version = Version {
    major: Some(7),
    minor: Some(0),
    patch: Some(10),
};

/// Debian's Suricata 7.0.10 `suricata --build-info`, read the way run.py reads it: the words of
/// the `Features:` line plus every `X support: yes...` line of the configuration section.
pub const DEBIAN_7_0_10_FEATURES: &[&str] = &[
    // Features: line
    "NFQ",
    "PCAP_SET_BUFF",
    "AF_PACKET",
    "HAVE_PACKET_FANOUT",
    "LIBCAP_NG",
    "LIBNET1.1",
    "HAVE_HTP_URI_NORMALIZE_HOOK",
    "PCRE_JIT",
    "HAVE_NSS",
    "HTTP2_DECOMPRESSION",
    "HAVE_LUA",
    "HAVE_JA3",
    "HAVE_JA4",
    "HAVE_LUAJIT",
    "HAVE_LIBJANSSON",
    "TLS",
    "TLS_C11",
    "MAGIC",
    "RUST",
    "POPCNT64",
    // "... support: yes" lines
    "AF_XDP",
    "DPDK",
    "eBPF",
    "XDP",
    "NFQueue",
    "NFLOG",
    "Libmagic",
    "libjansson",
    "hiredis",
    "LUA",
    "GeoIP2",
    "JA3",
    "JA4",
    "Hyperscan",
    "Libnet",
    "liblz4",
    "Landlock",
    "Rust",
    "Python",
];

/// `requires: script:` commands that inspect a Suricata source tree (run.py runs them from
/// it). There is no source tree here, so their answer for 7.0.10 is recorded instead.
const KNOWN_SCRIPTS: &[(&str, bool)] = &[
    // 7.0.10 knows the ESEC IP option: `suricata -T` accepts `ipopts:esec`.
    ("grep IPV4_OPT_ESEC src/decode-ipv4.h > /dev/null", true),
];

/// Python's type name, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A number (or bool, which Python treats as an int) as an exact integer or a float.
enum Num {
    Int(i128),
    Float(f64),
}

fn as_num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(*b as i128)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Num::Int(i as i128))
            } else if let Some(u) = n.as_u64() {
                Some(Num::Int(u as i128))
            } else {
                n.as_f64().map(Num::Float)
            }
        }
        _ => None,
    }
}

fn num_cmp(a: &Num, b: &Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Int(x), Num::Float(y)) => (*x as f64).partial_cmp(y),
        (Num::Float(x), Num::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
    }
}

/// Python's `a == b` for values that came from JSON or YAML.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => num_cmp(&x, &y) == Some(std::cmp::Ordering::Equal),
            _ => false,
        },
    }
}

/// Python's `str(v)` for scalars (floats print as Python's `repr`: `7.0`, not `7`).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => format!("{:?}", n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// `len(obj)`, or -1 where Python's `len` raises (numbers, None), as run.py does.
fn py_len(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.chars().count() as i64,
        Value::Array(a) => a.len() as i64,
        Value::Object(m) => m.len() as i64,
        _ => -1,
    }
}

const STRING_SUFFIXES: &[&str] = &["__contains", "__find", "__startswith", "__endswith"];
const COMPARE_SUFFIXES: &[&str] = &["__gt", "__gte", "__lt", "__lte"];

/// Split `name[N]` as run.py's `^(.*)\[(\d+)\]$` does (greedy: `a[1][2]` is `a[1]`, 2).
fn split_index(part: &str) -> (&str, Option<usize>) {
    if let Some(body) = part.strip_suffix(']') {
        if let Some(open) = body.rfind('[') {
            let digits = &body[open + 1..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // an index too large for usize is out of range: IndexError, caught → None
                return (&body[..open], Some(digits.parse().unwrap_or(usize::MAX)));
            }
        }
    }
    (part, None)
}

/// run.py's `find_value(name, obj)`. `Ok(Value::Null)` is Python's `None` (missing, or null).
pub fn find_value(name: &str, obj: &Value) -> Result<Value, String> {
    let mut cur = obj.clone();
    for part in name.split('.') {
        if part == "__len" {
            return Ok(Value::from(py_len(&cur)));
        }
        if STRING_SUFFIXES.contains(&part) || COMPARE_SUFFIXES.contains(&part) {
            break;
        }
        let (key, index) = split_index(part);
        // `if not name in obj: return None`, then `obj = obj[name]`
        cur = match cur {
            Value::Object(mut m) => match m.remove(key) {
                Some(v) => v,
                None => return Ok(Value::Null),
            },
            Value::Array(a) => {
                if a.iter().any(|x| py_eq(x, &Value::String(key.into()))) {
                    return Err("list indices must be integers or slices, not str".into());
                }
                return Ok(Value::Null);
            }
            Value::String(s) => {
                if s.contains(key) {
                    return Err("string indices must be integers".into());
                }
                return Ok(Value::Null);
            }
            other => {
                return Err(format!(
                    "argument of type '{}' is not iterable",
                    type_name(&other)
                ))
            }
        };
        if let Some(i) = index {
            // `try: obj = obj[int(index)] except: return None`
            cur = match cur {
                Value::Array(mut a) if i < a.len() => a.swap_remove(i),
                Value::String(s) => match s.chars().nth(i) {
                    Some(c) => Value::String(c.to_string()),
                    None => return Ok(Value::Null),
                },
                _ => return Ok(Value::Null),
            };
        }
    }
    Ok(cur)
}

/// `expected in val` (the `__contains` suffix).
fn py_in(expected: &Value, val: &Value) -> Result<bool, String> {
    match val {
        Value::String(s) => match expected {
            Value::String(e) => Ok(s.contains(e.as_str())),
            other => Err(format!(
                "'in <string>' requires string as left operand, not {}",
                type_name(other)
            )),
        },
        Value::Array(a) => Ok(a.iter().any(|x| py_eq(x, expected))),
        Value::Object(m) => match expected {
            Value::String(e) => Ok(m.contains_key(e)),
            Value::Array(_) | Value::Object(_) => {
                Err(format!("unhashable type: '{}'", type_name(expected)))
            }
            _ => Ok(false),
        },
        other => Err(format!(
            "argument of type '{}' is not iterable",
            type_name(other)
        )),
    }
}

/// `val.<method>(expected)` for the string suffixes; Python raises unless both are strings.
fn str_method<'a>(
    val: &'a Value,
    expected: &'a Value,
    method: &str,
) -> Result<(&'a str, &'a str), String> {
    let Value::String(v) = val else {
        return Err(format!(
            "'{}' object has no attribute '{method}'",
            type_name(val)
        ));
    };
    let Value::String(e) = expected else {
        return Err(format!(
            "{method} arg must be str, not {}",
            type_name(expected)
        ));
    };
    Ok((v, e))
}

/// Python's ordering for `val <op> expected` (numbers with numbers, strings with strings).
fn py_order(val: &Value, expected: &Value) -> Result<std::cmp::Ordering, String> {
    if let (Value::String(a), Value::String(b)) = (val, expected) {
        return Ok(a.cmp(b));
    }
    match (as_num(val), as_num(expected)) {
        (Some(a), Some(b)) => num_cmp(&a, &b).ok_or_else(|| "comparison with NaN".to_string()),
        _ => Err(format!(
            "'<' not supported between instances of '{}' and '{}'",
            type_name(val),
            type_name(expected)
        )),
    }
}

/// run.py's `FilterCheck.match(event)`: every key of the `match` dict, in order.
pub fn match_event(m: &Map<String, Value>, event: &Value) -> Result<bool, String> {
    for (key, expected) in m {
        if key == "has-key" || key == "not-has-key" {
            let Value::String(name) = expected else {
                return Err(format!(
                    "'{}' object has no attribute 'split'",
                    type_name(expected)
                ));
            };
            let present = !find_value(name, event)?.is_null();
            if present != (key == "has-key") {
                return Ok(false);
            }
            continue;
        }
        let val = find_value(key, event)?;
        let ok = if key.ends_with("__find") {
            let (v, e) = str_method(&val, expected, "find")?;
            v.contains(e)
        } else if key.ends_with("__contains") {
            py_in(expected, &val)?
        } else if key.ends_with("__startswith") {
            let (v, e) = str_method(&val, expected, "startswith")?;
            v.starts_with(e)
        } else if key.ends_with("__endswith") {
            let (v, e) = str_method(&val, expected, "endswith")?;
            v.ends_with(e)
        } else if key.ends_with("__gte") {
            py_order(&val, expected)?.is_ge()
        } else if key.ends_with("__gt") {
            py_order(&val, expected)?.is_gt()
        } else if key.ends_with("__lte") {
            py_order(&val, expected)?.is_le()
        } else if key.ends_with("__lt") {
            py_order(&val, expected)?.is_lt()
        } else {
            py_eq(&val, expected)
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Count the events of an EVE file that a filter's `match` selects, as run.py does (every line
/// must be JSON: `json.loads` raises otherwise).
pub fn count_matches(path: &Path, m: &Map<String, Value>) -> Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut n = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let ev: Value = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: not JSON: {e}", path.display(), i + 1))?;
        if match_event(m, &ev)? {
            n += 1;
        }
    }
    Ok(n)
}

/// A Suricata version as run.py parses it; `None` parts only with the "equal" comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub major: Option<u64>,
    pub minor: Option<u64>,
    pub patch: Option<u64>,
}

/// run.py's `parse_suricata_version(buf, expr)`:
/// `re.search(r"(?:Suricata version |^)(\d+)\.?(\d+)?\.?(\d+)?.*", str(buf).strip())`.
pub fn parse_version(text: &str, equal: bool) -> Option<Version> {
    let s = text.trim();
    let digit_at = |i: usize| s.as_bytes().get(i).is_some_and(|b| b.is_ascii_digit());
    let mut start = None;
    for (i, _) in s.char_indices() {
        const PREFIX: &str = "Suricata version ";
        if s[i..].starts_with(PREFIX) && digit_at(i + PREFIX.len()) {
            start = Some(i + PREFIX.len());
            break;
        }
        if i == 0 && digit_at(0) {
            start = Some(0);
            break;
        }
    }
    let mut pos = start?;
    let b = s.as_bytes();
    let digits = |pos: &mut usize| -> Option<u64> {
        let st = *pos;
        while *pos < b.len() && b[*pos].is_ascii_digit() {
            *pos += 1;
        }
        (*pos > st).then(|| s[st..*pos].parse().unwrap_or(u64::MAX))
    };
    let dot = |pos: &mut usize| {
        if b.get(*pos) == Some(&b'.') {
            *pos += 1;
        }
    };
    let major = digits(&mut pos);
    dot(&mut pos);
    let minor = digits(&mut pos);
    dot(&mut pos);
    let patch = digits(&mut pos);
    let dflt = if equal { None } else { Some(0) };
    Some(Version {
        major,
        minor: minor.or(dflt),
        patch: patch.or(dflt),
    })
}

fn v(x: Option<u64>) -> u64 {
    x.unwrap_or(0)
}

/// run.py's `Version.is_equal(a, b)`: missing parts match anything.
fn is_equal(a: Version, b: Version) -> bool {
    a.major == b.major
        && (a.minor.is_none() || b.minor.is_none() || a.minor == b.minor)
        && (a.patch.is_none() || b.patch.is_none() || a.patch == b.patch)
}

/// run.py's `Version.is_gte(v1, v2)`.
fn is_gte(a: Version, b: Version) -> bool {
    (v(a.major), v(a.minor), v(a.patch)) >= (v(b.major), v(b.minor), v(b.patch))
}

/// run.py's `Version.is_gt(v1, v2)`.
fn is_gt(a: Version, b: Version) -> bool {
    (v(a.major), v(a.minor), v(a.patch)) > (v(b.major), v(b.minor), v(b.patch))
}

/// run.py's `Version.is_lt(v1, v2)`, quirk included: with equal majors, a lower minor *or* a
/// lower patch is "less" (so 7.1.0 < 7.0.5 is true there).
fn is_lt(a: Version, b: Version) -> bool {
    if v(a.major) > v(b.major) {
        false
    } else if v(a.major) < v(b.major) {
        true
    } else {
        v(a.minor) < v(b.minor) || v(a.patch) < v(b.patch)
    }
}

/// run.py's `is_version_compatible(version, suri_version, expr)`.
fn version_compatible(required: &Value, suri: Version, expr: &str) -> Result<bool, String> {
    let text = py_str(required);
    let req = parse_version(&text, expr == "equal")
        .ok_or_else(|| format!("cannot parse version {text:?}"))?;
    Ok(match expr {
        "gte" => is_gte(suri, req),
        "gt" => is_gt(suri, req),
        "lt" => is_lt(suri, req),
        _ => is_equal(suri, req),
    })
}

/// Why a `requires` block is not met here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// Not satisfiable: the test (or check) is skipped, with this reason.
    Skip(String),
    /// run.py raises an unexpected exception: the test fails.
    Error(String),
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        // Python iterates a string's characters
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        other => vec![other.clone()],
    }
}

/// run.py's `check_requires(requires, suricata_config)`, for Suricata 7.0.10 as Debian builds
/// it. `cwd` is where `script` requirements run (run.py: the Suricata source directory).
pub fn check_requires(requires: &Value, cwd: &Path) -> Result<(), Unmet> {
    let features: BTreeSet<&str> = DEBIAN_7_0_10_FEATURES.iter().copied().collect();
    let map = match requires {
        Value::Object(m) => m,
        Value::Null => {
            return Err(Unmet::Error(
                "'NoneType' object is not iterable (empty requires)".into(),
            ))
        }
        other => {
            return Err(Unmet::Error(format!(
                "requires is a {}, not a dict",
                type_name(other)
            )))
        }
    };
    let err = |e: String| Unmet::Error(e);
    for (key, val) in map {
        match key.as_str() {
            "min-version" => {
                if !version_compatible(val, SURICATA_VERSION, "gte").map_err(err)? {
                    return Err(Unmet::Skip(format!("requires min-version {}", py_str(val))));
                }
            }
            "lt-version" => {
                if !version_compatible(val, SURICATA_VERSION, "lt").map_err(err)? {
                    return Err(Unmet::Skip(format!("requires lt-version {}", py_str(val))));
                }
            }
            "gt-version" => {
                if !version_compatible(val, SURICATA_VERSION, "gt").map_err(err)? {
                    return Err(Unmet::Skip(format!("requires gt-version {}", py_str(val))));
                }
            }
            "version" => {
                if !version_compatible(val, SURICATA_VERSION, "equal").map_err(err)? {
                    return Err(Unmet::Skip(format!("requires version {}", py_str(val))));
                }
            }
            "features" => {
                for f in as_list(val) {
                    let name = py_str(&f);
                    if !features.contains(name.as_str()) {
                        return Err(Unmet::Skip(format!("requires feature {name}")));
                    }
                }
            }
            "env" => {
                for e in as_list(val) {
                    let name = py_str(&e);
                    if std::env::var_os(&name).is_none() {
                        return Err(Unmet::Skip(format!("requires env var {name}")));
                    }
                }
            }
            "files" => {
                for f in as_list(val) {
                    let name = py_str(&f);
                    if !cwd.join(&name).exists() {
                        return Err(Unmet::Skip(format!(
                            "requires file {name} (no Suricata source tree here)"
                        )));
                    }
                }
            }
            "script" => {
                for s in as_list(val) {
                    let cmd = py_str(&s);
                    let ok = match KNOWN_SCRIPTS.iter().find(|(k, _)| *k == cmd.trim()) {
                        Some((_, answer)) => *answer,
                        None => std::process::Command::new("sh")
                            .arg("-c")
                            .arg(&cmd)
                            .current_dir(cwd)
                            .stdout(std::process::Stdio::null())
                            .stderr(std::process::Stdio::null())
                            .status()
                            .is_ok_and(|st| st.success()),
                    };
                    if !ok {
                        return Err(Unmet::Skip(format!(
                            "requires script returned false: {cmd}"
                        )));
                    }
                }
            }
            "pcap" => {}
            "lambda" => {
                return Err(Unmet::Skip(format!(
                    "requires lambda (Python expression, not evaluated): {}",
                    py_str(val)
                )))
            }
            "os" => {
                let want = py_str(val).to_lowercase();
                if !std::env::consts::OS.starts_with(&want) {
                    return Err(Unmet::Skip(format!("requires os {want}")));
                }
            }
            "arch" => {
                let want = py_str(val).to_lowercase();
                if !std::env::consts::ARCH.starts_with(&want) {
                    return Err(Unmet::Skip(format!("requires arch {want}")));
                }
            }
            other => return Err(Unmet::Error(format!("unknown requires types: {other}"))),
        }
    }
    Ok(())
}

/// The test-level version requirements that checks are linted against (run.py's
/// `TestRunner.version`: keys `min`, `lt`, `gt`, `eq`).
pub fn test_versions(requires: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Value::Object(m) = requires {
        for (k, name) in [
            ("min-version", "min"),
            ("lt-version", "lt"),
            ("gt-version", "gt"),
            ("version", "eq"),
        ] {
            if let Some(v) = m.get(k) {
                out.insert(name.into(), v.clone());
            }
        }
    }
    out
}

/// The requirements of one filter check, merged as `FilterCheck.run` merges them, then linted
/// against the test's (`check_filter_test_version_compat`) and checked.
pub fn check_filter_requires(
    filter: &Map<String, Value>,
    test_version: &Map<String, Value>,
    cwd: &Path,
) -> Result<(), Unmet> {
    let mut req = match filter.get("requires") {
        None => Value::Object(Map::new()),
        Some(v) => v.clone(),
    };
    for k in ["version", "min-version", "lt-version"] {
        if let Some(v) = filter.get(k).filter(|v| !v.is_null()) {
            match &mut req {
                Value::Object(m) => {
                    m.insert(k.into(), v.clone());
                }
                _ => {
                    return Err(Unmet::Error(
                        "'NoneType' object does not support item assignment".into(),
                    ))
                }
            }
        }
    }
    let Value::Object(rm) = &req else {
        return Err(Unmet::Error(
            "'NoneType' object is not iterable (empty requires)".into(),
        ));
    };
    for (k, val) in rm {
        if k == "lt-version" {
            if let Some(min) = test_version.get("min") {
                let tmin = parse_version(&py_str(min), false)
                    .ok_or_else(|| Unmet::Error(format!("cannot parse version {min}")))?;
                if !version_compatible(val, tmin, "lt").map_err(Unmet::Error)? {
                    return Err(Unmet::Error(format!(
                        "ImpossibleRequirementError: test requires min {} check requires lt-version {}",
                        py_str(min),
                        py_str(val)
                    )));
                }
            }
        } else if k == "min-version" {
            if let Some(min) = test_version.get("min") {
                if py_eq(val, min) {
                    return Err(Unmet::Error(format!(
                        "UnnecessaryRequirementError: test already requires min {} not needed for the check {}",
                        py_str(min),
                        py_str(val)
                    )));
                }
            }
        }
    }
    if let Some(f) = filter.get("feature").filter(|v| !v.is_null()) {
        if let Value::Object(m) = &mut req {
            m.insert("features".into(), Value::Array(vec![f.clone()]));
        }
    }
    check_requires(&req, cwd)
}

/// A YAML value as the JSON value Python would hold after `yaml.safe_load` (mapping order kept).
pub fn yaml_to_json(y: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(seq) => Value::Array(seq.iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match yaml_to_json(k) {
                    Value::String(s) => s,
                    other => py_str(&other),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(&t.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn python_equality() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(py_eq(&json!(false), &json!(0.0)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!(["tcp-reset"]), &json!(["tcp-reset"])));
        assert!(py_eq(
            &json!({"a": 1, "b": [2]}),
            &json!({"b": [2.0], "a": true})
        ));
        assert!(!py_eq(&json!(null), &json!(0)));
        assert!(py_eq(&json!(u64::MAX), &json!(u64::MAX)));
    }

    #[test]
    fn find_value_like_run_py() {
        let ev = json!({"alert": {"signature_id": 5, "metadata": {"tag": ["a", "b"]}},
                        "flow": {"exception_policy": [{"target": "x"}]}, "s": "abc", "n": null});
        assert_eq!(find_value("alert.signature_id", &ev).unwrap(), json!(5));
        assert_eq!(
            find_value("alert.metadata.tag[1]", &ev).unwrap(),
            json!("b")
        );
        assert_eq!(
            find_value("alert.metadata.tag[7]", &ev).unwrap(),
            json!(null)
        );
        assert_eq!(
            find_value("alert.metadata.tag.__len", &ev).unwrap(),
            json!(2)
        );
        assert_eq!(
            find_value("alert.signature_id.__len", &ev).unwrap(),
            json!(-1)
        );
        assert_eq!(find_value("s.__len", &ev).unwrap(), json!(3));
        assert_eq!(find_value("s[1]", &ev).unwrap(), json!("b"));
        assert_eq!(
            find_value("flow.exception_policy[0].target", &ev).unwrap(),
            json!("x")
        );
        assert_eq!(find_value("nope.deeper", &ev).unwrap(), json!(null));
        assert_eq!(find_value("n", &ev).unwrap(), json!(null));
        assert_eq!(
            find_value("alert.metadata.tag.__contains", &ev).unwrap(),
            json!(["a", "b"])
        );
        // Python raises on `"x" in 5`
        assert!(find_value("alert.signature_id.x", &ev).is_err());
        // ... and on `list["a"]` when "a" is an element
        assert!(find_value("alert.metadata.tag.a", &ev).is_err());
        assert_eq!(
            find_value("alert.metadata.tag.z", &ev).unwrap(),
            json!(null)
        );
    }

    #[test]
    fn match_special_keys() {
        let ev = json!({"event_type": "alert", "alert": {"signature": "GPL ATTACK id check",
                        "signature_id": 2}, "verdict": {"reject": ["tcp-reset"]}, "x": null});
        let yes = |v: Value| match_event(&m(v), &ev).unwrap();
        assert!(yes(
            json!({"event_type": "alert", "alert.signature_id": 2.0})
        ));
        assert!(!yes(
            json!({"event_type": "alert", "alert.signature_id": "2"})
        ));
        assert!(yes(json!({"has-key": "alert.signature"})));
        assert!(!yes(json!({"has-key": "x"})));
        assert!(yes(json!({"not-has-key": "alert.engine"})));
        assert!(yes(json!({"alert.signature.__find": "id check"})));
        assert!(yes(json!({"alert.signature.__startswith": "GPL"})));
        assert!(yes(json!({"alert.signature.__endswith": "check"})));
        assert!(yes(json!({"verdict.reject.__contains": "tcp-reset"})));
        assert!(!yes(json!({"verdict.reject.__contains": "icmp"})));
        assert!(yes(json!({"verdict.reject": ["tcp-reset"]})));
        assert!(yes(
            json!({"alert.signature_id.__gt": 1, "alert.signature_id.__lte": 2})
        ));
        assert!(!yes(json!({"alert.signature_id.__lt": 2})));
        // a missing field equals an expected null, as None == None in Python
        assert!(yes(json!({"missing.field": null})));
        // None.find(...) raises in Python: an internal error, not a mismatch
        assert!(match_event(&m(json!({"missing.__find": "a"})), &ev).is_err());
        // ... but a mismatch earlier in the dict stops before it
        assert!(!yes(json!({"event_type": "flow", "missing.__find": "a"})));
    }

    #[test]
    fn versions_like_run_py() {
        let p = |s: &str| parse_version(s, false).unwrap();
        assert_eq!(
            p("7.0.12"),
            Version {
                major: Some(7),
                minor: Some(0),
                patch: Some(12)
            }
        );
        assert_eq!(p("8"), p("8.0.0"));
        assert_eq!(
            p("This is Suricata version 7.0.10 RELEASE"),
            SURICATA_VERSION
        );
        assert_eq!(parse_version("8", true).unwrap().minor, None);
        assert!(parse_version("x7", false).is_none());
        let ok = |req: Value, expr: &str| version_compatible(&req, SURICATA_VERSION, expr).unwrap();
        assert!(ok(json!(7), "gte"));
        assert!(ok(json!(7.0), "gte"));
        assert!(ok(json!("7.0.10"), "gte"));
        assert!(!ok(json!("7.0.12"), "gte"));
        assert!(!ok(json!(8), "gte"));
        assert!(ok(json!(8), "lt"));
        assert!(ok(json!("8.0.5"), "lt"));
        assert!(!ok(json!(7), "lt"));
        assert!(ok(json!(7), "equal"));
        assert!(ok(json!("7.0"), "equal"));
        assert!(!ok(json!("7.0.9"), "equal"));
        assert!(ok(json!(6), "gt"));
        // run.py's is_lt quirk: 7.1.0 is "less than" 7.0.5
        assert!(is_lt(p("7.1.0"), p("7.0.5")));
    }

    #[test]
    fn requirements() {
        let cwd = Path::new("/");
        assert_eq!(
            check_requires(&json!({"min-version": 8}), cwd),
            Err(Unmet::Skip("requires min-version 8".into()))
        );
        assert!(check_requires(&json!({"min-version": 7, "features": ["HAVE_LUA"]}), cwd).is_ok());
        assert_eq!(
            check_requires(&json!({"features": ["QA_SIMULATION"]}), cwd),
            Err(Unmet::Skip("requires feature QA_SIMULATION".into()))
        );
        assert!(check_requires(&json!({"script": ["true"]}), cwd).is_ok());
        assert!(matches!(
            check_requires(&json!({"bogus": 1}), cwd),
            Err(Unmet::Error(_))
        ));
        let tv = test_versions(&json!({"min-version": 7}));
        let f = |v: Value| check_filter_requires(&m(v), &tv, cwd);
        assert!(matches!(
            f(json!({"requires": {"min-version": 7}})),
            Err(Unmet::Error(_))
        ));
        assert_eq!(
            f(json!({"requires": {"min-version": 9}})),
            Err(Unmet::Skip("requires min-version 9".into()))
        );
        assert!(f(json!({"lt-version": 9})).is_ok());
        assert!(matches!(f(json!({"lt-version": 6})), Err(Unmet::Error(_))));
    }

    #[test]
    fn yaml_numbers_and_order() {
        let y: serde_yaml::Value =
            serde_yaml::from_str("b: 1\na: 7.0\nc: '7'\nd: true\ne:\n").unwrap();
        let j = yaml_to_json(&y);
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "c", "d", "e"]);
        assert_eq!(py_str(&j["a"]), "7.0");
        assert!(py_eq(&j["b"], &json!(1.0)));
        assert_eq!(j["c"], json!("7"));
        assert_eq!(j["e"], json!(null));
    }
}
