// model.js — the run model's public face, for whoever wants the whole of it
// in one import: the browser tests and the benchmark load it by URL
// (/static/model.js). The page's own modules import the part they use.

export { RunModel } from './model-run.js';
export { SPAN_RULES, ARROW_RULES, fillLabel } from './model-schema.js';
export { sampleEnd, stateTime } from './model-kernel.js';
export { kernelNotes } from './kernelnotes.js';
export { lowerBound } from './sorted.js';
export { describe, fmtTime } from './format.js';

/**
 * @typedef {import('./model-run.js').FlEvent} FlEvent
 * @typedef {import('./model-run.js').Lane} Lane
 * @typedef {import('./model-run.js').Span} Span
 * @typedef {import('./model-run.js').Instant} Instant
 * @typedef {import('./model-run.js').Item} Item
 * @typedef {import('./model-run.js').Arrow} Arrow
 * @typedef {import('./model-run.js').Sample} Sample
 * @typedef {import('./model-run.js').CoreSlice} CoreSlice
 * @typedef {import('./model-run.js').Core} Core
 * @typedef {import('./kernelnotes.js').KernelNote} KernelNote
 */
