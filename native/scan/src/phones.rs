//! `_phones.PhoneValidator` and the replay of phonenumbers' parse + is_valid_number of
//! `_numbering.PhoneNumbers`, from the metadata `_numbering` extracts (`calling_code_data`,
//! `national_data`), fetched from Python once per calling code or region.

use crate::regex::{Error as RegexError, Pattern};
use pcre2::bytes::CaptureLocations;
use pyo3::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// parse's bounds: longest input, shortest and longest national significant number.
const MAX_INPUT: usize = 250;
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;
const SEPARATORS: &[u8] = b"+ ().-/";

pub enum Failure {
    Regex(RegexError),
    Python(PyErr),
}

impl From<RegexError> for Failure {
    fn from(error: RegexError) -> Self {
        Failure::Regex(error)
    }
}

impl From<PyErr> for Failure {
    fn from(error: PyErr) -> Self {
        Failure::Python(error)
    }
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Failure::Python(pyo3::exceptions::PyValueError::new_err(error))
    }
}

type PrefixData = (
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<usize>,
    Vec<usize>,
);
type RegionData = (Option<String>, bool, Vec<(usize, String)>);
type CallingCodeData = (Vec<RegionData>, bool, PrefixData);
type NationalData = (Option<String>, u32, PrefixData);

#[derive(PartialEq)]
enum Length {
    Possible,
    TooShort,
    TooLong,
    LocalOnly,
    Invalid,
}

/// `_NationalPrefix`: a region's national prefix as parse strips it.
struct NationalPrefix {
    prefix: Option<Pattern>,
    transform: Option<Vec<u8>>,
    general: Option<Pattern>,
    lengths: Vec<usize>,
    local_lengths: Vec<usize>,
}

impl NationalPrefix {
    fn new(
        (prefix, transform, general, lengths, local_lengths): PrefixData,
    ) -> Result<Self, String> {
        Ok(NationalPrefix {
            prefix: prefix.as_deref().map(Pattern::new).transpose()?,
            transform: transform.map(String::into_bytes),
            general: general.as_deref().map(Pattern::new).transpose()?,
            lengths,
            local_lengths,
        })
    }

    /// `strip`: `_maybe_strip_national_prefix_carrier_code`'s number.
    fn strip<'n>(&self, number: &'n [u8]) -> Result<Cow<'n, [u8]>, RegexError> {
        let Some(prefix) = &self.prefix else {
            return Ok(Cow::Borrowed(number));
        };
        if number.is_empty() {
            return Ok(Cow::Borrowed(number));
        }
        let transform = self.transform.as_deref().filter(|t| !t.is_empty());
        let found = prefix.starts_groups(number, |locations| {
            let end = locations.get(0).expect("matched").1;
            let groups = locations.len() - 1;
            let last_unset = groups == 0 || locations.get(groups).is_none();
            match transform {
                Some(transform) if !last_unset => {
                    let mut out = expand(transform, locations, number);
                    out.extend_from_slice(&number[end..]);
                    Cow::Owned(out)
                }
                _ => Cow::Borrowed(&number[end..]),
            }
        })?;
        let Some(stripped) = found else {
            return Ok(Cow::Borrowed(number));
        };
        let viable = self.viable(number)?;
        Ok(if viable && !self.viable(&stripped)? {
            Cow::Borrowed(number)
        } else {
            stripped
        })
    }

    fn strip_kept<'n>(&self, number: &'n [u8]) -> Result<Cow<'n, [u8]>, RegexError> {
        let stripped = self.strip(number)?;
        Ok(match self.length(&stripped) {
            Length::Possible | Length::TooLong => stripped,
            _ => Cow::Borrowed(number),
        })
    }

    fn viable(&self, number: &[u8]) -> Result<bool, RegexError> {
        match &self.general {
            Some(general) => general.whole(number),
            None => Ok(false),
        }
    }

    fn length(&self, number: &[u8]) -> Length {
        let length = number.len();
        if self.local_lengths.contains(&length) {
            return Length::LocalOnly;
        }
        // phonenumbers reads a region's lengths unchecked: every region has some.
        if self.lengths.is_empty() {
            return Length::Invalid;
        }
        if length == self.lengths[0] {
            return Length::Possible;
        }
        if length < self.lengths[0] {
            return Length::TooShort;
        }
        if length > self.lengths[self.lengths.len() - 1] {
            return Length::TooLong;
        }
        if self.lengths[1..].contains(&length) {
            Length::Possible
        } else {
            Length::Invalid
        }
    }
}

/// `re.sub`'s expansion of a transform rule ("9\1"): its groups, by number.
fn expand(template: &[u8], locations: &CaptureLocations, subject: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < template.len() {
        if template[i] == b'\\' && i + 1 < template.len() && template[i + 1].is_ascii_digit() {
            let group = (template[i + 1] - b'0') as usize;
            if let Some((start, end)) = locations.get(group) {
                out.extend_from_slice(&subject[start..end]);
            }
            i += 2;
        } else {
            out.push(template[i]);
            i += 1;
        }
    }
    out
}

/// `_Region`: one region of a calling code as region_code_for_number and is_valid_number
/// read it.
struct Region {
    leading_digits: Option<Pattern>,
    owned: bool,
    /// The pattern for each number length (by index), where the region has one.
    by_length: Vec<Option<Pattern>>,
}

impl Region {
    fn new((leading, owned, by_length): RegionData) -> Result<Self, String> {
        Ok(Region {
            leading_digits: leading.as_deref().map(Pattern::new).transpose()?,
            owned,
            by_length: {
                let mut patterns: Vec<Option<Pattern>> = (0..=MAX_NSN).map(|_| None).collect();
                for (length, source) in by_length {
                    if length <= MAX_NSN {
                        patterns[length] = Some(Pattern::new(&source)?);
                    }
                }
                patterns
            },
        })
    }

    fn has_type(&self, nsn: &[u8]) -> Result<bool, RegexError> {
        match self.by_length.get(nsn.len()) {
            Some(Some(pattern)) => pattern.whole(nsn),
            _ => Ok(false),
        }
    }

    fn valid(&self, nsn: &[u8]) -> Result<bool, RegexError> {
        Ok(self.owned && self.has_type(nsn)?)
    }
}

/// `_CallingCode`.
struct CallingCode {
    regions: Vec<Region>,
    /// For each region, the alternation of its leading digits and those of the regions
    /// right after it that have some (one pattern call where `valid` would make one per
    /// region): its `r<index>` group tells the first whose leading digits match.
    leading: Vec<Option<Pattern>>,
    single: bool,
    prefix: NationalPrefix,
}

impl CallingCode {
    fn new((regions, single, prefix): CallingCodeData) -> Result<Self, String> {
        let sources: Vec<Option<String>> = regions.iter().map(|region| region.0.clone()).collect();
        let mut leading: Vec<Option<Pattern>> = (0..sources.len()).map(|_| None).collect();
        let mut index = 0;
        while index < sources.len() {
            let end = (index..sources.len())
                .find(|&i| sources[i].is_none())
                .unwrap_or(sources.len());
            if end > index {
                let alternation = (index..end)
                    .map(|i| format!("(?<r{i}>{})", sources[i].as_deref().expect("in a block")))
                    .collect::<Vec<_>>()
                    .join("|");
                leading[index] = Some(Pattern::new(&alternation)?);
            }
            index = end.max(index + 1);
        }
        Ok(CallingCode {
            regions: regions
                .into_iter()
                .map(Region::new)
                .collect::<Result<_, _>>()?,
            leading,
            single,
            prefix: NationalPrefix::new(prefix)?,
        })
    }

    fn valid(&self, national: &[u8], prefix: &NationalPrefix) -> Result<bool, RegexError> {
        let nsn = prefix.strip_kept(national)?;
        if !(MIN_NSN..=MAX_NSN).contains(&nsn.len()) {
            return Ok(false);
        }
        if self.single {
            return match self.regions.first() {
                Some(region) => region.valid(&nsn),
                None => Ok(false),
            };
        }
        let mut index = 0;
        while index < self.regions.len() {
            let region = &self.regions[index];
            let Some(block) = &self.leading[index] else {
                if region.has_type(&nsn)? {
                    return Ok(region.owned);
                }
                index += 1;
                continue;
            };
            // The regions from `index` on that have leading digits: the first that matches.
            let names = block.full().capture_names();
            let first = block.starts_groups(&nsn, |locations| {
                (1..names.len())
                    .find(|&group| locations.get(group).is_some())
                    .and_then(|group| {
                        names[group]
                            .as_deref()
                            .and_then(|name| name[1..].parse::<usize>().ok())
                    })
            })?;
            match first {
                Some(Some(matched)) => return self.regions[matched].valid(&nsn),
                _ => {
                    index += 1;
                    while index < self.regions.len() && self.regions[index].leading_digits.is_some()
                    {
                        index += 1;
                    }
                }
            }
        }
        Ok(false)
    }
}

/// `_NationalRegion`.
struct NationalRegion {
    idd: Option<Pattern>,
    calling_code: u32,
    calling_code_digits: Vec<u8>,
    prefix: NationalPrefix,
}

impl NationalRegion {
    fn new((idd, calling_code, prefix): NationalData) -> Result<Self, String> {
        Ok(NationalRegion {
            idd: idd.as_deref().map(Pattern::new).transpose()?,
            calling_code,
            calling_code_digits: calling_code.to_string().into_bytes(),
            prefix: NationalPrefix::new(prefix)?,
        })
    }
}

/// `PhoneValidator` with its `PhoneNumbers`.
pub struct Phones {
    trunk: Pattern,
    bare: Pattern,
    trunk_names: Vec<Option<String>>,
    bare_names: Vec<Option<String>>,
    /// Whether each calling code (by index, below 1000) is one phonenumbers knows.
    known_codes: Vec<bool>,
    /// Each calling code's metadata once fetched, by index.
    codes: Mutex<Vec<Option<Arc<CallingCode>>>>,
    regions: Mutex<HashMap<String, Arc<NationalRegion>>>,
    /// `_numbering.calling_code_data`, `_numbering.national_data`, `_numbering.is_valid`.
    calling_code_data: Py<PyAny>,
    national_data: Py<PyAny>,
    parse: Py<PyAny>,
}

impl Phones {
    pub fn new(
        trunk: &str,
        bare: &str,
        known_codes: Vec<u32>,
        calling_code_data: Py<PyAny>,
        national_data: Py<PyAny>,
        parse: Py<PyAny>,
    ) -> Result<Self, String> {
        let trunk = Pattern::new(trunk)?;
        let bare = Pattern::new(bare)?;
        Ok(Phones {
            trunk_names: trunk.full().capture_names().to_vec(),
            bare_names: bare.full().capture_names().to_vec(),
            trunk,
            bare,
            known_codes: (0..1000).map(|code| known_codes.contains(&code)).collect(),
            codes: Mutex::new((0..1000).map(|_| None).collect()),
            regions: Mutex::new(HashMap::new()),
            calling_code_data,
            national_data,
            parse,
        })
    }

    /// `PhoneValidator.is_national`.
    pub fn is_national(&self, candidate: &[u8], digits: &[u8]) -> Result<bool, Failure> {
        let (pattern, names) = if digits[0] == b'0' {
            (&self.trunk, &self.trunk_names)
        } else {
            (&self.bare, &self.bare_names)
        };
        let name = pattern.whole_groups(digits, |locations| {
            (1..names.len())
                .filter(|&group| locations.get(group).is_some())
                .filter_map(|group| names[group].clone())
                .next_back()
        })?;
        let Some(Some(name)) = name else {
            return Ok(false);
        };
        self.is_valid_national(candidate, &name[..name.len() - 2])
    }

    /// `PhoneNumbers.is_valid_international`.
    pub fn is_international(&self, text: &[u8]) -> Result<bool, Failure> {
        if text.first() != Some(&b'+') || !plain(text) || text.len() > MAX_INPUT {
            return self.ask(text, None);
        }
        let digits = strip_separators(text);
        Ok(digits.len() >= 3 && self.international(&digits)?)
    }

    pub fn is_valid_national(&self, text: &[u8], region: &str) -> Result<bool, Failure> {
        if text.first() == Some(&b'+') || !plain(text) || text.len() > MAX_INPUT {
            return self.ask(text, Some(region));
        }
        let digits = strip_separators(text);
        if digits.len() < 3 {
            return self.ask(text, Some(region));
        }
        let region = self.region(region)?;
        self.national(&digits, &region)
    }

    fn ask(&self, text: &[u8], region: Option<&str>) -> Result<bool, Failure> {
        let text = String::from_utf8_lossy(text).into_owned();
        Ok(Python::attach(|py| {
            self.parse.bind(py).call1((text, region))?.extract::<bool>()
        })?)
    }

    fn international(&self, digits: &[u8]) -> Result<bool, Failure> {
        if digits[0] == b'0' {
            return Ok(false);
        }
        for size in 1..=3 {
            let code = digits[..size.min(digits.len())]
                .iter()
                .fold(0u32, |value, d| value * 10 + u32::from(d - b'0'));
            if self.known_codes[code as usize] {
                let national = &digits[size.min(digits.len())..];
                let calling_code = self.calling_code(code)?;
                return Ok(national.len() >= MIN_NSN
                    && calling_code.valid(national, &calling_code.prefix)?);
            }
        }
        Ok(false)
    }

    fn national(&self, digits: &[u8], region: &NationalRegion) -> Result<bool, Failure> {
        if let Some(idd) = &region.idd {
            if let Some(end) = idd.match_at(digits, 0, digits.len())? {
                let after = &digits[end..];
                // An international prefix followed by 0 is not taken for one.
                if after.first() != Some(&b'0') {
                    return Ok(after.len() > 2 && self.international(after)?);
                }
            }
        }
        let code = self.calling_code(region.calling_code)?;
        if digits.starts_with(&region.calling_code_digits) {
            let rest = region
                .prefix
                .strip(&digits[region.calling_code_digits.len()..])?;
            if (!region.prefix.viable(digits)? && region.prefix.viable(&rest)?)
                || region.prefix.length(digits) == Length::TooLong
            {
                return Ok(rest.len() >= MIN_NSN && code.valid(&rest, &code.prefix)?);
            }
        }
        Ok(code.valid(digits, &region.prefix)?)
    }

    fn calling_code(&self, code: u32) -> Result<Arc<CallingCode>, Failure> {
        if let Some(found) = &self.codes.lock().expect("no panic holds it")[code as usize] {
            return Ok(found.clone());
        }
        let data: CallingCodeData =
            Python::attach(|py| self.calling_code_data.bind(py).call1((code,))?.extract())?;
        let built = Arc::new(CallingCode::new(data)?);
        self.codes.lock().expect("no panic holds it")[code as usize] = Some(built.clone());
        Ok(built)
    }

    fn region(&self, region: &str) -> Result<Arc<NationalRegion>, Failure> {
        if let Some(found) = self.regions.lock().expect("no panic holds it").get(region) {
            return Ok(found.clone());
        }
        let data: NationalData =
            Python::attach(|py| self.national_data.bind(py).call1((region,))?.extract())?;
        let built = Arc::new(NationalRegion::new(data)?);
        self.regions
            .lock()
            .expect("no panic holds it")
            .insert(region.to_owned(), built.clone());
        Ok(built)
    }
}

/// `_PLAIN.fullmatch`: "+" then digits and a digit run's separators.
fn plain(text: &[u8]) -> bool {
    let body = text.strip_prefix(b"+").unwrap_or(text);
    body.iter()
        .all(|b| b.is_ascii_digit() || b" ().-/".contains(b))
}

fn strip_separators(text: &[u8]) -> Vec<u8> {
    text.iter()
        .copied()
        .filter(|b| !SEPARATORS.contains(b))
        .collect()
}
