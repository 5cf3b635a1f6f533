//! Lexical helpers shared by the header and URI parsers (RFC 3261 §25.1).

/// `token` characters of RFC 3261 §25.1.
pub(crate) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Linear white space as the header grammar sees it after unfolding.
pub(crate) fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

pub(crate) fn trim_ws(s: &str) -> &str {
    s.trim_matches(is_ws)
}

/// Splits `s` on `sep` where it is not inside a quoted string or `<...>`.
/// Yields trimmed pieces; the caller decides whether empty pieces are errors.
pub(crate) fn split_top_level(s: &str, sep: char) -> SplitTopLevel<'_> {
    SplitTopLevel { rest: Some(s), sep }
}

pub(crate) struct SplitTopLevel<'a> {
    rest: Option<&'a str>,
    sep: char,
}

impl<'a> Iterator for SplitTopLevel<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let mut in_quote = false;
        let mut escaped = false;
        let mut angle = false;
        for (i, c) in s.char_indices() {
            if in_quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_quote = false;
                }
                continue;
            }
            match c {
                '"' => in_quote = true,
                '<' => angle = true,
                '>' => angle = false,
                c if c == self.sep && !angle => {
                    let (head, tail) = s.split_at(i);
                    self.rest = Some(tail.get(c.len_utf8()..).unwrap_or(""));
                    return Some(trim_ws(head));
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(trim_ws(s))
    }
}

/// Reads a quoted string at the start of `s` (which must begin with `"`).
/// Returns the unescaped content and the remainder after the closing quote.
pub(crate) fn take_quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(e);
            }
            '"' => return Some((out, body.get(i + 1..).unwrap_or(""))),
            _ => out.push(c),
        }
    }
    None
}

/// Removes surrounding quotes and escapes if `s` is a quoted string, else returns it as is.
pub(crate) fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with('"') {
        if let Some((v, rest)) = take_quoted(s) {
            if rest.is_empty() {
                return std::borrow::Cow::Owned(v);
            }
        }
    }
    std::borrow::Cow::Borrowed(s)
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v: Vec<_> = split_top_level(r#""a,\"b" <sip:x@y;a=1,2>;p=1 , <sip:z>"#, ',').collect();
        assert_eq!(v, vec![r#""a,\"b" <sip:x@y;a=1,2>;p=1"#, "<sip:z>"]);
    }

    #[test]
    fn quoted_roundtrip() {
        let q = quote(r#"a"b\c"#);
        assert_eq!(unquote(&q), r#"a"b\c"#);
        assert!(take_quoted("\"unterminated").is_none());
        assert!(take_quoted("\"x\\").is_none());
    }
}
