import { AiError, type ChatMessage, type ChatModel } from '../../application/ports.js';

export interface ChatCompletionsOptions {
  /** Up to and including the API version: `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token when set (OGENT_AI_API_KEY); never logged. */
  apiKey?: string;
  timeoutMs: number;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/** Reads at most `max` bytes of a response body. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new AiError('ERR_AI_RESPONSE', `the AI endpoint's answer is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The error text of an OpenAI-style error body (`{error: {message}}`), else the start of the body. */
function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof message === 'string' && message) return message.slice(0, 300);
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300) || 'no details';
}

/** One client for every OpenAI-compatible `POST {baseUrl}/chat/completions`, with a timeout and errors that say what to fix. */
export class ChatCompletionsClient implements ChatModel {
  private readonly url: string;

  constructor(private readonly options: ChatCompletionsOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  get model(): string {
    return this.options.model;
  }

  async completeJson(messages: ChatMessage[]): Promise<string> {
    const { model, apiKey, timeoutMs } = this.options;
    const where = `${this.url} (model ${model})`;
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let body: string;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: JSON.stringify({ model, messages, temperature: 0, response_format: { type: 'json_object' } }),
        signal,
      });
      status = res.status;
      body = await readCapped(res, MAX_ANSWER_BYTES);
    } catch (err) {
      if (err instanceof AiError) throw err;
      if (signal.aborted) {
        throw new AiError(
          'ERR_AI_TIMEOUT',
          `the AI endpoint ${where} did not answer within ${timeoutMs} ms: raise --ai-timeout or use a faster model`,
        );
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new AiError(
        'ERR_AI_UNREACHABLE',
        `cannot reach the AI endpoint ${where} (${cause?.code ?? cause?.message ?? (err as Error).message}): check --ai-base-url`,
      );
    }
    if (status < 200 || status >= 300) {
      const hint =
        status === 401 || status === 403
          ? ': check OGENT_AI_API_KEY'
          : status === 404
            ? ': check --ai-base-url (it ends with the API version, e.g. /v1) and --ai-model'
            : '';
      throw new AiError('ERR_AI_HTTP', `the AI endpoint ${where} answered HTTP ${status}: ${errorText(body)}${hint}`);
    }
    let content: unknown;
    let finishReason: unknown;
    try {
      const parsed = JSON.parse(body) as {
        choices?: Array<{ message?: { content?: unknown }; finish_reason?: unknown }>;
      };
      content = parsed.choices?.[0]?.message?.content;
      finishReason = parsed.choices?.[0]?.finish_reason;
    } catch {
      // reported below
    }
    if (typeof content !== 'string') {
      throw new AiError('ERR_AI_RESPONSE', `the AI endpoint ${where} did not answer like a chat-completions API`);
    }
    if (finishReason === 'length') {
      throw new AiError('ERR_AI_RESPONSE', `the answer of ${where} was cut off (finish_reason "length")`);
    }
    return content;
  }
}
