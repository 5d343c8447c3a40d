//! Progress bars on the terminal (hidden when stderr is not one).

use std::sync::Mutex;

use churn_pipeline::progress::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Shows each step as a bar, or a spinner when its size is unknown.
#[derive(Debug)]
pub struct Bars {
    hidden: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(hidden: bool) -> Self {
        Self {
            hidden,
            current: Mutex::new(None),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.current.lock()
            && let Some(bar) = guard.as_ref()
        {
            f(bar);
        }
    }
}

impl Progress for Bars {
    fn begin(&self, step: &str, total: Option<u64>, unit: &'static str) {
        if self.hidden {
            return;
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix:>10}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template(&format!("{{prefix:>10}} {{spinner}} {{human_pos}} {unit} {{msg}}"))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(step.to_owned());
        if total.is_none() {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        if let Ok(mut guard) = self.current.lock() {
            *guard = Some(bar);
        }
    }

    fn advance(&self, delta: u64) {
        self.with_bar(|bar| bar.inc(delta));
    }

    fn end(&self) {
        if let Ok(mut guard) = self.current.lock()
            && let Some(bar) = guard.take()
        {
            bar.finish_and_clear();
        }
    }
}
