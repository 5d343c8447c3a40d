//! Message and task templates: text with `{placeholder}`s (`{{` and `}}` for braces),
//! checked when the playbook is validated and filled in when a day is planned.

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("customer_id", "the customer's identifier"),
    (
        "offer_code",
        "a code unique to this customer, action and day (SAVE-XXXXXXXX)",
    ),
    ("discount_percent", "the discount in percent"),
    ("discount_months", "how many months the discount lasts"),
    ("discount_amount", "the discount's total value"),
    ("currency", "the playbook's currency"),
    ("monthly_charge", "the customer's monthly charge"),
    ("tier", "the risk tier"),
    ("churn_percent", "the churn probability in percent"),
    (
        "reasons",
        "the top reasons for the score (for tasks, not for customers)",
    ),
    ("due_date", "the day a task is due"),
];

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Some(at) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        out.push(Piece::Text(&rest[..at]));
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a '}' without its '{' (write '}}' for a brace)".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err("a '{' is not closed (write '{{' for a brace)".into());
            };
            out.push(Piece::Placeholder(tail[1..end].trim()));
            rest = &tail[end + 1..];
        }
    }
    Ok(out)
}

/// Checks a template: braces balanced, every placeholder known.
pub(crate) fn check(template: &str) -> Result<(), String> {
    for piece in pieces(template)? {
        if let Piece::Placeholder(name) = piece
            && !PLACEHOLDERS.iter().any(|(known, _)| *known == name)
        {
            let known: Vec<&str> = PLACEHOLDERS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown placeholder {{{name}}} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fills a checked template in; `value` gives each placeholder's text.
pub(crate) fn render(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    // A template that fails the check is rendered as it is (validation refuses it first).
    let Ok(pieces) = pieces(template) else {
        return template.to_owned();
    };
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder(name) => out.push_str(&value(name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_escapes_braces() {
        let text = "Hi {customer_id}, take {{ {discount_percent}% }} with { offer_code }";
        assert_eq!(check(text), Ok(()));
        let out = render(text, |name| format!("<{name}>"));
        assert_eq!(
            out,
            "Hi <customer_id>, take { <discount_percent>% } with <offer_code>"
        );
    }

    #[test]
    fn refuses_unknown_placeholders_and_stray_braces() {
        assert!(
            check("Hi {first_name}")
                .expect_err("refused")
                .contains("unknown placeholder {first_name}")
        );
        assert!(
            check("Hi {customer_id")
                .expect_err("refused")
                .contains("not closed")
        );
        assert!(check("Hi }").expect_err("refused").contains("without its"));
    }
}
