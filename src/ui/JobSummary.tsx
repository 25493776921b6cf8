import { Text } from 'ink';
import type { LiveJobState } from './live-job.js';
import { jobSummaryLine } from './summary.js';
import { useTheme } from './theme-context.js';

export interface JobSummaryProps {
  state: LiveJobState;
}

/** The line left under the final frame: the job's outcome, or how to re-attach after detaching. */
export default function JobSummary({ state }: JobSummaryProps) {
  const t = useTheme();
  if (state.phase === 'finished' && state.final) {
    const tone = state.final.status === 'succeeded' ? t.ok : t.bad;
    return (
      <Text color={tone} bold={t.bold}>
        {jobSummaryLine(state.final)}
      </Text>
    );
  }
  if (state.phase === 'detached') {
    const id = state.job?.id;
    return (
      <Text color={t.accent} bold={t.bold}>
        {id
          ? `detached: job ${id} goes on; re-attach with \`ogent jobs wait ${id}\``
          : 'detached before the job was confirmed: see `ogent jobs list`'}
      </Text>
    );
  }
  return null;
}
