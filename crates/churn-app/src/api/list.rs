//! The day's ranked list of customers, held in memory and paged on the server: filtered
//! by tier, segment and a search of the id, sorted, one page at a time, so a million
//! customers never travel to a browser.

use std::collections::HashMap;

use churn_core::Tier;
use serde_json::{Value as Json, json};

/// Customers per page unless the query says otherwise, and the most it may ask for.
pub const PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1_000;

pub use churn_core::listing::Listed;

/// The day's predictions, riskiest first.
#[derive(Debug, Clone)]
pub struct RankedList {
    /// The prediction day (`predictions/dt=<day>/`).
    pub day: String,
    /// The model that scored it.
    pub model: String,
    entries: Vec<Listed>,
}

/// How a page is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    RiskDesc,
    RiskAsc,
    Id,
    ChargeDesc,
}

impl Sort {
    const NAMES: &'static str = "risk, -risk, id or charge";

    fn parse(text: &str) -> Option<Self> {
        match text {
            "risk" | "-probability" => Some(Self::RiskDesc),
            "-risk" | "probability" => Some(Self::RiskAsc),
            "id" => Some(Self::Id),
            "charge" => Some(Self::ChargeDesc),
            _ => None,
        }
    }
}

/// A page query that passed [`ListQuery::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    tier: Option<Tier>,
    segment: Option<String>,
    search: Option<String>,
    sort: Sort,
    page: usize,
    per_page: usize,
    /// `format=csv`: every matching customer as CSV, not a page.
    pub csv: bool,
}

impl ListQuery {
    /// Reads `tier`, `segment`, `q`, `sort`, `page`, `per_page` and `format`; anything
    /// else, or a value that cannot be used, is an error saying what to send.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, String> {
        let mut query = Self {
            tier: None,
            segment: None,
            search: None,
            sort: Sort::RiskDesc,
            page: 1,
            per_page: PAGE_SIZE,
            csv: false,
        };
        let mut names: Vec<&String> = params.keys().collect();
        names.sort();
        for name in names {
            let value = params[name].trim();
            match name.as_str() {
                "tier" if value.is_empty() => {}
                "tier" => {
                    query.tier = Some(match value {
                        "low" => Tier::Low,
                        "medium" => Tier::Medium,
                        "high" => Tier::High,
                        other => {
                            return Err(format!("tier '{other}': use low, medium or high"));
                        }
                    });
                }
                "segment" => query.segment = (!value.is_empty()).then(|| value.to_lowercase()),
                "q" => query.search = (!value.is_empty()).then(|| value.to_lowercase()),
                "sort" if value.is_empty() => {}
                "sort" => {
                    query.sort = Sort::parse(value)
                        .ok_or_else(|| format!("sort '{value}': use {}", Sort::NAMES))?;
                }
                "page" => {
                    query.page = value
                        .parse()
                        .ok()
                        .filter(|page| *page >= 1)
                        .ok_or_else(|| format!("page '{value}': a whole number from 1"))?;
                }
                "per_page" => {
                    query.per_page = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            format!("per_page '{value}': a whole number from 1 to {MAX_PAGE_SIZE}")
                        })?;
                }
                "format" => {
                    query.csv = match value {
                        "" | "json" => false,
                        "csv" => true,
                        other => return Err(format!("format '{other}': use json or csv")),
                    };
                }
                other => {
                    return Err(format!(
                        "unknown parameter '{other}': use tier, segment, q, sort, page, \
                         per_page or format"
                    ));
                }
            }
        }
        Ok(query)
    }
}

impl RankedList {
    /// The list of `entries`, ranked riskiest first (ties by id, so a page is stable).
    pub fn new(day: impl Into<String>, model: impl Into<String>, mut entries: Vec<Listed>) -> Self {
        entries.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then_with(|| a.customer_id.cmp(&b.customer_id))
        });
        Self {
            day: day.into(),
            model: model.into(),
            entries,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The customers a query selects, in its order, each with its rank of the day.
    fn selected(&self, query: &ListQuery) -> Vec<(usize, &Listed)> {
        let matches = |entry: &Listed| {
            query.tier.is_none_or(|tier| entry.tier == tier)
                && query.segment.as_ref().is_none_or(|segment| {
                    entry
                        .segment
                        .as_ref()
                        .is_some_and(|s| s.to_lowercase() == *segment)
                })
                && query
                    .search
                    .as_ref()
                    .is_none_or(|q| entry.customer_id.to_lowercase().contains(q.as_str()))
        };
        let mut selected: Vec<(usize, &Listed)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| matches(entry))
            .map(|(index, entry)| (index + 1, entry))
            .collect();
        match query.sort {
            Sort::RiskDesc => {}
            Sort::RiskAsc => selected.reverse(),
            Sort::Id => selected.sort_by(|a, b| a.1.customer_id.cmp(&b.1.customer_id)),
            Sort::ChargeDesc => selected.sort_by(|a, b| {
                let charge = |entry: &Listed| entry.monthly_charge.unwrap_or(f64::NEG_INFINITY);
                charge(b.1).total_cmp(&charge(a.1)).then(a.0.cmp(&b.0))
            }),
        }
        selected
    }

    /// The page a query asks for, as the API answers it.
    pub fn page(&self, query: &ListQuery) -> Json {
        let selected = self.selected(query);
        let total = selected.len();
        let customers: Vec<Json> = selected
            .iter()
            .skip((query.page - 1).saturating_mul(query.per_page))
            .take(query.per_page)
            .map(|(rank, entry)| entry_json(*rank, entry))
            .collect();
        json!({
            "day": self.day,
            "model": self.model,
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
            "pages": total.div_ceil(query.per_page),
            "customers": customers,
        })
    }

    /// Every customer the query selects (not a page) as CSV, for a spreadsheet or a CRM
    /// import: `rank,customer_id,probability,tier,segment,monthly_charge,reasons`.
    pub fn csv(&self, query: &ListQuery) -> String {
        let mut out =
            String::from("rank,customer_id,probability,tier,segment,monthly_charge,reasons\n");
        for (rank, entry) in self.selected(query) {
            let charge = entry
                .monthly_charge
                .map(|x| x.to_string())
                .unwrap_or_default();
            let fields = [
                rank.to_string(),
                csv_text(&entry.customer_id),
                entry.probability.to_string(),
                entry.tier.as_str().to_owned(),
                csv_text(entry.segment.as_deref().unwrap_or_default()),
                charge,
                csv_text(&entry.reasons.join("; ")),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// The day in figures: customers per tier and per segment, and the monthly revenue at
    /// risk (the monthly charges weighted by the probability of losing them, over all
    /// customers, and summed over the high tier).
    pub fn overview(&self) -> Json {
        let mut tiers = [0_u64; 3];
        // Keyed as the segment filter matches them: whatever their case.
        let mut segments: std::collections::BTreeMap<String, u64> = Default::default();
        let (mut expected, mut high_charges) = (0.0, 0.0);
        for entry in &self.entries {
            tiers[entry.tier as usize] += 1;
            if let Some(segment) = &entry.segment {
                *segments.entry(segment.to_lowercase()).or_default() += 1;
            }
            let charge = entry.monthly_charge.unwrap_or(0.0);
            expected += entry.probability * charge;
            if entry.tier == Tier::High {
                high_charges += charge;
            }
        }
        json!({
            "day": self.day,
            "model": self.model,
            "customers": self.entries.len(),
            "tiers": { "low": tiers[0], "medium": tiers[1], "high": tiers[2] },
            "segments": segments,
            "expected_monthly_revenue_at_risk": expected,
            "high_tier_monthly_revenue": high_charges,
        })
    }
}

/// A text cell: quoted when it holds a comma, quote or line break, and kept from being
/// read as a formula by a spreadsheet (a leading `=`, `+`, `-`, `@` gets a `'`).
fn csv_text(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn entry_json(rank: usize, entry: &Listed) -> Json {
    json!({
        "rank": rank,
        "customer_id": entry.customer_id,
        "probability": entry.probability,
        "tier": entry.tier.as_str(),
        "segment": entry.segment,
        "monthly_charge": entry.monthly_charge,
        "reasons": entry.reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, probability: f64, tier: Tier, segment: &str, charge: f64) -> Listed {
        Listed {
            customer_id: id.into(),
            probability,
            tier,
            segment: Some(segment.into()),
            monthly_charge: Some(charge),
            reasons: vec![],
        }
    }

    fn list() -> RankedList {
        RankedList::new(
            "2026-11-01",
            "m",
            vec![
                listed("C3", 0.2, Tier::Medium, "one-year", 30.0),
                listed("C1", 0.9, Tier::High, "month-to-month", 50.0),
                listed("C2", 0.6, Tier::High, "Month-to-Month", 80.0),
                listed("C4", 0.05, Tier::Low, "two-year", 20.0),
            ],
        )
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, String> {
        ListQuery::parse(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn ids(page: &Json) -> Vec<&str> {
        page["customers"]
            .as_array()
            .expect("customers")
            .iter()
            .map(|c| c["customer_id"].as_str().expect("id"))
            .collect()
    }

    #[test]
    fn pages_filter_by_tier_segment_and_search_and_keep_the_risk_rank() {
        let list = list();
        let page = list.page(&query(&[]).expect("defaults"));
        assert_eq!(ids(&page), ["C1", "C2", "C3", "C4"]);
        assert_eq!(page["total"], 4);
        let high = list.page(&query(&[("tier", "high")]).expect("tier"));
        assert_eq!(ids(&high), ["C1", "C2"]);
        // Segments match whatever their case.
        let segment = list.page(&query(&[("segment", "MONTH-TO-MONTH")]).expect("segment"));
        assert_eq!(ids(&segment), ["C1", "C2"]);
        let search = list.page(&query(&[("q", "c3")]).expect("q"));
        assert_eq!(ids(&search), ["C3"]);
        assert_eq!(
            search["customers"][0]["rank"], 3,
            "the day's rank, not the page's"
        );
        let by_charge = list.page(&query(&[("sort", "charge")]).expect("sort"));
        assert_eq!(ids(&by_charge), ["C2", "C1", "C3", "C4"]);
        let second = list.page(&query(&[("per_page", "3"), ("page", "2")]).expect("page"));
        assert_eq!(
            (ids(&second), second["pages"].as_u64()),
            (vec!["C4"], Some(2))
        );
        let past = list.page(&query(&[("page", "9")]).expect("page"));
        assert!(ids(&past).is_empty());
    }

    #[test]
    fn a_query_that_cannot_be_used_says_what_to_send() {
        for (pairs, says) in [
            (vec![("tier", "urgent")], "use low, medium or high"),
            (vec![("page", "0")], "a whole number from 1"),
            (vec![("per_page", "100000")], "from 1 to 1000"),
            (vec![("sort", "name")], "use risk, -risk, id or charge"),
            (vec![("limit", "3")], "unknown parameter 'limit'"),
            (vec![("format", "xlsx")], "use json or csv"),
        ] {
            let error = query(&pairs).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn the_overview_counts_tiers_and_weights_charges_by_risk() {
        let overview = list().overview();
        assert_eq!(overview["tiers"]["high"], 2);
        assert_eq!(overview["customers"], 4);
        let expected = 0.9 * 50.0 + 0.6 * 80.0 + 0.2 * 30.0 + 0.05 * 20.0;
        assert_eq!(
            overview["expected_monthly_revenue_at_risk"].as_f64(),
            Some(expected)
        );
        assert_eq!(overview["high_tier_monthly_revenue"].as_f64(), Some(130.0));
        assert_eq!(
            overview["segments"],
            json!({"month-to-month": 2, "one-year": 1, "two-year": 1})
        );
    }

    #[test]
    fn csv_holds_every_match_in_order_and_defuses_formulas() {
        let mut entries = vec![
            listed("C1", 0.9, Tier::High, "month-to-month", 50.0),
            listed("=HYPERLINK(\"x\")", 0.8, Tier::High, "a, b", 10.0),
        ];
        entries[0].reasons = vec!["tenure is short".into(), "late payments".into()];
        let list = RankedList::new("2026-11-01", "m", entries);
        let text = list.csv(&query(&[("tier", "high"), ("per_page", "1")]).expect("query"));
        assert_eq!(
            text,
            "rank,customer_id,probability,tier,segment,monthly_charge,reasons\n\
             1,C1,0.9,high,month-to-month,50,tenure is short; late payments\n\
             2,\"'=HYPERLINK(\"\"x\"\")\",0.8,high,\"a, b\",10,\n",
            "not one page: every match"
        );
        let none = list.csv(&query(&[("tier", "low")]).expect("query"));
        assert_eq!(none.lines().count(), 1, "the header alone");
    }
}
