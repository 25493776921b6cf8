import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from './fixtures.js';

const run = promisify(execFile);

/** A string as one shell word. */
export const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One tmux server of our own (`-L`), one session per command, a real terminal of 100×30 (as tui.test.ts). */
export class Terminal {
  private windows = 0;
  constructor(readonly socket: string) {}

  static async check(): Promise<void> {
    await run('tmux', ['-V']).catch(() => {
      throw new Error('tmux is missing: install it (scripts/setup, or apt-get install tmux)');
    });
  }

  tmux(...args: string[]) {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Runs the shell command line `command` in a fresh session; its exit code is printed as `EXIT=N` after it. */
  async open(command: string): Promise<Window> {
    const name = `w${++this.windows}`;
    const script = `${command}; echo EXIT=$?; exec sleep 3600`;
    await this.tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', 'sh', '-c', script);
    return new Window(this, name);
  }

  async kill() {
    await this.tmux('kill-server').catch(() => {});
  }
}

export class Window {
  constructor(
    private readonly terminal: Terminal,
    readonly name: string,
  ) {}

  /** The screen as it is now (`escapes`: with the colours and styles, as SGR sequences). */
  async screen(escapes = false): Promise<string> {
    const { stdout } = await this.terminal.tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', this.name);
    return stdout;
  }

  async keys(...keys: string[]) {
    await this.terminal.tmux('send-keys', '-t', this.name, ...keys);
  }

  /** Reads the screen until `check` passes (the view redraws on its own pace). */
  async until(check: (screen: string) => boolean, what: string): Promise<string> {
    let last = '';
    try {
      return await waitFor(
        async () => {
          last = await this.screen();
          return check(last) ? last : '';
        },
        what,
        30_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; the screen was:\n${last}`);
    }
  }

  async exitCode(): Promise<number> {
    const screen = await this.until((s) => /^EXIT=\d+$/m.test(s), 'the command to exit');
    return Number(/^EXIT=(\d+)$/m.exec(screen)?.[1]);
  }
}
