//! Reports (DESIGN.md, "Report"): the `airlock.report/1` data that `build`, `fuzz` and `vet`
//! fill, and its renderings.
//!
//! Two layers, pointing one way: the model (`model`, with the fuzz section in
//! `fuzz_section`) knows only the event vocabulary; `build` and `fuzz` import the model to
//! fill it; the renderers (`render`: JSON, Markdown, SARIF, HTML) read the model and nothing
//! else. Renderers only present: verdicts are decided by the command that made the report.

mod fuzz_section;
mod model;
mod render;

pub use fuzz_section::{Finding, Frame, FuzzSection, Instrumentation, TargetResult};
pub use model::{
    BuildScript, CrateReport, Directive, Environment, FuzzReport, Granted, Provenance, Report,
    ReportError, ScriptStatus, Summary, Verdict, SCHEMA,
};
pub use render::Format;
