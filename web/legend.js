// legend.js — what each colour and shape on the timeline means, including
// which colour is which CPU core and what the kernel's states are. Built as
// DOM (not drawn) so it is readable by screen readers and wraps on a phone.

const ITEMS = [
  ['span sw-compute', 'compute (CPU-bound work)'],
  ['span sw-sleep', 'sleep'],
  ['span half sw-wait', 'waiting for a lock / the GIL'],
  ['span half sw-hold', 'holding a lock / the GIL'],
  ['span sw-join', 'waiting in join()'],
  ['span sw-system', 'os.system()'],
  ['span sw-zombie', 'zombie: exited, not yet joined'],
  ['line sw-alive', 'process / thread alive'],
  ['mark sw-print', 'print'],
  ['mark sw-message', 'queue / pipe message'],
  ['mark sw-value', 'shared value read/write'],
  ['mark sw-note', 'note / result'],
  ['mark sw-life', 'spawn, start, exit, fork()'],
  ['mark sw-error', 'uncaught exception (CPython)'],
  ['arrow sw-a-spawn', 'spawn → start'],
  ['arrow sw-a-join', 'exit → join returns'],
  ['arrow sw-a-message', 'put → get, send → recv'],
  ['arrow sw-a-lock', 'release → next acquire'],
];

/** The kernel's view, read from /proc/<pid>/task/<tid>/stat by the sampler. */
const KERNEL = [
  ['strip sw-k-R', 'R: running on a core (its colour, below) — or runnable, queued and waiting for that core. /proc reports both as R, so a sample cannot tell them apart.'],
  ['strip sw-k-S', 'S: asleep, waiting for something (a timer, a lock, a pipe, a child).'],
  ['strip sw-k-D', 'D: uninterruptible sleep, usually waiting for the disk; not even a signal wakes it.'],
  ['strip sw-k-Z', 'Z: zombie — the process exited, and the kernel keeps its exit status until the parent\'s join() reaps it.'],
  ['sw-thr', 'By core: one lane per CPU; a bar is a thread of the run the kernel saw in state R on that core, in the thread\'s colour (hover or tap to see which).'],
  ['line sw-contend', 'two threads R on one core at the same time: one ran, the other waited for the core.'],
];

/** @param {HTMLUListElement} ul @param {string[][]} items */
function fill(ul, items) {
  for (const [cls, text] of items) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `sw ${cls}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, text);
    ul.append(li);
  }
}

/** @param {HTMLElement} host */
export function buildLegend(host) {
  const ul = document.createElement('ul');
  ul.className = 'legend-list';
  fill(ul, ITEMS);
  const cpus = document.createElement('ul');
  cpus.className = 'legend-list legend-cpus';
  cpus.setAttribute('aria-label', 'CPU cores');
  const cpuNote = document.createElement('p');
  cpuNote.className = 'legend-note';
  cpuNote.textContent = 'The thin strip under each bar is the CPU core the thread said it was on when it emitted each event. The strip under that is the kernel\'s own view of the thread, sampled from /proc every couple of milliseconds (sample_interval_us; only changes are sent, so a state lasts until the next sample):';
  const kernelH = document.createElement('p');
  kernelH.className = 'legend-h';
  kernelH.id = 'legend-kernel';
  kernelH.textContent = 'The kernel\'s view';
  const kernel = document.createElement('ul');
  kernel.className = 'legend-list legend-kernel';
  kernel.setAttribute('aria-labelledby', 'legend-kernel');
  fill(kernel, KERNEL);
  host.replaceChildren(ul, kernelH, cpuNote, kernel, cpus);
  /** @type {string} */
  let shown = '';
  return {
    /** @param {number[]} list */
    setCpus(list) {
      const key = list.join(',');
      if (key === shown) return;
      shown = key;
      cpus.replaceChildren(...list.map((c) => {
        const li = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = `sw strip sw-cpu-${c % 8}`;
        sw.setAttribute('aria-hidden', 'true');
        li.append(sw, `CPU ${c}`);
        return li;
      }));
    },
  };
}
