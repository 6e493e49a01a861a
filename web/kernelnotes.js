// kernelnotes.js — the sentences under the timeline where the threads' own
// events and the kernel's samples tell different stories worth a lesson: a
// thread that said it was waiting and that the kernel had asleep, a process
// that said it exited and that the kernel kept as a zombie until it was
// reaped. The model derives them (RunModel.kernelNotes); this only shows them.

import { RunModel } from './model.js';

export class KernelNotes {
  /** @param {HTMLElement} host  an empty element; the notes are built inside it */
  constructor(host) {
    this.host = host;
    host.classList.add('kernel-notes-box');
    const title = document.createElement('h3');
    title.id = 'kernel-notes-h';
    title.textContent = 'What the kernel saw';
    const intro = document.createElement('p');
    intro.textContent = 'Where the threads\' own events and the kernel\'s samples from /proc tell different stories:';
    this.list = document.createElement('ul');
    this.list.className = 'kernel-notes';
    this.list.id = 'kernel-notes';
    this.list.setAttribute('aria-labelledby', 'kernel-notes-h');
    host.append(title, intro, this.list);
    host.hidden = true;
    this.key = '';
  }

  /** Re-render only when a finished run's notes can have changed. @param {RunModel[]} runs */
  sync(runs) {
    const key = runs.map((r) => `${r.label}:${r.finished ? r.version : '-'}`).join('|');
    if (key === this.key) return;
    this.key = key;
    const items = [];
    for (const run of runs) {
      for (const n of run.kernelNotes()) {
        const li = document.createElement('li');
        li.dataset.kind = n.kind;
        li.dataset.pid = String(n.lane.pid);
        li.dataset.tid = String(n.lane.tid);
        li.textContent = `${runs.length > 1 ? `${run.label}: ` : ''}${n.text}`;
        items.push(li);
      }
    }
    this.list.replaceChildren(...items);
    this.host.hidden = items.length === 0;
  }
}
