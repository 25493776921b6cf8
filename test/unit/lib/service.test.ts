import { Flags } from '@oclif/core';
import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../../src/lib/errors.js';
import {
  envFileLine,
  flagArgs,
  installService,
  passthroughFlags,
  renderUnit,
  systemdQuote,
  type UnitOptions,
} from '../../../src/lib/service.js';

/** The unit as `Key: [values]`, section by section (comments and blank lines dropped). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = sections[section[1]!] = {};
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `a key=value line: ${line}`).to.be.greaterThan(0);
    expect(current, `a line outside a section: ${line}`).to.not.equal(undefined);
    (current![line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return sections;
}

const agent = (extra: Partial<UnitOptions> = {}): UnitOptions => ({
  kind: 'agent',
  executable: ['/usr/local/bin/ogent'],
  args: ['--controller', 'http://ctl:8600', '--name', 'web-1'],
  version: '1.2.3',
  ...extra,
});

describe('systemd units (src/lib/service.ts)', () => {
  describe('systemdQuote', () => {
    it('leaves plain words alone', () => {
      for (const word of ['/usr/local/bin/ogent', '--label', 'role=web', 'http://ctl:8600/x', 'a,b', 'user@host'])
        expect(systemdQuote(word)).to.equal(word);
    });
    it('escapes specifiers (%) and variables ($), quotes spaces, quotes and backslashes', () => {
      expect(systemdQuote('50%')).to.equal('50%%');
      expect(systemdQuote('$HOME')).to.equal('"$$HOME"');
      expect(systemdQuote('a b')).to.equal('"a b"');
      expect(systemdQuote('say "hi"')).to.equal('"say \\"hi\\""');
      expect(systemdQuote('back\\slash')).to.equal('"back\\\\slash"');
      expect(systemdQuote('two\nlines')).to.equal('"two\\nlines"');
      expect(systemdQuote(';')).to.equal('";"');
      expect(systemdQuote('')).to.equal('""');
    });
  });

  describe('envFileLine', () => {
    it('single-quotes a value, so nothing in it is interpreted', () => {
      expect(envFileLine('OGENT_PASSWORD', 'a$b\\c"d e')).to.equal(`OGENT_PASSWORD='a$b\\c"d e'`);
    });
    it('double-quotes a value with a single quote, escaping \\ " ` $', () => {
      expect(envFileLine('K', `it's $x "y" \\ \``)).to.equal('K="it\'s \\$x \\"y\\" \\\\ \\`"');
    });
    it('refuses line breaks and bad names', () => {
      expect(() => envFileLine('K', 'a\nb')).to.throw(UserError, /line break/);
      expect(() => envFileLine('1K', 'v')).to.throw(UserError, /invalid environment variable name/);
    });
  });

  describe('flag passthrough', () => {
    const defs = {
      name: Flags.string({ env: 'X_NAME', default: 'dflt' }),
      label: Flags.string({ multiple: true }),
      port: Flags.integer({ options: undefined }),
      'local-agent': Flags.boolean(),
      color: Flags.boolean({ allowNo: true }),
      level: Flags.string({ options: ['a', 'b'], env: 'X_LEVEL' }),
    };

    it('passthroughFlags drops env and default, keeps the rest, sets the help group', () => {
      const copy = passthroughFlags(defs, 'AGENT RUN') as unknown as Record<string, Record<string, unknown>>;
      expect(Object.keys(copy)).to.deep.equal(Object.keys(defs));
      expect(copy.name).to.not.have.any.keys('env', 'default');
      expect(copy.level).to.include({ helpGroup: 'AGENT RUN' });
      expect(copy.level?.options).to.deep.equal(['a', 'b']);
      expect(defs.name).to.include({ env: 'X_NAME', default: 'dflt' });
    });

    it('flagArgs turns values back into arguments, in definition order, skipping unset ones', () => {
      expect(
        flagArgs(defs, { label: ['role=web', 'dc=1'], port: 443, 'local-agent': true, color: false, level: 'b' }),
      ).to.deep.equal([
        '--label',
        'role=web',
        '--label',
        'dc=1',
        '--port',
        '443',
        '--local-agent',
        '--no-color',
        '--level',
        'b',
      ]);
      expect(flagArgs(defs, { 'local-agent': false, name: 'x', extra: 'ignored' })).to.deep.equal(['--name', 'x']);
    });
  });

  describe('renderUnit', () => {
    it('agent: ExecStart with the state dir, its environment file, root, restart on failure but not on 2 or 3', () => {
      const unit = parseUnit(renderUnit(agent()));
      expect(Object.keys(unit)).to.deep.equal(['Unit', 'Service', 'Install']);
      expect(unit.Unit).to.deep.include({ After: ['network-online.target'], Wants: ['network-online.target'] });
      expect(unit.Service).to.deep.include({
        Type: ['exec'],
        ExecStart: [
          '/usr/local/bin/ogent agent run --controller http://ctl:8600 --name web-1 --state-dir /var/lib/ogent-agent',
        ],
        EnvironmentFile: ['/etc/ogent/agent.env'],
        User: ['root'],
        StateDirectory: ['ogent-agent'],
        StateDirectoryMode: ['0700'],
        Restart: ['on-failure'],
        RestartPreventExitStatus: ['2 3'],
      });
      expect(unit.Install).to.deep.equal({ WantedBy: ['multi-user.target'] });
      expect(renderUnit(agent())).to.include('ogent 1.2.3');
    });

    it('agent: --user, a given state dir made absolute and not repeated, quoted arguments', () => {
      const cwd = process.cwd();
      const unit = parseUnit(
        renderUnit(
          agent({
            user: 'ogent',
            executable: ['/usr/bin/node', '/opt/my ogent/bin/run.js'],
            args: ['--state-dir', 'spool', '--label', 'note=50%'],
            envFile: '/etc/ogent/a b.env',
          }),
        ),
      );
      expect(unit.Service?.User).to.deep.equal(['ogent']);
      expect(unit.Service?.EnvironmentFile).to.deep.equal(['/etc/ogent/a b.env']);
      expect(unit.Service?.ExecStart).to.deep.equal([
        `/usr/bin/node "/opt/my ogent/bin/run.js" agent run --state-dir ${join(cwd, 'spool')} --label note=50%%`,
      ]);
    });

    it('controller: a dynamic user in a sandbox, its store in /var/lib/ogent-controller, the environment file optional', () => {
      const unit = parseUnit(renderUnit({ ...agent(), kind: 'controller', args: ['--host', '0.0.0.0'] }));
      expect(unit.Service).to.deep.include({
        ExecStart: ['/usr/local/bin/ogent controller serve --host 0.0.0.0 --data-dir /var/lib/ogent-controller'],
        EnvironmentFile: ['-/etc/ogent/controller.env'],
        DynamicUser: ['yes'],
        StateDirectory: ['ogent-controller'],
        Restart: ['on-failure'],
        NoNewPrivileges: ['yes'],
        ProtectSystem: ['strict'],
        ProtectHome: ['yes'],
        PrivateTmp: ['yes'],
        CapabilityBoundingSet: [''],
        LimitNOFILE: ['65536'],
      });
      expect(unit.Service).to.not.have.any.keys(
        'MemoryDenyWriteExecute',
        'User',
        'AmbientCapabilities',
        'ReadWritePaths',
      );
    });

    it('controller: a port under 1024 gets CAP_NET_BIND_SERVICE; a data dir elsewhere is made writable', () => {
      const unit = parseUnit(
        renderUnit({
          ...agent(),
          kind: 'controller',
          user: 'ogent',
          args: ['--port', '443', '--data-dir', '/srv/ogent'],
        }),
      );
      expect(unit.Service).to.deep.include({
        User: ['ogent'],
        CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE'],
        AmbientCapabilities: ['CAP_NET_BIND_SERVICE'],
        ReadWritePaths: ['/srv/ogent'],
        ExecStart: ['/usr/local/bin/ogent controller serve --port 443 --data-dir /srv/ogent'],
      });
      expect(unit.Service).to.not.have.any.keys('DynamicUser');
    });

    it('refuses a user name systemd would not take', () => {
      expect(() => renderUnit(agent({ user: 'root; rm' }))).to.throw(UserError, /invalid --user/);
    });
  });

  describe('installService', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ogent-service-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const paths = () => ({ unitDir: join(dir, 'systemd'), envFile: join(dir, 'ogent', 'agent.env') });

    it('writes the environment file (0600) and the unit (0644), and says what to run next', async () => {
      const done = await installService({
        kind: 'agent',
        unit: 'UNIT\n',
        ...paths(),
        secrets: { OGENT_PASSWORD: 'pw' },
      });
      expect(done).to.deep.equal({
        unitPath: join(dir, 'systemd', 'ogent-agent.service'),
        envFile: join(dir, 'ogent', 'agent.env'),
        envFileWritten: true,
        next: 'systemctl daemon-reload && systemctl enable --now ogent-agent && systemctl status ogent-agent',
      });
      expect(await readFile(done.unitPath, 'utf8')).to.equal('UNIT\n');
      expect(await readFile(done.envFile, 'utf8')).to.equal("OGENT_PASSWORD='pw'\n");
      expect((await stat(done.envFile)).mode & 0o777).to.equal(0o600);
      expect((await stat(done.unitPath)).mode & 0o777).to.equal(0o644);
    });

    it('replaces the variable in an existing environment file and keeps the other lines', async () => {
      await installService({ kind: 'agent', unit: 'U', ...paths(), secrets: { OGENT_PASSWORD: 'old' } });
      await writeFile(paths().envFile, "# mine\nOGENT_PASSWORD='old'\nOGENT_LOG_LEVEL=debug\n");
      await installService({ kind: 'agent', unit: 'U', ...paths(), secrets: { OGENT_PASSWORD: 'new' } });
      expect(await readFile(paths().envFile, 'utf8')).to.equal("# mine\nOGENT_LOG_LEVEL=debug\nOGENT_PASSWORD='new'\n");
      expect((await stat(paths().envFile)).mode & 0o777).to.equal(0o600);
    });

    it('an agent without a password and without an environment file: usage error, nothing written', async () => {
      const err = await installService({ kind: 'agent', unit: 'U', ...paths(), secrets: {} }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UserError);
      expect((err as UserError).exit).to.equal(2);
      expect((err as UserError).message).to.include('no OGENT_PASSWORD');
      expect(await stat(join(dir, 'systemd')).catch(() => null)).to.equal(null);
    });

    it('an existing environment file is enough; the controller needs none', async () => {
      await installService({ kind: 'agent', unit: 'U', ...paths(), secrets: { OGENT_PASSWORD: 'pw' } });
      const again = await installService({ kind: 'agent', unit: 'V', ...paths(), secrets: {} });
      expect(again.envFileWritten).to.equal(false);
      expect(await readFile(paths().envFile, 'utf8')).to.equal("OGENT_PASSWORD='pw'\n");
      const controller = await installService({
        kind: 'controller',
        unit: 'C',
        unitDir: dir,
        envFile: join(dir, 'c.env'),
        secrets: {},
      });
      expect(controller.envFileWritten).to.equal(false);
      expect(await stat(join(dir, 'c.env')).catch(() => null)).to.equal(null);
    });

    it('a place it cannot write: exit 1 naming the path', async () => {
      await writeFile(join(dir, 'file'), '');
      const err = await installService({
        kind: 'controller',
        unit: 'C',
        unitDir: join(dir, 'file', 'systemd'),
        envFile: join(dir, 'c.env'),
        secrets: {},
      }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UserError);
      expect((err as UserError).exit).to.equal(1);
      expect((err as UserError).message).to.include(
        `cannot write ${join(dir, 'file', 'systemd', 'ogent-controller.service')}`,
      );
    });
  });
});
