//! One log record as a line on the stack: formatting a record allocates
//! nothing, so logging works when memory has run out.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fmt::{self, Write as _};

/// One log line, formatted on the stack: at most [`LineBuffer::CAPACITY`]
/// bytes, cut at a character boundary, NUL bytes written as `\0` so that
/// it can be handed to C as a string.
pub struct LineBuffer {
    bytes: [u8; Self::CAPACITY + 1],
    len: usize,
}

impl LineBuffer {
    /// The longest line; one more byte holds the terminating NUL.
    pub const CAPACITY: usize = 1023;

    /// An empty line.
    pub fn new() -> Self {
        LineBuffer {
            bytes: [0; Self::CAPACITY + 1],
            len: 0,
        }
    }

    /// Appends `args`, cut where the buffer is full.
    pub fn format(&mut self, args: &fmt::Arguments<'_>) {
        // A full buffer stops the formatting with an error: that is the cut.
        let _ = self.write_fmt(*args);
    }

    #[cfg_attr(feature = "isula-libutils-log", allow(dead_code))] // stderr's
    /// The line's bytes, without a NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The line as a C string.
    pub fn as_c_str(&mut self) -> &CStr {
        self.bytes[self.len] = 0;
        // No NUL is ever written before `len` (see `write_str`).
        CStr::from_bytes_with_nul(&self.bytes[..=self.len]).unwrap_or_default()
    }

    fn push(&mut self, piece: &str) -> fmt::Result {
        let room = Self::CAPACITY - self.len;
        let mut take = piece.len().min(room);
        while !piece.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&piece.as_bytes()[..take]);
        self.len += take;
        if take < piece.len() {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for LineBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut pieces = text.split('\0');
        if let Some(first) = pieces.next() {
            self.push(first)?;
        }
        for piece in pieces {
            self.push("\\0")?;
            self.push(piece)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_cut_at_its_capacity_and_carries_no_nul() {
        let mut line = LineBuffer::new();
        let long = "é".repeat(LineBuffer::CAPACITY);
        line.format(&format_args!("a\0b {long}"));
        assert!(line.as_bytes().len() <= LineBuffer::CAPACITY);
        assert!(line.as_bytes().starts_with(b"a\\0b "));
        let text = line
            .as_c_str()
            .to_str()
            .expect("cut at a character boundary");
        assert!(text.ends_with('é'));
    }
}
