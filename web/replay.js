// replay.js — the scrubber and play/pause for a finished run. It owns only
// the cursor time; the app's frame loop asks it to advance and hands the
// cursor to the timeline, console and source panel so they all follow it.

const SPEEDS = [0.25, 0.5, 1, 2, 4];
const STEPS = 1000; // scrubber resolution: fine enough, and keyboard steps stay meaningful

export class Replay {
  /** @param {HTMLElement} host @param {{onChange:()=>void}} opts */
  constructor(host, opts) {
    this.onChange = opts.onChange;
    this.end = 0;
    /** @type {number|null} null until someone scrubs or plays: everything shown, nothing highlighted */
    this.cursor = null;
    this.playing = false;
    this.speed = 1;
    host.replaceChildren();
    this.play = document.createElement('button');
    this.play.type = 'button';
    this.play.className = 'btn btn-icon';
    this.play.textContent = '▶ Play';
    this.play.setAttribute('aria-pressed', 'false');
    this.range = document.createElement('input');
    this.range.type = 'range';
    this.range.min = '0';
    this.range.max = String(STEPS);
    this.range.value = String(STEPS);
    this.range.setAttribute('aria-label', 'Replay position');
    this.speedSel = document.createElement('select');
    this.speedSel.setAttribute('aria-label', 'Replay speed');
    for (const s of SPEEDS) {
      const o = document.createElement('option');
      o.value = String(s);
      o.textContent = `${s}×`;
      this.speedSel.append(o);
    }
    this.speedSel.value = '1';
    this.time = document.createElement('output');
    this.time.className = 'replay-time';
    host.append(this.play, this.range, this.speedSel, this.time);
    this.host = host;
    this.setEnabled(false);

    this.play.addEventListener('click', () => this.toggle());
    this.range.addEventListener('input', () => {
      this.playing = false;
      const v = Number(this.range.value);
      this.cursor = (v / STEPS) * this.end;
      this._ui();
      this.onChange();
    });
    this.speedSel.addEventListener('change', () => { this.speed = Number(this.speedSel.value); });
  }

  /** @param {boolean} on */
  setEnabled(on) {
    this.host.classList.toggle('disabled', !on);
    this.play.disabled = !on;
    this.range.disabled = !on;
    this.speedSel.disabled = !on;
    if (!on) { this.playing = false; this.cursor = null; }
    this._ui();
  }

  /** A run finished: scrub over [0, end]. @param {number} end */
  setEnd(end) {
    this.end = end;
    this.setEnabled(end > 0);
  }

  toggle() {
    if (this.range.disabled) return;
    this.playing = !this.playing;
    if (this.playing && (this.cursor === null || this.cursor >= this.end)) this.cursor = 0;
    this._ui();
    this.onChange();
  }

  /** Advance while playing; the app calls it once per frame. @param {number} dtMs */
  tick(dtMs) {
    if (!this.playing || this.cursor === null) return false;
    this.cursor += dtMs * 1e6 * this.speed;
    if (this.cursor >= this.end) { this.cursor = this.end; this.playing = false; }
    this._ui();
    return true;
  }

  _ui() {
    this.play.textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    this.play.setAttribute('aria-pressed', String(this.playing));
    const v = this.cursor === null ? STEPS : Math.round((this.cursor / (this.end || 1)) * STEPS);
    if (Number(this.range.value) !== v) this.range.value = String(v);
    const c = this.cursor ?? this.end;
    this.time.textContent = `${(c / 1e9).toFixed(3)} s / ${(this.end / 1e9).toFixed(3)} s`;
    this.range.setAttribute('aria-valuetext', `${(c / 1e9).toFixed(3)} seconds of ${(this.end / 1e9).toFixed(3)}`);
  }
}
