//! Rule variables (`vars.address-groups` / `vars.port-groups` in suricata.yaml).

use std::collections::BTreeMap;

/// Address and port group variables, by name without the `$`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vars {
    pub address_groups: BTreeMap<String, String>,
    pub port_groups: BTreeMap<String, String>,
}

impl Vars {
    /// No variables at all.
    pub fn empty() -> Vars {
        Vars::default()
    }

    /// The values of Suricata 7.0's default `suricata.yaml` (`vars:` section).
    ///
    /// Note: Debian's packaged config (and `suricata-alertonly.yaml` in shared/reference) sets
    /// `HOME_NET: "[192.168.0.0/16]"`; upstream's default, used here, is the three RFC 1918 nets.
    pub fn suricata_default() -> Vars {
        let mut v = Vars::default();
        for (k, val) in [
            ("HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"),
            ("EXTERNAL_NET", "!$HOME_NET"),
            ("HTTP_SERVERS", "$HOME_NET"),
            ("SMTP_SERVERS", "$HOME_NET"),
            ("SQL_SERVERS", "$HOME_NET"),
            ("DNS_SERVERS", "$HOME_NET"),
            ("TELNET_SERVERS", "$HOME_NET"),
            ("AIM_SERVERS", "$EXTERNAL_NET"),
            ("DC_SERVERS", "$HOME_NET"),
            ("DNP3_SERVER", "$HOME_NET"),
            ("DNP3_CLIENT", "$HOME_NET"),
            ("MODBUS_CLIENT", "$HOME_NET"),
            ("MODBUS_SERVER", "$HOME_NET"),
            ("ENIP_CLIENT", "$HOME_NET"),
            ("ENIP_SERVER", "$HOME_NET"),
        ] {
            v.set_address(k, val);
        }
        for (k, val) in [
            ("HTTP_PORTS", "80"),
            ("SHELLCODE_PORTS", "!80"),
            ("ORACLE_PORTS", "1521"),
            ("SSH_PORTS", "22"),
            ("DNP3_PORTS", "20000"),
            ("MODBUS_PORTS", "502"),
            ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
            ("FTP_PORTS", "21"),
            ("GENEVE_PORTS", "6081"),
            ("VXLAN_PORTS", "4789"),
            ("TEREDO_PORTS", "3544"),
        ] {
            v.set_port(k, val);
        }
        v
    }

    /// Define or replace an address group (`name` without `$`).
    pub fn set_address(&mut self, name: &str, text: &str) {
        self.address_groups
            .insert(name.to_string(), text.to_string());
    }

    /// Define or replace a port group (`name` without `$`).
    pub fn set_port(&mut self, name: &str, text: &str) {
        self.port_groups.insert(name.to_string(), text.to_string());
    }

    pub fn address(&self, name: &str) -> Option<&str> {
        self.address_groups.get(name).map(String::as_str)
    }

    pub fn port(&self, name: &str) -> Option<&str> {
        self.port_groups.get(name).map(String::as_str)
    }
}

/// Suricata `SCRuleVarsGetConfVar`: skip leading whitespace, strip one `$`, look up the rest.
pub(crate) fn lookup<'a>(map: &'a BTreeMap<String, String>, raw: &[u8]) -> Option<&'a str> {
    let mut s = raw;
    while let Some((&c, rest)) = s.split_first() {
        if crate::rules::cnum::is_space(c) {
            s = rest;
        } else {
            break;
        }
    }
    if let Some((&b'$', rest)) = s.split_first() {
        s = rest;
    }
    let name = std::str::from_utf8(s).ok()?;
    map.get(name).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let v = Vars::suricata_default();
        assert_eq!(
            v.address("HOME_NET"),
            Some("[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]")
        );
        assert_eq!(v.address("EXTERNAL_NET"), Some("!$HOME_NET"));
        assert_eq!(v.port("FILE_DATA_PORTS"), Some("[$HTTP_PORTS,110,143]"));
        assert_eq!(v.address_groups.len(), 15);
        assert_eq!(v.port_groups.len(), 11);
    }

    #[test]
    fn lookup_strips_dollar() {
        let v = Vars::suricata_default();
        assert!(lookup(&v.port_groups, b"$HTTP_PORTS").is_some());
        assert!(lookup(&v.port_groups, b" $HTTP_PORTS").is_some());
        assert!(lookup(&v.port_groups, b"$HTTP_PORTS ").is_none());
        assert!(lookup(&v.port_groups, b"$NOPE").is_none());
    }
}
