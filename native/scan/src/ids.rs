//! The identity-document and account checks of `_validators` (stdnum's DNI, NIE,
//! codice fiscale, NIR with a Corsican department, IBAN), over skeleton text.
//! tests/redaction/test_native.py holds each equal to the library it replays.

use crate::checks::{luhn, nir, CheckPatterns};
use crate::regex::Error;

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
    let value = digits
        .iter()
        .fold(0u64, |value, d| (value * 10 + u64::from(d - b'0')) % 23);
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
            let index = if x.is_ascii_digit() {
                x - b'0'
            } else {
                x - b'A'
            } as usize;
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
            CF_DATE_DIGITS
                .iter()
                .position(|&l| l == b)
                .expect("checked above") as u32
        }
    };
    let day = (date_digit(number[9]) * 10 + date_digit(number[10])) % 40;
    let month = CF_MONTHS
        .iter()
        .position(|&m| m == number[8])
        .expect("checked above") as u32
        + 1;
    let mut year = date_digit(number[6]) * 10 + date_digit(number[7]) + 1900;
    if year < 1920 {
        year += 100;
    }
    day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
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
        check = if value >= 10 {
            (check * 100 + value) % 97
        } else {
            (check * 10 + value) % 97
        };
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
    let number = if number.starts_with(b"0000") {
        &number[4..]
    } else {
        number
    };
    if !isdigits(number) {
        return false;
    }
    match number.len() {
        7 => luhn(number),
        11 => {
            let weights = [6u64, 7, 8, 9, 4, 5, 6, 7, 8, 9];
            let sum: u64 = weights
                .iter()
                .zip(number)
                .map(|(w, d)| w * u64::from(d - b'0'))
                .sum();
            let check = sum % 11;
            check < 10 && number[10] == b'0' + check as u8
        }
        _ => false,
    }
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
