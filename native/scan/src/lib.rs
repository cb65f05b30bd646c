//! The PII detector's candidate scan, for ASCII texts: `policy_engine.redaction._scan`.
//!
//! A line-for-line port of `_Scanner` in `policy_engine/redaction/_patterns.py`, which
//! stays the reference and handles every other text. The patterns are not repeated
//! here: Python hands over the sources of its `re` patterns and PCRE2 compiles them
//! (both engines backtrack, try alternatives in order and read the same syntax; on ASCII
//! text `\d`, `\w` and `\W` mean the same in both). What this saves is the interpreter:
//! one call per candidate instead of a dozen regex calls and their match objects
//! (bench/PERF_NOTES.md, "Seventh round"). tests/redaction/test_scan.py holds the two
//! scans equal, position by position.

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use std::sync::Mutex;

create_exception!(
    _scan,
    ScanLimit,
    PyException,
    "PCRE2 stopped at one of its resource limits; the Python scan has none."
);

/// What flattening turns into " " before token bounds are looked for (`_flatten`).
const SPACES: &[u8] = b" \t\n\r\x0c\x0b";
/// What Python's `str.rstrip()` strips, on ASCII.
const PY_WHITESPACE: &[u8] = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f";
const PEM_BEGIN: &[u8] = b"-----BEGIN";
const PEM_END: &[u8] = b"-----END";

fn compile(source: &str, anchored: bool) -> PyResult<Regex> {
    // `\G` at the start of every alternative makes PCRE2 try the start position only:
    // Python's `Pattern.match`.
    let source = if anchored {
        format!(r"\G(?:{source})")
    } else {
        source.to_owned()
    };
    RegexBuilder::new()
        .jit_if_available(true)
        .max_jit_stack_size(Some(1 << 20))
        .build(&source)
        .map_err(|error| PyValueError::new_err(format!("PCRE2 cannot compile {source:?}: {error}")))
}

/// The patterns of `_patterns.py`, compiled once, and the bounds the scan uses.
#[pyclass(frozen)]
struct Patterns {
    pattern: Regex,
    gate: Regex,
    run_goes_on: Regex,
    run_rest: Regex,
    glued: Regex,
    /// Each capture group's name, by index: a match's family is its named group.
    kinds: Vec<Option<Py<PyString>>>,
    /// The group of digit runs, which the scan follows past the length cap.
    number: usize,
    multi_token_reach: usize,
    separator_reach: usize,
    whole_run_chars: usize,
    /// The match data of `pattern`, made once: making it per text cost ~1 µs.
    locations: Mutex<CaptureLocations>,
    #[pyo3(get)]
    limit_error: Py<PyType>,
}

#[pymethods]
impl Patterns {
    #[new]
    #[pyo3(signature = (*, pattern, gate, run_goes_on, run_rest, glued, multi_token_reach, separator_reach, whole_run_chars))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        pattern: &str,
        gate: &str,
        run_goes_on: &str,
        run_rest: &str,
        glued: &str,
        multi_token_reach: usize,
        separator_reach: usize,
        whole_run_chars: usize,
    ) -> PyResult<Self> {
        let pattern = compile(pattern, true)?;
        let kinds = pattern
            .capture_names()
            .iter()
            .map(|name| {
                name.as_deref()
                    .map(|name| PyString::intern(py, name).unbind())
            })
            .collect();
        let number = pattern
            .capture_names()
            .iter()
            .position(|name| name.as_deref() == Some("number"))
            .ok_or_else(|| PyValueError::new_err("the pattern has no group named number"))?;
        Ok(Patterns {
            gate: compile(gate, false)?,
            run_goes_on: compile(run_goes_on, true)?,
            run_rest: compile(run_rest, true)?,
            glued: compile(glued, true)?,
            kinds,
            number,
            multi_token_reach,
            separator_reach,
            whole_run_chars,
            locations: Mutex::new(pattern.capture_locations()),
            pattern,
            limit_error: py.get_type::<ScanLimit>().unbind(),
        })
    }

    /// The scan of one ASCII text: called with a position, the next candidate or None.
    fn scanner(slf: Bound<'_, Self>, text: Bound<'_, PyString>) -> PyResult<Scanner> {
        // ASCII exactly when its UTF-8 has one byte per character: both lengths are
        // known to CPython, so this reads no character (Python already asked isascii()).
        if text.to_str()?.len() != text.len()? {
            return Err(PyValueError::new_err(
                "the native scan takes ASCII text only",
            ));
        }
        Ok(Scanner {
            patterns: slf.unbind(),
            text: text.unbind(),
            last_pem_end: None,
        })
    }
}

/// `_patterns.Candidate`, as Python gets it.
type Candidate = (Py<PyString>, usize, usize, usize, usize, bool);

/// A candidate with its family as the index of its named group.
struct Found {
    group: usize,
    begin: usize,
    end: usize,
    value_start: usize,
    value_end: usize,
    capped: bool,
}

#[pyclass]
struct Scanner {
    patterns: Py<Patterns>,
    text: Py<PyString>,
    /// `text.rfind("-----END")`, once a BEGIN line is met.
    last_pem_end: Option<isize>,
}

/// One call's scan: the text, and the groups of the last match of `Patterns.pattern`.
struct Scan<'a> {
    patterns: &'a Patterns,
    text: &'a [u8],
    locations: &'a mut CaptureLocations,
}

#[pymethods]
impl Scanner {
    fn __call__(&mut self, py: Python<'_>, pos: usize) -> PyResult<Option<Candidate>> {
        let text = self.text.bind(py).to_str()?.as_bytes();
        let patterns = self.patterns.get();
        // Held for this call only, with no Python code run under it.
        let mut locations = patterns
            .locations
            .lock()
            .expect("no call panics holding it");
        let mut scan = Scan {
            patterns,
            text,
            locations: &mut locations,
        };
        scan.next(pos, &mut self.last_pem_end)
            .map_err(|error| ScanLimit::new_err(error.to_string()))
            .map(|found| {
                found.map(|found| {
                    let kind = patterns.kinds[found.group].as_ref().expect("a named group");
                    let Found {
                        begin,
                        end,
                        value_start,
                        value_end,
                        capped,
                        ..
                    } = found;
                    (
                        kind.clone_ref(py),
                        begin,
                        end,
                        value_start,
                        value_end,
                        capped,
                    )
                })
            })
    }
}

impl Scan<'_> {
    /// `_Scanner.__call__`, with the family as its capture group's index.
    fn next(
        &mut self,
        mut pos: usize,
        last_pem_end: &mut Option<isize>,
    ) -> Result<Option<Found>, pcre2::Error> {
        let (patterns, text) = (self.patterns, self.text);
        let length = text.len();
        while pos <= length {
            let Some(gate) = patterns.gate.find_at(text, pos)? else {
                return Ok(None);
            };
            // The full pattern runs only around the gate hit: from the start of its
            // token (or the one before) to a bound past it.
            let hit = gate.start();
            let start = pos.max(token_start(text, hit));
            let token_end = token_end(text, hit);
            let mut endpos = token_end.max(hit + patterns.multi_token_reach);
            if text[hit..].starts_with(PEM_BEGIN) {
                let last = *last_pem_end.get_or_insert_with(|| rfind(text, PEM_END));
                if (hit as isize) < last {
                    endpos = length;
                }
            }
            let mut found = self.first_match(start, token_end, endpos)?;
            if let Some((begin, end)) = found {
                if end + patterns.separator_reach > endpos {
                    // Maybe cut short by the bound: match again against the whole text.
                    found = self.match_at(begin, length)?;
                }
            }
            let Some((begin, mut end)) = found else {
                pos = token_end;
                continue;
            };
            let group = (1..patterns.kinds.len())
                .find(|&group| {
                    patterns.kinds[group].is_some() && self.locations.get(group).is_some()
                })
                .expect("every alternative is a named group");
            if group != patterns.number {
                let (value_start, value_end) = self.locations.get(group).expect("matched");
                return Ok(Some(Found {
                    group,
                    begin,
                    end,
                    value_start,
                    value_end,
                    capped: false,
                }));
            }
            let mut capped = anchored(&patterns.run_goes_on, text, end, length)?.is_some();
            if capped {
                let bound = begin + patterns.whole_run_chars;
                let rest = anchored(&patterns.run_rest, text, end, bound)?.map_or(end, |m| m.1);
                if anchored(&patterns.run_goes_on, text, rest, length)?.is_none() {
                    end = rest;
                    capped = false;
                }
            }
            let value_end = value_end(patterns, text, begin, end)?;
            return Ok(Some(Found {
                group,
                begin,
                end,
                value_start: begin,
                value_end,
                capped,
            }));
        }
        Ok(None)
    }

    /// `_first_match`: the first match starting in [start, stop), the gate hit's token.
    fn first_match(
        &mut self,
        start: usize,
        stop: usize,
        endpos: usize,
    ) -> Result<Option<(usize, usize)>, pcre2::Error> {
        if let Some(found) = self.match_at(start, endpos)? {
            return Ok(Some(found));
        }
        for other in start..stop.min(self.text.len()) {
            if is_word(self.text[other]) {
                continue;
            }
            for position in [other, other + 1] {
                if position > start {
                    if let Some(found) = self.match_at(position, endpos)? {
                        return Ok(Some(found));
                    }
                }
            }
        }
        Ok(None)
    }

    /// `_PATTERN.match(text, position, endpos)`, its groups kept in `self.locations`.
    fn match_at(
        &mut self,
        position: usize,
        endpos: usize,
    ) -> Result<Option<(usize, usize)>, pcre2::Error> {
        let subject = &self.text[..endpos.min(self.text.len())];
        if position > subject.len() {
            return Ok(None);
        }
        Ok(self
            .patterns
            .pattern
            .captures_read_at(self.locations, subject, position)?
            .map(|found| (found.start(), found.end())))
    }
}

/// `pattern.match(text, position, endpos)` for a pattern whose groups are not needed.
fn anchored(
    pattern: &Regex,
    text: &[u8],
    position: usize,
    endpos: usize,
) -> Result<Option<(usize, usize)>, pcre2::Error> {
    let subject = &text[..endpos.min(text.len())];
    if position > subject.len() {
        return Ok(None);
    }
    Ok(pattern
        .find_at(subject, position)?
        .map(|found| (found.start(), found.end())))
}

/// `_value_end`: where the value of the run text[begin:end] ends.
fn value_end(
    patterns: &Patterns,
    text: &[u8],
    begin: usize,
    end: usize,
) -> Result<usize, pcre2::Error> {
    if anchored(&patterns.glued, text, end, text.len())?.is_none() {
        return Ok(end);
    }
    let cut = rfind_byte(&text[begin..end], b' ');
    if cut <= 0 {
        return Ok(begin);
    }
    let mut stop = begin + cut as usize;
    while stop > begin && PY_WHITESPACE.contains(&text[stop - 1]) {
        stop -= 1;
    }
    Ok(stop)
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_space(byte: u8) -> bool {
    SPACES.contains(&byte)
}

/// `_token_start` on the flattened text.
fn token_start(text: &[u8], index: usize) -> usize {
    let start = text[..index]
        .iter()
        .rposition(|&b| is_space(b))
        .map_or(0, |at| at + 1);
    if start >= 1 {
        let before = text[..start - 1]
            .iter()
            .rposition(|&b| is_space(b))
            .map_or(0, |at| at + 1);
        // A two-letter token before (a NINO's prefix) may belong to the value.
        if start - before == 3 {
            return before;
        }
    }
    start
}

/// `_token_end` on the flattened text.
fn token_end(text: &[u8], index: usize) -> usize {
    text[index..]
        .iter()
        .position(|&b| is_space(b))
        .map_or(text.len(), |at| index + at)
}

fn rfind_byte(haystack: &[u8], needle: u8) -> isize {
    haystack
        .iter()
        .rposition(|&b| b == needle)
        .map_or(-1, |at| at as isize)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> isize {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
        .map_or(-1, |at| at as isize)
}

#[pymodule]
fn _scan(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Patterns>()?;
    module.add("ScanLimit", module.py().get_type::<ScanLimit>())?;
    Ok(())
}
