//! Exception policies: what the engine does with traffic it cannot handle as configured
//! (Suricata 7's `exception-policy` master switch and its per-target settings).
//!
//! ravn has one target today, `stream.midstream-policy`: a TCP session whose handshake was
//! not seen. The resolution rules are Suricata 7.0.10's (`util-exception-policy.c`):
//! `auto` means drop-flow in IPS mode (when midstream pickup is off) and ignore in IDS mode;
//! drop policies given through the master switch are ignored in IDS mode.

use serde::{Deserialize, Serialize};

/// A configured policy value, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyValue {
    /// Follow the `exception-policy` master switch (only for per-target keys).
    Inherit,
    #[default]
    Auto,
    Ignore,
    DropPacket,
    DropFlow,
    Reject,
    Bypass,
    PassPacket,
    PassFlow,
}

/// A resolved policy: what happens when the exception occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    Ignore,
    DropPacket,
    DropFlow,
    Reject,
    Bypass,
    PassPacket,
    PassFlow,
}

impl Policy {
    /// The flow is not inspected any more (its packets are passed or dropped).
    pub fn stops_flow(self, ips: bool) -> bool {
        match self {
            Policy::DropFlow | Policy::Bypass | Policy::PassFlow => true,
            // reject drops the flow only in IPS mode (Suricata's fall-through)
            Policy::Reject => ips,
            Policy::Ignore | Policy::DropPacket | Policy::PassPacket => false,
        }
    }
    /// This packet is not inspected.
    pub fn stops_packet(self, ips: bool) -> bool {
        match self {
            Policy::Ignore => false,
            Policy::Reject => ips,
            _ => true,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Policy::Ignore => "ignore",
            Policy::DropPacket => "drop-packet",
            Policy::DropFlow => "drop-flow",
            Policy::Reject => "reject",
            Policy::Bypass => "bypass",
            Policy::PassPacket => "pass-packet",
            Policy::PassFlow => "pass-flow",
        }
    }
}

fn concrete(v: PolicyValue) -> Option<Policy> {
    Some(match v {
        PolicyValue::Inherit | PolicyValue::Auto => return None,
        PolicyValue::Ignore => Policy::Ignore,
        PolicyValue::DropPacket => Policy::DropPacket,
        PolicyValue::DropFlow => Policy::DropFlow,
        PolicyValue::Reject => Policy::Reject,
        PolicyValue::Bypass => Policy::Bypass,
        PolicyValue::PassPacket => Policy::PassPacket,
        PolicyValue::PassFlow => Policy::PassFlow,
    })
}

fn pick_auto(midstream: bool, ips: bool) -> Policy {
    if !midstream && ips {
        Policy::DropFlow
    } else {
        Policy::Ignore
    }
}

/// Resolve `stream.midstream-policy` as Suricata's `ExceptionPolicyMidstreamParse`.
/// Errors name the key, as Suricata refuses these configurations at start-up.
pub fn resolve_midstream(
    master: PolicyValue,
    value: PolicyValue,
    midstream: bool,
    ips: bool,
) -> Result<Policy, String> {
    let key = "stream.midstream-policy";
    let policy = if value != PolicyValue::Inherit {
        let p = match value {
            PolicyValue::Auto => pick_auto(midstream, ips),
            v => concrete(v).unwrap_or_default(),
        };
        if value != PolicyValue::Auto
            && midstream
            && !matches!(p, Policy::Ignore | Policy::PassFlow)
        {
            return Err(format!(
                "key `{key}`: \"{}\" is not valid when stream.midstream is enabled \
                 (valid: pass-flow, ignore)",
                p.name()
            ));
        }
        if !ips && p == Policy::DropFlow {
            return Err(format!(
                "key `{key}`: \"drop-flow\" is not valid in IDS mode"
            ));
        }
        p
    } else {
        // the master switch (ravn always has one: its default is Suricata's `auto`)
        match master {
            PolicyValue::Auto | PolicyValue::Inherit => pick_auto(midstream, ips),
            v => {
                let p = concrete(v).unwrap_or_default();
                if !ips && matches!(p, Policy::DropPacket | Policy::DropFlow) {
                    Policy::Ignore
                } else {
                    p
                }
            }
        }
    };
    if matches!(policy, Policy::PassPacket | Policy::DropPacket) {
        return Err(format!(
            "key `{key}`: \"{}\" is not valid for this exception policy",
            policy.name()
        ));
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::PolicyValue as V;
    use super::*;

    #[test]
    fn auto_is_drop_flow_in_ips_and_ignore_in_ids() {
        assert_eq!(
            resolve_midstream(V::Auto, V::Inherit, false, true),
            Ok(Policy::DropFlow)
        );
        assert_eq!(
            resolve_midstream(V::Auto, V::Inherit, false, false),
            Ok(Policy::Ignore)
        );
        // midstream pickup on: nothing to except
        assert_eq!(
            resolve_midstream(V::Auto, V::Inherit, true, true),
            Ok(Policy::Ignore)
        );
    }

    #[test]
    fn master_drop_is_ignored_in_ids_mode() {
        assert_eq!(
            resolve_midstream(V::DropFlow, V::Inherit, false, false),
            Ok(Policy::Ignore)
        );
        assert_eq!(
            resolve_midstream(V::Bypass, V::Inherit, false, false),
            Ok(Policy::Bypass)
        );
    }

    #[test]
    fn direct_values_are_checked_like_suricata() {
        assert_eq!(
            resolve_midstream(V::Auto, V::PassFlow, false, true),
            Ok(Policy::PassFlow)
        );
        assert!(resolve_midstream(V::Auto, V::DropFlow, false, false).is_err());
        assert!(resolve_midstream(V::Auto, V::Bypass, true, false).is_err());
        assert!(resolve_midstream(V::Auto, V::PassPacket, false, true).is_err());
        // via the master switch a packet policy is refused too
        assert!(resolve_midstream(V::DropPacket, V::Inherit, false, true).is_err());
    }
}
