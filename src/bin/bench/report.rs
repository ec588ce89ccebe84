//! The benchmark's rows: one measurement each, with its goal and PASS/MISS, printed as a
//! Markdown table and written as JSON (`bench/results/latest.json`).

use serde::Serialize;

use crate::{Opts, support::Res};

#[derive(Serialize, Clone)]
pub struct Row {
    id: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    goal: String,
    pass: Option<bool>,
    note: String,
}

pub fn row(
    id: &'static str,
    name: &str,
    value: f64,
    unit: &'static str,
    goal: &str,
    pass: Option<bool>,
    note: String,
) -> Row {
    Row {
        id,
        name: name.into(),
        value,
        unit,
        goal: goal.into(),
        pass,
        note,
    }
}

pub fn print_table(rows: &[Row], quick: bool) {
    println!();
    if quick {
        println!("(quick smoke run on a debug build: the figures below are not measurements)");
    }
    println!("| # | measurement | value | goal | result | notes |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let result = match r.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        let value = if r.unit == "ratio" {
            format!("{:.3}", r.value)
        } else if r.value.fract() == 0.0 || r.value >= 100.0 {
            format!("{:.0} {}", r.value, r.unit)
        } else {
            format!("{:.2} {}", r.value, r.unit)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.id, r.name, value, r.goal, result, r.note
        );
    }
}

pub fn write_json(rows: &[Row], o: &Opts) -> Res<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or_default().trim().to_string())
        })
        .unwrap_or_default();
    let doc = serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "quick": o.quick,
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "cpu": cpu },
        "rows": rows,
    });
    if let Some(parent) = o.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        &o.out,
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    eprintln!("wrote {}", o.out.display());
    Ok(())
}
