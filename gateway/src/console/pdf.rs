//! A small PDF typesetter for the payer document: US Letter pages,
//! Helvetica (one of the PDF standard fonts every reader has, so nothing
//! is embedded), wrapped paragraphs, headings, tables as aligned rows, the
//! measure charts drawn as vector graphics, and a footer on every page.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::chart::{self, LineChart, Mark};

const PAGE_WIDTH: f32 = 612.0;
const PAGE_HEIGHT: f32 = 792.0;
const MARGIN: f32 = 54.0;
/// Room kept at the bottom of each page for the footer.
const FOOTER: f32 = 40.0;
const BODY: f32 = 10.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Helvetica's advance widths (per 1000 em) for ASCII 32–126, from the
/// font's metrics; other characters are taken as 556.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// Text in WinAnsiEncoding, the standard fonts' encoding: Latin-1 as it
/// is, typographic punctuation at its code, anything else as `?`.
pub(crate) fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '≥' | '≤' | '→' => b'?',
            '\n' | '\t' => b' ',
            _ => b'?',
        })
        .collect()
}

fn width(text: &[u8], bold: bool, size: f32) -> f32 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let units: u32 = text
        .iter()
        .map(|&b| match b {
            32..=126 => u32::from(table[usize::from(b - 32)]),
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// Splits `text` into lines no wider than `max`, at spaces (a word longer
/// than a line is cut).
pub(crate) fn wrap(text: &str, bold: bool, size: f32, max: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in win_ansi(text)
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
    {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(&candidate, bold, size) <= max || line.is_empty() {
            line = candidate;
            while width(&line, bold, size) > max && line.len() > 1 {
                // One word wider than the line: cut it.
                let mut cut = line.len() - 1;
                while cut > 1 && width(&line[..cut], bold, size) > max {
                    cut -= 1;
                }
                lines.push(line[..cut].to_vec());
                line = line[cut..].to_vec();
            }
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_vec();
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A document being laid out, page by page.
pub(crate) struct Document {
    pages: Vec<Content>,
    page: Content,
    /// The baseline of the next line, from the page's bottom.
    y: f32,
    title: String,
    footer: [String; 2],
    keywords: String,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("pages", &(self.pages.len() + 1))
            .finish_non_exhaustive()
    }
}

const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

impl Document {
    /// `footer`: two lines printed on every page with its number;
    /// `keywords`: the document information's Keywords (machine-readable).
    pub(crate) fn new(title: &str, footer: [String; 2], keywords: String) -> Self {
        Self {
            pages: Vec::new(),
            page: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
            title: title.to_owned(),
            footer,
            keywords,
        }
    }

    fn break_if_needed(&mut self, height: f32) {
        if self.y - height < MARGIN + FOOTER {
            let full = std::mem::replace(&mut self.page, Content::new());
            self.pages.push(full);
            self.y = PAGE_HEIGHT - MARGIN;
        }
    }

    fn line(&mut self, x: f32, text: &[u8], bold: bool, size: f32) {
        self.page
            .begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size)
            .next_line(x, self.y)
            .show(Str(text))
            .end_text();
    }

    /// Wrapped text at `indent` from the margin.
    pub(crate) fn text(&mut self, text: &str, bold: bool, size: f32, indent: f32) {
        let leading = size * 1.3;
        for line in wrap(text, bold, size, TEXT_WIDTH - indent) {
            self.break_if_needed(leading);
            self.y -= leading;
            self.line(MARGIN + indent, &line, bold, size);
        }
    }

    pub(crate) fn title(&mut self, text: &str) {
        self.text(text, true, 16.0, 0.0);
        self.space(4.0);
    }

    pub(crate) fn heading(&mut self, text: &str) {
        // Keep a heading with at least two lines of what follows.
        self.break_if_needed(12.0 * 1.3 + 3.0 * BODY * 1.3);
        self.space(8.0);
        self.text(text, true, 12.0, 0.0);
        self.page
            .set_line_width(0.5)
            .set_stroke_gray(0.6)
            .move_to(MARGIN, self.y - 3.0)
            .line_to(PAGE_WIDTH - MARGIN, self.y - 3.0)
            .stroke();
        self.space(5.0);
    }

    pub(crate) fn paragraph(&mut self, text: &str) {
        self.text(text, false, BODY, 0.0);
        self.space(3.0);
    }

    /// A `label: value` line, the label in bold.
    pub(crate) fn field(&mut self, label: &str, value: &str) {
        self.text(&format!("{label}: {value}"), false, BODY, 0.0);
    }

    pub(crate) fn bullet(&mut self, text: &str, indent: f32) {
        let lines = wrap(text, false, BODY, TEXT_WIDTH - indent - 10.0);
        for (i, line) in lines.iter().enumerate() {
            self.break_if_needed(BODY * 1.3);
            self.y -= BODY * 1.3;
            if i == 0 {
                self.line(MARGIN + indent, &win_ansi("•"), false, BODY);
            }
            self.line(MARGIN + indent + 10.0, line, false, BODY);
        }
    }

    /// One row of columns at the given offsets (each cell cut to fit).
    pub(crate) fn row(&mut self, cells: &[&str], columns: &[f32], bold: bool) {
        self.break_if_needed(BODY * 1.3);
        self.y -= BODY * 1.3;
        for (i, cell) in cells.iter().enumerate() {
            let x = columns.get(i).copied().unwrap_or(0.0);
            let next = columns.get(i + 1).copied().unwrap_or(TEXT_WIDTH);
            let fitted = wrap(cell, bold, BODY, next - x - 6.0);
            if let Some(first) = fitted.first() {
                self.line(MARGIN + x, first, bold, BODY);
            }
        }
    }

    pub(crate) fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// A measure chart, `height` points tall across the text width: the
    /// bands shaded, baseline dashed, target solid, scores joined, response
    /// and remission as larger marks; the value axis labelled.
    pub(crate) fn chart(&mut self, chart: &LineChart, height: f32) {
        self.break_if_needed(height + 6.0);
        self.page.save_state();
        let (sx, sy) = (
            TEXT_WIDTH / chart::WIDTH as f32,
            height / chart::HEIGHT as f32,
        );
        let (ox, oy) = (MARGIN, self.y);
        // Chart coordinates run down from the top, as in the SVG.
        let at = |x: f64, y: f64| (ox + x as f32 * sx, oy - y as f32 * sy);
        let left = 44.0;
        let right = chart::WIDTH - 16.0;
        for band in &chart.bands {
            let (x0, y0) = at(left, chart.y(band.to));
            let (x1, y1) = at(right, chart.y(band.from));
            let (r, g, b) = band_colour(band.name);
            self.page
                .set_fill_rgb(r, g, b)
                .rect(x0, y1, x1 - x0, y0 - y1)
                .fill_nonzero();
        }
        self.page.set_fill_gray(0.3);
        let mut ticks = vec![chart.range.0, chart.range.1];
        ticks.extend(chart.bands.iter().skip(1).map(|b| b.from));
        for tick in ticks {
            let (x, y) = at(left - 6.0, chart.y(tick));
            let label = win_ansi(&chart::trim(tick));
            self.page
                .begin_text()
                .set_font(REGULAR, 7.0)
                .next_line(x - width(&label, false, 7.0), y - 2.5)
                .show(Str(&label))
                .end_text();
        }
        for (value, dashed, grey) in [(chart.baseline, true, 0.35), (chart.target, false, 0.1)] {
            if let Some(value) = value {
                let (x0, y) = at(left, chart.y(value));
                let (x1, _) = at(right, chart.y(value));
                self.page.set_stroke_gray(grey).set_line_width(0.8);
                if dashed {
                    self.page.set_dash_pattern([3.0, 2.0], 0.0);
                }
                self.page.move_to(x0, y).line_to(x1, y).stroke();
                self.page.set_dash_pattern([], 0.0);
            }
        }
        if let Some((first, rest)) = chart.points.split_first() {
            let (x, y) = at(chart.x(first.on), chart.y(first.value));
            self.page
                .set_stroke_rgb(0.04, 0.36, 0.68)
                .set_line_width(1.2)
                .move_to(x, y);
            for point in rest {
                let (x, y) = at(chart.x(point.on), chart.y(point.value));
                self.page.line_to(x, y);
            }
            self.page.stroke();
        }
        for point in &chart.points {
            let (x, y) = at(chart.x(point.on), chart.y(point.value));
            let r = if point.mark == Mark::Plain { 2.0 } else { 3.5 };
            self.page
                .set_fill_rgb(0.04, 0.36, 0.68)
                .rect(x - r, y - r, 2.0 * r, 2.0 * r)
                .fill_nonzero();
        }
        self.page.restore_state();
        self.y -= height;
        if let (Some(first), Some(last)) = (chart.points.first(), chart.points.last()) {
            let dates = format!("{} to {}", first.on, last.on);
            self.text(&dates, false, 7.0, 44.0 * sx);
        }
        self.space(4.0);
    }

    /// The finished PDF: every page with its footer, the fonts, and the
    /// document information (title, keywords).
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let last = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(last);
        let count = self.pages.len();
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 10;
        let page_ids: Vec<Ref> = (0..count)
            .map(|i| Ref::new(first_page + 2 * i as i32))
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(count as i32);
        pdf.type1_font(regular)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .keywords(TextStr(&self.keywords))
            .producer(TextStr("Trellis"));
        let pages = std::mem::take(&mut self.pages);
        for (i, mut content) in pages.into_iter().enumerate() {
            let number = format!("page {} of {count}", i + 1);
            let lines = [
                format!("{} · {number}", self.footer[0]),
                self.footer[1].clone(),
            ];
            for (n, line) in lines.iter().enumerate() {
                content
                    .set_fill_gray(0.25)
                    .begin_text()
                    .set_font(REGULAR, 7.0)
                    .next_line(MARGIN, MARGIN - 4.0 - 9.0 * n as f32)
                    .show(Str(&win_ansi(line)))
                    .end_text();
            }
            let id = page_ids[i];
            let content_id = Ref::new(id.get() + 1);
            let mut page = pdf.page(id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(tree)
                .contents(content_id);
            let mut resources = page.resources();
            resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
            resources.finish();
            page.finish();
            pdf.stream(content_id, &content.finish());
        }
        pdf.finish()
    }
}

fn band_colour(name: &str) -> (f32, f32, f32) {
    match name {
        "minimal" | "low" => (0.90, 0.96, 0.92),
        "mild" => (0.98, 0.96, 0.86),
        "moderate" => (0.99, 0.92, 0.83),
        "moderately-severe" => (0.98, 0.86, 0.82),
        _ => (0.97, 0.80, 0.80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_wrapped_within_the_width() {
        let text = "Client will reduce frequency and intensity of excessive worry as evidenced \
                    by 50% score improvement on Penn State Worry Questionnaire.";
        let lines = wrap(text, false, 10.0, 200.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| width(l, false, 10.0) <= 200.0));
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, win_ansi(text), "no word lost");
        let long = wrap(&"x".repeat(300), false, 10.0, 100.0);
        assert!(long.iter().all(|l| width(l, false, 10.0) <= 100.0));
    }

    #[test]
    fn typographic_characters_take_their_win_ansi_codes() {
        assert_eq!(win_ansi("a–b “c” é"), b"a\x96b \x93c\x94 \xe9".to_vec());
        assert_eq!(win_ansi("漢"), b"?".to_vec());
    }

    #[test]
    fn a_long_document_breaks_into_pages_each_with_its_footer() {
        let mut doc = Document::new(
            "T",
            ["Plan p · version 3".into(), "record hash h".into()],
            "trellis-plan=p".into(),
        );
        for i in 0..200 {
            doc.paragraph(&format!("Paragraph {i}"));
        }
        let bytes = doc.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-"));
        let pages = text.matches("/Contents").count();
        assert!(pages >= 4, "200 paragraphs take several pages: {pages}");
        assert!(
            text.contains(&format!("/Count {pages}")),
            "the page tree counts them"
        );
        assert!(text.contains("(Paragraph 199)"), "nothing is lost");
        // The footer carries a middle dot, so it is written as a hex string:
        // one per page, numbered.
        let last = hex_of(&win_ansi(&format!(
            "Plan p · version 3 · page {pages} of {pages}"
        )));
        assert!(text.contains(&last), "the last page's footer");
        assert!(text.contains("(trellis-plan=p)"), "keywords are kept");
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }
}
