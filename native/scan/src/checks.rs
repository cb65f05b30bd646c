//! The checks of `_validators` (and of the python-stdnum and `ipaddress` functions they
//! call), over skeleton text. tests/redaction/test_native.py holds each equal to the
//! library it replays.

use crate::regex::{Error, Pattern};

const LETTER: u8 = 0x01;
const SCRIPT: u8 = 0x03;
const RUN_SEPARATORS: &[u8] = b"+().-/ ";

/// The patterns `_validators.PATTERNS` names, compiled.
pub struct CheckPatterns {
    pub card_shape: Pattern,
    pub maestro_iin: Pattern,
    pub card_iin: Pattern,
    pub card_word: Pattern,
    pub version_word: Pattern,
    pub bsn_written: Pattern,
    pub top_level_domain: Pattern,
    pub version_word_reach: usize,
    pub nino_bad_prefixes: Vec<Vec<u8>>,
    /// Each IBAN country's BBAN structure (stdnum's registry) and the BBAN's length (each
    /// structure has one), by the country's two letters (A-Z: 0-25, as a base-26 number).
    pub iban_structures: Vec<Option<(Pattern, usize)>>,
}

pub fn run_digits(run: &[u8]) -> Vec<u8> {
    run.iter()
        .copied()
        .filter(|b| !RUN_SEPARATORS.contains(b))
        .collect()
}

/// `email_bounds`: the address inside an e-mail candidate, or None.
pub fn email_bounds(
    candidate: &[u8],
    patterns: &CheckPatterns,
) -> Result<Option<(usize, usize)>, Error> {
    let Some(at) = candidate.iter().rposition(|&b| b == b'@') else {
        return Ok(None);
    };
    let (local, domain) = (&candidate[..at], &candidate[at + 1..]);
    let mut start = 0;
    let trimmed_from = local
        .iter()
        .position(|&b| b != SCRIPT)
        .unwrap_or(local.len());
    let trimmed = &local[trimmed_from..];
    if !trimmed.is_empty() && !trimmed.contains(&SCRIPT) && !trimmed.contains(&LETTER) {
        start = trimmed_from;
    }
    let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    let whole_last = labels[labels.len() - 1];
    let mut last = whole_last;
    if last.first().is_some_and(|b| b.is_ascii_alphabetic()) {
        let kept = last
            .iter()
            .rposition(|&b| b != SCRIPT)
            .map_or(0, |at| at + 1);
        last = &last[..kept];
    }
    if start == at || labels.len() < 2 || labels[..labels.len() - 1].iter().any(|l| l.is_empty()) {
        return Ok(None);
    }
    if !patterns.top_level_domain.whole(last)? {
        return Ok(None);
    }
    Ok(Some((
        start,
        candidate.len() - (whole_last.len() - last.len()),
    )))
}

/// `is_nino`: HMRC's rules for a National Insurance number.
pub fn is_nino(candidate: &[u8], patterns: &CheckPatterns) -> bool {
    let compact: Vec<u8> = candidate
        .iter()
        .filter(|&&b| b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() != 9 {
        return false;
    }
    let prefix = &compact[..2];
    !b"DFIQUV".contains(&prefix[0])
        && !b"DFIOQUV".contains(&prefix[1])
        && !patterns.nino_bad_prefixes.iter().any(|bad| bad == prefix)
        && compact[2..8].iter().all(u8::is_ascii_digit)
        && b"ABCD".contains(&compact[8])
}

/// stdnum.luhn.is_valid for ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `version_introduced`: the text before a number with dots introduces a version.
pub fn version_introduced(preceding: &[u8], patterns: &CheckPatterns) -> Result<bool, Error> {
    let tail = &preceding[preceding.len().saturating_sub(patterns.version_word_reach)..];
    patterns.version_word.found_in(tail)
}

/// `is_ipv4`: a dotted quad that `ipaddress.IPv4Address` accepts, not introduced as a version.
pub fn is_ipv4(
    candidate: &[u8],
    preceding: &[u8],
    patterns: &CheckPatterns,
) -> Result<bool, Error> {
    if version_introduced(preceding, patterns)? {
        return Ok(false);
    }
    Ok(ipv4_int(candidate).is_some())
}

/// `ipaddress.IPv4Address(text)` as an integer, or None where it raises.
fn ipv4_int(text: &[u8]) -> Option<u32> {
    let octets: Vec<&[u8]> = text.split(|&b| b == b'.').collect();
    if octets.len() != 4 {
        return None;
    }
    let mut address = 0u32;
    for octet in octets {
        if octet.is_empty() || octet.len() > 3 || !octet.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if octet != b"0" && octet[0] == b'0' {
            return None;
        }
        let value: u32 = octet.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0'));
        if value > 255 {
            return None;
        }
        address = address << 8 | value;
    }
    Some(address)
}

/// `is_ipv6`: `ipaddress.IPv6Address` accepts it, and it is neither "::" nor "::1".
pub fn is_ipv6(candidate: &[u8]) -> bool {
    match ipv6_int(candidate) {
        Some(address) => address > 1,
        None => false,
    }
}

/// `ipaddress._BaseV6._ip_int_from_string`, step for step.
fn ipv6_int(text: &[u8]) -> Option<u128> {
    const HEXTETS: usize = 8;
    if text.is_empty() || text.contains(&b'%') || text.contains(&b'/') {
        return None;
    }
    let mut parts: Vec<Vec<u8>> = text.split(|&b| b == b':').map(<[u8]>::to_vec).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts[parts.len() - 1].contains(&b'.') {
        let ipv4 = ipv4_int(&parts.pop().expect("three parts"))?;
        parts.push(format!("{:x}", (ipv4 >> 16) & 0xFFFF).into_bytes());
        parts.push(format!("{:x}", ipv4 & 0xFFFF).into_bytes());
    }
    if parts.len() > HEXTETS + 1 {
        return None;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return None;
            }
            skip_index = Some(i);
        }
    }
    let (parts_hi, parts_lo, parts_skipped) = if let Some(skip) = skip_index {
        let mut hi = skip;
        let mut lo = parts.len() - skip - 1;
        if parts[0].is_empty() {
            hi -= 1;
            if hi > 0 {
                return None;
            }
        }
        if parts[parts.len() - 1].is_empty() {
            lo -= 1;
            if lo > 0 {
                return None;
            }
        }
        if HEXTETS < hi + lo + 1 {
            return None;
        }
        (hi, lo, HEXTETS - (hi + lo))
    } else {
        if parts.len() != HEXTETS || parts[0].is_empty() || parts[parts.len() - 1].is_empty() {
            return None;
        }
        (parts.len(), 0, 0)
    };
    let mut address = 0u128;
    for part in &parts[..parts_hi] {
        address = address << 16 | u128::from(hextet(part)?);
    }
    address <<= 16 * parts_skipped;
    for part in &parts[parts.len() - parts_lo..] {
        address = address << 16 | u128::from(hextet(part)?);
    }
    Some(address)
}

fn hextet(part: &[u8]) -> Option<u16> {
    if part.is_empty() || part.len() > 4 || !part.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(part).ok()?, 16).ok()
}

pub fn is_ssn(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// `checksummed`: the identifiers with a check digit, strongest check first.
pub fn checksummed(
    candidate: &[u8],
    digits: &[u8],
    preceding: &[u8],
    patterns: &CheckPatterns,
) -> Result<Option<&'static str>, Error> {
    let count = digits.len();
    // Every check below rejects a character that is not a digit (stdnum's isdigits, the
    // card's shape, the BSN's), and the checksums read digits only.
    if !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    if count == 15 && nir(digits) {
        return Ok(Some("FR_NIR"));
    }
    let aadhaar_valid = count == 12 && aadhaar(digits);
    if aadhaar_valid && !patterns.card_word.found_in(preceding)? {
        return Ok(Some("IN_AADHAAR"));
    }
    // The same conjunction as Python's, the cheapest test first.
    if (12..=19).contains(&count)
        && luhn(digits)
        && patterns.card_shape.whole(candidate)?
        && (if count == 12 {
            &patterns.maestro_iin
        } else {
            &patterns.card_iin
        })
        .starts(digits)?
    {
        return Ok(Some("CREDIT_CARD"));
    }
    if aadhaar_valid {
        return Ok(Some("IN_AADHAAR"));
    }
    if count == 11 && idnr(digits) {
        return Ok(Some("DE_TAX_ID"));
    }
    if count == 9 && patterns.bsn_written.whole(candidate)? && bsn(digits) {
        return Ok(Some("NL_BSN"));
    }
    Ok(None)
}

fn value_of(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |v, d| v * 10 + u64::from(d - b'0'))
}

/// stdnum.fr.nir.is_valid for fifteen digits.
pub fn nir(digits: &[u8]) -> bool {
    97 - value_of(&digits[..13]) % 97 == value_of(&digits[13..])
}

const VERHOEFF_MULTIPLY: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_PERMUTE: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// stdnum.in_.aadhaar.is_valid for twelve digits.
fn aadhaar(digits: &[u8]) -> bool {
    if !(b'2'..=b'9').contains(&digits[0]) {
        return false;
    }
    if digits.iter().eq(digits.iter().rev()) {
        return false;
    }
    let mut check = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        check = VERHOEFF_MULTIPLY[check as usize]
            [VERHOEFF_PERMUTE[i % 8][(d - b'0') as usize] as usize];
    }
    check == 0
}

/// stdnum.de.idnr.is_valid for eleven digits.
fn idnr(digits: &[u8]) -> bool {
    if digits[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for d in &digits[..10] {
        counts[(d - b'0') as usize] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if repeated.len() != 1 || !(2..=3).contains(&repeated[0]) {
        return false;
    }
    let mut check = 5u32;
    for d in digits {
        let carried = if check == 0 { 10 } else { check };
        check = ((carried * 2) % 11 + u32::from(d - b'0')) % 10;
    }
    check == 1
}

/// stdnum.nl.bsn.is_valid for nine digits.
fn bsn(digits: &[u8]) -> bool {
    if value_of(digits) == 0 {
        return false;
    }
    let sum: i64 = digits[..8]
        .iter()
        .enumerate()
        .map(|(i, d)| (9 - i as i64) * i64::from(d - b'0'))
        .sum();
    (sum - i64::from(digits[8] - b'0')).rem_euclid(11) == 0
}
