//! Tokens of the Python subset TorchScript source is written in, with
//! `Indent`/`Dedent`/`Newline` from the layout as Python defines them
//! (newlines inside brackets and blank or comment-only lines do not count).

use super::Pos;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword.
    Name(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal (escapes resolved).
    Str(String),
    /// An operator or delimiter (`(`, `//`, `->`, `+=`, ...).
    Op(&'static str),
    /// End of a logical line.
    Newline,
    /// The indentation grew.
    Indent,
    /// The indentation shrank by one level.
    Dedent,
    /// End of the file.
    End,
}

/// Operators, longest first so `//=` wins over `//` and `/`.
const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "->", "**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=", "%=",
    "&=", "|=", "^=", "@=", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=", "+", "-", "*", "/", "%", "<", ">",
    "&", "|", "^", "~", "@",
];

/// Splits `text` into tokens with their positions; errors carry the position.
pub fn lex(text: &str) -> Result<Vec<(Tok, Pos)>, (Pos, String)> {
    let mut out = Vec::new();
    let mut indents = vec![0usize];
    let mut depth = 0usize; // bracket nesting
    let mut at_line_start = true;
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    let at = |k: usize| chars.get(k).copied();
    while let Some(c) = at(i) {
        let pos = Pos { line, col };
        if at_line_start && depth == 0 {
            // Measure the indentation of a line with content.
            let mut width = 0;
            let mut j = i;
            while let Some(w @ (' ' | '\t')) = at(j) {
                width += if w == '\t' { 8 - width % 8 } else { 1 };
                j += 1;
            }
            let blank = matches!(at(j), None | Some('\n' | '\r' | '#'));
            if !blank {
                let here = Pos { line, col: col + (j - i) as u32 };
                // The bottom level 0 is never popped (no width is below it).
                let top = indents.last().copied().unwrap_or(0);
                if width > top {
                    indents.push(width);
                    out.push((Tok::Indent, here));
                } else {
                    while width < indents.last().copied().unwrap_or(0) {
                        indents.pop();
                        out.push((Tok::Dedent, here));
                    }
                    if width != indents.last().copied().unwrap_or(0) {
                        return Err((here, "indentation does not match any outer level".into()));
                    }
                }
            }
            col += (j - i) as u32;
            i = j;
            at_line_start = false;
            continue;
        }
        match c {
            '\n' => {
                if depth == 0 && !matches!(out.last(), None | Some((Tok::Newline, _))) {
                    out.push((Tok::Newline, pos));
                }
                i += 1;
                line += 1;
                col = 1;
                at_line_start = depth == 0;
            }
            ' ' | '\t' | '\r' | '\x0c' => {
                i += 1;
                col += 1;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                i += 2;
                line += 1;
                col = 1;
            }
            '#' => {
                while at(i).is_some_and(|d| d != '\n') {
                    i += 1;
                }
            }
            '"' | '\'' => {
                let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                let mut j = i + if triple { 3 } else { 1 };
                let mut s = String::new();
                loop {
                    let Some(&d) = chars.get(j) else {
                        return Err((pos, "unterminated string".into()));
                    };
                    if d == c && (!triple || (chars.get(j + 1) == Some(&c) && chars.get(j + 2) == Some(&c))) {
                        j += if triple { 3 } else { 1 };
                        break;
                    }
                    if d == '\n' {
                        if !triple {
                            return Err((pos, "unterminated string".into()));
                        }
                        line += 1;
                    }
                    if d == '\\' {
                        let e = *chars.get(j + 1).ok_or((pos, "unterminated string".to_string()))?;
                        j += 2;
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '0' => s.push('\0'),
                            '\\' | '\'' | '"' => s.push(e),
                            'x' => {
                                let hex: String = chars.get(j..j + 2).map(|h| h.iter().collect()).unwrap_or_default();
                                let v =
                                    u32::from_str_radix(&hex, 16).map_err(|_| (pos, "bad \\x escape".to_string()))?;
                                s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                                j += 2;
                            }
                            '\n' => line += 1,
                            _ => {
                                s.push('\\');
                                s.push(e);
                            }
                        }
                        continue;
                    }
                    s.push(d);
                    j += 1;
                }
                col += (j - i) as u32;
                i = j;
                out.push((Tok::Str(s), pos));
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let mut j = i;
                let mut float = false;
                while let Some(d) = at(j) {
                    if d.is_ascii_alphanumeric() || d == '_' || d == '.' {
                        if d == '.' || ((d == 'e' || d == 'E') && !text_is_hex(chars.get(i..j).unwrap_or_default())) {
                            float = true;
                            if (d == 'e' || d == 'E') && matches!(chars.get(j + 1), Some('+' | '-')) {
                                j += 1;
                            }
                        }
                        j += 1;
                    } else {
                        break;
                    }
                }
                let s: String = chars.get(i..j).unwrap_or_default().iter().filter(|&&d| d != '_').collect();
                let tok = if float {
                    Tok::Float(s.parse().map_err(|_| (pos, format!("bad number '{s}'")))?)
                } else if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Tok::Int(i64::from_str_radix(h, 16).map_err(|_| (pos, format!("bad number '{s}'")))?)
                } else {
                    match s.parse::<i64>() {
                        Ok(v) => Tok::Int(v),
                        // `inf`-like huge literals are written as floats by torch; an
                        // integer past i64 is read as a float rather than rejected.
                        Err(_) => Tok::Float(s.parse().map_err(|_| (pos, format!("bad number '{s}'")))?),
                    }
                };
                col += (j - i) as u32;
                i = j;
                out.push((tok, pos));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while at(j).is_some_and(|d| d.is_alphanumeric() || d == '_') {
                    j += 1;
                }
                out.push((Tok::Name(chars.get(i..j).unwrap_or_default().iter().collect()), pos));
                col += (j - i) as u32;
                i = j;
            }
            _ => {
                let op = OPS
                    .iter()
                    .find(|op| op.chars().enumerate().all(|(k, oc)| chars.get(i + k) == Some(&oc)))
                    .ok_or((pos, format!("unexpected character '{c}'")))?;
                match *op {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.checked_sub(1).ok_or((pos, format!("unmatched '{op}'")))?,
                    _ => {}
                }
                out.push((Tok::Op(op), pos));
                i += op.len();
                col += op.len() as u32;
            }
        }
    }
    let end = Pos { line, col };
    if depth != 0 {
        return Err((end, "unclosed bracket at end of file".into()));
    }
    if !matches!(out.last(), None | Some((Tok::Newline, _))) {
        out.push((Tok::Newline, end));
    }
    for _ in 1..indents.len() {
        out.push((Tok::Dedent, end));
    }
    out.push((Tok::End, end));
    Ok(out)
}

fn text_is_hex(s: &[char]) -> bool {
    matches!(s, ['0', 'x' | 'X', ..])
}
