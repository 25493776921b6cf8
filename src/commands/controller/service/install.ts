import { passthroughFlags, SERVICES } from '../../../lib/service.js';
import { BaseCommand } from '../../base.js';
import { installFromFlags, serviceFlags } from '../../service-flags.js';
import ControllerServe from '../serve.js';

const serveFlags = passthroughFlags(ControllerServe.flags, 'CONTROLLER SERVE');

export default class ControllerServiceInstall extends BaseCommand {
  static override summary = 'Install the controller as a systemd service (ogent-controller.service).';
  static override description =
    'Writes /etc/systemd/system/ogent-controller.service, which starts `ogent controller serve` with the ' +
    'controller serve flags given here, as a dynamic user unless --user, sandboxed, restarted on failure, with its ' +
    'store in /var/lib/ogent-controller. OGENT_ADMIN_PASSWORD and OGENT_AI_API_KEY, when set, are written to ' +
    '/etc/ogent/controller.env (mode 0600). Then: systemctl daemon-reload && systemctl enable --now ogent-controller.';
  static override examples = [
    {
      description: 'See the unit, write nothing',
      command:
        '<%= config.bin %> controller service install --print --host 0.0.0.0 --tls-cert /etc/ogent/cert.pem --tls-key /etc/ogent/key.pem',
    },
    {
      description: 'Install it, with the first admin password',
      command:
        "sudo OGENT_ADMIN_PASSWORD='choose-one' <%= config.bin %> controller service install --host 0.0.0.0 --port 8600 --tls-cert /etc/ogent/cert.pem --tls-key /etc/ogent/key.pem",
    },
    {
      description: 'Then start it',
      command: 'sudo systemctl daemon-reload && sudo systemctl enable --now ogent-controller',
    },
  ];
  static override flags = { ...serveFlags, ...serviceFlags('controller') };

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllerServiceInstall);
    await installFromFlags({
      kind: 'controller',
      runFlags: serveFlags,
      flags,
      version: this.config.version,
      secrets: async () =>
        Object.fromEntries(
          SERVICES.controller.secrets.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
        ) as Record<string, string>,
    });
  }
}
