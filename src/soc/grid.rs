//! The one table model every fleet security command produces ([`Grid`]: typed columns,
//! rows of JSON values, per-tenant failures) and its renderers: an aligned terminal table,
//! CSV (RFC 4180), JSON lines, Markdown and one JSON document. Rendering is pure: data in,
//! text out; the CLI writes it.
//!
//! Ordering contract: rows are rendered in the order the model holds them (the producers
//! sort them, tenant first, so output is byte-identical whatever order tenants answered
//! in); failures are sorted by tenant name.

use serde::Serialize;
use serde_json::{Map, Value};

/// One column: its name and the type Graph reported (`String`, `Int64`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type name (Kusto's, as `runHuntingQuery` reports them; `String` when unknown).
    #[serde(rename = "type")]
    pub ty: String,
}

impl Column {
    /// A column of type `ty`.
    pub fn new(name: impl Into<String>, ty: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
        }
    }
}

/// A tenant that gave no rows, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantFailure {
    /// Tenant name (from the profile).
    pub tenant: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The application permission to consent, when that is the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_permission: Option<String>,
    /// What happened (no secrets: Graph's message and the request path only).
    pub message: String,
}

/// A table with a per-tenant failure list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Grid {
    /// Columns, in order (the tenant columns first).
    pub columns: Vec<Column>,
    /// Rows; each has one value per column, in column order.
    pub rows: Vec<Vec<Value>>,
    /// Tenants that failed, sorted by name.
    pub failures: Vec<TenantFailure>,
    /// Notes about the data (for example a tenant whose result hit the row cap).
    pub notes: Vec<String>,
}

/// The output formats of the fleet security commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GridFormat {
    /// An aligned table (the default on a terminal).
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// One JSON document: columns, rows, failures.
    Json,
    /// A Markdown table.
    Markdown,
}

/// Renders `grid` in `format`. Failures are part of `Table`, `Markdown` and `Json` output;
/// `Csv` and `Jsonl` carry rows only (the CLI reports failures on stderr), so a pipeline
/// reading them never has to skip non-data lines.
pub fn render(grid: &Grid, format: GridFormat) -> String {
    match format {
        GridFormat::Table => table(grid),
        GridFormat::Csv => csv(grid),
        GridFormat::Jsonl => jsonl(grid),
        GridFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json_doc(grid)).unwrap_or_default();
            s.push('\n');
            s
        }
        GridFormat::Markdown => markdown(grid),
    }
}

/// One cell as text: strings bare, null empty, everything else as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn row_object(grid: &Grid, row: &[Value]) -> Map<String, Value> {
    grid.columns
        .iter()
        .zip(row)
        .map(|(c, v)| (c.name.clone(), v.clone()))
        .collect()
}

/// The `Json` format's document: `columns`, `rows` (objects keyed by column), `failures`,
/// `notes`.
pub fn json_doc(grid: &Grid) -> Value {
    serde_json::json!({
        "columns": grid.columns,
        "rows": grid.rows.iter().map(|r| Value::Object(row_object(grid, r))).collect::<Vec<_>>(),
        "failures": grid.failures,
        "notes": grid.notes,
    })
}

fn jsonl(grid: &Grid) -> String {
    let mut out = String::new();
    for r in &grid.rows {
        out.push_str(&Value::Object(row_object(grid, r)).to_string());
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(grid: &Grid) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    out.push_str(&line(grid.columns.iter().map(|c| c.name.clone()).collect()));
    out.push_str("\r\n");
    for r in &grid.rows {
        out.push_str(&line(r.iter().map(cell).collect()));
        out.push_str("\r\n");
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn failures_text(grid: &Grid, out: &mut String) {
    for f in &grid.failures {
        out.push_str(&format!(
            "  {} ({}): {}\n",
            f.tenant, f.tenant_id, f.message
        ));
    }
}

fn table(grid: &Grid) -> String {
    let cells: Vec<Vec<String>> = grid
        .rows
        .iter()
        .map(|r| r.iter().map(|v| one_line(&cell(v))).collect())
        .collect();
    let mut widths: Vec<usize> = grid
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .collect();
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric: Vec<bool> = grid
        .columns
        .iter()
        .map(|c| {
            matches!(
                c.ty.as_str(),
                "Int64" | "Int32" | "Double" | "Decimal" | "Long" | "Int"
            )
        })
        .collect();
    let fmt_row = |r: &[String]| -> String {
        let parts: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    let header: Vec<String> = grid.columns.iter().map(|c| c.name.clone()).collect();
    out.push_str(&fmt_row(&header));
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.push('\n');
    for r in &cells {
        out.push_str(&fmt_row(r));
        out.push('\n');
    }
    out.push_str(&summary(grid));
    out
}

/// The closing sentence: rows, tenants answering, tenants failed.
pub fn summary(grid: &Grid) -> String {
    let mut out = String::new();
    if !grid.failures.is_empty() {
        out.push_str(&format!("\n{} tenant(s) failed:\n", grid.failures.len()));
        failures_text(grid, &mut out);
    }
    for n in &grid.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&format!(
        "\n{} row(s); {} tenant(s) failed.\n",
        grid.rows.len(),
        grid.failures.len()
    ));
    out
}

fn md_cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

fn markdown(grid: &Grid) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        grid.columns
            .iter()
            .map(|c| md_cell(&c.name))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!(
        "|{}|\n",
        grid.columns
            .iter()
            .map(|c| if c.ty == "Int64" { " ---: " } else { " --- " })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in &grid.rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter()
                .map(|v| md_cell(&cell(v)))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    if !grid.failures.is_empty() {
        out.push_str("\n**Failed tenants**\n\n");
        for f in &grid.failures {
            out.push_str(&format!(
                "- {} (`{}`): {}\n",
                md_cell(&f.tenant),
                f.tenant_id,
                md_cell(&f.message)
            ));
        }
    }
    for n in &grid.notes {
        out.push_str(&format!("\n> {}\n", md_cell(n)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grid() -> Grid {
        Grid {
            columns: vec![
                Column::new("Tenant", "String"),
                Column::new("Title", "String"),
                Column::new("Count", "Int64"),
            ],
            rows: vec![
                vec![json!("alpha"), json!("a, \"quoted\" | pipe"), json!(12)],
                vec![json!("bravo"), Value::Null, json!(3)],
            ],
            failures: vec![TenantFailure {
                tenant: "charlie".into(),
                tenant_id: "c".into(),
                missing_permission: Some("ThreatHunting.Read.All".into()),
                message: "needs ThreatHunting.Read.All".into(),
            }],
            notes: vec![],
        }
    }

    #[test]
    fn csv_quotes_and_jsonl_keeps_types() {
        let g = grid();
        assert_eq!(
            render(&g, GridFormat::Csv),
            "Tenant,Title,Count\r\nalpha,\"a, \"\"quoted\"\" | pipe\",12\r\nbravo,,3\r\n"
        );
        let lines: Vec<Value> = render(&g, GridFormat::Jsonl)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["Count"], json!(12));
        assert_eq!(lines[1]["Title"], Value::Null);
    }

    #[test]
    fn table_and_markdown_show_failures() {
        let g = grid();
        let t = render(&g, GridFormat::Table);
        assert!(t.starts_with("Tenant  Title               Count\n------  ------------------  -----\nalpha   a, \"quoted\" | pipe     12\n"), "{t}");
        assert!(t.contains("charlie (c): needs ThreatHunting.Read.All"));
        assert!(t.ends_with("2 row(s); 1 tenant(s) failed.\n"));
        let m = render(&g, GridFormat::Markdown);
        assert!(m.contains("a, \"quoted\" \\| pipe"));
        assert!(m.contains("| --- | --- | ---: |"));
    }
}
