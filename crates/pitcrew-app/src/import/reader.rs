//! From the bytes of a CSV file to records with the physical line each one
//! starts on: the encoding (UTF-8 with or without a BOM, or Latin-1 read as
//! Windows-1252) and the separator are taken as given or detected from the
//! first 64 KiB; files that are not CSV text (UTF-16, Excel workbooks,
//! binary) are refused up front.
//!
//! Records are parsed with `csv-core` — the engine of the `csv` crate — fed
//! from a fixed buffer, so memory stays bounded whatever the file's size; a
//! record longer than `MAX_RECORD_BYTES` (a quote opened and never closed)
//! stops the read instead of swallowing the rest of the file. Line numbers
//! are counted here because the `csv` crate's positions point at the end of
//! the previous record (after a CRLF or blank lines), not where a record starts.

use std::io::{ErrorKind, Read};

use csv_core::{ReadRecordResult, ReaderBuilder};
use serde::{Deserialize, Serialize};

/// How much of the file is looked at to detect its encoding and separator.
const SNIFF_BYTES: usize = 64 * 1024;
/// How much is read from the source at a time.
const READ_BYTES: usize = 64 * 1024;
/// The longest record accepted.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// The most values one record may have.
const MAX_FIELDS: usize = 10_000;

/// How the bytes of a file become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    #[default]
    Utf8,
    /// ISO 8859-1 as Windows writes it (Windows-1252): Excel's "CSV" on
    /// Western-European systems. Every byte is one character.
    Latin1,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Latin1 => "latin1",
        }
    }

    /// `utf8`/`utf-8`, or `latin1`/`latin-1`/`iso-8859-1`/`windows-1252`/`cp1252`.
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Some(Encoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "windows-1252" | "cp1252" => {
                Some(Encoding::Latin1)
            }
            _ => None,
        }
    }

    /// What to call it in messages.
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Latin1 => "Latin-1 (Windows-1252)",
        }
    }
}

impl std::str::FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Encoding, String> {
        Encoding::parse(s).ok_or_else(|| format!("unknown encoding `{s}`; use utf8 or latin1"))
    }
}

/// The separators pitcrew detects, most likely first.
pub const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

/// A separator as people write it: `,`, `;`, `|`, `tab` or `\t`.
pub fn parse_delimiter(s: &str) -> Option<u8> {
    match s {
        "tab" | "\\t" | "\t" | "TAB" => Some(b'\t'),
        "," | ";" | "|" => s.bytes().next(),
        _ => None,
    }
}

/// A separator as people read it.
pub fn delimiter_label(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        other => char::from(other).to_string(),
    }
}

/// How a file is read, as given or detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub encoding: Encoding,
    /// The file did not say and pitcrew chose (no valid UTF-8 → Latin-1).
    pub encoding_detected: bool,
    pub delimiter: u8,
    pub delimiter_detected: bool,
}

/// Why a file cannot be read at all, or stopped being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    /// Stable code, e.g. `import_empty`, `import_not_csv`, `import_record_too_long`.
    pub code: &'static str,
    pub message: String,
    /// The line where the problem is, when there is one.
    pub line: Option<u64>,
}

impl ReadFailure {
    fn new(code: &'static str, message: impl Into<String>) -> ReadFailure {
        ReadFailure {
            code,
            message: message.into(),
            line: None,
        }
    }

    /// A failure of the source itself (disk, network, upload size).
    fn io(e: &std::io::Error, line: u64) -> ReadFailure {
        let (code, message) = if e.kind() == ErrorKind::FileTooLarge {
            ("import_too_large", e.to_string())
        } else {
            (
                "import_unreadable",
                format!("the file could not be read after line {line}: {e}"),
            )
        };
        ReadFailure {
            code,
            message,
            line: Some(line),
        }
    }
}

/// One record of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The physical line where it starts, 1 being the file's first line.
    pub line: u64,
    pub values: Vec<String>,
    /// The first value (0-based) whose bytes were not valid in the file's
    /// encoding; its text then has U+FFFD where those bytes were.
    pub undecodable: Option<usize>,
}

impl Record {
    /// Every value is blank (Excel writes such rows as `,,,,`).
    pub fn is_blank(&self) -> bool {
        self.values.iter().all(|v| v.trim().is_empty())
    }
}

/// Windows-1252's characters for the bytes 0x80–0x9F, where it differs from
/// ISO 8859-1; the five bytes it leaves undefined keep their Latin-1 meaning.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// Latin-1 (as Windows-1252) bytes as text: every byte is one character.
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Text of one value, and whether its bytes were valid in `encoding`.
fn decode(bytes: &[u8], encoding: Encoding) -> (String, bool) {
    match encoding {
        Encoding::Latin1 => (decode_latin1(bytes), true),
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), true),
            Err(_) => (String::from_utf8_lossy(bytes).into_owned(), false),
        },
    }
}

/// Whether `prefix` is UTF-8, allowing a character cut off at its end.
fn is_utf8_prefix(prefix: &[u8], complete: bool) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none(),
    }
}

/// The separator of the header line: the candidate seen most often outside
/// quotes on the first line (`,` when none is).
fn sniff_delimiter(prefix: &[u8]) -> u8 {
    let mut counts = [0usize; SEPARATORS.len()];
    let mut quoted = false;
    for &b in prefix {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = SEPARATORS.iter().position(|&s| s == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..SEPARATORS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    SEPARATORS[best]
}

/// Refuse what is plainly not CSV text, with what to do instead.
fn refuse_non_csv(prefix: &[u8]) -> Result<(), ReadFailure> {
    let starts = |magic: &[u8]| prefix.starts_with(magic);
    if starts(b"\xFF\xFE") || starts(b"\xFE\xFF") {
        return Err(ReadFailure::new(
            "import_encoding_unsupported",
            "the file is UTF-16 (Excel's \"Unicode text\"); save it as \"CSV UTF-8\" and import that",
        ));
    }
    if starts(b"PK\x03\x04") {
        return Err(ReadFailure::new(
            "import_not_csv",
            "the file is an Excel workbook (.xlsx) or another zip archive, not CSV; open it and save it as \"CSV UTF-8\"",
        ));
    }
    if starts(b"\xD0\xCF\x11\xE0") {
        return Err(ReadFailure::new(
            "import_not_csv",
            "the file is an old Excel workbook (.xls), not CSV; open it and save it as \"CSV UTF-8\"",
        ));
    }
    if prefix.contains(&0) {
        return Err(ReadFailure::new(
            "import_not_csv",
            "the file holds binary data (NUL bytes), not CSV text; export it from its program as CSV",
        ));
    }
    Ok(())
}

/// Records of a CSV source, read as they are needed.
pub struct CsvRecords {
    source: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    core: csv_core::Reader,
    dialect: Dialect,
    /// The byte that ends a line: `\n`, or `\r` in files that have no `\n`.
    newline: u8,
    /// The physical line of the next byte to parse.
    line: u64,
    /// Bytes parsed so far.
    consumed: u64,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl CsvRecords {
    /// Look at the start of `source`, settle the dialect, and get ready to
    /// read records. Refuses an empty file and files that are not CSV text.
    pub fn open(
        mut source: Box<dyn Read + Send>,
        encoding: Option<Encoding>,
        delimiter: Option<u8>,
    ) -> Result<CsvRecords, ReadFailure> {
        let mut buf = vec![0; SNIFF_BYTES.max(READ_BYTES)];
        let mut len = 0;
        let mut eof = false;
        while len < SNIFF_BYTES {
            match source.read(&mut buf[len..SNIFF_BYTES]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadFailure::io(&e, 1)),
            }
        }
        let mut pos = 0;
        if buf[..len].starts_with(b"\xEF\xBB\xBF") {
            pos = 3;
        }
        let prefix = &buf[pos..len];
        if prefix.iter().all(u8::is_ascii_whitespace) {
            return Err(ReadFailure::new(
                "import_empty",
                "the file is empty; export it again with a header row and at least one record",
            ));
        }
        refuse_non_csv(&buf[..len])?;
        let (encoding, encoding_detected) = match encoding {
            Some(e) => (e, false),
            None if pos == 3 || is_utf8_prefix(prefix, eof) => (Encoding::Utf8, false),
            None => (Encoding::Latin1, true),
        };
        let (delimiter, delimiter_detected) = match delimiter {
            Some(d) => (d, false),
            None => (sniff_delimiter(prefix), true),
        };
        let newline = if !prefix.contains(&b'\n') && prefix.contains(&b'\r') {
            b'\r'
        } else {
            b'\n'
        };
        let core = ReaderBuilder::new().delimiter(delimiter).build();
        Ok(CsvRecords {
            source,
            buf,
            pos,
            len,
            eof,
            core,
            dialect: Dialect {
                encoding,
                encoding_detected,
                delimiter,
                delimiter_detected,
            },
            newline,
            line: 1,
            consumed: pos as u64,
            out: vec![0; 4096],
            ends: vec![0; 64],
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Bytes of the file parsed so far.
    pub fn bytes_read(&self) -> u64 {
        self.consumed
    }

    fn fill(&mut self) -> Result<(), ReadFailure> {
        self.pos = 0;
        self.len = 0;
        loop {
            match self.source.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.len = n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadFailure::io(&e, self.line)),
            }
        }
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadFailure> {
        let (mut outlen, mut endlen) = (0, 0);
        let mut start: Option<u64> = None;
        loop {
            if self.pos == self.len && !self.eof {
                self.fill()?;
            }
            let input = &self.buf[self.pos..self.len];
            let (result, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..]);
            // Line terminators before a record (a CRLF's LF, blank lines) are not part of it.
            for &b in &input[..nin] {
                if start.is_none() && b != b'\n' && b != b'\r' {
                    start = Some(self.line);
                }
                if b == self.newline {
                    self.line += 1;
                }
            }
            self.pos += nin;
            self.consumed += nin as u64;
            outlen += nout;
            endlen += nend;
            let at = start.unwrap_or(self.line);
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= MAX_RECORD_BYTES {
                        return Err(too_long(at));
                    }
                    let grown = (self.out.len() * 2).min(MAX_RECORD_BYTES);
                    self.out.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return Err(ReadFailure {
                            code: "import_too_many_columns",
                            message: format!(
                                "the record starting at line {at} has more than {MAX_FIELDS} values; check the separator"
                            ),
                            line: Some(at),
                        });
                    }
                    let grown = (self.ends.len() * 2).min(MAX_FIELDS);
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => return Ok(Some(self.record(at, endlen))),
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    fn record(&self, line: u64, nfields: usize) -> Record {
        let mut values = Vec::with_capacity(nfields);
        let mut undecodable = None;
        let mut from = 0;
        for (i, &end) in self.ends[..nfields].iter().enumerate() {
            let (text, ok) = decode(&self.out[from..end], self.dialect.encoding);
            if !ok && undecodable.is_none() {
                undecodable = Some(i);
            }
            values.push(text);
            from = end;
        }
        Record {
            line,
            values,
            undecodable,
        }
    }
}

fn too_long(line: u64) -> ReadFailure {
    ReadFailure {
        code: "import_record_too_long",
        message: format!(
            "the record starting at line {line} is longer than {} MiB: a quote (\") opened there is probably never closed. Rows before it were read; fix that line and import the rest again",
            MAX_RECORD_BYTES / (1024 * 1024)
        ),
        line: Some(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Dialect, Vec<Record>) {
        let mut r = CsvRecords::open(Box::new(std::io::Cursor::new(bytes.to_vec())), None, None)
            .expect("open");
        let mut all = Vec::new();
        while let Some(rec) = r.next_record().expect("record") {
            all.push(rec);
        }
        (r.dialect(), all)
    }

    fn lines(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.line).collect()
    }

    #[test]
    fn each_record_knows_the_physical_line_it_starts_on() {
        let crlf = b"a,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r\n4,5\r\n";
        let (_, records) = read_all(crlf);
        assert_eq!(lines(&records), [1, 2, 4, 6]);
        assert_eq!(records[2].values, ["3", "x\r\ny"]);
        let lf = b"a,b\n1,2\n\n\n3,\"x\ny\"\n4,5";
        assert_eq!(lines(&read_all(lf).1), [1, 2, 5, 7]);
        let cr = b"a,b\r1,2\r3,4\r";
        assert_eq!(lines(&read_all(cr).1), [1, 2, 3]);
    }

    #[test]
    fn a_bom_is_dropped_and_means_utf8() {
        let (d, records) = read_all("\u{feff}Name;Stadt\nMüller;Köln\n".as_bytes());
        assert_eq!((d.encoding, d.delimiter), (Encoding::Utf8, b';'));
        assert_eq!(records[0].values, ["Name", "Stadt"]);
        assert_eq!(records[1].values, ["Müller", "Köln"]);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_read_as_latin1() {
        let (d, records) = read_all(b"name\tcity\nM\xfcller\tK\xf6ln \x80\n");
        assert_eq!(d.encoding, Encoding::Latin1);
        assert!(d.encoding_detected);
        assert_eq!(d.delimiter, b'\t');
        assert_eq!(records[1].values, ["Müller", "Köln €"]);
    }

    #[test]
    fn invalid_utf8_after_the_sniffed_start_marks_the_value() {
        let mut bytes = b"name,city\n".to_vec();
        for _ in 0..(SNIFF_BYTES / 6 + 100) {
            bytes.extend_from_slice(b"ab,cd\n");
        }
        bytes.extend_from_slice(b"M\xfcller,x\n");
        let (d, records) = read_all(&bytes);
        assert_eq!(d.encoding, Encoding::Utf8);
        let last = records.last().expect("last");
        assert_eq!(last.undecodable, Some(0));
        assert_eq!(last.values[0], "M\u{fffd}ller");
    }

    #[test]
    fn the_separator_is_the_one_the_header_uses() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_delimiter(b"\"a;b\",c\n"), b',');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }

    #[test]
    fn empty_and_non_csv_files_are_refused() {
        let open = |b: &[u8]| {
            CsvRecords::open(Box::new(std::io::Cursor::new(b.to_vec())), None, None)
                .err()
                .map(|f| f.code)
        };
        assert_eq!(open(b""), Some("import_empty"));
        assert_eq!(open(b"\xEF\xBB\xBF\r\n"), Some("import_empty"));
        assert_eq!(open(b"\xFF\xFEa\0"), Some("import_encoding_unsupported"));
        assert_eq!(open(b"PK\x03\x04rest"), Some("import_not_csv"));
        assert_eq!(open(b"a,b\n1,\0"), Some("import_not_csv"));
    }

    #[test]
    fn an_unclosed_quote_stops_at_the_record_limit() {
        let mut bytes = b"a,b\n1,\"open\n".to_vec();
        bytes.resize(MAX_RECORD_BYTES + 1024, b'x');
        let mut r =
            CsvRecords::open(Box::new(std::io::Cursor::new(bytes)), None, None).expect("open");
        assert!(r.next_record().expect("header").is_some());
        let failure = r.next_record().expect_err("too long");
        assert_eq!(
            (failure.code, failure.line),
            ("import_record_too_long", Some(2))
        );
    }

    #[test]
    fn windows_1252_punctuation_becomes_its_characters() {
        assert_eq!(decode_latin1(b"\x93Caf\xe9\x94 \x96 \x85"), "“Café” – …");
    }
}
