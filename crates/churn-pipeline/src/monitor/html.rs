//! `report.html`: the monitor's figures for people, self-contained (inline SVG, no
//! scripts, no network), in the evaluation report's style.

use std::fmt::Write as _;

use churn_core::drift::Level;

use super::MonitorReport;
use crate::evaluate::plots::{self, Line, escape};

/// Features drawn in the drift chart.
const CHARTED_FEATURES: usize = 20;

fn level(level: Level) -> &'static str {
    match level {
        Level::Stable => "stable",
        Level::Warn => "<span class=\"warn\">warn</span>",
        Level::Alert => "<span class=\"alert\">alert</span>",
    }
}

fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn chart(drawn: crate::error::Result<String>) -> String {
    drawn.unwrap_or_else(|error| {
        format!("<p>(chart unavailable: {})</p>", escape(&error.to_string()))
    })
}

/// The report of `report`.
pub fn render(report: &MonitorReport) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Churn monitoring {date}</title>\
         <style>{style}</style></head><body><h1>Churn monitoring{date_heading}</h1>\
         <p>Model <code>{model}</code>. Data up to {end}. Test-split ROC-AUC at training {auc}; accuracy floor {floor}.</p>",
        date = escape(report.date.as_deref().unwrap_or("")),
        style = plots::STYLE,
        date_heading = report
            .date
            .as_deref()
            .map(|d| format!(": {}", escape(d)))
            .unwrap_or_default(),
        model = escape(&report.model_id),
        end = escape(report.data_end.as_deref().unwrap_or("(no labels read)")),
        auc = number(report.reference_roc_auc, 4),
        floor = number(report.auc_floor, 4),
    );
    findings(&mut html, report);
    data_drift(&mut html, report);
    prediction_drift(&mut html, report);
    accuracy(&mut html, report);
    shadow(&mut html, report);
    effects(&mut html, report);
    if !report.warnings.is_empty() {
        html.push_str("<h2>Not measured</h2><ul>");
        for warning in &report.warnings {
            let _ = write!(html, "<li>{}</li>", escape(warning));
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>\n");
    html
}

fn findings(html: &mut String, report: &MonitorReport) {
    let f = &report.findings;
    let _ = write!(html, "<h2>Findings</h2><ul><li>Drift: {}", level(f.drift));
    if !f.drifted_features.is_empty() {
        let _ = write!(
            html,
            " — features at alert, most urgent first: {}",
            escape(&f.drifted_features.join(", "))
        );
    }
    html.push_str("</li>");
    if !f.quiet_alerts.is_empty() {
        let _ = write!(
            html,
            "<li>At alert but barely used by the model (paging nobody): {}</li>",
            escape(&f.quiet_alerts.join(", "))
        );
    }
    if f.degraded.is_empty() {
        html.push_str("<li>Accuracy: at or above the floor</li>");
    }
    for d in &f.degraded {
        let _ = write!(
            html,
            "<li><span class=\"alert\">Accuracy below the floor</span>: {} ROC-AUC {:.4} on the predictions of {} (floor {:.4})</li>",
            escape(&d.figure),
            d.roc_auc,
            escape(&d.date),
            d.floor
        );
    }
    if !f.challengers_ahead.is_empty() {
        let _ = write!(
            html,
            "<li><span class=\"warn\">Challengers ahead of the champion</span> on the latest matured day scored in shadow: {}</li>",
            escape(&f.challengers_ahead.join(", "))
        );
    }
    if !f.overrated_actions.is_empty() {
        let _ = write!(
            html,
            "<li><span class=\"warn\">Actions doing less than the playbook assumes</span> (realised save rate below the assumed one, 95 % confidence): {}</li>",
            escape(&f.overrated_actions.join(", "))
        );
    }
    html.push_str("</ul>");
}

fn data_drift(html: &mut String, report: &MonitorReport) {
    let Some(drift) = &report.data_drift else {
        return;
    };
    let _ = write!(
        html,
        "<h2>Data drift</h2><p>{} rows against {} at training; ranked by PSI × the feature's share of the model's importance.</p>",
        drift.rows[1], drift.rows[0]
    );
    for (what, names) in [
        ("Missing from the table", &drift.missing_features),
        ("Kind changed (not comparable)", &drift.changed_kind),
        ("Not in the reference", &drift.extra_features),
    ] {
        if !names.is_empty() {
            let _ = write!(html, "<p>{what}: {}</p>", escape(&names.join(", ")));
        }
    }
    let charted: Vec<(String, f64)> = drift
        .features
        .iter()
        .take(CHARTED_FEATURES)
        .map(|f| (f.name.clone(), f.psi.unwrap_or(0.0)))
        .collect();
    let _ = write!(
        html,
        "<div class=\"charts\">{}</div>",
        chart(plots::guarded(|| plots::bars(
            "PSI of the most urgent features",
            "population stability index",
            &charted
        )))
    );
    html.push_str("<table><tr><th>feature</th><th>level</th><th>PSI</th><th>KS</th><th>Wasserstein / std</th><th>Jensen–Shannon</th><th>Cramér's V</th><th>χ² p-value</th><th>missing then</th><th>missing now</th><th>outside the range</th><th>new categories</th><th>importance</th></tr>");
    for f in &drift.features {
        let new: Vec<String> = f
            .new_categories
            .iter()
            .map(|(name, rows)| format!("{name} ({rows})"))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&f.name),
            level(f.level),
            number(f.psi, 3),
            number(f.ks, 3),
            number(f.wasserstein, 3),
            number(f.jensen_shannon, 3),
            number(f.cramers_v, 3),
            f.chi_square_p
                .map_or_else(|| "–".to_owned(), |p| format!("{p:.2e}")),
            100.0 * f.missing[0],
            100.0 * f.missing[1],
            f.out_of_range
                .map_or_else(|| "–".to_owned(), |s| format!("{:.1}%", 100.0 * s)),
            escape(&new.join(", ")),
            number(f.importance, 2),
        );
    }
    html.push_str("</table>");
}

fn prediction_drift(html: &mut String, report: &MonitorReport) {
    let Some(drift) = &report.prediction_drift else {
        return;
    };
    let _ = write!(
        html,
        "<h2>Prediction drift</h2><p>Scores of {} ({} customers) against the training table's ({}): PSI {}, KS {}, level {}; mean probability {:.3} then, {:.3} now.</p>",
        escape(&drift.date),
        drift.rows[1],
        drift.rows[0],
        number(drift.psi, 3),
        number(drift.ks, 3),
        level(drift.level),
        drift.mean[0],
        drift.mean[1],
    );
    let bins = drift.histogram[0].len().max(1) as f64;
    let series = |shares: &Vec<f64>| -> Vec<(f64, f64)> {
        shares
            .iter()
            .enumerate()
            .map(|(i, share)| ((i as f64 + 0.5) / bins, *share))
            .collect()
    };
    let top = drift
        .histogram
        .iter()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(0.01)
        * 1.1;
    let lines = [
        Line {
            name: "training table",
            points: series(&drift.histogram[0]),
        },
        Line {
            name: "this day",
            points: series(&drift.histogram[1]),
        },
    ];
    let _ = write!(
        html,
        "<div class=\"charts\">{}</div>",
        chart(plots::guarded(|| plots::lines(
            "Score distribution",
            "churn probability",
            "share of customers",
            &lines,
            &[],
            top
        )))
    );
    html.push_str("<table><tr><th>tier</th><th>share then</th><th>share now</th></tr>");
    for (tier, [then, now]) in &drift.tiers {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.1}%</td><td>{:.1}%</td></tr>",
            escape(tier),
            100.0 * then,
            100.0 * now
        );
    }
    html.push_str("</table>");
}

fn accuracy(html: &mut String, report: &MonitorReport) {
    if report.accuracy.is_empty() {
        return;
    }
    html.push_str("<h2>Accuracy over time</h2><p>A prediction day matures when the data covers its horizon; until then its accuracy is estimated from the calibrated probabilities (CBPE). A matured day keeps its estimate, so the error of the estimates shows.</p>");
    let last = (report.accuracy.len().max(2) - 1) as f64;
    let x = |i: usize| i as f64 / last;
    let realised: Vec<(f64, f64)> = report
        .accuracy
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((x(i), d.realised.as_ref()?.roc_auc?)))
        .collect();
    let estimated: Vec<(f64, f64)> = report
        .accuracy
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((x(i), d.estimated.roc_auc?)))
        .collect();
    let floor: Vec<(f64, f64)> = report
        .auc_floor
        .map(|f| vec![(0.0, f), (1.0, f)])
        .unwrap_or_default();
    let lines = [
        Line {
            name: "realised ROC-AUC",
            points: realised,
        },
        Line {
            name: "estimated ROC-AUC",
            points: estimated,
        },
    ];
    let _ = write!(
        html,
        "<div class=\"charts\">{}</div>",
        chart(plots::guarded(|| plots::lines(
            "ROC-AUC by prediction day (oldest to latest; grey: the floor)",
            "prediction days",
            "ROC-AUC",
            &lines,
            &floor,
            1.0
        )))
    );
    html.push_str("<table><tr><th>day</th><th>model</th><th>customers</th><th>matures on</th><th>estimated ROC-AUC</th><th>realised ROC-AUC</th><th>estimate error</th><th>PR-AUC</th><th>precision</th><th>recall</th><th>top-decile lift</th><th>Brier</th><th>calibration error</th><th>churn rate expected</th><th>churn rate realised</th></tr>");
    for d in &report.accuracy {
        let r = d.realised.as_ref();
        let _ = write!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td></tr>",
            escape(&d.date),
            escape(&d.model_id),
            d.rows,
            escape(&d.matures_on),
            number(d.estimated.roc_auc, 4),
            number(r.and_then(|r| r.roc_auc), 4),
            number(d.estimate_error, 4),
            number(r.and_then(|r| r.pr_auc), 4),
            number(r.map(|r| r.precision).or(d.estimated.precision), 3),
            number(r.map(|r| r.recall).or(d.estimated.recall), 3),
            number(r.and_then(|r| r.top_decile_lift), 2),
            number(r.map(|r| r.brier), 4),
            number(r.and_then(|r| r.calibration_error), 4),
            100.0 * d.estimated.churn_rate,
            r.map_or_else(
                || "–".to_owned(),
                |r| format!("{:.1}%", 100.0 * r.churn_rate)
            ),
        );
    }
    html.push_str("</table>");
}

fn shadow(html: &mut String, report: &MonitorReport) {
    if report.shadow.is_empty() {
        return;
    }
    html.push_str("<h2>Champion and challengers</h2><p>Challengers scored in shadow on the same customers as the champion (only the champion drives actions); once a day matures, their realised figures side by side. A positive ROC-AUC gain and a negative Brier change favour the challenger.</p>");
    html.push_str("<table><tr><th>day</th><th>champion</th><th>challenger</th><th>estimated ROC-AUC</th><th>realised ROC-AUC</th><th>ROC-AUC gain</th><th>Brier change</th></tr>");
    for day in &report.shadow {
        let c = &day.challenger;
        let _ = write!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&day.date),
            escape(&day.champion),
            escape(&c.model_id),
            number(c.estimated.roc_auc, 4),
            number(c.realised.as_ref().and_then(|r| r.roc_auc), 4),
            number(day.roc_auc_gain, 4),
            number(day.brier_change, 4),
        );
    }
    html.push_str("</table>");
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{:.1}%", 100.0 * v))
}

fn interval(
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    show: fn(Option<f64>) -> String,
) -> String {
    match (value, low, high) {
        (Some(_), Some(_), Some(_)) => format!("{} [{}, {}]", show(value), show(low), show(high)),
        _ => show(value),
    }
}

fn money(value: Option<f64>) -> String {
    number(value, 0)
}

fn effects(html: &mut String, report: &MonitorReport) {
    let Some(effects) = &report.actions else {
        return;
    };
    html.push_str("<h2>Did the actions work?</h2><p>Customers an action went to (treated) against eligible customers held back from it at random (control), once the outcomes of a sent day have matured; pooled over the matured days. Intervals are 95 % (Newcombe's score method).</p>");
    let overall: Vec<&super::ActionEffect> = effects
        .effects
        .iter()
        .filter(|e| e.tier.is_none())
        .collect();
    let bars: Vec<(String, f64)> = overall
        .iter()
        .flat_map(|e| {
            let uplift = e.uplift.as_ref();
            [
                (
                    format!("{} treated", e.action),
                    uplift.map(|u| u.retention_treated),
                ),
                (
                    format!("{} control", e.action),
                    uplift.map(|u| u.retention_control),
                ),
            ]
        })
        .filter_map(|(name, retention)| Some((name, 100.0 * retention?)))
        .collect();
    if !bars.is_empty() {
        let _ = write!(
            html,
            "<div class=\"charts\">{}</div>",
            chart(plots::guarded(|| plots::bars(
                "Retained within the horizon: treated and control",
                "% retained",
                &bars
            )))
        );
    }
    let currency = escape(&effects.currency);
    let _ = write!(
        html,
        "<table><tr><th>action</th><th>tier</th><th>treated</th><th>retained</th><th>control</th><th>retained</th><th>uplift</th><th>save rate realised</th><th>assumed</th><th>revenue saved ({currency})</th><th>expected ({currency})</th></tr>"
    );
    for e in &effects.effects {
        let u = e.uplift.as_ref();
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.action),
            e.tier.map_or("all", |t| t.as_str()),
            e.treated.customers,
            percent(e.treated.retention()),
            e.control.customers,
            percent(e.control.retention()),
            interval(
                u.map(|u| u.difference),
                u.map(|u| u.low),
                u.map(|u| u.high),
                percent
            ),
            interval(
                u.and_then(|u| u.save_rate),
                u.and_then(|u| u.save_rate_low),
                u.and_then(|u| u.save_rate_high),
                percent
            ),
            percent(e.assumed_save_rate),
            interval(
                e.realised_saved,
                e.realised_saved_low,
                e.realised_saved_high,
                money
            ),
            money(Some(e.expected_saved)),
        );
    }
    html.push_str("</table><table><tr><th>day of actions</th><th>playbook</th><th>sent</th><th>treated</th><th>controls</th><th>matures on</th><th>measured</th></tr>");
    for d in &effects.days {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.date),
            escape(&d.revision),
            if d.sent { "yes" } else { "dry run" },
            d.treated,
            d.controls,
            escape(&d.matures_on),
            if d.measured { "yes" } else { "not yet" },
        );
    }
    html.push_str("</table>");
}
