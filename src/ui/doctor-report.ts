/** What the report shows of one check of `client/doctor.ts` (its `Check`; ui/ imports nothing of client/). */
export interface CheckLine {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skipped';
  message: string;
  advice?: string;
}

/** What the report shows of `client/doctor.ts`'s `DoctorReport`. */
export interface DoctorReportView {
  controller: string;
  source: string;
  checks: CheckLine[];
}

const MARK: Record<CheckLine['status'], { sign: string; color: string }> = {
  ok: { sign: '✔', color: '32' },
  warn: { sign: '!', color: '33' },
  fail: { sign: '✖', color: '31' },
  skipped: { sign: '-', color: '2' },
};

/** `ogent doctor`'s report: one line per check, what to try under each problem, and a verdict. */
export function doctorReport(report: DoctorReportView, color = false): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`controller ${report.controller} (from ${report.source})`];
  for (const check of report.checks) {
    const mark = MARK[check.status];
    lines.push(`${paint(mark.color, mark.sign)} ${check.name.padEnd(width)}  ${check.message}`);
    if (check.advice && check.status !== 'ok') lines.push(`  ${' '.repeat(width)}  try: ${check.advice}`);
  }
  const problems = report.checks.filter((c) => c.status === 'fail').length;
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  const verdict = problems
    ? paint('31', `${problems} problem${problems > 1 ? 's' : ''} found`)
    : paint('32', warnings ? `no problem, ${warnings} warning${warnings > 1 ? 's' : ''}` : 'everything looks fine');
  return `${lines.join('\n')}\n${verdict}\n`;
}
