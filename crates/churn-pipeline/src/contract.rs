//! The raw-data contract: the six sources a customer's history arrives in (and the raw
//! app events that may stand in for sessions), and for every column its type, whether it
//! is required, the values it may take and what ingest does when it is missing.
//!
//! This table is the single source of truth: ingest validates against it, the generator
//! writes to it, and `docs/data-contract.md` is rendered from it (a test keeps the page in
//! step with the code).

use std::fmt::Write as _;

/// One of the six raw sources, or the raw app events that ingest turns into sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Demographics and contact details, one row per customer.
    Customers,
    /// Contract periods: plan, contract type, start and end dates, monthly charge.
    Accounts,
    /// Invoices and their payments.
    Billing,
    /// Product usage sessions.
    Sessions,
    /// Support tickets.
    Tickets,
    /// Dates on which customers churned.
    ChurnLabels,
    /// Raw app events (one row per event): not a curated table of its own, but sessionised
    /// into [`Source::Sessions`] at ingest (see [`crate::ingest::events`]).
    Events,
}

impl Source {
    /// Every source with a curated table, in dependency order (customers first: the others
    /// refer to it).
    pub const ALL: [Source; 6] = [
        Source::Customers,
        Source::Accounts,
        Source::Billing,
        Source::Sessions,
        Source::Tickets,
        Source::ChurnLabels,
    ];

    /// Every folder of `raw/` that ingest reads: the six sources, then the app events.
    pub const RAW: [Source; 7] = {
        let mut raw = [Source::Events; 7];
        let mut index = 0;
        while index < Source::ALL.len() {
            raw[index] = Source::ALL[index];
            index += 1;
        }
        raw
    };

    /// The folder name under `raw/`, `curated/` and `quarantine/`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Customers => "customers",
            Source::Accounts => "accounts",
            Source::Billing => "billing",
            Source::Sessions => "sessions",
            Source::Tickets => "tickets",
            Source::ChurnLabels => "churn_labels",
            Source::Events => "events",
        }
    }

    /// Parses a folder name of `raw/`.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::RAW.into_iter().find(|source| source.name() == name)
    }

    /// The contract of this source.
    pub fn contract(self) -> &'static SourceContract {
        match self {
            Source::Customers => &CUSTOMERS,
            Source::Accounts => &ACCOUNTS,
            Source::Billing => &BILLING,
            Source::Sessions => &SESSIONS,
            Source::Tickets => &TICKETS,
            Source::ChurnLabels => &CHURN_LABELS,
            Source::Events => &EVENTS,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A source names its folder in the storage layout (`layout::curated(version, source)`).
impl AsRef<str> for Source {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// The logical type of a raw column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnType {
    /// An identifier: trimmed text, never empty.
    Id,
    /// Free text, trimmed.
    Text,
    /// A whole number within `[min, max]`.
    Int { min: i64, max: i64 },
    /// A finite real number within `[min, max]`.
    Float { min: f64, max: f64 },
    /// `true`/`false` (also `yes`/`no`, `y`/`n`, `1`/`0`, `t`/`f`, any case).
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A date and time in UTC: `YYYY-MM-DDTHH:MM:SS` (a space instead of `T`, fractional
    /// seconds and a trailing `Z` are accepted).
    Timestamp,
    /// A category from a fixed list; values are normalised (trimmed, lowercased, runs of
    /// spaces, `_` and `-` become one `-`) before they are checked.
    Category {
        values: &'static [&'static str],
        /// `Closed`: any other value quarantines the row. `Open`: other values are kept
        /// and counted in the report as unexpected.
        closed: bool,
    },
}

impl ColumnType {
    /// Short name for docs and messages.
    pub fn describe(&self) -> String {
        match self {
            ColumnType::Id => "id".into(),
            ColumnType::Text => "text".into(),
            ColumnType::Int { .. } => "integer".into(),
            ColumnType::Float { .. } => "number".into(),
            ColumnType::Bool => "boolean".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Category { closed: true, .. } => "category (closed)".into(),
            ColumnType::Category { closed: false, .. } => "category (open)".into(),
        }
    }

    /// The polars type of the column once validated.
    pub fn dtype(&self) -> polars::prelude::DataType {
        use polars::prelude::{DataType, TimeUnit};
        match self {
            ColumnType::Int { .. } => DataType::Int64,
            ColumnType::Float { .. } => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date,
            ColumnType::Timestamp => DataType::Datetime(TimeUnit::Microseconds, None),
            ColumnType::Id | ColumnType::Text | ColumnType::Category { .. } => DataType::String,
        }
    }

    /// The allowed values or range, for docs.
    pub fn domain(&self) -> String {
        match self {
            ColumnType::Int { min, max } => format!("{min} to {max}"),
            ColumnType::Float { min, max } => format!("{min} to {max}"),
            ColumnType::Date => format!("{MIN_DATE} to {MAX_DATE}"),
            ColumnType::Timestamp => format!("{MIN_DATE} to {MAX_DATE}"),
            ColumnType::Bool => "true / false".into(),
            ColumnType::Category { values, .. } => values.join(", "),
            ColumnType::Id | ColumnType::Text => "non-empty".into(),
        }
    }
}

/// Earliest date or timestamp accepted anywhere; older values are typos (`0001-01-01`).
pub const MIN_DATE: &str = "1970-01-01";
/// Latest date or timestamp accepted anywhere.
pub const MAX_DATE: &str = "2100-12-31";

/// What ingest does when a value is missing (empty, blank, or absent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MissingPolicy {
    /// The row is quarantined with the reason "missing required value".
    Quarantine,
    /// The value stays missing (null) and is counted in the report; missing means
    /// something (an account still open, an invoice not paid) or is left to the
    /// model's fitted imputation, which is learnt on training data only.
    KeepNull,
    /// The value is replaced by this constant and the replacement is counted.
    Impute(&'static str),
}

/// How outliers of a numeric column are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutlierRule {
    /// Not checked.
    None,
    /// Tukey's fences with k = 3 on `ln(1 + x)`: for the heavy-tailed, non-negative
    /// columns (durations, amounts) whose plain IQR would flag a few percent of honest
    /// values. Values outside are clipped to the fence and the original kept beside it.
    LogIqr,
}

/// Tukey's k for [`OutlierRule::LogIqr`].
pub const OUTLIER_IQR_K: f64 = 3.0;

/// One column of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name, snake_case (matched case-insensitively, ignoring surrounding spaces).
    pub name: &'static str,
    /// Logical type and domain.
    pub ty: ColumnType,
    /// Whether the value may be missing, and what then happens.
    pub missing: MissingPolicy,
    /// Outlier detection.
    pub outliers: OutlierRule,
    /// What the column means.
    pub description: &'static str,
}

impl ColumnSpec {
    /// Whether a missing value quarantines the row.
    pub fn required(&self) -> bool {
        self.missing == MissingPolicy::Quarantine
    }
}

/// A check across two columns of the same row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowRule {
    /// `later` must not be before `earlier` when both are present.
    NotBefore {
        later: &'static str,
        earlier: &'static str,
    },
    /// When `column` equals `value`, `other` must be present (`present: true`) or absent.
    PresenceWhen {
        column: &'static str,
        value: &'static str,
        other: &'static str,
        present: bool,
    },
}

impl RowRule {
    /// The rule in words, for docs.
    pub fn describe(&self) -> String {
        match self {
            RowRule::NotBefore { later, earlier } => {
                format!("`{later}` is not before `{earlier}`")
            }
            RowRule::PresenceWhen {
                column,
                value,
                other,
                present,
            } => {
                let state = if *present { "present" } else { "empty" };
                format!("when `{column}` is `{value}`, `{other}` is {state}")
            }
        }
    }
}

/// The contract of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceContract {
    /// Which source.
    pub source: Source,
    /// What one row is.
    pub row: &'static str,
    /// The columns, in canonical order.
    pub columns: &'static [ColumnSpec],
    /// The primary key: no two curated rows share these values.
    pub primary_key: &'static [&'static str],
    /// Checks across columns.
    pub row_rules: &'static [RowRule],
    /// Date and timestamp columns that record something that has happened: a value after
    /// the ingest's reference date is impossible and quarantines the row ("future"), and
    /// the last of them is how far the source reaches. Scheduled days (an invoice's due
    /// date, a period's planned end) are not events.
    pub events: &'static [&'static str],
    /// Whether ingest fails when the source has no files.
    pub required: bool,
    /// Whether rows must refer to a `customer_id` present in the customers source.
    pub references_customers: bool,
}

impl SourceContract {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Column names in canonical order.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|column| column.name).collect()
    }
}

const fn col(
    name: &'static str,
    ty: ColumnType,
    missing: MissingPolicy,
    description: &'static str,
) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        missing,
        outliers: OutlierRule::None,
        description,
    }
}

const fn skewed(
    name: &'static str,
    max: f64,
    missing: MissingPolicy,
    description: &'static str,
) -> ColumnSpec {
    ColumnSpec {
        name,
        ty: ColumnType::Float { min: 0.0, max },
        missing,
        outliers: OutlierRule::LogIqr,
        description,
    }
}

use ColumnType::{Bool, Date, Id, Text, Timestamp};
use MissingPolicy::{Impute, KeepNull, Quarantine};

/// The value written where an optional category is missing.
pub const UNKNOWN: &str = "unknown";

/// Contract types, from most to least flexible.
pub const CONTRACT_TYPES: &[&str] = &["month-to-month", "one-year", "two-year"];
/// Plans, from cheapest to dearest (open: other values are kept).
pub const PLANS: &[&str] = &["basic", "standard", "premium", "unlimited"];
/// Payment methods.
pub const PAYMENT_METHODS: &[&str] = &[
    "credit-card",
    "bank-transfer",
    "electronic-check",
    "mailed-check",
    UNKNOWN,
];
/// Invoice statuses.
pub const INVOICE_STATUSES: &[&str] = &["paid", "failed", "open"];
/// Support ticket categories.
pub const TICKET_CATEGORIES: &[&str] = &[
    "billing",
    "technical",
    "account",
    "complaint",
    "cancellation",
    "other",
];
/// Support ticket severities.
pub const SEVERITIES: &[&str] = &["low", "medium", "high", "critical", UNKNOWN];
/// Regions (open: other values are kept).
pub const REGIONS: &[&str] = &["north", "south", "east", "west", "central", UNKNOWN];
/// Genders (open).
pub const GENDERS: &[&str] = &["female", "male", "non-binary", UNKNOWN];
/// Acquisition channels (open).
pub const CHANNELS: &[&str] = &[
    "organic",
    "paid-search",
    "referral",
    "retail-store",
    "partner",
    UNKNOWN,
];
/// Devices (open).
pub const DEVICES: &[&str] = &["mobile", "tablet", "desktop", "tv", UNKNOWN];
/// Churn types.
pub const CHURN_TYPES: &[&str] = &["voluntary", "involuntary", UNKNOWN];

const fn closed(values: &'static [&'static str]) -> ColumnType {
    ColumnType::Category {
        values,
        closed: true,
    }
}

const fn open(values: &'static [&'static str]) -> ColumnType {
    ColumnType::Category {
        values,
        closed: false,
    }
}

static CUSTOMERS: SourceContract = SourceContract {
    source: Source::Customers,
    row: "one customer (demographics and contact details)",
    columns: &[
        col("customer_id", Id, Quarantine, "Customer identifier"),
        col(
            "signup_date",
            Date,
            Quarantine,
            "Day the customer first signed up",
        ),
        col(
            "birth_year",
            ColumnType::Int {
                min: 1900,
                max: 2015,
            },
            KeepNull,
            "Year of birth",
        ),
        col(
            "gender",
            open(GENDERS),
            Impute(UNKNOWN),
            "Self-declared gender",
        ),
        col("region", open(REGIONS), Impute(UNKNOWN), "Home region"),
        col("partner", Bool, KeepNull, "Lives with a partner"),
        col("dependents", Bool, KeepNull, "Has dependents"),
        col(
            "acquisition_channel",
            open(CHANNELS),
            Impute(UNKNOWN),
            "How the customer was acquired",
        ),
        col(
            "email",
            Text,
            KeepNull,
            "Contact e-mail (PII: masked in logs)",
        ),
        col(
            "phone",
            Text,
            KeepNull,
            "Contact phone, E.164 (PII: masked in logs)",
        ),
        col(
            "contact_opt_out",
            Bool,
            Impute("false"),
            "Customer opted out of marketing: no offers or messages",
        ),
        col(
            "do_not_contact",
            Bool,
            Impute("false"),
            "Customer must not be contacted at all: no messages and no calls",
        ),
    ],
    primary_key: &["customer_id"],
    row_rules: &[],
    events: &["signup_date"],
    required: true,
    references_customers: false,
};

static ACCOUNTS: SourceContract = SourceContract {
    source: Source::Accounts,
    row: "one contract period; a plan or price change ends one row and starts another",
    columns: &[
        col("account_id", Id, Quarantine, "Contract period identifier"),
        col(
            "customer_id",
            Id,
            Quarantine,
            "Customer holding the contract",
        ),
        // Open: a business launches plans, and the customers on a new one are data, not
        // errors (the monitor reports the new category against the model's reference).
        col("plan", open(PLANS), Quarantine, "Product plan"),
        col(
            "contract_type",
            closed(CONTRACT_TYPES),
            Quarantine,
            "Commitment of the contract",
        ),
        col("start_date", Date, Quarantine, "First day of the period"),
        col(
            "end_date",
            Date,
            KeepNull,
            "Last day of the period; empty while it is still running",
        ),
        skewed(
            "monthly_charge",
            10_000.0,
            Quarantine,
            "Recurring monthly price during the period",
        ),
        col(
            "payment_method",
            closed(PAYMENT_METHODS),
            Impute(UNKNOWN),
            "How invoices are paid",
        ),
        col(
            "paperless_billing",
            Bool,
            KeepNull,
            "Invoices are sent electronically",
        ),
    ],
    primary_key: &["account_id"],
    row_rules: &[RowRule::NotBefore {
        later: "end_date",
        earlier: "start_date",
    }],
    events: &["start_date"],
    required: true,
    references_customers: true,
};

static BILLING: SourceContract = SourceContract {
    source: Source::Billing,
    row: "one invoice and what became of its payment",
    columns: &[
        col("invoice_id", Id, Quarantine, "Invoice identifier"),
        col("customer_id", Id, Quarantine, "Customer invoiced"),
        col(
            "invoice_date",
            Date,
            Quarantine,
            "Day the invoice was issued",
        ),
        col("due_date", Date, Quarantine, "Day payment is due"),
        skewed("amount", 100_000.0, Quarantine, "Invoiced amount"),
        col(
            "paid_date",
            Date,
            KeepNull,
            "Day the invoice was paid; empty while unpaid",
        ),
        col(
            "status",
            closed(INVOICE_STATUSES),
            Quarantine,
            "paid: paid with no failed attempt; failed: the automatic collection on \
             due_date was declined (the invoice may be paid later, by hand); open: not \
             paid and no failed attempt",
        ),
    ],
    primary_key: &["invoice_id"],
    row_rules: &[
        RowRule::NotBefore {
            later: "due_date",
            earlier: "invoice_date",
        },
        RowRule::NotBefore {
            later: "paid_date",
            earlier: "invoice_date",
        },
        RowRule::PresenceWhen {
            column: "status",
            value: "paid",
            other: "paid_date",
            present: true,
        },
        RowRule::PresenceWhen {
            column: "status",
            value: "open",
            other: "paid_date",
            present: false,
        },
    ],
    events: &["invoice_date", "paid_date"],
    required: false,
    references_customers: true,
};

static SESSIONS: SourceContract = SourceContract {
    source: Source::Sessions,
    row: "one usage session",
    columns: &[
        col("customer_id", Id, Quarantine, "Customer using the product"),
        col(
            "started_at",
            Timestamp,
            Quarantine,
            "When the session started (UTC)",
        ),
        skewed(
            "duration_minutes",
            1_440.0,
            Quarantine,
            "Length of the session in minutes",
        ),
        skewed(
            "minutes_used",
            1_440.0,
            KeepNull,
            "Billable voice minutes used in the session",
        ),
        skewed(
            "data_used_mb",
            1_000_000.0,
            KeepNull,
            "Mobile data used in the session, in MB",
        ),
        col(
            "device",
            open(DEVICES),
            Impute(UNKNOWN),
            "Device of the session",
        ),
    ],
    primary_key: &["customer_id", "started_at"],
    row_rules: &[],
    events: &["started_at"],
    required: false,
    references_customers: true,
};

static TICKETS: SourceContract = SourceContract {
    source: Source::Tickets,
    row: "one support ticket",
    columns: &[
        col("ticket_id", Id, Quarantine, "Ticket identifier"),
        col("customer_id", Id, Quarantine, "Customer who raised it"),
        col(
            "opened_at",
            Timestamp,
            Quarantine,
            "When it was opened (UTC)",
        ),
        col(
            "closed_at",
            Timestamp,
            KeepNull,
            "When it was closed (UTC); empty while open",
        ),
        col(
            "category",
            closed(TICKET_CATEGORIES),
            Quarantine,
            "What the ticket is about",
        ),
        col("severity", closed(SEVERITIES), Impute(UNKNOWN), "Severity"),
        col(
            "satisfaction",
            ColumnType::Int { min: 1, max: 5 },
            KeepNull,
            "Satisfaction survey score after closing, 1 (worst) to 5",
        ),
    ],
    primary_key: &["ticket_id"],
    row_rules: &[RowRule::NotBefore {
        later: "closed_at",
        earlier: "opened_at",
    }],
    events: &["opened_at", "closed_at"],
    required: false,
    references_customers: true,
};

static CHURN_LABELS: SourceContract = SourceContract {
    source: Source::ChurnLabels,
    row: "one churn: the day a customer's last contract ended (a customer who comes back \
          and leaves again has two rows)",
    columns: &[
        col("customer_id", Id, Quarantine, "Customer who left"),
        col("churn_date", Date, Quarantine, "Last day as a customer"),
        col(
            "churn_type",
            closed(CHURN_TYPES),
            Impute(UNKNOWN),
            "voluntary (the customer left) or involuntary (cut off for non-payment)",
        ),
    ],
    primary_key: &["customer_id", "churn_date"],
    row_rules: &[],
    events: &["churn_date"],
    required: false,
    references_customers: true,
};

static EVENTS: SourceContract = SourceContract {
    source: Source::Events,
    row: "one app event, such as an app opened, a page viewed or a video played (several \
          events of one customer close together in time make one session)",
    columns: &[
        col("customer_id", Id, Quarantine, "Customer the event is about"),
        col(
            "occurred_at",
            Timestamp,
            Quarantine,
            "When it happened (UTC)",
        ),
        col("event", Text, Quarantine, "What happened: the event's name"),
        col(
            "duration_seconds",
            ColumnType::Float {
                min: 0.0,
                max: 86_400.0,
            },
            KeepNull,
            "How long it lasted, in seconds (a video played, a call); empty for an instant",
        ),
        col(
            "bytes",
            ColumnType::Float {
                min: 0.0,
                max: 1e12,
            },
            KeepNull,
            "Mobile data it used, in bytes",
        ),
        col(
            "device",
            open(DEVICES),
            Impute(UNKNOWN),
            "Device it happened on",
        ),
    ],
    // Every column: only an exact copy of an earlier event (a redelivery) is a duplicate;
    // two clicks in the same second are two events.
    primary_key: &[
        "customer_id",
        "occurred_at",
        "event",
        "duration_seconds",
        "bytes",
        "device",
    ],
    row_rules: &[],
    events: &["occurred_at"],
    required: false,
    references_customers: true,
};

/// Renders the contract as the Markdown of `docs/data-contract.md`.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str(CONTRACT_PREAMBLE);
    for source in Source::RAW {
        let contract = source.contract();
        let _ = writeln!(out, "\n## `{}`\n", source.name());
        if source == Source::Events {
            let _ = writeln!(
                out,
                "{}",
                EVENTS_PREAMBLE.replace(
                    "{gap}",
                    &crate::ingest::events::DEFAULT_SESSION_GAP_MINUTES.to_string()
                )
            );
        }
        let _ = writeln!(out, "One row is {}.", contract.row);
        let _ = writeln!(
            out,
            "Primary key: {}. {}{}\n",
            contract
                .primary_key
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(" + "),
            if contract.required {
                "Required: ingest fails without it."
            } else {
                "Optional: features that need it are empty without it."
            },
            if contract.references_customers {
                " Every `customer_id` must appear in `customers`."
            } else {
                ""
            },
        );
        out.push_str(
            "| column | type | required | allowed values | when missing | outliers | meaning |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|\n");
        for column in contract.columns {
            let missing = match column.missing {
                MissingPolicy::Quarantine => "quarantine the row".to_owned(),
                MissingPolicy::KeepNull => "keep empty, count".to_owned(),
                MissingPolicy::Impute(value) => format!("set to `{value}`, count"),
            };
            let outliers = match column.outliers {
                OutlierRule::None => "–",
                OutlierRule::LogIqr => "flag and clip (log IQR)",
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                column.name,
                column.ty.describe(),
                if column.required() { "yes" } else { "no" },
                column.ty.domain(),
                missing,
                outliers,
                column.description,
            );
        }
        let _ = writeln!(
            out,
            "\nEvents (a row with one after the reference date is quarantined as `future`): {}.",
            contract
                .events
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !contract.row_rules.is_empty() {
            out.push_str("\nRow checks (a failing row is quarantined): ");
            let rules: Vec<String> = contract.row_rules.iter().map(RowRule::describe).collect();
            out.push_str(&rules.join("; "));
            out.push_str(".\n");
        }
    }
    out
}

const EVENTS_PREAMBLE: &str = "\
Usage may arrive as raw app events instead of, or beside, sessions. The files of
`raw/events/` are read and checked like those of any source (quarantine, duplicates,
unknown customers, `future`), and then grouped into sessions: a customer's events in time
order, a new session whenever an event starts more than the inactivity gap after
everything before it ended (`churn ingest --session-gap-minutes`, {gap} by default; an
event ends `duration_seconds` after it occurred). Each session is one row of `sessions`:
`started_at` its first event, `duration_minutes` from there to the end of its last-ending
event, `data_used_mb` the sum of its `bytes` / 10⁶ (empty when none has bytes),
`minutes_used` empty, `device` the first device its events name other than `unknown`.
Those rows go through the checks of `sessions` with the rows of `raw/sessions/`, and a
session they refuse is quarantined there naming the event file and the line of its first
event. The ingest report's `events` entry balances the events (`rows_in = curated +
quarantined + duplicates`, where `curated` counts the events that went into sessions) and
counts the sessions made; each event file appears among the files of `sessions` with the
sessions that began in it. Only an exact copy of an earlier event is a duplicate.
";

const CONTRACT_PREAMBLE: &str = "\
# The raw-data contract

<!-- Generated by `churn docs contract > docs/data-contract.md` from
     crates/churn-pipeline/src/contract.rs; a test fails when the two differ. -->

Six sources describe a customer's history; raw app events (`raw/events/`, the last section)
may add to the sessions. Each lives in its own folder under `raw/` (`raw/customers/`,
`raw/accounts/`, ...) as one or many files in any mix of formats:

- **CSV** (`.csv`): UTF-8, a header row, comma-separated (`;`, tab and `|` are detected
  from the header and accepted with a warning), fields quoted with `\"` where needed.
  Lines end in `\\n` or `\\r\\n` (mixed is fine). A quoted field may hold line breaks for
  at most 100 lines and 1 MiB, closing with `\"` before a delimiter or the end of a line,
  into a row with the header's field count; otherwise the line where it opens is
  quarantined (`unclosed quote`) and reading resumes at the next line, so a stray `\"`
  costs one row, not the rest of the file.
- **JSON Lines** (`.jsonl`, `.ndjson`): one JSON object per line, keys are column names;
  a UTF-8 byte-order mark at the start is accepted.
- **Parquet** (`.parquet`): columns of any type that converts to the logical type.
- CSV and JSON Lines may be compressed: `.gz` (gzip) or `.zst` (Zstandard), such as
  `part-00001.csv.gz`, decompressed as they are read.

Every other entry of a source folder (another extension such as `.txt`, a hidden file
such as `.hidden.csv`, a sub-folder, a compressed Parquet file) is not read: it is listed
with the reason under `skipped` in the ingest report and in a warning. Column names are
matched case-insensitively, ignoring surrounding spaces. Columns beyond the contract are
ignored and listed in the ingest report. A missing optional column is treated as
all-empty; a missing required column is an error naming the file. A source whose folder
is missing, or whose files hold no rows (a header-only CSV), is empty: a warning for an
optional source, an error for a required one. An empty (0-byte) file is an error naming
it.

## What ingest does with every row

Every row read ends in exactly one place, and `reports/ingest-report.json` proves it per
source with `rows_in = curated + quarantined + duplicates`. `rows_in` counts rows as a
reader of the file would: every non-empty line after a CSV header (a row whose quoted
field holds line breaks counts once), every non-blank line of JSON Lines, every row of
Parquet. For each text file the report also counts its physical lines from the bytes,
apart from the parser, and shows where each went: `lines = header_lines + blank_lines +
rows_in + continuation_lines`. A source is `balanced` only when both hold.

- **curated** (`curated/<source>/data.parquet`): valid, normalised, typed.
- **quarantined** (`quarantine/<source>.jsonl`): one JSON object per rejected row with the
  file, line (the physical line where the row starts for CSV and JSON Lines, the 1-based
  row for Parquet), column, kind and reason, and the raw values. Reasons: a field count
  that differs from the header, an unclosed quote, bytes that are not UTF-8, a key that
  a JSON object repeats, a missing required value, a value that does not parse as its
  type, a value out of range, an event after the reference date (`future`), a value
  outside a closed category, a failed row check, a primary key that repeats an earlier
  row with different values, a `customer_id` that no row of `customers` has (`unknown
  customer`) or whose `customers` row was itself quarantined (`customer quarantined`).
- **duplicates**: a row identical to an earlier one (all contract columns equal) is
  counted and dropped.

Earlier rows win: files are read in name order, rows in file order.

Ingest runs as of a reference date (`churn ingest --reference-date`, by default the day it
runs, in UTC): an event after it, in the columns each source lists as events below, is
impossible and quarantines its row as `future`, so one date in 2099 cannot pass for the
end of the data.

Values are cleaned before they are checked: text is trimmed and an empty field is
missing; categories are normalised (trimmed, lowercased, runs of spaces, `_` and `-`
become one `-`, so `\" Month_to_Month\"` is `month-to-month`); the strings `NaN` and
`inf` are not numbers. Outliers of the heavy-tailed numeric columns are found with
Tukey's fences (k = 3) on `ln(1 + x)`, computed over the whole source: they are clipped to
the fence for modelling, the original value is kept in `<column>_original`, and the
count and fences are in the report. Nothing is deleted for being unusual.

Dates are `YYYY-MM-DD`; timestamps are UTC `YYYY-MM-DDTHH:MM:SS` (a space for `T`,
fractional seconds and a trailing `Z` are accepted). Both must lie between 1970-01-01 and
2100-12-31.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_round_trips_its_name() {
        for source in Source::RAW {
            assert_eq!(Source::from_name(source.name()), Some(source));
        }
    }

    #[test]
    fn keys_and_rule_columns_exist() {
        for source in Source::RAW {
            let contract = source.contract();
            assert_eq!(contract.source, source);
            for key in contract.primary_key {
                let column = contract.column(key).expect("key column exists");
                // A key of every column (the app events') holds exact copies only.
                let whole_row = contract.primary_key.len() == contract.columns.len();
                assert!(
                    column.required() || whole_row,
                    "{source}.{key} is a key, so required"
                );
            }
            for rule in contract.row_rules {
                let names = match rule {
                    RowRule::NotBefore { later, earlier } => [*later, *earlier],
                    RowRule::PresenceWhen { column, other, .. } => [*column, *other],
                };
                for name in names {
                    assert!(contract.column(name).is_some(), "{source}: {name}");
                }
            }
            if contract.references_customers {
                assert!(contract.column("customer_id").is_some());
            }
            for name in contract.events {
                let column = contract.column(name).expect("event column exists");
                assert!(
                    matches!(column.ty, ColumnType::Date | ColumnType::Timestamp),
                    "{source}.{name} is an event, so a date or a timestamp"
                );
            }
        }
    }

    #[test]
    fn imputed_categories_are_allowed_values() {
        for source in Source::RAW {
            for column in source.contract().columns {
                if let (MissingPolicy::Impute(value), ColumnType::Category { values, .. }) =
                    (column.missing, column.ty)
                {
                    assert!(values.contains(&value), "{source}.{}", column.name);
                }
            }
        }
    }

    #[test]
    fn category_values_are_already_normalised() {
        for source in Source::RAW {
            for column in source.contract().columns {
                if let ColumnType::Category { values, .. } = column.ty {
                    for value in values {
                        assert_eq!(churn_core::normalize_category(value), *value);
                    }
                }
            }
        }
    }

    #[test]
    fn docs_page_matches_the_contract() {
        // Compiled in: a binary reused from another clone sharing the target folder
        // must not read that clone's (or a missing) file.
        let page = include_str!("../../../docs/data-contract.md");
        assert!(
            page == render_markdown(),
            "docs/data-contract.md is out of date: run `cargo run -p churn-cli -- docs contract > docs/data-contract.md`"
        );
    }
}
