import { runDoctor } from '../client/doctor.js';
import { readCa } from '../client/tls.js';
import { doctorReport } from '../ui/doctor-report.js';
import { colorWanted } from '../ui/theme.js';
import { BaseCommand, connectionFlags, durationFlag, jsonFlag, parseDuration } from './base.js';

export default class Doctor extends BaseCommand {
  static override summary = 'Check the way to the controller and say what is wrong, in plain words.';
  static override description =
    'Checks the controller URL, reaching it, TLS, what answers, versions, clock skew and your credentials. ' +
    'Exit 0 when nothing fails (warnings allowed), 4 when the controller cannot be reached or trusted, ' +
    '3 when the credentials are refused, 1 for other problems.';
  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --controller https://ctl.example:8600 --ca /etc/ogent/ca.pem',
    '<%= config.bin %> doctor --json',
    '<%= config.bin %> doctor --controller http://10.0.0.5:8600 --insecure-http',
  ];
  static override flags = {
    // Its own --timeout bounds each answer (5s), not --request-timeout.
    controller: connectionFlags.controller,
    ca: connectionFlags.ca,
    'insecure-http': connectionFlags['insecure-http'],
    timeout: durationFlag('How long to wait for each answer.', '5s'),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor);
    const timeoutMs = parseDuration(flags.timeout as string);
    const ca = flags.ca ? await readCa(flags.ca) : undefined;
    const report = await runDoctor({
      controller: flags.controller,
      ca,
      insecureHttp: flags['insecure-http'],
      timeoutMs,
    });
    const color = process.stdout.isTTY && colorWanted(process.env, process.stdout);
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : doctorReport(report, color));
    await this.finish(report.exit);
  }
}
