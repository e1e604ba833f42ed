// lapis/backends: what needs Node: reading litmus files, compiling a test into an x86 guest (NASM), running it on
// QEMU or Bochs and judging what it did by the model, the suite reports (lapis-suite/1) and their explanations.
export { loadLitmus, checkFiles, type FileCheck } from '../litmus/check.js';
export { BACKENDS, BACKEND_NAMES, getBackend, type Backend, type BackendName, type Availability, type Support, type Features } from './backends.js';
export { compileTest, backendRefusal, CompileRefusal, type CompileOptions, type CompiledTest } from './compile.js';
export { conform, conformJson, formatConform, modelOutcomes, DEFAULT_RUNS, type ConformOptions, type ConformResult, type ConformRan, type Verdict, type ObservedOutcome, type ModelSummary } from './conform.js';
export { SUITE_SCHEMA, parseSuiteJson, suiteJsonText, ReportError, type SuiteJson, type TestJson, type OutcomeJson, type RefusalJson, type BackendInfo, type HostInfo } from './report.js';
export { EXPLANATIONS_SCHEMA, parseExplanations, explain, ExplanationsError, type Explanation, type Classification, type Match } from './explain.js';
export { renderConformance, type RenderInput, type Rendered } from './render.js';
export { rejudge, type RejudgeResult } from './rejudge.js';
export { junitXml, type JunitCase } from './junit.js';
