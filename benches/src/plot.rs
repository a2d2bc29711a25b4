//! A small hand-written SVG line chart: cost per placement against cluster
//! size for `scale sweep --plot`. A plotting crate would pull in font
//! rendering for one chart; the figure needs a log-scaled x axis, a linear
//! y axis, one line and labelled points, which is a page of SVG.

use std::fmt::Write as _;

/// One point of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Cluster size (nodes), on a log scale.
    pub nodes: f64,
    /// Cost per placement, microseconds.
    pub micros: f64,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// The chart as an SVG document. `title` is printed above the plot; the
/// y axis starts at zero so growth reads as a ratio of heights.
pub fn cost_per_placement_svg(title: &str, points: &[Point]) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let usable: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.nodes > 0.0 && p.micros.is_finite() && p.micros >= 0.0)
        .collect();
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    if usable.is_empty() {
        svg.push_str("</svg>\n");
        return svg;
    }
    let min_x = usable
        .iter()
        .map(|p| p.nodes)
        .fold(f64::MAX, f64::min)
        .log10();
    let max_x = usable.iter().map(|p| p.nodes).fold(0.0, f64::max).log10();
    let span_x = if max_x > min_x { max_x - min_x } else { 1.0 };
    let max_y = nice_ceiling(usable.iter().map(|p| p.micros).fold(0.0, f64::max));
    let x_of = |nodes: f64| LEFT + (nodes.log10() - min_x) / span_x * plot_w;
    let y_of = |micros: f64| TOP + plot_h - micros / max_y * plot_h;

    // Horizontal grid lines and y labels: five steps from zero.
    for step in 0..=5 {
        let value = max_y * f64::from(step) / 5.0;
        let y = y_of(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            y + 4.0,
            trim(value)
        );
    }
    // One x tick per measured size.
    for point in &usable {
        let x = x_of(point.nodes);
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="black"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h,
            TOP + plot_h + 5.0,
            TOP + plot_h + 20.0,
            thousands(point.nodes)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">nodes (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="20" y="{:.1}" text-anchor="middle" transform="rotate(-90 20 {:.1})">µs per placement</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    let path: Vec<String> = usable
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.nodes), y_of(p.micros)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2"/>"##,
        path.join(" ")
    );
    for point in &usable {
        let (x, y) = (x_of(point.nodes), y_of(point.micros));
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#1f6feb"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{:.1}</text>"##,
            y - 10.0,
            point.micros
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest of 1, 2, 5 x 10^k at or above `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    let mut scale = 1.0;
    loop {
        for step in [1.0, 2.0, 5.0] {
            if step * scale >= value {
                return step * scale;
            }
        }
        scale *= 10.0;
    }
}

fn trim(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn thousands(nodes: f64) -> String {
    if nodes >= 1_000.0 && (nodes / 1_000.0).fract() == 0.0 {
        format!("{}k", nodes / 1_000.0)
    } else {
        format!("{nodes:.0}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<Point> {
        vec![
            Point {
                nodes: 1_000.0,
                micros: 30.0,
            },
            Point {
                nodes: 10_000.0,
                micros: 60.0,
            },
            Point {
                nodes: 100_000.0,
                micros: 90.0,
            },
        ]
    }

    #[test]
    fn the_chart_has_a_line_through_every_point_and_labels() {
        let svg = cost_per_placement_svg("sweep <c1m shape>", &points());
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("sweep &lt;c1m shape&gt;"));
        assert_eq!(svg.matches("<circle").count(), 3);
        for label in ["1k", "10k", "100k", "30.0", "60.0", "90.0"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
    }

    #[test]
    fn sizes_are_on_a_log_scale_and_costs_on_a_linear_one() {
        let svg = cost_per_placement_svg("t", &points());
        let line = svg
            .lines()
            .find(|l| l.starts_with("<polyline"))
            .expect("a line");
        let coords: Vec<(f64, f64)> = line
            .split('"')
            .nth(1)
            .expect("points")
            .split(' ')
            .map(|pair| {
                let (x, y) = pair.split_once(',').expect("x,y");
                (x.parse().expect("x"), y.parse().expect("y"))
            })
            .collect();
        // 1k -> 10k and 10k -> 100k are the same distance on a log axis.
        let (d1, d2) = (coords[1].0 - coords[0].0, coords[2].0 - coords[1].0);
        assert!((d1 - d2).abs() < 0.2, "{d1} {d2}");
        // 30 -> 60 and 60 -> 90 µs are the same height on a linear axis.
        let (h1, h2) = (coords[0].1 - coords[1].1, coords[1].1 - coords[2].1);
        assert!((h1 - h2).abs() < 0.2 && h1 > 0.0, "{h1} {h2}");
    }

    #[test]
    fn no_points_still_gives_a_valid_document() {
        let svg = cost_per_placement_svg("empty", &[]);
        assert!(svg.contains("</svg>"));
        assert!(!svg.contains("<polyline"));
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(93.0), 100.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
    }
}
