//! ravn.toml: every key has a default, so ravn runs without a config file.
//!
//! Keys are kebab-case and nested like Suricata's YAML (`vars.address-groups.HOME_NET`,
//! `outputs.fast.enabled`). `--set key=value` overrides any key after the file is read, as
//! Suricata's `--set` does. A bad value or unknown key is an error that names the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decode::UdpTunnel;
use crate::detect::ActionOrder;
use crate::exception_policy::{self, Policy, PolicyValue};
use crate::flow::Timeouts;
use crate::output::OutputConfig;
use crate::rules::Vars;

/// Where ravn looks for its config when `-c` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ravn/ravn.toml";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// Suricata's `threshold-file`: suppress / threshold / event_filter entries
    /// (empty: none).
    pub threshold_file: PathBuf,
    pub vars: VarsConfig,
    pub rules: RulesConfig,
    pub outputs: OutputConfig,
    pub decoder: DecoderConfig,
    pub flow: FlowConfig,
    pub stream: StreamConfig,
    /// IP defragmentation (Suricata's `defrag.*`).
    pub defrag: DefragSection,
    /// Suricata's `action-order`: which actions' rules are inspected first (and so which
    /// one wins, e.g. whether a `pass` stops a `drop`).
    pub action_order: Vec<String>,
    /// Suricata's `packet-alert-max`: alerts kept per packet, highest priority first.
    pub packet_alert_max: usize,
    /// Suricata's `exception-policy` master switch.
    pub exception_policy: PolicyValue,
    /// IPS mode, as Suricata's `--simulate-ips`: drop rules block (`[Drop]`, "blocked")
    /// and exception policies may drop. Set on the command line, not in the file.
    #[serde(skip)]
    pub simulate_ips: bool,
    /// The live log ring on tmpfs (`[logs]`).
    pub logs: crate::logring::LogsConfig,
    /// The persistent archive on the SD card (`[archive]`).
    pub archive: crate::archive::ArchiveConfig,
    /// Live capture for `ravn run` (issue 4).
    pub capture: CaptureConfig,
    pub pipeline: PipelineConfig,
    pub threading: ThreadingConfig,
    pub daemon: DaemonConfig,
    /// The heartbeat monitor (`[heartbeat]`).
    pub heartbeat: crate::heartbeat::HeartbeatConfig,
    /// The status LEDs (`[leds]`).
    pub leds: crate::leds::LedsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold_file: PathBuf::new(),
            vars: VarsConfig::default(),
            rules: RulesConfig::default(),
            outputs: OutputConfig::default(),
            decoder: DecoderConfig::default(),
            flow: FlowConfig::default(),
            stream: StreamConfig::default(),
            defrag: DefragSection::default(),
            action_order: ["pass", "drop", "reject", "alert"]
                .map(String::from)
                .to_vec(),
            packet_alert_max: 15,
            exception_policy: PolicyValue::Auto,
            simulate_ips: false,
            logs: Default::default(),
            archive: Default::default(),
            capture: Default::default(),
            pipeline: Default::default(),
            threading: Default::default(),
            daemon: Default::default(),
            heartbeat: Default::default(),
            leds: Default::default(),
        }
    }
}

/// TCP stream settings (Suricata's `stream.*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct StreamConfig {
    /// Pick up TCP sessions whose handshake was not seen (Suricata's `stream.midstream`).
    pub midstream: bool,
    /// What to do with such a session (Suricata's `stream.midstream-policy`); `inherit`
    /// (the default) takes the `exception-policy` master switch.
    pub midstream_policy: PolicyValue,
    /// Follow TCP sessions of which only one side is seen (Suricata's
    /// `stream.async-oneside`): data counts as acknowledged once received, and a SYN/ACK
    /// without its SYN starts a session even without `midstream`.
    pub async_oneside: bool,
    /// Suricata's `stream.memcap` (sessions; ravn keeps sessions inside the flow table, so
    /// this is checked but `flow.max-flows` is what bounds them).
    pub memcap: Size,
    /// `stream.reassembly.*`
    pub reassembly: ReassemblyConfig,
    /// Leave TCP segments with a wrong checksum out of the session state and the stream, as
    /// the receiving host drops them (Suricata's `stream.checksum-validation`). Which
    /// packets are checked at all: `capture.checksum-checks`.
    pub checksum_validation: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            midstream: false,
            midstream_policy: PolicyValue::Inherit,
            async_oneside: false,
            memcap: Size::Text("64mb".into()),
            reassembly: ReassemblyConfig::default(),
            checksum_validation: true,
        }
    }
}

/// IP defragmentation settings (Suricata's `defrag.*`, with the defaults of its
/// suricata.yaml). All of it is preallocated when the decoder is built.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DefragSection {
    /// Fragment data held at once.
    pub memcap: Size,
    /// Fragmented packets tracked at once (0: the default); a full table evicts.
    pub trackers: u32,
    /// Fragments held at once (0: the default).
    pub max_frags: u32,
    /// Seconds an incomplete packet's fragments are kept after the last one (1 to 86400).
    pub timeout: u32,
}

impl Default for DefragSection {
    fn default() -> Self {
        let d = crate::defrag::DefragConfig::default();
        DefragSection {
            memcap: Size::Text("32mb".into()),
            trackers: d.trackers,
            max_frags: d.max_frags,
            timeout: d.timeout,
        }
    }
}

/// TCP reassembly settings (Suricata's `stream.reassembly.*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ReassemblyConfig {
    /// Memory for reassembled data, preallocated (`stream.reassembly.memcap`).
    pub memcap: Size,
    /// Bytes reassembled per direction of a session; 0: unlimited.
    pub depth: Size,
    /// Acknowledged bytes that make the to-server stream inspectable.
    pub toserver_chunk_size: Size,
    pub toclient_chunk_size: Size,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            memcap: Size::Text("256mb".into()),
            depth: Size::Text("1mb".into()),
            toserver_chunk_size: Size::Number(2560),
            toclient_chunk_size: Size::Number(2560),
        }
    }
}

/// A size as Suricata's config takes it: bytes, or a number with `kb`, `mb` or `gb`
/// (powers of 1024, any case).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Size {
    Number(u64),
    Text(String),
}

impl Size {
    pub fn bytes(&self) -> Result<u64, String> {
        let t = match self {
            Size::Number(n) => return Ok(*n),
            Size::Text(t) => t.trim().to_ascii_lowercase(),
        };
        let (num, mult) = [
            ("gb", 1u64 << 30),
            ("mb", 1 << 20),
            ("kb", 1 << 10),
            ("b", 1),
        ]
        .iter()
        .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim().to_string(), *m)))
        .unwrap_or((t.clone(), 1));
        let v: f64 = num
            .parse()
            .map_err(|_| format!("`{t}` is not a size (e.g. 2560, 64kb, 1mb, 1gb)"))?;
        if v.is_nan() || v < 0.0 || v * mult as f64 > u64::MAX as f64 {
            return Err(format!("`{t}` is not a size (e.g. 2560, 64kb, 1mb, 1gb)"));
        }
        Ok((v * mult as f64) as u64)
    }
}

/// Address and port variables. Names not given keep Suricata's defaults.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct VarsConfig {
    pub address_groups: BTreeMap<String, VarValue>,
    pub port_groups: BTreeMap<String, VarValue>,
}

/// A variable's value: text, or a bare number as Suricata's YAML allows (`SSH_PORTS: 22`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum VarValue {
    Text(String),
    Number(i64),
}

impl VarValue {
    pub fn text(&self) -> String {
        match self {
            VarValue::Text(s) => s.clone(),
            VarValue::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RulesConfig {
    /// Directory that relative `rule-files` are taken from.
    pub default_rule_path: PathBuf,
    pub rule_files: Vec<PathBuf>,
    /// `classification.config`; when the file is absent, ravn's built-in copy is used.
    pub classification_file: PathBuf,
    pub reference_config_file: PathBuf,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            default_rule_path: PathBuf::from("/etc/ravn/rules"),
            rule_files: vec![PathBuf::from("heartbeat.rules")],
            classification_file: PathBuf::from("/etc/ravn/rules/classification.config"),
            reference_config_file: PathBuf::from("/etc/ravn/rules/reference.config"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DecoderConfig {
    /// Decapsulate TZSP (MikroTik packet streaming) found on `tzsp-port`.
    pub tzsp: bool,
    pub tzsp_port: u16,
    /// Suricata's `decoder.teredo`: IPv6 in UDP found by heuristics, on `ports` (a port
    /// group; `any` for every port).
    pub teredo: UdpTunnelConfig,
    /// Suricata's `decoder.vxlan`.
    pub vxlan: UdpTunnelConfig,
    /// Suricata's `decoder.geneve`.
    pub geneve: UdpTunnelConfig,
}

impl Default for DecoderConfig {
    /// TZSP on 37008; the UDP tunnels as Suricata's suricata.yaml sets them.
    fn default() -> Self {
        DecoderConfig {
            tzsp: true,
            tzsp_port: 37008,
            teredo: UdpTunnelConfig::default_for(UdpTunnelKind::Teredo),
            vxlan: UdpTunnelConfig::default_for(UdpTunnelKind::Vxlan),
            geneve: UdpTunnelConfig::default_for(UdpTunnelKind::Geneve),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UdpTunnelKind {
    Teredo,
    Vxlan,
    Geneve,
}

impl UdpTunnelKind {
    const ALL: [UdpTunnelKind; 3] = [
        UdpTunnelKind::Teredo,
        UdpTunnelKind::Vxlan,
        UdpTunnelKind::Geneve,
    ];

    fn key(self) -> &'static str {
        match self {
            UdpTunnelKind::Teredo => "teredo",
            UdpTunnelKind::Vxlan => "vxlan",
            UdpTunnelKind::Geneve => "geneve",
        }
    }

    /// The port variable Suricata's suricata.yaml uses.
    fn default_ports(self) -> &'static str {
        match self {
            UdpTunnelKind::Teredo => "$TEREDO_PORTS",
            UdpTunnelKind::Vxlan => "$VXLAN_PORTS",
            UdpTunnelKind::Geneve => "$GENEVE_PORTS",
        }
    }
}

/// One UDP tunnel decoder's settings (`decoder.vxlan`, `decoder.geneve`, `decoder.teredo`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UdpTunnelConfig {
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Ports in Suricata's syntax (`4789`, `[4789, 8472]`, `$VXLAN_PORTS`); at most four
    /// are used. Absent: the port variable of Suricata's suricata.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortsValue>,
}

fn enabled_default() -> bool {
    true
}

impl UdpTunnelConfig {
    fn default_for(kind: UdpTunnelKind) -> UdpTunnelConfig {
        UdpTunnelConfig {
            enabled: true,
            ports: Some(PortsValue::Text(kind.default_ports().into())),
        }
    }
}

/// A port setting: text in Suricata's port syntax, a bare number, or a list (as `--set` and
/// TOML give them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PortsValue {
    Text(String),
    Number(i64),
    List(Vec<PortsValue>),
}

impl PortsValue {
    /// In Suricata's syntax.
    pub fn text(&self) -> String {
        match self {
            PortsValue::Text(s) => s.clone(),
            PortsValue::Number(n) => n.to_string(),
            PortsValue::List(v) => {
                let items: Vec<String> = v.iter().map(PortsValue::text).collect();
                format!("[{}]", items.join(","))
            }
        }
    }
}

impl DecoderConfig {
    fn udp_tunnel(&self, kind: UdpTunnelKind) -> &UdpTunnelConfig {
        match kind {
            UdpTunnelKind::Teredo => &self.teredo,
            UdpTunnelKind::Vxlan => &self.vxlan,
            UdpTunnelKind::Geneve => &self.geneve,
        }
    }

    fn udp_tunnel_mut(&mut self, kind: UdpTunnelKind) -> &mut UdpTunnelConfig {
        match kind {
            UdpTunnelKind::Teredo => &mut self.teredo,
            UdpTunnelKind::Vxlan => &mut self.vxlan,
            UdpTunnelKind::Geneve => &mut self.geneve,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FlowConfig {
    /// Flow slots, preallocated; when full the oldest flow is evicted.
    pub max_flows: usize,
    pub timeouts: Timeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            timeouts: Timeouts::default(),
        }
    }
}

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parse a `--set` value: a TOML value when it is one (`true`, `42`, `["a"]`), else text.
fn parse_set_value(v: &str) -> toml::Value {
    let doc = format!("v = {v}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(v.into())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

fn apply_set(root: &mut toml::Table, key: &str, value: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError(format!("--set {key}: empty key segment")));
    }
    let mut table = root;
    for seg in &parts[..parts.len() - 1] {
        let entry = table
            .entry(seg.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(ConfigError(format!("--set {key}: `{seg}` is not a table"))),
        };
    }
    let leaf = parts[parts.len() - 1];
    // keep strings for variables, whatever they look like
    let v = if parts.first() == Some(&"vars") {
        toml::Value::String(value.to_string())
    } else {
        parse_set_value(value)
    };
    table.insert(leaf.to_string(), v);
    Ok(())
}

impl Config {
    /// Load from an optional file plus `--set` overrides (`key=value`).
    /// Without a file, `/etc/ravn/ravn.toml` is read if it exists, else the defaults apply.
    pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Config, ConfigError> {
        Self::load_mode(path, sets, false)
    }

    /// As `load`, for IDS or (`simulate_ips`) IPS mode: some settings are valid in one only.
    pub fn load_mode(
        path: Option<&Path>,
        sets: &[String],
        simulate_ips: bool,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?,
                p.display().to_string(),
            ),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => (
                std::fs::read_to_string(DEFAULT_CONFIG_PATH)
                    .map_err(|e| ConfigError(format!("{DEFAULT_CONFIG_PATH}: {e}")))?,
                DEFAULT_CONFIG_PATH.to_string(),
            ),
            None => (String::new(), "built-in defaults".to_string()),
        };
        Self::from_str_mode(&text, &origin, sets, simulate_ips)
    }

    pub fn from_str_with_sets(
        text: &str,
        origin: &str,
        sets: &[String],
    ) -> Result<Config, ConfigError> {
        Self::from_str_mode(text, origin, sets, false)
    }

    pub fn from_str_mode(
        text: &str,
        origin: &str,
        sets: &[String],
        simulate_ips: bool,
    ) -> Result<Config, ConfigError> {
        let mut root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {e}")))?;
        for s in sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| ConfigError(format!("--set {s}: expected key=value")))?;
            apply_set(&mut root, k.trim(), v.trim())?;
        }
        let de = toml::Value::Table(root);
        let mut cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ConfigError(format!("{origin}: key `{path}`: {}", e.into_inner()))
        })?;
        cfg.simulate_ips = simulate_ips;
        for kind in UdpTunnelKind::ALL {
            let t = cfg.decoder.udp_tunnel_mut(kind);
            if t.ports.is_none() {
                t.ports = Some(PortsValue::Text(kind.default_ports().into()));
            }
        }
        cfg.validate(origin)?;
        Ok(cfg)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.flow.max_flows == 0 {
            return Err(ConfigError(format!(
                "{origin}: key `flow.max-flows`: must be at least 1"
            )));
        }
        self.action_order()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        if self.packet_alert_max == 0 || self.packet_alert_max > 255 {
            return Err(ConfigError(format!(
                "{origin}: key `packet-alert-max`: must be 1 to 255"
            )));
        }
        self.midstream_policy()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        self.stream_settings()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        self.defrag_config()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        let logs = self.outputs.fast.enabled as u64 + self.outputs.eve.enabled as u64;
        self.logs
            .validate(logs)
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        self.archive
            .validate()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        self.validate_live(origin)?;
        self.heartbeat
            .validate()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        self.leds
            .validate()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        let vars = self.rule_vars();
        for name in self.vars.address_groups.keys() {
            crate::rules::parse_address(&format!("${name}"), &vars).map_err(|e| {
                ConfigError(format!("{origin}: key `vars.address-groups.{name}`: {e}"))
            })?;
        }
        for name in self.vars.port_groups.keys() {
            crate::rules::parse_port(&format!("${name}"), &vars).map_err(|e| {
                ConfigError(format!("{origin}: key `vars.port-groups.{name}`: {e}"))
            })?;
        }
        for kind in UdpTunnelKind::ALL {
            self.udp_tunnel(kind, &vars).map_err(|e| {
                ConfigError(format!("{origin}: key `decoder.{}.ports`: {e}", kind.key()))
            })?;
        }
        Ok(())
    }

    /// `action-order` as ranks per action (errors name the key).
    pub fn action_order(&self) -> Result<ActionOrder, String> {
        ActionOrder::parse(&self.action_order).map_err(|e| format!("key `action-order`: {e}"))
    }

    /// The reassembly settings (`stream.*`), checked; errors name the key.
    pub fn stream_settings(&self) -> Result<crate::stream::StreamSettings, String> {
        let size = |key: &str, v: &Size, min: u64, max: u64| -> Result<u64, String> {
            let b = v.bytes().map_err(|e| format!("key `stream.{key}`: {e}"))?;
            if b < min || b > max {
                return Err(format!("key `stream.{key}`: must be {min} to {max} bytes"));
            }
            Ok(b)
        };
        size("memcap", &self.stream.memcap, 0, u64::MAX)?;
        let r = &self.stream.reassembly;
        Ok(crate::stream::StreamSettings {
            reassembly_memcap: size(
                "reassembly.memcap",
                &r.memcap,
                crate::stream::pool::BLOCK as u64,
                1 << 40,
            )?,
            depth: size("reassembly.depth", &r.depth, 0, 1 << 30)? as u32,
            toserver_chunk_size: size(
                "reassembly.toserver-chunk-size",
                &r.toserver_chunk_size,
                1,
                1 << 24,
            )? as u32,
            toclient_chunk_size: size(
                "reassembly.toclient-chunk-size",
                &r.toclient_chunk_size,
                1,
                1 << 24,
            )? as u32,
        })
    }

    /// The defragmenter's settings (`defrag.*`), checked; errors name the key.
    pub fn defrag_config(&self) -> Result<crate::defrag::DefragConfig, String> {
        let d = crate::defrag::DefragConfig::default();
        let memcap = self
            .defrag
            .memcap
            .bytes()
            .map_err(|e| format!("key `defrag.memcap`: {e}"))?;
        if !(512..=1 << 40).contains(&memcap) {
            return Err("key `defrag.memcap`: must be 512 to 1099511627776 bytes".into());
        }
        if !(1..=86_400).contains(&self.defrag.timeout) {
            return Err("key `defrag.timeout`: must be 1 to 86400 seconds".into());
        }
        let or_default = |v: u32, d: u32| if v == 0 { d } else { v };
        Ok(crate::defrag::DefragConfig {
            memcap,
            trackers: or_default(self.defrag.trackers, d.trackers),
            max_frags: or_default(self.defrag.max_frags, d.max_frags),
            timeout: self.defrag.timeout,
            ..d
        })
    }

    /// The resolved `stream.midstream-policy` (IPS mode from `simulate_ips`).
    pub fn midstream_policy(&self) -> Result<Policy, String> {
        exception_policy::resolve_midstream(
            self.exception_policy,
            self.stream.midstream_policy,
            self.stream.midstream,
            self.simulate_ips,
        )
    }

    /// One UDP tunnel decoder as Suricata configures it (Decode*Config): off when disabled;
    /// Teredo's `any` is every port; otherwise the first four ports of the port group.
    fn udp_tunnel(&self, kind: UdpTunnelKind, vars: &Vars) -> Result<UdpTunnel, String> {
        let t = self.decoder.udp_tunnel(kind);
        if !t.enabled {
            return Ok(UdpTunnel::disabled());
        }
        let text = t
            .ports
            .as_ref()
            .map(PortsValue::text)
            .unwrap_or_else(|| kind.default_ports().to_string());
        if kind == UdpTunnelKind::Teredo && text == "any" {
            return Ok(UdpTunnel::any_port());
        }
        let ports = crate::rules::decoder_ports(&text, vars)?;
        if ports.len() > UdpTunnel::MAX_PORTS {
            log::warn!(
                "decoder.{}.ports: more than {} ports; only {:?} are used",
                kind.key(),
                UdpTunnel::MAX_PORTS,
                &ports[..UdpTunnel::MAX_PORTS]
            );
        }
        Ok(UdpTunnel::on_ports(&ports))
    }

    /// The decoder's settings (the configuration was validated when it was loaded).
    pub fn decoder_config(&self) -> crate::decode::DecoderConfig {
        let vars = self.rule_vars();
        let defaults = crate::decode::DecoderConfig::default();
        let tunnel = |kind, fallback| self.udp_tunnel(kind, &vars).unwrap_or(fallback);
        crate::decode::DecoderConfig {
            tzsp: self.decoder.tzsp,
            tzsp_port: self.decoder.tzsp_port,
            teredo: tunnel(UdpTunnelKind::Teredo, defaults.teredo),
            vxlan: tunnel(UdpTunnelKind::Vxlan, defaults.vxlan),
            geneve: tunnel(UdpTunnelKind::Geneve, defaults.geneve),
            defrag: self.defrag_config().unwrap_or(defaults.defrag),
            ..defaults
        }
    }

    /// Suricata's default variables overlaid with the configured ones.
    pub fn rule_vars(&self) -> Vars {
        let mut v = Vars::suricata_default();
        for (k, val) in &self.vars.address_groups {
            v.set_address(k, &val.text());
        }
        for (k, val) in &self.vars.port_groups {
            v.set_port(k, &val.text());
        }
        v
    }

    /// The configured rule files, relative ones taken from `default-rule-path`.
    pub fn rule_paths(&self) -> Vec<PathBuf> {
        self.rules
            .rule_files
            .iter()
            .map(|f| {
                if f.is_absolute() {
                    f.clone()
                } else {
                    self.rules.default_rule_path.join(f)
                }
            })
            .collect()
    }

    /// The full configuration as TOML (for `ravn config show`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Where `ravn run` takes its traffic from (`capture.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureSource {
    /// MikroTik TZSP datagrams on a UDP socket.
    Tzsp,
    /// A TPACKET_V3 ring on an interface.
    AfPacket,
    /// An AF_XDP socket on an interface (cargo feature `af-xdp`).
    AfXdp,
    /// A capture file, read once (for testing the daemon path).
    Pcap,
}

/// `[capture]`: the live capture source and its settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CaptureConfig {
    pub source: CaptureSource,
    /// Whether captured packets have their checksums checked, for every source and for
    /// `ravn replay` (Suricata's per-source `checksum-checks`; its `-k` and ravn replay's
    /// set `stream.checksum-validation` instead).
    pub checksum_checks: ChecksumChecks,
    pub tzsp: TzspCaptureConfig,
    pub af_packet: AfPacketConfig,
    pub af_xdp: AfXdpConfig,
    pub pcap: PcapCaptureConfig,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            source: CaptureSource::Tzsp,
            checksum_checks: ChecksumChecks::Auto,
            tzsp: TzspCaptureConfig::default(),
            af_packet: AfPacketConfig::default(),
            af_xdp: AfXdpConfig::default(),
            pcap: PcapCaptureConfig::default(),
        }
    }
}

/// `[capture.tzsp]`: the TZSP listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TzspCaptureConfig {
    /// UDP address to listen on.
    pub listen: String,
    /// SO_RCVBUF in bytes (the kernel doubles it; raised past rmem_max with SO_RCVBUFFORCE
    /// when ravn has CAP_NET_ADMIN).
    pub rcvbuf: usize,
    /// Senders allowed to stream (IP addresses); empty: any. TZSP is unauthenticated, so
    /// datagrams from other senders are dropped and counted.
    pub allow: Vec<String>,
    /// Datagrams received per recvmmsg call.
    pub batch: usize,
}

impl Default for TzspCaptureConfig {
    fn default() -> Self {
        TzspCaptureConfig {
            listen: "0.0.0.0:37008".into(),
            rcvbuf: 8 * 1024 * 1024,
            allow: Vec::new(),
            batch: 64,
        }
    }
}

/// `[capture.af-packet]`: a TPACKET_V3 ring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AfPacketConfig {
    pub interface: String,
    /// Bytes per ring block: a multiple of the page size and a power of two.
    pub block_size: usize,
    pub block_count: usize,
    /// Milliseconds after which the kernel hands over a block that is not full.
    pub block_timeout_ms: u32,
    pub promiscuous: bool,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        AfPacketConfig {
            interface: "dummy0".into(),
            block_size: 1 << 20,
            block_count: 32,
            block_timeout_ms: 10,
            promiscuous: true,
        }
    }
}

/// `capture.checksum-checks`: Suricata's `checksum-checks` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumChecks {
    /// Check, until the first 1,000 packets show more than a tenth of them wrong: then the
    /// capture is taken to come from a host with checksum offloading, whose outgoing packets
    /// carry no checksum yet, and checking stops (Suricata's ChecksumAutoModeCheck).
    Auto,
    /// Always check.
    Yes,
    /// Never check: the checksum keywords take every checksum as valid, and the stream
    /// keeps segments whatever their checksum.
    No,
}

/// How the XDP program is attached (`capture.af-xdp.xdp-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum XdpMode {
    /// The driver's native XDP when it has it, else generic.
    Auto,
    /// Native (driver) mode.
    Native,
    /// Generic (SKB) mode: works on every driver.
    Skb,
}

/// `[capture.af-xdp]`: an AF_XDP socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AfXdpConfig {
    pub interface: String,
    pub queue: u32,
    pub xdp_mode: XdpMode,
    /// Bind in copy mode (XDP_COPY) instead of letting the kernel try zero-copy.
    pub copy: bool,
    /// UMEM frames (a power of two); the fill and RX rings get half each.
    pub frames: u32,
}

impl Default for AfXdpConfig {
    fn default() -> Self {
        AfXdpConfig {
            interface: "dummy0".into(),
            queue: 0,
            xdp_mode: XdpMode::Skb,
            copy: true,
            frames: 4096,
        }
    }
}

/// `[capture.pcap]`: a capture file read once by `ravn run` (for tests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PcapCaptureConfig {
    pub file: PathBuf,
}

/// `[pipeline]`: the rings between the capture, matcher and output threads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PipelineConfig {
    /// Frame slots in the capture → matcher ring (a power of two): the frame pool.
    pub ring_frames: usize,
    /// Bytes per frame slot; longer frames are dropped and counted (`capture.oversize`).
    pub frame_size: usize,
    /// Alert slots in the matcher → output ring (a power of two).
    pub alert_ring: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            ring_frames: 8192,
            frame_size: 2048,
            alert_ring: 1024,
        }
    }
}

/// `[threading]`: where the matcher runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ThreadingConfig {
    /// CPU the matcher thread is pinned to (absent: not pinned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matcher_core: Option<usize>,
    /// CPU the capture thread is pinned to (absent: not pinned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_core: Option<usize>,
    /// Run the matcher with SCHED_FIFO at this priority (1-99; 0: normal scheduling).
    pub sched_fifo: u8,
    /// Lock all memory (mlockall) so the pool and the rings are never paged out.
    pub mlockall: bool,
}

/// `[daemon]`: the running service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DaemonConfig {
    /// Directory for the stats socket and run state (`ravn stats` talks to it).
    pub run_dir: PathBuf,
    /// Seconds between EVE stats events (0: only at exit).
    pub stats_interval: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            run_dir: PathBuf::from("/run/ravn"),
            stats_interval: 8,
        }
    }
}

impl Config {
    fn validate_live(&self, origin: &str) -> Result<(), ConfigError> {
        let err =
            |key: &str, why: String| Err(ConfigError(format!("{origin}: key `{key}`: {why}")));
        let t = &self.capture.tzsp;
        if t.listen.parse::<std::net::SocketAddr>().is_err() {
            return err(
                "capture.tzsp.listen",
                format!("`{}` is not an address:port", t.listen),
            );
        }
        for (i, a) in t.allow.iter().enumerate() {
            if a.parse::<std::net::IpAddr>().is_err() {
                return err(
                    &format!("capture.tzsp.allow[{i}]"),
                    format!("`{a}` is not an IP address"),
                );
            }
        }
        if t.batch == 0 || t.batch > 1024 {
            return err("capture.tzsp.batch", "must be 1..=1024".into());
        }
        let ap = &self.capture.af_packet;
        if ap.block_size < 4096 || !ap.block_size.is_power_of_two() {
            return err(
                "capture.af-packet.block-size",
                "must be a power of two of at least 4096".into(),
            );
        }
        if ap.block_count == 0 {
            return err("capture.af-packet.block-count", "must be at least 1".into());
        }
        let x = &self.capture.af_xdp;
        if x.frames < 64 || !x.frames.is_power_of_two() {
            return err(
                "capture.af-xdp.frames",
                "must be a power of two of at least 64".into(),
            );
        }
        let p = &self.pipeline;
        if p.ring_frames < 2 || !p.ring_frames.is_power_of_two() {
            return err(
                "pipeline.ring-frames",
                "must be a power of two of at least 2".into(),
            );
        }
        if !(256..=65_536).contains(&p.frame_size) {
            return err("pipeline.frame-size", "must be 256..=65536".into());
        }
        if p.alert_ring < 2 || !p.alert_ring.is_power_of_two() {
            return err(
                "pipeline.alert-ring",
                "must be a power of two of at least 2".into(),
            );
        }
        if self.threading.sched_fifo > 99 {
            return err("threading.sched-fifo", "must be 0..=99".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_file() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.decoder.tzsp_port, 37008);
    }

    #[test]
    fn set_overrides_like_suricata() {
        let c = Config::from_str_with_sets(
            "[outputs]\nappend = true\n",
            "t",
            &[
                "vars.address-groups.HOME_NET=[10.0.0.0/8]".into(),
                "outputs.append=false".into(),
                "flow.max-flows=10".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.vars.address_groups["HOME_NET"],
            VarValue::Text("[10.0.0.0/8]".into())
        );
        assert!(!c.outputs.append);
        assert_eq!(c.flow.max_flows, 10);
    }

    #[test]
    fn udp_tunnel_decoders_as_suricata_configures_them() {
        let d = Config::default().decoder_config();
        assert_eq!(d.vxlan.ports(), [4789]);
        assert_eq!(d.geneve.ports(), [6081]);
        assert_eq!(d.teredo.ports(), [3544]);
        assert!(d.vxlan.applies(4789, 1) && d.vxlan.applies(1, 4789) && !d.vxlan.applies(1, 2));

        let c = Config::from_str_with_sets(
            "[decoder.vxlan]\nenabled = true\n[vars.port-groups]\nGENEVE_PORTS = \"[6081,7000]\"\n",
            "t",
            &[
                "decoder.teredo.ports=any".into(),
                "decoder.vxlan.ports=[4789,8472]".into(),
            ],
        )
        .unwrap();
        // A table without `ports` gets the default back, as it prints in `ravn config`.
        assert_eq!(
            c.decoder.geneve.ports,
            Some(PortsValue::Text("$GENEVE_PORTS".into()))
        );
        let d = c.decoder_config();
        assert_eq!(d.vxlan.ports(), [4789, 8472]);
        assert_eq!(d.geneve.ports(), [6081, 7000]);
        assert!(d.teredo.applies(1, 2) && d.teredo.ports().is_empty());

        let c = Config::from_str_with_sets(
            "",
            "t",
            &[
                "decoder.vxlan.enabled=false".into(),
                "decoder.geneve.ports=9000".into(),
                "decoder.teredo.ports=[1,2,3,4,5]".into(),
            ],
        )
        .unwrap();
        let d = c.decoder_config();
        assert!(!d.vxlan.enabled && !d.vxlan.applies(4789, 4789));
        assert_eq!(d.geneve.ports(), [9000]);
        assert_eq!(d.teredo.ports(), [1, 2, 3, 4], "Suricata keeps four ports");

        let e = Config::from_str_with_sets("", "x.toml", &["decoder.vxlan.ports=[4789".into()])
            .unwrap_err();
        assert!(e.0.contains("decoder.vxlan.ports"), "{e}");
        let e =
            Config::from_str_with_sets("[decoder.geneve]\nport = 1\n", "x.toml", &[]).unwrap_err();
        assert!(e.0.contains("port"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_str_with_sets("[flow]\nmax-flows = \"many\"\n", "x.toml", &[])
            .unwrap_err();
        assert!(e.0.contains("flow.max-flows"), "{e}");
        let e = Config::from_str_with_sets("[outputs]\nbogus = 1\n", "x.toml", &[]).unwrap_err();
        assert!(e.0.contains("bogus"), "{e}");
        let e = Config::from_str_with_sets(
            "",
            "x.toml",
            &["vars.address-groups.HOME_NET=[10.0.0.0/33]".into()],
        )
        .unwrap_err();
        assert!(e.0.contains("vars.address-groups.HOME_NET"), "{e}");
    }

    #[test]
    fn checksum_keys() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        assert_eq!(c.capture.checksum_checks, ChecksumChecks::Auto);
        assert!(c.stream.checksum_validation);
        let c = Config::from_str_with_sets(
            "[capture]\nchecksum-checks = \"no\"\n",
            "t",
            &["stream.checksum-validation=false".into()],
        )
        .unwrap();
        assert_eq!(c.capture.checksum_checks, ChecksumChecks::No);
        assert!(!c.stream.checksum_validation);
        for (set, key) in [
            ("capture.checksum-checks=maybe", "capture.checksum-checks"),
            ("stream.checksum-validation=1", "stream.checksum-validation"),
        ] {
            let e = Config::from_str_with_sets("", "x.toml", &[set.into()]).unwrap_err();
            assert!(e.0.contains(key), "{set}: {e}");
        }
    }

    #[test]
    fn logs_and_archive_keys_checked_by_name() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        assert_eq!(c.archive.dir, PathBuf::from("/var/lib/ravn/archive"));
        assert_eq!(c.archive.flush_size, 1 << 20);
        assert_eq!(c.archive.flush_interval_secs, 900);
        for (set, key) in [
            ("logs.ram-cap=1000", "logs.ram-cap"),
            ("logs.count=0", "logs.count"),
            ("logs.ring=sometimes", "logs.ring"),
            ("archive.flush-size=10", "archive.flush-size"),
            ("archive.segment-size=5000", "archive.segment-size"),
            (
                "archive.event-types=[\"alert\",\"bogus\"]",
                "archive.event-types",
            ),
            ("archive.daily-budget=-1", "archive.daily-budget"),
            (
                "archive.flush-interval-secs=0",
                "archive.flush-interval-secs",
            ),
            ("archive.max-size=1", "archive.max-size"),
        ] {
            let e = Config::from_str_with_sets("", "x.toml", &[set.into()]).unwrap_err();
            assert!(e.0.contains(key), "{set}: {e}");
        }
        let c = Config::from_str_with_sets(
            "[logs]\nring = \"on\"\n[archive]\nenabled = \"off\"\nevent-types = [\"alert\", \"stats\"]\n",
            "t",
            &[],
        )
        .unwrap();
        assert!(c.logs.ring.resolve(false));
        assert!(!c.archive.enabled.resolve(true));
    }

    #[test]
    fn stream_keys_default_to_suricatas_and_errors_name_the_key() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        let s = c.stream_settings().unwrap();
        assert_eq!(s, crate::stream::StreamSettings::default());
        assert_eq!(s.reassembly_memcap, 256 << 20);
        assert_eq!(s.depth, 1 << 20);
        assert_eq!(s.toserver_chunk_size, 2560);
        let c = Config::from_str_with_sets(
            "[stream.reassembly]\nmemcap = \"32MB\"\ndepth = 0\ntoclient-chunk-size = \"4kb\"\n",
            "t",
            &[],
        )
        .unwrap();
        let s = c.stream_settings().unwrap();
        assert_eq!(
            (s.reassembly_memcap, s.depth, s.toclient_chunk_size),
            (32 << 20, 0, 4096)
        );
        for (set, key) in [
            (
                "stream.reassembly.depth=\"lots\"",
                "stream.reassembly.depth",
            ),
            ("stream.reassembly.memcap=10", "stream.reassembly.memcap"),
            (
                "stream.reassembly.toserver-chunk-size=0",
                "stream.reassembly.toserver-chunk-size",
            ),
            ("stream.memcap=\"-1mb\"", "stream.memcap"),
        ] {
            let e = Config::from_str_with_sets("", "x.toml", &[set.into()]).unwrap_err();
            assert!(e.0.contains(key), "{set}: {e}");
        }
    }

    #[test]
    fn heartbeat_and_leds_keys_default_and_errors_name_the_key() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        assert_eq!(c.heartbeat.sids, vec![5_100_000]);
        assert_eq!(c.heartbeat.warn_secs, 120);
        assert_eq!(c.heartbeat.crit_secs, 300);
        assert_eq!(c.leds.backend, crate::leds::Backend::Auto);
        assert_eq!(c.leds.gpio_chip, PathBuf::new());
        assert_eq!(c.leds.patterns.config_fault, "red:slow");
        let c = Config::from_str_with_sets(
            "[heartbeat]\nsids = [1, 2]\nwarn-secs = 3\ncrit-secs = 6\n[leds]\nbackend = \"sysfs\"\n[leds.patterns]\ndead = \"red:fast\"\n",
            "t",
            &[
                "leds.pins.amber=5".into(),
                "leds.gpio-chip=/dev/gpiochip1".into(),
                "leds.patterns.config-fault=amber:fast".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.heartbeat.sids, vec![1, 2]);
        assert_eq!(c.leds.pins.amber, Some(5));
        assert_eq!(c.leds.gpio_chip, PathBuf::from("/dev/gpiochip1"));
        assert_eq!(c.leds.patterns.config_fault, "amber:fast");
        for (set, key) in [
            ("heartbeat.warn-secs=0", "heartbeat.warn-secs"),
            ("heartbeat.crit-secs=10", "heartbeat.crit-secs"),
            ("heartbeat.sids=[1,2,3,4,5,6,7,8,9]", "heartbeat.sids"),
            ("heartbeat.status-file=\"\"", "heartbeat.status-file"),
            ("heartbeat.bogus=1", "bogus"),
            ("leds.backend=blinkenlights", "leds.backend"),
            ("leds.patterns.late=amber:sometimes", "leds.patterns.late"),
            ("leds.pins.red=17", "leds.pins.red"),
            ("leds.pins.green=300", "leds.pins.green"),
            ("leds.gpio-chip=gpiochip0", "leds.gpio-chip"),
            ("leds.gpio-chip=5", "leds.gpio-chip"),
            (
                "leds.patterns.config-fault=red:never",
                "leds.patterns.config-fault",
            ),
        ] {
            let e = Config::from_str_with_sets("", "x.toml", &[set.into()]).unwrap_err();
            assert!(e.0.contains(key), "{set}: {e}");
        }
    }

    #[test]
    fn live_keys_default_and_errors_name_the_key() {
        let c = Config::from_str_with_sets("", "t", &[]).unwrap();
        assert_eq!(c.capture.source, CaptureSource::Tzsp);
        assert_eq!(c.capture.tzsp.listen, "0.0.0.0:37008");
        assert_eq!(c.daemon.run_dir, PathBuf::from("/run/ravn"));
        let c = Config::from_str_with_sets(
            "[capture]\nsource = \"af-packet\"\n[capture.af-packet]\ninterface = \"veth0\"\n",
            "t",
            &["threading.matcher-core=1".into()],
        )
        .unwrap();
        assert_eq!(c.capture.source, CaptureSource::AfPacket);
        assert_eq!(c.capture.af_packet.interface, "veth0");
        assert_eq!(c.threading.matcher_core, Some(1));
        let e = Config::from_str_with_sets("", "x.toml", &["capture.source=carrier-pigeon".into()])
            .unwrap_err();
        assert!(e.0.contains("capture.source"), "{e}");
        let e = Config::from_str_with_sets(
            "[capture.tzsp]\nallow = [\"10.0.0.1\", \"nope\"]\n",
            "x.toml",
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("capture.tzsp.allow[1]"), "{e}");
        let e = Config::from_str_with_sets("", "x.toml", &["pipeline.ring-frames=1000".into()])
            .unwrap_err();
        assert!(e.0.contains("pipeline.ring-frames"), "{e}");
        let e =
            Config::from_str_with_sets("", "x.toml", &["capture.af-packet.block-size=5000".into()])
                .unwrap_err();
        assert!(e.0.contains("capture.af-packet.block-size"), "{e}");
    }
}
