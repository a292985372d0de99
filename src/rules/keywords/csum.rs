//! Checksum keywords: ipv4-csum tcpv4-csum tcpv6-csum udpv4-csum udpv6-csum icmpv4-csum
//! icmpv6-csum, each `valid` or `invalid`.

use crate::rules::ast::{CsumKind, Match};
use crate::rules::cnum::show;
use crate::rules::parse::{need, Ctx, Skip};

/// Suricata's DetectCsumParseArg: `valid` or `invalid`, in any case (quotes are refused by
/// the option parsing before this).
pub(crate) fn csum(
    ctx: &mut Ctx<'_>,
    v: Option<&[u8]>,
    kind: CsumKind,
    name: &'static str,
) -> Result<(), Skip> {
    let v = need(v, name)?;
    let t = v.trim_ascii();
    let valid = if t.eq_ignore_ascii_case(b"valid") {
        true
    } else if t.eq_ignore_ascii_case(b"invalid") {
        false
    } else {
        return Err(Skip::kw(name, format!("invalid value '{}'", show(v))));
    };
    ctx.require_packet = true;
    ctx.matches.push(Match::Csum { kind, valid });
    Ok(())
}
