import { useInput } from 'ink';
import { useReducer, useRef } from 'react';
import type { LiveJob, LiveRun } from './live-job.js';

/** What the keys change in the live view. */
export interface KeyState {
  /** null: follow the first row (the most interesting run). */
  selectedId: string | null;
  /** The output pane fills the screen. */
  wide: boolean;
  /** Asking whether to cancel the job. */
  confirming: boolean;
  cancelling: boolean;
  message: string | null;
}

export interface JobKeysOptions {
  model: LiveJob;
  /** The rows as drawn, in order. */
  runs: readonly LiveRun[];
  /** Rows a page key moves. */
  page: number;
  active: boolean;
  cancelJob(jobId: string): Promise<unknown>;
  onDetach(): void;
}

/**
 * ↑/↓ or j/k select, PgUp/PgDn/g/G jump, Enter widens the output, `c` asks to cancel, `q` detaches,
 * Ctrl-C once asks to cancel and twice detaches. State lives in a ref so keys that come faster
 * than React re-renders (Ctrl-C Ctrl-C, key repeat) each see what the one before did.
 */
export function useJobKeys({ model, runs, page, active, cancelJob, onDetach }: JobKeysOptions): KeyState {
  const state = useRef<KeyState>({
    selectedId: null,
    wide: false,
    confirming: false,
    cancelling: false,
    message: null,
  });
  const shown = useRef(runs);
  shown.current = runs;
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const set = (patch: Partial<KeyState>) => {
    state.current = { ...state.current, ...patch };
    redraw();
  };

  const detach = () => {
    set({ confirming: false });
    model.detach();
    onDetach();
  };
  const move = (by: number) => {
    const list = shown.current;
    const at = Math.max(
      0,
      list.findIndex((r) => r.id === state.current.selectedId),
    );
    const next = list[Math.max(0, Math.min(list.length - 1, at + by))];
    if (next) set({ selectedId: next.id });
  };
  const cancel = () => {
    const jobId = model.jobId;
    if (!jobId) return set({ confirming: false, message: 'the job is not created yet' });
    set({ confirming: false, cancelling: true, message: `cancelling job ${jobId}…` });
    cancelJob(jobId).catch((err: Error) => set({ cancelling: false, message: `cannot cancel: ${err.message}` }));
  };

  useInput(
    (input, key) => {
      const { confirming, cancelling } = state.current;
      if (key.ctrl && input === 'c') return confirming || cancelling ? detach() : set({ confirming: true });
      if (confirming) return input === 'y' || input === 'Y' ? cancel() : set({ confirming: false });
      if (input === 'q') detach();
      else if (input === 'c') {
        set(cancelling ? { message: `already cancelling job ${model.jobId ?? ''}` } : { confirming: true });
      } else if (key.upArrow || input === 'k') move(-1);
      else if (key.downArrow || input === 'j') move(1);
      else if (key.pageUp) move(-page);
      else if (key.pageDown) move(page);
      else if (key.home || input === 'g') move(-shown.current.length);
      else if (key.end || input === 'G') move(shown.current.length);
      else if (key.return) set({ wide: !state.current.wide });
      else if (key.escape) set({ wide: false });
    },
    { isActive: active },
  );
  return state.current;
}
