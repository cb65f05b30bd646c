//! The PII detector, native: `policy_engine.redaction._scan`.
//!
//! A port of the Python detector of `policy_engine/redaction` (`_patterns.PatternDetector`
//! with `_scanner`, `_runs`, `_numbers`, `_validators` and `_numbering`), which stays the
//! reference and runs where this module is not built. The patterns are not repeated here:
//! Python hands over the sources of its `re` patterns and PCRE2 compiles them; the tables
//! (the skeleton's, IBAN structures, phonenumbers' metadata) come from Python too. What
//! this saves is the interpreter: a text is read without a Python call per candidate, and
//! without holding the GIL, so other threads (the event loop) run meanwhile.
//! tests/redaction/test_native.py holds the two detectors equal: span for span, candidate
//! for candidate at every position, and check for check.

mod checks;
mod ids;
mod numbers;
mod phones;
mod regex;
mod scan;
mod skeleton;

use checks::{email_bounds, is_ipv6, is_nino, CheckPatterns};
use ids::{iban, national_id_type, Iban};
use numbers::{NumberPatterns, Numbers, Run, RunBounds};
use phones::{Failure, Phones};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use regex::Pattern;
use scan::{Bounds, Candidate, ScanPatterns, Scanner as Scan};
use std::collections::HashMap;
use std::sync::Mutex;

create_exception!(
    _scan,
    ScanLimit,
    PyException,
    "PCRE2 stopped at one of its resource limits; the Python detector has none."
);

const LETTER: u8 = 0x01;
/// What glues a digit run to the word before it (`_patterns._GLUING`).
fn gluing(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b'-' || byte == LETTER
}
/// A run's separators, after which a run glued whole to what follows is read on
/// (`_patterns._SEPARATORS`).
const SEPARATORS: &[u8] = b" .-/()";

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> PyErr {
        match failure {
            Failure::Regex(error) => ScanLimit::new_err(error.to_string()),
            Failure::Python(error) => error,
        }
    }
}

fn named(sources: &HashMap<String, String>, name: &str) -> PyResult<Pattern> {
    let source = sources
        .get(name)
        .ok_or_else(|| PyValueError::new_err(format!("no pattern named {name}")))?;
    Pattern::new(source).map_err(PyValueError::new_err)
}

type Printed = Vec<(String, Option<Vec<Vec<usize>>>)>;

#[pyclass(frozen)]
struct Detector {
    skeleton: Vec<u8>,
    scan: ScanPatterns,
    numbers: Numbers,
    run_bounds: RunBounds,
    /// Family names by group index, and which families are secrets as matched.
    kinds: Vec<Option<Py<PyString>>>,
    secrets: Vec<bool>,
    entities: HashMap<&'static str, Py<PyString>>,
    iban_asked: Vec<Vec<u8>>,
    /// stdnum.iban.is_valid, for the countries whose check is left to stdnum.
    iban_check: Py<PyAny>,
    /// The scan's match data, kept between texts: making it costs about a microsecond.
    locations: Mutex<Vec<pcre2::bytes::CaptureLocations>>,
    #[pyo3(get)]
    limit_error: Py<PyType>,
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (*, skeleton, pattern, gate, step, glued, secret_families, unbounded_gates,
        named_gates, bounds, number_patterns, reaches, check_patterns, nino_bad_prefixes,
        embedded_types, covering_types, glued_types, iban_structures, iban_asked, iban_check,
        trunk_phones, bare_phones, calling_codes, known_calling_codes, national_regions,
        phone_parse))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        skeleton: &[u8],
        pattern: &str,
        gate: Vec<String>,
        step: &str,
        glued: &str,
        secret_families: Vec<String>,
        unbounded_gates: Vec<String>,
        named_gates: Vec<String>,
        bounds: (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
        ),
        number_patterns: HashMap<String, String>,
        reaches: (usize, usize),
        check_patterns: HashMap<String, String>,
        nino_bad_prefixes: Vec<String>,
        embedded_types: Printed,
        covering_types: Printed,
        glued_types: Vec<String>,
        iban_structures: Vec<(String, String, usize)>,
        iban_asked: Vec<String>,
        iban_check: Py<PyAny>,
        trunk_phones: &str,
        bare_phones: &str,
        calling_codes: Py<PyAny>,
        known_calling_codes: Vec<u32>,
        national_regions: Py<PyAny>,
        phone_parse: Py<PyAny>,
    ) -> PyResult<Self> {
        let (multi_token_reach, separator_reach, named_reach, run_piece) =
            (bounds.0, bounds.1, bounds.2, bounds.3);
        let scan = ScanPatterns::new(
            pattern,
            &gate,
            step,
            glued,
            unbounded_gates,
            named_gates,
            Bounds {
                token_reach: bounds.8,
                hex_reach: bounds.9,
                multi_token_reach,
                separator_reach,
                named_reach,
                run_piece,
            },
        )
        .map_err(PyValueError::new_err)?;
        let kinds: Vec<Option<Py<PyString>>> = scan
            .names
            .iter()
            .map(|name| {
                name.as_deref()
                    .map(|name| PyString::intern(py, name).unbind())
            })
            .collect();
        let secrets = scan
            .names
            .iter()
            .map(|name| {
                name.as_ref()
                    .is_some_and(|name| secret_families.contains(name))
            })
            .collect();
        let checks = CheckPatterns {
            card_shape: named(&check_patterns, "card_shape")?,
            maestro_iin: named(&check_patterns, "maestro_iin")?,
            card_iin: named(&check_patterns, "card_iin")?,
            card_word: named(&check_patterns, "card_word")?,
            version_word: named(&check_patterns, "version_word")?,
            bsn_written: named(&check_patterns, "bsn_written")?,
            top_level_domain: named(&check_patterns, "top_level_domain")?,
            version_word_reach: reaches.1,
            nino_bad_prefixes: nino_bad_prefixes
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            iban_structures: {
                let mut structures: Vec<Option<(Pattern, usize)>> =
                    (0..26 * 26).map(|_| None).collect();
                for (country, source, length) in iban_structures {
                    let letters = country.as_bytes();
                    if letters.len() != 2 || !letters.iter().all(u8::is_ascii_uppercase) {
                        return Err(PyValueError::new_err(format!(
                            "not a country code: {country}"
                        )));
                    }
                    let index =
                        usize::from(letters[0] - b'A') * 26 + usize::from(letters[1] - b'A');
                    structures[index] = Some((
                        Pattern::new(&source).map_err(PyValueError::new_err)?,
                        length,
                    ));
                }
                structures
            },
        };
        let printed = |types: Printed| types.into_iter().collect::<HashMap<_, _>>();
        let numbers = Numbers {
            patterns: NumberPatterns {
                date: named(&number_patterns, "date")?,
                decimal: named(&number_patterns, "decimal")?,
                ssn: named(&number_patterns, "ssn")?,
                dotted_quad: named(&number_patterns, "dotted_quad")?,
                nanp: named(&number_patterns, "nanp")?,
                nanp_grouped: named(&number_patterns, "nanp_grouped")?,
                ssn_label: named(&number_patterns, "ssn_label")?,
                ssn_label_reach: reaches.0,
                embedded: printed(embedded_types),
                covering: printed(covering_types),
                glued: glued_types,
            },
            checks,
            phones: Phones::new(
                trunk_phones,
                bare_phones,
                known_calling_codes,
                calling_codes,
                national_regions,
                phone_parse,
            )
            .map_err(PyValueError::new_err)?,
        };
        let entities = ENTITIES
            .iter()
            .map(|&name| (name, PyString::intern(py, name).unbind()))
            .collect();
        if bounds.6 > 64 {
            return Err(PyValueError::new_err(
                "a sequence's context is read into 64 bytes",
            ));
        }
        if skeleton.len() != 0x11_0000 {
            return Err(PyValueError::new_err(
                "the skeleton table has one byte per code point",
            ));
        }
        Ok(Detector {
            skeleton: skeleton.to_vec(),
            scan,
            numbers,
            run_bounds: RunBounds {
                max_digits: bounds.4,
                max_groups: bounds.5,
                context: bounds.6,
                trailing_digits: bounds.7,
            },
            kinds,
            secrets,
            entities,
            iban_asked: iban_asked.into_iter().map(String::into_bytes).collect(),
            iban_check,
            locations: Mutex::new(Vec::new()),
            limit_error: py.get_type::<ScanLimit>().unbind(),
        })
    }

    /// `PatternDetector.detect`: (start, end, type) of each value, in order.
    fn detect(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
    ) -> PyResult<Vec<(usize, usize, Py<PyString>)>> {
        let read = skeleton::skeleton(text, &self.skeleton)?;
        let found = py.detach(|| self.spans(&read))?;
        Ok(found
            .into_iter()
            .map(|(start, end, entity)| (start, end, self.entities[entity].clone_ref(py)))
            .collect())
    }

    /// The text as the detector reads it (`_skeleton.skeleton`), for tests.
    fn skeleton(&self, text: &Bound<'_, PyString>) -> PyResult<String> {
        let read = skeleton::skeleton(text, &self.skeleton)?;
        Ok(String::from_utf8(read).expect("ASCII"))
    }

    /// The scan of a skeleton (`_scanner.Scanner`), for tests.
    fn scanner(slf: Bound<'_, Self>, text: String) -> Scanner {
        Scanner {
            detector: slf.unbind(),
            text: text.into_bytes(),
        }
    }

    /// `NumberClassifier.classify`, for tests.
    fn classify(
        &self,
        py: Python<'_>,
        candidate: &str,
        preceding: &str,
        mode: u8,
    ) -> PyResult<Option<Py<PyString>>> {
        let found = self
            .numbers
            .classify(candidate.as_bytes(), preceding.as_bytes(), mode)?;
        Ok(found.map(|entity| self.entities[entity].clone_ref(py)))
    }

    /// `PhoneNumbers.is_valid_national(text, region)`, or `is_valid_international(text)`
    /// without a region, for tests.
    #[pyo3(signature = (text, region=None))]
    fn phone(&self, text: &str, region: Option<&str>) -> PyResult<bool> {
        let numbers = &self.numbers.phones;
        Ok(match region {
            Some(region) => numbers.is_valid_national(text.as_bytes(), region)?,
            None => numbers.is_international(text.as_bytes())?,
        })
    }

    /// The value checks of `_validators` by family name, for tests: the type found (or
    /// the e-mail address's bounds), or None.
    fn check(&self, py: Python<'_>, family: &str, value: &str) -> PyResult<Option<Py<PyAny>>> {
        let value = value.as_bytes();
        let checks = &self.numbers.checks;
        let entity = match family {
            "email" => {
                return Ok(email_bounds(value, checks)
                    .map_err(Failure::from)?
                    .map(|bounds| {
                        bounds
                            .into_pyobject(py)
                            .expect("a tuple")
                            .into_any()
                            .unbind()
                    }))
            }
            "iban" => self.iban_valid(value)?.then_some("IBAN_CODE"),
            "nino" => is_nino(value, checks).then_some("UK_NINO"),
            "national_id" => national_id_type(value),
            "ipv6" => is_ipv6(value).then_some("IP_ADDRESS"),
            _ => return Err(PyValueError::new_err(format!("no check for {family}"))),
        };
        Ok(entity.map(|entity| self.entities[entity].clone_ref(py).into_any()))
    }
}

const ENTITIES: &[&str] = &[
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "SECRET",
    "UK_NINO",
    "DE_TAX_ID",
    "FR_NIR",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "NL_BSN",
    "IN_AADHAAR",
];

type Span = (usize, usize, &'static str);

impl Detector {
    /// `PatternDetector._detect` over a skeleton.
    fn spans(&self, text: &[u8]) -> Result<Vec<Span>, Failure> {
        let mut locations = self
            .locations
            .lock()
            .expect("no panic holds it")
            .pop()
            .unwrap_or_else(|| self.scan.locations());
        let result = self.spans_with(text, &mut locations);
        self.locations
            .lock()
            .expect("no panic holds it")
            .push(locations);
        result
    }

    fn spans_with(
        &self,
        text: &[u8],
        locations: &mut pcre2::bytes::CaptureLocations,
    ) -> Result<Vec<Span>, Failure> {
        let mut scan = Scan::new(&self.scan, text, locations);
        let mut spans = Vec::new();
        let mut pos = 0;
        while let Some(candidate) = scan.next(pos)? {
            let Candidate {
                group,
                begin,
                end,
                value_end,
                ..
            } = candidate;
            if group == self.scan.number {
                spans.extend(self.number_spans(text, begin, value_end)?);
                pos = after_run(text, begin, end, value_end);
                continue;
            }
            match self.validate(group, text, candidate)? {
                None => pos = begin + 1,
                Some(span) => {
                    pos = span.1;
                    spans.push(span);
                }
            }
        }
        Ok(spans)
    }

    fn number_spans(&self, text: &[u8], begin: usize, end: usize) -> Result<Vec<Span>, Failure> {
        let glued = begin > 0 && gluing(text[begin - 1]);
        let before = text[begin.saturating_sub(self.run_bounds.context)..begin].to_vec();
        let mut run = Run::new(
            &self.numbers,
            &self.run_bounds,
            &text[begin..end],
            before,
            glued,
        );
        Ok(run
            .values()?
            .into_iter()
            .map(|(a, b, entity)| (begin + a, begin + b, entity))
            .collect())
    }

    /// `_validate`.
    fn validate(
        &self,
        group: usize,
        text: &[u8],
        candidate: Candidate,
    ) -> Result<Option<Span>, Failure> {
        let Candidate {
            begin,
            end,
            value_start,
            value_end,
            ..
        } = candidate;
        if self.secrets[group] {
            return Ok(Some((value_start, value_end, "SECRET")));
        }
        let value = &text[value_start..value_end];
        let checks = &self.numbers.checks;
        let kind = self.scan.names[group].as_deref().expect("a named group");
        Ok(match kind {
            "email" => {
                email_bounds(value, checks)?.map(|(a, b)| (begin + a, begin + b, "EMAIL_ADDRESS"))
            }
            "iban" => self.iban_span(value, begin)?,
            "nino" => is_nino(value, checks).then_some((begin, end, "UK_NINO")),
            "national_id" => national_id_type(value).map(|entity| (begin, end, entity)),
            "ipv6" => is_ipv6(value).then_some((begin, end, "IP_ADDRESS")),
            _ => None,
        })
    }

    /// `_iban_span`: the longest prefix, cut at a space, that is an IBAN.
    fn iban_span(&self, value: &[u8], start: usize) -> Result<Option<Span>, Failure> {
        let mut end = value.len();
        while end >= 15 {
            if self.iban_valid(&value[..end])? {
                return Ok(Some((start, start + end, "IBAN_CODE")));
            }
            match value[..end].iter().rposition(|&b| b == b' ') {
                Some(cut) => end = cut,
                None => break,
            }
        }
        Ok(None)
    }

    fn iban_valid(&self, value: &[u8]) -> Result<bool, Failure> {
        Ok(match iban(value, &self.numbers.checks, &self.iban_asked)? {
            Iban::Valid => true,
            Iban::Invalid => false,
            Iban::Ask => {
                let text = String::from_utf8_lossy(value).into_owned();
                Python::attach(|py| {
                    self.iban_check
                        .bind(py)
                        .call1((text.to_uppercase(),))?
                        .extract::<bool>()
                })?
            }
        })
    }
}

/// `_after_run`: where to scan on after a digit run.
fn after_run(text: &[u8], begin: usize, end: usize, value_end: usize) -> usize {
    if begin < value_end && value_end < end {
        return value_end;
    }
    if value_end == begin {
        if let Some(cut) = text[begin..end]
            .iter()
            .rposition(|b| SEPARATORS.contains(b))
        {
            return begin + cut + 1;
        }
    }
    end
}

/// A candidate for Python: its group's kind, its bounds and its value's bounds.
type Found = (Py<PyString>, usize, usize, usize, usize);

/// A scan of one skeleton: called with a position, the next candidate or None.
#[pyclass]
struct Scanner {
    detector: Py<Detector>,
    text: Vec<u8>,
}

#[pymethods]
impl Scanner {
    fn __call__(&self, py: Python<'_>, pos: usize) -> PyResult<Option<Found>> {
        let detector = self.detector.get();
        let mut locations = detector.scan.locations();
        let mut scan = Scan::new(&detector.scan, &self.text, &mut locations);
        let found = scan
            .next(pos)
            .map_err(|error| ScanLimit::new_err(error.to_string()))?;
        Ok(found.map(|c| {
            let kind = detector.kinds[c.group]
                .as_ref()
                .expect("a named group")
                .clone_ref(py);
            (kind, c.begin, c.end, c.value_start, c.value_end)
        }))
    }
}

#[pymodule]
fn _scan(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Detector>()?;
    module.add("ScanLimit", module.py().get_type::<ScanLimit>())?;
    Ok(())
}
