//! PNG plots of a run: acknowledgement latency over time (p50 and p99 per
//! second) and the latency distribution, one pair per phase.
//!
//! Text needs a TrueType font; DejaVu Sans (Debian `fonts-dejavu-core`,
//! installed by scripts/install-bench-peers) is used when present.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::runner::PhaseResult;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a font for plot text once; false when none is installed.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let Some(bytes) = FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()) else {
            return false;
        };
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
}

/// Draws `phase` to `<dir>/<stem>.png`; returns the path.
pub fn plot_phase(
    dir: &Path,
    stem: &str,
    title: &str,
    phase: &PhaseResult,
) -> anyhow::Result<PathBuf> {
    if !font_ready() {
        anyhow::bail!(
            "no TrueType font for plot labels (looked for {}); install fonts-dejavu-core",
            FONT_PATHS.join(", ")
        );
    }
    let path = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&path, (1200, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(700);
        draw_timeline(&left, title, phase)?;
        draw_histogram(&right, phase)?;
        root.present()?;
    }
    Ok(path)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_timeline(area: &Area<'_>, title: &str, phase: &PhaseResult) -> anyhow::Result<()> {
    let points: Vec<_> = phase.timeline.iter().filter(|s| s.acked > 0).collect();
    let t_min = points.first().map_or(0, |s| s.t);
    let t_max = points.last().map_or(1, |s| s.t).max(t_min + 1);
    let y_max = points.iter().map(|s| s.ack_p99_ms).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{title}: ack latency per second"),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(t_min..t_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("seconds since measurement start (negative: warm-up)")
        .y_desc("ms")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|s| (s.t, s.ack_p50_ms)),
            &BLUE,
        ))?
        .label("p50")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|s| (s.t, s.ack_p99_ms)),
            &RED,
        ))?
        .label("p99")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw_histogram(area: &Area<'_>, phase: &PhaseResult) -> anyhow::Result<()> {
    let Some(h) = &phase.ack_histogram else {
        return Ok(());
    };
    // Buckets of 1/40 of the p99.9 range, in ms.
    let top_ms = (h.value_at_quantile(0.999) as f64 / 1000.0).max(1.0);
    let width = top_ms / 40.0;
    let mut counts = vec![0u64; 41];
    for v in h.iter_recorded() {
        let ms = v.value_iterated_to() as f64 / 1000.0;
        let bucket = ((ms / width) as usize).min(40);
        counts[bucket] += v.count_since_last_iteration();
    }
    let y_max = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "ack latency distribution (measured part)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..top_ms + width, 0u64..y_max + y_max / 10)?;
    chart
        .configure_mesh()
        .x_desc("ms (last bar: p99.9 and beyond)")
        .y_desc("acks")
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let x0 = i as f64 * width;
        Rectangle::new([(x0, 0), (x0 + width, c)], BLUE.mix(0.6).filled())
    }))?;
    Ok(())
}
