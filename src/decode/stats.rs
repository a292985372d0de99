//! Decoder counters, named and ordered like Suricata 7's `decoder.*` stats (see the stats
//! event in eve.json), plus ravn's own `tzsp.*` counters.
//!
//! Counters live in one array indexed by `Counter`; `for_each` visits them in Suricata's
//! order with dotted names ("decoder.event.ipv4.trunc_pkt") so an output can nest them.

use std::ops::Index;

macro_rules! counters {
    ($($id:ident => $name:literal,)*) => {
        /// One decoder counter. The discriminant is the position in Suricata's stats order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Counter {
            $($id,)*
        }

        impl Counter {
            /// Every counter, in output order.
            pub const ALL: &'static [Counter] = &[$(Counter::$id,)*];

            /// The dotted stats name, e.g. "decoder.event.ipv4.trunc_pkt".
            pub fn name(self) -> &'static str {
                NAMES[self as usize]
            }
        }

        const NAMES: &[&str] = &[$($name,)*];
    };
}

counters! {
    Pkts => "decoder.pkts",
    Bytes => "decoder.bytes",
    Invalid => "decoder.invalid",
    Ipv4 => "decoder.ipv4",
    Ipv6 => "decoder.ipv6",
    Ethernet => "decoder.ethernet",
    Arp => "decoder.arp",
    UnknownEthertype => "decoder.unknown_ethertype",
    Chdlc => "decoder.chdlc",
    Raw => "decoder.raw",
    Null => "decoder.null",
    Sll => "decoder.sll",
    Tcp => "decoder.tcp",
    Udp => "decoder.udp",
    Sctp => "decoder.sctp",
    Esp => "decoder.esp",
    Icmpv4 => "decoder.icmpv4",
    Icmpv6 => "decoder.icmpv6",
    Ppp => "decoder.ppp",
    Pppoe => "decoder.pppoe",
    Geneve => "decoder.geneve",
    Gre => "decoder.gre",
    Vlan => "decoder.vlan",
    VlanQinq => "decoder.vlan_qinq",
    VlanQinqinq => "decoder.vlan_qinqinq",
    Vxlan => "decoder.vxlan",
    Vntag => "decoder.vntag",
    Ieee8021ah => "decoder.ieee8021ah",
    Teredo => "decoder.teredo",
    Ipv4InIpv6 => "decoder.ipv4_in_ipv6",
    Ipv6InIpv6 => "decoder.ipv6_in_ipv6",
    Mpls => "decoder.mpls",
    AvgPktSize => "decoder.avg_pkt_size",
    MaxPktSize => "decoder.max_pkt_size",
    MaxMacAddrsSrc => "decoder.max_mac_addrs_src",
    MaxMacAddrsDst => "decoder.max_mac_addrs_dst",
    Erspan => "decoder.erspan",
    Nsh => "decoder.nsh",
    AfpacketTruncPkt => "decoder.event.afpacket.trunc_pkt",
    Ipv4PktTooSmall => "decoder.event.ipv4.pkt_too_small",
    Ipv4HlenTooSmall => "decoder.event.ipv4.hlen_too_small",
    Ipv4IplenSmallerThanHlen => "decoder.event.ipv4.iplen_smaller_than_hlen",
    Ipv4TruncPkt => "decoder.event.ipv4.trunc_pkt",
    Ipv4OptInvalid => "decoder.event.ipv4.opt_invalid",
    Ipv4OptInvalidLen => "decoder.event.ipv4.opt_invalid_len",
    Ipv4OptMalformed => "decoder.event.ipv4.opt_malformed",
    Ipv4OptPadRequired => "decoder.event.ipv4.opt_pad_required",
    Ipv4OptEolRequired => "decoder.event.ipv4.opt_eol_required",
    Ipv4OptDuplicate => "decoder.event.ipv4.opt_duplicate",
    Ipv4OptUnknown => "decoder.event.ipv4.opt_unknown",
    Ipv4WrongIpVersion => "decoder.event.ipv4.wrong_ip_version",
    Ipv4Icmpv6 => "decoder.event.ipv4.icmpv6",
    Ipv4FragPktTooLarge => "decoder.event.ipv4.frag_pkt_too_large",
    Ipv4FragOverlap => "decoder.event.ipv4.frag_overlap",
    Ipv4FragIgnored => "decoder.event.ipv4.frag_ignored",
    Icmpv4PktTooSmall => "decoder.event.icmpv4.pkt_too_small",
    Icmpv4UnknownType => "decoder.event.icmpv4.unknown_type",
    Icmpv4UnknownCode => "decoder.event.icmpv4.unknown_code",
    Icmpv4Ipv4TruncPkt => "decoder.event.icmpv4.ipv4_trunc_pkt",
    Icmpv4Ipv4UnknownVer => "decoder.event.icmpv4.ipv4_unknown_ver",
    Icmpv6UnknownType => "decoder.event.icmpv6.unknown_type",
    Icmpv6UnknownCode => "decoder.event.icmpv6.unknown_code",
    Icmpv6PktTooSmall => "decoder.event.icmpv6.pkt_too_small",
    Icmpv6Ipv6UnknownVersion => "decoder.event.icmpv6.ipv6_unknown_version",
    Icmpv6Ipv6TruncPkt => "decoder.event.icmpv6.ipv6_trunc_pkt",
    Icmpv6MldMessageWithInvalidHl => "decoder.event.icmpv6.mld_message_with_invalid_hl",
    Icmpv6UnassignedType => "decoder.event.icmpv6.unassigned_type",
    Icmpv6ExperimentationType => "decoder.event.icmpv6.experimentation_type",
    Ipv6PktTooSmall => "decoder.event.ipv6.pkt_too_small",
    Ipv6TruncPkt => "decoder.event.ipv6.trunc_pkt",
    Ipv6TruncExthdr => "decoder.event.ipv6.trunc_exthdr",
    Ipv6ExthdrDuplFh => "decoder.event.ipv6.exthdr_dupl_fh",
    Ipv6ExthdrUselessFh => "decoder.event.ipv6.exthdr_useless_fh",
    Ipv6ExthdrDuplRh => "decoder.event.ipv6.exthdr_dupl_rh",
    Ipv6ExthdrDuplHh => "decoder.event.ipv6.exthdr_dupl_hh",
    Ipv6ExthdrDuplDh => "decoder.event.ipv6.exthdr_dupl_dh",
    Ipv6ExthdrDuplAh => "decoder.event.ipv6.exthdr_dupl_ah",
    Ipv6ExthdrDuplEh => "decoder.event.ipv6.exthdr_dupl_eh",
    Ipv6ExthdrInvalidOptlen => "decoder.event.ipv6.exthdr_invalid_optlen",
    Ipv6WrongIpVersion => "decoder.event.ipv6.wrong_ip_version",
    Ipv6ExthdrAhResNotNull => "decoder.event.ipv6.exthdr_ah_res_not_null",
    Ipv6HopoptsUnknownOpt => "decoder.event.ipv6.hopopts_unknown_opt",
    Ipv6HopoptsOnlyPadding => "decoder.event.ipv6.hopopts_only_padding",
    Ipv6DstoptsUnknownOpt => "decoder.event.ipv6.dstopts_unknown_opt",
    Ipv6DstoptsOnlyPadding => "decoder.event.ipv6.dstopts_only_padding",
    Ipv6RhType0 => "decoder.event.ipv6.rh_type_0",
    Ipv6ZeroLenPadn => "decoder.event.ipv6.zero_len_padn",
    Ipv6FhNonZeroReservedField => "decoder.event.ipv6.fh_non_zero_reserved_field",
    Ipv6DataAfterNoneHeader => "decoder.event.ipv6.data_after_none_header",
    Ipv6UnknownNextHeader => "decoder.event.ipv6.unknown_next_header",
    Ipv6Icmpv4 => "decoder.event.ipv6.icmpv4",
    Ipv6FragPktTooLarge => "decoder.event.ipv6.frag_pkt_too_large",
    Ipv6FragOverlap => "decoder.event.ipv6.frag_overlap",
    Ipv6FragInvalidLength => "decoder.event.ipv6.frag_invalid_length",
    Ipv6FragIgnored => "decoder.event.ipv6.frag_ignored",
    Ipv6Ipv4InIpv6TooSmall => "decoder.event.ipv6.ipv4_in_ipv6_too_small",
    Ipv6Ipv4InIpv6WrongVersion => "decoder.event.ipv6.ipv4_in_ipv6_wrong_version",
    Ipv6Ipv6InIpv6TooSmall => "decoder.event.ipv6.ipv6_in_ipv6_too_small",
    Ipv6Ipv6InIpv6WrongVersion => "decoder.event.ipv6.ipv6_in_ipv6_wrong_version",
    TcpPktTooSmall => "decoder.event.tcp.pkt_too_small",
    TcpHlenTooSmall => "decoder.event.tcp.hlen_too_small",
    TcpInvalidOptlen => "decoder.event.tcp.invalid_optlen",
    TcpOptInvalidLen => "decoder.event.tcp.opt_invalid_len",
    TcpOptDuplicate => "decoder.event.tcp.opt_duplicate",
    UdpPktTooSmall => "decoder.event.udp.pkt_too_small",
    UdpHlenTooSmall => "decoder.event.udp.hlen_too_small",
    UdpHlenInvalid => "decoder.event.udp.hlen_invalid",
    UdpLenInvalid => "decoder.event.udp.len_invalid",
    SllPktTooSmall => "decoder.event.sll.pkt_too_small",
    EthernetPktTooSmall => "decoder.event.ethernet.pkt_too_small",
    PppPktTooSmall => "decoder.event.ppp.pkt_too_small",
    PppVjuPktTooSmall => "decoder.event.ppp.vju_pkt_too_small",
    PppIp4PktTooSmall => "decoder.event.ppp.ip4_pkt_too_small",
    PppIp6PktTooSmall => "decoder.event.ppp.ip6_pkt_too_small",
    PppWrongType => "decoder.event.ppp.wrong_type",
    PppUnsupProto => "decoder.event.ppp.unsup_proto",
    PppoePktTooSmall => "decoder.event.pppoe.pkt_too_small",
    PppoeWrongCode => "decoder.event.pppoe.wrong_code",
    PppoeMalformedTags => "decoder.event.pppoe.malformed_tags",
    GrePktTooSmall => "decoder.event.gre.pkt_too_small",
    GreWrongVersion => "decoder.event.gre.wrong_version",
    GreVersion0Recur => "decoder.event.gre.version0_recur",
    GreVersion0Flags => "decoder.event.gre.version0_flags",
    GreVersion0HdrTooBig => "decoder.event.gre.version0_hdr_too_big",
    GreVersion0MalformedSreHdr => "decoder.event.gre.version0_malformed_sre_hdr",
    GreVersion1Chksum => "decoder.event.gre.version1_chksum",
    GreVersion1Route => "decoder.event.gre.version1_route",
    GreVersion1Ssr => "decoder.event.gre.version1_ssr",
    GreVersion1Recur => "decoder.event.gre.version1_recur",
    GreVersion1Flags => "decoder.event.gre.version1_flags",
    GreVersion1NoKey => "decoder.event.gre.version1_no_key",
    GreVersion1WrongProtocol => "decoder.event.gre.version1_wrong_protocol",
    GreVersion1MalformedSreHdr => "decoder.event.gre.version1_malformed_sre_hdr",
    GreVersion1HdrTooBig => "decoder.event.gre.version1_hdr_too_big",
    VlanHeaderTooSmall => "decoder.event.vlan.header_too_small",
    VlanUnknownType => "decoder.event.vlan.unknown_type",
    VlanTooManyLayers => "decoder.event.vlan.too_many_layers",
    Ieee8021ahHeaderTooSmall => "decoder.event.ieee8021ah.header_too_small",
    VntagHeaderTooSmall => "decoder.event.vntag.header_too_small",
    VntagUnknownType => "decoder.event.vntag.unknown_type",
    IprawInvalidIpVersion => "decoder.event.ipraw.invalid_ip_version",
    LtnullPktTooSmall => "decoder.event.ltnull.pkt_too_small",
    LtnullUnsupportedType => "decoder.event.ltnull.unsupported_type",
    SctpPktTooSmall => "decoder.event.sctp.pkt_too_small",
    EspPktTooSmall => "decoder.event.esp.pkt_too_small",
    MplsHeaderTooSmall => "decoder.event.mpls.header_too_small",
    MplsPktTooSmall => "decoder.event.mpls.pkt_too_small",
    MplsBadLabelRouterAlert => "decoder.event.mpls.bad_label_router_alert",
    MplsBadLabelImplicitNull => "decoder.event.mpls.bad_label_implicit_null",
    MplsBadLabelReserved => "decoder.event.mpls.bad_label_reserved",
    MplsUnknownPayloadType => "decoder.event.mpls.unknown_payload_type",
    VxlanUnknownPayloadType => "decoder.event.vxlan.unknown_payload_type",
    GeneveUnknownPayloadType => "decoder.event.geneve.unknown_payload_type",
    ErspanHeaderTooSmall => "decoder.event.erspan.header_too_small",
    ErspanUnsupportedVersion => "decoder.event.erspan.unsupported_version",
    ErspanTooManyVlanLayers => "decoder.event.erspan.too_many_vlan_layers",
    DcePktTooSmall => "decoder.event.dce.pkt_too_small",
    ChdlcPktTooSmall => "decoder.event.chdlc.pkt_too_small",
    NshHeaderTooSmall => "decoder.event.nsh.header_too_small",
    NshUnsupportedVersion => "decoder.event.nsh.unsupported_version",
    NshBadHeaderLength => "decoder.event.nsh.bad_header_length",
    NshReservedType => "decoder.event.nsh.reserved_type",
    NshUnsupportedType => "decoder.event.nsh.unsupported_type",
    NshUnknownPayload => "decoder.event.nsh.unknown_payload",
    TooManyLayers => "decoder.too_many_layers",
    TzspPackets => "tzsp.packets",
    TzspMalformed => "tzsp.malformed",
    TzspUnknownEncapsulation => "tzsp.unknown_encapsulation",
    TzspUnsupportedType => "tzsp.unsupported_type",
    TzspFragmented => "tzsp.fragmented",
}

/// Number of counters.
pub const COUNTERS: usize = Counter::ALL.len();

/// The decoder's counters. `pkts`/`bytes` count frames as `Decoder::decode` returns them
/// (after TZSP decapsulation: the inner frame); `avg_pkt_size` is derived from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeStats {
    counts: [u64; COUNTERS],
}

impl Default for DecodeStats {
    fn default() -> Self {
        DecodeStats {
            counts: [0; COUNTERS],
        }
    }
}

impl Index<Counter> for DecodeStats {
    type Output = u64;
    fn index(&self, c: Counter) -> &u64 {
        &self.counts[c as usize]
    }
}

impl DecodeStats {
    pub fn new() -> DecodeStats {
        DecodeStats::default()
    }

    /// The value of one counter (`avg_pkt_size` computed as Suricata does: bytes / pkts).
    pub fn get(&self, c: Counter) -> u64 {
        match c {
            Counter::AvgPktSize => self[Counter::Bytes]
                .checked_div(self[Counter::Pkts])
                .unwrap_or(0),
            _ => self[c],
        }
    }

    /// The value of a counter by dotted name, e.g. "decoder.event.ipv4.trunc_pkt".
    pub fn get_by_name(&self, name: &str) -> Option<u64> {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.get(Counter::ALL[i]))
    }

    #[inline]
    pub(crate) fn inc(&mut self, c: Counter) {
        self.counts[c as usize] += 1;
    }

    #[inline]
    pub(crate) fn dec(&mut self, c: Counter) {
        let v = &mut self.counts[c as usize];
        *v = v.saturating_sub(1);
    }

    #[inline]
    pub(crate) fn add(&mut self, c: Counter, n: u64) {
        self.counts[c as usize] += n;
    }

    #[inline]
    pub(crate) fn max(&mut self, c: Counter, n: u64) {
        let v = &mut self.counts[c as usize];
        if n > *v {
            *v = n;
        }
    }

    /// Every counter with its dotted name, in Suricata's order, then ravn's `tzsp.*`.
    pub fn for_each(&self, mut f: impl FnMut(&str, u64)) {
        for &c in Counter::ALL {
            f(c.name(), self.get(c));
        }
    }

    /// Only the counters Suricata has (names starting with "decoder."), in its order: what
    /// fits the `stats.decoder` object of Suricata's EVE schema.
    pub fn for_each_suricata(&self, mut f: impl FnMut(&str, u64)) {
        for &c in Counter::ALL {
            if c.name().starts_with("decoder.") {
                f(c.name(), self.get(c));
            }
        }
    }

    /// Adds another set of counters into this one (`max_pkt_size` takes the larger).
    pub fn merge(&mut self, other: &DecodeStats) {
        for (i, v) in other.counts.iter().enumerate() {
            if i == Counter::MaxPktSize as usize {
                self.counts[i] = self.counts[i].max(*v);
            } else {
                self.counts[i] += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_ordered_like_suricata() {
        let mut seen = std::collections::HashSet::new();
        for &c in Counter::ALL {
            assert!(seen.insert(c.name()), "{}", c.name());
        }
        assert_eq!(Counter::ALL[0].name(), "decoder.pkts");
        assert_eq!(Counter::Ipv4TruncPkt.name(), "decoder.event.ipv4.trunc_pkt");
        assert_eq!(Counter::TooManyLayers.name(), "decoder.too_many_layers");
    }

    #[test]
    fn average_and_lookup() {
        let mut s = DecodeStats::new();
        s.add(Counter::Bytes, 1005);
        s.add(Counter::Pkts, 14);
        assert_eq!(s.get(Counter::AvgPktSize), 71);
        assert_eq!(s.get_by_name("decoder.avg_pkt_size"), Some(71));
        assert_eq!(s.get_by_name("nope"), None);
        let mut n = 0;
        s.for_each(|_, _| n += 1);
        assert_eq!(n, COUNTERS);
        let mut m = 0;
        s.for_each_suricata(|name, _| {
            assert!(name.starts_with("decoder."));
            m += 1
        });
        assert!(m < n);
    }
}
