// legend.js — what each colour and shape on the timeline means, including
// which colour is which CPU core. Built as DOM (not drawn) so it is readable
// by screen readers and wraps on a phone.

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
  ['arrow sw-a-spawn', 'spawn → start'],
  ['arrow sw-a-join', 'exit → join returns'],
  ['arrow sw-a-message', 'put → get, send → recv'],
  ['arrow sw-a-lock', 'release → next acquire'],
];

/** @param {HTMLElement} host */
export function buildLegend(host) {
  const ul = document.createElement('ul');
  ul.className = 'legend-list';
  for (const [cls, text] of ITEMS) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `sw ${cls}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, text);
    ul.append(li);
  }
  const cpus = document.createElement('ul');
  cpus.className = 'legend-list legend-cpus';
  cpus.setAttribute('aria-label', 'CPU cores');
  const cpuNote = document.createElement('p');
  cpuNote.className = 'legend-note';
  cpuNote.textContent = 'The thin strip under each bar is the CPU core it ran on; a hairline below it, where a demo samples the kernel, is the thread\'s state (running: its core\'s colour; sleeping: grey).';
  host.replaceChildren(ul, cpuNote, cpus);
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
      cpuNote.hidden = list.length === 0;
    },
  };
}
