//! The keyword registry: every keyword Suricata 7.0.10 knows (names and aliases, from
//! `suricata --list-keywords` and its alias table), mapped either to the ravn handler of its
//! family or to "known but unsupported". Lookup is case-insensitive, like `SigTableGet`.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::ast::CsumKind;
use super::parse::{Ctx, Skip};

pub mod bits;
pub mod byte;
pub mod csum;
pub mod flow;
pub mod icmp;
pub mod ip;
pub mod meta;
pub mod payload;
pub mod pcre;
pub mod tag;
pub mod tcp;
pub mod threshold;

/// Generic option flags, as Suricata's `SIGMATCH_*`.
pub mod flags {
    /// The keyword takes no value.
    pub const NOOPT: u8 = 1;
    /// The value is optional.
    pub const OPTIONAL_OPT: u8 = 2;
    /// The value must be in double quotes (which are removed).
    pub const QUOTES_MANDATORY: u8 = 4;
    /// The value may be in double quotes (which are removed).
    pub const QUOTES_OPTIONAL: u8 = 8;
    /// A leading `!` is removed and sets `Ctx::negated`.
    pub const HANDLE_NEGATION: u8 = 16;
}

/// A keyword's setup: the value after Suricata's generic processing (`None`: no value).
pub(crate) type Setup = fn(&mut Ctx<'_>, Option<&[u8]>) -> Result<(), Skip>;

/// A supported keyword.
pub(crate) struct Supported {
    pub name: &'static str,
    pub flags: u8,
    pub setup: Setup,
}

/// Registry entry.
pub(crate) enum Entry {
    Supported(&'static Supported),
    Unsupported(&'static str),
}

use flags::*;

/// Keyword name → family handler.
pub(crate) static SUPPORTED: &[Supported] = &[
    // meta
    Supported {
        name: "msg",
        flags: QUOTES_MANDATORY,
        setup: meta::msg,
    },
    Supported {
        name: "rev",
        flags: 0,
        setup: meta::rev,
    },
    Supported {
        name: "gid",
        flags: 0,
        setup: meta::gid,
    },
    Supported {
        name: "classtype",
        flags: 0,
        setup: meta::classtype,
    },
    Supported {
        name: "priority",
        flags: 0,
        setup: meta::priority,
    },
    Supported {
        name: "metadata",
        flags: 0,
        setup: meta::metadata,
    },
    Supported {
        name: "reference",
        flags: 0,
        setup: meta::reference,
    },
    Supported {
        name: "target",
        flags: 0,
        setup: meta::target,
    },
    Supported {
        name: "threshold",
        flags: 0,
        setup: threshold::threshold,
    },
    Supported {
        name: "detection_filter",
        flags: 0,
        setup: threshold::detection_filter,
    },
    // flow
    Supported {
        name: "flow",
        flags: 0,
        setup: flow::flow,
    },
    Supported {
        name: "flowbits",
        flags: 0,
        setup: flow::flowbits,
    },
    Supported {
        name: "stream_size",
        flags: 0,
        setup: flow::stream_size,
    },
    Supported {
        name: "hostbits",
        flags: 0,
        setup: bits::hostbits,
    },
    Supported {
        name: "xbits",
        flags: 0,
        setup: bits::xbits,
    },
    Supported {
        name: "tag",
        flags: 0,
        setup: tag::tag,
    },
    // payload
    Supported {
        name: "content",
        flags: QUOTES_MANDATORY | HANDLE_NEGATION,
        setup: payload::content,
    },
    Supported {
        name: "nocase",
        flags: NOOPT,
        setup: payload::nocase,
    },
    Supported {
        name: "rawbytes",
        flags: NOOPT,
        setup: payload::rawbytes,
    },
    Supported {
        name: "depth",
        flags: 0,
        setup: payload::depth,
    },
    Supported {
        name: "offset",
        flags: 0,
        setup: payload::offset,
    },
    Supported {
        name: "distance",
        flags: 0,
        setup: payload::distance,
    },
    Supported {
        name: "within",
        flags: 0,
        setup: payload::within,
    },
    Supported {
        name: "startswith",
        flags: NOOPT,
        setup: payload::startswith,
    },
    Supported {
        name: "endswith",
        flags: NOOPT,
        setup: payload::endswith,
    },
    Supported {
        name: "fast_pattern",
        flags: OPTIONAL_OPT,
        setup: payload::fast_pattern,
    },
    Supported {
        name: "isdataat",
        flags: 0,
        setup: payload::isdataat,
    },
    Supported {
        name: "dsize",
        flags: 0,
        setup: payload::dsize,
    },
    Supported {
        name: "pkt_data",
        flags: NOOPT,
        setup: payload::pkt_data,
    },
    Supported {
        name: "pcre",
        flags: QUOTES_OPTIONAL | HANDLE_NEGATION,
        setup: pcre::pcre,
    },
    Supported {
        name: "byte_test",
        flags: 0,
        setup: byte::byte_test,
    },
    Supported {
        name: "byte_jump",
        flags: 0,
        setup: byte::byte_jump,
    },
    Supported {
        name: "byte_extract",
        flags: 0,
        setup: byte::byte_extract,
    },
    Supported {
        name: "byte_math",
        flags: 0,
        setup: byte::byte_math,
    },
    Supported {
        name: "bsize",
        flags: 0,
        setup: byte::bsize,
    },
    // ip
    Supported {
        name: "ttl",
        flags: 0,
        setup: ip::ttl,
    },
    Supported {
        name: "ipopts",
        flags: 0,
        setup: ip::ipopts,
    },
    Supported {
        name: "ip_proto",
        flags: QUOTES_OPTIONAL,
        setup: ip::ip_proto,
    },
    Supported {
        name: "sameip",
        flags: NOOPT,
        setup: ip::sameip,
    },
    Supported {
        name: "fragbits",
        flags: 0,
        setup: ip::fragbits,
    },
    Supported {
        name: "id",
        flags: 0,
        setup: ip::id,
    },
    Supported {
        name: "tos",
        flags: QUOTES_OPTIONAL | HANDLE_NEGATION,
        setup: ip::tos,
    },
    Supported {
        name: "fragoffset",
        flags: 0,
        setup: ip::fragoffset,
    },
    // checksums
    Supported {
        name: "ipv4-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Ipv4, "ipv4-csum"),
    },
    Supported {
        name: "tcpv4-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Tcpv4, "tcpv4-csum"),
    },
    Supported {
        name: "tcpv6-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Tcpv6, "tcpv6-csum"),
    },
    Supported {
        name: "udpv4-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Udpv4, "udpv4-csum"),
    },
    Supported {
        name: "udpv6-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Udpv6, "udpv6-csum"),
    },
    Supported {
        name: "icmpv4-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Icmpv4, "icmpv4-csum"),
    },
    Supported {
        name: "icmpv6-csum",
        flags: 0,
        setup: |c, v| csum::csum(c, v, CsumKind::Icmpv6, "icmpv6-csum"),
    },
    // tcp
    Supported {
        name: "tcp.flags",
        flags: 0,
        setup: tcp::flags,
    },
    Supported {
        name: "flags",
        flags: 0,
        setup: tcp::flags,
    },
    Supported {
        name: "tcp.window",
        flags: 0,
        setup: tcp::window,
    },
    Supported {
        name: "window",
        flags: 0,
        setup: tcp::window,
    },
    Supported {
        name: "tcp.ack",
        flags: 0,
        setup: tcp::ack,
    },
    Supported {
        name: "ack",
        flags: 0,
        setup: tcp::ack,
    },
    Supported {
        name: "tcp.seq",
        flags: 0,
        setup: tcp::seq,
    },
    Supported {
        name: "seq",
        flags: 0,
        setup: tcp::seq,
    },
    Supported {
        name: "tcp.mss",
        flags: 0,
        setup: tcp::mss,
    },
    // icmp
    Supported {
        name: "itype",
        flags: 0,
        setup: icmp::itype,
    },
    Supported {
        name: "icode",
        flags: 0,
        setup: icmp::icode,
    },
    Supported {
        name: "icmp_id",
        flags: 0,
        setup: icmp::icmp_id,
    },
    Supported {
        name: "icmp_seq",
        flags: 0,
        setup: icmp::icmp_seq,
    },
];

/// Keywords Suricata 7.0.10 knows that ravn does not implement (a rule using one is skipped
/// with `unsupported keyword '...'`). `sid` and `requires` are handled by the parser itself.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "app-layer-protocol",
    "ip.src",
    "ip.dst",
    "icmpv4.hdr",
    "uricontent",
    "replace",
    "geoip",
    "ftpbounce",
    "rpc",
    "flowvar",
    "flowint",
    "pktvar",
    "noalert",
    "alert",
    "dataset",
    "datarep",
    "decode-event",
    "nfq_set_mark",
    "frame",
    "flow.age",
    "tls.version",
    "tls.subject",
    "tls.issuerdn",
    "tls_cert_notbefore",
    "tls_cert_notafter",
    "tls_cert_expired",
    "tls_cert_valid",
    "tls.fingerprint",
    "tls_store",
    "tls.cert_chain_len",
    "http_cookie",
    "http.cookie",
    "http_method",
    "http.method",
    "http.protocol",
    "http.start",
    "urilen",
    "http_client_body",
    "http.request_body",
    "http_server_body",
    "http.response_body",
    "http_header",
    "http.header",
    "http.header_names",
    "http.accept",
    "http.accept_lang",
    "http.accept_enc",
    "http.connection",
    "http.content_len",
    "http.content_type",
    "http.location",
    "http.server",
    "http.referer",
    "http_raw_header",
    "http.header.raw",
    "http_uri",
    "http.uri",
    "http.uri.raw",
    "http_raw_uri",
    "http_stat_msg",
    "http.stat_msg",
    "http_stat_code",
    "http.stat_code",
    "http_user_agent",
    "http.user_agent",
    "http_host",
    "http.host",
    "http_raw_host",
    "http.host.raw",
    "http.request_line",
    "http.response_line",
    "nfs_procedure",
    "nfs.version",
    "ssh.proto",
    "ssh.protoversion",
    "ssh.software",
    "ssh.softwareversion",
    "ssh.hassh",
    "ssh.hassh.server",
    "ssh.hassh.string",
    "ssh.hassh.server.string",
    "ssl_version",
    "ssl_state",
    "file.data",
    "app-layer-event",
    "http2.frametype",
    "http2.errorcode",
    "http2.priority",
    "http2.window",
    "http2.size_update",
    "http2.settings",
    "http2.header_name",
    "http.request_header",
    "http.response_header",
    "dcerpc.iface",
    "dcerpc.opnum",
    "dcerpc.stub_data",
    "smb.named_pipe",
    "smb.share",
    "smb.ntlmssp_user",
    "smb.ntlmssp_domain",
    "asn1",
    "engine-event",
    "stream-event",
    "config",
    "filename",
    "file.name",
    "fileext",
    "filestore",
    "filemagic",
    "file.magic",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesize",
    "l3_proto",
    "lua",
    "iprep",
    "dns.query",
    "dns.opcode",
    "tls.sni",
    "tls.certs",
    "tls.cert_issuer",
    "tls.cert_subject",
    "tls.cert_serial",
    "tls.cert_fingerprint",
    "tls.random_time",
    "tls.random_bytes",
    "tls.random",
    "ja3.hash",
    "ja3.string",
    "ja3s.hash",
    "ja3s.string",
    "modbus",
    "cip_service",
    "enip_command",
    "dnp3.data",
    "dnp3_func",
    "dnp3_ind",
    "dnp3_obj",
    "base64_decode",
    "base64_data",
    "krb5_err_code",
    "krb5_msg_type",
    "krb5.cname",
    "krb5.sname",
    "krb5.ticket_encryption",
    "sip.method",
    "sip.uri",
    "sip.protocol",
    "sip.stat_code",
    "sip.stat_msg",
    "sip.request_line",
    "sip.response_line",
    "rfb.secresult",
    "rfb.sectype",
    "rfb.name",
    "template2",
    "ipv4.hdr",
    "ipv6.hdr",
    "icmpv6.hdr",
    "icmpv6.mtu",
    "tcp.hdr",
    "udp.hdr",
    "ftpdata_command",
    "dhcp.leasetime",
    "dhcp.rebinding_time",
    "dhcp.renewal_time",
    "snmp.usm",
    "snmp.version",
    "snmp.community",
    "snmp.pdu_type",
    "mqtt.type",
    "mqtt.flags",
    "mqtt.qos",
    "mqtt.protocol_version",
    "mqtt.reason_code",
    "mqtt.connect.flags",
    "mqtt.connect.clientid",
    "mqtt.connect.username",
    "mqtt.connect.password",
    "mqtt.connect.willtopic",
    "mqtt.connect.willmessage",
    "mqtt.connack.session_present",
    "mqtt.publish.topic",
    "mqtt.publish.message",
    "mqtt.subscribe.topic",
    "mqtt.unsubscribe.topic",
    "quic.version",
    "quic.sni",
    "quic.ua",
    "quic.cyu.hash",
    "quic.cyu.string",
    "bypass",
    "prefilter",
    "compress_whitespace",
    "strip_whitespace",
    "strip_pseudo_headers",
    "to_md5",
    "to_sha1",
    "to_sha256",
    "dotprefix",
    "pcrexform",
    "url_decode",
    "xor",
    "header_lowercase",
    "to_lowercase",
    "to_uppercase",
    "ike.exchtype",
    "ike.init_spi",
    "ike.resp_spi",
    "ike.vendor",
    "ike.chosen_sa_attribute",
    "ike.key_exchange_payload_length",
    "ike.nonce_payload_length",
    "ike.nonce_payload",
    "ike.key_exchange_payload",
    "ja4.hash",
    "file_data",
    "dns_query",
    "tls_sni",
    "tls_cert_issuer",
    "tls_cert_subject",
    "tls_cert_serial",
    "tls_cert_fingerprint",
    "ja3_hash",
    "ja3_string",
    "http_request_line",
    "http_response_line",
    "http_header_names",
    "http_accept",
    "http_accept_lang",
    "http_accept_enc",
    "http_connection",
    "http_content_len",
    "http_content_type",
    "http_referer",
    "http_protocol",
    "http_start",
    "ssh_proto",
    "ssh_software",
    "krb5_cname",
    "krb5_sname",
    "smb_named_pipe",
    "smb_share",
    "dnp3_data",
    "dce_iface",
    "dce_opnum",
    "dce_stub_data",
    "http.uri.normalized",
    "luajit",
];

fn table() -> &'static HashMap<String, Entry> {
    static T: OnceLock<HashMap<String, Entry>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = HashMap::with_capacity(SUPPORTED.len() + UNSUPPORTED.len());
        for s in SUPPORTED {
            m.insert(s.name.to_ascii_lowercase(), Entry::Supported(s));
        }
        for &u in UNSUPPORTED {
            m.entry(u.to_ascii_lowercase())
                .or_insert(Entry::Unsupported(u));
        }
        m
    })
}

/// Look a keyword up, case-insensitively. `None`: Suricata does not know it either.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Entry> {
    let mut buf = [0u8; 64];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let key = std::str::from_utf8(&buf[..name.len()]).ok()?;
    table().get(key)
}

/// Is `name` a keyword Suricata 7.0.10 knows (supported by ravn or not)?
pub fn is_known_keyword(name: &str) -> bool {
    lookup(name.as_bytes()).is_some()
        || name.eq_ignore_ascii_case("sid")
        || name.eq_ignore_ascii_case("requires")
}

/// Is `name` a keyword ravn implements?
pub fn is_supported_keyword(name: &str) -> bool {
    matches!(lookup(name.as_bytes()), Some(Entry::Supported(_))) || name.eq_ignore_ascii_case("sid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry() {
        assert!(is_supported_keyword("content"));
        assert!(is_supported_keyword("CONTENT"));
        assert!(is_supported_keyword("flags"));
        assert!(is_supported_keyword("tcp.flags"));
        assert!(is_supported_keyword("flow"));
        assert!(is_supported_keyword("PCRE"));
        assert!(!is_supported_keyword("flowint"));
        assert!(is_known_keyword("flowint"));
        assert!(is_known_keyword("http.uri"));
        assert!(is_known_keyword("http_uri"));
        assert!(is_known_keyword("file_data"));
        assert!(is_known_keyword("dns_query"));
        assert!(!is_known_keyword("foo"));
        assert!(!is_known_keyword("ja3s_hash"));
        // no name is both supported and in the unsupported list
        for s in SUPPORTED {
            assert!(
                !UNSUPPORTED.iter().any(|u| u.eq_ignore_ascii_case(s.name)),
                "{}",
                s.name
            );
        }
    }
}
