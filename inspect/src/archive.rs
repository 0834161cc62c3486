//! Static archives (`!<arch>`: GNU/System V and BSD layouts; `!<thin>`),
//! member by member.
//!
//! Not `object`'s reader: it finds a member's long name by scanning the name
//! table up to the name's end, so thousands of members naming one huge
//! entry cost the product of the two. Here a name is read at most
//! [`MAX_NAME`] bytes deep.

/// Longest member name kept, in bytes; longer ones end in `...`.
const MAX_NAME: usize = 256;
/// `ar_fmag`, the end of each member header.
const HEADER_END: &[u8] = b"`\n";
const HEADER_SIZE: usize = 60;

/// One member: its name and its bytes (or why they cannot be had).
pub(crate) struct Member<'d> {
    pub name: String,
    pub data: Result<&'d [u8], String>,
    /// A thin archive's member: its bytes are another file's.
    pub external: bool,
}

/// The members of an archive, symbol and name tables left out. An `Err`
/// is a member header that cannot be read: nothing after it can be found,
/// and it is the last item.
pub(crate) struct Members<'d> {
    data: &'d [u8],
    offset: usize,
    names: &'d [u8],
    thin: bool,
    done: bool,
    /// Member headers read, tables included.
    pub headers_read: usize,
}

/// Starts reading `data` (which begins with `!<arch>\n` or `!<thin>\n`).
pub(crate) fn members(data: &[u8]) -> Members<'_> {
    Members {
        data,
        offset: 8,
        names: &[],
        thin: data.starts_with(b"!<thin>\n"),
        done: false,
        headers_read: 0,
    }
}

fn decimal(field: &[u8]) -> Option<usize> {
    let digits = field.trim_ascii_end();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A name for listings, at most [`MAX_NAME`] bytes of `name`.
fn shown(name: &[u8], truncated: bool) -> String {
    let cut = &name[..name.len().min(MAX_NAME)];
    let mut shown = String::from_utf8_lossy(cut).into_owned();
    if truncated || cut.len() < name.len() {
        shown.push_str("...");
    }
    shown
}

/// The GNU long name at `offset` in the name table: up to `/\n` (or a NUL,
/// as some archivers write), read no further than [`MAX_NAME`] bytes.
fn long_name(names: &[u8], offset: usize) -> Option<String> {
    let rest = names.get(offset..)?;
    let window = &rest[..rest.len().min(MAX_NAME + 2)];
    match window.iter().position(|&b| b == b'\n' || b == 0) {
        Some(end) => {
            let name = &window[..end];
            Some(shown(name.strip_suffix(b"/").unwrap_or(name), false))
        }
        None if window.len() > MAX_NAME => Some(shown(&window[..MAX_NAME], true)),
        None => None,
    }
}

impl<'d> Members<'d> {
    fn fail(&mut self, why: String) -> Option<Result<Member<'d>, String>> {
        self.done = true;
        Some(Err(why))
    }
}

impl<'d> Iterator for Members<'d> {
    type Item = Result<Member<'d>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done || self.offset >= self.data.len() {
                return None;
            }
            let at = self.offset;
            let Some(header) = self.data.get(at..at + HEADER_SIZE) else {
                // Some archivers end the file with a newline.
                if self.data[at..] == *b"\n" {
                    return None;
                }
                return self.fail(format!("truncated member header at offset {at}"));
            };
            if &header[58..60] != HEADER_END {
                return self.fail(format!("bad member header at offset {at}"));
            }
            let Some(size) = decimal(&header[48..58]) else {
                return self.fail(format!("bad member size at offset {at}"));
            };
            let raw_name = header[..16].trim_ascii_end();
            let special = matches!(raw_name, b"/" | b"//" | b"/SYM64/");
            let start = at + HEADER_SIZE;
            // A thin archive holds only its tables; members are other files.
            let end = if self.thin && !special {
                start
            } else {
                match start
                    .checked_add(size)
                    .filter(|&end| end <= self.data.len())
                {
                    Some(end) => end,
                    None => {
                        return self.fail(format!(
                            "member at offset {at} claims {size} bytes, past the end of the archive"
                        ))
                    }
                }
            };
            self.headers_read += 1;
            // Members start at even offsets.
            self.offset = end + end % 2;
            let body = &self.data[start..end];
            match raw_name {
                b"/" | b"/SYM64/" => continue,
                b"//" => {
                    self.names = body;
                    continue;
                }
                _ => {}
            }
            let (name, data) = if let Some(digits) = raw_name.strip_prefix(b"#1/") {
                // BSD: the name is the first `digits` bytes of the body.
                match decimal(digits).filter(|&len| len <= body.len()) {
                    Some(len) => {
                        let name = &body[..len];
                        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(len)];
                        (shown(name, false), Ok(&body[len..]))
                    }
                    None => (
                        shown(raw_name, false),
                        Err("bad BSD extended name length".to_string()),
                    ),
                }
            } else if let Some(offset) = raw_name.strip_prefix(b"/").and_then(decimal) {
                match long_name(self.names, offset) {
                    Some(name) => (name, Ok(body)),
                    None => (
                        shown(raw_name, false),
                        Err(format!("no name at offset {offset} of the name table")),
                    ),
                }
            } else {
                let name = raw_name.strip_suffix(b"/").unwrap_or(raw_name);
                (shown(name, false), Ok(body))
            };
            if name.starts_with("__.SYMDEF") {
                continue;
            }
            return Some(Ok(Member {
                name,
                data,
                external: self.thin,
            }));
        }
    }
}
