//! `_numbers.NumberClassifier` and `_runs.Run`: what a sequence of digit groups is, and a
//! run split into values.

use crate::checks::{checksummed, is_ipv4, is_ssn, run_digits, version_introduced, CheckPatterns};
use crate::phones::{Failure, Phones};
use crate::regex::Pattern;
use std::collections::HashMap;

pub const ALONE: u8 = 0;
pub const EMBEDDED: u8 = 1;
pub const COVERING: u8 = 2;
pub const GLUED: u8 = 3;

/// The patterns `_numbers.PATTERNS` names, compiled, and the tables of `_numbers`.
pub struct NumberPatterns {
    pub date: Pattern,
    pub decimal: Pattern,
    pub ssn: Pattern,
    pub dotted_quad: Pattern,
    pub nanp: Pattern,
    pub nanp_grouped: Pattern,
    pub ssn_label: Pattern,
    pub ssn_label_reach: usize,
    /// Checksummed types EMBEDDED and COVERING admit, with their printed groupings.
    pub embedded: HashMap<String, Option<Vec<Vec<usize>>>>,
    pub covering: HashMap<String, Option<Vec<Vec<usize>>>>,
    pub glued: Vec<String>,
}

pub struct Numbers {
    pub patterns: NumberPatterns,
    pub checks: CheckPatterns,
    pub phones: Phones,
}

pub type Verdict = Result<Option<&'static str>, Failure>;

impl Numbers {
    /// `NumberClassifier.classify`.
    pub fn classify(&self, candidate: &[u8], preceding: &[u8], mode: u8) -> Verdict {
        let (p, checks) = (&self.patterns, &self.checks);
        let unencoded;
        let candidate = if candidate.starts_with(b"%2") {
            unencoded = [b"+", &candidate[3..]].concat();
            &unencoded[..]
        } else {
            candidate
        };
        if (mode == EMBEDDED || mode == COVERING) && !may_stand_cut(candidate, mode) {
            return Ok(None);
        }
        // The checks in Python's order, each tried only where the candidate has what its
        // pattern needs (three dots, eleven characters...), which decides nothing else.
        let dots = candidate.iter().filter(|&&b| b == b'.').count();
        if dots == 3 && p.dotted_quad.whole(candidate)? {
            return Ok(is_ipv4(candidate, preceding, checks)?.then_some("IP_ADDRESS"));
        }
        if dots > 0 && version_introduced(preceding, checks)? {
            return Ok(None);
        }
        let digits = run_digits(candidate);
        if digits.len() < 6 {
            return Ok(None);
        }
        if candidate.len() == 11 && p.ssn.whole(candidate)? {
            // Three digits, a separator, two, the same separator, four.
            let value = |range: std::ops::Range<usize>| {
                candidate[range]
                    .iter()
                    .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'))
            };
            return Ok(is_ssn(value(0..3), value(4..6), value(7..11)).then_some("US_SSN"));
        }
        if candidate[0] == b'+' || candidate.starts_with(b"00") {
            // "00" glued to a word is more often an identifier's ("DE00 3704...").
            if mode == GLUED && candidate[0] != b'+' {
                return Ok(None);
            }
            return Ok(self
                .is_international_phone(candidate)?
                .then_some("PHONE_NUMBER"));
        }
        if digits.len() == 9 && candidate.len() == 9 && digits.iter().all(u8::is_ascii_digit) {
            let tail = &preceding[preceding.len().saturating_sub(p.ssn_label_reach)..];
            if p.ssn_label.found_in(tail)? {
                let value = |range: std::ops::Range<usize>| {
                    digits[range]
                        .iter()
                        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'))
                };
                if is_ssn(value(0..3), value(3..5), value(5..9)) {
                    return Ok(Some("US_SSN"));
                }
            }
        }
        // `date` holds two of these separators, `decimal` one dot.
        let separators = candidate.iter().filter(|b| b"./-".contains(b)).count();
        if (separators == 2 && p.date.whole(candidate)?)
            || (dots == 1 && p.decimal.whole(candidate)?)
        {
            return Ok(None);
        }
        if let Some(entity) = checksummed(candidate, &digits, preceding, checks)? {
            if mode == GLUED {
                return Ok(p.glued.iter().any(|t| t == entity).then_some(entity));
            }
            if mode == EMBEDDED || mode == COVERING {
                let types = if mode == EMBEDDED {
                    &p.embedded
                } else {
                    &p.covering
                };
                return Ok(match types.get(entity) {
                    None => None,
                    Some(None) => Some(entity),
                    Some(Some(printed)) => {
                        printed.contains(&group_sizes(candidate)).then_some(entity)
                    }
                });
            }
            return Ok(Some(entity));
        }
        if mode == GLUED || (mode != ALONE && !self.written_as_a_phone(candidate, mode)?) {
            return Ok(None);
        }
        Ok(self
            .is_national_phone(candidate, &digits)?
            .then_some("PHONE_NUMBER"))
    }

    fn is_national_phone(&self, candidate: &[u8], digits: &[u8]) -> Result<bool, Failure> {
        if !(7..=12).contains(&digits.len()) {
            return Ok(false);
        }
        // `nanp` matches ten digits only: asked where the length test has not decided.
        if digits[0] != b'0'
            && !((9..=11).contains(&digits.len())
                || (digits.len() == 10 && self.patterns.nanp.whole(candidate)?))
        {
            return Ok(false);
        }
        self.phones.is_national(candidate, digits)
    }

    fn is_international_phone(&self, candidate: &[u8]) -> Result<bool, Failure> {
        let written = if candidate[0] == b'+' {
            candidate.to_vec()
        } else {
            [b"+", &candidate[2..]].concat()
        };
        // "+44 (0)20 ...": the bracketed trunk prefix phonenumbers rejects (str.replace).
        let mut text = Vec::with_capacity(written.len());
        let mut at = 0;
        while at < written.len() {
            if written[at..].starts_with(b"(0)") {
                at += 3;
            } else {
                text.push(written[at]);
                at += 1;
            }
        }
        self.phones.is_international(&text)
    }

    /// `_written_as_a_phone`.
    fn written_as_a_phone(&self, candidate: &[u8], mode: u8) -> Result<bool, Failure> {
        // `nanp_grouped` matches ten or eleven digits only.
        let digits = candidate.iter().filter(|b| b.is_ascii_digit()).count();
        if (10..=11).contains(&digits) && self.patterns.nanp_grouped.whole(candidate)? {
            return Ok(true);
        }
        let lead: &[u8] = if mode == COVERING { b"0(" } else { b"(" };
        let widths: Vec<usize> = candidate
            .split(|&b| b == b' ')
            .map(|group| run_digits(group).len())
            .collect();
        Ok(lead.contains(&candidate[0])
            && widths[1..].iter().all(|&width| width >= 2)
            && !(widths[0] >= 4 && widths.iter().all(|&width| width == widths[0])))
    }
}

/// `_CUT_SHAPES`.
const CUT_SHAPES: &[&[usize]] = &[
    &[3, 2, 4],
    &[4, 4, 4],
    &[4, 6, 4],
    &[4, 6, 5],
    &[1, 2, 2, 2, 3, 3, 2],
    &[13, 2],
    &[2, 3, 3, 3],
    &[3, 3, 3, 2],
    &[3, 3, 4],
    &[1, 3, 3, 4],
    &[4, 3, 4],
];

/// `may_stand_cut`: a sequence cut from a run may be a value read as EMBEDDED or COVERING.
fn may_stand_cut(candidate: &[u8], mode: u8) -> bool {
    if candidate.starts_with(b"+") || candidate.starts_with(b"(") || candidate.starts_with(b"00") {
        return true;
    }
    if candidate.iter().filter(|&&b| b == b'.').count() == 3 {
        return true;
    }
    if mode == COVERING && candidate.starts_with(b"0") {
        return true;
    }
    let mut sizes = [0usize; 8];
    let mut count = 0;
    let mut length = 0;
    for &byte in candidate.iter().chain(std::iter::once(&b' ')) {
        if byte.is_ascii_digit() {
            length += 1;
        } else if length > 0 {
            if count == sizes.len() {
                // More groups than any shape has.
                return false;
            }
            sizes[count] = length;
            count += 1;
            length = 0;
        }
    }
    let sizes = &sizes[..count];
    if count < 2 || CUT_SHAPES.contains(&sizes) {
        return true;
    }
    sizes[..3.min(count)] == [4, 4, 4]
        && count <= 5
        && sizes[3] <= 4
        && (count == 4 || sizes[4] <= 3)
}

/// `_group_sizes`.
fn group_sizes(candidate: &[u8]) -> Vec<usize> {
    candidate
        .split(|b| b" .-/".contains(b))
        .filter(|group| !group.is_empty())
        .map(<[u8]>::len)
        .collect()
}

/// `_runs`'s bounds.
pub struct RunBounds {
    pub max_digits: usize,
    pub max_groups: usize,
    pub context: usize,
    pub trailing_digits: usize,
}

/// A value found in a run: its bounds in the run and its type.
pub type Found = (usize, usize, &'static str);

/// `_runs.Run`.
pub struct Run<'a> {
    numbers: &'a Numbers,
    bounds: &'a RunBounds,
    run: &'a [u8],
    before: Vec<u8>,
    glued: bool,
    /// Each group's verdict ALONE, once asked (the sequences asked most often again).
    singles: Vec<Option<Option<&'static str>>>,
    /// In a run of at most eight groups, every sequence's verdict in every mode.
    compact: Vec<Option<Option<&'static str>>>,
    starts: Vec<usize>,
    ends: Vec<usize>,
    digits: Vec<usize>,
}

impl<'a> Run<'a> {
    pub fn new(
        numbers: &'a Numbers,
        bounds: &'a RunBounds,
        run: &'a [u8],
        before: Vec<u8>,
        glued: bool,
    ) -> Self {
        let (mut starts, mut ends, mut digits) = (Vec::new(), Vec::new(), Vec::new());
        let mut total = 0;
        let mut start = 0;
        for group in run.split(|&b| b == b' ') {
            if !group.is_empty() {
                total += group.iter().filter(|b| !b"+().-/ ".contains(b)).count();
                starts.push(start);
                ends.push(start + group.len());
                digits.push(total);
            }
            start += group.len() + 1;
        }
        Run {
            numbers,
            bounds,
            run,
            before,
            glued,
            singles: vec![None; starts.len()],
            compact: if starts.len() <= 8 {
                vec![None; starts.len() * starts.len() * 4]
            } else {
                Vec::new()
            },
            starts,
            ends,
            digits,
        }
    }

    pub fn values(&mut self) -> Result<Vec<Found>, Failure> {
        let count = self.starts.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        let total = self.digits[count - 1];
        if total < 6 && self.run.iter().filter(|&&b| b == b'.').count() < 3 {
            return Ok(Vec::new());
        }
        if self.glued {
            return self.unglued();
        }
        let b = self.bounds;
        let compact = count <= b.max_groups && total <= b.max_digits;
        if compact && (total >= 7 || count == 1) {
            if let Some(entity) = self.verdict(0, count - 1, ALONE)? {
                return Ok(vec![(0, self.run.len(), entity)]);
            }
        }
        let covering = if compact { ALONE } else { COVERING };
        let found = self.best(|size| if size == 1 { ALONE } else { covering }, true, false)?;
        if !found.is_empty() {
            return Ok(found);
        }
        self.best(|size| if size == 1 { ALONE } else { EMBEDDED }, false, true)
    }

    /// `_unglued`.
    fn unglued(&mut self) -> Result<Vec<Found>, Failure> {
        let count = self.starts.len();
        let b = self.bounds;
        let mut head = Vec::new();
        let mut rest = 1;
        for last in (0..count.min(b.max_groups)).rev() {
            let digits = self.digits[last];
            if digits <= b.max_digits && (digits >= 6 || last == 0) {
                if let Some(entity) = self.verdict(0, last, GLUED)? {
                    head.push((0, self.ends[last], entity));
                    rest = last + 1;
                    break;
                }
            }
        }
        if rest == count {
            return Ok(head);
        }
        let skip = self.starts[rest];
        let mut before = self.before.clone();
        before.extend_from_slice(&self.run[..skip]);
        let mut tail = Run::new(self.numbers, self.bounds, &self.run[skip..], before, false);
        head.extend(
            tail.values()?
                .into_iter()
                .map(|(a, b, e)| (skip + a, skip + b, e)),
        );
        Ok(head)
    }

    /// `Run.verdict`; a sequence's verdict depends on nothing but its text and what
    /// precedes it, so Python's memo of every verdict is kept here for single groups only.
    fn verdict(&mut self, first: usize, last: usize, mode: u8) -> Verdict {
        let single = first == last && mode == ALONE;
        if single {
            if let Some(found) = self.singles[first] {
                return Ok(found);
            }
        }
        // An international number's verdict is the same read ALONE, EMBEDDED or COVERING.
        let (begin, end) = (self.starts[first], self.ends[last]);
        let written = &self.run[begin..end];
        let international = [&b"+"[..], b"00", b"%2"]
            .iter()
            .any(|p| written.starts_with(p));
        let key = if mode != GLUED && international {
            ALONE
        } else {
            mode
        };
        let slot = (first * self.starts.len() + last) * 4 + usize::from(key);
        if let Some(Some(found)) = self.compact.get(slot) {
            return Ok(*found);
        }
        let (begin, end) = (self.starts[first], self.ends[last]);
        let candidate = &self.run[begin..end];
        // Answers classify would give, found without it: fewer than six digits and no
        // dotted quad; a sequence cut from the run that has no value's shape.
        let digits = self.digits[last] - if first > 0 { self.digits[first - 1] } else { 0 };
        if digits < 4 || (digits < 6 && candidate.iter().filter(|&&b| b == b'.').count() != 3) {
            return Ok(None);
        }
        if (mode == EMBEDDED || mode == COVERING)
            && !candidate.starts_with(b"%2")
            && !may_stand_cut(candidate, mode)
        {
            return Ok(None);
        }
        // (before + run[:begin])[-context:]
        let context = self.bounds.context.min(64);
        let from_run = begin.min(context);
        let from_before = (context - from_run).min(self.before.len());
        let mut preceding = [0u8; 64];
        preceding[..from_before].copy_from_slice(&self.before[self.before.len() - from_before..]);
        preceding[from_before..from_before + from_run]
            .copy_from_slice(&self.run[begin - from_run..begin]);
        let preceding = &preceding[..from_before + from_run];
        let found = self.numbers.classify(candidate, preceding, mode)?;
        if single {
            self.singles[first] = Some(found);
        }
        if let Some(cached) = self.compact.get_mut(slot) {
            *cached = Some(found);
        }
        Ok(found)
    }

    /// `_best`.
    fn best(
        &mut self,
        mode_of: impl Fn(usize) -> u8,
        complete: bool,
        stretches: bool,
    ) -> Result<Vec<Found>, Failure> {
        let count = self.starts.len();
        let b = self.bounds;
        // For each group, how many groups right before (after) it have its width.
        let (mut same_before, mut same_after) = (vec![0usize; count], vec![0usize; count]);
        if stretches {
            let width = |g: usize| self.digits[g] - if g > 0 { self.digits[g - 1] } else { 0 };
            for g in 1..count {
                if width(g) == width(g - 1) {
                    same_before[g] = same_before[g - 1] + 1;
                }
            }
            for g in (0..count.saturating_sub(1)).rev() {
                if width(g) == width(g + 1) {
                    same_after[g] = same_after[g + 1] + 1;
                }
            }
        }
        let mut covered: Vec<i64> = vec![if complete { -1 } else { 0 }; count + 1];
        covered[0] = 0;
        let mut values: Vec<i64> = vec![0; count + 1];
        let mut taken: Vec<usize> = vec![0; count + 1];
        let mut entities: Vec<Option<&'static str>> = vec![None; count + 1];
        for k in 1..=count {
            if !complete {
                covered[k] = covered[k - 1];
                values[k] = values[k - 1];
            }
            for size in (1..=b.max_groups.min(k)).rev() {
                let first = k - size;
                let digits =
                    self.digits[k - 1] - if first > 0 { self.digits[first - 1] } else { 0 };
                if covered[first] < 0 || digits > b.max_digits || (digits < 7 && size > 1) {
                    continue;
                }
                if stretches && size > 1 && same_after[first] >= size - 1 {
                    // Groups of one width, bounded by groups of other widths (but a
                    // card's four may be followed by a fifth: an expiry year).
                    if same_before[first] > 0 || same_after[k - 1] > usize::from(size == 4) {
                        continue;
                    }
                }
                let Some(entity) = self.verdict(first, k - 1, mode_of(size))? else {
                    continue;
                };
                let (more, fewer) = (covered[first] + digits as i64, values[first] + 1);
                if more > covered[k] || (more == covered[k] && fewer < values[k]) {
                    covered[k] = more;
                    values[k] = fewer;
                    taken[k] = size;
                    entities[k] = Some(entity);
                }
            }
        }
        let mut end = count;
        if complete && covered[count] < 0 {
            let last = count - 1;
            let short = self.digits[last] - if last > 0 { self.digits[last - 1] } else { 0 }
                <= b.trailing_digits;
            if !(short && covered[last] >= 0 && entities[last] == Some("PHONE_NUMBER")) {
                return Ok(Vec::new());
            }
            end = last;
        }
        let mut found = Vec::new();
        let mut k = end;
        while k > 0 {
            if taken[k] > 0 {
                let first = k - taken[k];
                found.push((
                    self.starts[first],
                    self.ends[k - 1],
                    entities[k].expect("taken"),
                ));
                k = first;
            } else {
                k -= 1;
            }
        }
        found.reverse();
        Ok(found)
    }
}
