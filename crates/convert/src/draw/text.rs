//! Text in the drawings: the fonts, an estimate of how wide a string is
//! drawn (no font files are read), and escaping for XML and DOT.

/// The monospace family every drawing uses; DejaVu Sans Mono's advance is
/// 0.602 em, which the width estimate assumes.
pub(crate) const FAMILY: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
/// Advance of one character, in em.
const ADVANCE: f64 = 0.602;

/// The fonts of the drawings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// A box's first line (op name, value name): bold.
    Title,
    /// Attribute lines.
    Detail,
    /// Folded constants.
    Const,
    /// Edge labels.
    Edge,
    /// Cluster titles.
    Cluster,
}

impl Font {
    /// Size in px.
    pub(crate) fn size(self) -> f64 {
        match self {
            Font::Title => 12.0,
            Font::Detail | Font::Const | Font::Cluster => 10.0,
            Font::Edge => 9.0,
        }
    }

    /// Height of one line of it in a box.
    pub(crate) fn line_height(self) -> f64 {
        self.size() + 4.0
    }

    /// Whether it is bold.
    pub(crate) fn bold(self) -> bool {
        self == Font::Title
    }

    /// Its fill colour.
    pub(crate) fn color(self) -> &'static str {
        match self {
            Font::Title => "#111111",
            Font::Detail => "#333333",
            Font::Const => "#5a5a5a",
            Font::Edge => "#666666",
            Font::Cluster => "#7a5a00",
        }
    }
}

/// Estimated drawn width of `s` in `font`: East Asian wide characters take two cells.
pub(crate) fn width(s: &str, font: Font) -> f64 {
    let cells: f64 = s.chars().map(|c| if (c as u32) >= 0x2E80 && !is_symbol(c) { 2.0 } else { 1.0 }).sum();
    cells * ADVANCE * font.size()
}

/// Characters above U+2E80 that monospace fonts draw in one cell.
fn is_symbol(c: char) -> bool {
    matches!(c as u32, 0xFB00..=0xFFEF) && !matches!(c as u32, 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

/// `s` escaped for XML text and attribute values; characters XML 1.0
/// forbids (most control characters) become U+FFFD.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || matches!(c as u32, 0xFFFE | 0xFFFF) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped for a double-quoted DOT string (one line: line breaks are `\n` escapes).
pub(crate) fn dot(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{FFFD}");
        assert_eq!(dot("say \"hi\"\\\nnext"), "say \\\"hi\\\"\\\\\\nnext");
        assert!(width("漢字", Font::Title) > width("ab", Font::Title));
    }
}
