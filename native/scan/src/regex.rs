//! Python `re` calls on PCRE2, for patterns written in the syntax both engines read alike.
//!
//! Both engines backtrack, try alternatives in order and, on ASCII text (every text here
//! is a skeleton, see skeleton.rs), read `\d`, `\w` and `\s` the same way. Python's
//! `match`, `fullmatch` and `search`, with their `pos` and `endpos`, map onto PCRE2 by
//! anchoring the pattern and slicing the subject.

use pcre2::bytes::{CaptureLocations, Regex as Pcre2, RegexBuilder};
use std::sync::Mutex;

pub type Error = pcre2::Error;

/// One Python pattern, compiled three ways as its calls need.
pub struct Pattern {
    /// `\G(?:...)`: tried at the start position only, as `Pattern.match`.
    anchored: Pcre2,
    /// `\G(?:...)\z`: as `Pattern.fullmatch`.
    full: Pcre2,
    /// As written: `Pattern.search`.
    search: Pcre2,
    /// Match data for calls that read groups, kept: making one allocates a match
    /// context and a JIT stack, microseconds a call.
    groups: Mutex<Vec<CaptureLocations>>,
}

/// A pattern compiled as written; `deep`: with a JIT stack of up to 1 MiB, for the scan's
/// pattern, whose key blocks and quoted values run long (the default is 32 KiB).
pub fn compile(source: &str, jit: bool) -> Result<Pcre2, String> {
    build(source, jit, false)
}

pub fn compile_deep(source: &str) -> Result<Pcre2, String> {
    build(source, true, true)
}

fn build(source: &str, jit: bool, deep: bool) -> Result<Pcre2, String> {
    RegexBuilder::new()
        .jit_if_available(jit)
        .max_jit_stack_size(deep.then_some(1 << 20))
        .build(source)
        .map_err(|error| format!("PCRE2 cannot compile {source:?}: {error}"))
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        Pattern::with_jit(source, true)
    }
    fn with_jit(source: &str, jit: bool) -> Result<Pattern, String> {
        Ok(Pattern {
            anchored: compile(&format!(r"\G(?:{source})"), jit)?,
            full: compile(&format!(r"\G(?:{source})\z"), jit)?,
            search: compile(source, jit)?,
            groups: Mutex::new(Vec::new()),
        })
    }

    /// `pattern.match(text, pos, endpos)`: the end of the match.
    pub fn match_at(&self, text: &[u8], pos: usize, endpos: usize) -> Result<Option<usize>, Error> {
        let subject = &text[..endpos.min(text.len())];
        if pos > subject.len() {
            return Ok(None);
        }
        Ok(self
            .anchored
            .find_at(subject, pos)?
            .map(|found| found.end()))
    }

    /// `pattern.match(text)` is not None.
    pub fn starts(&self, text: &[u8]) -> Result<bool, Error> {
        Ok(self.anchored.find_at(text, 0)?.is_some())
    }

    /// `pattern.fullmatch(text)` is not None.
    pub fn whole(&self, text: &[u8]) -> Result<bool, Error> {
        Ok(self.full.find_at(text, 0)?.is_some())
    }

    /// `pattern.fullmatch(text)`: `read` is given its groups, where it matches.
    pub fn whole_groups<T>(
        &self,
        text: &[u8],
        read: impl FnOnce(&CaptureLocations) -> T,
    ) -> Result<Option<T>, Error> {
        self.with_groups(&self.full, text, read)
    }

    /// `pattern.match(text)`: `read` is given its groups, where it matches.
    pub fn starts_groups<T>(
        &self,
        text: &[u8],
        read: impl FnOnce(&CaptureLocations) -> T,
    ) -> Result<Option<T>, Error> {
        self.with_groups(&self.anchored, text, read)
    }

    fn with_groups<T>(
        &self,
        regex: &Pcre2,
        text: &[u8],
        read: impl FnOnce(&CaptureLocations) -> T,
    ) -> Result<Option<T>, Error> {
        let kept = self.groups.lock().expect("no panic holds it").pop();
        let mut locations = kept.unwrap_or_else(|| self.full.capture_locations());
        let found = regex.captures_read_at(&mut locations, text, 0);
        let result = match found {
            Ok(Some(_)) => Ok(Some(read(&locations))),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        self.groups
            .lock()
            .expect("no panic holds it")
            .push(locations);
        result
    }

    /// `pattern.search(text)` is not None.
    pub fn found_in(&self, text: &[u8]) -> Result<bool, Error> {
        Ok(self.search.find_at(text, 0)?.is_some())
    }

    pub fn full(&self) -> &Pcre2 {
        &self.full
    }
}
