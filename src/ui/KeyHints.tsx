import { Box, Text } from 'ink';
import { useTheme } from './theme-context.js';

export interface KeyHintsProps {
  width: number;
  /** Asking whether to cancel the job. */
  confirming: boolean;
  /** Says what happened last (cancelling, a refused cancel). */
  message: string | null;
  jobId: string | undefined;
}

/** The last line: which keys do what, the cancel question, or what happened. */
export default function KeyHints({ width, confirming, message, jobId }: KeyHintsProps) {
  const t = useTheme();
  if (confirming) {
    return (
      <Box width={width}>
        <Text wrap="truncate-end" color={t.busy} bold={t.bold}>
          {width >= 60
            ? `cancel job ${jobId ?? ''}? y: cancel it · n: keep watching · ctrl-c: detach`
            : 'cancel the job? y/n (ctrl-c: detach)'}
        </Text>
      </Box>
    );
  }
  const keys =
    width >= 64
      ? '↑↓/jk select · enter widen · c cancel job · q detach'
      : width >= 40
        ? '↑↓ ⏎ · c cancel · q detach'
        : 'c cancel · q detach';
  return (
    <Box width={width}>
      <Text wrap="truncate-end" dimColor={t.dim && !message}>
        {message ? `${message} · ${keys}` : keys}
      </Text>
    </Box>
  );
}
