//! The verification chart: per output, its max absolute error and relative
//! L2 error as horizontal bars on one log axis, with the tolerance marked.

use super::svg::{open, text_el, text_fill};
use super::text::{self, Font};
use crate::verify::OutputCheck;

const MARGIN: f64 = 16.0;
/// Width of the log axis.
const PLOT_W: f64 = 420.0;
const BAR_H: f64 = 13.0;
const ROW_GAP: f64 = 12.0;
/// Room right of the axis for a value printed past a full bar.
const VALUE_W: f64 = 90.0;
/// Longest output name shown.
const MAX_NAME: usize = 40;
const PASS: &str = "#2e9d4a";
const FAIL: &str = "#d23b2f";

/// A value as the chart prints it.
fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.2e}")
    }
}

/// The chart; see [`super::verify_svg`].
pub(crate) fn chart(checks: &[OutputCheck], tolerance: f64) -> String {
    let tol = (tolerance.is_finite() && tolerance > 0.0).then_some(tolerance);
    // The axis spans whole decades around every finite, positive value and the tolerance.
    let values = checks
        .iter()
        .filter_map(|c| c.metrics.as_ref().ok())
        .flat_map(|m| [m.max_abs, m.rel_l2])
        .chain(tol)
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo_exp, hi_exp) = if lo.is_finite() {
        ((lo.log10().floor() as i32 - 1).max(-30), (hi.log10().ceil() as i32).min(30).max(lo.log10().floor() as i32))
    } else {
        (-8, 0)
    };
    let hi_exp = hi_exp.max(lo_exp + 1);
    let decades = f64::from(hi_exp - lo_exp);

    let name_w = checks
        .iter()
        .map(|c| text::width(&super::label::truncate(&c.name, MAX_NAME), Font::Title))
        .fold(text::width("rel_l2", Font::Detail), f64::max)
        + 12.0
        + text::width("max_abs", Font::Detail);
    let plot_x = MARGIN + name_w;
    let row_h = 2.0 * BAR_H + 6.0 + ROW_GAP;
    let top = MARGIN + 40.0;
    let width = plot_x + PLOT_W + VALUE_W + MARGIN;
    let height = top + row_h * checks.len().max(1) as f64 + 30.0 + MARGIN;
    let x_of = |v: f64| -> f64 {
        if v.is_nan() || v <= 0.0 {
            return plot_x;
        }
        let t = ((v.log10() - f64::from(lo_exp)) / decades).clamp(0.0, 1.0);
        plot_x + t * PLOT_W
    };

    let mut out = String::new();
    open(&mut out, width, height);
    let failed = checks.iter().filter(|c| !c.pass).count();
    let title = match tol {
        Some(t) => format!("{} outputs, {failed} failed (tolerance {} on rel_l2)", checks.len(), value_text(t)),
        None => format!("{} outputs, {failed} failed", checks.len()),
    };
    text_el(&mut out, MARGIN, MARGIN + 12.0, &title, Font::Title, "start", "title");

    // Decade grid and labels.
    let axis_y = top - 8.0;
    let bottom = top + row_h * checks.len().max(1) as f64;
    for e in lo_exp..=hi_exp {
        let x = plot_x + f64::from(e - lo_exp) / decades * PLOT_W;
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#e2e2e2\" stroke-width=\"1\"/>\n"
        ));
        text_el(&mut out, x, axis_y - 4.0, &format!("1e{e}"), Font::Edge, "middle", "tick");
    }

    for (i, c) in checks.iter().enumerate() {
        let y = top + row_h * i as f64;
        let name = super::label::truncate(&c.name, MAX_NAME);
        text_el(&mut out, MARGIN, y + BAR_H, &name, Font::Title, "start", "output");
        match &c.metrics {
            Ok(m) => {
                let color = if c.pass { PASS } else { FAIL };
                for (k, (label, v)) in [("max_abs", m.max_abs), ("rel_l2", m.rel_l2)].into_iter().enumerate() {
                    let by = y + k as f64 * (BAR_H + 4.0);
                    text_el(&mut out, plot_x - 6.0, by + BAR_H - 3.0, label, Font::Detail, "end", "metric");
                    // NaN and infinite errors fill the axis.
                    let end = if v.is_finite() { x_of(v) } else { plot_x + PLOT_W };
                    let w = (end - plot_x).max(if v > 0.0 || !v.is_finite() { 1.5 } else { 0.0 });
                    out.push_str(&format!(
                        "<rect class=\"bar {}\" x=\"{plot_x:.1}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"{BAR_H:.1}\" fill=\"{color}\"/>\n",
                        if c.pass { "pass" } else { "fail" }
                    ));
                    text_el(
                        &mut out,
                        plot_x + w + 4.0,
                        by + BAR_H - 3.0,
                        &value_text(v),
                        Font::Detail,
                        "start",
                        "value",
                    );
                }
            }
            Err(message) => {
                let msg = super::label::truncate(&format!("not compared: {message}"), 90);
                text_fill(&mut out, (plot_x, y + BAR_H), &msg, Font::Detail, "start", "error", FAIL);
            }
        }
    }
    if let Some(t) = tol {
        let x = x_of(t);
        out.push_str(&format!(
            "<line class=\"tolerance\" x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#1f4fa8\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n"
        ));
        text_el(
            &mut out,
            x,
            bottom + 14.0,
            &format!("tolerance {}", value_text(t)),
            Font::Detail,
            "middle",
            "tolerance-label",
        );
    }
    out.push_str("</svg>\n");
    out
}
