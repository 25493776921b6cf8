import { Box, Text } from 'ink';
import type { LiveRun } from './live-job.js';
import { cell, displayLine, shortDuration } from './text.js';
import { useTheme } from './theme-context.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** A spinner step: 5 a second, so a quiet job redraws 5 times a second, not 10. */
export const SPINNER_MS = 200;
const STATUS_WIDTH = 11;
const DURATION_WIDTH = 6;
const WORDS: Partial<Record<LiveRun['status'], string>> = { timed_out: 'timed out' };

export interface RunRowProps {
  run: LiveRun;
  width: number;
  /** Width of the agent name column (the longest name, capped). */
  nameWidth: number;
  now: number;
  selected?: boolean;
  /** Live rows have a selection column; the final summary does not. */
  pointer?: boolean;
  /** A frame that stays on screen (the view has ended): no spinner. */
  frozen?: boolean;
}

/** `✔ web-1  exit 0  1.2s  last line`: spinner while running, ✔/✖ once done; narrow terminals drop the right columns. */
export default function RunRow({
  run,
  width,
  nameWidth,
  now,
  selected = false,
  pointer = true,
  frozen = false,
}: RunRowProps) {
  const t = useTheme();
  const { mark, tone } = markOf(run, frozen ? null : now);
  const nw = Math.max(4, Math.min(nameWidth, width < 44 ? 12 : width < 60 ? 16 : 24));
  const base = (pointer ? 2 : 0) + 2 + nw + 1 + STATUS_WIDTH;
  const showDuration = width >= base + 1 + DURATION_WIDTH;
  const showLast = width >= base + 1 + DURATION_WIDTH + 2 + 8;
  const duration = durationOf(run, now);
  // Cut before Ink measures it: a line may be 1,000 characters and only `width` can show.
  const last = lastText(run).slice(0, width);
  const color = tone ? t[tone] : undefined;
  return (
    <Box width={width}>
      <Text wrap="truncate-end" inverse={selected && t.inverse}>
        {pointer ? (selected ? '› ' : '  ') : ''}
        <Text color={color}>{mark}</Text> {cell(run.agent, nw)}{' '}
        <Text color={color}>{cell(statusText(run), STATUS_WIDTH)}</Text>
        {showDuration ? ` ${duration.padStart(DURATION_WIDTH)}` : ''}
        {showLast && last ? (
          <Text dimColor={t.dim && !selected}>
            {'  '}
            {last}
          </Text>
        ) : (
          ''
        )}
      </Text>
    </Box>
  );
}

function markOf(run: LiveRun, now: number | null): { mark: string; tone?: 'ok' | 'bad' | 'busy' } {
  switch (run.status) {
    case 'succeeded':
      return { mark: '✔', tone: 'ok' };
    case 'queued':
      return { mark: '·' };
    case 'dispatched':
    case 'running':
      return {
        mark: now === null ? '•' : (SPINNER[Math.floor(now / SPINNER_MS) % SPINNER.length] ?? '•'),
        tone: 'busy',
      };
    default:
      return { mark: '✖', tone: 'bad' };
  }
}

/** `exit 0`, `exit 3`, `signal KILL`, `running`, `timed out`, `rejected`… */
function statusText(run: Pick<LiveRun, 'status' | 'exitCode' | 'signal'>): string {
  if (run.status === 'succeeded' || run.status === 'failed') {
    if (run.exitCode !== null) return `exit ${run.exitCode}`;
    if (run.signal) return run.signal.replace(/^SIG/, 'sig ').toLowerCase();
  }
  return WORDS[run.status] ?? run.status;
}

function durationOf(run: LiveRun, now: number): string {
  if (run.durationMs !== null) return shortDuration(run.durationMs);
  if ((run.status === 'running' || run.status === 'dispatched') && run.startedAt !== null) {
    return shortDuration(now - run.startedAt);
  }
  return '';
}

/** The last output line; for a run that never ran (rejected, unreachable…) why not. */
function lastText(run: LiveRun): string {
  const quiet = !['succeeded', 'failed', 'running', 'dispatched', 'queued'].includes(run.status);
  if (run.error && (quiet || !run.lastLine)) return displayLine(run.error);
  return displayLine(run.lastLine);
}
