//! The candidate scan: `_scanner.Scanner`, line for line, over a skeleton.

use crate::regex::{compile_deep, Error, Pattern};
use aho_corasick::{AhoCorasick, MatchKind};
use pcre2::bytes::{CaptureLocations, Regex};

/// What `_scanner` flattens into " " before token bounds are looked for.
const SPACES: &[u8] = b" \t\n\r\x0c\x0b";
/// What Python's `str.rstrip()` strips, on ASCII.
const PY_WHITESPACE: &[u8] = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f";
const LETTER: u8 = 0x01;
const HEX: &[u8] = b"0123456789abcdefABCDEF";

pub struct Bounds {
    pub token_reach: usize,
    pub hex_reach: usize,
    pub multi_token_reach: usize,
    pub separator_reach: usize,
    pub named_reach: usize,
    pub run_piece: usize,
}

/// The scan's patterns (the sources of `_grammar` and `_scanner`) and bounds.
pub struct ScanPatterns {
    /// `_grammar.PATTERN`, anchored: `COMPILED.match`.
    pattern: Regex,
    /// Each capture group's name, by index: a match's family is its named group.
    pub names: Vec<Option<String>>,
    pub number: usize,
    /// The gate literals, found as `GATE.search` finds them: leftmost, then first listed.
    gate: AhoCorasick,
    run_goes_on: Pattern,
    run_rest: Pattern,
    glued: Pattern,
    unbounded: Vec<Vec<u8>>,
    named: Vec<Vec<u8>>,
    bounds: Bounds,
}

/// `_scanner.Candidate`, with the family as its group's index.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub group: usize,
    pub begin: usize,
    pub end: usize,
    pub value_start: usize,
    pub value_end: usize,
}

impl ScanPatterns {
    pub fn new(
        pattern: &str,
        gate: &[String],
        step: &str,
        glued: &str,
        unbounded: Vec<String>,
        named: Vec<String>,
        bounds: Bounds,
    ) -> Result<ScanPatterns, String> {
        let pattern = compile_deep(&format!(r"\G(?:{pattern})"))?;
        let names: Vec<Option<String>> = pattern.capture_names().to_vec();
        let number = names
            .iter()
            .position(|name| name.as_deref() == Some("number"))
            .ok_or("the pattern has no group named number")?;
        Ok(ScanPatterns {
            pattern,
            names,
            number,
            gate: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(gate)
                .map_err(|error| error.to_string())?,
            run_goes_on: Pattern::new(step)?,
            run_rest: Pattern::new(&format!("{step}*+"))?,
            glued: Pattern::new(glued)?,
            unbounded: unbounded.into_iter().map(String::into_bytes).collect(),
            named: named.into_iter().map(String::into_bytes).collect(),
            bounds,
        })
    }

    pub fn locations(&self) -> CaptureLocations {
        self.pattern.capture_locations()
    }
}

/// One text's scan: the skeleton and the groups of the pattern's last match.
pub struct Scanner<'a> {
    patterns: &'a ScanPatterns,
    text: &'a [u8],
    locations: &'a mut CaptureLocations,
}

impl<'a> Scanner<'a> {
    pub fn new(
        patterns: &'a ScanPatterns,
        text: &'a [u8],
        locations: &'a mut CaptureLocations,
    ) -> Self {
        Scanner {
            patterns,
            text,
            locations,
        }
    }

    /// `Scanner.__call__`: the next candidate at or after `pos`.
    pub fn next(&mut self, mut pos: usize) -> Result<Option<Candidate>, Error> {
        let (patterns, text) = (self.patterns, self.text);
        let length = text.len();
        let bounds = &patterns.bounds;
        while pos <= length {
            let Some(gate) = patterns
                .gate
                .find(aho_corasick::Input::new(text).range(pos..))
            else {
                return Ok(None);
            };
            // The full pattern runs only around the gate hit: from the start of its token
            // (or the one before) to a bound past it.
            let hit = gate.start();
            let literal = &text[gate.start()..gate.end()];
            let start = token_start(text, pos, hit);
            let end_of_token = token_end(text, hit, bounds.token_reach);
            let mut endpos = end_of_token.max(hit + bounds.multi_token_reach);
            if patterns.unbounded.iter().any(|gate| gate == literal) {
                endpos = length;
            } else if patterns.named.iter().any(|gate| gate == literal) {
                endpos = endpos.max(hit + bounds.named_reach);
            }
            let mut found = self.first_match(start, end_of_token, endpos)?;
            if let Some((begin, end)) = found {
                if end + bounds.separator_reach > endpos {
                    // Maybe cut short by the bound: match again without it.
                    found = self.match_at(begin, length)?;
                }
            }
            let Some((begin, end)) = found else {
                pos = end_of_token;
                continue;
            };
            let group = (1..patterns.names.len())
                .find(|&group| {
                    patterns.names[group].is_some() && self.locations.get(group).is_some()
                })
                .expect("every alternative is a named group");
            if group != patterns.number {
                let (value_start, value_end) = self.locations.get(group).expect("matched");
                return Ok(Some(Candidate {
                    group,
                    begin,
                    end,
                    value_start,
                    value_end,
                }));
            }
            let end = self.run_end(end)?;
            if hex_digits(text, begin, end, bounds.hex_reach) {
                pos = end;
                continue;
            }
            let value_end = self.value_end(begin, end)?;
            return Ok(Some(Candidate {
                group,
                begin,
                end,
                value_start: begin,
                value_end,
            }));
        }
        Ok(None)
    }

    /// `first_match`: the first match starting in [start, stop), the gate hit's token.
    fn first_match(
        &mut self,
        start: usize,
        stop: usize,
        endpos: usize,
    ) -> Result<Option<(usize, usize)>, Error> {
        if let Some(found) = self.match_at(start, endpos)? {
            return Ok(Some(found));
        }
        // The boundaries, in increasing order: a non-word character and the position after
        // it, a digit glued to a letter.
        let text = self.text;
        let stop = stop.min(text.len());
        let mut tried = start;
        for at in start..stop {
            let (first, second) = if !is_word(text[at]) {
                (at, Some(at + 1))
            } else if at > 0 && glued_start(text, at, stop) {
                (at, None)
            } else {
                continue;
            };
            for position in std::iter::once(first).chain(second) {
                if position > tried {
                    tried = position;
                    if !may_start(text, position) {
                        continue;
                    }
                    if let Some(found) = self.match_at(position, endpos)? {
                        return Ok(Some(found));
                    }
                }
            }
        }
        Ok(None)
    }

    /// `COMPILED.match(text, position, endpos)`, its groups kept in `self.locations`.
    fn match_at(
        &mut self,
        position: usize,
        endpos: usize,
    ) -> Result<Option<(usize, usize)>, Error> {
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

    /// `run_end`: the end of the digit run a capped match ends at `end`.
    fn run_end(&self, mut end: usize) -> Result<usize, Error> {
        let (patterns, text) = (self.patterns, self.text);
        while patterns
            .run_goes_on
            .match_at(text, end, text.len())?
            .is_some()
        {
            end = patterns
                .run_rest
                .match_at(text, end, end + patterns.bounds.run_piece)?
                .expect("matches the empty string at least");
        }
        Ok(end)
    }

    /// `value_end`: where the value of the run text[begin:end] ends.
    fn value_end(&self, begin: usize, end: usize) -> Result<usize, Error> {
        let text = self.text;
        if self
            .patterns
            .glued
            .match_at(text, end, text.len())?
            .is_none()
        {
            return Ok(end);
        }
        let Some(cut) = text[begin..end]
            .iter()
            .rposition(|&b| b == b' ')
            .map(|at| begin + at)
        else {
            return Ok(begin);
        };
        if cut <= begin {
            return Ok(begin);
        }
        let mut stop = cut;
        while stop > begin && PY_WHITESPACE.contains(&text[stop - 1]) {
            stop -= 1;
        }
        Ok(stop)
    }
}

/// `may_start`: a match may start at a boundary, from the characters either side of it.
fn may_start(text: &[u8], position: usize) -> bool {
    if position == 0 || position == text.len() || !is_word(text[position - 1]) {
        return true;
    }
    let here = text[position];
    if text[position - 1].is_ascii_digit() {
        return b"-".contains(&here);
    }
    b"-+%(".contains(&here) || here.is_ascii_digit()
}

/// `_GLUED_START` matches at `at` (inside [.., stop)): a digit, a "+" or a "%2B" right
/// after a letter.
fn glued_start(text: &[u8], at: usize, stop: usize) -> bool {
    let before = text[at - 1];
    if !(before.is_ascii_alphabetic() || before == b'_' || before == LETTER) {
        return false;
    }
    let here = text[at];
    here.is_ascii_digit()
        || here == b'+'
        || (here == b'%'
            && at + 3 <= stop
            && text[at + 1] == b'2'
            && matches!(text[at + 2], b'B' | b'b'))
}

/// `hex_digits`: the run is digits inside a hexadecimal token glued to hex letters.
fn hex_digits(text: &[u8], begin: usize, end: usize, reach: usize) -> bool {
    if begin == 0 || !b"abcdefABCDEF".contains(&text[begin - 1]) {
        return false;
    }
    let floor = begin.saturating_sub(reach);
    let mut first = begin - 1;
    while first > floor && HEX.contains(&text[first - 1]) {
        first -= 1;
    }
    if first == floor && floor > 0 && HEX.contains(&text[floor - 1]) {
        return true;
    }
    if first > 0 && is_word(text[first - 1]) {
        return false;
    }
    // `_HEX_TOKEN.match(text, first, end + reach)`
    let limit = (end + reach).min(text.len());
    let mut token_end = first;
    while token_end < limit && HEX.contains(&text[token_end]) {
        token_end += 1;
    }
    if token_end == end + reach {
        return true;
    }
    token_end >= end && !(token_end < text.len() && is_word(text[token_end]))
}

pub fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == LETTER
}

fn is_space(byte: u8) -> bool {
    SPACES.contains(&byte)
}

/// `token_start` on the flattened text: where the token holding `index` starts, or `pos`.
fn token_start(text: &[u8], pos: usize, index: usize) -> usize {
    let Some(space) = text[pos..index].iter().rposition(|&b| is_space(b)) else {
        return pos;
    };
    let start = pos + space + 1;
    // A two-letter token before (a NINO's prefix) may belong to the value:
    // `flat.rfind(" ", max(0, start - 4), start - 1) == start - 4`.
    let floor = start.saturating_sub(4);
    let previous = text[floor..start - 1]
        .iter()
        .rposition(|&b| is_space(b))
        .map(|at| floor + at);
    let two_letters = match previous {
        Some(at) => at + 4 == start,
        None => start == 3,
    };
    if two_letters {
        return pos.max(start - 3);
    }
    start
}

/// `token_end` on the flattened text: where the token holding `index` ends, or `reach` past it.
fn token_end(text: &[u8], index: usize, reach: usize) -> usize {
    let limit = (index + reach).min(text.len());
    text[index..limit]
        .iter()
        .position(|&b| is_space(b))
        .map_or(limit, |at| index + at)
}
