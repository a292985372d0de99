//! Arbitrary bytes as a rules file and as a single rule: the parser and loader must never
//! panic, and a loaded rule must re-parse to the same result.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ravn::rules::{self, Classifications, Vars};

fn env() -> &'static (Vars, Classifications) {
    static E: OnceLock<(Vars, Classifications)> = OnceLock::new();
    E.get_or_init(|| {
        let mut v = Vars::suricata_default();
        // a looping variable and an empty one, to exercise the error paths
        v.set_address("LOOP_A", "[1.2.3.4,$LOOP_B]");
        v.set_address("LOOP_B", "!$LOOP_A");
        v.set_port("EMPTY_PORTS", "");
        let c = Classifications::parse(
            "config classification: trojan-activity,A Network Trojan was detected,1\n\
             config classification: bad-unknown,Potentially Bad Traffic,2\n",
        );
        (v, c)
    })
}

fuzz_target!(|data: &[u8]| {
    let (vars, classes) = env();
    // as a single rule
    let one = rules::parse_rule_bytes(data, vars, Some(classes));
    if let Ok(r) = &one {
        let again = rules::parse_rule(&r.text, vars, Some(classes));
        assert_eq!(
            again.as_ref().ok(),
            Some(r),
            "re-parsing a loaded rule changed it"
        );
    }
    let _ = rules::parse_rule_bytes(data, vars, None);
    // as a rules file
    let mut f = rules::load_bytes("fuzz.rules", data, vars, Some(classes));
    rules::dedup(std::slice::from_mut(&mut f));
    let _ = rules::check::report(std::slice::from_ref(&f));
    // addresses and ports on their own
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rules::parse_address(s, vars);
        let _ = rules::parse_port(s, vars);
    }
});
