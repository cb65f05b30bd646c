//! The text the detector reads: `_skeleton.skeleton`, from the same table.

use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};

/// One ASCII byte per character of `text`, through `table` (a byte per code point).
pub fn skeleton(text: &Bound<'_, PyString>, table: &[u8]) -> PyResult<Vec<u8>> {
    // SAFETY: the str is immutable and borrowed for the length of this call; its code
    // units are read as CPython stores them (one, two or four bytes each).
    let data = unsafe { text.data()? };
    Ok(match data {
        PyStringData::Ucs1(units) => units.iter().map(|&unit| table[unit as usize]).collect(),
        PyStringData::Ucs2(units) => units.iter().map(|&unit| table[unit as usize]).collect(),
        PyStringData::Ucs4(units) => units
            .iter()
            .map(|&unit| table.get(unit as usize).copied().unwrap_or(table[0x80]))
            .collect(),
    })
}
