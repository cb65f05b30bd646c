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
    run.iter().copied().filter(|b| !RUN_SEPARATORS.contains(b)).collect()
}

/// `email_bounds`: the address inside an e-mail candidate, or None.
pub fn email_bounds(candidate: &[u8], patterns: &CheckPatterns) -> Result<Option<(usize, usize)>, Error> {
    let Some(at) = candidate.iter().rposition(|&b| b == b'@') else {
        return Ok(None);
    };
    let (local, domain) = (&candidate[..at], &candidate[at + 1..]);
    let mut start = 0;
    let trimmed_from = local.iter().position(|&b| b != SCRIPT).unwrap_or(local.len());
    let trimmed = &local[trimmed_from..];
    if !trimmed.is_empty() && !trimmed.contains(&SCRIPT) && !trimmed.contains(&LETTER) {
        start = trimmed_from;
    }
    let labels: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    let whole_last = labels[labels.len() - 1];
    let mut last = whole_last;
    if last.first().is_some_and(|b| b.is_ascii_alphabetic()) {
        let kept = last.iter().rposition(|&b| b != SCRIPT).map_or(0, |at| at + 1);
        last = &last[..kept];
    }
    if start == at || labels.len() < 2 || labels[..labels.len() - 1].iter().any(|l| l.is_empty()) {
        return Ok(None);
    }
    if !patterns.top_level_domain.whole(last)? {
        return Ok(None);
    }
    Ok(Some((start, candidate.len() - (whole_last.len() - last.len()))))
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

/// `national_id_type`: Spanish DNI and NIE, Italian codice fiscale.
pub fn national_id_type(candidate: &[u8]) -> Option<&'static str> {
    let compact: Vec<u8> = candidate
        .iter()
        .filter(|&&b| b != b'-' && b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.is_empty() {
        return None;
    }
    if compact.len() == 15 {
        return nir_corsica(&compact).then_some("FR_NIR");
    }
    if compact.len() == 16 {
        return codice_fiscale(&compact).then_some("IT_FISCAL_CODE");
    }
    if b"XYZ".contains(&compact[0]) {
        return nie(&compact).then_some("ES_NIE");
    }
    dni(&compact).then_some("ES_NIF")
}

/// stdnum.util.isdigits: `^[0-9]+$`.
fn isdigits(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(u8::is_ascii_digit)
}

const DNI_LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";

fn dni_letter(digits: &[u8]) -> u8 {
    let value = digits.iter().fold(0u64, |value, d| (value * 10 + u64::from(d - b'0')) % 23);
    DNI_LETTERS[value as usize]
}

/// stdnum.es.dni.is_valid, on a compact upper-case candidate.
fn dni(number: &[u8]) -> bool {
    let (body, letter) = number.split_at(number.len() - 1);
    isdigits(body) && number.len() == 9 && dni_letter(body) == letter[0]
}

/// stdnum.es.nie.is_valid.
fn nie(number: &[u8]) -> bool {
    if number.len() < 2 || !isdigits(&number[1..number.len() - 1]) || !b"XYZ".contains(&number[0]) {
        return false;
    }
    if number.len() != 9 {
        return false;
    }
    let mut digits = vec![b'0' + (number[0] - b'X')];
    digits.extend_from_slice(&number[1..8]);
    dni_letter(&digits) == number[8]
}

const CF_ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];
const CF_DATE_DIGITS: &[u8] = b"LMNPQRSTUV";
const CF_MONTHS: &[u8] = b"ABCDEHLMPRST";

/// stdnum.it.codicefiscale.is_valid for 16 characters.
fn codice_fiscale(number: &[u8]) -> bool {
    let digit_or = |b: u8, letters: &[u8]| b.is_ascii_digit() || letters.contains(&b);
    let shape = number[..6].iter().all(u8::is_ascii_uppercase)
        && number[6..8].iter().all(|&b| digit_or(b, CF_DATE_DIGITS))
        && CF_MONTHS.contains(&number[8])
        && number[9..11].iter().all(|&b| digit_or(b, CF_DATE_DIGITS))
        && number[11].is_ascii_uppercase()
        && number[12..15].iter().all(|&b| digit_or(b, CF_DATE_DIGITS))
        && number[15].is_ascii_uppercase();
    if !shape {
        return false;
    }
    let code: u32 = number[..15]
        .iter()
        .enumerate()
        .map(|(n, &x)| {
            let index = if x.is_ascii_digit() { x - b'0' } else { x - b'A' } as usize;
            if n % 2 == 0 {
                CF_ODD[index]
            } else {
                index as u32
            }
        })
        .sum();
    if b'A' + (code % 26) as u8 != number[15] {
        return false;
    }
    let date_digit = |b: u8| -> u32 {
        if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            CF_DATE_DIGITS.iter().position(|&l| l == b).expect("checked above") as u32
        }
    };
    let day = (date_digit(number[9]) * 10 + date_digit(number[10])) % 40;
    let month = CF_MONTHS.iter().position(|&m| m == number[8]).expect("checked above") as u32 + 1;
    let mut year = date_digit(number[6]) * 10 + date_digit(number[7]) + 1900;
    if year < 1920 {
        year += 100;
    }
    day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// stdnum.iban.is_valid: the structure of the country's BBAN and the mod 97 check, and
/// the country's own check where stdnum has one (`asked`: left to stdnum itself).
pub enum Iban {
    Valid,
    Invalid,
    Ask,
}

pub fn iban(candidate: &[u8], patterns: &CheckPatterns, asked: &[Vec<u8>]) -> Result<Iban, Error> {
    let number: Vec<u8> = candidate
        .iter()
        .filter(|&&b| !b" -.".contains(&b))
        .map(|b| b.to_ascii_uppercase())
        .collect();
    // stdnum's checks in the cheapest order: they decide the same together.
    if number.len() < 4 || !number[..2].iter().all(u8::is_ascii_uppercase) {
        return Ok(Iban::Invalid);
    }
    let country = &number[..2];
    let index = usize::from(country[0] - b'A') * 26 + usize::from(country[1] - b'A');
    let Some((structure, length)) = &patterns.iban_structures[index] else {
        return Ok(Iban::Invalid);
    };
    if number.len() != 4 + length || !mod_97_is_one(number[4..].iter().chain(&number[..4])) {
        return Ok(Iban::Invalid);
    }
    if !structure.starts(&number[4..])? {
        return Ok(Iban::Invalid);
    }
    if asked.iter().any(|c| c == country) {
        return Ok(Iban::Ask);
    }
    let bban = &number[4..];
    let valid = match country {
        b"ES" => spanish_ccc(bban),
        b"NO" => norwegian_kontonr(bban),
        b"ME" => mod_97_is_one(bban.iter()),
        _ => true,
    };
    Ok(if valid { Iban::Valid } else { Iban::Invalid })
}

/// stdnum.iso7064.mod_97_10 over digits and letters (A = 10 ... Z = 35).
fn mod_97_is_one<'a>(chars: impl Iterator<Item = &'a u8>) -> bool {
    let mut check = 0u32;
    for &c in chars {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        check = if value >= 10 { (check * 100 + value) % 97 } else { (check * 10 + value) % 97 };
    }
    check == 1
}

/// stdnum.es.ccc.validate on an IBAN's BBAN.
fn spanish_ccc(number: &[u8]) -> bool {
    if number.len() != 20 || !isdigits(number) {
        return false;
    }
    let check = |digits: &[u8]| -> u8 {
        let sum: u64 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| u64::from(d - b'0') << i)
            .sum();
        let check = sum % 11;
        let digit = if check < 2 { check } else { 11 - check };
        // stdnum compares strings: "10" never equals one character.
        if digit == 10 {
            b'?'
        } else {
            b'0' + digit as u8
        }
    };
    let mut first = b"00".to_vec();
    first.extend_from_slice(&number[..8]);
    number[8] == check(&first) && number[9] == check(&number[10..])
}

/// stdnum.no.kontonr.validate on an IBAN's BBAN.
fn norwegian_kontonr(number: &[u8]) -> bool {
    let number = if number.starts_with(b"0000") { &number[4..] } else { number };
    if !isdigits(number) {
        return false;
    }
    match number.len() {
        7 => luhn(number),
        11 => {
            let weights = [6u64, 7, 8, 9, 4, 5, 6, 7, 8, 9];
            let sum: u64 = weights.iter().zip(number).map(|(w, d)| w * u64::from(d - b'0')).sum();
            let check = sum % 11;
            check < 10 && number[10] == b'0' + check as u8
        }
        _ => false,
    }
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
    sum % 10 == 0
}

/// `version_introduced`: the text before a number with dots introduces a version.
pub fn version_introduced(preceding: &[u8], patterns: &CheckPatterns) -> Result<bool, Error> {
    let tail = &preceding[preceding.len().saturating_sub(patterns.version_word_reach)..];
    patterns.version_word.found_in(tail)
}

/// `is_ipv4`: a dotted quad that `ipaddress.IPv4Address` accepts, not introduced as a version.
pub fn is_ipv4(candidate: &[u8], preceding: &[u8], patterns: &CheckPatterns) -> Result<bool, Error> {
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
    if (12..=19).contains(&count)
        && patterns.card_shape.whole(candidate)?
        && (if count == 12 { &patterns.maestro_iin } else { &patterns.card_iin }).starts(digits)?
        && luhn(digits)
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
fn nir(digits: &[u8]) -> bool {
    97 - value_of(&digits[..13]) % 97 == value_of(&digits[13..])
}

/// stdnum.fr.nir.is_valid for fifteen upper-case characters: a department of "2A" or "2B"
/// counts as 19 or 18 in the check.
fn nir_corsica(number: &[u8]) -> bool {
    let department = &number[5..7];
    let digits_around = isdigits(&number[..5]) && isdigits(&number[7..]);
    let replaced: &[u8] = match department {
        b"2A" => b"19",
        b"2B" => b"18",
        _ if isdigits(department) => department,
        _ => return false,
    };
    if !digits_around {
        return false;
    }
    let mut digits = number.to_vec();
    digits[5..7].copy_from_slice(replaced);
    nir(&digits)
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
        check = VERHOEFF_MULTIPLY[check as usize][VERHOEFF_PERMUTE[i % 8][(d - b'0') as usize] as usize];
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
