// activity.js — when a run's lesson actually happened, so the timeline's Fit
// frames that and not the machinery around it. A run's clock starts before
// the runner is ready, and its end waits for the kernel sampler to stop and
// for the server to reap everything: on a short demo (queue, fork, pipe) those
// tails are most of the run, and fitting the whole run squashed the lesson
// into a few pixels. CPython's own start-up (importing multiprocessing) is a
// tail of the same kind: one `proc.start`, then tens of milliseconds of nothing.
// Kept free of the DOM, so the rule can be read (and tested) on its own.

/** @typedef {import('./model/run.js').FlEvent} FlEvent */

/** The runner's note on what the kernel sampler cost (docs/events.md): forkline's machinery, not the lesson. */
const SAMPLER_NOTE = /^sampler \(pid \d+, not part of the demo\)/;
/** Lifecycle events: a lone one at either end, far from the rest, is start-up or teardown. */
const LIFECYCLE = new Set(['proc.start', 'proc.exit', 'thread.start', 'thread.exit']);
/** A lone edge event is a tail when its gap to the rest is more than this share of the rest's span. */
const TAIL = 0.5;

/**
 * Whether an event is the lesson's own: on a process or thread lane, said by
 * the program (not a kernel sample, not the runner's run-level events, not
 * the sampler's cost note).
 * @param {FlEvent} e  @param {(e:FlEvent)=>boolean} [runLevel]  the run's test for its runner's events
 */
export function isLessonEvent(e, runLevel = () => false) {
  if (e.kind === 'run.start' || e.kind === 'run.end' || e.kind === 'kernel.sample') return false;
  if (e.kind === 'note' && SAMPLER_NOTE.test(String(e.text ?? ''))) return false;
  return !runLevel(e);
}

/**
 * The stretch of time the lesson's events cover: from the first to the last,
 * less a lone lifecycle event at either end that sits further from the rest
 * than half the rest's span (a start-up or teardown tail).
 * @param {FlEvent[]} byTime  the run's events sorted by time
 * @param {(e:FlEvent)=>boolean} [runLevel]
 * @returns {{t0:number, t1:number}|null}  null when the run has no lesson event yet
 */
export function activityRange(byTime, runLevel) {
  /** @type {FlEvent[]} */
  const evs = byTime.filter((e) => isLessonEvent(e, runLevel));
  if (!evs.length) return null;
  let a = 0, b = evs.length - 1;
  // Four events at least, so two events alone are never called a tail.
  if (b - a >= 3 && LIFECYCLE.has(evs[a].kind) && evs[a + 1].t - evs[a].t > (evs[b].t - evs[a + 1].t) * TAIL) a++;
  if (b - a >= 3 && LIFECYCLE.has(evs[b].kind) && evs[b].t - evs[b - 1].t > (evs[b - 1].t - evs[a].t) * TAIL) b--;
  return { t0: evs[a].t, t1: evs[b].t };
}
