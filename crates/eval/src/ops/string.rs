//! String ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch and
//! TfIdfVectorizer.
//!
//! - StringNormalizer (10): on `[C]` or `[1, C]` strings, drops the words of
//!   `stopwords` (each element is split on single spaces; with
//!   `is_case_sensitive = 0` words are compared lowercased), applies
//!   `case_change_action` (NONE, LOWER, UPPER), and removes the elements left
//!   empty; when none remain the output is a single empty string. Accented
//!   characters are kept as they are (onnx's reference strips them with NFKD;
//!   the spec does not ask for it).
//! - StringConcat (20): elementwise `a + b` with numpy broadcasting.
//! - StringSplit (20): splits each element on `delimiter` (Python
//!   `str.split`; an empty or absent delimiter splits on runs of whitespace
//!   and drops leading/trailing whitespace), at most `maxsplit` times. Y has
//!   the input shape plus a last dimension of the largest piece count, padded
//!   with empty strings; Z (int64, input shape) holds each element's count.
//! - RegexFullMatch (20): whether each element matches `pattern` as a whole
//!   (RE2 syntax, which the `regex` crate follows).
//! - TfIdfVectorizer (9): counts the n-grams of the pool (`pool_int64s` or
//!   `pool_strings`, grouped by size with `ngram_counts`) in each row of a
//!   `[C]` or `[B, C]` int32/int64/string input, for sizes
//!   `min_gram_length..=max_gram_length` and skips `0..=max_skip_count`
//!   between items (unigrams counted once), into columns `ngram_indexes`; the
//!   f32 output is TF (counts), IDF (`weights[j]` or 1 where the count is
//!   non-zero) or TFIDF (`weights[j] * count`, or the count).

use std::collections::HashMap;

use ndarray::ArrayD;

use crate::registry::{Ctx, OpRegistry};
use crate::util::zip_map;
use crate::{Result, Tensor, Value, array, bail};

/// Registers the string ops.
pub(crate) fn register(r: &mut OpRegistry) {
    r.add("StringNormalizer", string_normalizer);
    r.add("StringConcat", string_concat);
    r.add("StringSplit", string_split);
    r.add("RegexFullMatch", regex_full_match);
    r.add("TfIdfVectorizer", tfidf);
}

/// The array of a string tensor.
fn strings<'a>(t: &'a Tensor, what: &str) -> Result<&'a ArrayD<String>> {
    match t {
        Tensor::Str(a) => Ok(a),
        t => bail!("{what} must be a string tensor, got {}", t.dtype()),
    }
}

// ---------------------------------------------------------------------------
// StringNormalizer.

fn string_normalizer(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = strings(ctx.input(inputs, 0)?, "X")?;
    let two_d = match x.shape() {
        [_] => false,
        [1, _] => true,
        s => bail!("X must have shape [C] or [1, C], got {s:?}"),
    };
    let action = ctx.string("case_change_action", "NONE")?;
    let sensitive = ctx.int("is_case_sensitive", 0)? != 0;
    let stops: Vec<String> = ctx.strings("stopwords")?.unwrap_or_default();
    let fold = |s: &str| if sensitive { s.to_string() } else { s.to_lowercase() };
    let stops: std::collections::HashSet<String> = stops.iter().map(|s| fold(s)).collect();
    let case = |s: String| -> Result<String> {
        Ok(match action.as_str() {
            "NONE" => s,
            "LOWER" => s.to_lowercase(),
            "UPPER" => s.to_uppercase(),
            a => bail!("case_change_action must be NONE, LOWER or UPPER, got '{a}'"),
        })
    };
    let mut out = Vec::new();
    for s in x.iter() {
        let kept = if stops.is_empty() {
            s.clone()
        } else {
            s.split(' ').filter(|w| !stops.contains(&fold(w))).collect::<Vec<_>>().join(" ")
        };
        let kept = case(kept)?;
        if !kept.is_empty() {
            out.push(kept);
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    let shape = if two_d { vec![1, out.len()] } else { vec![out.len()] };
    Ok(vec![Tensor::Str(array(&shape, out)?).into()])
}

// ---------------------------------------------------------------------------
// StringConcat.

fn string_concat(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let a = strings(ctx.input(inputs, 0)?, "X")?;
    let b = strings(ctx.input(inputs, 1)?, "Y")?;
    Ok(vec![Tensor::Str(zip_map(a, b, |x, y| x + &y)?).into()])
}

// ---------------------------------------------------------------------------
// StringSplit.

/// Python's `s.split(None, maxsplit)`: runs of whitespace separate pieces;
/// once `maxsplit` pieces are cut the rest (leading whitespace removed) is the
/// last piece.
fn split_whitespace(s: &str, maxsplit: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if maxsplit.is_some_and(|m| out.len() >= m) {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = &rest[i..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// Python's `s.split(sep, maxsplit)` for a non-empty separator.
fn split_on(s: &str, sep: &str, maxsplit: Option<usize>) -> Vec<String> {
    match maxsplit {
        Some(m) => s.splitn(m + 1, sep).map(str::to_string).collect(),
        None => s.split(sep).map(str::to_string).collect(),
    }
}

fn string_split(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = strings(ctx.input(inputs, 0)?, "X")?;
    let delim = ctx.string("delimiter", "")?;
    // maxsplit absent (or negative, as in Python) means no limit.
    let maxsplit = match ctx.node.attr("maxsplit") {
        Some(_) => usize::try_from(ctx.int("maxsplit", -1)?).ok(),
        None => None,
    };
    let pieces: Vec<Vec<String>> = x
        .iter()
        .map(|s| if delim.is_empty() { split_whitespace(s, maxsplit) } else { split_on(s, &delim, maxsplit) })
        .collect();
    let width = pieces.iter().map(Vec::len).max().unwrap_or(0);
    let counts: Vec<i64> = pieces.iter().map(|p| p.len() as i64).collect();
    let mut y = Vec::with_capacity(pieces.len() * width);
    for mut p in pieces {
        p.resize(width, String::new());
        y.extend(p);
    }
    let mut shape = x.shape().to_vec();
    shape.push(width);
    Ok(vec![Tensor::Str(array(&shape, y)?).into(), Tensor::I64(array(x.shape(), counts)?).into()])
}

// ---------------------------------------------------------------------------
// RegexFullMatch.

fn regex_full_match(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = strings(ctx.input(inputs, 0)?, "X")?;
    let pattern = match ctx.node.attr("pattern") {
        Some(_) => ctx.string("pattern", "")?,
        None => bail!("missing required attribute 'pattern'"),
    };
    // Anchoring both ends turns a search into a full match; the group keeps
    // alternations in the pattern inside the anchors.
    let re = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| crate::Error::op(format!("invalid pattern '{pattern}': {e}")))?;
    Ok(vec![Tensor::Bool(x.map(|s| re.is_match(s))).into()])
}

// ---------------------------------------------------------------------------
// TfIdfVectorizer.

/// An n-gram item: the vectorizer matches integer or string tokens.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Token {
    Int(i64),
    Str(String),
}

fn tfidf(ctx: &Ctx<'_>, inputs: &[Option<&Value>]) -> Result<Vec<Value>> {
    let x = ctx.input(inputs, 0)?;
    let tokens: Vec<Token> = match x {
        Tensor::Str(a) => a.iter().cloned().map(Token::Str).collect(),
        Tensor::I32(_) | Tensor::I64(_) => x.to_i64_vec()?.into_iter().map(Token::Int).collect(),
        t => bail!("X must be int32, int64 or string, got {}", t.dtype()),
    };
    let (rows, c, batched) = match x.shape() {
        [] => (1, 1, false),
        [c] => (1, *c, false),
        [b, c] => (*b, *c, true),
        s => bail!("X must have shape [C] or [B, C], got {s:?}"),
    };
    let min_n = ctx.int("min_gram_length", 0)?;
    let max_n = ctx.int("max_gram_length", 0)?;
    let max_skip = ctx.int("max_skip_count", 0)?;
    if min_n < 1 || max_n < min_n || max_skip < 0 {
        bail!("need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0, got {min_n}, {max_n}, {max_skip}");
    }
    let (min_n, max_n, max_skip) = (min_n as usize, max_n as usize, max_skip as usize);
    let mode = ctx.string("mode", "")?;
    let counts = ctx.ints("ngram_counts")?.unwrap_or_default();
    let indexes = ctx.ints("ngram_indexes")?.unwrap_or_default();
    let weights: Vec<f64> = ctx.floats("weights")?.unwrap_or_default().into_iter().map(f64::from).collect();
    let pool: Vec<Token> = match (ctx.ints("pool_int64s")?, ctx.strings("pool_strings")?) {
        (Some(p), None) => p.into_iter().map(Token::Int).collect(),
        (None, Some(p)) => p.into_iter().map(Token::Str).collect(),
        _ => bail!("exactly one of pool_int64s and pool_strings must be given"),
    };
    let width = match indexes.iter().max() {
        Some(&m) if m >= 0 && indexes.iter().all(|&i| i >= 0) => m as usize + 1,
        _ => bail!("ngram_indexes must be non-empty and non-negative, got {indexes:?}"),
    };
    if !weights.is_empty() && weights.len() < width {
        bail!("weights has {} values for {width} output columns", weights.len());
    }
    // N-gram -> output column, for the sizes that are counted. Grams are
    // numbered across the whole pool, so skipped sizes still use up numbers.
    let mut grams: HashMap<Vec<Token>, usize> = HashMap::new();
    let mut id = 0usize;
    for (g, &start) in counts.iter().enumerate() {
        let n = g + 1;
        let end = counts.get(g + 1).map_or(pool.len() as i64, |&e| e);
        if start < 0 || end < start || end as usize > pool.len() {
            bail!("ngram_counts {counts:?} do not index the pool of {} items", pool.len());
        }
        let items = &pool[start as usize..end as usize];
        if !items.len().is_multiple_of(n) {
            bail!("{} pool items for {n}-grams is not a multiple of {n}", items.len());
        }
        for gram in items.chunks_exact(n) {
            if (min_n..=max_n).contains(&n) {
                match indexes.get(id) {
                    Some(&col) => grams.insert(gram.to_vec(), col as usize),
                    None => bail!("ngram_indexes has no entry for n-gram {id}"),
                };
            }
            id += 1;
        }
    }
    let mut freq = vec![0u64; rows * width];
    for r in 0..rows {
        let row = &tokens[r * c..(r + 1) * c];
        let f = &mut freq[r * width..(r + 1) * width];
        let mut start_n = min_n;
        for dist in 1..=max_skip + 1 {
            for s in 0..c {
                let mut key = Vec::with_capacity(max_n);
                let mut at = s;
                while key.len() < max_n && at < c {
                    key.push(row[at].clone());
                    if key.len() >= start_n
                        && let Some(&col) = grams.get(&key)
                    {
                        f[col] += 1;
                    }
                    at += dist;
                }
            }
            // Unigrams do not depend on the skip distance: count them once.
            if start_n == 1 {
                start_n = 2;
                if start_n > max_n {
                    break;
                }
            }
        }
    }
    let y: Vec<f32> = match mode.as_str() {
        "TF" => freq.iter().map(|&v| v as f32).collect(),
        "IDF" => freq
            .iter()
            .enumerate()
            .map(|(i, &v)| if v == 0 { 0.0 } else { weights.get(i % width).map_or(1.0, |&w| w as f32) })
            .collect(),
        "TFIDF" => freq
            .iter()
            .enumerate()
            .map(|(i, &v)| (weights.get(i % width).map_or(1.0, |&w| w) * v as f64) as f32)
            .collect(),
        m => bail!("mode must be TF, IDF or TFIDF, got '{m}'"),
    };
    let shape = if batched { vec![rows, width] } else { vec![width] };
    Ok(vec![Tensor::F32(array(&shape, y)?).into()])
}

#[cfg(test)]
mod tests {
    use super::super::reduce::tests::run_node;
    use super::*;
    use ir::Node;

    fn strs(shape: &[usize], v: &[&str]) -> Tensor {
        Tensor::Str(array(shape, v.iter().map(|s| s.to_string()).collect()).unwrap())
    }

    fn got_strs(t: &Tensor) -> Vec<String> {
        match t {
            Tensor::Str(a) => a.iter().cloned().collect(),
            t => panic!("not strings: {t:?}"),
        }
    }

    fn node(op: &str, outs: usize) -> Node {
        Node::new(op, Vec::<String>::new(), (0..outs).map(|i| format!("o{i}")))
    }

    #[test]
    fn normalizer_stopwords_and_case() {
        let x = strs(&[4], &["monday", "tuesday", "Wednesday", "thursday"]);
        let n = node("StringNormalizer", 1)
            .with_attr("case_change_action", "UPPER")
            .with_attr("stopwords", ir::Attribute::Strings(vec!["monday".into(), "wednesday".into()]));
        let y = run_node(n, 10, vec![Some(x.clone())]).unwrap();
        assert_eq!(got_strs(&y[0]), ["TUESDAY", "THURSDAY"]);
        let n = node("StringNormalizer", 1)
            .with_attr("is_case_sensitive", 1i64)
            .with_attr("stopwords", ir::Attribute::Strings(vec!["monday".into(), "wednesday".into()]));
        let y = run_node(n, 10, vec![Some(x)]).unwrap();
        assert_eq!(got_strs(&y[0]), ["tuesday", "Wednesday", "thursday"]);
        let n = node("StringNormalizer", 1).with_attr("stopwords", ir::Attribute::Strings(vec!["a".into()]));
        let y = run_node(n, 10, vec![Some(strs(&[1, 1], &["a"]))]).unwrap();
        assert_eq!(y[0].shape(), &[1, 1]);
        assert_eq!(got_strs(&y[0]), [""]);
    }

    #[test]
    fn concat_split_regex() {
        let y = run_node(node("StringConcat", 1), 20, vec![Some(strs(&[2], &["a", "b"])), Some(strs(&[], &["!"]))])
            .unwrap();
        assert_eq!(got_strs(&y[0]), ["a!", "b!"]);

        let x = strs(&[2], &["a-b-c", "d"]);
        let y =
            run_node(node("StringSplit", 2).with_attr("delimiter", "-").with_attr("maxsplit", 1i64), 20, vec![Some(x)])
                .unwrap();
        assert_eq!(y[0].shape(), &[2, 2]);
        assert_eq!(got_strs(&y[0]), ["a", "b-c", "d", ""]);
        assert_eq!(y[1].to_i64_vec().unwrap(), [2, 1]);
        assert_eq!(split_whitespace("  a  b c ", Some(1)), ["a", "b c "]);
        assert_eq!(split_whitespace("   ", None), Vec::<String>::new());

        let n = node("RegexFullMatch", 1).with_attr("pattern", "a|b+");
        let y = run_node(n, 20, vec![Some(strs(&[3], &["a", "bbb", "ab"]))]).unwrap();
        assert_eq!(y[0], Tensor::Bool(array(&[3], vec![true, true, false]).unwrap()));
        let bad = node("RegexFullMatch", 1).with_attr("pattern", "(");
        assert!(run_node(bad, 20, vec![Some(strs(&[1], &["a"]))]).is_err());
    }

    #[test]
    fn tfidf_counts_with_skips() {
        // Pool: unigrams [2, 3], bigram (2, 3) -> columns 0, 1, 2.
        // Row [2, 3, 3, 2, 3]: unigram 2 twice, 3 three times; bigram (2,3) at
        // distance 1 twice (0-1, 3-4) and at distance 2 once (0-2).
        let base = || {
            node("TfIdfVectorizer", 1)
                .with_attr("min_gram_length", 1i64)
                .with_attr("max_gram_length", 2i64)
                .with_attr("max_skip_count", 1i64)
                .with_attr("ngram_counts", vec![0i64, 2])
                .with_attr("ngram_indexes", vec![0i64, 1, 2])
                .with_attr("pool_int64s", vec![2i64, 3, 2, 3])
        };
        let x = Tensor::i64(&[5], vec![2, 3, 3, 2, 3]).unwrap();
        let y = run_node(base().with_attr("mode", "TF"), 9, vec![Some(x.clone())]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [2., 3., 3.]);
        let n = base().with_attr("mode", "TFIDF").with_attr("weights", vec![0.5f32, 1.0, 2.0]);
        let y = run_node(n, 9, vec![Some(x.clone())]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [1., 3., 6.]);
        let y = run_node(base().with_attr("mode", "IDF"), 9, vec![Some(x)]).unwrap();
        assert_eq!(y[0].to_f64_vec().unwrap(), [1., 1., 1.]);
    }
}
