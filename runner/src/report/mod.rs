//! Reports (docs/report-schema.md): the `airlock.report/1` data that `build`, `fuzz` and `vet`
//! fill, and its renderings.
//!
//! Two layers, pointing one way: the model (`model`, with the fuzz section in
//! `fuzz_section` and vet's sections in `vet_section`) knows only the event vocabulary and the
//! inventory's types; `build` and `fuzz` import the model to
//! fill it; the renderers (`render`: JSON, Markdown, SARIF, HTML) read the model and nothing
//! else. Renderers only present: verdicts are decided by the command that made the report.
//! Joining reports of the same schema (`report merge`) decides the verdict again with `vet`'s
//! rule, so it lives in `vet::merge`.

mod diff_section;
mod fuzz_section;
mod judgement;
mod model;
mod render;
mod vet_section;

pub use diff_section::{DiffFinding, VetDiff};
pub use fuzz_section::{Finding, Frame, FuzzSection, Instrumentation, TargetResult};
pub use model::{
    BuildScript, CrateReport, Directive, Environment, FuzzReport, Granted, Report, ReportError,
    ScriptStatus, Summary, TestRun, Verdict, SCHEMA,
};
pub use render::Format;
pub use vet_section::{
    Code, Level, Neighbour, PhaseRecord, PhaseStatus, Provenance, Reason, Signal, TypoRule,
    VetPhase, VetRequest, VetSections, VetVerdict, VettedCrate, WorkspaceScope,
};
