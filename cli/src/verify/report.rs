//! The verdict of a run, as a table or one JSON object.

use serde::Serialize;

use super::check::Figures;

/// Everything a run found.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) topic: String,
    pub(crate) run: String,
    pub(crate) partitions: u32,
    pub(crate) producers: u32,
    /// The records were produced by an earlier run (`--check-only`).
    pub(crate) check_only: bool,
    pub(crate) sent: u64,
    pub(crate) acknowledged: u64,
    /// Deliveries the SDK gave up on (outcome unknown).
    pub(crate) failed: u64,
    /// SIGKILLs of the `--dev` child while producing.
    pub(crate) kills: u64,
    pub(crate) produce_seconds: f64,
    /// Producers that stopped early, and why.
    pub(crate) errors: Vec<String>,
    pub(crate) plain: Reader,
    pub(crate) group: Option<Reader>,
    pub(crate) ok: bool,
}

/// A line of the table: its name and the figure it shows.
type Row = (&'static str, fn(&Figures) -> u64);

/// One reader's figures.
#[derive(Debug, Serialize)]
pub(crate) struct Reader {
    #[serde(flatten)]
    pub(crate) figures: Figures,
    /// It stopped at --timeout before the ends; what it missed counts.
    pub(crate) timed_out: bool,
}

impl Report {
    /// Sets `ok`: every reader clean and done, every producer through, and
    /// something acknowledged to check.
    pub(crate) fn judge(&mut self) {
        let clean = |r: &Reader| r.figures.ok() && !r.timed_out;
        self.ok = self.acknowledged > 0
            && self.errors.is_empty()
            && clean(&self.plain)
            && self.group.as_ref().is_none_or(clean);
    }

    /// What failed, in one line.
    pub(crate) fn failures(&self) -> String {
        let mut failures = Vec::new();
        if self.acknowledged == 0 {
            failures.push("nothing was acknowledged".to_owned());
        }
        if !self.errors.is_empty() {
            failures.push(format!("{} producers stopped early", self.errors.len()));
        }
        for (name, reader) in self.readers() {
            let f = &reader.figures;
            for (what, n) in [
                ("lost", f.lost),
                ("duplicated", f.duplicated),
                ("reordered", f.reordered),
                ("gaps", f.gaps),
                ("misplaced", f.misplaced),
            ] {
                if n > 0 {
                    failures.push(format!("{name} reader: {n} {what}"));
                }
            }
            if reader.timed_out {
                failures.push(format!("{name} reader: timed out"));
            }
        }
        failures.join(", ")
    }

    fn readers(&self) -> Vec<(&'static str, &Reader)> {
        let mut readers = vec![("plain", &self.plain)];
        if let Some(group) = &self.group {
            readers.push(("group", group));
        }
        readers
    }

    pub(crate) fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(self)?);
            return Ok(());
        }
        println!(
            "verify {}: run {}, {} partitions, {} producers, {} kills{}",
            self.topic,
            self.run,
            self.partitions,
            self.producers,
            self.kills,
            if self.check_only { ", check only" } else { "" },
        );
        println!("{:<24} {:>12}", "sent", self.sent);
        println!("{:<24} {:>12}", "acknowledged", self.acknowledged);
        println!("{:<24} {:>12}", "failed deliveries", self.failed);
        println!("{:<24} {:>12.1}", "produce seconds", self.produce_seconds);
        for error in &self.errors {
            println!("  {error}");
        }
        let readers = self.readers();
        print!("{:<24}", "");
        for (name, _) in &readers {
            print!(" {name:>12}");
        }
        println!();
        let rows: [Row; 8] = [
            ("read", |f| f.read),
            ("lost", |f| f.lost),
            ("duplicated", |f| f.duplicated),
            ("reordered", |f| f.reordered),
            ("gaps", |f| f.gaps),
            ("misplaced", |f| f.misplaced),
            ("unacknowledged present", |f| f.unacknowledged_present),
            ("foreign", |f| f.foreign),
        ];
        for (name, figure) in rows {
            print!("{name:<24}");
            for (_, reader) in &readers {
                print!(" {:>12}", figure(&reader.figures));
            }
            println!();
        }
        if self.ok {
            println!("ok");
        } else {
            println!("FAILED: {}", self.failures());
        }
        Ok(())
    }
}
