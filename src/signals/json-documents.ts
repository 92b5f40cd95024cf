import { StringDecoder } from 'node:string_decoder';

import { parseUntrustedJson } from '../shared/canonical-json.js';
import { InvalidInput } from '../shared/errors.js';

/** One JSON value read from a stream, or why the text where one should be is not one. */
export type JsonDocument =
  | { readonly ok: true; readonly value: unknown; readonly line: number; readonly location: string }
  | { readonly ok: false; readonly error: InvalidInput; readonly line: number; readonly location: string };

export interface JsonDocumentOptions {
  /** Largest document accepted, in UTF-16 code units of its text (default 16 Mi). */
  readonly maxDocumentChars?: number;
  readonly maxDepth?: number;
}

const DEFAULT_MAX_CHARS = 16 * 1024 * 1024;

/**
 * Splits a text stream into JSON documents as they complete, holding one document at a time:
 * JSON lines, JSON values one after another (pretty-printed webhook bodies saved to a file), or
 * one top-level array, whose elements are the documents. Memory is bounded by the largest
 * document, whatever the stream's size. A document that does not parse is reported on its own;
 * when it spans lines, each of its lines is tried alone (a broken line in JSON lines must not take
 * the next good line down with it).
 */
export async function* jsonDocuments(chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, options: JsonDocumentOptions = {}): AsyncGenerator<JsonDocument> {
  const maxChars = options.maxDocumentChars ?? DEFAULT_MAX_CHARS;
  const limits = { maxBytes: maxChars * 3, maxDepth: options.maxDepth ?? 32 };
  const decoder = new StringDecoder('utf8');
  let line = 1;
  /** Nesting inside the current document; 0 between documents. */
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** A bare token between documents (a number, a stray word): read to the end of its line. */
  let bare = false;
  /** The stream opened with `[`: its elements are the documents. */
  let inArray = false;
  let started = false;
  let element = 0;
  /** The current document's text from earlier chunks, and where it starts in this chunk (-1: none). */
  let text = '';
  let tooLong = false;
  let startLine = 1;

  const finish = (body: string): Generator<JsonDocument> => {
    const location = inArray ? `element ${++element}` : `line ${startLine}`;
    text = '';
    if (tooLong) {
      tooLong = false;
      return single({ ok: false, line: startLine, location, error: new InvalidInput(location, [`document is larger than ${maxChars} characters`]) });
    }
    return parsed(body, startLine, location, limits);
  };

  for await (const chunk of chunks) {
    const part = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let from = depth > 0 || bare ? 0 : -1;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c === 10) line++;
      if (bare) {
        if (c === 10) {
          bare = false;
          yield* finish(text + part.slice(from, i));
          from = -1;
        }
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true;
        else if (c === 34) inString = false;
        continue;
      }
      if (depth === 0) {
        if (c === 32 || c === 9 || c === 10 || c === 13 || (inArray && c === 44)) continue;
        if (inArray && c === 93) {
          inArray = false; // the top-level array ends; anything after it is read as documents
          continue;
        }
        if (c === 91 && !started) {
          started = inArray = true;
          continue;
        }
        started = true;
        from = i;
        startLine = line;
        if (c === 123 || c === 91) depth = 1;
        else bare = true;
        continue;
      }
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) {
          yield* finish(text + part.slice(from, i + 1));
          from = -1;
        }
      }
    }
    if (from >= 0 && !tooLong) {
      text += part.slice(from);
      if (text.length > maxChars) {
        tooLong = true;
        text = '';
      }
    }
  }
  const rest = decoder.end();
  if (depth > 0 || bare || rest.trim() !== '') yield* finish(text + rest);
}

function* single(document: JsonDocument): Generator<JsonDocument> {
  yield document;
}

function* parsed(body: string, line: number, location: string, limits: { maxBytes: number; maxDepth: number }): Generator<JsonDocument> {
  try {
    yield { ok: true, line, location, value: parseUntrustedJson(body, location, limits) };
    return;
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    const lines = body.split('\n');
    if (lines.length === 1) {
      yield { ok: false, line, location, error };
      return;
    }
    // A document over several lines that does not parse: each line on its own (JSON lines with
    // one broken line, which swallowed the next ones while its braces stayed open).
    for (const [offset, text] of lines.entries()) {
      if (text.trim() === '') continue;
      yield* parsed(text, line + offset, `line ${line + offset}`, limits);
    }
  }
}
