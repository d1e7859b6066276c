//! The tokenizer for one line of a script or strace log.
//!
//! Trivia it drops on the way: whitespace, `#` comments, `/* ... */` comments, and
//! strace's `-y` fd decorations (`3</memfd:x>(deleted)`, `3</memfd:x (deleted)>`),
//! which it recognises as a `<` directly after a number.
//!
//! Every step consumes at least one byte or stops at the end of the line, so lexing
//! always terminates; positions only ever land on ASCII bytes or the end, so slicing the
//! line at them cannot split a UTF-8 character.

use crate::ast::Radix;

/// A lexing or parsing failure inside one line: a byte span and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) msg: String,
}

/// A name or word from the input as shown in a message: at most 40 characters, then
/// `...`, so that a message about a long line stays short.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

impl Fail {
    pub(crate) fn new(start: usize, end: usize, msg: impl Into<String>) -> Self {
        Fail {
            start,
            end,
            msg: msg.into(),
        }
    }
}

/// A token kind with its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident,
    Var(String),
    Num {
        value: u64,
        radix: Radix,
    },
    Pages(u64),
    Str {
        bytes: Vec<u8>,
        truncated: bool,
    },
    Char(u8),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    Pipe,
    Plus,
    Minus,
    Star,
    Shl,
    Question,
    /// strace's `<unfinished ...>`
    Unfinished,
    /// strace `-T`'s `<0.000012>`
    Duration,
    Eof,
}

/// A token and its byte span in the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    /// How to show the token in "found ..." messages.
    pub(crate) fn describe(&self, text: &str) -> String {
        match &self.tok {
            Tok::Eof => "the end of the line".to_string(),
            Tok::Unfinished => "`<unfinished ...>`".to_string(),
            _ => {
                format!(
                    "`{}`",
                    shorten(text.get(self.start..self.end).unwrap_or("?"))
                )
            }
        }
    }
}

/// The lexer's position; `Copy` so that peeking is save-and-restore.
#[derive(Copy, Clone, Debug)]
struct State {
    pos: usize,
    /// End of the last number token, to recognise `-y` decorations glued to it.
    last_num_end: Option<usize>,
}

/// A pull tokenizer over one line.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    text: &'a str,
    b: &'a [u8],
    st: State,
}

pub(crate) fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub(crate) fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`, starting at byte `pos`.
    pub(crate) fn new(text: &'a str, pos: usize) -> Self {
        Lexer {
            text,
            b: text.as_bytes(),
            st: State {
                pos,
                last_num_end: None,
            },
        }
    }

    /// The line being lexed.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// Current byte position (before any trivia).
    pub(crate) fn pos(&self) -> usize {
        self.st.pos
    }

    /// The next token without consuming it.
    pub(crate) fn peek(&mut self) -> Result<Token, Fail> {
        let save = self.st;
        let t = self.next_token();
        self.st = save;
        t
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.st.pos..).unwrap_or(&[])
    }

    /// Skip whitespace and comments.
    pub(crate) fn skip_trivia(&mut self) -> Result<(), Fail> {
        loop {
            let c = self.at(self.st.pos);
            if self.st.pos >= self.b.len() {
                return Ok(());
            }
            if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
                self.st.pos += 1;
            } else if c == b'#' {
                self.st.pos = self.b.len();
            } else if c == b'/' && self.at(self.st.pos + 1) == b'*' {
                let start = self.st.pos;
                let body = &self.b[start + 2..];
                match body.windows(2).position(|w| w == b"*/") {
                    Some(i) => self.st.pos = start + 2 + i + 2,
                    None => {
                        return Err(Fail::new(start, start + 2, "unterminated `/*` comment"));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Skip a balanced `( ... )` group as raw text (strace's `(Cannot allocate memory)`,
    /// `(INJECTED)`), starting at the `(` at the current position after trivia.
    pub(crate) fn skip_paren_group(&mut self) -> Result<(), Fail> {
        self.skip_trivia()?;
        let start = self.st.pos;
        if self.at(start) != b'(' {
            return Err(Fail::new(start, start + 1, "expected `(`"));
        }
        let mut depth = 0usize;
        let mut i = start;
        while i < self.b.len() {
            match self.b[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.st.pos = i + 1;
                        self.st.last_num_end = None;
                        return Ok(());
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(Fail::new(start, start + 1, "unterminated `(`"))
    }

    /// Consume the rest of the line.
    pub(crate) fn skip_to_end(&mut self) {
        self.st.pos = self.b.len();
    }

    /// The next token.
    pub(crate) fn next_token(&mut self) -> Result<Token, Fail> {
        loop {
            self.skip_trivia()?;
            let start = self.st.pos;
            if start >= self.b.len() {
                return Ok(Token {
                    tok: Tok::Eof,
                    start,
                    end: start,
                });
            }
            let glued_to_number = self.st.last_num_end == Some(start);
            self.st.last_num_end = None;
            let c = self.b[start];
            if c == b'<' && glued_to_number && self.at(start + 1) != b'<' {
                self.skip_decoration(start)?;
                continue;
            }
            let tok = self.lex_one(start, c)?;
            let end = self.st.pos;
            if matches!(tok, Tok::Num { .. }) {
                self.st.last_num_end = Some(end);
            }
            return Ok(Token { tok, start, end });
        }
    }

    fn punct(&mut self, n: usize, tok: Tok) -> Result<Tok, Fail> {
        self.st.pos += n;
        Ok(tok)
    }

    fn lex_one(&mut self, start: usize, c: u8) -> Result<Tok, Fail> {
        match c {
            b'(' => self.punct(1, Tok::LParen),
            b')' => self.punct(1, Tok::RParen),
            b'{' => self.punct(1, Tok::LBrace),
            b'}' => self.punct(1, Tok::RBrace),
            b',' => self.punct(1, Tok::Comma),
            b'=' => self.punct(1, Tok::Eq),
            b'|' => self.punct(1, Tok::Pipe),
            b'+' => self.punct(1, Tok::Plus),
            b'-' => self.punct(1, Tok::Minus),
            b'*' => self.punct(1, Tok::Star),
            b'?' => self.punct(1, Tok::Question),
            b'!' => {
                if self.at(start + 1) == b'=' {
                    self.punct(2, Tok::Ne)
                } else {
                    Err(Fail::new(start, start + 1, "expected `!=`"))
                }
            }
            b'<' => self.lex_angle(start),
            b'"' => self.lex_string(start),
            b'\'' => self.lex_char(start),
            b'$' => {
                let mut i = start + 1;
                while is_ident_char(self.at(i)) {
                    i += 1;
                }
                if i == start + 1 {
                    return Err(Fail::new(start, start + 1, "expected a name after `$`"));
                }
                self.st.pos = i;
                Ok(Tok::Var(self.text[start + 1..i].to_string()))
            }
            b'0'..=b'9' => self.lex_number(start),
            c if is_ident_start(c) => {
                let mut i = start + 1;
                while is_ident_char(self.at(i)) {
                    i += 1;
                }
                self.st.pos = i;
                Ok(Tok::Ident)
            }
            _ => {
                let ch = self.text.get(start..).and_then(|s| s.chars().next());
                let (shown, len) = match ch {
                    Some(ch) => (ch.escape_debug().to_string(), ch.len_utf8()),
                    None => (format!("\\x{c:02x}"), 1),
                };
                Err(Fail::new(
                    start,
                    start + len,
                    format!("unexpected character `{shown}`"),
                ))
            }
        }
    }

    fn lex_angle(&mut self, start: usize) -> Result<Tok, Fail> {
        let rest = self.rest();
        if rest.starts_with(b"<<") {
            return self.punct(2, Tok::Shl);
        }
        if rest.starts_with(b"<unfinished ...>") {
            return self.punct(16, Tok::Unfinished);
        }
        // `<0.000012>`
        let mut i = start + 1;
        while self.at(i).is_ascii_digit() || self.at(i) == b'.' {
            i += 1;
        }
        if i > start + 1 && self.at(i) == b'>' {
            self.st.pos = i + 1;
            return Ok(Tok::Duration);
        }
        Err(Fail::new(start, start + 1, "unexpected `<`"))
    }

    /// Skip `<path>` and an optional `(deleted)` glued after it.
    fn skip_decoration(&mut self, start: usize) -> Result<(), Fail> {
        let mut depth = 0usize;
        let mut i = start + 1;
        while i < self.b.len() {
            match self.b[i] {
                b'\\' => i += 1,
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => {
                    let mut end = i + 1;
                    if self.b[end..].starts_with(b"(deleted)") {
                        end += 9;
                    }
                    self.st.pos = end;
                    return Ok(());
                }
                _ => {}
            }
            i += 1;
        }
        Err(Fail::new(
            start,
            start + 1,
            "unterminated `<...>` file descriptor decoration",
        ))
    }

    fn lex_number(&mut self, start: usize) -> Result<Tok, Fail> {
        let b = self.b;
        let (radix, digits_start, base) =
            if b[start] == b'0' && matches!(self.at(start + 1), b'x' | b'X') {
                (Radix::Hex, start + 2, 16u64)
            } else if b[start] == b'0' && self.at(start + 1).is_ascii_digit() {
                (Radix::Oct, start + 1, 8)
            } else {
                (Radix::Dec, start, 10)
            };
        let mut i = digits_start;
        let mut value: u64 = 0;
        let mut overflow = false;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            let d = u64::from((b[i] as char).to_digit(16).unwrap_or(0));
            if d >= base {
                if base == 16 || !b[i].is_ascii_digit() {
                    break;
                }
                return Err(Fail::new(i, i + 1, "invalid digit in octal number"));
            }
            match value.checked_mul(base).and_then(|v| v.checked_add(d)) {
                Some(v) => value = v,
                None => overflow = true,
            }
            i += 1;
        }
        if i == digits_start {
            return Err(Fail::new(start, i, "expected hex digits after `0x`"));
        }
        if overflow {
            return Err(Fail::new(start, i, "number does not fit in 64 bits"));
        }
        // `Np`: pages.
        if self.at(i) == b'p' && !is_ident_char(self.at(i + 1)) {
            self.st.pos = i + 1;
            return match value.checked_mul(vmspace::addr::PAGE_SIZE) {
                Some(_) => Ok(Tok::Pages(value)),
                None => Err(Fail::new(
                    start,
                    i + 1,
                    "page count does not fit in 64 bits",
                )),
            };
        }
        if is_ident_char(self.at(i)) {
            let mut j = i;
            while is_ident_char(self.at(j)) {
                j += 1;
            }
            return Err(Fail::new(
                start,
                j,
                "invalid number (numbers are decimal, 0x hex, or N followed by `p` for pages)",
            ));
        }
        self.st.pos = i;
        Ok(Tok::Num { value, radix })
    }

    /// Decode one escape sequence starting at the backslash at `i`; returns the byte and
    /// the position after the sequence.
    fn escape(&self, i: usize) -> Result<(u8, usize), Fail> {
        let c = self.at(i + 1);
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'v' => Some(0x0b),
            b'f' => Some(0x0c),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'e' => Some(0x1b),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            b'?' => Some(b'?'),
            _ => None,
        };
        if let Some(v) = simple {
            return Ok((v, i + 2));
        }
        if c == b'x' {
            let mut j = i + 2;
            let mut v: u32 = 0;
            while j < i + 4 && self.at(j).is_ascii_hexdigit() {
                v = v * 16 + (self.at(j) as char).to_digit(16).unwrap_or(0);
                j += 1;
            }
            if j == i + 2 {
                return Err(Fail::new(i, i + 2, "expected hex digits after `\\x`"));
            }
            return Ok((v as u8, j));
        }
        if (b'0'..=b'7').contains(&c) {
            let mut j = i + 1;
            let mut v: u32 = 0;
            while j < i + 4 && (b'0'..=b'7').contains(&self.at(j)) {
                v = v * 8 + u32::from(self.at(j) - b'0');
                j += 1;
            }
            if v > 255 {
                return Err(Fail::new(i, j, "octal escape is larger than a byte"));
            }
            return Ok((v as u8, j));
        }
        if i + 1 >= self.b.len() {
            return Err(Fail::new(i, i + 1, "unterminated string"));
        }
        let shown = self
            .text
            .get(i + 1..)
            .and_then(|s| s.chars().next())
            .map(|ch| ch.escape_debug().to_string())
            .unwrap_or_default();
        Err(Fail::new(
            i,
            i + 2,
            format!("unknown escape `\\{shown}` (expected \\n \\t \\\\ \\\" \\0 \\xHH or octal)"),
        ))
    }

    fn lex_string(&mut self, start: usize) -> Result<Tok, Fail> {
        let mut bytes = Vec::new();
        let mut i = start + 1;
        loop {
            if i >= self.b.len() {
                return Err(Fail::new(start, start + 1, "unterminated string"));
            }
            match self.b[i] {
                b'"' => break,
                b'\\' => {
                    let (v, next) = self.escape(i)?;
                    bytes.push(v);
                    i = next;
                }
                c => {
                    bytes.push(c);
                    i += 1;
                }
            }
        }
        i += 1;
        let truncated = self.b[i..].starts_with(b"...");
        if truncated {
            i += 3;
        }
        self.st.pos = i;
        Ok(Tok::Str { bytes, truncated })
    }

    fn lex_char(&mut self, start: usize) -> Result<Tok, Fail> {
        let (v, next) = match self.at(start + 1) {
            b'\\' => self.escape(start + 1)?,
            b'\'' => return Err(Fail::new(start, start + 2, "empty character literal")),
            c if c.is_ascii() && start + 1 < self.b.len() => (c, start + 2),
            _ => {
                return Err(Fail::new(
                    start,
                    start + 1,
                    "a character literal holds one ASCII character",
                ));
            }
        };
        if self.at(next) != b'\'' {
            return Err(Fail::new(
                start,
                next,
                "expected `'` to close the character literal",
            ));
        }
        self.st.pos = next + 1;
        Ok(Tok::Char(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s, 0);
        let mut v = Vec::new();
        loop {
            let t = l.next_token().unwrap();
            if t.tok == Tok::Eof {
                return v;
            }
            v.push(t.tok);
        }
    }

    #[test]
    fn numbers_pages_and_radixes() {
        assert_eq!(
            toks("4096 0x1000 010 4p 0x10p 0xfffffffffffffffe"),
            vec![
                Tok::Num {
                    value: 4096,
                    radix: Radix::Dec
                },
                Tok::Num {
                    value: 4096,
                    radix: Radix::Hex
                },
                Tok::Num {
                    value: 8,
                    radix: Radix::Oct
                },
                Tok::Pages(4),
                Tok::Pages(16),
                Tok::Num {
                    value: 0xffff_ffff_ffff_fffe,
                    radix: Radix::Hex
                },
            ]
        );
        Lexer::new("18446744073709551616", 0)
            .next_token()
            .unwrap_err();
        Lexer::new("12abc", 0).next_token().unwrap_err();
        Lexer::new("09", 0).next_token().unwrap_err();
        Lexer::new("0x", 0).next_token().unwrap_err();
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\n\t\\\"\0\x41\101\377" "AAA"..."#),
            vec![
                Tok::Str {
                    bytes: b"a\n\t\\\"\0AA\xff".to_vec(),
                    truncated: false
                },
                Tok::Str {
                    bytes: b"AAA".to_vec(),
                    truncated: true
                },
            ]
        );
        assert_eq!(
            toks(r"'a' '\n' '\''"),
            vec![Tok::Char(b'a'), Tok::Char(b'\n'), Tok::Char(b'\'')]
        );
        Lexer::new(r#""abc"#, 0).next_token().unwrap_err();
        Lexer::new(r#""\q""#, 0).next_token().unwrap_err();
        Lexer::new(r#""\777""#, 0).next_token().unwrap_err();
    }

    #[test]
    fn decorations_comments_and_markers() {
        assert_eq!(
            toks("3</memfd:x>(deleted), 4</memfd:y (deleted)> /* c */ # rest"),
            vec![
                Tok::Num {
                    value: 3,
                    radix: Radix::Dec
                },
                Tok::Comma,
                Tok::Num {
                    value: 4,
                    radix: Radix::Dec
                }
            ]
        );
        assert_eq!(
            toks("21<<MAP_HUGE_SHIFT <unfinished ...> <0.000012>"),
            vec![
                Tok::Num {
                    value: 21,
                    radix: Radix::Dec
                },
                Tok::Shl,
                Tok::Ident,
                Tok::Unfinished,
                Tok::Duration
            ]
        );
        assert_eq!(
            toks("5<TCP:[127.0.0.1:1->127.0.0.1:2]>"),
            vec![Tok::Num {
                value: 5,
                radix: Radix::Dec
            }]
        );
        Lexer::new("3</x", 0).next_token().unwrap();
        let mut l = Lexer::new("3</x", 0);
        l.next_token().unwrap();
        l.next_token().unwrap_err();
    }
}
