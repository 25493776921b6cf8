import { usageError } from '../lib/errors.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** Hidden input on a terminal. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (ch: string) => {
      for (const c of ch) {
        if (c === '\r' || c === '\n' || c === '\u0004') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(value);
        }
        if (c === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (c === '\u007f') value = value.slice(0, -1);
        else value += c;
      }
    };
    stdin.on('data', onData);
  });
}

/** `--password-stdin` reads the first line of stdin; otherwise a hidden prompt on a terminal. */
export async function readPassword(options: { fromStdin: boolean; prompt: string }): Promise<string> {
  if (options.fromStdin) {
    const text = (await readAll(process.stdin)).split(/\r?\n/)[0] ?? '';
    if (!text) throw usageError('--password-stdin: standard input is empty');
    return text;
  }
  if (!process.stdin.isTTY) throw usageError('no password: pass --password-stdin (or set OGENT_PASSWORD)');
  const value = await promptHidden(options.prompt);
  if (!value) throw usageError('empty password');
  return value;
}
