//! The Markdown report of `mesh eval --report`, with its two SVG plots: the headline metrics
//! per method and the recall curve.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{EvalReport, MethodScore};

const COLOURS: [&str; 8] = [
    "#1b6ca8", "#e07a1f", "#2e8b57", "#b03a48", "#6c4f9c", "#8c6d31", "#3a8fa0", "#555555",
];

impl EvalReport {
    /// Writes `path` (Markdown) and, beside it, `<stem>-metrics.svg` and `<stem>-recall.svg`,
    /// which the Markdown embeds. Returns the files written.
    ///
    /// # Errors
    /// The file system's.
    pub fn write_report(&self, title: &str, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let stem = path
            .file_stem()
            .map_or_else(|| "report".to_owned(), |s| s.to_string_lossy().into_owned());
        let dir = path.parent().unwrap_or(Path::new("."));
        let metrics_name = format!("{stem}-metrics.svg");
        let recall_name = format!("{stem}-recall.svg");
        let mut markdown = format!(
            "# {title}\n\n{} users, {} ties, model v{}.\n\n",
            self.users, self.ties, self.model_version
        );
        markdown.push_str(&self.to_markdown());
        markdown.push_str(&format!(
            "\n![R@10, NDCG@10 and MRR per method]({metrics_name})\n\n![Recall at k per method]({recall_name})\n"
        ));
        let files = [
            (path.to_path_buf(), markdown),
            (dir.join(&metrics_name), metrics_svg(&self.results)),
            (dir.join(&recall_name), recall_svg(&self.results)),
        ];
        for (file, text) in &files {
            std::fs::write(file, text)?;
        }
        Ok(files.into_iter().map(|(file, _)| file).collect())
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A metric read off a method's score.
type Metric = fn(&MethodScore) -> f64;

/// Grouped horizontal bars: R@10, NDCG@10 and MRR for each method.
fn metrics_svg(results: &[MethodScore]) -> String {
    let metrics: [(&str, Metric); 3] = [
        ("R@10", |m| m.recall_at_10),
        ("NDCG@10", |m| m.ndcg_at_10),
        ("MRR", |m| m.mrr),
    ];
    let (label_width, bar_width, bar, gap, top) = (420.0, 360.0, 11.0, 12.0, 40.0);
    let max = results
        .iter()
        .flat_map(|r| metrics.iter().map(move |(_, f)| f(r)))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let group = bar * metrics.len() as f64 + gap;
    let height = top + group * results.len() as f64 + 20.0;
    let width = label_width + bar_width + 60.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    svg.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, (name, _)) in metrics.iter().enumerate() {
        let x = label_width + i as f64 * 110.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="12" width="12" height="12" fill="{}"/><text x="{}" y="22">{name}</text>"#,
            COLOURS[i],
            x + 16.0
        );
    }
    for (row, result) in results.iter().enumerate() {
        let y0 = top + row as f64 * group;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{} {}</text>"#,
            label_width - 8.0,
            y0 + group / 2.0,
            escape(&result.setting),
            escape(&truncate(&result.method, 58))
        );
        for (i, (_, value)) in metrics.iter().enumerate() {
            let v = value(result);
            let y = y0 + i as f64 * bar;
            let w = bar_width * v / max;
            let _ = write!(
                svg,
                r#"<rect x="{label_width}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="10">{v:.3}</text>"#,
                bar - 1.0,
                COLOURS[i],
                label_width + w + 4.0,
                y + bar - 2.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Recall at k (k = 1 … 50) per method, one polyline each.
fn recall_svg(results: &[MethodScore]) -> String {
    let (left, top, plot_w, plot_h): (f64, f64, f64, f64) = (60.0, 20.0, 460.0, 300.0);
    let legend_x = left + plot_w + 20.0;
    let width = legend_x + 420.0;
    let height = (top + plot_h + 50.0).max(top + 18.0 * results.len() as f64 + 20.0);
    let max_k = results
        .iter()
        .flat_map(|r| r.recall_curve.iter().map(|(k, _)| *k))
        .max()
        .unwrap_or(1) as f64;
    let max_recall = results
        .iter()
        .flat_map(|r| r.recall_curve.iter().map(|(_, v)| *v))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |k: f64| left + plot_w * k / max_k;
    let y = |v: f64| top + plot_h * (1.0 - v / max_recall);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    svg.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#333"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        top + plot_h
    );
    for k in [1.0, 10.0, 20.0, 30.0, 40.0, 50.0]
        .into_iter()
        .filter(|k| *k <= max_k)
    {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{k}</text>"#,
            x(k),
            top + plot_h + 16.0
        );
    }
    for step in 0..=4 {
        let v = max_recall * f64::from(step) / 4.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{v:.2}</text>"#,
            left - 6.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">k</text><text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">recall@k</text>"#,
        left + plot_w / 2.0,
        top + plot_h + 36.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    for (i, result) in results.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = result
            .recall_curve
            .iter()
            .map(|(k, v)| format!("{:.1},{:.1}", x(*k as f64), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 18.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{legend_x}" y="{}" width="12" height="3" fill="{colour}"/><text x="{}" y="{}">{} {}</text>"#,
            ly + 6.0,
            legend_x + 18.0,
            ly + 11.0,
            escape(&result.setting),
            escape(&truncate(&result.method, 60))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(method: &str, ndcg: f64) -> MethodScore {
        MethodScore {
            id: method.to_owned(),
            setting: "A".to_owned(),
            method: method.to_owned(),
            users: 3,
            recall_at_10: ndcg,
            recall_at_50: ndcg,
            ndcg_at_10: ndcg,
            mrr: ndcg,
            diversity: Some(1.0),
            coverage: 0.5,
            recall_curve: vec![(1, ndcg / 4.0), (10, ndcg), (50, ndcg * 2.0)],
            seconds: 0.0,
        }
    }

    #[test]
    fn the_report_embeds_both_plots_with_every_method() {
        let report = EvalReport {
            users: 3,
            ties: 2,
            model_version: 1,
            results: vec![score("Jaccard <sets>", 0.1), score("mesh", 0.2)],
            notes: vec!["a note".to_owned()],
        };
        let dir = tempfile::tempdir().unwrap();
        let files = report
            .write_report("Test data", &dir.path().join("eval.md"))
            .unwrap();
        assert_eq!(files.len(), 3);
        let markdown = std::fs::read_to_string(&files[0]).unwrap();
        assert!(markdown.contains("![R@10, NDCG@10 and MRR per method](eval-metrics.svg)"));
        assert!(markdown.contains("a note"));
        for svg in &files[1..] {
            let text = std::fs::read_to_string(svg).unwrap();
            assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
            assert!(text.contains("Jaccard &lt;sets&gt;"), "{text}");
            assert!(text.contains(">A mesh<"), "{text}");
        }
        let bars = std::fs::read_to_string(&files[1]).unwrap();
        // The best method's NDCG bar spans the whole bar width.
        assert!(bars.contains(r#"width="360.0""#), "{bars}");
    }
}
