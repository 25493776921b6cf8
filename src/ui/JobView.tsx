import { Box, useApp } from 'ink';
import { useEffect, useState } from 'react';
import JobHeader from './JobHeader.js';
import JobSummary from './JobSummary.js';
import KeyHints from './KeyHints.js';
import type { LiveJob, LiveJobState } from './live-job.js';
import OutputPane from './OutputPane.js';
import ProgressBar from './ProgressBar.js';
import RunList from './RunList.js';
import { SPINNER_MS } from './RunRow.js';
import { useJobKeys } from './use-job-keys.js';
import { useTerminalSize, type TerminalSize } from './use-terminal-size.js';

export interface JobViewProps {
  model: LiveJob;
  /** Keys work (stdin is a terminal). */
  interactive: boolean;
  cancelJob(jobId: string): Promise<unknown>;
  /** The user left the job running (`q`, or Ctrl-C twice). */
  onDetach(): void;
  /** Pace of frames: the view reads the model at most this often, however fast events come. */
  refreshMs?: number;
  size?: TerminalSize;
}

interface Frame {
  state: LiveJobState;
  now: number;
}

/** The live view of a job: header, progress, one row per agent, the selected agent's output, keys. */
export default function JobView({ model, interactive, cancelJob, onDetach, refreshMs = 100, size }: JobViewProps) {
  const { exit } = useApp();
  const { columns: width, rows } = useTerminalSize(size);
  const [frame, setFrame] = useState<Frame>(() => ({ state: model.state(), now: Date.now() }));

  // Frames are paced, not driven by events: a redraw only when the model changed or a clock on screen moved.
  useEffect(() => {
    const tick = () =>
      setFrame((prev) => {
        const now = Date.now();
        const state = model.state();
        // Without news, only clocks move: the spinners (5 a second) or else the elapsed time (once a second).
        const step = state.counts.running > 0 ? SPINNER_MS : 1000;
        const clockMoved = state.phase === 'live' && Math.floor(now / step) !== Math.floor(prev.now / step);
        return state === prev.state && !clockMoved ? prev : { state, now };
      });
    const timer = setInterval(tick, refreshMs);
    const off = model.onPhase(tick);
    return () => {
      clearInterval(timer);
      off();
    };
  }, [model, refreshMs]);

  const { state, now } = frame;
  const live = state.phase === 'live';
  useEffect(() => {
    if (!live) exit();
  }, [live, exit]);

  const runs = state.runs;
  const { selectedId, wide, confirming, message } = useJobKeys({
    model,
    runs,
    page: Math.max(1, rows - 10),
    active: interactive && live,
    cancelJob,
    onDetach,
  });
  const selected = runs.find((r) => r.id === selectedId) ?? runs[0] ?? null;

  // Every line is budgeted: a frame taller than the terminal would make Ink clear the screen on each redraw.
  const nameWidth = runs.reduce((n, r) => Math.max(n, r.agent.length), 0);
  const body = Math.max(0, rows - 1 - 3 - (live && interactive ? 1 : 0) - (live ? 0 : 1));
  const header = (
    <>
      <JobHeader job={state.job} phase={state.phase} width={width} now={now} />
      <ProgressBar counts={state.counts} width={width} />
    </>
  );

  if (!live) {
    // An error before the job existed: leave nothing behind, the error says it all.
    if (state.phase === 'closed' && !state.job) return null;
    return (
      <Box flexDirection="column" width={width}>
        {header}
        <RunList
          runs={runs}
          selectedId={null}
          height={body}
          width={width}
          nameWidth={nameWidth}
          now={now}
          pointer={false}
          frozen
        />
        <JobSummary state={state} />
      </Box>
    );
  }

  const showPane = selected !== null && body >= 8;
  const listWanted = runs.length;
  let listHeight = body;
  let paneHeight = 0;
  if (showPane && wide) {
    listHeight = 0;
    paneHeight = body;
  } else if (showPane) {
    const paneMin = Math.max(5, Math.floor(body / 3));
    listHeight = Math.min(listWanted, body - paneMin);
    paneHeight = Math.min(body - listHeight, 16);
  }
  return (
    <Box flexDirection="column" width={width}>
      {header}
      <RunList
        runs={runs}
        selectedId={interactive ? (selected?.id ?? null) : null}
        height={listHeight}
        width={width}
        nameWidth={nameWidth}
        now={now}
        pointer={interactive}
        scrollHint={interactive ? '↑↓ scroll' : undefined}
      />
      {showPane && selected ? (
        <OutputPane
          run={selected}
          lines={model.tail(selected.id, paneHeight - 1)}
          height={paneHeight}
          width={width}
          wide={wide}
          keys={interactive}
        />
      ) : null}
      {interactive ? <KeyHints width={width} confirming={confirming} message={message} jobId={state.job?.id} /> : null}
    </Box>
  );
}
