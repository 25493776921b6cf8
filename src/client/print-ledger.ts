import type { RunStatus } from '../domain/model.js';
import type { RunBrief } from '../protocol/events.js';
import type { JobEvents } from '../protocol/job-events.js';

/** Per run: the last seq printed, the bytes printed per stream, the last status told. */
export interface Printed {
  seq: number;
  stdout: number;
  stderr: number;
  status: RunStatus;
}

/**
 * What a job stream has printed, per run: every output byte once, each status once. After a job document
 * (subscribe, reconnect) or a `job_resync`, a run's live output may resume after chunks this client never got
 * (relayed before it listened, or dropped while it lagged): its first live chunk or its end is checked against the
 * stored output once (`checked`), and the gap is read from there.
 */
export class PrintLedger {
  private readonly printed = new Map<string, Printed>();
  private checking = false;
  private readonly checked = new Set<string>();

  constructor(private readonly events: JobEvents) {}

  /** From now on, each run's next live event is checked against the stored output once. */
  recheck(): void {
    this.checking = true;
    this.checked.clear();
  }

  /** Whether `runId`'s next live event is to be checked against the stored output. */
  unchecked(runId: string): boolean {
    return this.checking && !this.checked.has(runId);
  }

  markChecked(runId: string): void {
    this.checked.add(runId);
  }

  seen(runId: string): Printed {
    let s = this.printed.get(runId);
    if (!s) {
      s = { seq: 0, stdout: 0, stderr: 0, status: 'queued' };
      this.printed.set(runId, s);
    }
    return s;
  }

  /** Tells the renderer a run's status, once per status. */
  status(run: RunBrief): void {
    const seen = this.seen(run.id);
    if (seen.status === run.status) return;
    seen.status = run.status;
    this.events.runStatus(run);
  }
}
