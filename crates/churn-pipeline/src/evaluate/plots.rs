//! The reports' charts, drawn as SVG with plotters (no fonts or images needed, so the
//! reports open offline), and their style sheet.

use plotters::prelude::*;

use churn_core::metrics::{CalibrationBin, Confusion, CurvePoint};

use crate::error::{PipelineError, Result};

const SIZE: (u32, u32) = (520, 380);
const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// The style sheet of the reports (inline: they open offline).
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}\
    table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}\
    th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.best{font-weight:bold}\
    .charts{display:flex;flex-wrap:wrap;gap:8px}.charts svg{border:1px solid #eee}code{background:#f6f6f6;padding:1px 4px}\
    .alert{color:#b00020;font-weight:bold}.warn{color:#a15c00;font-weight:bold}";

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws a chart, turning a panic inside plotters into an error (a report with a missing
/// chart beats no report).
pub fn guarded(draw: impl FnOnce() -> Result<String>) -> Result<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(draw)).unwrap_or_else(|_| {
        Err(PipelineError::InvalidInput(
            "plotters failed to draw a chart".into(),
        ))
    })
}

fn failed<E: std::fmt::Display>(error: E) -> PipelineError {
    PipelineError::InvalidInput(format!("drawing a chart: {error}"))
}

/// One named line of a chart.
#[derive(Debug)]
pub struct Line<'a> {
    /// Legend.
    pub name: &'a str,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// A line chart over `[0, 1] x [0, y_max]` with a dashed reference line.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Line<'_>],
    reference: &[(f64, f64)],
    y_max: f64,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..y_max)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(failed)?;
        if !reference.is_empty() {
            chart
                .draw_series(LineSeries::new(
                    reference.iter().copied(),
                    RGBColor(150, 150, 150).stroke_width(1),
                ))
                .map_err(failed)?;
        }
        for (index, line) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(failed)?
                .label(line.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Thins a curve to at most `most` points (keeping the ends), for compact SVG.
pub fn thin(points: &[CurvePoint], most: usize) -> Vec<(f64, f64)> {
    let step = (points.len() / most.max(1)).max(1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).map(|p| (p.x, p.y)).collect();
    if let Some(last) = points.last()
        && out.last() != Some(&(last.x, last.y))
    {
        out.push((last.x, last.y));
    }
    out
}

/// The reliability curve points.
pub fn calibration_points(bins: &[CalibrationBin]) -> Vec<(f64, f64)> {
    bins.iter().map(|b| (b.predicted, b.observed)).collect()
}

/// Horizontal bars, largest first.
pub fn bars(title: &str, x_label: &str, values: &[(String, f64)]) -> Result<String> {
    let mut svg = String::new();
    let height = 60 + 24 * values.len().max(1) as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 + 160, height)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let max = values
            .iter()
            .map(|(_, v)| *v)
            .fold(0.0f64, f64::max)
            .max(1e-12);
        let count = values.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(210)
            .build_cartesian_2d(0f64..max * 1.05, 0i32..count)
            .map_err(failed)?;
        let names: Vec<String> = values.iter().map(|(name, _)| name.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_label)
            .y_labels(values.len().max(1))
            .y_label_formatter(&|index: &i32| {
                let position = (count - 1 - *index) as usize;
                names.get(position).cloned().unwrap_or_default()
            })
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(values.iter().enumerate().map(|(index, (_, value))| {
                let y = count - 1 - index as i32;
                Rectangle::new([(0.0, y), (*value, y + 1)], PALETTE[0].mix(0.8).filled())
            }))
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// A 2 x 2 confusion-matrix heat map.
pub fn confusion(title: &str, confusion: &Confusion) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (420, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let cells = [
            ("stayed, not flagged", confusion.true_negatives, 0, 1),
            ("stayed, flagged", confusion.false_positives, 1, 1),
            ("churned, missed", confusion.false_negatives, 0, 0),
            ("churned, flagged", confusion.true_positives, 1, 0),
        ];
        let max = cells.iter().map(|c| c.1).max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0i32..2, 0i32..2)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("actual")
            .x_labels(2)
            .y_labels(2)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|_| String::new())
            .draw()
            .map_err(failed)?;
        for (text, x, y) in [("stay", 0, 1), ("churn", 1, 1)] {
            let (left, _) = chart.backend_coord(&(x, y));
            let (right, bottom) = chart.backend_coord(&(x + 1, 0));
            root.draw(&Text::new(
                text,
                ((left + right) / 2 - 14, bottom + 6),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(failed)?;
        }
        for (text, y) in [("churn", 0), ("stay", 1)] {
            let (left, top) = chart.backend_coord(&(0, y + 1));
            let (_, bottom) = chart.backend_coord(&(0, y));
            root.draw(&Text::new(
                text,
                (left - 44, (top + bottom) / 2 - 6),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(failed)?;
        }
        chart
            .draw_series(cells.iter().map(|(_, count, x, y)| {
                let shade = 0.15 + 0.75 * (*count as f64 / max);
                Rectangle::new([(*x, *y), (x + 1, y + 1)], PALETTE[0].mix(shade).filled())
            }))
            .map_err(failed)?;
        for (label, count, x, y) in cells {
            let (px, py) = chart.backend_coord(&(x, y + 1));
            let (qx, qy) = chart.backend_coord(&(x + 1, y));
            let center = ((px + qx) / 2, (py + qy) / 2);
            root.draw(&Text::new(
                format!("{count}"),
                (center.0 - 14, center.1 - 14),
                ("sans-serif", 22).into_font().color(&BLACK),
            ))
            .map_err(failed)?;
            root.draw(&Text::new(
                label,
                (center.0 - 50, center.1 + 12),
                ("sans-serif", 12).into_font().color(&BLACK),
            ))
            .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
