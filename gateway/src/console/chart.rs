//! Charts drawn on the server as inline SVG: a measure's scores over time
//! on its severity bands, and an objective's progress toward its target.
//!
//! Server-drawn SVG needs no script (the console's CSP allows none inline),
//! prints, and is the same picture in every browser. Every chart has a
//! table beside it with the same numbers, for screen readers and for
//! anyone who reads numbers better than lines.

use std::fmt::Write as _;

use chrono::NaiveDate;
use trellis_plans_domain::{Instrument, SeverityBand};

/// The drawing's size in its own units (SVG user units; the PDF scales).
pub(crate) const WIDTH: f64 = 640.0;
pub(crate) const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A shaded range of the value axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Band {
    pub(crate) from: f64,
    pub(crate) to: f64,
    /// CSS class suffix and the band's name.
    pub(crate) name: &'static str,
}

/// What a point stands for beyond its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Plain,
    /// At least a 50% drop from the first score.
    Response,
    /// Below the instrument's remission threshold.
    Remission,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) on: NaiveDate,
    pub(crate) value: f64,
    pub(crate) mark: Mark,
}

/// One chart, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineChart {
    /// Read out by screen readers; never the client's words.
    pub(crate) title: String,
    pub(crate) range: (f64, f64),
    pub(crate) bands: Vec<Band>,
    pub(crate) points: Vec<Point>,
    pub(crate) baseline: Option<f64>,
    pub(crate) target: Option<f64>,
}

/// The bands of an instrument's total, from the domain's own banding (so
/// the chart and the scores' bands can never disagree).
pub(crate) fn bands_of(instrument: Instrument) -> Vec<Band> {
    let (lo, hi) = instrument.total_range();
    let mut bands: Vec<Band> = Vec::new();
    for total in lo..=hi {
        let name = band_name(instrument.band(total));
        match bands.last_mut() {
            Some(band) if band.name == name => band.to = f64::from(total + 1),
            _ => bands.push(Band {
                from: f64::from(total),
                to: f64::from(total + 1),
                name,
            }),
        }
    }
    if let Some(last) = bands.last_mut() {
        last.to = f64::from(hi);
    }
    bands
}

pub(crate) fn band_name(band: SeverityBand) -> &'static str {
    match band {
        SeverityBand::Minimal => "minimal",
        SeverityBand::Mild => "mild",
        SeverityBand::Moderate => "moderate",
        SeverityBand::ModeratelySevere => "moderately-severe",
        SeverityBand::Severe => "severe",
        SeverityBand::Low => "low",
        SeverityBand::High => "high",
    }
}

impl LineChart {
    /// A measure's totals over time, on its bands, with the first score as
    /// baseline and the plan's target (if an objective asks for one).
    pub(crate) fn measure(instrument: Instrument, points: Vec<Point>, target: Option<f64>) -> Self {
        let (lo, hi) = instrument.total_range();
        Self {
            title: format!("{} total over time", instrument.label()),
            range: (f64::from(lo), f64::from(hi)),
            bands: bands_of(instrument),
            baseline: points.first().map(|p| p.value),
            points,
            target,
        }
    }

    /// An objective's recorded values with its baseline and target; the
    /// axis spans all of them with a little room.
    pub(crate) fn objective(
        title: String,
        points: Vec<Point>,
        baseline: Option<f64>,
        target: Option<f64>,
    ) -> Self {
        let values = points.iter().map(|p| p.value).chain(baseline).chain(target);
        let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let room = ((hi - lo) * 0.1).max(1.0);
        // Counts and scores are not negative: the axis stops at zero.
        let floor = if lo >= 0.0 {
            (lo - room).max(0.0)
        } else {
            lo - room
        };
        Self {
            title,
            range: (floor, hi + room),
            bands: Vec::new(),
            points,
            baseline,
            target,
        }
    }

    pub(crate) fn y(&self, value: f64) -> f64 {
        let (lo, hi) = self.range;
        let span = if hi > lo { hi - lo } else { 1.0 };
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (value.clamp(lo, hi) - lo) / span)
    }

    pub(crate) fn x(&self, on: NaiveDate) -> f64 {
        let (first, last) = match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) => (a.on, b.on),
            _ => return LEFT,
        };
        let days = (last - first).num_days();
        let plot = WIDTH - LEFT - RIGHT;
        if days <= 0 {
            return LEFT + plot / 2.0;
        }
        LEFT + plot * (on - first).num_days() as f64 / days as f64
    }

    /// The SVG element, with a title for assistive technology.
    pub(crate) fn svg(&self) -> String {
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
             aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
            escape(&self.title),
            escape(&self.title)
        );
        let right = WIDTH - RIGHT;
        for band in &self.bands {
            let (top, bottom) = (self.y(band.to), self.y(band.from));
            let _ = write!(
                svg,
                "<rect class=\"band band-{}\" x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\"><title>{}</title></rect>\
                 <text class=\"band-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                band.name,
                right - LEFT,
                bottom - top,
                band.name,
                right - 4.0,
                top + 11.0,
                band.name
            );
        }
        // The value axis: its ends, and each band's lower edge.
        let mut ticks: Vec<f64> = vec![self.range.0, self.range.1];
        ticks.extend(self.bands.iter().skip(1).map(|b| b.from));
        for tick in ticks {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                LEFT - 6.0,
                self.y(tick) + 4.0,
                trim(tick)
            );
        }
        for (class, value) in [("baseline", self.baseline), ("target", self.target)] {
            if let Some(value) = value {
                let y = self.y(value);
                let _ = write!(
                    svg,
                    "<line class=\"{class}\" x1=\"{LEFT}\" x2=\"{right}\" y1=\"{y:.1}\" \
                     y2=\"{y:.1}\"><title>{class} {}</title></line>\
                     <text class=\"line-label {class}-label\" x=\"{:.1}\" y=\"{:.1}\">{class} {}</text>",
                    trim(value),
                    LEFT + 4.0,
                    y - 3.0,
                    trim(value)
                );
            }
        }
        if !self.points.is_empty() {
            let path: Vec<String> = self
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", self.x(p.on), self.y(p.value)))
                .collect();
            let _ = write!(
                svg,
                "<polyline class=\"series\" points=\"{}\"/>",
                path.join(" ")
            );
        }
        for point in &self.points {
            let (x, y) = (self.x(point.on), self.y(point.value));
            let (class, radius, note) = match point.mark {
                Mark::Plain => ("point", 4.0, ""),
                Mark::Response => ("point response", 6.0, " (response)"),
                Mark::Remission => ("point remission", 6.0, " (remission)"),
            };
            let _ = write!(
                svg,
                "<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\">\
                 <title>{}: {}{note}</title></circle>",
                point.on,
                trim(point.value)
            );
        }
        if let (Some(first), Some(last)) = (self.points.first(), self.points.last()) {
            let y = HEIGHT - 8.0;
            let _ = write!(
                svg,
                "<text class=\"date\" x=\"{LEFT}\" y=\"{y}\">{}</text>",
                first.on
            );
            if last.on != first.on {
                let _ = write!(
                    svg,
                    "<text class=\"date end\" x=\"{right}\" y=\"{y}\">{}</text>",
                    last.on
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Rates (0–1) as horizontal bars on a 0–100% axis, labelled.
pub(crate) fn rates_svg(title: &str, rates: &[(&str, f64)]) -> String {
    const ROW: f64 = 34.0;
    const LABEL: f64 = 130.0;
    let height = TOP + ROW * rates.len() as f64 + BOTTOM;
    let plot = WIDTH - LABEL - RIGHT - 48.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart rates\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    for (i, (label, rate)) in rates.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let width = plot * rate.clamp(0.0, 1.0);
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\
             <rect class=\"track\" x=\"{LABEL}\" y=\"{y:.1}\" width=\"{plot:.1}\" height=\"22\"/>\
             <rect class=\"bar\" x=\"{LABEL}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"22\">\
             <title>{}: {:.0}%</title></rect>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{:.0}%</text>",
            LABEL - 8.0,
            y + 15.0,
            escape(label),
            escape(label),
            rate * 100.0,
            LABEL + plot + 6.0,
            y + 15.0,
            rate * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Rates (0–1) over time, one line per series, on a 0–100% axis; `labels`
/// name the points along the time axis (only the first and last are
/// printed; every point has its own title).
pub(crate) fn rates_over_time_svg(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart trend\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    let plot_w = WIDTH - LEFT - RIGHT - 120.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if labels.len() <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (labels.len() - 1) as f64
        }
    };
    let y = |rate: f64| TOP + plot_h * (1.0 - rate.clamp(0.0, 1.0));
    for tick in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{:.0}%</text>",
            LEFT + plot_w,
            y(tick),
            y(tick),
            LEFT - 6.0,
            y(tick) + 4.0,
            tick * 100.0
        );
    }
    for (n, (name, rates)) in series.iter().enumerate() {
        let points: Vec<String> = rates
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{:.1},{:.1}", x(i), y(*r)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"trend-{n}\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            escape(name)
        );
        for (i, rate) in rates.iter().enumerate() {
            let label = labels.get(i).map_or("", String::as_str);
            let _ = write!(
                svg,
                "<circle class=\"trend-{n}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\">\
                 <title>{}, {}: {:.0}%</title></circle>",
                x(i),
                y(*rate),
                escape(name),
                escape(label),
                rate * 100.0
            );
        }
        let legend_y = TOP + 14.0 + 18.0 * n as f64;
        let _ = write!(
            svg,
            "<rect class=\"trend-{n}\" x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT + plot_w + 14.0,
            legend_y - 4.0,
            LEFT + plot_w + 30.0,
            legend_y,
            escape(name)
        );
    }
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let _ = write!(
            svg,
            "<text class=\"date\" x=\"{LEFT}\" y=\"{:.1}\">{}</text>\
             <text class=\"date end\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            HEIGHT - 8.0,
            escape(first),
            LEFT + plot_w,
            HEIGHT - 8.0,
            escape(last)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A number as people write it: no `.0` on whole numbers.
pub(crate) fn trim(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn escape(text: &str) -> String {
    let Ok(escaped) = askama::filters::escape(text, askama::filters::Html);
    escaped.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    #[test]
    fn phq9_bands_are_the_published_ones() {
        let bands: Vec<(f64, f64, &str)> = bands_of(Instrument::Phq9)
            .iter()
            .map(|b| (b.from, b.to, b.name))
            .collect();
        assert_eq!(
            bands,
            vec![
                (0.0, 5.0, "minimal"),
                (5.0, 10.0, "mild"),
                (10.0, 15.0, "moderate"),
                (15.0, 20.0, "moderately-severe"),
                (20.0, 27.0, "severe"),
            ]
        );
        let pswq: Vec<&str> = bands_of(Instrument::Pswq).iter().map(|b| b.name).collect();
        assert_eq!(pswq, vec!["low", "moderate", "high"]);
    }

    #[test]
    fn a_measure_chart_draws_every_score_with_baseline_target_and_marks() {
        let points = vec![
            Point {
                on: day(1),
                value: 20.0,
                mark: Mark::Plain,
            },
            Point {
                on: day(15),
                value: 9.0,
                mark: Mark::Response,
            },
            Point {
                on: day(29),
                value: 4.0,
                mark: Mark::Remission,
            },
        ];
        let svg = LineChart::measure(Instrument::Phq9, points, Some(10.0)).svg();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("class=\"band band-").count(), 5);
        assert!(svg.contains("class=\"point response\""));
        assert!(svg.contains("class=\"point remission\""));
        assert!(svg.contains("<title>baseline 20</title>"));
        assert!(svg.contains("<title>target 10</title>"));
        // The first score sits on the left edge, the last on the right.
        assert!(svg.contains("cx=\"44.0\""), "{svg}");
        assert!(svg.contains("cx=\"624.0\""), "{svg}");
    }

    #[test]
    fn higher_values_are_drawn_higher() {
        let chart = LineChart::measure(Instrument::Gad7, Vec::new(), None);
        assert!(chart.y(21.0) < chart.y(0.0));
        assert_eq!(chart.y(99.0), chart.y(21.0), "clamped to the range");
    }

    #[test]
    fn rates_are_bars_in_proportion() {
        let svg = rates_svg("Outcomes", &[("Response", 0.5), ("Remission", 1.5)]);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains(">50%</text>"), "{svg}");
        // A rate over 1 is drawn full, never past the track.
        assert!(
            svg.contains("width=\"446.0\" height=\"22\"><title>Remission"),
            "{svg}"
        );
    }

    #[test]
    fn rates_over_time_draw_a_line_per_series_and_a_point_per_month() {
        let labels = vec![
            "2026-01-31".to_owned(),
            "2026-02-28".to_owned(),
            "2026-03-15".to_owned(),
        ];
        let svg = rates_over_time_svg(
            "Outcomes",
            &labels,
            &[
                ("Response", vec![0.0, 0.5, 1.0]),
                ("Remission", vec![0.0, 0.0, 0.25]),
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("Response, 2026-02-28: 50%"), "{svg}");
        assert!(svg.contains(">2026-03-15</text>"));
    }

    #[test]
    fn titles_are_escaped() {
        let chart = LineChart::objective("<b>&".into(), Vec::new(), Some(1.0), Some(3.0));
        let svg = chart.svg();
        assert!(svg.contains("&#60;b&#62;&#38;"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert!(chart.range.0 <= 1.0 && chart.range.1 >= 3.0);
    }
}
