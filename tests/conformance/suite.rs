//! The suricata-verify test runner: discovery, `test.yaml` → a run plan (as OISF's run.py
//! builds it), the engines (ravn, or Suricata itself for the ceiling), parallel runs with a
//! timeout, scoring of the alert checks, and the report.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::pyeval::{self, py_eq, py_str, Unmet};

/// Where things are.
pub struct Env {
    /// `.../suricata-verify`
    pub suite: PathBuf,
    /// `.../reference/suricata-7.0.10` (classification.config, alert-only suricata.yaml)
    pub reference: Option<PathBuf>,
    /// Scratch root for outputs (`<target>/conformance`).
    pub work: PathBuf,
    pub timeout: Duration,
    pub jobs: usize,
    /// Suricata's default settings (the reference suricata.yaml, flattened, values
    /// normalised): a test's suricata.yaml setting equal to its default needs no note.
    pub defaults: BTreeMap<String, String>,
}

impl Env {
    fn classification(&self) -> PathBuf {
        self.reference
            .as_ref()
            .map(|r| r.join("classification.config"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| self.suite.join("etc/classification.config"))
    }
    fn reference_config(&self) -> PathBuf {
        self.reference
            .as_ref()
            .map(|r| r.join("reference.config"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| self.suite.join("etc/reference.config"))
    }
}

/// One test directory (a directory with a `test.yaml`).
#[derive(Debug, Clone)]
pub struct Case {
    /// Path relative to `tests/` (`dns/v2/bug-990`): unique, unlike run.py's basename.
    pub name: String,
    pub dir: PathBuf,
}

/// The test directories under `tests/`, as run.py's walk finds them (a directory with a
/// `test.yaml` is a test and is not descended into), sorted.
pub fn discover(suite: &Path) -> Vec<Case> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Case>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut subdirs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        for d in subdirs {
            if d.join("test.yaml").is_file() {
                let name = d
                    .strip_prefix(root)
                    .unwrap_or(&d)
                    .to_string_lossy()
                    .into_owned();
                out.push(Case { name, dir: d });
            } else {
                walk(root, &d, out);
            }
        }
    }
    let root = suite.join("tests");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// An option or setting the engine could not honour. `key` groups them in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: String,
    pub text: String,
}

/// What happened to one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub status: Status,
    pub reason: String,
    /// For failures: why (skipped rules, options not honoured, engine error).
    pub why: Option<String>,
    /// One entry per rule the engine skipped: the reason's short form.
    pub skipped_rules: Vec<String>,
    pub notes: Vec<Note>,
}

impl Outcome {
    fn new(name: &str, status: Status, reason: impl Into<String>) -> Outcome {
        Outcome {
            name: name.to_string(),
            status,
            reason: reason.into(),
            why: None,
            skipped_rules: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Which rules a test runs with (run.py's rule-file logic).
#[derive(Debug, Clone)]
pub enum Rules {
    /// No rules file: `--disable-detection`.
    None,
    File(PathBuf),
    /// Inline `rules:` text from test.yaml.
    Inline(String),
    /// `firewall.rules` (+ optional `td.rules`): Suricata 8's firewall mode.
    Firewall {
        firewall: PathBuf,
        td: Option<PathBuf>,
    },
}

/// A scored check: a `filter` whose `match` has `event_type: alert`, on eve.json.
#[derive(Debug, Clone)]
pub struct Check {
    /// 1-based position among the test's checks (run.py's "Sub test #N").
    pub num: usize,
    pub filter: Map<String, Value>,
}

/// Everything needed to run a test, independent of the engine.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub dir: PathBuf,
    pub pcap: PathBuf,
    pub rules: Rules,
    /// `args:` split on whitespace with `${VARS}` substituted, plus `--simulate-ips` when the
    /// test's directory name contains "ips" (run.py does that).
    pub args: Vec<String>,
    /// `env:` of test.yaml.
    pub env: Vec<(String, String)>,
    pub checks: Vec<Check>,
    pub expected_exit: i64,
    pub suricata_yaml: Option<PathBuf>,
    /// Scored checks set aside because their requirements are not met here.
    pub checks_not_applicable: Vec<String>,
}

fn load_yaml(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let y: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pyeval::yaml_to_json(&y))
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// Python's `string.Template(s).substitute(env)`.
fn substitute(s: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let ident_len = |t: &str| {
            t.char_indices()
                .find(|(j, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*j == 0 && c.is_ascii_digit())
                })
                .map(|(j, _)| j)
                .unwrap_or(t.len())
        };
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("invalid placeholder in {s:?}"))?;
            let name = &braced[..end];
            out.push_str(
                env.get(name)
                    .ok_or_else(|| format!("KeyError: '{name}' in {s:?}"))?,
            );
            rest = &braced[end + 1..];
        } else {
            let n = ident_len(after);
            if n == 0 {
                return Err(format!("invalid placeholder in {s:?}"));
            }
            let name = &after[..n];
            out.push_str(
                env.get(name)
                    .ok_or_else(|| format!("KeyError: '{name}' in {s:?}"))?,
            );
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn glob_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The process environment run.py gives a test (`build_env`), for `${VAR}` substitution.
fn test_env(
    dir: &Path,
    outdir: &Path,
    srcdir: &Path,
    cfg_env: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.insert("SRCDIR".into(), srcdir.display().to_string());
    env.insert("TZ".into(), "UTC".into());
    env.insert("TEST_DIR".into(), dir.display().to_string());
    env.insert("OUTPUT_DIR".into(), outdir.display().to_string());
    env.entry("ASAN_OPTIONS".into())
        .or_insert_with(|| "detect_leaks=1".into());
    for (k, v) in cfg_env {
        env.insert(k.clone(), v.clone());
    }
    env
}

fn out_dir(env: &Env, engine: &str, name: &str) -> PathBuf {
    env.work.join(engine).join(name.replace('/', "__"))
}

/// Build the run plan for a test, or say why it is skipped (or fails before running), with
/// run.py's order: requirements, `skip`, pcap, rules; then the checks' own requirements.
pub fn prepare(case: &Case, env: &Env, engine: &str) -> Result<Plan, (Status, String)> {
    let name = case.name.as_str();
    let fail = |r: String| (Status::Fail, r);
    let skip = |r: String| (Status::Skip, r);
    let cfg =
        load_yaml(&case.dir.join("test.yaml")).map_err(|e| fail(format!("test.yaml: {e}")))?;
    let cfg = match cfg {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        _ => return Err(fail("test.yaml is not a mapping".into())),
    };

    // The scored checks.
    let mut checks = Vec::new();
    let mut other_file_alert_checks = 0;
    if let Some(Value::Array(list)) = cfg.get("checks") {
        for (i, c) in list.iter().enumerate() {
            let Some(Value::Object(f)) = c.get("filter") else {
                continue;
            };
            let Some(Value::Object(m)) = f.get("match") else {
                continue;
            };
            if !m
                .get("event_type")
                .is_some_and(|v| py_eq(v, &Value::String("alert".into())))
            {
                continue;
            }
            match f.get("filename") {
                Some(Value::String(s)) if s != "eve.json" => other_file_alert_checks += 1,
                _ => checks.push(Check {
                    num: i + 1,
                    filter: f.clone(),
                }),
            }
        }
    }
    if checks.is_empty() {
        let why = if other_file_alert_checks > 0 {
            "no alert checks on eve.json"
        } else {
            "no alert checks"
        };
        return Err(skip(why.into()));
    }

    // Test-level requirements (run.py's srcdir is the Suricata source tree: there is none).
    let srcdir = env.work.join("no-suricata-source");
    let _ = std::fs::create_dir_all(&srcdir);
    let requires = cfg
        .get("requires")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    match pyeval::check_requires(&requires, &srcdir) {
        Ok(()) => {}
        Err(Unmet::Skip(r)) => return Err(skip(r)),
        Err(Unmet::Error(e)) => return Err(fail(format!("run.py error: {e}"))),
    }
    let test_version = pyeval::test_versions(&requires);

    // `skip:`
    match cfg.get("skip") {
        Some(Value::Bool(true)) => return Err(skip("skipped by default".into())),
        Some(Value::Array(list)) => {
            for s in list {
                let msg = |dflt: String| s.get("msg").map(py_str).unwrap_or(dflt);
                if let Some(uid) = s.get("uid") {
                    // SAFETY: getuid has no preconditions and cannot fail.
                    let me = unsafe { libc::getuid() } as i64;
                    if py_eq(uid, &Value::from(me)) {
                        return Err(skip(msg(format!("not for uid {me}"))));
                    }
                }
                if let Some(f) = s.get("feature") {
                    let f = py_str(f);
                    if pyeval::DEBIAN_7_0_10_FEATURES.contains(&f.as_str()) {
                        return Err(skip(msg(format!("not for feature {f}"))));
                    }
                }
                // `config:` patterns need `suricata --dump-config`: not evaluated.
            }
        }
        _ => {}
    }

    if cfg.contains_key("command") {
        return Err(skip(
            "custom `command:` (only the default invocation can be mapped)".into(),
        ));
    }

    // The pcap.
    let pcap_required = match &requires {
        Value::Object(m) => m.get("pcap").map(|v| !is_falsy(v)).unwrap_or(true),
        _ => true,
    };
    let pcap = match cfg.get("pcap") {
        Some(v) if is_falsy(v) => {
            return Err(skip("pcap: false (nothing to replay)".into()));
        }
        Some(v) => {
            let p = case.dir.join(py_str(v));
            if !p.exists() {
                return Err(fail(format!("PCAP filename does not exist: {}", py_str(v))));
            }
            p
        }
        None => {
            let mut pcaps = glob_ext(&case.dir, "pcap");
            pcaps.extend(glob_ext(&case.dir, "pcapng"));
            match pcaps.len() {
                0 if pcap_required => return Err(skip("No pcap file found".into())),
                0 => return Err(skip("no pcap (nothing to replay)".into())),
                1 => pcaps.remove(0),
                _ => return Err(fail("More than 1 pcap file found".into())),
            }
        }
    };

    // The rules: `rules:` of test.yaml (newer run.py), else run.py's *.rules logic.
    let rules = match cfg.get("rules") {
        Some(Value::String(s)) => {
            let t = s.trim_start();
            let inline = s.contains('\n')
                || [
                    "alert ",
                    "drop ",
                    "pass ",
                    "reject ",
                    "rejectsrc ",
                    "rejectdst ",
                    "rejectboth ",
                    "accept ",
                ]
                .iter()
                .any(|a| t.starts_with(a));
            if inline {
                Rules::Inline(s.clone())
            } else {
                let p = case.dir.join(s);
                if !p.exists() {
                    return Err(fail(format!("rules file does not exist: {s}")));
                }
                Rules::File(p)
            }
        }
        Some(Value::Array(lines)) => {
            Rules::Inline(lines.iter().map(py_str).collect::<Vec<_>>().join("\n"))
        }
        _ => {
            let mut files = glob_ext(&case.dir, "rules");
            let base = |p: &Path| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            };
            match files.len() {
                0 => Rules::None,
                1 => {
                    let f = files.remove(0);
                    let b = base(&f);
                    if b.ends_with("firewall.rules") {
                        Rules::Firewall {
                            firewall: f,
                            td: None,
                        }
                    } else if let Some(v) =
                        b.strip_prefix("min").and_then(|r| r.strip_suffix(".rules"))
                    {
                        // `min7.0.12.rules`: only for versions at least that
                        let ok = pyeval::parse_version(v, false).is_some_and(|req| {
                            let s = pyeval::SURICATA_VERSION;
                            (s.major, s.minor, s.patch) >= (req.major, req.minor, req.patch)
                        });
                        if ok {
                            Rules::File(f)
                        } else {
                            Rules::None
                        }
                    } else {
                        Rules::File(f)
                    }
                }
                2 => {
                    if !base(&files[0]).ends_with("firewall.rules")
                        || !base(&files[1]).ends_with("td.rules")
                    {
                        return Err(fail(
                            "multi rule file should have firewall.rules and td.rules".into(),
                        ));
                    }
                    Rules::Firewall {
                        firewall: files[0].clone(),
                        td: Some(files[1].clone()),
                    }
                }
                _ => return Err(fail("More than 1 rule file found".into())),
            }
        }
    };

    // `env:` and `args:`.
    let cfg_env: Vec<(String, String)> = match cfg.get("env") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), py_str(v))).collect(),
        _ => Vec::new(),
    };
    let outdir = out_dir(env, engine, name);
    let tenv = test_env(&case.dir, &outdir, &srcdir, &cfg_env);
    let mut args = Vec::new();
    match cfg.get("args") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for a in list {
                for tok in py_str(a).split(char::is_whitespace) {
                    if tok.is_empty() {
                        continue;
                    }
                    args.push(substitute(tok, &tenv).map_err(|e| fail(format!("args: {e}")))?);
                }
            }
        }
        Some(_) => return Err(fail("args is not a list".into())),
    }
    let basename = case.dir.file_name().unwrap_or_default().to_string_lossy();
    if basename.contains("ips") {
        args.push("--simulate-ips".into());
    }

    let expected_exit = cfg.get("exit-code").and_then(|v| v.as_i64()).unwrap_or(0);
    let suricata_yaml = Some(case.dir.join("suricata.yaml")).filter(|p| p.exists());

    // The checks' own requirements (they do not depend on the output: decided now).
    let mut applicable = Vec::new();
    let mut not_applicable = Vec::new();
    for c in checks {
        match pyeval::check_filter_requires(&c.filter, &test_version, &srcdir) {
            Ok(()) => applicable.push(c),
            Err(Unmet::Skip(r)) => not_applicable.push(format!("check #{}: {r}", c.num)),
            Err(Unmet::Error(e)) => {
                return Err(fail(format!("check #{}: run.py error: {e}", c.num)));
            }
        }
    }
    if applicable.is_empty() {
        let mut reasons: Vec<String> = not_applicable
            .iter()
            .map(|r| r.split_once(": ").map(|x| x.1).unwrap_or(r).to_string())
            .collect();
        reasons.dedup();
        return Err(skip(format!("every alert check {}", reasons.join(", "))));
    }

    Ok(Plan {
        name: name.to_string(),
        dir: case.dir.clone(),
        pcap,
        rules,
        args,
        env: cfg_env,
        checks: applicable,
        expected_exit,
        suricata_yaml,
        checks_not_applicable: not_applicable,
    })
}

/// Evaluate a plan's scored checks on the output in `outdir` (any engine's eve.json).
/// `Ok(n)`: all n passed; `Err`: the first failure, as run.py words it.
pub fn evaluate(plan: &Plan, outdir: &Path) -> Result<usize, String> {
    for c in &plan.checks {
        let f = &c.filter;
        let file = match f.get("filename") {
            Some(v) => py_str(v),
            None => "eve.json".into(),
        };
        let path = outdir.join(&file);
        if !path.exists() {
            return Err(format!("check #{}: {file} does not exist", c.num));
        }
        let Some(Value::Object(m)) = f.get("match") else {
            unreachable!("scored checks have a match dict")
        };
        let got = pyeval::count_matches(&path, m)
            .map_err(|e| format!("check #{}: run.py error: {e}", c.num))?;
        let Some(want) = f.get("count") else {
            return Err(format!("check #{}: run.py error: KeyError 'count'", c.num));
        };
        if !py_eq(&Value::from(got), want) {
            let mut what = match f.get("comment") {
                Some(cm) => py_str(cm),
                None => Value::Object(m.clone()).to_string(),
            };
            if what.chars().count() > 300 {
                what = what.chars().take(300).collect::<String>() + "…";
            }
            return Err(format!(
                "check #{}: expected {}, got {got}: {what}",
                c.num,
                py_str(want)
            ));
        }
    }
    Ok(plan.checks.len())
}

// ---------------------------------------------------------------------------------------------
// Mapping Suricata settings to ravn

/// The keys `ravn config` prints: leaves (with their default values) and tables.
pub struct RavnKeys {
    leaves: BTreeMap<String, toml::Value>,
    tables: BTreeSet<String>,
}

impl RavnKeys {
    /// Ask the binary (`ravn config -c EMPTY`) which keys it has today.
    pub fn load(ravn: &Path, empty_cfg: &Path) -> RavnKeys {
        let out = Command::new(ravn)
            .arg("config")
            .arg("-c")
            .arg(empty_cfg)
            .output()
            .expect("run `ravn config`");
        assert!(
            out.status.success(),
            "ravn config failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table: toml::Table = String::from_utf8_lossy(&out.stdout)
            .parse()
            .expect("`ravn config` prints TOML");
        let mut keys = RavnKeys {
            leaves: BTreeMap::new(),
            tables: BTreeSet::new(),
        };
        fn flatten(prefix: &str, t: &toml::Table, k: &mut RavnKeys) {
            for (name, v) in t {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match v {
                    toml::Value::Table(sub) => {
                        k.tables.insert(key.clone());
                        flatten(&key, sub, k);
                    }
                    other => {
                        k.leaves.insert(key, other.clone());
                    }
                }
            }
        }
        flatten("", &table, &mut keys);
        keys
    }

    /// A key ravn has: a leaf, or an entry of a free-form `vars.*` table.
    fn has(&self, key: &str) -> bool {
        if self.leaves.contains_key(key) {
            return true;
        }
        key.starts_with("vars.")
            && key
                .rsplit_once('.')
                .is_some_and(|(parent, _)| self.tables.contains(parent))
    }

    /// The value to `--set`: Suricata's yes/no/on/off/1/0 as a TOML bool where ravn's key is one.
    fn value_for(&self, key: &str, val: &str) -> String {
        if matches!(self.leaves.get(key), Some(toml::Value::Boolean(_))) {
            match val.to_ascii_lowercase().as_str() {
                "1" | "yes" | "true" | "on" => return "true".into(),
                "0" | "no" | "false" | "off" => return "false".into(),
                _ => {}
            }
        }
        val.to_string()
    }
}

/// Suricata settings that change only logging, outputs, performance or live-capture setup:
/// they cannot change which alerts a pcap raises, so a note for them would be noise.
const IGNORED_PREFIXES: &[&str] = &[
    "outputs",
    "logging",
    "stats",
    "default-log-dir",
    "classification-file",
    "reference-config-file",
    "default-rule-path",
    "rule-files",
    "unix-command",
    "runmode",
    "autofp-scheduler",
    "max-pending-packets",
    "threading",
    "profiling",
    "pid-file",
    "coredump",
    "run-as",
    "daemon-directory",
    "engine-analysis",
    "sensor-name",
    "mpm-algo",
    "spm-algo",
    "detect.profile",
    "detect.custom-values",
    "detect.sgh-mpm-context",
    "detect.prefilter",
    "detect.grouping",
    "detect.profiling",
    "af-packet",
    "af-xdp",
    "dpdk",
    "pcap",
    "pfring",
    "ipfw",
    "napatech",
    "netmap",
    "nfq",
    "nflog",
    "capture",
    "plugins",
    "security",
    "legacy",
    "cuda",
    "mpipe",
    "host-mode",
    "pcre.match-limit",
    "lua",
];

fn key_ignored(key: &str, val: &str) -> bool {
    if key.contains("checksum") {
        // a live source's checksum checks: a test reads a capture
        let v = val.to_ascii_lowercase();
        return matches!(v.as_str(), "no" | "none" | "false" | "off" | "0" | "auto");
    }
    IGNORED_PREFIXES
        .iter()
        .any(|p| key == *p || key.starts_with(&format!("{p}.")))
}

/// One Suricata setting as ravn sees it.
enum Mapped {
    Set(String),
    Ignore,
    Note(Note),
}

fn map_setting(keys: &RavnKeys, key: &str, val: &str, origin: &str) -> Mapped {
    if key == "pcap-file.checksum-checks" {
        // ravn's one switch for every source and for replay
        let v = match val.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => "yes",
            "no" | "false" | "off" => "no",
            _ => "auto",
        };
        return Mapped::Set(format!("capture.checksum-checks={v}"));
    }
    if keys.has(key) {
        Mapped::Set(format!("{key}={}", keys.value_for(key, val)))
    } else if key_ignored(key, val) {
        Mapped::Ignore
    } else {
        Mapped::Note(Note {
            key: format!("{origin}{key}"),
            text: format!("{origin}{key}={val}"),
        })
    }
}

/// A Suricata YAML file with its `include:`s merged (included first, then the file's keys).
fn suricata_yaml_merged(path: &Path, depth: usize) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let y: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let Value::Object(mut m) = pyeval::yaml_to_json(&y) else {
        return Ok(Map::new());
    };
    let mut merged = Map::new();
    if let Some(inc) = m.remove("include") {
        let list = match inc {
            Value::Array(a) => a,
            other => vec![other],
        };
        for i in list {
            let p = path.parent().unwrap_or(Path::new(".")).join(py_str(&i));
            if depth < 8 && p.exists() {
                merged.extend(suricata_yaml_merged(&p, depth + 1)?);
            }
        }
    }
    merged.extend(m);
    Ok(merged)
}

fn flatten_yaml(prefix: &str, m: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in m {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(sub) if !sub.is_empty() => flatten_yaml(&key, sub, out),
            other => out.push((key, other.clone())),
        }
    }
}

/// A setting's value for comparison: Suricata's yes/no/on/off/true/false as `true`/`false`.
fn normalised(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" => "true".into(),
            "no" | "off" | "false" => "false".into(),
            _ => s.clone(),
        },
        other => scalar_text(other),
    }
}

/// Suricata's default settings: `suricata.yaml` (with includes) flattened to dotted keys.
pub fn default_settings(yaml: &Path) -> BTreeMap<String, String> {
    let Ok(m) = suricata_yaml_merged(yaml, 0) else {
        return BTreeMap::new();
    };
    let mut flat = Vec::new();
    flatten_yaml("", &m, &mut flat);
    flat.into_iter().map(|(k, v)| (k, normalised(&v))).collect()
}

/// EVE alert options a test's suricata.yaml turns on (`outputs: - eve-log: types: - alert:
/// {...}`, plus `community-id`): they add or remove fields that checks can match on.
fn eve_alert_options(m: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(Value::Array(outputs)) = m.get("outputs") else {
        return out;
    };
    for o in outputs {
        let Some(Value::Object(eve)) = o.get("eve-log") else {
            continue;
        };
        if eve
            .get("community-id")
            .is_some_and(|v| normalised(v) == "true")
        {
            out.push(("community-id".into(), "yes".into()));
        }
        let Some(Value::Array(types)) = eve.get("types") else {
            continue;
        };
        for t in types {
            if let Some(Value::Object(opts)) = t.get("alert") {
                let mut flat = Vec::new();
                flatten_yaml("", opts, &mut flat);
                out.extend(flat.into_iter().map(|(k, v)| (k, scalar_text(&v))));
            }
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => v.to_string(),
        other => py_str(other),
    }
}

/// ravn's command line for a plan, and what of the test's settings it cannot honour.
pub fn ravn_args(
    plan: &Plan,
    keys: &RavnKeys,
    env: &Env,
    outdir: &Path,
) -> Result<(Vec<OsString>, Vec<Note>), String> {
    let mut a: Vec<OsString> = vec!["replay".into(), "-r".into(), plan.pcap.clone().into()];
    a.extend(["-l".into(), outdir.as_os_str().to_owned()]);
    a.extend(["-c".into(), env.work.join("ravn-empty.toml").into()]);
    let mut sets = vec![
        format!(
            "rules.classification-file={}",
            env.classification().display()
        ),
        format!(
            "rules.reference-config-file={}",
            env.reference_config().display()
        ),
    ];
    let mut notes: Vec<Note> = Vec::new();
    let mut note = |key: &str, text: String| {
        let n = Note {
            key: key.to_string(),
            text,
        };
        if !notes.contains(&n) {
            notes.push(n);
        }
    };
    match &plan.rules {
        Rules::None => {
            a.extend(["-S".into(), env.work.join("empty.rules").into()]);
        }
        Rules::File(f) => a.extend(["-S".into(), f.clone().into()]),
        Rules::Inline(text) => {
            let f = outdir.join("inline.rules");
            std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))?;
            a.extend(["-S".into(), f.into()]);
        }
        Rules::Firewall { firewall, td } => {
            note(
                "firewall mode",
                "firewall mode (--firewall-rules-exclusive)".into(),
            );
            a.extend(["-S".into(), firewall.clone().into()]);
            if let Some(td) = td {
                a.extend(["-S".into(), td.clone().into()]);
            }
        }
    }

    // The test's suricata.yaml: variables, and any other detection setting.
    if let Some(y) = &plan.suricata_yaml {
        let m = suricata_yaml_merged(y, 0)?;
        // EVE alert options: those ravn has (`outputs.eve.alert.*` in `ravn config`) are set,
        // the others noted (they add or remove fields checks may match on)
        let opts = eve_alert_options(&m);
        let mut names: Vec<&str> = Vec::new();
        for (k, v) in &opts {
            let key = format!("outputs.eve.alert.{k}");
            if keys.has(&key) {
                sets.push(format!("{key}={}", keys.value_for(&key, v)));
                continue;
            }
            let top = k.split('.').next().unwrap_or(k);
            if !names.contains(&top) {
                names.push(top);
            }
        }
        if !names.is_empty() {
            note(
                "eve alert output options",
                format!("eve alert options {}", names.join(",")),
            );
        }
        let mut flat = Vec::new();
        flatten_yaml("", &m, &mut flat);
        for (k, v) in flat {
            if k.starts_with("vars.address-groups.") || k.starts_with("vars.port-groups.") {
                sets.push(format!("{k}={}", scalar_text(&v)));
                continue;
            }
            if env.defaults.get(&k) == Some(&normalised(&v)) && !keys.has(&k) {
                continue; // Suricata's default: nothing to honour
            }
            if matches!(v, Value::Array(_)) && !keys.has(&k) && !key_ignored(&k, "") {
                note(&format!("suricata.yaml {k}"), format!("suricata.yaml {k}"));
                continue;
            }
            match map_setting(keys, &k, &scalar_text(&v), "suricata.yaml ") {
                Mapped::Set(s) => sets.push(s),
                Mapped::Ignore => {}
                Mapped::Note(n) => note(&n.key, n.text),
            }
        }
    }

    // The test's command-line arguments.
    let mut it = plan.args.iter().peekable();
    while let Some(tok) = it.next() {
        match tok.as_str() {
            "-k" => {
                let v = it.next().cloned().unwrap_or_default();
                a.extend(["-k".into(), v.into()]);
            }
            "--set" => {
                let kv = it.next().cloned().unwrap_or_default();
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                match map_setting(keys, k.trim(), v.trim(), "") {
                    Mapped::Set(s) => sets.push(s),
                    Mapped::Ignore => {}
                    Mapped::Note(n) => note(&n.key, format!("--set {}", n.text)),
                }
            }
            "--runmode" => {
                it.next();
            }
            "--init-errors-fatal" => {}
            t if t.starts_with("--runmode=") => {}
            t if t.len() > 1 && t.starts_with('-') && t[1..].chars().all(|c| c == 'v') => {}
            "--simulate-ips" => {
                if !a.iter().any(|x| x == "--simulate-ips") {
                    a.push("--simulate-ips".into());
                }
            }
            t => {
                let key = t.split('=').next().unwrap_or(t);
                note(key, t.to_string());
            }
        }
    }
    for s in sets {
        a.extend(["--set".into(), s.into()]);
    }
    let dir = plan.dir.display().to_string();
    for n in &mut notes {
        n.text = n.text.replace(&dir, "${TEST_DIR}");
        if n.text.chars().count() > 80 {
            n.text = n.text.chars().take(80).collect::<String>() + "…";
        }
    }
    Ok((a, notes))
}

/// Suricata's command line for a plan, as run.py's `default_args` builds it.
pub fn suricata_args(plan: &Plan, env: &Env, outdir: &Path) -> Result<Vec<OsString>, String> {
    let mut a: Vec<OsString> = plan.args.iter().map(OsString::from).collect();
    a.extend([
        "--set".into(),
        format!("classification-file={}", env.classification().display()).into(),
        "--set".into(),
        format!("reference-config-file={}", env.reference_config().display()).into(),
        "--init-errors-fatal".into(),
        "-l".into(),
        outdir.as_os_str().to_owned(),
    ]);
    match &plan.suricata_yaml {
        Some(y) => a.extend(["-c".into(), y.clone().into()]),
        None => {
            // The build directory's suricata.yaml: Debian's, trimmed to alert outputs, with
            // upstream's default HOME_NET (what ravn's defaults are too).
            let y = env
                .reference
                .as_ref()
                .map(|r| r.join("suricata-alertonly.yaml"))
                .filter(|p| p.exists())
                .ok_or("no suricata-alertonly.yaml in ../shared/reference")?;
            a.extend([
                "-c".into(),
                y.into(),
                "--set".into(),
                "vars.address-groups.HOME_NET=[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]".into(),
            ]);
        }
    }
    a.extend(["-r".into(), plan.pcap.clone().into()]);
    match &plan.rules {
        Rules::None => a.push("--disable-detection".into()),
        Rules::File(f) => a.extend(["-S".into(), f.clone().into()]),
        Rules::Inline(text) => {
            let f = outdir.join("inline.rules");
            std::fs::write(&f, text).map_err(|e| format!("{}: {e}", f.display()))?;
            a.extend(["-S".into(), f.into()]);
        }
        Rules::Firewall { firewall, td } => {
            a.extend(["--firewall-rules-exclusive".into(), firewall.clone().into()]);
            if let Some(td) = td {
                a.extend(["-S".into(), td.clone().into()]);
            }
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// Running

/// The engine under test.
pub enum Engine {
    Ravn { bin: PathBuf, keys: RavnKeys },
    Suricata { bin: PathBuf },
}

impl Engine {
    pub fn label(&self) -> &'static str {
        match self {
            Engine::Ravn { .. } => "ravn",
            Engine::Suricata { .. } => "suricata",
        }
    }
}

struct Exit {
    code: Option<i32>,
    timed_out: bool,
    secs: f64,
}

fn run_process(
    bin: &Path,
    args: &[OsString],
    cwd: &Path,
    envs: &BTreeMap<String, String>,
    outdir: &Path,
    timeout: Duration,
) -> Result<Exit, String> {
    let stdout = std::fs::File::create(outdir.join("stdout")).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(outdir.join("stderr")).map_err(|e| e.to_string())?;
    let mut cmdline = bin.display().to_string();
    for x in args {
        cmdline.push(' ');
        cmdline.push_str(&x.to_string_lossy());
    }
    let _ = std::fs::write(outdir.join("cmdline"), cmdline + "\n");
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(envs)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                return Ok(Exit {
                    code: st.code(),
                    timed_out: false,
                    secs: t0.elapsed().as_secs_f64(),
                })
            }
            Ok(None) if t0.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Exit {
                    code: None,
                    timed_out: true,
                    secs: t0.elapsed().as_secs_f64(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The short form of a rule-skip reason, for grouping: the keyword when it names one.
fn skip_key(reason: &str) -> String {
    for marker in ["unsupported keyword '", "unknown keyword '"] {
        if let Some(rest) = reason.split_once(marker).map(|x| x.1) {
            if let Some(kw) = rest.split('\'').next() {
                let kind = if marker.starts_with("unknown") {
                    "unknown keyword "
                } else {
                    ""
                };
                return format!("{kind}{}", kw.chars().take(30).collect::<String>());
            }
        }
    }
    let r = reason.split(':').next().unwrap_or(reason).trim();
    r.chars().take(50).collect()
}

/// The rules an engine skipped, from ravn's `file:line: rule skipped: reason` lines.
fn skipped_rules(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(": rule skipped: ").map(|x| skip_key(x.1)))
        .collect()
}

/// `(rules_loaded, rules_failed)` from the last stats event of eve.json.
fn engine_rule_counts(eve: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(eve).ok()?;
    let mut found = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["event_type"] == "stats" {
            let e = &v["stats"]["detect"]["engines"][0];
            if let (Some(l), Some(f)) = (e["rules_loaded"].as_u64(), e["rules_failed"].as_u64()) {
                found = Some((l, f));
            }
        }
    }
    found
}

fn summarize_skips(skipped: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *counts.entry(s).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| {
            if *n > 1 {
                format!("{k} ×{n}")
            } else {
                k.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn last_error_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| l.contains("error") || l.starts_with("E: ") || l.contains("Error"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// Run one test on an engine and score it.
pub fn run_case(case: &Case, engine: &Engine, env: &Env) -> Outcome {
    let plan = match prepare(case, env, engine.label()) {
        Ok(p) => p,
        Err((status, reason)) => return Outcome::new(&case.name, status, reason),
    };
    run_plan(&plan, engine, env)
}

pub fn run_plan(plan: &Plan, engine: &Engine, env: &Env) -> Outcome {
    let name = plan.name.as_str();
    let outdir = out_dir(env, engine.label(), name);
    let _ = std::fs::remove_dir_all(&outdir);
    if let Err(e) = std::fs::create_dir_all(&outdir) {
        return Outcome::new(name, Status::Fail, format!("{}: {e}", outdir.display()));
    }
    let srcdir = env.work.join("no-suricata-source");
    let mut envs = test_env(&plan.dir, &outdir, &srcdir, &plan.env);
    let (bin, args, notes) = match engine {
        Engine::Ravn { bin, keys } => match ravn_args(plan, keys, env, &outdir) {
            Ok((a, n)) => {
                envs.insert("RUST_LOG".into(), "warn".into());
                (bin, a, n)
            }
            Err(e) => return Outcome::new(name, Status::Fail, e),
        },
        Engine::Suricata { bin } => match suricata_args(plan, env, &outdir) {
            Ok(a) => (bin, a, Vec::new()),
            Err(e) => return Outcome::new(name, Status::Skip, e),
        },
    };
    let exit = match run_process(bin, &args, &plan.dir, &envs, &outdir, env.timeout) {
        Ok(x) => x,
        Err(e) => return Outcome::new(name, Status::Fail, e),
    };
    let stderr = std::fs::read_to_string(outdir.join("stderr")).unwrap_or_default();
    let stdout = std::fs::read_to_string(outdir.join("stdout")).unwrap_or_default();
    let skipped = skipped_rules(&stderr);
    let mut o = Outcome::new(name, Status::Pass, "");
    o.skipped_rules = skipped.clone();
    o.notes = notes;
    const SHOWN_NOTES: usize = 5;
    let mut notes_text = o
        .notes
        .iter()
        .take(SHOWN_NOTES)
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if o.notes.len() > SHOWN_NOTES {
        notes_text += &format!(" and {} more", o.notes.len() - SHOWN_NOTES);
    }

    let engine_failed = if exit.timed_out {
        Some(format!("timed out after {:.0} s", exit.secs))
    } else if exit.code.map(i64::from) != Some(plan.expected_exit) {
        let both = format!("{stderr}\n{stdout}");
        Some(format!(
            "got exit code {}, expected {}: {}",
            exit.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none (signal)".into()),
            plan.expected_exit,
            last_error_line(&both)
        ))
    } else {
        None
    };
    if let Some(r) = engine_failed {
        o.status = Status::Fail;
        o.why = Some(format!("{} error: {r}", engine.label()));
        o.reason = r;
        return o;
    }

    match evaluate(plan, &outdir) {
        Ok(n) => {
            o.status = Status::Pass;
            o.reason = format!("{n} alert check{}", if n == 1 { "" } else { "s" });
            if !plan.checks_not_applicable.is_empty() {
                o.reason += &format!(" ({} not applicable)", plan.checks_not_applicable.len());
            }
            if !notes_text.is_empty() {
                o.reason += &format!("; not honoured: {notes_text}");
            }
        }
        Err(e) => {
            o.status = Status::Fail;
            o.reason = e;
            let mut why = match engine {
                Engine::Ravn { .. } => {
                    let counts = engine_rule_counts(&outdir.join("eve.json"));
                    let total = counts.map(|(l, f)| l + f);
                    if !skipped.is_empty() {
                        let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                        format!(
                            "{}{of} rules skipped: {}",
                            skipped.len(),
                            summarize_skips(&skipped)
                        )
                    } else if total == Some(0) {
                        "no rules loaded, alerts differ".into()
                    } else {
                        "rules loaded but alerts differ".into()
                    }
                }
                Engine::Suricata { .. } => {
                    let errs: Vec<&str> = stderr
                        .lines()
                        .chain(stdout.lines())
                        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
                        .take(2)
                        .collect();
                    if errs.is_empty() {
                        "Suricata's output differs".into()
                    } else {
                        errs.join(" | ")
                    }
                }
            };
            if !notes_text.is_empty() {
                why += &format!("; not honoured: {notes_text}");
            }
            o.why = Some(why);
        }
    }
    o
}

/// Run every case on `jobs` threads; outcomes in the cases' order.
pub fn run_all(cases: &[Case], engine: &Engine, env: &Env) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..env.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= cases.len() {
                    break;
                }
                let o = run_case(&cases[i], engine, env);
                results.lock().unwrap()[i] = Some(o);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every case ran"))
        .collect()
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn totals(outcomes: &[Outcome]) -> Totals {
    let mut t = Totals::default();
    for o in outcomes {
        match o.status {
            Status::Pass => t.passed += 1,
            Status::Fail => t.failed += 1,
            Status::Skip => t.skipped += 1,
        }
    }
    t
}

/// The report: one line per test, the totals, then why the failures fail.
pub fn report(outcomes: &[Outcome], engine: &str, suite: &Path, secs: f64) -> String {
    let mut r = String::new();
    r += &format!(
        "suricata-verify conformance: {engine} on {} ({} tests; requirements evaluated as Suricata {}.{}.{})\n\n",
        suite.display(),
        outcomes.len(),
        pyeval::SURICATA_VERSION.major.unwrap_or(0),
        pyeval::SURICATA_VERSION.minor.unwrap_or(0),
        pyeval::SURICATA_VERSION.patch.unwrap_or(0),
    );
    for o in outcomes {
        r += &format!("{} {} — {}\n", o.status.word(), o.name, o.reason);
        if let Some(w) = &o.why {
            r += &format!("       why: {w}\n");
        }
    }
    let t = totals(outcomes);
    r += &format!(
        "\npassed {}, failed {}, skipped {} (of {}) in {secs:.1} s\n",
        t.passed,
        t.failed,
        t.skipped,
        outcomes.len()
    );

    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status == Status::Fail)
        .collect();
    if !failed.is_empty() {
        let mut classes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for o in &failed {
            let class = if o.why.as_deref().is_some_and(|w| w.contains(" error: ")) {
                "engine error or timeout"
            } else if !o.skipped_rules.is_empty() {
                "rules skipped by the engine"
            } else if !o.notes.is_empty() {
                "rules loaded, alerts differ, options not honoured"
            } else if o.why.is_none() {
                "run.py-level failure"
            } else {
                "rules loaded, alerts differ"
            };
            classes.entry(class).or_default().push(&o.name);
        }
        r += "\nWhy the failed tests fail:\n";
        let mut cv: Vec<(&str, Vec<&str>)> = classes.into_iter().collect();
        cv.sort_by_key(|c| std::cmp::Reverse(c.1.len()));
        for (class, names) in cv {
            r += &format!("  {:3}  {class}: {}\n", names.len(), names.join(", "));
        }
    }

    // Rule-skip reasons over every test that ran.
    let mut reasons: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let mut seen = BTreeSet::new();
        for s in &o.skipped_rules {
            let e = reasons.entry(s).or_default();
            e.1 += 1;
            if seen.insert(s) {
                e.0 += 1;
            }
        }
    }
    if !reasons.is_empty() {
        let mut v: Vec<(&str, (usize, usize))> = reasons.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        r += "\nMost common rule-skip reasons (tests affected, rules skipped):\n";
        for (k, (tests, rules)) in v {
            r += &format!("  {tests:3} tests {rules:4} rules  {k}\n");
        }
    }
    let mut notes: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        for n in &o.notes {
            *notes.entry(&n.key).or_default() += 1;
        }
    }
    if !notes.is_empty() {
        let mut v: Vec<(&str, usize)> = notes.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        r += "\nSettings the engine could not honour (tests affected, among tests that ran):\n";
        for (k, n) in v {
            r += &format!("  {n:3}  {k}\n");
        }
    }
    r
}
