//! The output: a table (one row for the scenario, one for the baseline) and, as the last line,
//! one JSON object `{"scenario", "rps", "p50_us", "p99_us", "errors", "baseline_rps", "ratio"}`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::driver::Outcome;
use crate::options::Scenario;

/// One measured server.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    /// Successful calls per second of the measured window.
    pub rps: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub errors: u64,
}

impl Row {
    pub(crate) fn new(label: impl Into<String>, outcome: &Outcome, duration: Duration) -> Self {
        let micros = |q: f64| (outcome.latencies.quantile(q) + 500) / 1000;
        Self {
            label: label.into(),
            rps: outcome.latencies.len() as f64 / duration.as_secs_f64().max(f64::EPSILON),
            p50_us: micros(0.5),
            p90_us: micros(0.9),
            p99_us: micros(0.99),
            p999_us: micros(0.999),
            errors: outcome.error_count(),
        }
    }
}

/// A run's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub scenario: Scenario,
    /// What was driven, how hard and for how long.
    pub setup: String,
    pub measured: Row,
    pub baseline: Option<Row>,
}

impl Report {
    /// `rps / baseline_rps`, when there is a baseline that answered.
    pub fn ratio(&self) -> Option<f64> {
        let baseline = self.baseline.as_ref()?;
        (baseline.rps > 0.0).then(|| self.measured.rps / baseline.rps)
    }

    /// The summary line.
    pub fn json(&self) -> serde_json::Value {
        let round = |value: f64, places: i32| {
            let scale = 10f64.powi(places);
            (value * scale).round() / scale
        };
        serde_json::json!({
            "scenario": self.scenario.name(),
            "rps": round(self.measured.rps, 1),
            "p50_us": self.measured.p50_us,
            "p99_us": self.measured.p99_us,
            "errors": self.measured.errors,
            "baseline_rps": self.baseline.as_ref().map(|b| round(b.rps, 1)),
            "ratio": self.ratio().map(|r| round(r, 3)),
        })
    }

    /// The table, then the JSON line last.
    pub fn render(&self) -> String {
        let mut out = format!("# {}\n", self.setup);
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "scenario", "rps", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "errors"
        );
        for row in std::iter::once(&self.measured).chain(&self.baseline) {
            let _ = writeln!(
                out,
                "{:<24} {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>8}",
                row.label, row.rps, row.p50_us, row.p90_us, row.p99_us, row.p999_us, row.errors
            );
        }
        if let Some(ratio) = self.ratio() {
            let _ = writeln!(out, "ratio {ratio:.3} of the baseline's throughput");
        }
        out.push_str(&self.json().to_string());
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, rps: f64) -> Row {
        Row { label: label.into(), rps, p50_us: 100, p90_us: 200, p99_us: 300, p999_us: 400, errors: 0 }
    }

    #[test]
    fn the_last_line_is_the_json_summary() {
        let mut report = Report {
            scenario: Scenario::GetUser,
            setup: "test".into(),
            measured: row("get-user", 1234.56),
            baseline: Some(row("baseline", 5000.0)),
        };
        let rendered = report.render();
        let last: serde_json::Value = serde_json::from_str(rendered.lines().last().unwrap()).unwrap();
        assert_eq!(
            last,
            serde_json::json!({"scenario": "get-user", "rps": 1234.6, "p50_us": 100, "p99_us": 300, "errors": 0,
                               "baseline_rps": 5000.0, "ratio": 0.247})
        );
        let keys: Vec<_> = last.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["scenario", "rps", "p50_us", "p99_us", "errors", "baseline_rps", "ratio"]);

        report.baseline = None;
        let last: serde_json::Value = serde_json::from_str(report.render().lines().last().unwrap()).unwrap();
        assert!(last["baseline_rps"].is_null() && last["ratio"].is_null());
    }
}
